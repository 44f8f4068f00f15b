/* `dlhost run --profile` (profile.h). */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "safetensors.h"

static const char *const part_names[DLH_PROF_N_PARTS] = { "data", "load", "loss",
                                                           "guard", "update" };

/* One row of an epoch: part, layer (NULL for none), seconds. */
typedef struct prof_row {
    const char *part, *layer;
    double seconds;
} prof_row;

struct dlh_profile {
    dlh_graph *g;
    int n;                          /* graph nodes */
    double *fwd, *bwd;              /* [n] this epoch */
    double part[DLH_PROF_N_PARTS];
    char *path;                     /* dir/profile.csv */
    FILE *mem;                      /* the file so far, into csv[0..len) */
    char *csv;
    size_t len;
    prof_row *last;                 /* the last epoch's rows, [2n + parts + 1] */
    int n_last;
    int64_t last_epoch;
    double last_seconds;
};

int dlh_profile_new(dlh_graph *g, const char *dir, dlh_profile **out)
{
    *out = NULL;
    dlh_profile *p = calloc(1, sizeof *p);
    int n = dlh_graph_count(g);
    size_t plen = strlen(dir) + sizeof "/profile.csv";
    if (p) {
        p->g = g;
        p->n = n;
        p->fwd = calloc((size_t)n + 1, sizeof *p->fwd);
        p->bwd = calloc((size_t)n + 1, sizeof *p->bwd);
        p->last = calloc(2 * (size_t)n + DLH_PROF_N_PARTS + 1, sizeof *p->last);
        p->path = malloc(plen);
        p->mem = open_memstream(&p->csv, &p->len);
    }
    if (!p || !p->fwd || !p->bwd || !p->last || !p->path || !p->mem ||
        fputs("epoch,part,layer,seconds\n", p->mem) < 0) {
        dlh_profile_free(p);
        dlh_error_set("profile: out of memory");
        return DLH_ENOMEM;
    }
    snprintf(p->path, plen, "%s/profile.csv", dir);
    dlh_graph_time_nodes(g, p->fwd, p->bwd);
    *out = p;
    return 0;
}

void dlh_profile_free(dlh_profile *p)
{
    if (!p)
        return;
    if (p->g)
        dlh_graph_time_nodes(p->g, NULL, NULL);
    free(p->fwd);
    free(p->bwd);
    free(p->last);
    free(p->path);
    if (p->mem)
        fclose(p->mem);
    free(p->csv);
    free(p);
}

double dlh_profile_mark(dlh_profile *p)
{
    return dlh_graph_mark(p->g);
}

double dlh_profile_add(dlh_profile *p, dlh_prof_part part, double since)
{
    double now = dlh_profile_mark(p);
    p->part[part] += now - since;
    return now;
}

/* The epoch's rows into p->last: data, load, forward per layer, loss, backward
   per layer reached, guard, update, other; none for a call the graph skips
   (a view's). */
static void profile_rows(dlh_profile *p, double seconds)
{
    int k = 0;
    double sum = 0.0;
    p->last[k++] = (prof_row){ part_names[DLH_PROF_DATA], NULL, p->part[DLH_PROF_DATA] };
    p->last[k++] = (prof_row){ part_names[DLH_PROF_LOAD], NULL, p->part[DLH_PROF_LOAD] };
    for (int i = 0; i < p->n; i++)
        if (dlh_graph_node_calls(p->g, i, 0))
            p->last[k++] = (prof_row){ "forward", dlh_graph_node_label(p->g, i),
                                       p->fwd[i] };
    p->last[k++] = (prof_row){ part_names[DLH_PROF_LOSS], NULL, p->part[DLH_PROF_LOSS] };
    for (int i = 0; i < p->n; i++)
        if (dlh_graph_node_calls(p->g, i, 1))
            p->last[k++] = (prof_row){ "backward", dlh_graph_node_label(p->g, i),
                                       p->bwd[i] };
    p->last[k++] = (prof_row){ part_names[DLH_PROF_GUARD], NULL, p->part[DLH_PROF_GUARD] };
    p->last[k++] = (prof_row){ part_names[DLH_PROF_UPDATE], NULL,
                               p->part[DLH_PROF_UPDATE] };
    for (int i = 0; i < k; i++)
        sum += p->last[i].seconds;
    /* The marks are the parts' edges, so "other" is never below zero by
       more than the clock's rounding. */
    double other = seconds - sum;
    p->last[k++] = (prof_row){ "other", NULL, other > 0.0 ? other : 0.0 };
    p->n_last = k;
}

void dlh_profile_begin(dlh_profile *p)
{
    memset(p->fwd, 0, (size_t)p->n * sizeof *p->fwd);
    memset(p->bwd, 0, (size_t)p->n * sizeof *p->bwd);
    memset(p->part, 0, sizeof p->part);
}

int dlh_profile_epoch(dlh_profile *p, int64_t epoch, double seconds)
{
    profile_rows(p, seconds);
    p->last_epoch = epoch;
    p->last_seconds = seconds;

    for (int i = 0; i < p->n_last; i++)
        fprintf(p->mem, "%lld,%s,%s,%.6g\n", (long long)epoch, p->last[i].part,
                p->last[i].layer ? p->last[i].layer : "", p->last[i].seconds);
    if (fflush(p->mem) != 0 || ferror(p->mem)) {
        dlh_error_set("%s: out of memory", p->path);
        return DLH_ENOMEM;
    }
    /* A failed write leaves the file with the earlier epochs; the next one
       writes them all. */
    return dlh_file_write_atomic(p->path, p->csv, p->len);
}

static int row_cmp(const void *a, const void *b)
{
    double x = ((const prof_row *)a)->seconds, y = ((const prof_row *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

void dlh_profile_print(dlh_profile *p, FILE *out)
{
    if (p->n_last == 0)
        return;
    /* The rows are rebuilt each epoch, so they may be sorted in place. */
    prof_row *rows = p->last;
    qsort(rows, (size_t)p->n_last, sizeof *rows, row_cmp);
    fprintf(out, "profile of epoch %lld (%.3f s of training; every epoch in %s):\n",
            (long long)p->last_epoch, p->last_seconds, p->path);
    for (int i = 0; i < p->n_last; i++)
        fprintf(out, "  %-8s %-16s %9.4f s  %5.1f%%\n", rows[i].part,
                rows[i].layer ? rows[i].layer : "", rows[i].seconds,
                p->last_seconds > 0.0 ? 100.0 * rows[i].seconds / p->last_seconds : 0.0);
}
