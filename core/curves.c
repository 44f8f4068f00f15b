/* Learning curves as SVG, and metrics.csv read back (see curves.h). */
#define _GNU_SOURCE 1             /* open_memstream */
#include "curves.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file.h"
#include "safetensors.h"          /* dlh_file_write_atomic */

/* metrics.csv holds one short line per epoch: this bounds a file read whole. */
#define METRICS_MAX_BYTES ((size_t)64 << 20)

/* ------------------------------------------------------------ reading */

/* One field: empty is NaN; otherwise a whole number in the C locale. */
static int parse_field(const char *s, size_t len, double *v)
{
    if (len == 0) {
        *v = NAN;
        return 0;
    }
    char tmp[64], *end;
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    *v = strtod(tmp, &end);
    return *end == '\0' && errno == 0 ? 0 : -1;
}

/* The fields of one row (line[0..ll)) into v[0..want): *k of them; a
   field that is not a number or a row with more than `want` is DLH_EDATA
   naming the file, line and field. */
static int parse_row(const char *path, size_t line_no, const char *line, size_t ll,
                     int want, double *v, int *k)
{
    const char *f = line, *stop = line + ll;
    *k = 0;
    for (;;) {
        const char *comma = memchr(f, ',', (size_t)(stop - f));
        const char *fe = comma ? comma : stop;
        if (*k == want) {
            dlh_error_set("%s:%zu: field %d: expected %d fields per row", path, line_no,
                          *k + 1, want);
            return DLH_EDATA;
        }
        if (parse_field(f, (size_t)(fe - f), &v[*k]) != 0) {
            dlh_error_set("%s:%zu: field %d: expected a number or nothing", path, line_no,
                          *k + 1);
            return DLH_EDATA;
        }
        (*k)++;
        if (!comma)
            return 0;
        f = comma + 1;
    }
}

void dlh_metrics_table_free(dlh_metrics_table *t)
{
    for (int c = 0; t->names && c < t->n_cols; c++)
        free(t->names[c]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* The header's column names into t: "epoch" first, each named once. */
static int parse_header(const char *path, const char *line, size_t ll, dlh_metrics_table *t)
{
    int cols = 1;
    for (size_t i = 0; i < ll; i++)
        cols += line[i] == ',';
    if (cols > DLH_METRICS_MAX_COLS || !(t->names = calloc((size_t)cols, sizeof *t->names))) {
        dlh_error_set(cols > DLH_METRICS_MAX_COLS ? "%s:1: more than %d columns"
                      : "%s: out of memory", path, DLH_METRICS_MAX_COLS);
        return cols > DLH_METRICS_MAX_COLS ? DLH_EDATA : DLH_ENOMEM;
    }
    const char *f = line, *stop = line + ll;
    for (int c = 0; c < cols; c++) {
        const char *comma = memchr(f, ',', (size_t)(stop - f));
        size_t fl = (size_t)((comma ? comma : stop) - f);
        if (!(t->names[c] = strndup(f, fl))) {
            dlh_error_set("%s: out of memory", path);
            return DLH_ENOMEM;
        }
        t->n_cols = c + 1;
        int again = 0;
        for (int d = 0; d < c; d++)
            again |= strcmp(t->names[d], t->names[c]) == 0;
        if ((c == 0 && strcmp(t->names[0], "epoch") != 0) || fl == 0 || again) {
            dlh_error_set("%s:1: expected the header '%.*s' (a metrics.csv written by dlhost "
                          "run)%s%s%s", path, (int)strlen(dlh_metrics_header) - 1,
                          dlh_metrics_header, again ? "; column '" : "",
                          again ? t->names[c] : "", again ? "' comes twice" : "");
            return DLH_EDATA;
        }
        f = comma ? comma + 1 : stop;
    }
    return 0;
}

int dlh_metrics_table_read(const char *path, dlh_metrics_table *t)
{
    memset(t, 0, sizeof *t);
    char *text;
    size_t len;
    int rc = dlh_file_read_all(path, METRICS_MAX_BYTES, &text, &len);
    if (rc < 0)
        return rc;
    if (memchr(text, '\0', len)) {
        free(text);
        dlh_error_set("%s: binary data (a NUL byte), not a metrics.csv", path);
        return DLH_EDATA;
    }
    size_t lines = 0, line_no = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    char *line = text;
    while (*line && rc == 0) {
        char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        line_no++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (line_no == 1) {
            if ((rc = parse_header(path, line, ll, t)) == 0 &&
                !(t->v = malloc((lines + 1) * (size_t)t->n_cols * sizeof *t->v))) {
                dlh_error_set("%s: out of memory", path);
                rc = DLH_ENOMEM;
            }
        } else if (ll > 0) {
            double *v = t->v + t->n_rows * (size_t)t->n_cols;
            int k = 0;
            rc = parse_row(path, line_no, line, ll, t->n_cols, v, &k);
            if (rc == 0 && k != t->n_cols) {
                char head[256];
                size_t hl = 0;
                for (int c = 0; c < t->n_cols && hl < sizeof head; c++)
                    hl += (size_t)snprintf(head + hl, sizeof head - hl, "%s%s", c ? "," : "",
                                           t->names[c]);
                dlh_error_set("%s:%zu: %d fields, expected %d (%s)", path, line_no, k,
                              t->n_cols, head);
                rc = DLH_EDATA;
            } else if (rc == 0 && v[0] != (double)(t->n_rows + 1)) {
                dlh_error_set("%s:%zu: epoch %g, expected %zu (epochs count up from 1)",
                              path, line_no, v[0], t->n_rows + 1);
                rc = DLH_EDATA;
            } else if (rc == 0) {
                t->n_rows++;
            }
        }
        line = end ? end + 1 : line + ll;
        if (!end)
            break;
    }
    if (rc == 0 && line_no == 0) {
        dlh_error_set("%s: empty, expected the header '%.*s'", path,
                      (int)strlen(dlh_metrics_header) - 1, dlh_metrics_header);
        rc = DLH_EDATA;
    }
    free(text);
    if (rc < 0)
        dlh_metrics_table_free(t);
    return rc;
}

int dlh_metrics_table_col(const dlh_metrics_table *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

int dlh_metrics_read(const char *path, dlh_epoch_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    dlh_metrics_table t;
    int rc = dlh_metrics_table_read(path, &t);
    if (rc < 0)
        return rc;
    /* The 8 columns dlhost writes first, then its extra columns; anything
       else is not its file. */
    static const char *const fixed[8] = { "epoch", "train_loss", "train_accuracy",
                                          "val_loss", "val_accuracy", "lr", "seconds",
                                          "samples_per_s" };
    int same = t.n_cols >= 8 && t.n_cols - 8 <= DLH_METRICS_MAX_EXTRA;
    for (int c = 0; same && c < 8; c++)
        same = strcmp(t.names[c], fixed[c]) == 0;
    dlh_epoch_row *out = same ? malloc((t.n_rows + 1) * sizeof *out) : NULL;
    if (!out) {
        if (same)
            dlh_error_set("%s: out of memory", path);
        else
            dlh_error_set("%s:1: expected the header '%.*s' (a metrics.csv written by "
                          "dlhost run)", path, (int)strlen(dlh_metrics_header) - 1,
                          dlh_metrics_header);
        dlh_metrics_table_free(&t);
        return same ? DLH_ENOMEM : DLH_EDATA;
    }
    for (size_t i = 0; i < t.n_rows; i++) {
        const double *v = t.v + i * (size_t)t.n_cols;
        dlh_epoch_row *r = &out[i];
        r->epoch = (int64_t)v[0];
        r->train_loss = v[1];
        r->train_accuracy = v[2];
        r->val_loss = v[3];
        r->val_accuracy = v[4];
        r->lr = v[5];
        r->seconds = v[6];
        r->samples_per_s = v[7];
        r->n_extra = t.n_cols - 8;
        for (int x = 0; x < r->n_extra; x++)
            r->extra[x] = v[8 + x];
    }
    *rows = out;
    *n = t.n_rows;
    dlh_metrics_table_free(&t);
    return 0;
}

/* ------------------------------------------------------------ drawing */

#define SVG_W 960
#define SVG_H 400
#define PANEL_W 380                 /* plot area of each panel */
#define PANEL_H 280
#define PANEL_TOP 60
#define PANEL_LEFT0 80
#define PANEL_LEFT1 560

static const char *const series_color[2] = { "#1f77b4", "#ff7f0e" };   /* train, val */

/* A tick step of 1, 2 or 5 times a power of ten giving at most `ticks`
   intervals over span. */
static double nice_step(double span, int ticks)
{
    if (!(span > 0.0))
        return 1.0;
    double raw = span / ticks, p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1.0 ? 1.0 : m <= 2.0 ? 2.0 : m <= 5.0 ? 5.0 : 10.0) * p;
}

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* Control characters are not allowed in XML 1.0 text. */
            fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
        }
    }
}

/* One curve: n values y[0], y[stride], ... (stride in bytes) at epochs
   1..n, drawn with the style class "s<cls>" in color; a legend entry on
   the panel's title line when legend is set. */
typedef struct series {
    const double *y;
    size_t stride, n;
    int cls;
    const char *color, *legend;
} series;

typedef struct panel {
    int left;
    const char *label;              /* "loss", "accuracy" */
    const series *s;
    int n_series;
    size_t n_x;                     /* epochs on the x axis */
    int top;                        /* 0: PANEL_TOP */
} panel;

static double series_value(const series *s, size_t i)
{
    return *(const double *)(const void *)((const char *)s->y + i * s->stride);
}

static void draw_panel(FILE *f, const panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    size_t n = p->n_x;
    for (int k = 0; k < p->n_series; k++)
        for (size_t i = 0; i < p->s[k].n; i++) {
            double v = series_value(&p->s[k], i);
            if (isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    int top = p->top ? p->top : PANEL_TOP, left = p->left;
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"h\">%s</text>\n", left, top - 12, p->label);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n",
            left, top, PANEL_W, PANEL_H);
    if (!(lo <= hi)) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\">no %s recorded</text>\n",
                left + PANEL_W / 2, top + PANEL_H / 2, p->label);
        return;
    }
    /* y range: padded, on tick multiples. */
    double step = nice_step(hi - lo > 0.0 ? hi - lo : fabs(hi) > 0.0 ? fabs(hi) : 1.0, 5);
    double y0 = floor(lo / step) * step, y1 = ceil(hi / step) * step;
    if (lo - y0 < 0.1 * step)       /* keep points off the frame */
        y0 -= step;
    if (y1 - hi < 0.1 * step)
        y1 += step;
    /* x range: epochs 1..n (a single epoch sits in the middle). */
    double x0 = 1.0, x1 = n > 1 ? (double)n : 2.0;
    double xs = nice_step(x1 - x0, 10);
    if (xs < 1.0)
        xs = 1.0;
#define PX(x) ((double)left + ((n > 1 ? (x) : 1.5) - x0) / (x1 - x0) * PANEL_W)
#define PY(y) ((double)top + (1.0 - ((y) - y0) / (y1 - y0)) * PANEL_H)
    for (double t = y0; t <= y1 + step * 1e-6; t += step) {
        double py = PY(t);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                   "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%.4g</text>\n",
                left, py, left + PANEL_W, py, left - 6, py + 4, fabs(t) < step * 1e-9 ? 0.0 : t);
    }
    for (double t = 1.0; t <= (double)n + 1e-9; t += xs) {
        double px = PX(t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                   "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%g</text>\n",
                px, top, px, top + PANEL_H, px, top + PANEL_H + 18, t);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xt\">epoch</text>\n", left + PANEL_W / 2,
            top + PANEL_H + 38);
    int legend = 0;
    for (int k = 0; k < p->n_series; k++) {
        const series *s = &p->s[k];
        int any = 0;
        /* A polyline per run of finite values; a point at every value. */
        for (size_t i = 0; i < s->n; i++) {
            double v = series_value(s, i);
            int fin = isfinite(v);
            int prev = i > 0 && isfinite(series_value(s, i - 1));
            if (fin && !prev)
                fprintf(f, "<polyline class=\"s%d\" points=\"", s->cls);
            if (fin)
                fprintf(f, "%s%.1f,%.1f", prev ? " " : "", PX((double)(i + 1)), PY(v));
            int next = i + 1 < s->n && isfinite(series_value(s, i + 1));
            if (fin && !next)
                fputs("\"/>\n", f);
            any |= fin;
        }
        for (size_t i = 0; i < s->n; i++) {
            double v = series_value(s, i);
            if (isfinite(v))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        PX((double)(i + 1)), PY(v), s->color);
        }
        if (any && s->legend) {
            /* On the panel's title line, right-aligned, clear of the data. */
            int lx = left + PANEL_W - 190 + 90 * legend++, ly = top - 16;
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"s%d\"/>"
                       "<text x=\"%d\" y=\"%d\">%s</text>\n",
                    lx, ly, lx + 20, ly, s->cls, lx + 25, ly + 4, s->legend);
        }
    }
#undef PX
#undef PY
}

/* The document's start: size, the style (extra_style adds the series'
   classes) and the title line. */
static void svg_begin(FILE *f, int height, const char *extra_style, const char *title,
                      size_t n)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<style>.frame{fill:none;stroke:#444}.grid{stroke:#ddd}"
               ".yt{text-anchor:end}.xt{text-anchor:middle}.note{text-anchor:middle;"
               "fill:#888}.h{font-size:14px;font-weight:bold}%s</style>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"24\" class=\"h\">", SVG_W, height, SVG_W, height,
            extra_style, PANEL_LEFT0);
    put_escaped(f, title ? title : "");
    fprintf(f, " (%zu epoch%s)</text>\n", n, n == 1 ? "" : "s");
}

/* Closes the document of open_memstream f into *text. */
static int svg_end(FILE *f, char **text)
{
    fputs("</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*text);
        *text = NULL;
        dlh_error_set("curves.svg: out of memory");
        return DLH_ENOMEM;
    }
    return 0;
}

/* Ten colours that tell runs apart (matplotlib's tab10). */
static const char *const run_color[10] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                           "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                           "#bcbd22", "#17becf" };

/* The k-th name of columns (",a,b,..."), into buf; "" when it has none. */
static const char *curves_column(const char *columns, int k, char *buf, size_t size)
{
    const char *c = columns ? columns : "";
    for (int i = 0; *c && i <= k; i++) {
        const char *end = strchr(c + 1, ',');
        size_t len = end ? (size_t)(end - c - 1) : strlen(c + 1);
        if (i == k) {
            snprintf(buf, size, "%.*s", (int)len, c + 1);
            return buf;
        }
        c = end ? end : c + 1 + len;
    }
    buf[0] = '\0';
    return buf;
}

/* The metrics panel of curves.svg: each validation metric column (a
   metric's, not a loss) as a solid curve and its training column, where
   there is one, dashed in the same colour, at most 10; a legend beside. */
#define METRIC_TOP (SVG_H + PANEL_TOP)
#define METRICS_MAX 10

static int curves_metrics(const dlh_epoch_row *r, size_t n, const char *columns,
                          series *s, char names[][64])
{
    int n_extra = n ? r->n_extra : 0, k = 0;
    char col[256], other[256];
    for (int c = 0; c < n_extra && k < METRICS_MAX; c++) {
        curves_column(columns, c, col, sizeof col);
        if (strncmp(col, "val_", 4) != 0 || strstr(col, "_loss"))
            continue;
        snprintf(names[k], 64, "%.63s", col + 4);
        s[2 * k] = (series){ &r->extra[c], sizeof *r, n, 10 + k, run_color[k], NULL };
        s[2 * k + 1] = (series){ NULL, sizeof *r, 0, 30 + k, run_color[k], NULL };
        for (int t = 0; t < n_extra; t++)
            if (strncmp(curves_column(columns, t, other, sizeof other), "train_", 6) == 0 &&
                strcmp(other + 6, col + 4) == 0)
                s[2 * k + 1] = (series){ &r->extra[t], sizeof *r, n, 30 + k, run_color[k],
                                         NULL };
        k++;
    }
    return k;
}

int dlh_curves_svg(const dlh_epoch_row *rows, size_t n, const char *title, char **text,
                   size_t *len)
{
    return dlh_curves_svg_cols(rows, n, NULL, title, text, len);
}

int dlh_curves_svg_cols(const dlh_epoch_row *rows, size_t n, const char *columns,
                        const char *title, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f = open_memstream(text, len);
    if (!f) {
        dlh_error_set("curves.svg: out of memory");
        return DLH_ENOMEM;
    }
    static const dlh_epoch_row none;
    const dlh_epoch_row *r = n ? rows : &none;
    series ms[2 * METRICS_MAX];
    char names[METRICS_MAX][64];
    int n_metrics = curves_metrics(r, n, columns, ms, names);
    char style[160 + 120 * METRICS_MAX];
    int k = snprintf(style, 160, ".s0{fill:none;stroke:%s;stroke-width:2}"
                     ".s1{fill:none;stroke:%s;stroke-width:2}", series_color[0],
                     series_color[1]);
    for (int m = 0; m < n_metrics; m++)
        k += snprintf(style + k, sizeof style - (size_t)k,
                      ".s%d{fill:none;stroke:%s;stroke-width:2}.s%d{fill:none;stroke:%s;"
                      "stroke-width:2;stroke-dasharray:6 3}", 10 + m, run_color[m], 30 + m,
                      run_color[m]);
    svg_begin(f, n_metrics ? 2 * SVG_H : SVG_H, style, title, n);
    const series loss[2] = {
        { &r->train_loss, sizeof *r, n, 0, series_color[0], "train" },
        { &r->val_loss, sizeof *r, n, 1, series_color[1], "validation" } };
    const series acc[2] = {
        { &r->train_accuracy, sizeof *r, n, 0, series_color[0], "train" },
        { &r->val_accuracy, sizeof *r, n, 1, series_color[1], "validation" } };
    draw_panel(f, &(panel){ PANEL_LEFT0, "loss", loss, 2, n, 0 });
    draw_panel(f, &(panel){ PANEL_LEFT1, "accuracy", acc, 2, n, 0 });
    if (n_metrics) {
        draw_panel(f, &(panel){ PANEL_LEFT0, "metrics", ms, 2 * n_metrics, n, METRIC_TOP });
        for (int m = 0; m < n_metrics; m++) {
            int y = METRIC_TOP + 20 + 22 * m;
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"s%d\"/>"
                       "<text x=\"%d\" y=\"%d\">", PANEL_LEFT1, y, PANEL_LEFT1 + 24, y,
                    10 + m, PANEL_LEFT1 + 32, y + 4);
            put_escaped(f, names[m]);
            fputs("</text>\n", f);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\" style=\"text-anchor:start\">"
                   "solid: validation, dashed: training</text>\n", PANEL_LEFT1,
                METRIC_TOP + 30 + 22 * n_metrics);
    }
    return svg_end(f, text);
}

int dlh_curves_compare_svg(const char *const *names, const dlh_metrics_table *tables,
                           size_t n_runs, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    size_t n_x = 0;
    for (size_t r = 0; r < n_runs; r++)
        n_x = tables[r].n_rows > n_x ? tables[r].n_rows : n_x;
    /* Per run: train dashed (class s<2r>), validation solid (s<2r+1>). */
    series *s = calloc(4 * n_runs + 1, sizeof *s);
    char *style = malloc(128 * (2 * n_runs + 1));
    FILE *f = s && style ? open_memstream(text, len) : NULL;
    if (!f) {
        free(s);
        free(style);
        dlh_error_set("compare: out of memory");
        return DLH_ENOMEM;
    }
    size_t sl = 0;
    style[0] = '\0';
    for (size_t r = 0; r < 2 * n_runs; r++)
        sl += (size_t)snprintf(style + sl, 128, ".s%zu{fill:none;stroke:%s;stroke-width:2%s}",
                               r, run_color[r / 2 % 10],
                               r % 2 ? "" : ";stroke-dasharray:6,4");
    char title[64];
    snprintf(title, sizeof title, "%zu run%s", n_runs, n_runs == 1 ? "" : "s");
    int height = SVG_H + 30 + 20 * (int)n_runs;
    svg_begin(f, height, style, title, n_x);
    static const char *const col[4] = { "train_loss", "val_loss", "train_accuracy",
                                        "val_accuracy" };
    int n_loss = 0, n_acc = 0;
    series *loss = s, *acc = s + 2 * n_runs;
    for (size_t r = 0; r < n_runs; r++)
        for (int k = 0; k < 4; k++) {
            int c = dlh_metrics_table_col(&tables[r], col[k]);
            if (c < 0 || tables[r].n_rows == 0)
                continue;
            series one = { tables[r].v + c, (size_t)tables[r].n_cols * sizeof(double),
                           tables[r].n_rows, (int)(2 * r + (size_t)(k % 2)),
                           run_color[r % 10], NULL };
            if (k < 2)
                loss[n_loss++] = one;
            else
                acc[n_acc++] = one;
        }
    draw_panel(f, &(panel){ PANEL_LEFT0, "loss", loss, n_loss, n_x, 0 });
    draw_panel(f, &(panel){ PANEL_LEFT1, "accuracy", acc, n_acc, n_x, 0 });
    /* The legend under the panels: a run's colour, its name. */
    int y = SVG_H + 4;
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\" style=\"text-anchor:start\">"
               "solid: validation, dashed: train</text>\n", PANEL_LEFT0, y);
    for (size_t r = 0; r < n_runs; r++) {
        y += 20;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"s%zu\"/>"
                   "<text x=\"%d\" y=\"%d\">", PANEL_LEFT0, y - 4, PANEL_LEFT0 + 30, y - 4,
                2 * r + 1, PANEL_LEFT0 + 38, y);
        put_escaped(f, names[r]);
        fputs("</text>\n", f);
    }
    free(s);
    free(style);
    return svg_end(f, text);
}

int dlh_curves_compare_write(const char *path, const char *const *names,
                             const dlh_metrics_table *tables, size_t n_runs)
{
    char *text;
    size_t len;
    int rc = dlh_curves_compare_svg(names, tables, n_runs, &text, &len);
    if (rc < 0)
        return rc;
    rc = dlh_file_write_atomic(path, text, len);
    free(text);
    return rc;
}

int dlh_curves_write(const char *path, const dlh_epoch_row *rows, size_t n,
                     const char *columns, const char *title)
{
    char *text;
    size_t len;
    int rc = dlh_curves_svg_cols(rows, n, columns, title, &text, &len);
    if (rc < 0)
        return rc;
    rc = dlh_file_write_atomic(path, text, len);
    free(text);
    return rc;
}
