/* Learning curves: metrics.csv read back (every refusal names file and
 * line), the SVG drawn from rows (series present or absent, gaps, an empty
 * run, an escaped title), and the run directory keeping curves.svg current. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curves.h"
#include "error.h"
#include "rundir.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];

static const char *put(const char *name, const char *text, size_t len)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tmpdir_write(path, text, len);
    return path;
}

static const char *put_text(const char *name, const char *text)
{
    return put(name, text, strlen(text));
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

#define HEADER "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,samples_per_s\n"

static void test_read(void)
{
    const char *path = put_text("good.csv", HEADER
                                "1,0.5,0.8,0.6,0.75,0.001,1.5,40000\n"
                                "2,0.25,0.9,,,0.0005,1.25,41000\r\n");
    dlh_epoch_row *rows = NULL;
    size_t n = 0;
    int rc = dlh_metrics_read(path, &rows, &n);
    ok(rc == 0 && n == 2, "two rows read (rc %d, n %zu, %s)", rc, n, dlh_error_get());
    ok(n == 2 && rows[0].epoch == 1 && rows[0].train_loss == 0.5 &&
       rows[0].val_accuracy == 0.75 && rows[0].samples_per_s == 40000 &&
       rows[1].epoch == 2 && rows[1].train_accuracy == 0.9 && isnan(rows[1].val_loss) &&
       isnan(rows[1].val_accuracy) && rows[1].lr == 0.0005,
       "values, empty fields as NaN, a CRLF line end");
    free(rows);

    path = put_text("header-only.csv", HEADER);
    rc = dlh_metrics_read(path, &rows, &n);
    ok(rc == 0 && n == 0, "a header alone is a run of no epochs");
    free(rows);

    static const struct {
        const char *name, *text, *want;
        size_t len;
    } bad[] = {
        { "empty.csv", "", "empty, expected the header", 0 },
        { "bad-header.csv", "epoch,loss\n1,2\n", "bad-header.csv:1: expected the header", 0 },
        { "fields.csv", HEADER "1,0.5,0.8\n", "fields.csv:2: 3 fields, expected 8", 0 },
        { "many.csv", HEADER "1,1,1,1,1,1,1,1,1\n", "many.csv:2: field 9: expected 8 fields", 0 },
        { "number.csv", HEADER "1,0.5,zero,1,1,1,1,1\n",
          "number.csv:2: field 3: expected a number or nothing", 0 },
        { "order.csv", HEADER "1,1,1,1,1,1,1,1\n3,1,1,1,1,1,1,1\n",
          "order.csv:3: epoch 3, expected 2", 0 },
        { "nul.csv", HEADER "1,1,1\0,1,1,1,1,1\n", "binary data", sizeof HEADER + 16 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *name = bad[i].name;
        path = bad[i].len ? put(name, bad[i].text, bad[i].len) : put_text(name, bad[i].text);
        dlh_error_clear();
        rows = (dlh_epoch_row *)1;
        rc = dlh_metrics_read(path, &rows, &n);
        ok(rc == DLH_EDATA && rows == NULL && strstr(dlh_error_get(), bad[i].want),
           "%s refused: %s", name, dlh_error_get());
    }
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nowhere/metrics.csv", dir);
    rc = dlh_metrics_read(missing, &rows, &n);
    ok(rc == DLH_EIO && strstr(dlh_error_get(), "nowhere/metrics.csv: cannot open"),
       "a missing file: %s", dlh_error_get());
}

static void test_svg(void)
{
    dlh_epoch_row rows[4] = {
        { 1, 0.9, 0.6, 1.0, 0.55, 1e-3, 1, 1, 0, { 0 } },
        { 2, 0.5, 0.8, NAN, NAN, 1e-3, 1, 1, 0, { 0 } },       /* a gap in validation */
        { 3, 0.4, 0.85, 0.7, 0.7, 1e-3, 1, 1, 0, { 0 } },
        { 4, 0.3, 0.9, 0.6, 0.75, 1e-3, 1, 1, 0, { 0 } },
    };
    char *svg;
    size_t len;
    int rc = dlh_curves_svg(rows, 4, "a<b & \"c\"", &svg, &len);
    ok(rc == 0 && len == strlen(svg) && strncmp(svg, "<svg ", 5) == 0 &&
       strstr(svg, "</svg>\n"), "an SVG document");
    ok(rc == 0 && strstr(svg, "a&lt;b &amp; &quot;c&quot; (4 epochs)"), "the title is escaped");
    /* loss and accuracy: one train polyline each, validation split in two by
       the gap (epoch 1 alone, then 3-4). */
    ok(rc == 0 && count(svg, "class=\"s0\" points=") == 2 &&
       count(svg, "class=\"s1\" points=") == 4, "train lines whole, validation split at its gap");
    ok(rc == 0 && count(svg, "<circle") == 4 + 3 + 4 + 3, "a point per finite value");
    ok(rc == 0 && count(svg, ">validation</text>") == 2 && count(svg, ">train</text>") == 2,
       "legends name both series in both panels");
    free(svg);

    /* Regression: no accuracy, no validation. */
    for (int i = 0; i < 4; i++)
        rows[i].train_accuracy = rows[i].val_accuracy = rows[i].val_loss = NAN;
    rc = dlh_curves_svg(rows, 4, "reg", &svg, &len);
    ok(rc == 0 && strstr(svg, "no accuracy recorded") && !strstr(svg, ">validation</text>") &&
       count(svg, ">train</text>") == 1, "a run without accuracy or validation");
    free(svg);

    rc = dlh_curves_svg(NULL, 0, "new", &svg, &len);
    ok(rc == 0 && strstr(svg, "new (0 epochs)") && strstr(svg, "no loss recorded") &&
       !strstr(svg, "<circle"), "a run of no epochs yet");
    free(svg);

    /* One epoch: its points sit inside the frame, not on an edge. */
    dlh_epoch_row one = { 1, 0.45, 0.835, 0.38, 0.855, 1e-3, 1, 1, 0, { 0 } };
    rc = dlh_curves_svg(&one, 1, "one", &svg, &len);
    ok(rc == 0 && count(svg, "<circle") == 4 && !strstr(svg, "nan") && !strstr(svg, "inf"),
       "one epoch: four points, no NaN or Inf coordinates");
    free(svg);
}

/* metrics.csv by its header (dlhost compare), and runs overlaid. */
static void test_table(void)
{
    const char *path = put_text("table.csv", "epoch,train_loss,val_precision,val_loss.h\n"
                                "1,0.5,,0.25\n2,0.4,0.75,0.125\n");
    dlh_metrics_table t;
    int rc = dlh_metrics_table_read(path, &t);
    ok(rc == 0 && t.n_cols == 4 && t.n_rows == 2 && strcmp(t.names[2], "val_precision") == 0 &&
       isnan(t.v[2]) && t.v[4 + 2] == 0.75 && t.v[4 + 3] == 0.125,
       "any columns: names, values, an empty field as NaN (%s)", dlh_error_get());
    ok(rc == 0 && dlh_metrics_table_col(&t, "val_loss.h") == 3 &&
       dlh_metrics_table_col(&t, "val_accuracy") == -1, "columns found by name");
    dlh_metrics_table a = t;
    path = put_text("plain.csv", HEADER "1,0.9,0.6,1.0,0.55,0.001,1,1\n");
    dlh_metrics_table b;
    rc = dlh_metrics_table_read(path, &b);
    const char *names[2] = { "run<a>", "b" };
    const dlh_metrics_table both[2] = { a, b };
    char *svg = NULL;
    size_t len = 0;
    rc = rc ? rc : dlh_curves_compare_svg(names, both, 2, &svg, &len);
    /* a: train_loss only (val_loss.h is not val_loss); b: all four. */
    ok(rc == 0 && count(svg, "<polyline") == 1 + 4 && strstr(svg, ">run&lt;a&gt;</text>") &&
       strstr(svg, "2 runs (2 epochs)") && count(svg, "stroke-dasharray") == 2,
       "runs overlaid: a polyline per series, escaped names, train dashed");
    free(svg);
    dlh_metrics_table_free(&t);
    dlh_metrics_table_free(&b);

    static const struct {
        const char *name, *text, *want;
    } bad[] = {
        { "t-first.csv", "loss,epoch\n", "t-first.csv:1: expected the header" },
        { "t-twice.csv", "epoch,a,a\n", "column 'a' comes twice" },
        { "t-empty-name.csv", "epoch,,a\n", "t-empty-name.csv:1: expected the header" },
        { "t-fields.csv", "epoch,a\n1\n", "t-fields.csv:2: 1 fields, expected 2 (epoch,a)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = put_text(bad[i].name, bad[i].text);
        rc = dlh_metrics_table_read(path, &t);
        ok(rc == DLH_EDATA && t.names == NULL && strstr(dlh_error_get(), bad[i].want),
           "%s refused: %s", bad[i].name, dlh_error_get());
    }
}

static void test_rundir(void)
{
    dlh_rundir *rd = NULL;
    int rc = dlh_rundir_open(dir, "curves-run", NULL, &rd);
    ok(rc == 0, "run directory opened (%s)", dlh_error_get());
    if (rc)
        return;
    char svg[4200];
    snprintf(svg, sizeof svg, "%s/curves-run/curves.svg", dir);
    ok(access(svg, R_OK) == 0, "curves.svg exists from the start");
    dlh_epoch_row row = { 1, 0.5, 0.8, 0.6, 0.75, 1e-3, 2, 100, 0, { 0 } };
    rc = dlh_rundir_metrics(rd, &row);
    row.epoch = 2;
    row.train_loss = 0.4;
    rc = rc ? rc : dlh_rundir_metrics(rd, &row);
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/curves-run/metrics.csv", dir);
    dlh_epoch_row *rows = NULL;
    size_t n = 0;
    int rc2 = dlh_metrics_read(csv, &rows, &n);
    ok(rc == 0 && rc2 == 0 && n == 2 && rows[1].train_loss == 0.4 &&
       rows[0].val_accuracy == 0.75, "metrics.csv the run wrote reads back (%s)",
       dlh_error_get());
    free(rows);
    FILE *f = fopen(svg, "r");
    char buf[16384];
    size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[got] = '\0';
    ok(strstr(buf, "curves-run (2 epochs)") != NULL, "curves.svg redrawn after each epoch");
    dlh_rundir_close(rd);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    tmpdir_make(dir, sizeof dir, base, "dlhost-curves");
    test_read();
    test_svg();
    test_table();
    test_rundir();
    if (tmpdir_remove(dir) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
