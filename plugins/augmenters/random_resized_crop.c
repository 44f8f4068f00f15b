/* random_resized_crop: torchvision.transforms.RandomResizedCrop on images
 * (C, H, W) with output size (H, W), its get_params with our draws: up to 10
 * attempts t = 0..9, counters 1 + 4t .. 4 + 4t:
 *   target_area = H W uniform(1 + 4t, scale[0], scale[1])      (double)
 *   aspect = exp(uniform(2 + 4t, log ratio[0], log ratio[1]))
 *   w = round(sqrt(target_area aspect)), h = round(sqrt(target_area / aspect))
 *   if 0 < w <= W and 0 < h <= H: i = int(3 + 4t, 0, H - h),
 *   j = int(4 + 4t, 0, W - w), done;
 * else torchvision's central fallback (the whole image when W / H lies in
 * ratio).  The region (i, j, h, w) is resized back to (H, W) bilinearly as
 * F.resized_crop (augment_resize_region).  scale: [min, max] with 0 < min
 * <= max <= 1 (default [0.08, 1]); ratio: [min, max] > 0 (default [3/4,
 * 4/3]); size may be given but must be (H, W); p (default 1, torchvision has
 * none): counter 0.  apply allocates an image plane when H W exceeds
 * AUGMENT_STACK. */
#include <math.h>

#include "augmenters.h"

#define RESIZED_CROP_ATTEMPTS 10

typedef struct random_resized_crop_state {
    int64_t c, h, w;
    double p, scale[2], ratio[2], log_ratio[2];
} random_resized_crop_state;

static int random_resized_crop_create_ex(const dlh_host *host, dlh_params *params,
                                         dlh_augment_info *info, void **state)
{
    random_resized_crop_state st = { 0 };
    float scale[2] = { 0.08f, 1.0f }, ratio[2] = { 3.0f / 4.0f, 4.0f / 3.0f };
    size_t n;
    int rc;
    if ((rc = augment_need_image(host, params, info, &st.c, &st.h, &st.w)) < 0 ||
        (rc = augment_read_size(host, params, st.h, st.w)) < 0 ||
        (rc = host->param_floats(params, "scale", scale, 2, &n)) < 0)
        return rc;
    if (n == 1 || !(scale[0] > 0.0f) || scale[0] > scale[1] || scale[1] > 1.0f)
        return host->param_error(params, "scale", "parameter 'scale': expected [min, max] "
                                 "with 0 < min <= max <= 1");
    if ((rc = host->param_floats(params, "ratio", ratio, 2, &n)) < 0)
        return rc;
    if (n == 1 || !(ratio[0] > 0.0f) || ratio[0] > ratio[1])
        return host->param_error(params, "ratio", "parameter 'ratio': expected [min, max] "
                                 "with 0 < min <= max");
    if ((rc = augment_read_p(host, params, 1.0, &st.p)) < 0)
        return rc;
    for (int k = 0; k < 2; k++) {
        st.scale[k] = scale[k];
        st.ratio[k] = ratio[k];
        st.log_ratio[k] = log((double)ratio[k]);
    }
    return augment_state_new(host, &st, sizeof st, state);
}

/* get_params: the region (i, j, h, w) of sample stream s. */
static void random_resized_crop_region(const random_resized_crop_state *st, uint64_t seed,
                                       uint64_t s, int64_t *i, int64_t *j, int64_t *h,
                                       int64_t *w)
{
    double area = (double)st->h * (double)st->w;
    for (uint64_t t = 0; t < RESIZED_CROP_ATTEMPTS; t++) {
        uint64_t k = 1 + 4 * t;
        double target = area * augment_uniform(seed, s, k, st->scale[0], st->scale[1]);
        double aspect = exp(augment_uniform(seed, s, k + 1, st->log_ratio[0],
                                            st->log_ratio[1]));
        double wf = nearbyint(sqrt(target * aspect)), hf = nearbyint(sqrt(target / aspect));
        if (wf > 0 && wf <= (double)st->w && hf > 0 && hf <= (double)st->h) {
            *h = (int64_t)hf;
            *w = (int64_t)wf;
            *i = augment_int(seed, s, k + 2, 0, st->h - *h);
            *j = augment_int(seed, s, k + 3, 0, st->w - *w);
            return;
        }
    }
    double in_ratio = (double)st->w / (double)st->h;
    *w = st->w;
    *h = st->h;
    if (in_ratio < st->ratio[0])
        *h = (int64_t)nearbyint((double)*w / st->ratio[0]);
    else if (in_ratio > st->ratio[1])
        *w = (int64_t)nearbyint((double)*h * st->ratio[1]);
    *i = (st->h - *h) / 2;
    *j = (st->w - *w) / 2;
}

static int random_resized_crop_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const random_resized_crop_state *st = state;
    int rc = augment_check_ctx("random_resized_crop", ctx, x);
    if (rc < 0)
        return rc;
    float stack[AUGMENT_STACK];
    int64_t plane = st->h * st->w;
    float *buf = augment_scratch("random_resized_crop", stack, plane);
    if (!buf)
        return DLH_ENOMEM;
    for (int64_t n = 0; n < ctx->batch; n++) {
        uint64_t s = augment_stream(ctx, n);
        if (!augment_bernoulli(ctx->seed, s, 0, st->p))
            continue;
        int64_t i, j, h, w;
        random_resized_crop_region(st, ctx->seed, s, &i, &j, &h, &w);
        if (h == st->h && w == st->w)
            continue;
        augment_resize_region(x + n * st->c * plane, st->c, st->h, st->w, i, j, h, w, buf);
    }
    augment_scratch_free(buf, stack);
    return 0;
}

const dlh_augmenter_ops random_resized_crop_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = random_resized_crop_apply,
    .destroy = augment_state_free,
    .create_ex = random_resized_crop_create_ex,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc random_resized_crop_params[] = {
    { "size", DLH_PARAM_FLOATS, "", 0, 0, NULL, "output size h or [h, w]; must be the image's size (the model's input is fixed)" },
    { "scale", DLH_PARAM_FLOATS, "[0.08, 1]", 0, 0, NULL, "[min, max] fraction of the area cropped, 0 < min <= max <= 1" },
    { "ratio", DLH_PARAM_FLOATS, "[0.75, 1.3333333]", 0, 0, NULL, "[min, max] aspect ratio of the crop, 0 < min <= max" },
    AUGMENT_P_DOC("1"),
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
