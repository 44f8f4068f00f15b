/* The command line bench/sgemm_floor.c and bench/cublas_floor.c share:
 *
 *   [--samples N] [--batch B] [--epochs E] [EXTRA V] [WORD S] D0 D1 ... Dk
 *
 * EXTRA is the numeric option each has of its own (--threads, --device),
 * WORD a string one (sgemm_floor's --gemm); D0..Dk are the layer widths.
 * Header only: each floor is one file cc builds with its own sources
 * (bench/compare.sh). */
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

/* Takes argv[*i]: a numeric option and its value (*i moves past it), the
   word option `word` and its value (into *word_value), or a layer width.
   NULL, or what is wrong with it. */
static inline const char *floor_args_take(floor_args *a, const char *extra, const char *word,
                                          const char **word_value, int argc, char **argv,
                                          int *i)
{
    const char *s = argv[*i];
    long *opt = !strcmp(s, "--samples") ? &a->samples
              : !strcmp(s, "--batch") ? &a->batch
              : !strcmp(s, "--epochs") ? &a->epochs
              : !strcmp(s, extra) ? &a->extra : NULL;
    char *end;
    if (opt || (word && !strcmp(s, word))) {
        if (++*i >= argc)
            return "an option needs a value";
        if (!opt) {
            *word_value = argv[*i];
            return NULL;
        }
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

/* Parses the command line into *a: the numeric options, `extra` (its own
   numeric option), `word` (NULL: none; a string option, its value left in
   *word_value, which keeps its value when not given) and the widths.  NULL,
   or what is wrong (for the usage line). */
static inline const char *floor_args_parse(floor_args *a, int argc, char **argv,
                                           const char *extra, const char *word,
                                           const char **word_value)
{
    memset(a, 0, sizeof *a);
    a->samples = 60000;
    a->batch = 128;
    a->epochs = 3;
    for (int i = 1; i < argc; i++) {
        const char *why = floor_args_take(a, extra, word, word_value, argc, argv, &i);
        if (why)
            return why;
    }
    if (a->nd < 2)
        return "give at least two layer widths";
    if (a->samples < 1 || a->batch < 1 || a->epochs < 1)
        return "samples, batch and epochs must be at least 1";
    return NULL;
}

#endif
