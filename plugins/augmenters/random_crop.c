/* random_crop: torchvision.transforms.RandomCrop on images (C, H, W):
 * F.pad(img, padding, fill, padding_mode), then F.crop at (top, left) of
 * the image's own size, top = int(1, 0, Hp - H) first, then left =
 * int(2, 0, Wp - W) (Hp, Wp: the padded size; augmenters.h defines int()).
 * The output is the input's size, since the model's input shape is fixed:
 * `size` (an integer or [h, w]) may be given but must equal (H, W);
 * random_resized_crop is the transform that changes scale.
 * padding: an integer, [left/right, top/bottom] or [left, top, right,
 * bottom], >= 0 (default 0); padding_mode "constant" (default), "edge",
 * "reflect" (no edge repeat; each pad < that side of the image, as torch) or
 * "symmetric" (edge repeated; pad <= side); fill: a number or one per channel
 * (default 0; constant mode).  pad_if_needed is accepted for torchvision's
 * sake and never pads, since the crop never exceeds the image.  p (default
 * 1, torchvision has none): counter 0 decides whether the sample is cropped.
 * Padding is separable, so apply shifts rows then columns in place through a
 * line buffer (augment_shift_plane). */
#include "augmenters.h"

typedef struct random_crop_state {
    int64_t c, h, w;
    int64_t pad[4];             /* left, top, right, bottom */
    int mode;
    double p;
    float fill[AUGMENT_MAX_CHANNELS];
} random_crop_state;

/* Reads an integer list `key` of 1..4 values >= 0 into v; *n = 0 when absent. */
static int random_crop_ints(const dlh_host *host, dlh_params *params, const char *key,
                            size_t max, int64_t *v, size_t *n)
{
    float f[4];
    int rc = host->param_floats(params, key, f, max, n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *n; i++) {
        if (f[i] < 0.0f || f[i] > (float)INT32_MAX || f[i] != (float)(int64_t)f[i])
            return host->param_error(params, key, "parameter '%s': expected integers >= 0, "
                                     "got %g at index %zu", key, f[i], i);
        v[i] = (int64_t)f[i];
    }
    return 0;
}

static int random_crop_create_ex(const dlh_host *host, dlh_params *params,
                                 dlh_augment_info *info, void **state)
{
    static const char *const modes[] = { "constant", "edge", "reflect", "symmetric", NULL };
    random_crop_state st = { 0 };
    int64_t size[2], pad[4];
    size_t n_size, n_pad;
    int pad_if_needed, rc;
    const int def_pad_if_needed = 0;
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h,
                                 &st.w)) < 0 ||
        (rc = random_crop_ints(host, params, "size", 2, size, &n_size)) < 0 ||
        (rc = random_crop_ints(host, params, "padding", 4, pad, &n_pad)) < 0 ||
        (rc = host->param_choice(params, "padding_mode", modes, 0, &st.mode)) < 0 ||
        (rc = augment_read_fill(host, params, "fill", 0.0, st.c, st.fill)) < 0 ||
        (rc = host->param_bool(params, "pad_if_needed", &def_pad_if_needed,
                               &pad_if_needed)) < 0 ||
        (rc = augment_read_p(host, params, 1.0, &st.p)) < 0)
        return rc;
    if (n_pad == 3)
        return host->param_error(params, "padding", "parameter 'padding': expected one "
                                 "integer, [left/right, top/bottom] or [left, top, right, "
                                 "bottom], got 3 values");
    for (int k = 0; k < 4; k++)
        st.pad[k] = n_pad == 0 ? 0 : n_pad == 1 ? pad[0] : n_pad == 2 ? pad[k % 2] : pad[k];
    int64_t th = n_size == 0 ? st.h : size[0], tw = n_size == 0 ? st.w : size[n_size - 1];
    int64_t ph = st.h + st.pad[1] + st.pad[3], pw = st.w + st.pad[0] + st.pad[2];
    if (th > ph || tw > pw)
        return host->param_error(params, "size", "parameter 'size': crop size (%lld, %lld) "
                                 "is larger than the padded image (%lld, %lld)",
                                 (long long)th, (long long)tw, (long long)ph, (long long)pw);
    if (th != st.h || tw != st.w)
        return host->param_error(params, "size", "parameter 'size': the crop must be the "
                                 "image's size (%lld, %lld), since the model's input shape "
                                 "is fixed; got (%lld, %lld)", (long long)st.h,
                                 (long long)st.w, (long long)th, (long long)tw);
    /* torch's reflect needs each pad below its side; symmetric repeats at most
       the whole side. */
    int64_t limit_h = st.mode == AUGMENT_PAD_REFLECT ? st.h - 1 : st.h;
    int64_t limit_w = st.mode == AUGMENT_PAD_REFLECT ? st.w - 1 : st.w;
    if (st.mode >= AUGMENT_PAD_REFLECT &&
        (st.pad[0] > limit_w || st.pad[2] > limit_w || st.pad[1] > limit_h ||
         st.pad[3] > limit_h))
        return host->param_error(params, "padding", "parameter 'padding': %s padding of "
                                 "[%lld, %lld, %lld, %lld] needs each pad %s the image's "
                                 "side (%lld x %lld)", modes[st.mode],
                                 (long long)st.pad[0], (long long)st.pad[1],
                                 (long long)st.pad[2], (long long)st.pad[3],
                                 st.mode == AUGMENT_PAD_REFLECT ? "below" : "at most",
                                 (long long)st.h, (long long)st.w);
    (void)pad_if_needed;
    return augment_state_new(host, &st, sizeof st, state);
}

static int random_crop_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_crop_state *st = state;
    int rc = augment_check_ctx("random_crop", ctx, x);
    if (rc < 0)
        return rc;
    float stack[AUGMENT_STACK];
    int64_t longest = st->h > st->w ? st->h : st->w;
    float *buf = augment_scratch("random_crop", stack, longest);
    if (!buf)
        return DLH_ENOMEM;
    int64_t plane = st->h * st->w;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t s = augment_stream(ctx, i);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        int64_t top = augment_int(ctx->seed, s, 1, 0, st->pad[1] + st->pad[3]);
        int64_t left = augment_int(ctx->seed, s, 2, 0, st->pad[0] + st->pad[2]);
        /* The crop's first row and column in the image's coordinates. */
        int64_t y0 = top - st->pad[1], x0 = left - st->pad[0];
        for (int64_t c = 0; c < st->c; c++) {
            float *v = x + (i * st->c + c) * plane;
            float fill = st->fill[c < AUGMENT_MAX_CHANNELS ? c : 0];
            augment_shift_plane(v, st->h, st->w, y0, x0, st->mode, fill, buf);
        }
    }
    augment_scratch_free(buf, stack);
    return 0;
}

const dlh_augmenter_ops random_crop_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_crop_apply,
    .destroy = augment_state_free,
    .create_ex = random_crop_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_crop_params[] = {
    { "size", DLH_PARAM_FLOATS, "", 0, 0, NULL, "crop size h or [h, w]; must be the image's size (the model's input is fixed); unset: the image's" },
    { "padding", DLH_PARAM_FLOATS, "", 0, 0, NULL, "pad n, [left/right, top/bottom] or [left, top, right, bottom], integers >= 0; unset: none" },
    { "padding_mode", DLH_PARAM_CHOICE, "constant", 0, 0, "constant|edge|reflect|symmetric", "how the padding is filled (torch's padding_mode)" },
    AUGMENT_FILL_DOC("fill", "value of constant padding"),
    { "pad_if_needed", DLH_PARAM_BOOL, "false", 0, 0, NULL, "accepted for torchvision compatibility; the crop is the image's size, so never needed" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
