/* The command line bench/sgemm_floor.c and bench/cublas_floor.c share:
 *
 *   [--samples N] [--batch B] [--epochs E] [EXTRA V] D0 D1 ... Dk
 *
 * EXTRA is the one option each has of its own (--threads, --device);
 * D0..Dk are the layer widths.  Header only: each floor is one file cc
 * builds with its own sources (bench/compare.sh). */
#ifndef DLHOST_BENCH_FLOOR_ARGS_H
#define DLHOST_BENCH_FLOOR_ARGS_H

#include <stdlib.h>
#include <string.h>

#define FLOOR_MAX_LAYERS 16

typedef struct floor_args {
    long samples, batch, epochs;    /* 60000, 128, 3 unless given */
    long extra;                     /* EXTRA's value, 0 unless given */
    int dims[FLOOR_MAX_LAYERS + 1]; /* the widths, nd of them */
    int nd;
} floor_args;

static inline void floor_args_init(floor_args *a)
{
    memset(a, 0, sizeof *a);
    a->samples = 60000;
    a->batch = 128;
    a->epochs = 3;
}

/* Takes argv[*i]: a numeric option and its value (*i moves past it) or a
   layer width.  NULL, or what is wrong with it (for the usage line). */
static inline const char *floor_args_take(floor_args *a, const char *extra, int argc,
                                          char **argv, int *i)
{
    const char *s = argv[*i];
    long *opt = !strcmp(s, "--samples") ? &a->samples
              : !strcmp(s, "--batch") ? &a->batch
              : !strcmp(s, "--epochs") ? &a->epochs
              : !strcmp(s, extra) ? &a->extra : NULL;
    char *end;
    if (opt) {
        if (++*i >= argc)
            return "an option needs a value";
        *opt = strtol(argv[*i], &end, 10);
        if (*end || *opt < 0 || *opt > 1L << 30)
            return "option values are non-negative integers";
        return NULL;
    }
    if (a->nd > FLOOR_MAX_LAYERS)
        return "too many layer widths";
    long d = strtol(s, &end, 10);
    if (*end || d < 1 || d > 1 << 20)
        return "layer widths are positive integers";
    a->dims[a->nd++] = (int)d;
    return NULL;
}

/* After the last argument: NULL, or what is missing. */
static inline const char *floor_args_done(const floor_args *a)
{
    if (a->nd < 2)
        return "give at least two layer widths";
    if (a->samples < 1 || a->batch < 1 || a->epochs < 1)
        return "samples, batch and epochs must be at least 1";
    return NULL;
}

#endif
