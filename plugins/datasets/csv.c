/* The csv dataset: a numeric CSV file read whole into floats at open.
 *
 * Each row is one sample: its feature columns, and a class label (one
 * column, `label_column`), a dense label (the last `label_columns` columns)
 * or no label, and optionally a per-sample weight (`weight_column`: a
 * finite number >= 0, given to the loss as the sample's weight).  Parsing is strict, because a silently misread number trains
 * a wrong model: every row has the same field count, every field is a whole
 * finite number, class labels are integers in [0, 2^24) (exact as floats).
 * Blank lines may only end the file; CRLF line ends and a UTF-8 byte order
 * mark are accepted; quoting is not (numbers never need it).
 *
 * `stream = true` holds no sample in memory (`dlhost predict`): open checks
 * the whole file line by line as above, keeping only the sample weights,
 * and read parses the rows it is asked for, going on from the last one read
 * (reading in order costs one pass; a row before it starts again from the
 * top).  There is no size limit then. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets.h"

/* Larger files are refused: they are almost certainly not meant for a
   reader that holds everything in memory as floats. */
#define CSV_MAX_BYTES ((int64_t)1 << 30)
/* Floats represent every integer below 2^24 exactly. */
#define CSV_MAX_CLASS 16777216.0f

enum { CSV_LABEL_CLASS = 0, CSV_LABEL_DENSE, CSV_LABEL_NONE };

typedef struct csv_state {
    char *path;                 /* for messages */
    float *x;                   /* rows x n_feat */
    float *y;                   /* rows x n_label */
    float *w;                   /* rows: weight_column's values, or NULL */
    int64_t rows, n_feat, n_label;
    int label_kind;             /* dlh_label_kind */
    int64_t n_classes;
    dlh_shape sample;
    /* stream = true: the open file, the line buffer, the field layout and
       where the next data row (`cur`) starts. */
    int stream;
    FILE *f;
    char *lbuf;
    size_t lcap;
    long data_start;
    int header;
    char delim;
    int64_t fields, label_col, weight_col, cur, line_no;
} csv_state;

/* A line of the file: [start, start + len), without its "\r\n". */
typedef struct csv_line {
    char *start;
    size_t len;
} csv_line;

/* The lines of a buffer, or (f set) of a file read with getline. */
typedef struct csv_iter {
    char *buf;
    size_t size, pos;
    csv_state *st;              /* with f: its lbuf */
    FILE *f;
    int err;                    /* a read error (message set) */
} csv_iter;

/* The next line after *pos; 0 at the end of the buffer. */
static int csv_next_line(char *buf, size_t size, size_t *pos, csv_line *line)
{
    if (*pos >= size)
        return 0;
    char *s = buf + *pos;
    char *nl = memchr(s, '\n', size - *pos);
    size_t len = nl ? (size_t)(nl - s) : size - *pos;
    *pos += len + (nl ? 1 : 0);
    if (len > 0 && s[len - 1] == '\r')
        len--;
    line->start = s;
    line->len = len;
    return 1;
}

/* The next line of it; 0 at the end (it->err set on a read error). */
static int csv_iter_next(csv_iter *it, csv_line *line)
{
    if (!it->f)
        return csv_next_line(it->buf, it->size, &it->pos, line);
    ssize_t n = getline(&it->st->lbuf, &it->st->lcap, it->f);
    if (n < 0) {
        if (ferror(it->f)) {
            datasets_host->error("%s: read error: %s", it->st->path, strerror(errno));
            it->err = DLH_EIO;
        }
        return 0;
    }
    size_t len = (size_t)n;
    char *s = it->st->lbuf;
    if (len > 0 && s[len - 1] == '\n')
        len--;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    line->start = s;
    line->len = len;
    return 1;
}

static int csv_is_space(char c, char delim)
{
    return (c == ' ' || c == '\t') && c != delim;
}

static int csv_is_blank(const csv_line *l)
{
    for (size_t i = 0; i < l->len; i++)
        if (l->start[i] != ' ' && l->start[i] != '\t' && l->start[i] != '\r')
            return 0;
    return 1;
}

static int64_t csv_count_fields(const csv_line *l, char delim)
{
    int64_t n = 1;
    for (size_t i = 0; i < l->len; i++)
        n += l->start[i] == delim;
    return n;
}

/* Reads the whole regular file at path into a NUL-terminated buffer. */
static int csv_slurp(dlh_params *p, const char *path, char **out, size_t *size)
{
    const dlh_host *host = datasets_host;
    struct stat st;
    int rc;
    FILE *f = datasets_fopen(p, "path", path, &st, &rc);
    if (!f)
        return rc;
    if ((int64_t)st.st_size > CSV_MAX_BYTES) {
        host->error("%s: %lld bytes is over the csv reader's limit of 1 GiB",
                    path, (long long)st.st_size);
        fclose(f);
        return DLH_EDATA;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        host->error("%s: out of memory reading %zu bytes", path, n);
        fclose(f);
        return DLH_ENOMEM;
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        host->error("%s: read error (%zu of %zu bytes)", path, got, n);
        free(buf);
        return DLH_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    *size = n;
    return 0;
}

/* Parses field text s (NUL-terminated, trimmed) as a finite float. */
static int csv_number(const csv_state *st, int64_t line_no, int64_t field,
                      const char *s, float *v)
{
    const dlh_host *host = datasets_host;
    if (*s == '\0') {
        host->error("%s:%lld: field %lld is empty, expected a number", st->path,
                    (long long)line_no, (long long)field);
        return DLH_EDATA;
    }
    char *end;
    errno = 0;
    *v = strtof(s, &end);
    if (end == s || *end != '\0') {
        host->error("%s:%lld: field %lld: '%.40s' is not a number", st->path,
                    (long long)line_no, (long long)field, s);
        return DLH_EDATA;
    }
    if (!isfinite(*v)) {
        host->error("%s:%lld: field %lld: '%.40s' is not a finite number", st->path,
                    (long long)line_no, (long long)field, s);
        return DLH_EDATA;
    }
    return 0;
}

/* Pass 1: checks field counts and blank lines, counts the data rows. */
static int csv_scan(csv_state *st, csv_iter *it, int header, char delim,
                    int64_t *fields, int64_t *rows)
{
    const dlh_host *host = datasets_host;
    csv_line l;
    int64_t line_no = 0, expected = 0, n = 0, blank_at = 0;
    while (csv_iter_next(it, &l)) {
        line_no++;
        if (header && line_no == 1) {
            if (csv_is_blank(&l)) {
                host->error("%s:1: the header line is empty (header = true)", st->path);
                return DLH_EDATA;
            }
            expected = csv_count_fields(&l, delim);
            continue;
        }
        if (csv_is_blank(&l)) {
            if (!blank_at)
                blank_at = line_no;
            continue;
        }
        if (blank_at) {
            host->error("%s:%lld: blank line inside the data (rows follow on line %lld)",
                        st->path, (long long)blank_at, (long long)line_no);
            return DLH_EDATA;
        }
        int64_t f = csv_count_fields(&l, delim);
        if (!expected)
            expected = f;
        else if (f != expected) {
            host->error("%s:%lld: expected %lld fields, got %lld", st->path,
                        (long long)line_no, (long long)expected, (long long)f);
            return DLH_EDATA;
        }
        n++;
    }
    if (it->err)
        return it->err;
    if (n == 0) {
        host->error("%s: no data rows%s", st->path, header ? " after the header" : "");
        return DLH_EDATA;
    }
    *fields = expected;
    *rows = n;
    return 0;
}

/* What field f of a row is, given the label column (class), the label
   columns (dense: the last n_label fields) and the weight column (-1: none). */
enum { CSV_FEATURE, CSV_CLASS, CSV_DENSE, CSV_WEIGHT };

static int csv_role(const csv_state *st, int64_t fields, int64_t f, int64_t label_col,
                    int64_t weight_col)
{
    if (f == weight_col)
        return CSV_WEIGHT;
    if (st->label_kind == DLH_LABEL_CLASS && f == label_col)
        return CSV_CLASS;
    if (st->label_kind == DLH_LABEL_DENSE && f >= fields - st->n_label)
        return CSV_DENSE;
    return CSV_FEATURE;
}

/* Parses line l (line_no of the file) into x, y (n_label values; may be
   NULL when there are none) and *w; a class label above *max_label raises
   it. */
static int csv_parse_row(csv_state *st, const csv_line *l, int64_t line_no, int64_t fields,
                         int64_t label_col, int64_t weight_col, float *x, float *y, float *w,
                         int64_t *max_label)
{
    const dlh_host *host = datasets_host;
    char delim = st->delim;
    float *yd = y;
    char *s = l->start, *line_end = l->start + l->len;
    for (int64_t f = 0; f < fields; f++) {
        char *e = memchr(s, delim, (size_t)(line_end - s));
        if (!e)
            e = line_end;
        char *next = e + 1;
        while (s < e && csv_is_space(*s, delim))
            s++;
        while (e > s && csv_is_space(e[-1], delim))
            e--;
        /* Safe: e points at the delimiter, the line end ('\r' or '\n',
           both already consumed by csv_next_line), the trimmed tail or
           the buffer's own terminating NUL. */
        *e = '\0';
        float v;
        int rc = csv_number(st, line_no, f + 1, s, &v);
        if (rc)
            return rc;
        int role = csv_role(st, fields, f, label_col, weight_col);
        if (role == CSV_WEIGHT) {
            if (!(v >= 0.0f)) {
                host->error("%s:%lld: field %lld: weight '%.40s' is negative (sample "
                            "weights are >= 0)", st->path, (long long)line_no,
                            (long long)f + 1, s);
                return DLH_EDATA;
            }
            *w = v + 0.0f;
        } else if (role == CSV_CLASS) {
            if (!(v >= 0.0f && v < CSV_MAX_CLASS && v == floorf(v))) {
                host->error("%s:%lld: field %lld: class label '%.40s' is not an "
                            "integer in [0, 16777216)", st->path,
                            (long long)line_no, (long long)f + 1, s);
                return DLH_EDATA;
            }
            *y = v + 0.0f;    /* turns -0 into 0 */
            if ((int64_t)v > *max_label)
                *max_label = (int64_t)v;
        } else if (role == CSV_DENSE) {
            *yd++ = v;
        } else {
            *x++ = v;
        }
        s = next;
    }
    return 0;
}

/* Pass 2: parses every row into st->x, st->y and st->w (stream: each row
   into their first row, the weights all kept). */
static int csv_parse(csv_state *st, csv_iter *it, int header, int64_t fields,
                     int64_t label_col, int64_t weight_col)
{
    csv_line l;
    int64_t line_no = 0, row = 0, max_label = -1;
    float wv;
    while (csv_iter_next(it, &l)) {
        line_no++;
        if ((header && line_no == 1) || csv_is_blank(&l))
            continue;
        int64_t at = st->stream ? 0 : row;
        int rc = csv_parse_row(st, &l, line_no, fields, label_col, weight_col,
                               st->x + at * st->n_feat,
                               st->y ? st->y + at * st->n_label : NULL,
                               st->w ? st->w + row : &wv, &max_label);
        if (rc)
            return rc;
        row++;
    }
    st->n_classes = st->label_kind == DLH_LABEL_CLASS ? max_label + 1 : 0;
    return it->err;
}

static int csv_open(const dlh_host *host, dlh_params *p, void **state)
{
    static const char *const label_names[] = { "class", "dense", "none", NULL };
    csv_state *st = calloc(1, sizeof *st);
    if (!st) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    *state = st;

    const char *path, *delim_s;
    int header, label, stream;
    const int no = 0;
    int64_t label_col = -1, label_cols = 1, weight_col = 0;
    const int64_t def_col = -1, def_cols = 1;
    int has_weight = 0;
    int rc;
    if ((rc = host->param_path(p, "path", NULL, &path)) ||
        (rc = host->param_bool(p, "header", &no, &header)) ||
        (rc = host->param_string(p, "delimiter", ",", &delim_s)) ||
        (rc = host->param_choice(p, "label", label_names, CSV_LABEL_CLASS, &label)) ||
        (rc = host->param_bool(p, "stream", &no, &stream)))
        return rc;
    if (strlen(delim_s) != 1 || strchr("0123456789.+-eE\"\r\n", delim_s[0]))
        return host->param_error(p, "delimiter", "parameter 'delimiter': expected one "
                                 "character that cannot be part of a number, got \"%s\"",
                                 delim_s);
    char delim = delim_s[0];
    st->delim = delim;
    st->stream = stream;
    st->header = header;
    if (label == CSV_LABEL_CLASS) {
        rc = host->param_int(p, "label_column", &def_col, -(1 << 30), (1 << 30) - 1,
                             &label_col);
    } else if (host->param_has(p, "label_column")) {
        return host->param_error(p, "label_column", "parameter 'label_column' is only "
                                 "for label = \"class\"");
    }
    if (rc)
        return rc;
    if (label == CSV_LABEL_DENSE) {
        rc = host->param_int(p, "label_columns", &def_cols, 1, 1 << 30, &label_cols);
    } else if (host->param_has(p, "label_columns")) {
        return host->param_error(p, "label_columns", "parameter 'label_columns' is only "
                                 "for label = \"dense\"");
    }
    if (rc)
        return rc;
    if ((has_weight = host->param_has(p, "weight_column")) &&
        (rc = host->param_int(p, "weight_column", NULL, -(1 << 30), (1 << 30) - 1,
                              &weight_col)))
        return rc;
    float shape_v[DLH_MAX_DIMS];
    size_t shape_n = 0;
    if ((rc = host->param_floats(p, "shape", shape_v, DLH_MAX_DIMS, &shape_n)))
        return rc;
    for (size_t i = 0; i < shape_n; i++)
        if (!(shape_v[i] >= 1.0f && shape_v[i] <= (float)(1 << 30) &&
              shape_v[i] == floorf(shape_v[i])))
            return host->param_error(p, "shape", "parameter 'shape': expected positive "
                                     "integers, got %g", shape_v[i]);

    st->path = strdup(path);
    if (!st->path) {
        host->error("out of memory");
        return DLH_ENOMEM;
    }
    st->label_kind = label == CSV_LABEL_CLASS ? DLH_LABEL_CLASS
                   : label == CSV_LABEL_DENSE ? DLH_LABEL_DENSE : DLH_LABEL_NONE;

    char *buf = NULL;
    size_t size = 0;
    csv_iter it;
    memset(&it, 0, sizeof it);
    it.st = st;
    if (stream) {
        struct stat sb;
        unsigned char bom[3];
        if (!(st->f = datasets_fopen(p, "path", st->path, &sb, &rc)))
            return rc;
        size = (size_t)sb.st_size;
        st->data_start = fread(bom, 1, 3, st->f) == 3 && memcmp(bom, "\xEF\xBB\xBF", 3) == 0
                         ? 3 : 0;
        it.f = st->f;
    } else if ((rc = csv_slurp(p, st->path, &buf, &size))) {
        return rc;
    }
    if (size == 0) {
        host->error("%s: empty file", st->path);
        free(buf);
        return DLH_EDATA;
    }
    /* Spreadsheets like to start a CSV file with a byte order mark. */
    char *text = buf;
    if (!stream && size >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        size -= 3;
    }
    it.buf = text;
    it.size = size;
    int64_t fields, rows;
    if ((stream && fseek(st->f, st->data_start, SEEK_SET) != 0) ||
        (rc = csv_scan(st, &it, header, delim, &fields, &rows)))
        goto out;

    /* One field per row usually means the delimiter is wrong. */
    char hint[80];
    snprintf(hint, sizeof hint, " (a label needs a feature too: is the delimiter '%c' "
             "right?)", delim);
    if (label == CSV_LABEL_CLASS) {
        int64_t col = label_col < 0 ? label_col + fields : label_col;
        if (fields < 2 || col < 0 || col >= fields) {
            rc = host->param_error(p, "label_column", "parameter 'label_column': %lld "
                                   "is not a column of %s, which has %lld field%s%s",
                                   (long long)label_col, st->path, (long long)fields,
                                   fields == 1 ? "" : "s", fields < 2 ? hint : "");
            goto out;
        }
        label_col = col;
        st->n_label = 1;
    } else if (label == CSV_LABEL_DENSE) {
        if (label_cols >= fields) {
            rc = host->param_error(p, "label_columns", "parameter 'label_columns': %lld "
                                   "label columns leave no feature in %s, which has "
                                   "%lld field%s%s", (long long)label_cols, st->path,
                                   (long long)fields, fields == 1 ? "" : "s",
                                   fields == 1 ? hint : "");
            goto out;
        }
        st->n_label = label_cols;
    }
    if (has_weight) {
        int64_t col = weight_col < 0 ? weight_col + fields : weight_col;
        const char *clash = col == label_col && label == CSV_LABEL_CLASS ? "the label column"
                          : label == CSV_LABEL_DENSE && col >= fields - st->n_label
                              ? "a label column" : NULL;
        if (col < 0 || col >= fields || clash ||
            fields - st->n_label - 1 < 1) {
            rc = host->param_error(p, "weight_column", "parameter 'weight_column': %lld "
                                   "%s%s of %s, which has %lld field%s", (long long)weight_col,
                                   clash ? "is " : col < 0 || col >= fields
                                       ? "is not a column" : "leaves no feature",
                                   clash ? clash : "", st->path, (long long)fields,
                                   fields == 1 ? "" : "s");
            goto out;
        }
        weight_col = col;
    } else {
        weight_col = -1;
    }
    st->n_feat = fields - st->n_label - (has_weight ? 1 : 0);
    st->rows = rows;

    if (shape_n == 0) {
        st->sample.ndim = 1;
        st->sample.dim[0] = st->n_feat;
    } else {
        st->sample.ndim = (int32_t)shape_n;
        int64_t numel = 1;
        char dims[128];     /* 5 dims of <= 10 digits fit */
        size_t tl = 0;
        for (size_t i = 0; i < shape_n; i++) {
            st->sample.dim[i] = (int64_t)shape_v[i];
            /* Dims are <= 2^30 and only grow the product: once it passes
               the feature count it is a mismatch, so stop before overflow. */
            if (numel <= st->n_feat)
                numel *= st->sample.dim[i];
            tl += (size_t)snprintf(dims + tl, sizeof dims - tl, "%s%lld", i ? ", " : "",
                                   (long long)st->sample.dim[i]);
        }
        if (numel != st->n_feat) {
            rc = host->param_error(p, "shape", "parameter 'shape': [%s] has %lld "
                                   "elements, %s has %lld feature columns", dims,
                                   (long long)numel, st->path, (long long)st->n_feat);
            goto out;
        }
    }

    /* rows * fields <= 2 * size here (every field but the last in a row takes
       a delimiter byte), so these products cannot overflow. */
    int64_t held = stream ? 1 : rows;
    st->x = malloc((size_t)(held * st->n_feat) * sizeof(float));
    if (st->n_label)
        st->y = malloc((size_t)(held * st->n_label) * sizeof(float));
    if (has_weight)
        st->w = malloc((size_t)rows * sizeof(float));
    if (!st->x || (st->n_label && !st->y) || (has_weight && !st->w)) {
        host->error("%s: out of memory for %lld rows", st->path, (long long)rows);
        rc = DLH_ENOMEM;
        goto out;
    }
    st->fields = fields;
    st->label_col = label_col;
    st->weight_col = weight_col;
    it.pos = 0;
    if (stream && fseek(st->f, st->data_start, SEEK_SET) != 0) {
        host->error("%s: cannot seek: %s", st->path, strerror(errno));
        rc = DLH_EIO;
        goto out;
    }
    rc = csv_parse(st, &it, header, fields, label_col, weight_col);
    st->cur = -1;               /* stream: start again from the top */
out:
    free(buf);
    return rc;
}

static int csv_info(void *state, dlh_dataset_info *info)
{
    csv_state *st = state;
    info->n_samples = st->rows;
    info->sample = st->sample;
    info->label_kind = st->label_kind;
    info->n_classes = st->n_classes;
    if (info->struct_size >= offsetof(dlh_dataset_info, sample_weights) +
                             sizeof info->sample_weights)
        info->sample_weights = st->w != NULL;
    memset(&info->label, 0, sizeof info->label);
    if (st->label_kind == DLH_LABEL_DENSE) {
        info->label.ndim = 1;
        info->label.dim[0] = st->n_label;
    }
    return 0;
}

/* stream = true: rows idx[0..n) parsed from the file, going on from the
   last row read (its scratch rows st->x, st->y take what is not asked). */
static int csv_read_stream(csv_state *st, const int64_t *idx, size_t n, float *x, float *y)
{
    csv_iter it;
    memset(&it, 0, sizeof it);
    it.st = st;
    it.f = st->f;
    size_t nf = (size_t)st->n_feat, nl = (size_t)st->n_label;
    for (size_t i = 0; i < n; i++) {
        if (st->cur < 0 || idx[i] < st->cur) {
            if (fseek(st->f, st->data_start, SEEK_SET) != 0) {
                datasets_host->error("%s: cannot seek: %s", st->path, strerror(errno));
                return DLH_EIO;
            }
            st->cur = 0;
            st->line_no = 0;
        }
        csv_line l;
        int64_t max_label = -1;
        float w;
        for (;;) {
            if (!csv_iter_next(&it, &l)) {
                if (!it.err)
                    datasets_host->error("%s: the file changed while being read (row %lld "
                                         "is gone)", st->path, (long long)idx[i]);
                return it.err ? it.err : DLH_EIO;
            }
            st->line_no++;
            if ((st->header && st->line_no == 1) || csv_is_blank(&l))
                continue;
            if (st->cur++ == idx[i])
                break;
        }
        int rc = csv_parse_row(st, &l, st->line_no, st->fields, st->label_col, st->weight_col,
                               x + i * nf, y && nl ? y + i * nl : st->y, &w, &max_label);
        if (rc)
            return rc;
    }
    return 0;
}

static int csv_read(void *state, const int64_t *idx, size_t n, float *x, float *y)
{
    csv_state *st = state;
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= st->rows) {
            datasets_host->error("%s: sample index %lld is out of range [0, %lld)",
                                 st->path, (long long)idx[i], (long long)st->rows);
            return DLH_EINVAL;
        }
    size_t nf = (size_t)st->n_feat, nl = (size_t)st->n_label;
    if (st->stream)
        return csv_read_stream(st, idx, n, x, y);
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * nf, st->x + (size_t)idx[i] * nf, nf * sizeof(float));
        if (y && nl)
            memcpy(y + i * nl, st->y + (size_t)idx[i] * nl, nl * sizeof(float));
    }
    return 0;
}

static int csv_read_weights(void *state, const int64_t *idx, size_t n, float *w)
{
    csv_state *st = state;
    for (size_t i = 0; i < n; i++) {
        if (!st->w || idx[i] < 0 || idx[i] >= st->rows) {
            datasets_host->error("%s: no weight for sample %lld", st->path,
                                 (long long)idx[i]);
            return DLH_EINVAL;
        }
        w[i] = st->w[idx[i]];
    }
    return 0;
}

static void csv_close(void *state)
{
    csv_state *st = state;
    if (!st)
        return;
    free(st->x);
    free(st->y);
    free(st->w);
    free(st->path);
    free(st->lbuf);
    if (st->f)
        fclose(st->f);
    free(st);
}

const dlh_dataset_ops csv_ops = {
    .struct_size = sizeof(dlh_dataset_ops),
    .open = csv_open,
    .info = csv_info,
    .read = csv_read,
    .close = csv_close,
    .read_weights = csv_read_weights,
};

/* Parameter table (plugin.h): checked by the host against every read. */
const dlh_param_doc csv_params[] = {
    { "path", DLH_PARAM_PATH, NULL, 0, 0, NULL, "the CSV file, relative to the configuration file" },
    { "header", DLH_PARAM_BOOL, "false", 0, 0, NULL, "skip the first line" },
    { "delimiter", DLH_PARAM_STRING, ",", 0, 0, NULL, "one character that cannot be part of a number" },
    { "label", DLH_PARAM_CHOICE, "class", 0, 0, "class|dense|none", "one class index column, label_columns dense target columns, or no label" },
    { "label_column", DLH_PARAM_INT, "-1", -(1 << 30), (1 << 30) - 1, NULL, "the class column, negative from the end; only with label = class" },
    { "label_columns", DLH_PARAM_INT, "1", 1, 1 << 30, NULL, "the last this many columns are the dense target; only with label = dense" },
    { "weight_column", DLH_PARAM_INT, "", -(1 << 30), (1 << 30) - 1, NULL, "a column of per-sample loss weights, negative from the end; unset: none" },
    { "shape", DLH_PARAM_FLOATS, "", 0, 0, NULL, "each sample's feature shape, positive integers whose product is the feature count; unset: flat" },
    { "stream", DLH_PARAM_BOOL, "false", 0, 0, NULL, "read rows from the file at each read instead of holding them (no size limit)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};
