/* Shared parts of mixup and cutmix (mix.c). */
#ifndef DLHOST_PLUGIN_AUGMENTERS_MIX_H
#define DLHOST_PLUGIN_AUGMENTERS_MIX_H

#include "augmenters.h"

/* Counters of the batch's draws (from the stream of its first sample):
   0 the apply draw, 1 and 2 cutmix's box centre, MIX_GAMMA_X and
   MIX_GAMMA_Y the two Gamma draws of the Beta (each up to 65 counters). */
#define MIX_GAMMA_X 256u
#define MIX_GAMMA_Y 512u

typedef struct mix_state {
    double alpha, p;
    int64_t numel, c, h, w;
    float *last_x;                  /* [numel]: the batch's last sample before mixing */
    float *last_y;                  /* [y_numel]: its label row */
    int64_t y_numel;
} mix_state;

/* Beta(alpha, alpha) from the gamma counters of (seed, stream). */
double mix_beta(uint64_t seed, uint64_t stream, double alpha);
/* Reads alpha (> 0, default 1) and p (default 1), checks the data (images
   when `image`), asks for probability rows and the whole batch. */
int mix_create(const dlh_host *host, dlh_params *params, dlh_augment_info *info,
               const char *name, int image, mix_state **out);
void mix_destroy(void *state);
/* Sizes last_y for ctx's rows; an error when ctx has no labels. */
int mix_rows(mix_state *s, const dlh_augment_ctx *ctx);
/* What mixup and cutmix start with: checks ctx and x, sizes the label
   rows, then draws whether the batch mixes.  1 when it does, with the
   stream of its draws and lam ~ Beta(alpha, alpha); 0 when it does not;
   else a DLH_E* code. */
int mix_draw(mix_state *s, const dlh_augment_ctx *ctx, const char *name, const float *x,
             uint64_t *stream, double *lam);
/* r_i = lam r_i + (1 - lam) r_{i-1} over n rows of m values, rolled (row
   0 with the last row, kept in last[m] beforehand). */
void mix_blend(float *rows, int64_t n, int64_t m, float *last, double lam);
/* mix_blend of the batch's label rows. */
void mix_labels(const mix_state *s, const dlh_augment_ctx *ctx, double lam);

#endif
