/* The classification report of `dlhost eval` (see report.h). */
#define _GNU_SOURCE 1             /* open_memstream */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "metrics.h"
#include "error.h"
#include "safetensors.h"          /* dlh_file_write_atomic, dlh_json_escape */

/* scikit-learn's _prf_divide with zero_division "warn": 0 where the
   denominator is 0. */
static double report_divide(double num, double den)
{
    return den == 0.0 ? 0.0 : num / den;
}

/* fbeta with beta = 1 as scikit-learn computes it. */
static double report_f1(double p, double r)
{
    double den = p + r;
    return 2.0 * p * r / (den == 0.0 ? 1.0 : den);
}

void dlh_class_report_free(dlh_class_report *r)
{
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->support);
    memset(r, 0, sizeof *r);
}

int dlh_class_report_new(const int64_t *conf, int64_t C, dlh_class_report *r)
{
    memset(r, 0, sizeof *r);
    size_t n = C > 0 ? (size_t)C : 1;
    r->classes = C;
    r->precision = calloc(n, sizeof *r->precision);
    r->recall = calloc(n, sizeof *r->recall);
    r->f1 = calloc(n, sizeof *r->f1);
    r->support = calloc(n, sizeof *r->support);
    if (!r->precision || !r->recall || !r->f1 || !r->support) {
        dlh_class_report_free(r);
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    int64_t predicted_total = 0;
    int every_class = 1;
    double sum[3] = { 0.0, 0.0, 0.0 }, wsum[3] = { 0.0, 0.0, 0.0 };
    for (int64_t k = 0; k < C; k++) {
        int64_t tp = conf[k * C + k], pred = 0, truth = 0;
        for (int64_t i = 0; i < C; i++) {
            pred += conf[i * C + k];
            truth += conf[k * C + i];
        }
        r->precision[k] = report_divide((double)tp, (double)pred);
        r->recall[k] = report_divide((double)tp, (double)truth);
        r->f1[k] = report_f1(r->precision[k], r->recall[k]);
        r->support[k] = truth;
        r->total += truth;
        r->correct += tp;
        predicted_total += pred;
        every_class &= pred > 0 || truth > 0;
        const double v[3] = { r->precision[k], r->recall[k], r->f1[k] };
        for (int m = 0; m < 3; m++) {
            sum[m] += v[m];
            wsum[m] += v[m] * (double)truth;
        }
    }
    r->accuracy = r->total > 0 ? (double)r->correct / (double)r->total : NAN;
    for (int m = 0; m < 3; m++) {
        r->macro[m] = C > 0 ? sum[m] / (double)C : 0.0;
        /* No true sample at all: scikit-learn's weighted average is 0. */
        r->weighted[m] = r->total > 0 ? wsum[m] / (double)r->total : 0.0;
    }
    r->micro[0] = report_divide((double)r->correct, (double)predicted_total);
    r->micro[1] = report_divide((double)r->correct, (double)r->total);
    r->micro[2] = report_f1(r->micro[0], r->micro[1]);
    r->micro_is_accuracy = every_class;
    return 0;
}

/* Row k's name: names[k], or the index as scikit-learn writes a label. */
static const char *report_name(char *const *names, int64_t k, char *buf, size_t size)
{
    if (names)
        return names[k];
    snprintf(buf, size, "%" PRId64, k);
    return buf;
}

void dlh_class_report_print(FILE *out, const dlh_class_report *r, char *const *names)
{
    /* classification_report's widths: the longest of the names and
       "weighted avg", then 9-wide columns two spaces apart. */
    char buf[32];
    int width = (int)strlen("weighted avg");
    for (int64_t k = 0; k < r->classes; k++) {
        int len = (int)strlen(report_name(names, k, buf, sizeof buf));
        width = len > width ? len : width;
    }
    fprintf(out, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score",
            "support");
    for (int64_t k = 0; k < r->classes; k++)
        fprintf(out, "%*s  %9.2f %9.2f %9.2f %9" PRId64 "\n", width,
                report_name(names, k, buf, sizeof buf), r->precision[k], r->recall[k],
                r->f1[k], r->support[k]);
    fprintf(out, "\n");
    if (r->micro_is_accuracy)
        fprintf(out, "%*s  %9s %9s %9.2f %9" PRId64 "\n", width, "accuracy", "", "",
                r->micro[2], r->total);
    else
        fprintf(out, "%*s  %9.2f %9.2f %9.2f %9" PRId64 "\n", width, "micro avg",
                r->micro[0], r->micro[1], r->micro[2], r->total);
    fprintf(out, "%*s  %9.2f %9.2f %9.2f %9" PRId64 "\n", width, "macro avg", r->macro[0],
            r->macro[1], r->macro[2], r->total);
    fprintf(out, "%*s  %9.2f %9.2f %9.2f %9" PRId64 "\n", width, "weighted avg",
            r->weighted[0], r->weighted[1], r->weighted[2], r->total);
}

void dlh_confusion_print(FILE *out, const int64_t *conf, int64_t C, char *const *names)
{
    int64_t most = 1;
    for (int64_t i = 0; i < C * C; i++)
        most = conf[i] > most ? conf[i] : most;
    int w = 1;
    for (int64_t m = most; m >= 10; m /= 10)
        w++;
    if (w < 3)
        w = 3;
    fprintf(out, "confusion matrix (rows = true class, columns = predicted class)\n");
    if (!names) {
        fprintf(out, "%*s", 6, "");
        for (int64_t j = 0; j < C; j++)
            fprintf(out, " %*" PRId64, w, j);
        fprintf(out, "\n");
        for (int64_t i = 0; i < C; i++) {
            fprintf(out, "%5" PRId64 " ", i);
            for (int64_t j = 0; j < C; j++)
                fprintf(out, " %*" PRId64, w, conf[i * C + j]);
            fprintf(out, "\n");
        }
        return;
    }
    /* Named: the rows' names right-aligned in the first column, each
       column as wide as its name or its largest count. */
    int first = 5;
    for (int64_t k = 0; k < C; k++) {
        int len = (int)strlen(names[k]);
        first = len > first ? len : first;
    }
    fprintf(out, "%*s", first, "");
    for (int64_t j = 0; j < C; j++) {
        int len = (int)strlen(names[j]);
        fprintf(out, "  %*s", len > w ? len : w, names[j]);
    }
    fprintf(out, "\n");
    for (int64_t i = 0; i < C; i++) {
        fprintf(out, "%*s", first, names[i]);
        for (int64_t j = 0; j < C; j++) {
            int len = (int)strlen(names[j]);
            fprintf(out, "  %*" PRId64, len > w ? len : w, conf[i * C + j]);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "classes:");
    for (int64_t k = 0; k < C; k++)
        fprintf(out, "%s %" PRId64 " %s", k ? "," : "", k, names[k]);
    fprintf(out, "\n");
}

/* ------------------------------------------------------------ JSON */

static void json_string(FILE *f, const char *s)
{
    char tmp[8];
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = dlh_json_escape(*p, tmp);
        if (esc)
            fputs(esc, f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* A double exactly (round trip), null for NaN or an infinity. */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_prf(FILE *f, const double *v, int64_t support)
{
    fputs("{\"precision\": ", f);
    json_number(f, v[0]);
    fputs(", \"recall\": ", f);
    json_number(f, v[1]);
    fputs(", \"f1\": ", f);
    json_number(f, v[2]);
    fprintf(f, ", \"support\": %" PRId64 "}", support);
}

static void json_body(FILE *f, const dlh_eval_result *res)
{
    fputs("{\n  \"experiment\": ", f);
    json_string(f, res->experiment ? res->experiment : "");
    fputs(",\n  \"weights\": ", f);
    json_string(f, res->weights ? res->weights : "");
    if (res->head) {
        fputs(",\n  \"head\": ", f);
        json_string(f, res->head);
    }
    fprintf(f, ",\n  \"samples\": %" PRId64 ",\n  \"loss\": ", res->samples);
    json_number(f, res->loss);
    fputs(",\n  \"accuracy\": ", f);
    json_number(f, res->accuracy);
    const dlh_class_report *r = res->report;
    if (r) {
        char buf[32];
        fputs(",\n  \"classes\": [", f);
        for (int64_t k = 0; k < r->classes; k++) {
            fputs(k ? ", " : "", f);
            json_string(f, report_name(res->names, k, buf, sizeof buf));
        }
        fputs("],\n  \"per_class\": [", f);
        for (int64_t k = 0; k < r->classes; k++) {
            const double v[3] = { r->precision[k], r->recall[k], r->f1[k] };
            fputs(k ? ",\n    " : "\n    ", f);
            json_prf(f, v, r->support[k]);
        }
        fputs("\n  ],\n  \"micro_avg\": ", f);
        json_prf(f, r->micro, r->total);
        fputs(",\n  \"macro_avg\": ", f);
        json_prf(f, r->macro, r->total);
        fputs(",\n  \"weighted_avg\": ", f);
        json_prf(f, r->weighted, r->total);
        fputs(",\n  \"confusion_matrix\": [", f);
        for (int64_t i = 0; res->confusion && i < r->classes; i++) {
            fputs(i ? ",\n    [" : "\n    [", f);
            for (int64_t j = 0; j < r->classes; j++)
                fprintf(f, "%s%" PRId64, j ? ", " : "", res->confusion[i * r->classes + j]);
            fputs("]", f);
        }
        fputs("\n  ]", f);
    }
    /* The metrics list's values on the test data, by name without the
       "val_" of their metrics.csv column. */
    const dlh_metric_set *ms = res->metrics;
    int k = 0;
    for (int j = 0; ms && j < ms->n; j++)
        for (int i = 0; i < ms->m[j].n_values; i++) {
            const char *c = ms->m[j].cols[i], *u = strchr(c, '_');
            fputs(k++ ? ",\n    " : ",\n  \"metrics\": {\n    ", f);
            json_string(f, u ? u + 1 : c);
            fputs(": ", f);
            json_number(f, ms->m[j].values[i]);
        }
    if (k)
        fputs("\n  }", f);
    fputs("\n}\n", f);
}

int dlh_eval_json_write(const char *path, const dlh_eval_result *res)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    json_body(f, res);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(text);
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    int rc = dlh_file_write_atomic(path, text, len);
    free(text);
    return rc;
}

int dlh_eval_json_check(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");
    if (!dir) {
        dlh_error_set("out of memory");
        return DLH_ENOMEM;
    }
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0) {
        dlh_error_set("--json %s: folder '%s': %s", path, dir, strerror(errno));
        rc = DLH_EIO;
    } else if (!S_ISDIR(st.st_mode)) {
        dlh_error_set("--json %s: '%s' is not a folder", path, dir);
        rc = DLH_EIO;
    } else if (access(dir, W_OK | X_OK) != 0) {
        dlh_error_set("--json %s: cannot write into folder '%s': %s", path, dir,
                      strerror(errno));
        rc = DLH_EIO;
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dlh_error_set("--json %s: is a folder, expected a file name", path);
        rc = DLH_EIO;
    }
    free(dir);
    return rc;
}
