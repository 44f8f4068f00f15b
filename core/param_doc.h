/* The host table's parameter accessors, checked against the reading
 * component's parameter table (plugin.h, ABI 1.5; params.h
 * dlh_params_set_doc).  Same contracts as host.h's param_* slots, plus
 * DLH_EPLUGIN when the read and the table disagree. */
#ifndef DLHOST_CORE_PARAM_DOC_H
#define DLHOST_CORE_PARAM_DOC_H

#include "params.h"

int dlh_doc_param_int(dlh_params *p, const char *key, const int64_t *def, int64_t min,
                      int64_t max, int64_t *out);
int dlh_doc_param_float(dlh_params *p, const char *key, const double *def, double min,
                        double max, double *out);
int dlh_doc_param_bool(dlh_params *p, const char *key, const int *def, int *out);
int dlh_doc_param_string(dlh_params *p, const char *key, const char *def, const char **out);
int dlh_doc_param_path(dlh_params *p, const char *key, const char *def, const char **out);
int dlh_doc_param_choice(dlh_params *p, const char *key, const char *const *choices,
                         int def_index, int *out);
int dlh_doc_param_floats(dlh_params *p, const char *key, float *out, size_t max, size_t *n);
int dlh_doc_param_has(dlh_params *p, const char *key);

#endif
