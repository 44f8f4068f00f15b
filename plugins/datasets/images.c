/* The "images" plugin: the image readers of the datasets family, in their
 * own plugin because they need libpng and libjpeg (images.h). */
#include "images.h"

const dlh_host *datasets_host;

static int images_init(const dlh_host *host, dlh_registrar *reg)
{
    datasets_host = host;
    int rc = reg->add(reg, DLH_KIND_DATASET, "imagefolder", &imagefolder_ops,
                      "PNG and JPEG images, one sub-folder per class (torchvision's "
                      "ImageFolder)");
    return rc ? rc : reg->describe(reg, DLH_KIND_DATASET, "imagefolder", imagefolder_params);
}

DLH_PLUGIN("images", "0.1.0", "image dataset readers (imagefolder): PNG and JPEG", "MIT",
           images_init)
