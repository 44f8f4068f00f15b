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

int dlh_metrics_read(const char *path, dlh_epoch_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
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
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    dlh_epoch_row *out = malloc((lines + 1) * sizeof *out);
    if (!out) {
        free(text);
        dlh_error_set("%s: out of memory", path);
        return DLH_ENOMEM;
    }
    size_t count = 0, line_no = 0, header_len = strlen(dlh_metrics_header) - 1;
    int extra = 0;                  /* columns after the 8 */
    char *line = text;
    rc = 0;
    while (*line && rc == 0) {
        char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        line_no++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (line_no == 1) {
            /* The header dlhost writes (and the names of its extra columns);
               anything else is not its file. */
            for (size_t i = header_len; ll > header_len && i < ll; i++)
                extra += line[i] == ',';
            if (ll < header_len || memcmp(line, dlh_metrics_header, header_len) != 0 ||
                (ll > header_len && line[header_len] != ',') ||
                extra > DLH_METRICS_MAX_EXTRA) {
                dlh_error_set("%s:1: expected the header '%.*s' (a metrics.csv written "
                              "by dlhost run)", path, (int)header_len, dlh_metrics_header);
                rc = DLH_EDATA;
            }
        } else if (ll > 0) {
            double v[8 + DLH_METRICS_MAX_EXTRA];
            int k = 0, want = 8 + extra;
            const char *f = line, *stop = line + ll;
            while (rc == 0) {
                const char *comma = memchr(f, ',', (size_t)(stop - f));
                const char *fe = comma ? comma : stop;
                if (k == want) {
                    dlh_error_set("%s:%zu: field %d: expected %d fields per row", path,
                                  line_no, k + 1, want);
                    rc = DLH_EDATA;
                    break;
                }
                if (parse_field(f, (size_t)(fe - f), &v[k]) != 0) {
                    dlh_error_set("%s:%zu: field %d: expected a number or nothing", path,
                                  line_no, k + 1);
                    rc = DLH_EDATA;
                    break;
                }
                k++;
                if (!comma)
                    break;
                f = comma + 1;
            }
            if (rc == 0 && k != want) {
                dlh_error_set("%s:%zu: %d fields, expected %d (%.*s)", path, line_no, k,
                              want, (int)header_len, dlh_metrics_header);
                rc = DLH_EDATA;
            } else if (rc == 0 && (v[0] != (double)(count + 1))) {
                dlh_error_set("%s:%zu: epoch %g, expected %zu (epochs count up from 1)",
                              path, line_no, v[0], count + 1);
                rc = DLH_EDATA;
            } else if (rc == 0) {
                dlh_epoch_row *r = &out[count++];
                r->epoch = (int64_t)v[0];
                r->train_loss = v[1];
                r->train_accuracy = v[2];
                r->val_loss = v[3];
                r->val_accuracy = v[4];
                r->lr = v[5];
                r->seconds = v[6];
                r->samples_per_s = v[7];
                r->n_extra = extra;
                for (int x = 0; x < extra; x++)
                    r->extra[x] = v[8 + x];
            }
        }
        line = end ? end + 1 : line + ll;
        if (!end)
            break;
    }
    if (rc == 0 && line_no == 0) {
        dlh_error_set("%s: empty, expected the header '%.*s'", path, (int)header_len,
                      dlh_metrics_header);
        rc = DLH_EDATA;
    }
    free(text);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *rows = out;
    *n = count;
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

typedef struct panel {
    int left;
    const char *label;              /* "loss", "accuracy" */
    const double *y[2];             /* train, validation; stride in rows */
} panel;

static double row_value(const dlh_epoch_row *rows, size_t i, const double *field)
{
    /* field points into rows[0]; the same member of row i. */
    return *(const double *)((const char *)field + i * sizeof *rows);
}

static void draw_panel(FILE *f, const dlh_epoch_row *rows, size_t n, const panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < n; i++) {
            double v = row_value(rows, i, p->y[s]);
            if (isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    int top = PANEL_TOP, left = p->left;
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
    static const char *const names[2] = { "train", "validation" };
    int legend = 0;
    for (int s = 0; s < 2; s++) {
        int any = 0;
        /* A polyline per run of finite values; a point at every value. */
        for (size_t i = 0; i < n; i++) {
            double v = row_value(rows, i, p->y[s]);
            int fin = isfinite(v);
            int prev = i > 0 && isfinite(row_value(rows, i - 1, p->y[s]));
            if (fin && !prev)
                fprintf(f, "<polyline class=\"s%d\" points=\"", s);
            if (fin)
                fprintf(f, "%s%.1f,%.1f", prev ? " " : "", PX((double)(i + 1)), PY(v));
            int next = i + 1 < n && isfinite(row_value(rows, i + 1, p->y[s]));
            if (fin && !next)
                fputs("\"/>\n", f);
            any |= fin;
        }
        for (size_t i = 0; i < n; i++) {
            double v = row_value(rows, i, p->y[s]);
            if (isfinite(v))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        PX((double)(i + 1)), PY(v), series_color[s]);
        }
        if (any) {
            /* On the panel's title line, right-aligned, clear of the data. */
            int lx = left + PANEL_W - 190 + 90 * legend++, ly = top - 16;
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"s%d\"/>"
                       "<text x=\"%d\" y=\"%d\">%s</text>\n",
                    lx, ly, lx + 20, ly, s, lx + 25, ly + 4, names[s]);
        }
    }
#undef PX
#undef PY
}

int dlh_curves_svg(const dlh_epoch_row *rows, size_t n, const char *title, char **text,
                   size_t *len)
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
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<style>.frame{fill:none;stroke:#444}.grid{stroke:#ddd}"
               ".yt{text-anchor:end}.xt{text-anchor:middle}.note{text-anchor:middle;"
               "fill:#888}.h{font-size:14px;font-weight:bold}"
               ".s0{fill:none;stroke:%s;stroke-width:2}"
               ".s1{fill:none;stroke:%s;stroke-width:2}</style>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"24\" class=\"h\">", SVG_W, SVG_H, SVG_W, SVG_H,
            series_color[0], series_color[1], PANEL_LEFT0);
    put_escaped(f, title ? title : "");
    fprintf(f, " (%zu epoch%s)</text>\n", n, n == 1 ? "" : "s");
    panel loss = { PANEL_LEFT0, "loss", { &r->train_loss, &r->val_loss } };
    panel acc = { PANEL_LEFT1, "accuracy", { &r->train_accuracy, &r->val_accuracy } };
    draw_panel(f, r, n, &loss);
    draw_panel(f, r, n, &acc);
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

int dlh_curves_write(const char *path, const dlh_epoch_row *rows, size_t n,
                     const char *title)
{
    char *text;
    size_t len;
    int rc = dlh_curves_svg(rows, n, title, &text, &len);
    if (rc < 0)
        return rc;
    rc = dlh_file_write_atomic(path, text, len);
    free(text);
    return rc;
}
