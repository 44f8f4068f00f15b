/* The imagefolder dataset: PNG and JPEG images, one sub-folder per class,
 * as torchvision.datasets.ImageFolder.
 *
 *   data.train = { type = "imagefolder"; path = "train/"; size = [28, 28];
 *                  color = "grey"; };
 *
 * The classes are the sub-folders of `path`, sorted by name in byte order
 * (Python's sorted()), class k being the k-th; their names are given to
 * the host by class_name.  A class's samples are its files named *.png,
 * *.jpg or *.jpeg (any case), sorted by name; other files are skipped, and
 * so are hidden files and folders (a leading '.': torchvision would make
 * ".git" a class).  Symbolic links are followed, to folders and to files, as
 * torchvision does; only the files directly in a class folder count (not
 * its sub-folders, which torchvision would walk).  A file is told PNG or
 * JPEG by its signature, not its name.
 *
 * A sample is (C, H, W) floats in [0, 1], x / 255 as ToTensor: C = 1 for
 * color = "grey" (PIL's convert('L'), ITU-R 601 luma) or 3 for "rgb" (the
 * default, as torchvision's loader; alpha is dropped, not blended, as
 * PIL's convert('RGB')).  size = [H, W] resizes every image with bilinear
 * interpolation as torchvision's resize of the float tensor with
 * antialias=False (images.h); without it every image must have the first
 * one's size.
 *
 * Decoding happens once, at open, into a cache of the finished samples
 * (bytes while no image needs resizing, since x / 255 of them is exact;
 * floats once one does), so that an epoch over 60000 small PNGs costs no
 * decoding.  `cache` (MiB, default 1024) bounds it: a data set whose cache
 * would be larger is only checked at open (every file opened and its header
 * read) and decoded again at each read, one image in memory at a time.
 * Either way a bad file is an error naming it, at open for every fault the
 * header shows and, uncached, at the read that meets a corrupt body.
 *
 * label = "none" reads images without labels (`dlhost predict`): `path` is
 * one image file, or a folder whose image files (directly in it, sorted by
 * name as a class folder's) are the samples. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "images.h"

/* Floats represent every integer below 2^24 exactly. */
#define IMAGEFOLDER_MAX_CLASSES 16777216

typedef enum imagefolder_cache {
    IMAGEFOLDER_NONE = 0,       /* decoded at each read */
    IMAGEFOLDER_BYTES = 1,      /* n samples of C*H*W bytes, x * 255 */
    IMAGEFOLDER_FLOATS = 2      /* n samples of C*H*W floats */
} imagefolder_cache;

typedef struct imagefolder_state {
    char *root;                 /* for messages */
    char **classes;             /* n_classes names */
    int64_t n_classes;
    char **files;               /* n paths, root/class/name */
    int32_t *label;
    int64_t n, cap;
    int channels;
    int64_t h, w;
    int64_t numel;              /* channels * h * w */
    int sized;                  /* size = [H, W] given */
    int unlabelled;             /* label = "none" */
    int64_t cache_max;          /* bytes */
    int cache;                  /* imagefolder_cache */
    unsigned char *bytes;
    float *floats;
} imagefolder_state;

static int imagefolder_oom(const char *what)
{
    datasets_host->error("%s: out of memory", what);
    return DLH_ENOMEM;
}

static int imagefolder_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int imagefolder_is_image(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                                  strcasecmp(dot, ".jpeg") == 0);
}

static char *imagefolder_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    int slash = n > 0 && dir[n - 1] == '/';
    size_t len = n + strlen(name) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s%s", dir, slash ? "" : "/", name);
    return s;
}

/* The sorted names in folder `dir` that are not hidden and pass `keep`
   (folders, or image files, through symbolic links), into *names (n of
   them, each malloc'd, as the array). */
static int imagefolder_list(const char *dir, int folders, char ***names, int64_t *n)
{
    const dlh_host *host = datasets_host;
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        host->error("%s: cannot read the folder: %s", dir, strerror(errno));
        return DLH_EIO;
    }
    int64_t cap = 0;
    int rc = 0;
    struct dirent *de;
    /* errno tells readdir's end from its failure; stat below may set it. */
    while ((errno = 0, de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (folders) {
            /* stat follows links; an entry that vanished or a dangling link
               is not a class folder. */
            char *p = imagefolder_join(dir, de->d_name);
            struct stat st;
            if (!p) {
                rc = imagefolder_oom(dir);
                break;
            }
            int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
            free(p);
            if (!is_dir)
                continue;
        } else if (!imagefolder_is_image(de->d_name)) {
            continue;
        }
        if (*n == cap) {
            int64_t ncap = cap ? 2 * cap : 16;
            char **nn = realloc(*names, (size_t)ncap * sizeof *nn);
            if (!nn) {
                rc = imagefolder_oom(dir);
                break;
            }
            *names = nn;
            cap = ncap;
        }
        if (!((*names)[*n] = strdup(de->d_name))) {
            rc = imagefolder_oom(dir);
            break;
        }
        ++*n;
    }
    if (!rc && errno) {
        host->error("%s: cannot read the folder: %s", dir, strerror(errno));
        rc = DLH_EIO;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, (size_t)*n, sizeof **names, imagefolder_cmp);
    return rc;
}

static void imagefolder_free_names(char **names, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* label = "none": the image files of the folder st->root, or the file. */
static int imagefolder_scan_bare(imagefolder_state *st, int is_dir)
{
    char **names = NULL;
    int64_t m = 1;
    int rc = is_dir ? imagefolder_list(st->root, 0, &names, &m) : 0;
    if (!rc && m == 0) {
        datasets_host->error("%s: no .png/.jpg/.jpeg files (label = \"none\" reads the "
                             "images directly in the folder)", st->root);
        rc = DLH_EDATA;
    }
    if (!rc && (!(st->files = calloc((size_t)m, sizeof *st->files)) ||
                !(st->label = calloc((size_t)m, sizeof *st->label))))
        rc = imagefolder_oom(st->root);
    for (int64_t i = 0; !rc && i < m; i++, st->n++)
        if (!(st->files[i] = is_dir ? imagefolder_join(st->root, names[i])
                                    : strdup(st->root)))
            rc = imagefolder_oom(st->root);
    st->cap = st->n;
    imagefolder_free_names(names, is_dir ? m : 0);
    return rc;
}

/* Lists the classes and their files into st. */
static int imagefolder_scan(imagefolder_state *st)
{
    const dlh_host *host = datasets_host;
    int rc = imagefolder_list(st->root, 1, &st->classes, &st->n_classes);
    if (rc)
        return rc;
    if (st->n_classes == 0) {
        host->error("%s: no class folders (an image folder holds one sub-folder of "
                    "images per class)", st->root);
        return DLH_EDATA;
    }
    if (st->n_classes > IMAGEFOLDER_MAX_CLASSES) {
        host->error("%s: %" PRId64 " class folders, more than %d", st->root, st->n_classes,
                    IMAGEFOLDER_MAX_CLASSES);
        return DLH_EDATA;
    }
    for (int64_t k = 0; k < st->n_classes; k++) {
        char *dir = imagefolder_join(st->root, st->classes[k]);
        if (!dir)
            return imagefolder_oom(st->root);
        char **names;
        int64_t m;
        rc = imagefolder_list(dir, 0, &names, &m);
        if (!rc && m == 0) {
            host->error("%s: no .png/.jpg/.jpeg files", dir);
            rc = DLH_EDATA;
        }
        if (!rc && st->n + m > st->cap) {
            int64_t ncap = st->cap ? st->cap : 64;
            while (ncap < st->n + m)
                ncap *= 2;
            char **nf = realloc(st->files, (size_t)ncap * sizeof *nf);
            if (nf)
                st->files = nf;
            int32_t *nl = realloc(st->label, (size_t)ncap * sizeof *nl);
            if (nl)
                st->label = nl;
            if (nf && nl)
                st->cap = ncap;
            else
                rc = imagefolder_oom(dir);
        }
        for (int64_t i = 0; !rc && i < m; i++) {
            if (!(st->files[st->n] = imagefolder_join(dir, names[i]))) {
                rc = imagefolder_oom(dir);
                break;
            }
            st->label[st->n++] = (int32_t)k;
        }
        imagefolder_free_names(names, m);
        free(dir);
        if (rc)
            return rc;
    }
    return 0;
}

/* The cache as floats: the first `done` samples, kept as bytes so far,
   widened in place (from the end, so nothing is overwritten unread); or no
   cache when floats would pass the cap. */
static int imagefolder_widen(imagefolder_state *st, int64_t done)
{
    size_t numel = (size_t)st->numel;
    if ((double)st->n * (double)numel * sizeof(float) > (double)st->cache_max) {
        free(st->bytes);
        st->bytes = NULL;
        st->cache = IMAGEFOLDER_NONE;
        return 0;
    }
    float *f = realloc(st->bytes, (size_t)st->n * numel * sizeof(float));
    if (!f)
        return imagefolder_oom(st->root);
    st->bytes = NULL;
    const unsigned char *b = (const unsigned char *)f;
    for (size_t i = (size_t)done * numel; i-- > 0;)
        f[i] = (float)b[i] / 255.0f;
    st->floats = f;
    st->cache = IMAGEFOLDER_FLOATS;
    return 0;
}

/* Sample i decoded into out (numel floats). */
static int imagefolder_decode(imagefolder_state *st, int64_t i, float *out)
{
    images_pixels im;
    int rc = images_load(st->files[i], st->channels, &im);
    if (!rc)
        rc = images_resize(st->files[i], &im, st->h, st->w, out);
    free(im.data);
    return rc;
}

/* Reads every file at open: decoded into the cache while there is one,
   else its header checked. */
static int imagefolder_load(imagefolder_state *st)
{
    const dlh_host *host = datasets_host;
    size_t numel = (size_t)st->numel;
    for (int64_t i = 0; i < st->n; i++) {
        images_pixels im;
        const char *path = st->files[i];
        int rc = images_load(path, st->cache ? st->channels : 0, &im);
        if (rc)
            return rc;
        if (!st->sized && (im.height != st->h || im.width != st->w)) {
            free(im.data);
            host->error("%s: %" PRId64 " x %" PRId64 " pixels (height x width), not the "
                        "%" PRId64 " x %" PRId64 " of %s: without size = [H, W] every "
                        "image must have the same size", path, im.height, im.width,
                        st->h, st->w, st->files[0]);
            return DLH_EDATA;
        }
        if (st->cache == IMAGEFOLDER_BYTES && (im.height != st->h || im.width != st->w) &&
            (rc = imagefolder_widen(st, i))) {
            free(im.data);
            return rc;
        }
        if (st->cache == IMAGEFOLDER_BYTES) {
            /* Same size: the pixels, channel-major. */
            unsigned char *d = st->bytes + (size_t)i * numel;
            size_t hw = (size_t)(st->h * st->w);
            for (int c = 0; c < st->channels; c++)
                for (size_t j = 0; j < hw; j++)
                    d[(size_t)c * hw + j] = im.data[j * (size_t)st->channels + (size_t)c];
        } else if (st->cache == IMAGEFOLDER_FLOATS && im.data) {
            rc = images_resize(path, &im, st->h, st->w, st->floats + (size_t)i * numel);
        }
        free(im.data);
        if (rc)
            return rc;
    }
    return 0;
}

static int imagefolder_open(const dlh_host *host, dlh_params *p, void **state)
{
    imagefolder_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;

    static const char *const colors[] = { "grey", "rgb", NULL };
    static const char *const labels[] = { "class", "none", NULL };
    const char *path;
    float size[3];
    size_t n_size;
    int color, label;
    const int64_t cache_def = 1024;
    int64_t cache_mib;
    int rc;
    if ((rc = host->param_path(p, "path", NULL, &path)) ||
        (rc = host->param_floats(p, "size", size, 2, &n_size)) ||
        (rc = host->param_choice(p, "color", colors, 1, &color)) ||
        (rc = host->param_int(p, "cache", &cache_def, 0, INT64_MAX >> 20, &cache_mib)) ||
        (rc = host->param_choice(p, "label", labels, 0, &label)))
        return rc;
    st->unlabelled = label == 1;
    if (n_size == 1)
        return host->param_error(p, "size", "parameter 'size': expected [height, width], "
                                 "got 1 value");
    for (size_t i = 0; i < n_size; i++)
        if (!(size[i] >= 1 && size[i] <= IMAGES_MAX_SIDE && size[i] == (float)(int)size[i]))
            return host->param_error(p, "size", "parameter 'size': %s %g is not a whole "
                                     "number from 1 to %d", i ? "width" : "height",
                                     (double)size[i], IMAGES_MAX_SIDE);
    st->channels = color == 0 ? 1 : 3;
    st->cache_max = cache_mib << 20;
    if (!(st->root = strdup(path)))
        return imagefolder_oom(path);

    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return host->param_error(p, "path", "parameter 'path': no such folder: '%s'",
                                     path);
        host->error("%s: cannot open: %s", path, strerror(errno));
        return DLH_EIO;
    }
    if (!S_ISDIR(sb.st_mode) && !(st->unlabelled && S_ISREG(sb.st_mode))) {
        host->error("%s: not a folder (an image folder holds one sub-folder of images per "
                    "class)", path);
        return DLH_EDATA;
    }
    if ((rc = st->unlabelled ? imagefolder_scan_bare(st, S_ISDIR(sb.st_mode))
                             : imagefolder_scan(st)))
        return rc;

    if (n_size == 2) {
        st->sized = 1;
        st->h = (int64_t)size[0];
        st->w = (int64_t)size[1];
    } else {
        images_pixels im;
        if ((rc = images_load(st->files[0], 0, &im)))
            return rc;
        st->h = im.height;
        st->w = im.width;
    }
    st->numel = st->channels * st->h * st->w;
    if ((double)st->n * (double)st->numel <= (double)st->cache_max) {
        st->bytes = malloc((size_t)(st->n * st->numel));
        if (!st->bytes) {
            host->error("%s: out of memory for the cache of %" PRId64 " samples of %"
                        PRId64 " bytes (lower `cache` to decode at each read)", path, st->n,
                        st->numel);
            return DLH_ENOMEM;
        }
        st->cache = IMAGEFOLDER_BYTES;
    }
    return imagefolder_load(st);
}

static int imagefolder_info(void *state, dlh_dataset_info *info)
{
    imagefolder_state *st = state;
    info->n_samples = st->n;
    info->sample.ndim = 3;
    info->sample.dim[0] = st->channels;
    info->sample.dim[1] = st->h;
    info->sample.dim[2] = st->w;
    info->label_kind = st->unlabelled ? DLH_LABEL_NONE : DLH_LABEL_CLASS;
    info->n_classes = st->unlabelled ? 0 : st->n_classes;
    memset(&info->label, 0, sizeof info->label);
    return 0;
}

static int imagefolder_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    imagefolder_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= st->n) {
            datasets_host->error("%s: sample index %" PRId64 " is out of range [0, %"
                                 PRId64 ")", st->root, idx[i], st->n);
            return DLH_EINVAL;
        }
    size_t m = (size_t)st->numel;
    for (size_t i = 0; i < n; i++) {
        float *d = x + i * m;
        if (st->cache == IMAGEFOLDER_BYTES) {
            const unsigned char *s = st->bytes + (size_t)idx[i] * m;
            #pragma omp simd
            for (size_t j = 0; j < m; j++)
                d[j] = (float)s[j] / 255.0f;
        } else if (st->cache == IMAGEFOLDER_FLOATS) {
            memcpy(d, st->floats + (size_t)idx[i] * m, m * sizeof(float));
        } else {
            int rc = imagefolder_decode(st, idx[i], d);
            if (rc)
                return rc;
        }
        if (y && !st->unlabelled)
            y[i] = (float)st->label[idx[i]];
    }
    return 0;
}

static const char *imagefolder_class_name(void *state, int64_t k)
{
    imagefolder_state *st = state;
    return k >= 0 && k < st->n_classes ? st->classes[k] : NULL;
}

static void imagefolder_close(void *state)
{
    imagefolder_state *st = state;
    if (!st)
        return;
    imagefolder_free_names(st->classes, st->n_classes);
    imagefolder_free_names(st->files, st->n);
    free(st->label);
    free(st->bytes);
    free(st->floats);
    free(st->root);
    free(st);
}

const dlh_dataset_ops imagefolder_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .open = imagefolder_open,
    .info = imagefolder_info,
    .read = imagefolder_read,
    .close = imagefolder_close,
    .class_name = imagefolder_class_name,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc imagefolder_params[] = {
    { "path", DLH_PARAM_PATH, NULL, 0, 0, NULL, "the root folder, one sub-folder per class, relative to the configuration file" },
    { "size", DLH_PARAM_FLOATS, "", 0, 0, NULL, "[height, width] every image is resized to; unset: all images must share one size" },
    { "color", DLH_PARAM_CHOICE, "rgb", 0, 0, "grey|rgb", "channels: grey (1) or rgb (3)" },
    { "cache", DLH_PARAM_INT, "1024", 0, INT64_MAX >> 20, NULL, "MiB of decoded images kept in memory; 0: none" },
    { "label", DLH_PARAM_CHOICE, "class", 0, 0, "class|none", "class: the sub-folders are the classes; none: path is one image or a folder of images, without labels" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
