/* The "optimizers" plugin family: sgd, adam, rmsprop, adamw, nadam, radam,
 * adamax, adagrad, adadelta, asgd, rprop, lion, lamb, lbfgs; and the helpers they
 * share for reading hyper-parameters with torch.optim's checks and wording. */
#ifndef DLHOST_PLUGIN_OPTIMIZERS_H
#define DLHOST_PLUGIN_OPTIMIZERS_H

#include <dlhost/dlhost.h>

/* The host table given to dlh_plugin_init; valid until exit. */
extern const dlh_host *optimizers_host;

extern const dlh_optimizer_ops sgd_ops;
extern const dlh_optimizer_ops adam_ops;
extern const dlh_optimizer_ops rmsprop_ops;
extern const dlh_optimizer_ops adamw_ops;
extern const dlh_optimizer_ops nadam_ops;
extern const dlh_optimizer_ops radam_ops;
extern const dlh_optimizer_ops adamax_ops;
extern const dlh_optimizer_ops adagrad_ops;
extern const dlh_optimizer_ops adadelta_ops;
extern const dlh_optimizer_ops asgd_ops;
extern const dlh_optimizer_ops rprop_ops;
extern const dlh_optimizer_ops lion_ops;
extern const dlh_optimizer_ops lamb_ops;
extern const dlh_optimizer_ops lbfgs_ops;

/* The shortest decimal that rounds to f: the number as the user wrote it
   (list values arrive as floats; 1 - 0.999f is 1.3e-5 away from 1 - 0.999). */
double optimizers_float_decimal(float f);

/* Reads `key` as a list of two numbers (absent: def[0], def[1]) into out,
   each as written.  One number or an empty list is an error. */
int optimizers_pair(const dlh_host *host, dlh_params *p, const char *key,
                    const double def[2], double out[2]);

/* Reads the pair "betas" and checks each as torch.optim does:
   "Invalid beta parameter at index i: b" unless 0 <= b < 1. */
int optimizers_betas(const dlh_host *host, dlh_params *p, double def1, double def2,
                     double out[2]);

/* Reads the number `key` (default def) and refuses one outside [lo, hi]
   with torch.optim's wording "Invalid <what>: <value>" ("epsilon value",
   "weight_decay value"). */
int optimizers_number(const dlh_host *host, dlh_params *p, const char *key, double def,
                      double lo, double hi, const char *what, double *out);

/* Sets setup->default_lr when the host's setup has the member (ABI 1.5). */
void optimizers_default_lr(dlh_optimizer_setup *setup, double lr);

/* The ABI 1.5 step context members a new optimiser needs: refuses an older
   host's context (which lacks them) and a step count below 1. */
int optimizers_check_ctx(const char *name, const dlh_optimizer_ctx *ctx);

/* The state of each of the newer optimisers begins with this, so that one
   destroy frees it whatever the optimiser. */
typedef struct optimizers_base {
    dlh_ew_kernel *kernel[2];
} optimizers_base;

/* Allocates a zeroed state of `size` bytes into *state (NULL and an error
   set when out of memory). */
void *optimizers_new_state(const dlh_host *host, size_t size, void **state);
/* Frees a state that begins with optimizers_base (NULL is a no-op). */
void optimizers_destroy(void *state);

/* Compiles `src` on the setup's backend into *kernel. */
int optimizers_compile(dlh_optimizer_setup *setup, const char *src, dlh_ew_kernel **kernel);

/* Parameter tables (plugin.h), one per optimiser, in its file, and the
   entries they share.  `lr` and `grad_clip` are the core's, not listed. */
#define OPTIMIZERS_BETAS_DOC(def) \
    { "betas", DLH_PARAM_FLOATS, def, 0, 0, NULL, \
      "[beta1, beta2]: decay of the first and second moment averages, each in [0, 1)" }
#define OPTIMIZERS_EPS_DOC(def) \
    { "eps", DLH_PARAM_FLOAT, def, 0.0, DLH_PARAM_NO_MAX, NULL, \
      "added to the denominator for numerical stability" }
#define OPTIMIZERS_WEIGHT_DECAY_DOC(def, help) \
    { "weight_decay", DLH_PARAM_FLOAT, def, 0.0, DLH_PARAM_NO_MAX, NULL, help }
#define OPTIMIZERS_MAXIMIZE_DOC \
    { "maximize", DLH_PARAM_BOOL, "false", 0, 0, NULL, \
      "ascend instead of descend: step along the gradient" }
#define OPTIMIZERS_DECOUPLED_DOC \
    { "decoupled_weight_decay", DLH_PARAM_BOOL, "false", 0, 0, NULL, \
      "AdamW's decay p = p * (1 - lr * weight_decay) instead of the L2 term (torch 2.x)" }
extern const dlh_param_doc sgd_params[];
extern const dlh_param_doc adam_params[];
extern const dlh_param_doc rmsprop_params[];
extern const dlh_param_doc adamw_params[];
extern const dlh_param_doc nadam_params[];
extern const dlh_param_doc radam_params[];
extern const dlh_param_doc adamax_params[];
extern const dlh_param_doc adagrad_params[];
extern const dlh_param_doc adadelta_params[];
extern const dlh_param_doc asgd_params[];
extern const dlh_param_doc rprop_params[];
extern const dlh_param_doc lion_params[];
extern const dlh_param_doc lamb_params[];
extern const dlh_param_doc lbfgs_params[];

#endif
