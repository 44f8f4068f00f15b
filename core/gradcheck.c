/* dlhost gradcheck (see gradcheck.h). */
#include "config.h"

#include "gradcheck.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "experiment.h"
#include "graph.h"
#include "numgrad.h"

/* Inputs of magnitude in [0.1, 0.9], either sign: clear of the kinks at 0
   and +-1 (relu, hardtanh) by more than the step of 1e-2. */
static const gc_options gradcheck_opt = { 1e-2, 0.1, 0.9, 20261205, GRADCHECK_PER_TENSOR, 1, 0 };

static void gradcheck_line(FILE *out, const char *what, const gc_report *r, int *failed)
{
    int bad = !(r->err < GC_TOL);
    *failed += bad;
    fprintf(out, "%-40s  max rel error %.2e over %" PRId64 " elements  %s\n", what, r->err,
            r->n_checked, bad ? "FAILED" : "ok");
    if (bad)
        fprintf(out, "%-40s  worst: %s\n", "", r->worst);
}

static int gradcheck_layers(dlh_experiment *e, const char *layer, FILE *out, int *failed)
{
    struct dlh_graph *g = e->graph;
    int n = dlh_graph_count(g), found = 0;
    for (int i = 0; i < n; i++) {
        dlh_layer_inst *l = dlh_graph_layer(g, i);
        if (layer && strcmp(l->name, layer) != 0)
            continue;
        found = 1;
        int k = dlh_graph_n_inputs(g, i);
        dlh_shape in[16];
        if (k > 16) {
            dlh_error_set("layer '%s': more than 16 inputs", l->name);
            return DLH_EINVAL;
        }
        for (int j = 0; j < k; j++)
            in[j] = *dlh_graph_shape(g, dlh_graph_input_of(g, i, j));
        gc_report r;
        int rc = gradcheck_layer(l, GRADCHECK_BATCH, k, in, &gradcheck_opt, &r);
        if (rc < 0) {
            dlh_error_prefix("layer '%s': ", l->name);
            return rc;
        }
        char what[160];
        snprintf(what, sizeof what, "layer '%s' (%s)", l->name, e->layer_types[i]);
        gradcheck_line(out, what, &r, failed);
    }
    if (layer && !found) {
        char names[1024];
        size_t used = 0;
        names[0] = '\0';
        for (int i = 0; i < n && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'",
                                     i ? ", " : "", dlh_graph_layer(g, i)->name);
        dlh_error_set("gradcheck: the model has no layer '%s' (it has %s)", layer, names);
        return DLH_ECONFIG;
    }
    return 0;
}

static int gradcheck_the_loss(dlh_experiment *e, int h, FILE *out, int *failed)
{
    const dlh_exp_head *eh = &e->heads[h];
    const dlh_shape *pred = &e->layers[eh->node]->output;
    int cls = eh->target_kind == DLH_TARGET_CLASS;
    dlh_shape none = { 0, { 0 } };
    const dlh_shape *tshape = cls ? &none : &eh->target;
    int64_t tn = GRADCHECK_BATCH * (cls ? 1 : dlh_shape_numel(tshape));
    int64_t pn = GRADCHECK_BATCH * dlh_shape_numel(pred);
    float *t = malloc((size_t)tn * sizeof *t), *p = malloc((size_t)pn * sizeof *p);
    if (!t || !p) {
        free(t);
        free(p);
        dlh_error_set("gradcheck: out of memory");
        return DLH_ENOMEM;
    }
    /* Class indices, or values in [0.1, 0.9] (valid probabilities too);
       predictions positive in the same range, which every loss accepts
       (probabilities, rates, variances). */
    for (int64_t i = 0; i < tn; i++) {
        float u = dlh_philox_uniform(gradcheck_opt.seed, 7, (uint64_t)i, 0.0f, 1.0f);
        t[i] = cls ? (float)(int64_t)(u * (float)eh->n_classes) : 0.1f + 0.8f * u;
        if (cls && t[i] >= (float)eh->n_classes)
            t[i] = (float)(eh->n_classes - 1);
    }
    for (int64_t i = 0; i < pn; i++)
        p[i] = dlh_philox_uniform(gradcheck_opt.seed, 8, (uint64_t)i, 0.1f, 0.9f);
    gc_report r;
    int rc = gradcheck_loss_at(eh->loss, GRADCHECK_BATCH, pred, tshape, t, p, NULL,
                               &gradcheck_opt, &r);
    free(t);
    free(p);
    char what[160];
    if (e->loss_list)
        snprintf(what, sizeof what, "loss[%d] '%s' (head '%s')", h, eh->loss_type, eh->name);
    else
        snprintf(what, sizeof what, "loss '%s'", eh->loss_type);
    if (rc < 0) {
        dlh_error_prefix("%s: ", what);
        return rc;
    }
    gradcheck_line(out, what, &r, failed);
    return 0;
}

int dlh_gradcheck(dlh_config *cfg, const char *backend_override, const char *layer,
                  FILE *out)
{
    dlh_experiment *e = NULL;
    int rc = dlh_experiment_new(cfg, backend_override ? backend_override : "cpu",
                                GRADCHECK_BATCH, &e);
    if (rc)
        return rc;
    int failed = 0;
    fprintf(out, "gradcheck %s: central differences (step 1e-2) of %d samples, at most %d "
            "elements per tensor, tolerance %g\n", e->name, GRADCHECK_BATCH,
            GRADCHECK_PER_TENSOR, GC_TOL);
    rc = gradcheck_layers(e, layer, out, &failed);
    for (int h = 0; rc == 0 && !layer && h < e->n_heads; h++)
        rc = gradcheck_the_loss(e, h, out, &failed);
    dlh_experiment_free(e);
    if (rc == 0 && failed) {
        dlh_error_set("gradcheck: %d component%s exceed%s the tolerance %g", failed,
                      failed == 1 ? "" : "s", failed == 1 ? "s" : "", GC_TOL);
        rc = DLH_EDATA;
    }
    return rc;
}
