/* One PNG or JPEG file into 8-bit pixels, and pixels into a sample's floats
 * (images.h).
 *
 * Both libraries report errors by longjmp from a callback, so each decode
 * keeps what it must free in a context struct that outlives the setjmp;
 * libjpeg's default would exit() and print, libpng's print.  libjpeg's
 * warnings (corrupt data it would paper over with grey, "Premature end of
 * JPEG file") are errors here: a sample that decodes to filler is worse
 * than no sample.  Headers are checked against IMAGES_MAX_SIDE and
 * IMAGES_MAX_PIXELS before the pixels are allocated; a progressive JPEG of
 * more than 500 scans (a slow-decoding bomb) is refused as TurboJPEG's
 * TJFLAG_LIMITSCANS does. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "images.h"

#define IMAGES_MAX_SCANS 500

/* PIL's convert('L'): ITU-R 601-2 luma, L = R 299/1000 + G 587/1000 +
   B 114/1000, in PIL's 16-bit fixed point with rounding (Convert.c, L24). */
static unsigned char images_luma(const unsigned char *rgb)
{
    return (unsigned char)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

/* Converts n pixels of `from` channels to `to` channels in place (grey to
   RGB needs the larger buffer: the caller allocates for max(from, to)). */
static void images_convert(unsigned char *p, int64_t n, int from, int to)
{
    if (from == 3 && to == 1) {
        for (int64_t i = 0; i < n; i++)
            p[i] = images_luma(p + 3 * i);
    } else if (from == 1 && to == 3) {
        for (int64_t i = n - 1; i >= 0; i--)
            p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = p[i];
    }
}

static int images_check_size(const char *path, const char *kind, int64_t w, int64_t h)
{
    if (w < 1 || h < 1) {
        datasets_host->error("%s: corrupt %s: the header says %" PRId64 " x %" PRId64
                             " pixels", path, kind, w, h);
        return DLH_EDATA;
    }
    if (w > IMAGES_MAX_SIDE || h > IMAGES_MAX_SIDE || w * h > IMAGES_MAX_PIXELS) {
        datasets_host->error("%s: the %s header says %" PRId64 " x %" PRId64 " pixels "
                             "(width x height), over the limit of %d per side and %" PRId64
                             " in all: refused (a decompression bomb, or not a training "
                             "image)", path, kind, w, h, IMAGES_MAX_SIDE, IMAGES_MAX_PIXELS);
        return DLH_EDATA;
    }
    return 0;
}

/* The pixel buffer for w x h pixels of max(from, to) channels. */
static int images_alloc(const char *path, images_pixels *out, int from, int to)
{
    int c = from > to ? from : to;
    size_t bytes = (size_t)out->width * (size_t)out->height * (size_t)c;
    out->data = malloc(bytes);
    if (!out->data) {
        datasets_host->error("%s: out of memory for %" PRId64 " x %" PRId64 " pixels",
                             path, out->width, out->height);
        return DLH_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- PNG */

typedef struct images_png {
    FILE *f;
    const char *path;
    int truncated;
    int io_errno;               /* a read error: its errno */
    char msg[256];
    jmp_buf jb;
    unsigned char *buf;         /* freed on error */
    png_bytep *rows;
} images_png;

static void images_png_error(png_structp png, png_const_charp msg)
{
    images_png *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void images_png_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;       /* ancillary chunks with bad CRCs are skipped */
}

static void images_png_read(png_structp png, png_bytep data, size_t n)
{
    images_png *c = png_get_io_ptr(png);
    if (fread(data, 1, n, c->f) == n)
        return;
    if (ferror(c->f)) {
        c->io_errno = errno;
        png_error(png, "read error");
    }
    c->truncated = 1;
    png_error(png, "the file ends early");
}

static int images_png_load(images_png *c, int channels, images_pixels *out)
{
    const dlh_host *host = datasets_host;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, images_png_error,
                                             images_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        host->error("%s: out of memory starting the PNG decoder", c->path);
        return DLH_ENOMEM;
    }
    int rc;
    if (setjmp(c->jb)) {
        if (c->io_errno) {
            host->error("%s: read error: %s", c->path, strerror(c->io_errno));
            rc = DLH_EIO;
        } else if (c->truncated) {
            host->error("%s: truncated PNG: the file ends early", c->path);
            rc = DLH_EDATA;
        } else if (strstr(c->msg, "memory")) {
            host->error("%s: PNG decoding: %s", c->path, c->msg);
            rc = DLH_ENOMEM;
        } else {
            host->error("%s: corrupt PNG: %s", c->path, c->msg);
            rc = DLH_EDATA;
        }
        goto out;
    }
    png_set_read_fn(png, c, images_png_read);
    /* Our own limits, with our message, apply after the header. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    out->width = w;
    out->height = h;
    if ((rc = images_check_size(c->path, "PNG", out->width, out->height)))
        goto out;
    int from = (type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    if (channels == 0) {
        out->channels = from;
        goto out;
    }
    /* As PIL: the high byte of 16-bit samples, palettes as RGB, no alpha
       (nor tRNS), no gamma. */
    if (depth == 16)
        png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if ((int)png_get_channels(png, info) != from || png_get_rowbytes(png, info) != w * from) {
        host->error("%s: PNG of colour type %d, depth %d: unexpected layout after decoding",
                    c->path, type, depth);
        rc = DLH_EDATA;
        goto out;
    }
    if ((rc = images_alloc(c->path, out, from, channels)))
        goto out;
    c->buf = out->data;
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (!c->rows) {
        host->error("%s: out of memory", c->path);
        rc = DLH_ENOMEM;
        goto out;
    }
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->buf + (size_t)y * w * (size_t)from;
    png_read_image(png, c->rows);
    /* The chunks after the image, to IEND: a cut-off file is an error. */
    png_read_end(png, NULL);
    images_convert(c->buf, out->width * out->height, from, channels);
    out->channels = channels;
    c->buf = NULL;
    rc = 0;
out:
    png_destroy_read_struct(&png, &info, NULL);
    free(c->rows);
    c->rows = NULL;
    if (c->buf) {
        free(c->buf);
        c->buf = NULL;
        out->data = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct images_jpeg {
    struct jpeg_error_mgr err;      /* first: libjpeg's err pointer is ours */
    struct jpeg_progress_mgr progress;
    const char *path;
    char msg[JMSG_LENGTH_MAX];
    int truncated, scans;
    jmp_buf jb;
    unsigned char *buf;
} images_jpeg;

static void images_jpeg_error_exit(j_common_ptr cinfo)
{
    images_jpeg *c = (images_jpeg *)cinfo->err;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* Warnings (level -1) are errors; trace messages are dropped. */
static void images_jpeg_emit(j_common_ptr cinfo, int level)
{
    images_jpeg *c = (images_jpeg *)cinfo->err;
    if (level >= 0)
        return;
    c->truncated = cinfo->err->msg_code == JWRN_JPEG_EOF;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

static void images_jpeg_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void images_jpeg_progress(j_common_ptr cinfo)
{
    images_jpeg *c = (images_jpeg *)cinfo->err;
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > IMAGES_MAX_SCANS) {
        c->scans = 1;
        longjmp(c->jb, 1);
    }
}

static int images_jpeg_load(images_jpeg *c, FILE *f, int channels, images_pixels *out)
{
    const dlh_host *host = datasets_host;
    struct jpeg_decompress_struct cinfo;
    int rc;
    /* Zeroed: an error inside jpeg_create_decompress (a library version
       mismatch) comes before it zeroes the struct, and destroy reads mem. */
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&c->err);
    c->err.error_exit = images_jpeg_error_exit;
    c->err.emit_message = images_jpeg_emit;
    c->err.output_message = images_jpeg_output;
    if (setjmp(c->jb)) {
        if (c->scans)
            host->error("%s: progressive JPEG of more than %d scans: refused (a "
                        "decompression bomb)", c->path, IMAGES_MAX_SCANS);
        else if (c->truncated)
            host->error("%s: truncated JPEG: the file ends early", c->path);
        else
            host->error("%s: corrupt JPEG: %s", c->path, c->msg);
        rc = c->err.msg_code == JERR_OUT_OF_MEMORY ? DLH_ENOMEM : DLH_EDATA;
        goto out;
    }
    jpeg_create_decompress(&cinfo);
    c->progress.progress_monitor = images_jpeg_progress;
    cinfo.progress = &c->progress;
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    out->width = cinfo.image_width;
    out->height = cinfo.image_height;
    if ((rc = images_check_size(c->path, "JPEG", out->width, out->height)))
        goto out;
    int from;
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
        from = 1;
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) {
        from = 3;
        cinfo.out_color_space = JCS_RGB;
    } else {
        host->error("%s: JPEG of %d components in colour space %s: only grey, YCbCr and "
                    "RGB JPEGs are read", c->path, cinfo.num_components,
                    cinfo.jpeg_color_space == JCS_CMYK ? "CMYK"
                    : cinfo.jpeg_color_space == JCS_YCCK ? "YCCK" : "unknown");
        rc = DLH_EDATA;
        goto out;
    }
    if (channels == 0) {
        out->channels = from;
        goto out;
    }
    if ((rc = images_alloc(c->path, out, from, channels)))
        goto out;
    c->buf = out->data;
    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_components != from || cinfo.output_width != out->width ||
        cinfo.output_height != out->height) {
        host->error("%s: JPEG decodes to %u x %u x %d, its header says %" PRId64 " x %"
                    PRId64 " x %d", c->path, cinfo.output_width, cinfo.output_height,
                    cinfo.output_components, out->width, out->height, from);
        rc = DLH_EDATA;
        goto out;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = c->buf + (size_t)cinfo.output_scanline * (size_t)out->width * from;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    images_convert(c->buf, out->width * out->height, from, channels);
    out->channels = channels;
    c->buf = NULL;
    rc = 0;
out:
    jpeg_destroy_decompress(&cinfo);
    if (c->buf) {
        free(c->buf);
        c->buf = NULL;
        out->data = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- either */

int images_load(const char *path, int channels, images_pixels *out)
{
    const dlh_host *host = datasets_host;
    memset(out, 0, sizeof *out);
    struct stat st;
    int rc;
    FILE *f = datasets_fopen(NULL, NULL, path, &st, &rc);
    if (!f)
        return rc;
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof sig, f);
    if (ferror(f)) {
        host->error("%s: read error: %s", path, strerror(errno));
        fclose(f);
        return DLH_EIO;
    }
    rewind(f);
    static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (got == sizeof sig && memcmp(sig, png_sig, 8) == 0) {
        images_png *c = calloc(1, sizeof *c);
        if (!c) {
            host->error("%s: out of memory", path);
            rc = DLH_ENOMEM;
        } else {
            c->f = f;
            c->path = path;
            rc = images_png_load(c, channels, out);
            free(c);
        }
    } else if (got >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) {
        images_jpeg *c = calloc(1, sizeof *c);
        if (!c) {
            host->error("%s: out of memory", path);
            rc = DLH_ENOMEM;
        } else {
            c->path = path;
            rc = images_jpeg_load(c, f, channels, out);
            free(c);
        }
    } else if (got == 0) {
        host->error("%s: empty file", path);
        rc = DLH_EDATA;
    } else {
        char hex[3 * sizeof sig + 1] = "";
        size_t len = 0;
        for (size_t i = 0; i < got && i < 4; i++)
            len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02x", i ? " " : "",
                                    sig[i]);
        host->error("%s: not a PNG or JPEG file (it starts with %s)", path, hex);
        rc = DLH_EDATA;
    }
    fclose(f);
    return rc;
}

/* Source indices and weights along one axis, as torch's upsample kernels
   (UpSample.h: area_pixel_compute_source_index, align_corners=False, and
   guard_index_and_lambda), in float as torch computes them for float
   tensors. */
static void images_axis(int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *l0,
                        float *l1)
{
    float scale = (float)in / (float)out;
    for (int64_t d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0.0f)
            src = 0.0f;
        int64_t i = (int64_t)src;
        if (i > in - 1)
            i = in - 1;
        float lam = src - (float)i;
        lam = lam < 0.0f ? 0.0f : lam > 1.0f ? 1.0f : lam;
        i0[d] = i;
        i1[d] = i + (i < in - 1 ? 1 : 0);
        l1[d] = lam;
        l0[d] = 1.0f - lam;
    }
}

int images_resize(const char *path, const images_pixels *im, int64_t h, int64_t w,
                  float *out)
{
    const int64_t C = im->channels, H = im->height, W = im->width;
    const unsigned char *p = im->data;
    if (h == H && w == W) {
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < H * W; i++)
                out[c * H * W + i] = (float)p[i * C + c] / 255.0f;
        return 0;
    }
    /* One allocation for both axes' tables: at most 2^16 entries each. */
    int64_t *iy0 = malloc((size_t)(2 * h + 2 * w) * sizeof(int64_t));
    float *ly0 = malloc((size_t)(2 * h + 2 * w) * sizeof(float));
    if (!iy0 || !ly0) {
        free(iy0);
        free(ly0);
        datasets_host->error("%s: out of memory resizing to %" PRId64 " x %" PRId64, path,
                             h, w);
        return DLH_ENOMEM;
    }
    int64_t *iy1 = iy0 + h, *ix0 = iy0 + 2 * h, *ix1 = ix0 + w;
    float *ly1 = ly0 + h, *lx0 = ly0 + 2 * h, *lx1 = lx0 + w;
    images_axis(H, h, iy0, iy1, ly0, ly1);
    images_axis(W, w, ix0, ix1, lx0, lx1);
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < h; y++) {
            const unsigned char *r0 = p + iy0[y] * W * C + c, *r1 = p + iy1[y] * W * C + c;
            float *o = out + (c * h + y) * w;
            for (int64_t x = 0; x < w; x++) {
                float a = (float)r0[ix0[x] * C] / 255.0f, b = (float)r0[ix1[x] * C] / 255.0f;
                float d = (float)r1[ix0[x] * C] / 255.0f, e = (float)r1[ix1[x] * C] / 255.0f;
                o[x] = (a * lx0[x] + b * lx1[x]) * ly0[y] + (d * lx0[x] + e * lx1[x]) * ly1[y];
            }
        }
    free(iy0);
    free(ly0);
    return 0;
}
