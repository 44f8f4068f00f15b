/* `pretrained = { file = ...; rename = ...; skip = [...]; strict = ...; }`:
 * a run starts from the weights of a safetensors file (a dlhost checkpoint
 * or PyTorch's safetensors.torch.save_file(model.state_dict())), the way
 * torch's load_state_dict does, and reports what it loaded.
 *
 * Globs: '*' matches any run of characters (dots too, possibly none), every
 * other character itself.  rename = ( ("from", "to"), ... ) maps the FILE's
 * names: the first pair whose "from" matches renames the tensor, its single
 * '*' captured and put where "to" has its '*' ("to" without one is a fixed
 * name); a name no pair matches keeps its name.  skip = ["head.*"] names
 * model tensors left as initialised and reported as skipped, never missing
 * or mismatched. */
#ifndef DLHOST_CORE_PRETRAINED_H
#define DLHOST_CORE_PRETRAINED_H

#include "experiment.h"

/* Reads the experiment's top-level `pretrained` group; without one does
   nothing (*report NULL).  Otherwise checks the file against e's model
   tensors (weights, buffers, counters: eval.h dlh_model_tensors, without
   the whitening statistics), then, when `load`, writes every matching tensor
   (converted from F16, BF16, F64 or, for counters, I64) into the model.
   *report (malloc'd) is the load_state_dict-style report.  A bad group, a
   strict refusal or a shape or dtype mismatch is DLH_ECONFIG with the
   experiment's file:line; an unreadable file DLH_EIO, a malformed one
   DLH_EDATA.  Nothing is written unless everything fits.  runs_root: the
   folder of run directories that `run = "NAME"` names a run of (the
   command's --runs), NULL: "runs". */
int dlh_pretrained_apply(dlh_experiment *e, const char *runs_root, int load, char **report);

/* Writes report to DIR/pretrained.txt atomically. */
int dlh_pretrained_save(const char *dir, const char *report);

#endif
