/* upsample: nn.Upsample(size | scale_factor, mode, align_corners) over
 * [C, H, W] samples, as PyTorch 1.13's cpu kernels index:
 * - the output size is `size`, or floor(in * scale_factor) per axis;
 * - a ratio r per axis: with scale_factor given, r = (float)(1 / scale),
 *   else (float)in / out (bilinear with align_corners: (in-1)/(out-1));
 * - nearest: output o reads input min(floor(o r), in - 1) (r in float);
 * - bilinear: source s = r (o + 0.5) - 0.5 clamped at 0 (align_corners:
 *   s = r o), i0 = (int)s, i1 = i0 + 1 but not past the last input,
 *   l1 = clamp(s - i0, 0, 1), l0 = 1 - l1; an axis whose output size is its
 *   input size is copied.
 * Both modes are separable: y = Ah x Aw^T with interpolation matrices
 * (separable.c), so the backward is the transposes' gemms and accumulates
 * every output's gradient into its sources, as torch's backward does.
 * Nearest is exact (one 1 per row); bilinear is torch's
 * h0 (w0 x00 + w1 x01) + h1 (w0 x10 + w1 x11) up to float32 rounding. */
#include <math.h>
#include <stdlib.h>

#include "layers.h"

enum { UPSAMPLE_NEAREST = 0, UPSAMPLE_BILINEAR = 1 };

typedef struct upsample_state {
    layers_sep2d map;
    int mode, align_corners;
    float onnx_scale[2];        /* Resize's scales of H and W (export) */
} upsample_state;

/* The interpolation matrix of one axis, in -> out (rows out, columns in);
   scale <= 0 when the size was given. */
static void upsample_matrix(float *a, int64_t in, int64_t out, double scale, int mode,
                            int align_corners)
{
    if (mode == UPSAMPLE_NEAREST) {
        float r = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
        for (int64_t o = 0; o < out; o++) {
            int64_t i = (int64_t)floorf((float)o * r);
            a[o * in + (i < in - 1 ? i : in - 1)] = 1.0f;
        }
        return;
    }
    float r;
    if (align_corners)
        r = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        r = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        if (out == in) {
            a[o * in + o] = 1.0f;
            continue;
        }
        float s = align_corners ? r * (float)o : r * ((float)o + 0.5f) - 0.5f;
        if (s < 0.0f)
            s = 0.0f;
        int64_t i0 = (int64_t)s, i1 = i0 + (i0 < in - 1 ? 1 : 0);
        float l1 = fminf(fmaxf(s - (float)i0, 0.0f), 1.0f), l0 = 1.0f - l1;
        a[o * in + i0] += l0;
        a[o * in + i1] += l1;
    }
}

static int upsample_create(const dlh_host *host, dlh_layer_setup *setup, void **state)
{
    upsample_state *st = calloc(1, sizeof *st);
    *state = st;
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    dlh_params *p = setup->params;
    static const char *const modes[] = { "nearest", "bilinear", NULL };
    const int no = 0;
    int mode, align = 0, rc;
    if ((rc = host->param_choice(p, "mode", modes, UPSAMPLE_NEAREST, &mode)) < 0)
        return rc;
    /* torch refuses align_corners for nearest, even when false. */
    if (mode == UPSAMPLE_NEAREST && host->param_has(p, "align_corners"))
        return host->param_error(p, "align_corners", "align_corners option can only be "
                                 "set with the interpolating modes: linear | bilinear | "
                                 "bicubic | trilinear");
    if (mode == UPSAMPLE_BILINEAR &&
        (rc = host->param_bool(p, "align_corners", &no, &align)) < 0)
        return rc;

    int has_size = host->param_has(p, "size"), has_scale = host->param_has(p, "scale_factor");
    if (has_size && has_scale)
        return host->param_error(p, "scale_factor", "only one of size or scale_factor "
                                 "should be defined");
    if (!has_size && !has_scale)
        return host->param_error(p, NULL, "either size or scale_factor should be defined");

    int32_t one[2] = { 1, 1 }, zero[2] = { 0, 0 };
    dlh_window2d g;
    int64_t eh, ew;
    if ((rc = layers_window2d(setup, "upsample", one, one, zero, one, &g, &eh, &ew)) < 0)
        return rc;
    int64_t in[2] = { g.h, g.w }, out[2];
    double scale[2] = { 0.0, 0.0 };
    if (has_size) {
        int32_t size[2];
        if ((rc = layers_param_pair(p, "size", 0, 1, 1 << 16, size)) < 0)
            return rc;
        out[0] = size[0];
        out[1] = size[1];
    } else {
        float f[2];
        size_t n = 0;
        if ((rc = host->param_floats(p, "scale_factor", f, 2, &n)) < 0)
            return rc;
        if (n == 0)
            return host->param_error(p, "scale_factor", "scale_factor: expected a number "
                                     "or a list [h, w], got an empty list");
        if (n == 1)
            f[1] = f[0];
        for (int i = 0; i < 2; i++) {
            scale[i] = f[i];
            double o = floor((double)in[i] * scale[i]);
            out[i] = scale[i] > 0 && o <= 65536 ? (int64_t)o : (scale[i] > 0 ? 65537 : 0);
        }
    }
    if (out[0] < 1 || out[1] < 1 || out[0] > 65536 || out[1] > 65536)
        return host->param_error(p, has_size ? "size" : "scale_factor",
                                 "Input and output sizes should be greater than 0, but got "
                                 "input (H: %lld, W: %lld) output (H: %lld, W: %lld)%s",
                                 (long long)in[0], (long long)in[1], (long long)out[0],
                                 (long long)out[1],
                                 out[0] > 65536 || out[1] > 65536
                                     ? " (at most 65536 each here)" : "");
    if ((rc = layers_sep2d_setup(setup, "upsample", &st->map, g.c, in[0], in[1], out[0],
                                 out[1])) < 0)
        return rc;
    upsample_matrix(st->map.ah, in[0], out[0], scale[0], mode, align);
    upsample_matrix(st->map.aw, in[1], out[1], scale[1], mode, align);
    st->mode = mode;
    st->align_corners = align;
    for (int i = 0; i < 2; i++) {
        /* Resize's output is floor(in * scale): an axis that keeps its size
           (copied, bilinear) has scale 1, a given scale_factor is itself, and a size
           the nearest float32 ratio whose floor gives it. */
        float s = out[i] == in[i] && mode == UPSAMPLE_BILINEAR ? 1.0f
                  : scale[i] > 0 ? (float)scale[i]
                  : (float)out[i] / (float)in[i];
        while (floor((double)in[i] * s) < (double)out[i])
            s = nextafterf(s, INFINITY);
        while (floor((double)in[i] * s) > (double)out[i])
            s = nextafterf(s, 0.0f);
        st->onnx_scale[i] = s;
    }
    setup->output.ndim = 3;
    setup->output.dim[0] = g.c;
    setup->output.dim[1] = out[0];
    setup->output.dim[2] = out[1];
    return 0;
}

static int upsample_forward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                            const dlh_tensor *output)
{
    upsample_state *st = state;
    return layers_sep2d_forward(&st->map, ctx, inputs[0].mem, output->mem);
}

static int upsample_backward(void *state, const dlh_layer_ctx *ctx, const dlh_tensor *inputs,
                             const dlh_tensor *output, const dlh_tensor *d_output,
                             const dlh_tensor *d_inputs)
{
    (void)inputs;
    (void)output;
    upsample_state *st = state;
    if (!d_inputs[0].mem.buf)
        return 0;
    return layers_sep2d_backward(&st->map, ctx, d_output->mem, d_inputs[0].mem);
}

/* 1 when Resize's nearest index floor(o / scale) (its "asymmetric"
   coordinates, nearest_mode "floor") picks the layer's input for every
   output of one axis; the layer's float32 rule o * (float)(1 / scale), or
   (float)in / out for a size, can differ at an exact boundary (6 -> 2 reads
   input 3 for output 1, Resize 2.9999 -> 2). */
static int upsample_resize_exact(const upsample_state *st, int axis)
{
    const layers_sep2d *m = &st->map;
    int in = axis ? m->w : m->h, out = axis ? m->ow : m->oh;
    const float *a = axis ? m->aw : m->ah;
    for (int o = 0; o < out; o++) {
        double x = floor((double)o / (double)st->onnx_scale[axis]);
        int64_t i = x > in - 1 ? in - 1 : (int64_t)x;
        if (a[(int64_t)o * in + i] != 1.0f)
            return 0;
    }
    return 1;
}

/* Nearest as two Gathers of the layer's own input indices (axes 2, 3). */
static int upsample_gather(const upsample_state *st, dlh_onnx_builder *b)
{
    const layers_sep2d *m = &st->map;
    const char *rows = b->value(b, "rows"), *x = b->inputs[0];
    for (int axis = 0; axis < 2; axis++) {
        int in = axis ? m->w : m->h;
        int64_t out = axis ? m->ow : m->oh, *idx = malloc((size_t)out * sizeof *idx);
        const float *a = axis ? m->aw : m->ah;
        if (!idx) {
            layers_host->error("out of memory");
            return DLH_ENOMEM;
        }
        for (int64_t o = 0; o < out; o++)
            for (int i = 0; i < in; i++)
                if (a[o * in + i] == 1.0f)
                    idx[o] = i;
        const char *g_in[2] = { x, b->constant(b, axis ? "col_index" : "row_index",
                                               DLH_ONNX_INT64, 1, &out, idx) };
        const char *y = axis ? b->output : rows;
        free(idx);
        int rc;
        if (!rows || !g_in[1])
            return DLH_ENOMEM;
        if ((rc = b->node(b, "Gather", 2, g_in, 1, &y)) < 0 ||
            (rc = b->attr_int(b, "axis", 2 + axis)) < 0)
            return rc;
        x = rows;
    }
    return 0;
}

/* Resize with scales [1, 1, sh, sw] (sizes would need the dynamic batch):
   nearest is "asymmetric" coordinates with nearest_mode "floor", bilinear
   "linear" with "align_corners" or "half_pixel" (whose edge clamping is
   torch's clamp of the source at 0 and at the last input).  Nearest where
   Resize's index differs from the layer's is two Gathers of its indices. */
static int upsample_export(void *state, dlh_onnx_builder *b)
{
    const upsample_state *st = state;
    if (st->mode == UPSAMPLE_NEAREST &&
        !(upsample_resize_exact(st, 0) && upsample_resize_exact(st, 1)))
        return upsample_gather(st, b);
    const float scales[4] = { 1.0f, 1.0f, st->onnx_scale[0], st->onnx_scale[1] };
    const int64_t four = 4;
    const char *in[3] = { b->inputs[0], "",
                          b->constant(b, "scales", DLH_ONNX_FLOAT, 1, &four, scales) };
    int rc;
    if (!in[2])
        return DLH_ENOMEM;
    if ((rc = b->node(b, "Resize", 3, in, 1, &b->output)) < 0)
        return rc;
    if (st->mode == UPSAMPLE_NEAREST) {
        if ((rc = b->attr_string(b, "mode", "nearest")) < 0 ||
            (rc = b->attr_string(b, "coordinate_transformation_mode", "asymmetric")) < 0)
            return rc;
        return b->attr_string(b, "nearest_mode", "floor");
    }
    if ((rc = b->attr_string(b, "mode", "linear")) < 0)
        return rc;
    return b->attr_string(b, "coordinate_transformation_mode",
                          st->align_corners ? "align_corners" : "half_pixel");
}

static void upsample_destroy(void *state)
{
    upsample_state *st = state;
    if (st)
        layers_sep2d_free(&st->map);
    free(st);
}

const dlh_layer_ops upsample_ops = {
    .struct_size = sizeof(dlh_layer_ops),
    .create = upsample_create,
    .forward = upsample_forward,
    .backward = upsample_backward,
    .destroy = upsample_destroy,
    .export_onnx = upsample_export,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc upsample_params[] = {
    { "size", DLH_PARAM_FLOATS, "", 0, 0, NULL, "output height and width: an integer in [1, 65536] or a list [h, w]; exactly one of size and scale_factor" },
    { "scale_factor", DLH_PARAM_FLOATS, "", 0, 0, NULL, "output = floor(input * scale_factor) per axis: a number > 0 or a list [h, w]; also the ratio torch's index rule uses" },
    { "mode", DLH_PARAM_CHOICE, "nearest", 0, 0, "nearest|bilinear", "interpolation" },
    { "align_corners", DLH_PARAM_BOOL, "false", 0, 0, NULL, "bilinear only: the corner pixels' centres of input and output coincide" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
