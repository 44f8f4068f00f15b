/* The "images" plugin: image dataset readers, built only when configure
 * finds libpng and libjpeg, so that the other readers of the datasets
 * family never depend on them.  It shares datasets.h (datasets_host,
 * datasets_fopen) with the datasets plugin, each .so with its own copy.
 *
 * images_decode.c reads one PNG or JPEG file into 8-bit pixels and turns
 * them into the floats of a sample; imagefolder.c is the reader built on
 * it.  The decoding matches PIL (Image.open(f).convert('RGB' or 'L')), the
 * resizing torchvision (see images_resize). */
#ifndef DLHOST_PLUGIN_IMAGES_H
#define DLHOST_PLUGIN_IMAGES_H

#include <stdint.h>

#include "datasets.h"

/* No image wider or taller than this, nor with more pixels in all, is
   decoded: a file's header is checked against these before anything is
   allocated for its pixels, so a decompression bomb (a small file that
   claims a huge image) is refused by name.  2^26 pixels of RGB are 192 MiB. */
#define IMAGES_MAX_SIDE 16384
#define IMAGES_MAX_PIXELS ((int64_t)1 << 26)

/* An image: height rows of width pixels of `channels` bytes, interleaved. */
typedef struct images_pixels {
    int64_t width, height;
    int channels;               /* 1 grey, 3 RGB */
    unsigned char *data;        /* malloc'd; NULL after a header-only load */
} images_pixels;

/* Reads the PNG or JPEG file at `path` (told apart by its signature, not
   its name).  channels 1 or 3: its pixels as 8-bit grey or RGB, converted
   as PIL's convert('L') / convert('RGB') (alpha dropped, palettes expanded,
   16-bit samples cut to their high byte, ITU-R 601 luma); channels 0: the
   header only (width, height and the file's own channels, data NULL), to
   check a file without decoding it.  Returns 0, or DLH_EDATA (not an image,
   corrupt or truncated data, dimensions over the limits), DLH_EIO (cannot
   open or read; a FIFO or device is refused without blocking) or
   DLH_ENOMEM, with the message "path: what is wrong" set.  out->data
   belongs to the caller (free); on failure it is NULL. */
int images_load(const char *path, int channels, images_pixels *out);

/* Writes im as floats x / 255 (as ToTensor) into out, channel-major
   (C, h, w), resized to h x w with bilinear interpolation as
   torchvision.transforms.functional.resize on the float tensor with
   antialias=False (torch.nn.functional.interpolate, align_corners=False:
   half-pixel centres, edge pixels repeated); h = height and w = width copy
   the pixels unchanged.  h and w are 1 to IMAGES_MAX_SIDE.  Returns 0, or
   DLH_ENOMEM with "path: ..." set (`path` names the image in messages). */
int images_resize(const char *path, const images_pixels *im, int64_t h, int64_t w,
                  float *out);

/* imagefolder.c: a folder of class sub-folders of images. */
extern const dlh_dataset_ops imagefolder_ops;
extern const dlh_param_doc imagefolder_params[];  /* plugin.h */

#endif
