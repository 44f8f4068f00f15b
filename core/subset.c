/* The class-subset view (subset.h). */
#include "subset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "error.h"

typedef struct subset {
    const dlh_dataset_ops *ops;
    void *state;
    dlh_dataset_info info;          /* the view's */
    int64_t *kept;                  /* [info.n_samples]: inner indices */
    int32_t *map;                   /* [inner classes]: new class, or -1 */
    int64_t n_map;
    int64_t *idx;                   /* read's translated indices, grown once */
    size_t idx_cap;
    int64_t *classes;               /* [info.n_classes]: the inner class of each */
} subset;

static void subset_close(void *state)
{
    subset *s = state;
    if (!s)
        return;
    if (s->ops && s->ops->close)
        s->ops->close(s->state);
    free(s->kept);
    free(s->map);
    free(s->idx);
    free(s->classes);
    free(s);
}

static int subset_read_weights(void *state, const int64_t *idx, size_t n, float *w)
{
    subset *s = state;
    if (!s->ops->read_weights || n > s->idx_cap) {
        dlh_error_set("data.classes: no weights for these samples");
        return DLH_EINVAL;
    }
    /* read, called first for the same batch, translated idx already. */
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= s->info.n_samples)
            return DLH_ERANGE;
        s->idx[i] = s->kept[idx[i]];
    }
    return s->ops->read_weights(s->state, s->idx, n, w);
}

/* The inner reader's name of the class kept as k. */
static const char *subset_class_name(void *state, int64_t k)
{
    subset *s = state;
    if (k < 0 || k >= s->info.n_classes || !s->ops->class_name)
        return NULL;
    return s->ops->class_name(s->state, s->classes[k]);
}

static int subset_info(void *state, dlh_dataset_info *info)
{
    subset *s = state;
    *info = s->info;
    return 0;
}

static int subset_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    subset *s = state;
    if (n > s->idx_cap) {
        /* Grows to the largest batch once: later reads allocate nothing. */
        int64_t *g = realloc(s->idx, n * sizeof *g);
        if (!g) {
            dlh_error_set("data.classes: out of memory");
            return DLH_ENOMEM;
        }
        s->idx = g;
        s->idx_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= s->info.n_samples) {
            dlh_error_set("data.classes: sample %lld is outside the %lld kept",
                          (long long)idx[i], (long long)s->info.n_samples);
            return DLH_ERANGE;
        }
        s->idx[i] = s->kept[idx[i]];
    }
    int rc = s->ops->read(s->state, s->idx, n, x, y);
    if (rc != 0 || !y)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t c = (int64_t)y[i];
        if (c < 0 || c >= s->n_map || s->map[c] < 0) {
            dlh_error_set("data.classes: sample %lld now reads class %g, which its first "
                          "reading did not have (the data changed)", (long long)s->idx[i],
                          (double)y[i]);
            return DLH_EDATA;
        }
        y[i] = (float)s->map[c];
    }
    return 0;
}

const dlh_dataset_ops dlh_subset_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .info = subset_info,
    .read = subset_read,
    .close = subset_close,
    .class_name = subset_class_name,
    .read_weights = subset_read_weights,
};

int dlh_subset_open(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const int64_t *classes, int n, int64_t per_class, const char *label,
                    int need_all, void **out, dlh_dataset_info *view_info)
{
    *out = NULL;
    if (info->label_kind != DLH_LABEL_CLASS) {
        dlh_error_set("%s: data.classes and data.samples_per_class need class labels", label);
        return DLH_ECONFIG;
    }
    subset *s = calloc(1, sizeof *s);
    float *y = malloc((size_t)info->n_samples * sizeof *y);
    int64_t *count = calloc((size_t)n, sizeof *count);
    char where[160];
    int rc = 0;
    snprintf(where, sizeof where, "%s: data.classes", label);
    if (!s || !y || !count ||
        !(s->map = malloc((size_t)info->n_classes * sizeof *s->map)) ||
        !(s->classes = malloc((size_t)n * sizeof *s->classes)) ||
        !(s->kept = malloc((size_t)info->n_samples * sizeof *s->kept))) {
        dlh_error_set("%s: data.classes: out of memory", label);
        rc = DLH_ENOMEM;
        goto done;
    }
    s->n_map = info->n_classes;
    for (int64_t c = 0; c < s->n_map; c++)
        s->map[c] = -1;
    for (int i = 0; i < n; i++) {
        if (classes[i] < 0 || classes[i] >= info->n_classes) {
            dlh_error_set("%s: data.classes: class %lld is not in the data's 0..%lld", label,
                          (long long)classes[i], (long long)info->n_classes - 1);
            rc = DLH_ECONFIG;
            goto done;
        }
        if (s->map[classes[i]] >= 0) {
            dlh_error_set("%s: data.classes: class %lld is listed twice", label,
                          (long long)classes[i]);
            rc = DLH_ECONFIG;
            goto done;
        }
        s->map[classes[i]] = i;
        s->classes[i] = classes[i];
    }
    if ((rc = dlh_read_labels(ops, state, info, NULL, info->n_samples, where, y)))
        goto done;
    int64_t kept = 0;
    for (int64_t i = 0; i < info->n_samples; i++) {
        int64_t c = (int64_t)y[i];
        if (c >= 0 && c < s->n_map && s->map[c] >= 0 &&
            (per_class < 1 || count[s->map[c]] < per_class)) {
            s->kept[kept++] = i;
            count[s->map[c]]++;
        }
    }
    for (int i = 0; i < n && need_all; i++) {
        if (count[i] == 0) {
            dlh_error_set("%s: data.classes: class %lld has no sample", label,
                          (long long)classes[i]);
            rc = DLH_ECONFIG;
            goto done;
        }
    }
    s->ops = ops;
    s->state = state;
    s->info = *info;
    s->info.n_samples = kept;
    s->info.n_classes = n;
    *view_info = s->info;
    *out = s;
done:
    free(y);
    free(count);
    if (rc < 0 && s) {
        s->ops = NULL;              /* the inner reader stays the caller's */
        subset_close(s);
    }
    return rc;
}
