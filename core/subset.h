/* data.classes: a dataset seen through a subset of its classes, renumbered
 * in the order listed (the first listed becomes class 0), the other
 * samples left out, as transfer learning onto fewer classes needs.  The
 * view is itself a dataset reader (dlh_dataset_ops), so the batcher, the
 * samplers and the statistics see only the kept samples. */
#ifndef DLHOST_CORE_SUBSET_H
#define DLHOST_CORE_SUBSET_H

#include <stdint.h>

#include <dlhost/dlhost.h>

/* The reader of the view. */
extern const dlh_dataset_ops dlh_subset_ops;

/* Opens the view over reader (ops, state) described by info, keeping
   classes[0..n) (distinct, each in [0, info->n_classes)), and of each only
   its first per_class samples in file order when per_class > 0
   (data.samples_per_class): reads every label once.  need_all: a listed
   class without samples is an error (the training data must show every
   class; a test set may lack one).  On success *out is the view's state (its close closes the inner
   reader too) and *view_info describes it; on failure the inner reader is
   left open and the message set (DLH_ECONFIG for a bad list or a class
   without samples, the reader's code for a failed read). `label` names the
   data in messages ("data.train"). */
int dlh_subset_open(const dlh_dataset_ops *ops, void *state, const dlh_dataset_info *info,
                    const int64_t *classes, int n, int64_t per_class, const char *label,
                    int need_all, void **out, dlh_dataset_info *view_info);

#endif
