/* The host table's parameter accessors: each read of a component that has a
 * parameter table (plugin.h, ABI 1.5) is checked against its entry before
 * it reaches params.c, so `dlhost plugins --verbose` and the generated
 * reference say exactly what the code reads.  A mismatch is the plugin's
 * bug: DLH_EPLUGIN naming the component, the key and both versions. */
#include "param_doc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"

/* The table entry of key; *doc NULL when p has no table (nothing to check). */
static int doc_entry(dlh_params *p, const char *key, int type, const dlh_param_doc **doc)
{
    size_t n;
    const dlh_param_doc *t = dlh_params_doc(p, &n);
    *doc = NULL;
    if (!t || !key)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].key, key) == 0) {
            *doc = &t[i];
            /* A list of numbers may be read as one number, too. */
            int same = t[i].type == type || t[i].type == DLH_PARAM_OTHER ||
                       (t[i].type == DLH_PARAM_FLOATS && type == DLH_PARAM_FLOAT);
            if (type && !same) {
                dlh_error_set("%s: plugin bug: parameter '%s' is read as %s, its parameter "
                              "table says %s", dlh_params_label(p), key,
                              dlh_param_type_name(type), dlh_param_type_name(t[i].type));
                return DLH_EPLUGIN;
            }
            return 0;
        }
    dlh_error_set("%s: plugin bug: parameter '%s' is read but not in its parameter table",
                  dlh_params_label(p), key);
    return DLH_EPLUGIN;
}

static int doc_mismatch(dlh_params *p, const char *key, const char *what, const char *code,
                        const char *table)
{
    dlh_error_set("%s: plugin bug: parameter '%s': the code's %s is %s, its parameter "
                  "table says %s", dlh_params_label(p), key, what, code, table);
    return DLH_EPLUGIN;
}

/* Default present in both or in neither; then `same` decides. */
static int doc_default(dlh_params *p, const dlh_param_doc *d, const char *key, int has_def,
                       const char *code_text, int same)
{
    /* "" in the table: optional without a default, read only when present. */
    if (!has_def && (!d->def || !d->def[0]))
        return 0;
    if (!has_def || !d->def || !same)
        return doc_mismatch(p, key, "default", has_def ? code_text : "(required)",
                            d->def ? d->def : "(required)");
    return 0;
}

static int doc_range(dlh_params *p, const dlh_param_doc *d, const char *key, double min,
                     double max)
{
    /* The table may be narrower: the code checks the rest itself (an open
       bound such as "> 0" that a closed accessor range cannot say). */
    if (d->type == DLH_PARAM_OTHER || (d->min >= min && d->max <= max))
        return 0;
    char a[80], b[80];
    snprintf(a, sizeof a, "[%g, %g]", min, max);
    snprintf(b, sizeof b, "[%g, %g]", d->min, d->max);
    return doc_mismatch(p, key, "range", a, b);
}

static int doc_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

int dlh_doc_param_int(dlh_params *p, const char *key, const int64_t *def, int64_t min,
                      int64_t max, int64_t *out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_INT, &d);
    if (rc == 0 && d) {
        char t[32] = "";
        double v = 0;
        if (def)
            snprintf(t, sizeof t, "%" PRId64, *def);
        if ((rc = doc_default(p, d, key, def != NULL, t,
                              def && d->def && doc_number(d->def, &v) && v == (double)*def)) ||
            (rc = doc_range(p, d, key, (double)min, (double)max)))
            return rc;
    }
    return rc ? rc : dlh_param_int(p, key, def, min, max, out);
}

int dlh_doc_param_float(dlh_params *p, const char *key, const double *def, double min,
                        double max, double *out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_FLOAT, &d);
    if (rc == 0 && d) {
        char t[40] = "";
        double v = 0;
        if (def)
            snprintf(t, sizeof t, "%.17g", *def);
        if ((rc = doc_default(p, d, key, def != NULL, t,
                              def && d->def && doc_number(d->def, &v) && v == *def)) ||
            (rc = doc_range(p, d, key, min, max)))
            return rc;
    }
    return rc ? rc : dlh_param_float(p, key, def, min, max, out);
}

int dlh_doc_param_bool(dlh_params *p, const char *key, const int *def, int *out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_BOOL, &d);
    if (rc == 0 && d) {
        const char *t = def ? (*def ? "true" : "false") : "";
        rc = doc_default(p, d, key, def != NULL, t, d->def && strcmp(d->def, t) == 0);
    }
    return rc ? rc : dlh_param_bool(p, key, def, out);
}

int dlh_doc_param_string(dlh_params *p, const char *key, const char *def, const char **out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_STRING, &d);
    if (rc == 0 && d)
        rc = doc_default(p, d, key, def != NULL, def ? def : "",
                         def && d->def && strcmp(d->def, def) == 0);
    return rc ? rc : dlh_param_string(p, key, def, out);
}

int dlh_doc_param_path(dlh_params *p, const char *key, const char *def, const char **out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_PATH, &d);
    if (rc == 0 && d)
        rc = doc_default(p, d, key, def != NULL, def ? def : "",
                         def && d->def && strcmp(d->def, def) == 0);
    return rc ? rc : dlh_param_path(p, key, def, out);
}

int dlh_doc_param_choice(dlh_params *p, const char *key, const char *const *choices,
                         int def_index, int *out)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_CHOICE, &d);
    if (rc == 0 && d && d->type == DLH_PARAM_CHOICE && choices) {
        char list[1024];
        size_t k = 0;
        int n = 0;
        list[0] = '\0';
        for (; choices[n] && k < sizeof list; n++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", n ? "|" : "",
                                  choices[n]);
        if (strcmp(list, d->choices) != 0)
            return doc_mismatch(p, key, "choices", list, d->choices);
        const char *t = def_index >= 0 && def_index < n ? choices[def_index] : "";
        rc = doc_default(p, d, key, def_index >= 0, t, d->def && strcmp(d->def, t) == 0);
    }
    return rc ? rc : dlh_param_choice(p, key, choices, def_index, out);
}

int dlh_doc_param_floats(dlh_params *p, const char *key, float *out, size_t max, size_t *n)
{
    const dlh_param_doc *d;
    int rc = doc_entry(p, key, DLH_PARAM_FLOATS, &d);
    return rc ? rc : dlh_param_floats(p, key, out, max, n);
}

int dlh_doc_param_has(dlh_params *p, const char *key)
{
    const dlh_param_doc *d;
    /* Presence says nothing of the type.  An unlisted key reads as absent
       and stays unread, so the experiment reports it as unknown. */
    if (doc_entry(p, key, 0, &d) < 0)
        return 0;
    return dlh_param_has(p, key);
}
