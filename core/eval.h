/* Evaluating a built experiment's model, and `dlhost eval`.
 *
 * The evaluator holds what one batch needs besides the graph (the target
 * tensor, the loss's scratch, the argmax buffers), allocated once for
 * max_batch samples, so that training and evaluation steps allocate nothing;
 * dlh_run uses it for its train steps too.  The model's tensors are named for
 * checkpoints as PyTorch names them: "<layer>.<param>" for weights and
 * buffers, "optim.<layer>.<param>.<state>" for optimiser state. */
#ifndef DLHOST_CORE_EVAL_H
#define DLHOST_CORE_EVAL_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "batcher.h"
#include "ew.h"
#include "experiment.h"
#include "params.h"
#include "rundir.h"

/* The checkpoint tensors of pca/zca whitening (whiten.h). */
#define DLH_WHITEN_MEAN_KEY "normalize.mean"
#define DLH_WHITEN_KEY "normalize.whiten"

/* The checkpoint metadata key of class k's name: "class_name.K". */
#define DLH_CLASS_NAME_KEY "class_name.%" PRId64

/* What the evaluator keeps per head of a loss list (experiment.h). */
typedef struct dlh_eval_head {
    dlh_tensor y;                   /* a slice head's targets [max_batch, count] */
    float *host_y;                  /* [max_batch * count]: the slice of the batch
                                       loaded last, on the host */
    dlh_tensor *scratch;            /* views handed to its loss */
    float loss;                     /* its own loss in the last dlh_evaluator_loss */
    /* dlh_evaluate's sums, then its results: the head's mean loss and its
       accuracy (NaN unless it has class targets). */
    double sum;
    int64_t correct;
    double eval_loss, eval_accuracy;
} dlh_eval_head;

typedef struct dlh_evaluator {
    dlh_experiment *e;              /* borrowed */
    dlh_tensor y;                   /* targets, max_batch first */
    dlh_tensor amax, aidx;          /* row maxima and their argmax (int32) */
    int32_t *host_idx;              /* [max_batch] */
    float *host_out;                /* [max_batch]: single-logit outputs */
    dlh_tensor *loss_scratch;       /* views handed to the loss */
    /* Training on probability rows (e->soft_labels): their tensor, the views
       handed to e->train_loss, and whether the batch loaded last is soft. */
    dlh_tensor y_soft;
    dlh_tensor *train_loss_scratch;
    int soft;
    /* Per-sample weights (e->sample_weights): their tensor, and whether the
       batch loaded last carries them. */
    dlh_tensor w;
    int weighted;
    const float *direct[2];         /* host addresses of the graph's two input
                                       buffers when a batcher writes into them
                                       (dlh_evaluator_direct), else NULL */
    /* [e->n_heads]; loss_scratch is heads[0].scratch.  scale multiplies a
       head's gradient by its weight (NULL when every weight is 0 or 1). */
    dlh_eval_head *heads;
    dlh_ew_kernel *scale;
    /* Metrics dlh_evaluate resets, feeds and asks for their result
       (metrics.h), or NULL. */
    struct dlh_metric_set *metrics;
} dlh_evaluator;

/* Allocates the evaluator of e (e->max_batch samples). */
int dlh_evaluator_init(dlh_evaluator *ev, dlh_experiment *e);
void dlh_evaluator_release(dlh_evaluator *ev);  /* zeroed or initialised */
/* Writes a batch's samples and targets to the model input and the target;
   a batch already in one of the graph's input buffers only selects it. */
int dlh_evaluator_load(dlh_evaluator *ev, const dlh_batch *b);
/* When the backend lets the host address its memory (its host_ptr slot),
   makes batcher bt write its batches straight into the graph's two input
   buffers; 0 without doing anything otherwise. */
int dlh_evaluator_direct(dlh_evaluator *ev, dlh_batcher *bt);
/* The loss of the last forward over b samples (and, with_grad, its
   gradient into the graph's output gradient).  With a loss list: the
   objective sum_h weight_h loss_h (each head's own loss into
   ev->heads[h].loss), and with_grad each head's gradient times its weight
   into the head's output gradient. */
int dlh_evaluator_loss(dlh_evaluator *ev, int64_t b, int with_grad, float *loss);
/* Correct predictions of the last forward against the class labels y[0..b)
   (argmax, or logit > 0 for a single output); adds true x predicted counts
   into confusion ([classes][classes], may be NULL). */
int dlh_evaluator_correct(dlh_evaluator *ev, int64_t b, const float *y,
                          int64_t *correct, int64_t *confusion);
/* The same for head h (a class head of e->heads): y is the batch's labels
   as loaded (a slice head reads its own column). */
int dlh_evaluator_head_correct(dlh_evaluator *ev, int h, int64_t b, const float *y,
                               int64_t *correct, int64_t *confusion);
/* Mean loss and accuracy (NaN without class targets) over samples idx[0..n)
   read through `bt`, in evaluation mode, in batches of e->max_batch.  With
   a loss list, the loss is the weighted objective and the accuracy the
   primary head's; each head's goes into ev->heads[h].eval_*.  With
   ev->metrics, their results are those of these samples. */
int dlh_evaluate(dlh_evaluator *ev, dlh_batcher *bt, const int64_t *idx, int64_t n,
                 double *loss, double *accuracy, int64_t *confusion);

/* "      head 'H'  loss L  accuracy A  (loss[h] TYPE, weight W)": head h's
   results of the last dlh_evaluate, one line to out. */
void dlh_eval_print_head(FILE *out, const dlh_experiment *e, const dlh_evaluator *ev, int h);

/* The model's tensors by checkpoint name: weights, buffers and counters
   (host int64, dlh_ckpt_tensor.host), then (when
   with_optim) the optimiser states.  *names owns the strings (free with
   dlh_model_tensors_free). */
int dlh_model_tensors(const dlh_experiment *e, int with_optim, dlh_ckpt_tensor **out,
                      size_t *n);
void dlh_model_tensors_free(dlh_ckpt_tensor *t, size_t n);

/* Normalisation statistics as checkpoint metadata strings: "normalize"
   (none, zscore, minmax, pca, zca; whitening's matrices are the tensors
   DLH_WHITEN_*_KEY of dlh_model_tensors, its groups 0), "norm_groups", "norm_group_stride", "norm_shift"
   and "norm_scale" ("[f, f, ...]", exact float round trip).  The strings are
   written into bufs[5] (malloc'd; free each). */
int dlh_norm_to_meta(const dlh_norm *n, dlh_st_meta *meta, char **bufs);
/* Parses them back from a checkpoint; DLH_EDATA naming `path` and the key. */
int dlh_norm_from_meta(const dlh_st_file *f, const char *path, dlh_norm *out);

/* Checks the checkpoint f (read from `path`) against e, the loading that
   `dlhost eval` and `dlhost run --resume` share: every tensor of t[0..n)
   present with its shape and dtype, the class count, the normalisation kind.
   *norm receives the file's normalisation statistics (dlh_norm_free).
   Nothing is written to the tensors (dlh_checkpoint_load does that).  A
   checkpoint that does not fit is DLH_ECONFIG / DLH_ESHAPE, malformed
   metadata DLH_EDATA. */
int dlh_checkpoint_check(const dlh_experiment *e, const dlh_st_file *f, const char *path,
                         const dlh_ckpt_tensor *t, size_t n, dlh_norm *norm);

/* `dlhost eval`: builds cfg, loads `weights` (and its normalisation
   statistics and class count), evaluates data.test and prints loss,
   accuracy, scikit-learn's classification report (report.h) and the
   confusion matrix (rows = true class) to out.
   A checkpoint that does not fit the experiment (missing tensor, other
   shape, other class count) is DLH_ECONFIG / DLH_ESHAPE; an unreadable or
   corrupt file DLH_EIO / DLH_EDATA. */
int dlh_eval(dlh_config *cfg, const char *backend_override, const char *weights,
             FILE *out);
/* dlh_eval, then (json not NULL) the same numbers as JSON into the file json
   (report.h's dlh_eval_json_write, atomic): loss, accuracy, per-class
   precision, recall, F1 and support, their averages, the confusion matrix
   and the class names.  A json path whose folder is missing or not
   writable is DLH_EIO before anything is evaluated. */
int dlh_eval_json(dlh_config *cfg, const char *backend_override, const char *weights,
                  const char *json, FILE *out);

/* The checkpoint's class names "class_name.K" for K < n, strdup'ed into a
   malloc'ed *names (all n, or NULL when one is missing). */
int dlh_checkpoint_class_names(const dlh_st_file *f, int64_t n, char ***names);

#endif
