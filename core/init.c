/* Parameter initialisers: torch.nn.init's formulas over the backend's Philox
 * fill, so a given (seed, stream) gives the same weights on every backend. */
#include "instance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const init_names[DLH_INIT_KIND_COUNT] = {
    "zeros", "constant", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "identity"
};

int dlh_init_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < DLH_INIT_KIND_COUNT; i++)
        if (strcmp(name, init_names[i]) == 0)
            return i;
    /* PyTorch's names for the He initialisers. */
    if (strcmp(name, "kaiming_uniform") == 0)
        return DLH_INIT_HE_UNIFORM;
    if (strcmp(name, "kaiming_normal") == 0)
        return DLH_INIT_HE_NORMAL;
    return -1;
}

static const char *init_name(int kind)
{
    return kind >= 0 && kind < DLH_INIT_KIND_COUNT ? init_names[kind] : "?";
}

static void shape_str(const dlh_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* torch.nn.init._calculate_fan_in_and_fan_out. */
static int init_fans(const dlh_tensor *t, int kind, double *fan_in, double *fan_out)
{
    if (t->ndim < 2) {
        char s[128];
        shape_str(t, s, sizeof s);
        dlh_error_set("initialiser '%s' needs a tensor of at least 2 dimensions to "
                      "compute fan in and fan out, got %d-D %s; use uniform, normal, "
                      "constant or zeros", init_name(kind), t->ndim, s);
        return DLH_EINVAL;
    }
    double rf = 1.0;
    for (int i = 2; i < t->ndim; i++)
        rf *= (double)t->shape[i];
    *fan_in = (double)t->shape[1] * rf;
    *fan_out = (double)t->shape[0] * rf;
    return 0;
}

/* eye_ for 2-D, dirac_ (groups = 1) for 3-5-D, written from host memory. */
static int init_identity(const dlh_backend *be, const dlh_tensor *t, int64_t n)
{
    if (t->ndim < 2) {
        char s[128];
        shape_str(t, s, sizeof s);
        dlh_error_set("initialiser 'identity' needs a 2-D (eye) or 3-5-D (Dirac) "
                      "tensor, got %d-D %s", t->ndim, s);
        return DLH_EINVAL;
    }
    if ((uint64_t)n > SIZE_MAX / sizeof(float)) {
        dlh_error_set("initialiser 'identity': tensor of %lld elements is too large",
                      (long long)n);
        return DLH_ENOMEM;
    }
    float *h = calloc((size_t)n, sizeof *h);
    if (!h) {
        dlh_error_set("initialiser 'identity': out of memory for %lld floats",
                      (long long)n);
        return DLH_ENOMEM;
    }
    int64_t rows = t->shape[0], cols = t->shape[1];
    int64_t inner = 1, centre = 0;
    /* Element [d, d, k2/2, k3/2, ...] in row-major order. */
    for (int i = 2; i < t->ndim; i++) {
        inner *= t->shape[i];
        centre = centre * t->shape[i] + t->shape[i] / 2;
    }
    int64_t m = rows < cols ? rows : cols;
    for (int64_t d = 0; d < m; d++)
        h[(d * cols + d) * inner + centre] = 1.0f;
    int rc = be->ops->write(be->ctx, t->mem.buf, t->mem.off * sizeof(float), h,
                            (size_t)n * sizeof(float));
    free(h);
    return rc;
}

int dlh_init_fill(const dlh_backend *be, const dlh_tensor *t, dlh_init init,
                  uint64_t seed, uint64_t stream)
{
    if (!be || !t || !t->mem.buf) {
        dlh_error_set("dlh_init_fill: no backend or tensor");
        return DLH_EINVAL;
    }
    int64_t n = dlh_tensor_numel(t);
    if (n <= 0)
        return 0;
    double fan_in = 0, fan_out = 0, gain = init.a == 0.0f ? 1.0 : init.a;
    int rc;
    switch (init.kind) {
    case DLH_INIT_ZEROS:
        return be->ops->fill(be->ctx, t->mem, (size_t)n, 0.0f);
    case DLH_INIT_CONSTANT:
        return be->ops->fill(be->ctx, t->mem, (size_t)n, init.a);
    case DLH_INIT_UNIFORM:
        return be->ops->rand(be->ctx, DLH_RAND_UNIFORM, t->mem, (size_t)n, seed, stream,
                             0, init.a, init.b);
    case DLH_INIT_NORMAL:
        return be->ops->rand(be->ctx, DLH_RAND_NORMAL, t->mem, (size_t)n, seed, stream,
                             0, init.a, init.b);
    case DLH_INIT_XAVIER_UNIFORM:
    case DLH_INIT_XAVIER_NORMAL:
    case DLH_INIT_HE_UNIFORM:
    case DLH_INIT_HE_NORMAL:
        if ((rc = init_fans(t, init.kind, &fan_in, &fan_out)) < 0)
            return rc;
        break;
    case DLH_INIT_IDENTITY:
        return init_identity(be, t, n);
    default:
        dlh_error_set("unknown initialiser kind %d", (int)init.kind);
        return DLH_EINVAL;
    }

    float bound;
    switch (init.kind) {
    case DLH_INIT_XAVIER_UNIFORM:
        bound = (float)(gain * sqrt(6.0 / (fan_in + fan_out)));
        return be->ops->rand(be->ctx, DLH_RAND_UNIFORM, t->mem, (size_t)n, seed, stream,
                             0, -bound, bound);
    case DLH_INIT_XAVIER_NORMAL:
        return be->ops->rand(be->ctx, DLH_RAND_NORMAL, t->mem, (size_t)n, seed, stream,
                             0, 0.0f, (float)(gain * sqrt(2.0 / (fan_in + fan_out))));
    case DLH_INIT_HE_UNIFORM:
        /* kaiming_uniform_(nonlinearity='relu'): sqrt(3) * sqrt(2) / sqrt(fan_in). */
        bound = (float)sqrt(6.0 / fan_in);
        return be->ops->rand(be->ctx, DLH_RAND_UNIFORM, t->mem, (size_t)n, seed, stream,
                             0, -bound, bound);
    default: /* DLH_INIT_HE_NORMAL */
        return be->ops->rand(be->ctx, DLH_RAND_NORMAL, t->mem, (size_t)n, seed, stream,
                             0, 0.0f, (float)sqrt(2.0 / fan_in));
    }
}
