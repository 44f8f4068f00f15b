/* jitter — an out-of-tree augmenter built only against the installed SDK.
 *
 * Adds noise drawn uniformly from [-amount, amount] to every input feature of
 * a training sample, and with probability p only (a sample either jitters or
 * not).  It shows the two rules of an augmenter's random numbers: draw from
 * the stream the host gives each sample (ctx->streams[i]), and number the
 * draws of a sample yourself (counter 0 decides p, counter 1 + e is element
 * e's noise), so the result does not depend on the batch size or on how many
 * loader threads run.  apply changes nothing in the state, so the host may
 * call it on several threads at once.
 *
 * Build: cc -O2 $(pkg-config --cflags dlhost) -shared -fPIC -o jitter.so jitter.c
 * Use:   data = { ... augment = ( { type = "jitter"; amount = 0.05; p = 1.0; } ); }; */
#include <stdlib.h>

#include <dlhost/dlhost.h>
#include <dlhost/philox.h>

typedef struct jitter {
    float amount, p;
    int64_t numel;                  /* features per sample */
} jitter;

static int jitter_create(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
                         void **state)
{
    jitter *j = calloc(1, sizeof(*j));
    if (!j) {
        host->error("jitter: out of memory");
        return DLH_ENOMEM;
    }
    *state = j;                     /* destroy runs even if the rest fails */
    const double def_amount = 0.05, def_p = 1.0;
    double amount, p;
    int rc;
    if ((rc = host->param_float(params, "amount", &def_amount, 0.0, 1e6, &amount)) ||
        (rc = host->param_float(params, "p", &def_p, 0.0, 1.0, &p)))
        return rc;
    j->amount = (float)amount;
    j->p = (float)p;
    j->numel = 1;
    for (int d = 0; d < info->sample.ndim; d++)
        j->numel *= info->sample.dim[d];
    return 0;
}

static int jitter_apply(void *state, const dlh_augment_ctx *ctx, float *x)
{
    const jitter *j = state;
    for (int64_t i = 0; i < ctx->batch; i++) {
        uint64_t stream = ctx->streams[i];
        if (dlh_philox_uniform(ctx->seed, stream, 0, 0.0f, 1.0f) >= j->p)
            continue;
        float *s = x + i * j->numel;
        for (int64_t e = 0; e < j->numel; e++)
            s[e] += dlh_philox_uniform(ctx->seed, stream, 1 + (uint64_t)e, -j->amount,
                                       j->amount);
    }
    return 0;
}

static void jitter_destroy(void *state)
{
    free(state);
}

static const dlh_augmenter_ops jitter_ops = {
    .struct_size = sizeof(dlh_augmenter_ops),
    .apply = jitter_apply,
    .destroy = jitter_destroy,
    .create_ex = jitter_create,
};

static int jitter_init(const dlh_host *host, dlh_registrar *reg)
{
    (void)host;
    return reg->add(reg, DLH_KIND_AUGMENTER, "jitter", &jitter_ops,
                    "uniform noise in [-amount, amount] on a fraction p of the samples");
}

DLH_PLUGIN("jitter", "0.1.0", "an example augmenter: uniform jitter", "MIT", jitter_init)
