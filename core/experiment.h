/* An experiment file turned into live objects: the one place that reads the
 * top-level keys (name, seed, backend, data, model, loss, optimizer,
 * schedule, train, metrics), resolves every component in the registry, and creates
 * it over the shapes the data gives.  `dlhost check` and `dlhost run` both
 * build through here, so a file that checks is a file that runs.
 * Every problem is one message carrying the experiment's file:line. */
#ifndef DLHOST_CORE_EXPERIMENT_H
#define DLHOST_CORE_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "ew.h"
#include "instance.h"
#include "optim.h"
#include "params.h"

/* An opened dataset (data.train, data.validation or data.test). */
typedef struct dlh_exp_data {
    const char *type;               /* component name; NULL when absent */
    const dlh_dataset_ops *ops;
    void *state;
    dlh_dataset_info info;
    dlh_params *params_;            /* private: for located messages */
} dlh_exp_data;

/* One head of the model: a loss on the output of a layer that no other
   layer reads, weighted in the objective sum_h weight_h loss_h.  Its
   targets are the data's, or with target = [start, count] a slice of the
   data's dense label (flattened per sample): count values, read as class
   indices (target_kind CLASS) when count is 1, the head outputs more than
   one value and the loss does not take other target shapes itself
   (DLH_LOSS_TARGET_SHAPE). */
#define DLH_MAX_HEADS 16             /* entries of a loss list */

typedef struct dlh_exp_head {
    const char *name;               /* the head layer's name (borrowed) */
    int node;                       /* its graph node */
    const char *loss_type;
    dlh_loss_inst *loss;            /* owned */
    double weight;                  /* >= 0 */
    int32_t target_kind;            /* dlh_target_kind */
    int64_t n_classes;              /* class targets: the head's output width
                                       (2 for a single logit), else 0 */
    int64_t n_outputs;              /* numel of the head's output */
    dlh_shape target;               /* per-sample dense target shape ([] for class) */
    int64_t slice_start, slice_count;   /* target = [start, count]; count 0: none */
    dlh_params *params_;            /* private: its loss entry, for located messages */
} dlh_exp_head;

typedef struct dlh_experiment {
    dlh_config *cfg;                /* borrowed */
    const char *name;               /* `name`, default the file's base name */
    uint64_t seed;
    dlh_backend *backend;
    char backend_line[1024];        /* the backend's describe() line (+ auto's reasons) */
    dlh_exp_data train, test;
    dlh_exp_data validation;        /* data.validation; ops NULL when absent */
    double validation_split;        /* data.validation_split, 0 = none */
    int normalize;                  /* data.normalize: dlh_norm_kind */
    double whiten_epsilon;          /* data.whiten_epsilon (pca, zca) */
    /* pca, zca: the mean [D] and W [D, D] on the backend, saved in
       checkpoints as "normalize.mean" and "normalize.whiten". */
    dlh_tensor whiten_t[2];
    int64_t *keep_classes;          /* data.classes, NULL: all (subset.h) */
    int n_keep_classes;
    int64_t samples_per_class;      /* data.samples_per_class, 0: all */
    /* data.train's class names (its reader's class_name), NULL when it has
       none; borrowed from the reader. */
    const char **class_names;
    int64_t n_class_names;
    /* data.augment, in order, created over data.train's samples; applied
       to training passes only, by `workers` loader threads. */
    int n_augment;
    struct dlh_augment_inst *augment;
    int64_t workers;                /* data.workers (0 in the file: chosen) */
    int sample_weights;             /* a dataset gives per-sample weights */
    int soft_labels;                /* an augmenter mixes labels: training batches
                                       carry probability rows of n_classes */

    /* The model: layers in file order (a topological order: a layer's inputs
       are earlier layers, the previous one unless it names `inputs`; the
       first reads the data).  The graph borrows the layers and holds the
       activation memory, planned for max_batch samples. */
    int n_layers;
    dlh_layer_inst **layers;
    const char **layer_types;
    struct dlh_graph *graph;
    int64_t n_outputs;              /* numel of the last layer's output */

    /* `loss`: one group (the last layer's loss, n_heads 1, loss_list 0) or a
       list of groups, one head each (loss_list 1).  loss_type, loss,
       target_kind, n_classes and target below are heads[0]'s: the primary
       head, whose accuracy is train_/val_accuracy. */
    int n_heads;
    struct dlh_exp_head *heads;
    int loss_list;
    const char *loss_type;
    dlh_loss_inst *loss;
    dlh_loss_inst *train_loss;      /* soft_labels: the loss on probability rows */
    int32_t target_kind;            /* dlh_target_kind */
    int64_t n_classes;              /* class targets: the model's output width
                                       (2 for a single-logit binary model) */
    dlh_shape target;               /* per-sample target shape ([] for class) */

    const char *optimizer_type;
    dlh_opt_clip clip;              /* optimizer.clip_norm, norm_type, clip_value */
    /* optimizer.groups in order, then the default group (optim.h). */
    int n_groups;
    dlh_opt_group *groups;
    /* Every trainable tensor of the model, layers in order (optim.h). */
    int n_param_tensors;
    dlh_param_slot *slots;
    float *grad_sumsq;              /* [n_param_tensors], dlh_optim_grad_norms */
    /* optim.c's own: the step and scalar mirrors, device sums, scratch. */
    dlh_tensor opt_mirror_buf, opt_sums, opt_scratch;
    float *opt_host;
    dlh_ew_kernel *opt_k[7];

    const char *schedule_type;
    const dlh_schedule_ops *schedule;   /* one state per group (optim.h) */

    int64_t epochs, batch_size;     /* train.epochs, train.batch_size */
    int shuffle;                    /* train.shuffle */
    int sampler;                    /* train.sampler: dlh_sampler_kind */
    float *class_weights;           /* train.class_weights, NULL: "balanced" */
    int64_t n_class_weights;
    int64_t sampler_samples;        /* train.num_samples, 0: the training samples */
    int64_t max_batch;              /* tensors are allocated for this many samples */
    int early_stopping;             /* train.early_stopping present */
    /* The monitored metric: a metrics.csv column (train.monitor or
       train.early_stopping.monitor, else val_loss or train_loss), and the
       way it improves (DLH_METRIC_MAX or _MIN); monitor_mode is early
       stopping's mode: 0 auto, 1 min, 2 max. */
    const char *monitor;
    int monitor_goal, monitor_mode;
    int64_t patience;
    int64_t checkpoint_every;       /* train.checkpoint.every_epochs, 0 = never */
    int keep_best;                  /* train.checkpoint.keep_best */
    int accuracy;                   /* report accuracy (class targets) */
    /* `metrics` (metrics.h): its setting, and the validation and (with
       train.metrics_on_train) training instances; NULL without them. */
    config_setting_t *metrics_cfg;
    struct dlh_metric_set *metrics_val, *metrics_train;
    int metrics_on_train;
    /* metrics.csv's columns after the fixed 8 (dlh_metrics_columns), built
       once after the metrics. */
    struct dlh_metric_col *cols;
    int n_cols;
    int diagnostics;                /* train.diagnostics (diagnose.h) */

    /* private: every params view handed out, freed with the experiment
       (the strings above point into them). */
    dlh_params *data_params_;
    dlh_params *train_params_, *early_params_;
    dlh_params **params_;
    size_t n_params_, cap_params_;
    char *name_buf_;
    /* DLH_EXP_UNLABELLED_TEST (dlh_experiment_new_ex). */
    int flags_;
} dlh_experiment;

/* Builds cfg.  backend_override (may be NULL) replaces backend.type; when it
   names another backend than the file, the file's backend keys are ignored
   and those --set made (dlh_config_set) are the override's parameters.
   max_batch <= 0 allocates for train.batch_size samples.  Plugins must be
   loaded (dlh_registry_load_all).  On failure returns a DLH_E* code with the
   message set (DLH_ECONFIG for every problem of the file itself) and *out is
   NULL; everything built so far is freed. */
int dlh_experiment_new(dlh_config *cfg, const char *backend_override, int64_t max_batch,
                       dlh_experiment **out);
/* dlh_experiment_new with flags: DLH_EXP_UNLABELLED_TEST accepts a data.test
   without labels whatever data.train has (predict.c: inference data). */
#define DLH_EXP_UNLABELLED_TEST 1
int dlh_experiment_new_ex(dlh_config *cfg, const char *backend_override, int64_t max_batch,
                          int flags, dlh_experiment **out);
/* Destroys every component and frees all memory; NULL is a no-op. */
void dlh_experiment_free(dlh_experiment *e);

/* For the core's parts of the experiment file (optim.c): a params view
   kept until the experiment is freed (NULL: out of memory, message set);
   "<file:line of key>: <message>" with DLH_ECONFIG; and rc with p's
   location prefixed to the message unless it has one. */
dlh_params *dlh_exp_params(dlh_experiment *e, config_setting_t *group,
                           const char *label, const char *const *reserved);
int dlh_exp_error_at(dlh_params *p, const char *key, const char *fmt, ...)
    DLH_PRINTF(3, 4);
int dlh_exp_locate(dlh_params *p, const char *key, int rc);
/* As dlh_exp_locate; a message without a place (a component's own, not a
   params one) gets p's label too: "f.cfg:9: metrics: metric 'mae': ...". */
int dlh_exp_locate_label(dlh_params *p, const char *key, int rc);

/* Total number of trainable parameters (elements). */
int64_t dlh_experiment_param_count(const dlh_experiment *e);

/* "[3, 28, 28]" into buf. */
void dlh_shape_format(const dlh_shape *s, char *buf, size_t size);

#endif
