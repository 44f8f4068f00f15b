/* The csv dataset reader: good files in every supported form, and every
 * kind of bad input with its exact message (file:line, what was expected). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "reader_open.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

static char dir[4096];
static const dlh_dataset_ops *csv;
static int n_files;

/* Writes text to a fresh file in the temp folder; returns its path. */
static const char *put(const char *text)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/f%d.csv", dir, ++n_files);
    tmpdir_write(path, text, strlen(text));
    return path;
}

/* Opens the csv reader over the params text "path = ...; <extra>", checks
   unused keys and fills info as the experiment does. */
static void open_csv(reader_opened *o, const char *path, const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text, "type = \"csv\"; path = \"%s\"; %s", path, extra);
    reader_open(o, csv, dir, text);
}

/* Opening `text` with `extra` params fails with rc and exactly `want`
   (a %s in want stands for the file's path). */
static void bad(const char *what, const char *text, const char *extra, int rc,
                const char *want)
{
    const char *path = put(text);
    char full[8400];
    reader_opened o;
    open_csv(&o, path, extra);
    snprintf(full, sizeof full, want, path);
    ok(o.rc == rc, "%s: rc %d (%s)", what, o.rc, dlh_strerror(o.rc));
    if (!ok(strcmp(o.msg, full) == 0, "%s: message", what))
        diag("got  '%s'\n#   want '%s'", o.msg, full);
    reader_close(&o);
}

/* Opening fails with rc and a message containing `part`. */
static void bad_part(const char *what, const char *text, const char *extra, int rc,
                     const char *part)
{
    reader_opened o;
    open_csv(&o, put(text), extra);
    ok(o.rc == rc, "%s: rc %d (%s)", what, o.rc, dlh_strerror(o.rc));
    if (!ok(strstr(o.msg, part) != NULL, "%s: message names the problem", what))
        diag("got '%s', want it to contain '%s'", o.msg, part);
    reader_close(&o);
}

static int floats_eq(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            diag("element %zu: got %.9g, want %.9g", i, a[i], b[i]);
            return 0;
        }
    return 1;
}

static void test_class_no_header(void)
{
    reader_opened o;
    open_csv(&o, put("1,2,3,0\n4,5,6,2\n7.5,-8,9e1,1\n"), "");
    ok(o.rc == 0, "class labels, no header: opens (%s)", o.msg);
    ok(o.info.n_samples == 3, "3 samples");
    ok(o.info.sample.ndim == 1 && o.info.sample.dim[0] == 3, "sample shape [3]");
    ok(o.info.label_kind == DLH_LABEL_CLASS, "class labels");
    ok(o.info.n_classes == 3, "n_classes = 1 + max label = 3 (got %lld)",
       (long long)o.info.n_classes);
    int64_t idx[] = { 2, 0, 2 };
    float x[9], y[3];
    const float wx[] = { 7.5f, -8.0f, 90.0f, 1, 2, 3, 7.5f, -8.0f, 90.0f };
    const float wy[] = { 1, 0, 1 };
    ok(csv->read(o.state, idx, 3, x, y) == 0, "read by index");
    ok(floats_eq(x, wx, 9), "features of rows 2, 0, 2");
    ok(floats_eq(y, wy, 3), "labels of rows 2, 0, 2");
    ok(csv->read(o.state, idx, 1, x, NULL) == 0 && x[0] == 7.5f, "read without labels");
    int64_t oob[] = { 0, 3 };
    ok(csv->read(o.state, oob, 2, x, y) == DLH_EINVAL, "index 3 of 3 rows: DLH_EINVAL");
    char want[4300];
    snprintf(want, sizeof want, "%s/f%d.csv: sample index 3 is out of range [0, 3)", dir,
             n_files);
    ok(strcmp(dlh_error_get(), want) == 0, "out-of-range message: %s", dlh_error_get());
    int64_t neg[] = { -1 };
    ok(csv->read(o.state, neg, 1, x, y) == DLH_EINVAL, "index -1: DLH_EINVAL");
    reader_close(&o);
}

/* stream = true: the rows parsed from the file at each read give the same
   values in any order (2, 0, 2: back to the top), a bad row failing there;
   the weights are held. */
static void test_stream(void)
{
    reader_opened o;
    open_csv(&o, put("\xEF\xBB\xBF" "a,b,w,c\r\n1.5,2,0.5,3\r\n-4e-1,5,2,6\r\n\r\n"),
             "header = true; label = \"dense\"; weight_column = 2; stream = true;");
    ok(o.rc == 0 && o.info.n_samples == 2 && o.info.sample.dim[0] == 2,
       "stream: BOM, header, CRLF, dense, weights: opens, 2 samples (%s)", o.msg);
    int64_t idx[] = { 1, 0, 1, 1 };
    float x[8], y[4], w[2];
    const float wx[] = { -0.4f, 5, 1.5f, 2, -0.4f, 5, -0.4f, 5 }, wy[] = { 6, 3, 6, 6 };
    ok(csv->read(o.state, idx, 4, x, y) == 0 && floats_eq(x, wx, 8) && floats_eq(y, wy, 4),
       "stream: rows 1, 0, 1, 1 read back");
    ok(csv->read_weights(o.state, idx, 2, w) == 0 && w[0] == 2 && w[1] == 0.5f,
       "stream: the weights");
    ok(csv->read(o.state, idx, 1, x, NULL) == 0 && x[0] == -0.4f, "stream: without labels");
    reader_close(&o);

    open_csv(&o, put("1,2,3,0\n4,5,6,2\n7.5,-8,9e1,1\n"), "stream = true;");
    int64_t i3[] = { 2, 0, 2 };
    float x3[9], y3[3];
    const float wx3[] = { 7.5f, -8.0f, 90.0f, 1, 2, 3, 7.5f, -8.0f, 90.0f };
    const float wy3[] = { 1, 0, 1 };
    ok(o.rc == 0 && o.info.n_classes == 3 && csv->read(o.state, i3, 3, x3, y3) == 0 &&
       floats_eq(x3, wx3, 9) && floats_eq(y3, wy3, 3),
       "stream: class labels, rows 2, 0, 2 (%s)", o.msg);
    reader_close(&o);

    open_csv(&o, put("1,2,0\n1,x,1\n"), "stream = true;");
    ok(o.rc == DLH_EDATA && strstr(o.msg, ":2: field 2: 'x' is not a number"),
       "stream: a bad field is found at open (%s)", o.msg);
    reader_close(&o);
}

static void test_header_crlf_dense(void)
{
    reader_opened o;
    open_csv(&o, put("a,b,c\r\n1.5,2,3\r\n-4e-1,5,6\r\n\r\n"),
             "header = true; label = \"dense\";");
    ok(o.rc == 0, "header + CRLF + dense: opens (%s)", o.msg);
    ok(o.info.n_samples == 2, "2 samples (header and blank tail skipped)");
    ok(o.info.sample.ndim == 1 && o.info.sample.dim[0] == 2, "sample shape [2]");
    ok(o.info.label_kind == DLH_LABEL_DENSE && o.info.label.ndim == 1 &&
       o.info.label.dim[0] == 1, "dense label shape [1]");
    ok(o.info.n_classes == 0, "no classes for dense labels");
    int64_t idx[] = { 0, 1 };
    float x[4], y[2];
    const float wx[] = { 1.5f, 2, -0.4f, 5 }, wy[] = { 3, 6 };
    ok(csv->read(o.state, idx, 2, x, y) == 0 && floats_eq(x, wx, 4) && floats_eq(y, wy, 2),
       "values read back (-4e-1 = -0.4)");
    reader_close(&o);

    open_csv(&o, put("1,2,3,4\n5,6,7,8"), "label = \"dense\"; label_columns = 2;");
    ok(o.rc == 0, "two dense label columns, no final newline: opens (%s)", o.msg);
    ok(o.info.sample.dim[0] == 2 && o.info.label.dim[0] == 2, "sample [2], label [2]");
    float x2[4], y2[4];
    const float wx2[] = { 5, 6, 1, 2 }, wy2[] = { 7, 8, 3, 4 };
    int64_t idx2[] = { 1, 0 };
    ok(csv->read(o.state, idx2, 2, x2, y2) == 0 && floats_eq(x2, wx2, 4) &&
       floats_eq(y2, wy2, 4), "last two columns are the label");
    reader_close(&o);
}

static void test_delimiters_and_columns(void)
{
    reader_opened o;
    open_csv(&o, put("1; 2 ;3\n 4;5;6 \n"), "delimiter = \";\";");
    ok(o.rc == 0, "';' delimiter with spaces around fields: opens (%s)", o.msg);
    float x[4], y[2];
    int64_t idx[] = { 0, 1 };
    const float wx[] = { 1, 2, 4, 5 }, wy[] = { 3, 6 };
    ok(csv->read(o.state, idx, 2, x, y) == 0 && floats_eq(x, wx, 4) && floats_eq(y, wy, 2),
       "';' values read back");
    reader_close(&o);

    open_csv(&o, put("1\t2\t0\n3\t4\t1\n"), "delimiter = \"\\t\";");
    ok(o.rc == 0 && o.info.n_samples == 2 && o.info.sample.dim[0] == 2,
       "tab delimiter (%s)", o.msg);
    reader_close(&o);

    open_csv(&o, put("3,1,2\n0,4,5\n"), "label_column = 0;");
    ok(o.rc == 0, "label_column = 0: opens (%s)", o.msg);
    ok(o.info.n_classes == 4, "n_classes 4 from label 3");
    const float wx0[] = { 1, 2, 4, 5 }, wy0[] = { 3, 0 };
    ok(csv->read(o.state, idx, 2, x, y) == 0 && floats_eq(x, wx0, 4) &&
       floats_eq(y, wy0, 2), "first column is the label, the rest features");
    reader_close(&o);

    open_csv(&o, put("1,7,2\n3,8,4\n"), "label_column = -2;");
    const float wx1[] = { 1, 2, 3, 4 }, wy1[] = { 7, 8 };
    ok(o.rc == 0 && csv->read(o.state, idx, 2, x, y) == 0 && floats_eq(x, wx1, 4) &&
       floats_eq(y, wy1, 2), "label_column = -2 counts from the end");
    reader_close(&o);

    open_csv(&o, put("1,2\n3,4\n"), "label = \"none\";");
    ok(o.rc == 0 && o.info.label_kind == DLH_LABEL_NONE && o.info.sample.dim[0] == 2,
       "label none: every column is a feature (%s)", o.msg);
    reader_close(&o);

    open_csv(&o, put("1,2,3,4,1\n5,6,7,8,0\n"), "shape = [2, 2];");
    ok(o.rc == 0 && o.info.sample.ndim == 2 && o.info.sample.dim[0] == 2 &&
       o.info.sample.dim[1] == 2, "shape [2, 2] over 4 features (%s)", o.msg);
    reader_close(&o);

    open_csv(&o, put("\xEF\xBB\xBFx,y\n1,2\n"), "header = true;");
    ok(o.rc == 0 && o.info.n_samples == 1, "a UTF-8 byte order mark is skipped (%s)", o.msg);
    reader_close(&o);
    open_csv(&o, put("\xEF\xBB\xBF" "1.5,2\n"), "");
    float bx, by;
    int64_t i0 = 0;
    ok(o.rc == 0 && csv->read(o.state, &i0, 1, &bx, &by) == 0 && bx == 1.5f && by == 2.0f,
       "a byte order mark before a number is not part of it");
    reader_close(&o);

    open_csv(&o, put("1,2\n\n \n\t\n"), "");
    ok(o.rc == 0 && o.info.n_samples == 1, "blank (and whitespace) trailing lines are fine");
    reader_close(&o);
}

static void test_bad_rows(void)
{
    bad("short row", "1,2,3\n4,5\n", "", DLH_EDATA, "%s:2: expected 3 fields, got 2");
    bad("long row", "1,2\n3,4\n5,6,7\n", "", DLH_EDATA, "%s:3: expected 2 fields, got 3");
    bad("short row under a header", "a,b,c\n1,2\n", "header = true;", DLH_EDATA,
        "%s:2: expected 3 fields, got 2");
    bad("CRLF line numbers", "1,2\r\n3,4\r\n5\r\n", "", DLH_EDATA,
        "%s:3: expected 2 fields, got 1");
    bad("word", "1,2,3\n4,abc,6\n", "", DLH_EDATA, "%s:2: field 2: 'abc' is not a number");
    bad("trailing junk", "1.5x,2\n", "", DLH_EDATA, "%s:1: field 1: '1.5x' is not a number");
    bad("two numbers in a field", "1 2,3\n", "", DLH_EDATA,
        "%s:1: field 1: '1 2' is not a number");
    bad("empty field", "1,,3\n", "", DLH_EDATA, "%s:1: field 2 is empty, expected a number");
    bad("nan", "nan,1\n", "", DLH_EDATA, "%s:1: field 1: 'nan' is not a finite number");
    bad("overflow", "1e39,1\n", "", DLH_EDATA, "%s:1: field 1: '1e39' is not a finite number");
    bad("negative class", "1,2,-1\n", "", DLH_EDATA,
        "%s:1: field 3: class label '-1' is not an integer in [0, 16777216)");
    bad("fractional class", "1,2,0\n1,2,2.5\n", "", DLH_EDATA,
        "%s:2: field 3: class label '2.5' is not an integer in [0, 16777216)");
    bad("class 2^24", "1,16777216\n", "", DLH_EDATA,
        "%s:1: field 2: class label '16777216' is not an integer in [0, 16777216)");
    bad("empty file", "", "", DLH_EDATA, "%s: empty file");
    bad("header only", "a,b\n", "header = true;", DLH_EDATA,
        "%s: no data rows after the header");
    bad("blank lines only", "\n\n", "", DLH_EDATA, "%s: no data rows");
    bad("blank header", "\n1,2\n", "header = true;", DLH_EDATA,
        "%s:1: the header line is empty (header = true)");
    bad("blank line inside", "1,2\n\n3,4\n", "", DLH_EDATA,
        "%s:2: blank line inside the data (rows follow on line 3)");
}

static void test_bad_params(void)
{
    char path[4300], want[8600];
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    reader_opened o;
    open_csv(&o, path, "");
    snprintf(want, sizeof want, "%s/exp.cfg:1: data.train: parameter 'path': no such "
             "file: '%s'", dir, path);
    ok(o.rc == DLH_ECONFIG && strcmp(o.msg, want) == 0,
       "missing file: a config error located at 'path': '%s'", o.msg);
    reader_close(&o);
    /* A folder is there but cannot be read as a file: an I/O error. */
    open_csv(&o, dir, "");
    snprintf(want, sizeof want, "%s: not a regular file (a folder)", dir);
    ok(o.rc == DLH_EIO && strcmp(o.msg, want) == 0, "a folder: DLH_EIO, '%s'", o.msg);
    reader_close(&o);
    /* A FIFO would block the open forever; alarm() turns a hang into a failure. */
    snprintf(path, sizeof path, "%s/fifo.csv", dir);
    if (mkfifo(path, 0600) == 0) {
        alarm(20);
        open_csv(&o, path, "");
        alarm(0);
        snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", path);
        ok(o.rc == DLH_EIO && strcmp(o.msg, want) == 0, "a FIFO: refused at once, '%s'",
           o.msg);
        reader_close(&o);
    } else {
        skip("mkfifo failed: no FIFO to test with");
    }
    open_csv(&o, "/dev/zero", "");
    ok(o.rc == DLH_EIO && strcmp(o.msg, "/dev/zero: not a regular file (a character "
                                 "device)") == 0, "/dev/zero: refused, '%s'", o.msg);
    reader_close(&o);

    bad_part("two-character delimiter", "1,2\n", "delimiter = \"ab\";", DLH_ECONFIG,
             "exp.cfg:1: data.train: parameter 'delimiter': expected one character");
    bad_part("digit delimiter", "1,2\n", "delimiter = \"1\";", DLH_ECONFIG,
             "parameter 'delimiter'");
    bad_part("label choice", "1,2\n", "label = \"dens\";", DLH_ECONFIG, "\"dense\"");
    bad_part("shape product", "1,2,3,4,0\n", "shape = [2, 3];", DLH_ECONFIG,
             "parameter 'shape': [2, 3] has 6 elements");
    bad_part("shape not integer", "1,2,0\n", "shape = [1.5];", DLH_ECONFIG,
             "parameter 'shape': expected positive integers, got 1.5");
    bad_part("label_column outside", "1,2,3\n", "label_column = 3;", DLH_ECONFIG,
             "parameter 'label_column': 3 is not a column of");
    bad_part("label_column with dense", "1,2,3\n",
             "label = \"dense\"; label_column = 0;", DLH_ECONFIG,
             "parameter 'label_column' is only for label = \"class\"");
    bad_part("label_columns with class", "1,2,3\n", "label_columns = 2;", DLH_ECONFIG,
             "parameter 'label_columns' is only for label = \"dense\"");
    bad_part("dense labels leave no feature", "1,2\n",
             "label = \"dense\"; label_columns = 2;", DLH_ECONFIG,
             "parameter 'label_columns': 2 label columns leave no feature");
    bad_part("class label alone", "1\n2\n", "", DLH_ECONFIG, "has 1 field (a label needs a feature too: is the delimiter ',' right?)");
    bad_part("unknown parameter", "1,2\n", "heder = true;", DLH_ECONFIG,
             "unknown parameter 'heder' \u2014 did you mean 'header'?");
}

static void test_size_limit(void)
{
    char path[4300], want[8700];
    snprintf(path, sizeof path, "%s/huge.csv", dir);
    FILE *f = fopen(path, "wb");
    /* Sparse: takes no disk space. */
    int made = f && ftruncate(fileno(f), ((off_t)1 << 30) + 1) == 0;
    if (f)
        fclose(f);
    if (!made) {
        skip("cannot make a sparse 1 GiB file here");
        skip("cannot make a sparse 1 GiB file here");
        return;
    }
    reader_opened o;
    open_csv(&o, path, "");
    snprintf(want, sizeof want, "%s: 1073741825 bytes is over the csv reader's limit of "
             "1 GiB", path);
    ok(o.rc == DLH_EDATA, "file over 1 GiB refused");
    if (!ok(strcmp(o.msg, want) == 0, "size message"))
        diag("got '%s'", o.msg);
    reader_close(&o);
    unlink(path);
}

int main(void)
{
    if (!getenv("DLHOST_PLUGIN_PATH"))
        skip_all("DLHOST_PLUGIN_PATH is not set (run through make check)");
    tmpdir_make(dir, sizeof dir, NULL, "test_csv");
    dlh_registry_load_all(0);
    const dlh_component *c = dlh_registry_find(DLH_KIND_DATASET, "csv");
    if (!c) {
        printf("Bail out! no csv dataset: %s\n", dlh_error_get());
        return 1;
    }
    csv = c->ops;

    test_class_no_header();
    test_header_crlf_dense();
    test_stream();
    test_delimiters_and_columns();
    test_bad_rows();
    test_bad_params();
    test_size_limit();

    tmpdir_remove(dir);
    dlh_registry_clear();
    return done_testing();
}
