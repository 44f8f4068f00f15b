/* Experiment files over libconfig, and the typed parameter views of their
 * groups that components read through the host table. */
#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dlhost/status.h>

#include "error.h"
#include "file.h"

/* libconfig's own limit; a cycle of @includes stops here too. */
#define DLH_INCLUDE_DEPTH 10
/* Longest string value quoted back in a message. */
#define DLH_SHOW_MAX 60

/* Before 1.7, libconfig records an included file under the name written in
   the @include (relative to the include folder) and truncates decimal or hex
   integers that do not fit in 32 bits unless they carry an L suffix. */
#if LIBCONFIG_VER_MAJOR == 1 && LIBCONFIG_VER_MINOR < 7
#define DLH_LIBCONFIG_OLD 1
#else
#define DLH_LIBCONFIG_OLD 0
#endif

/* A setting made by --set, so that messages about it name the assignment
   rather than a line of the file it never came from. */
struct set_origin {
    const config_setting_t *s;
    char *text;
};

struct dlh_config {
    config_t cfg;                   /* never moved: settings point back at it */
    char *path;
    char *dir;
    struct set_origin *sets;
    size_t n_sets, cap_sets;
};

struct dlh_params {
    dlh_config *c;
    config_setting_t *group;        /* NULL for dlh_params_empty */
    char *label;
    char **known;                   /* reserved keys, then every key asked for */
    size_t n_known, cap_known;
    char **owned;                   /* strings handed out (resolved paths) */
    size_t n_owned, cap_owned;
    const dlh_param_doc *doc;       /* the reading component's table, or NULL */
    size_t n_doc;
    const dlh_params *parent;       /* keys absent here are looked up there */
    int sets_only;                  /* the file's own keys are invisible */
};

/* ------------------------------------------------------------ small helpers */

static int grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*items, n * elem);
    if (!p)
        return DLH_ENOMEM;
    *items = p;
    *cap = n;
    return 0;
}

static int oom(void)
{
    dlh_error_set("out of memory");
    return DLH_ENOMEM;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* "dir/name", or name alone when it is absolute or dir is ".". */
static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/' || strcmp(dir, ".") == 0)
        return strdup(name);
    size_t nd = strlen(dir), nn = strlen(name);
    char *s = malloc(nd + nn + 2);
    if (!s)
        return NULL;
    memcpy(s, dir, nd);
    s[nd] = '/';
    memcpy(s + nd + 1, name, nn + 1);
    return s;
}

/* The name a message shows for a file libconfig recorded. */
static void shown_file(const dlh_config *c, const char *file, char *buf, size_t size)
{
    if (!file)
        snprintf(buf, size, "%s", c->path);
    else if (DLH_LIBCONFIG_OLD && file[0] != '/' && strcmp(c->dir, ".") != 0)
        snprintf(buf, size, "%s/%s", c->dir, file);
    else
        snprintf(buf, size, "%s", file);
}

/* An experiment file (and each file it includes) is text of at most this
   size, which also bounds what all of them together may take. */
#define DLH_CONFIG_MAX_BYTES ((size_t)16 << 20)

/* Reads the experiment file or an @include: a regular file of at most
   `max` bytes, without NUL bytes (libconfig would stop there silently).
   The message names the path. */
static int read_text(const char *path, size_t max, char **out, size_t *len)
{
    int rc = dlh_file_read_all(path, max, out, len);
    if (rc < 0)
        return rc;
    if (strlen(*out) != *len) {
        free(*out);
        *out = NULL;
        dlh_error_set("%s: not a text file (contains a NUL byte)", path);
        return DLH_EDATA;
    }
    return 0;
}

/* ------------------------------------------------------------ @include checks */

struct scan {
    const char *dir;                /* the experiment's folder, as given */
    char *dir_real;                 /* and resolved */
    char **names;                   /* every file read, for the literal check */
    char **texts;
    size_t n, cap;
    size_t bytes;                   /* read so far, of DLH_CONFIG_MAX_BYTES */
};

static void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->names[i]);
        free(sc->texts[i]);
    }
    free(sc->names);
    free(sc->texts);
    free(sc->dir_real);
}

static int scan_add(struct scan *sc, char *name, char *text)
{
    size_t cap = sc->cap;
    if (grow((void **)&sc->names, &cap, sc->n + 1, sizeof *sc->names) < 0)
        goto fail;
    cap = sc->cap;
    if (grow((void **)&sc->texts, &cap, sc->n + 1, sizeof *sc->texts) < 0)
        goto fail;
    sc->cap = cap;
    sc->names[sc->n] = name;
    sc->texts[sc->n] = text;
    sc->n++;
    return 0;
fail:
    free(name);
    free(text);
    return oom();
}

static int has_dotdot(const char *name)
{
    for (const char *p = name; *p; ) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

static int scan_includes(struct scan *sc, const char *file, const char *text, int depth);

/* One @include naming `name`, found at file:line. */
static int scan_one(struct scan *sc, const char *file, unsigned line, const char *name,
                    int depth)
{
    if (name[0] == '/' || has_dotdot(name)) {
        dlh_error_set("%s:%u: @include \"%s\": included files must lie inside the "
                      "experiment's folder (no absolute path, no '..')", file, line, name);
        return DLH_ECONFIG;
    }
    if (depth >= DLH_INCLUDE_DEPTH) {
        dlh_error_set("%s:%u: @include \"%s\": includes nested deeper than %d levels",
                      file, line, name, DLH_INCLUDE_DEPTH);
        return DLH_ECONFIG;
    }
    /* Resolved only here, so that a text config may be named after a file
       that does not exist as long as it includes nothing. */
    if (!sc->dir_real && !(sc->dir_real = realpath(sc->dir, NULL))) {
        dlh_error_set("%s:%u: @include \"%s\": folder %s: %s", file, line, name, sc->dir,
                      strerror(errno));
        return DLH_EIO;
    }
    char *full = join_path(sc->dir, name);
    if (!full)
        return oom();
    char *real = realpath(full, NULL);
    if (!real) {
        dlh_error_set("%s:%u: @include \"%s\": %s", file, line, name, strerror(errno));
        free(full);
        return DLH_EIO;
    }
    /* A symbolic link may still lead out of the folder. */
    size_t nd = strlen(sc->dir_real);
    int inside = strncmp(real, sc->dir_real, nd) == 0 &&
                 (real[nd] == '/' || (nd == 1 && sc->dir_real[0] == '/'));
    free(real);
    if (!inside) {
        dlh_error_set("%s:%u: @include \"%s\": resolves to a file outside the "
                      "experiment's folder", file, line, name);
        free(full);
        return DLH_ECONFIG;
    }
    char *sub = NULL;
    size_t len = 0;
    int rc = read_text(full, DLH_CONFIG_MAX_BYTES, &sub, &len);
    if (rc == 0 && len > DLH_CONFIG_MAX_BYTES - sc->bytes) {
        free(sub);
        dlh_error_set("with it, the experiment file and its includes pass the limit of "
                      "%zu MiB in all", DLH_CONFIG_MAX_BYTES >> 20);
        rc = DLH_EDATA;
    }
    if (rc < 0) {
        dlh_error_prefix("%s:%u: @include \"%s\": ", file, line, name);
        free(full);
        return rc;
    }
    sc->bytes += len;
    rc = scan_add(sc, full, sub);
    if (rc < 0)
        return rc;
    return scan_includes(sc, full, sub, depth + 1);
}

/* libconfig takes a line starting with optional blanks and `@include "` as an
   include wherever it stands; this looks at every such line, in comments and
   strings too, so that it can only refuse more than libconfig would open. */
static int scan_includes(struct scan *sc, const char *file, const char *text, int depth)
{
    unsigned line = 1;
    for (const char *p = text; *p; line++) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, "@include", 8) == 0 && (q[8] == ' ' || q[8] == '\t')) {
            q += 8;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '"') {
                const char *start = ++q;
                while (*q && *q != '"' && *q != '\n' && *q != '\\')
                    q++;
                if (*q != '"') {
                    dlh_error_set("%s:%u: @include: expected a file name in double "
                                  "quotes on one line, without backslashes", file, line);
                    return DLH_ECONFIG;
                }
                if (q == start) {
                    dlh_error_set("%s:%u: @include: empty file name", file, line);
                    return DLH_ECONFIG;
                }
                char *name = strndup(start, (size_t)(q - start));
                if (!name)
                    return oom();
                int rc = scan_one(sc, file, line, name, depth);
                free(name);
                if (rc < 0)
                    return rc;
            }
        }
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

/* ------------------------------------------------------------ integer literals */

/* Refuses integer literals that libconfig would silently truncate or clamp:
   beyond 64 bits always, beyond 32 bits without an L suffix before 1.7. */
static int check_literals(const char *file, const char *text)
{
    unsigned line = 1;
    const char *p = text;
    while (*p) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\n') {
            line++;
            p++;
        } else if (ch == '#' || (ch == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (ch == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/'))
                line += *p++ == '\n';
            if (*p)
                p += 2;
        } else if (ch == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                line += *p++ == '\n';
            }
            if (*p)
                p++;
        } else if (isalpha(ch) || ch == '*' || ch == '_') {
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '*')
                p++;
        } else if (isdigit(ch) || ((ch == '-' || ch == '+') && isdigit((unsigned char)p[1]))) {
            const char *start = p;
            int neg = ch == '-';
            if (ch == '-' || ch == '+')
                p++;
            int hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
            unsigned long long v = 0;
            int over = 0;
            if (hex) {
                for (p += 2; isxdigit((unsigned char)*p); p++) {
                    if (v >> 60)
                        over = 1;
                    v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0'
                                            : tolower((unsigned char)*p) - 'a' + 10);
                }
            } else {
                for (; isdigit((unsigned char)*p); p++) {
                    if (v > (ULLONG_MAX - 9) / 10)
                        over = 1;
                    v = v * 10 + (unsigned)(*p - '0');
                }
                if (*p == '.' || *p == 'e' || *p == 'E') {
                    /* a float: libconfig reads it with strtod */
                    while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' ||
                           *p == 'E' || ((*p == '-' || *p == '+') &&
                                         (p[-1] == 'e' || p[-1] == 'E')))
                        p++;
                    continue;
                }
            }
            int wide = *p == 'L';
            while (*p == 'L')
                p++;
            unsigned long long lim64 = neg && !hex ? (unsigned long long)INT64_MAX + 1
                                                   : (unsigned long long)INT64_MAX;
            unsigned long long lim32 = neg && !hex ? (unsigned long long)INT32_MAX + 1
                                                   : (unsigned long long)INT32_MAX;
            int len = (int)(p - start);
            if (over || v > lim64) {
                dlh_error_set("%s:%u: integer %.*s is out of the 64-bit range",
                              file, line, len, start);
                return DLH_ECONFIG;
            }
            if (DLH_LIBCONFIG_OLD && !wide && v > lim32) {
                dlh_error_set("%s:%u: integer %.*s does not fit in 32 bits; write %.*sL "
                              "for a 64-bit integer", file, line, len, start, len, start);
                return DLH_ECONFIG;
            }
        } else {
            p++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ loading */

static void config_free_parts(dlh_config *c)
{
    for (size_t i = 0; i < c->n_sets; i++)
        free(c->sets[i].text);
    free(c->sets);
    free(c->path);
    free(c->dir);
    free(c);
}

/* Parses `text` (the contents of `name`; `own` is handed over). */
static int config_parse(char *own, const char *name, dlh_config **out)
{
    *out = NULL;
    struct scan sc = { 0 };
    dlh_config *c = calloc(1, sizeof *c);
    if (!c) {
        free(own);
        return oom();
    }
    c->path = strdup(name);
    c->dir = dir_of(name);
    if (!c->path || !c->dir) {
        free(own);
        config_free_parts(c);
        return oom();
    }
    sc.dir = c->dir;
    sc.bytes = strlen(own);
    char *own_name = strdup(name);
    if (!own_name) {
        free(own);
        scan_free(&sc);
        config_free_parts(c);
        return oom();
    }
    const char *text = own;
    int rc = scan_add(&sc, own_name, own);
    if (rc == 0)
        rc = scan_includes(&sc, name, text, 0);
    if (rc < 0) {
        scan_free(&sc);
        config_free_parts(c);
        return rc;
    }

    config_init(&c->cfg);
    config_set_include_dir(&c->cfg, c->dir);
    if (config_read_string(&c->cfg, text) != CONFIG_TRUE) {
        char file[1024];
        shown_file(c, config_error_file(&c->cfg), file, sizeof file);
        const char *why = config_error_text(&c->cfg);
        dlh_error_set("%s:%d: %s", file, config_error_line(&c->cfg),
                      why ? why : "syntax error");
        rc = DLH_ECONFIG;
    }
    for (size_t i = 0; rc == 0 && i < sc.n; i++)
        rc = check_literals(sc.names[i], sc.texts[i]);
    scan_free(&sc);
    if (rc < 0) {
        dlh_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int dlh_config_load(const char *path, dlh_config **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(path, DLH_CONFIG_MAX_BYTES, &text, &len);
    if (rc < 0)
        return rc;
    return config_parse(text, path, out);
}

int dlh_config_load_string(const char *text, const char *name, dlh_config **out)
{
    *out = NULL;
    char *own = strdup(text ? text : "");
    if (!own)
        return oom();
    return config_parse(own, name ? name : "<string>", out);
}

void dlh_config_free(dlh_config *c)
{
    if (!c)
        return;
    config_destroy(&c->cfg);
    config_free_parts(c);
}

const char *dlh_config_path(const dlh_config *c)
{
    return c->path;
}

const char *dlh_config_dir(const dlh_config *c)
{
    return c->dir;
}

config_setting_t *dlh_config_root(dlh_config *c)
{
    return config_root_setting(&c->cfg);
}

/* ------------------------------------------------------------ --set */

static int set_record(dlh_config *c, const config_setting_t *s, const char *text)
{
    if (grow((void **)&c->sets, &c->cap_sets, c->n_sets + 1, sizeof *c->sets) < 0)
        return oom();
    char *t = strdup(text);
    if (!t)
        return oom();
    c->sets[c->n_sets].s = s;
    c->sets[c->n_sets].text = t;
    c->n_sets++;
    return 0;
}

static void set_forget(dlh_config *c, const config_setting_t *s)
{
    for (size_t i = 0; i < c->n_sets; i++)
        if (c->sets[i].s == s)
            c->sets[i].s = NULL;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '*'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '*'))
            return 0;
    return 1;
}

struct set_value {
    int type;
    long long i;
    double f;
    const char *s;
};

/* Reads the text after '=' as a bool, an integer, a float or else a string. */
static int set_parse_value(char *v, const char *assignment, struct set_value *out)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        out->type = CONFIG_TYPE_STRING;
        out->s = v + 1;
        return 0;
    }
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
        out->type = CONFIG_TYPE_BOOL;
        out->i = strcasecmp(v, "true") == 0;
        return 0;
    }
    /* Decimal numbers only: "1e5" is a float, "0x10" or "inf" a string. */
    const char *p = v + (v[0] == '-' || v[0] == '+');
    int digits = 0, dot = 0, expo = 0, ok = *p != '\0';
    for (; *p && ok; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (*p == '.' && !dot && !expo)
            dot = 1;
        else if ((*p == 'e' || *p == 'E') && digits && !expo) {
            expo = 1;
            if (p[1] == '-' || p[1] == '+')
                p++;
            ok = isdigit((unsigned char)p[1]);
        } else
            ok = 0;
    }
    if (!ok || !digits) {
        out->type = CONFIG_TYPE_STRING;
        out->s = v;
        return 0;
    }
    errno = 0;
    if (!dot && !expo) {
        out->i = strtoll(v, NULL, 10);
        if (errno == ERANGE) {
            dlh_error_set("--set \"%s\": integer out of the 64-bit range", assignment);
            return DLH_ECONFIG;
        }
        out->type = out->i >= INT_MIN && out->i <= INT_MAX ? CONFIG_TYPE_INT
                                                           : CONFIG_TYPE_INT64;
        return 0;
    }
    out->f = strtod(v, NULL);
    if (!isfinite(out->f)) {
        dlh_error_set("--set \"%s\": number out of range", assignment);
        return DLH_ECONFIG;
    }
    out->type = CONFIG_TYPE_FLOAT;
    return 0;
}

static const char *kind_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_ARRAY: return "an array";
    default: return "a single value";
    }
}

static int set_apply(dlh_config *c, const char *assignment, char *path, char *value)
{
    struct set_value v = { 0 };
    int rc = set_parse_value(value, assignment, &v);
    if (rc < 0)
        return rc;

    /* Check the whole path before creating anything. */
    for (char *p = path; ; ) {
        char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_name(p, n)) {
            dlh_error_set("--set \"%s\": '%s' is not a valid setting path (names "
                          "start with a letter; use '.' between group names)",
                          assignment, path);
            return DLH_ECONFIG;
        }
        if (!dot)
            break;
        p = dot + 1;
    }

    config_setting_t *cur = config_root_setting(&c->cfg);
    char *p = path;
    for (char *dot; (dot = strchr(p, '.')); p = dot + 1) {
        *dot = '\0';
        config_setting_t *next = config_setting_get_member(cur, p);
        if (next && !config_setting_is_group(next)) {
            dlh_error_set("--set \"%s\": '%s' is %s, not a group", assignment, path,
                          kind_name(config_setting_type(next)));
            return DLH_ECONFIG;
        }
        if (!next) {
            next = config_setting_add(cur, p, CONFIG_TYPE_GROUP);
            if (!next || set_record(c, next, assignment) < 0)
                return oom();
        }
        *dot = '.';
        cur = next;
    }
    config_setting_t *old = config_setting_get_member(cur, p);
    if (old && config_setting_is_aggregate(old)) {
        dlh_error_set("--set \"%s\": '%s' is %s; --set replaces only a single value",
                      assignment, path, kind_name(config_setting_type(old)));
        return DLH_ECONFIG;
    }
    if (old) {
        set_forget(c, old);
        config_setting_remove(cur, p);
    }
    config_setting_t *s = config_setting_add(cur, p, v.type);
    if (!s)
        return oom();
    int ok = CONFIG_TRUE;
    switch (v.type) {
    case CONFIG_TYPE_INT: ok = config_setting_set_int(s, (int)v.i); break;
    case CONFIG_TYPE_INT64: ok = config_setting_set_int64(s, v.i); break;
    case CONFIG_TYPE_FLOAT: ok = config_setting_set_float(s, v.f); break;
    case CONFIG_TYPE_BOOL: ok = config_setting_set_bool(s, (int)v.i); break;
    default: ok = config_setting_set_string(s, v.s); break;
    }
    if (ok != CONFIG_TRUE)
        return oom();
    return set_record(c, s, assignment);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int dlh_config_set(dlh_config *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        dlh_error_set("--set \"%s\": expected KEY=VALUE (e.g. train.epochs=3)",
                      assignment);
        return DLH_ECONFIG;
    }
    char *copy = strdup(assignment);
    if (!copy)
        return oom();
    copy[eq - assignment] = '\0';
    char *path = trim(copy), *value = trim(copy + (eq - assignment) + 1);
    int rc;
    if (!*path) {
        dlh_error_set("--set \"%s\": no setting name before '='", assignment);
        rc = DLH_ECONFIG;
    } else if (!*value) {
        dlh_error_set("--set \"%s\": no value after '=' (write %s=\"\" for an empty "
                      "string)", assignment, path);
        rc = DLH_ECONFIG;
    } else {
        rc = set_apply(c, assignment, path, value);
    }
    free(copy);
    return rc;
}

/* ------------------------------------------------------------ locations */

static void setting_where(const dlh_config *c, const config_setting_t *s, char *buf,
                          size_t size)
{
    if (!c) {
        if (size)
            buf[0] = '\0';
        return;
    }
    for (size_t i = c->n_sets; s && i-- > 0; )
        if (c->sets[i].s == s) {
            snprintf(buf, size, "--set %s", c->sets[i].text);
            return;
        }
    char file[1024];
    shown_file(c, s ? config_setting_source_file(s) : NULL, file, sizeof file);
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (line)
        snprintf(buf, size, "%s:%u", file, line);
    else
        snprintf(buf, size, "%s", file);
}

/* Whether p reads s: every key of its group, or under dlh_params_sets_only
   those --set made. */
static int visible(const dlh_params *p, const config_setting_t *s)
{
    if (!p->sets_only)
        return 1;
    for (size_t i = 0; p->c && i < p->c->n_sets; i++)
        if (p->c->sets[i].s == s)
            return 1;
    return 0;
}

static config_setting_t *member(const dlh_params *p, const char *key)
{
    config_setting_t *s = NULL;
    if (p->group && key && config_setting_is_group(p->group))
        s = config_setting_get_member(p->group, key);
    if (s && !visible(p, s))
        s = NULL;
    return s || !p->parent ? s : member(p->parent, key);
}

void dlh_params_set_parent(dlh_params *p, const dlh_params *parent)
{
    p->parent = parent;
}

void dlh_params_sets_only(dlh_params *p)
{
    p->sets_only = 1;
}

void dlh_params_set_doc(dlh_params *p, const dlh_param_doc *doc, size_t n)
{
    if (p) {
        p->doc = doc;
        p->n_doc = doc ? n : 0;
    }
}

const dlh_param_doc *dlh_params_doc(const dlh_params *p, size_t *n)
{
    *n = p ? p->n_doc : 0;
    return p ? p->doc : NULL;
}

void dlh_params_where(const dlh_params *p, const char *key, char *buf, size_t size)
{
    config_setting_t *s = member(p, key);
    setting_where(p->c, s ? s : p->group, buf, size);
}

/* Sets "where: label: message" located at s (or the group); DLH_ECONFIG. */
static int fail_atv(dlh_params *p, const config_setting_t *s, const char *fmt, va_list ap)
{
    char where[1200], msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    setting_where(p->c, s ? s : p->group, where, sizeof where);
    dlh_error_set("%s%s%s%s%s", where, *where ? ": " : "", p->label,
                  *p->label ? ": " : "", msg);
    return DLH_ECONFIG;
}

static int fail_at(dlh_params *p, const config_setting_t *s, const char *fmt, ...)
    DLH_PRINTF(3, 4);
static int fail_at(dlh_params *p, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_atv(p, s, fmt, ap);
    va_end(ap);
    return rc;
}

/* What a setting holds, as a message shows it. */
static void describe(const config_setting_t *s, char *buf, size_t size)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        snprintf(buf, size, "%d", config_setting_get_int(s));
        break;
    case CONFIG_TYPE_INT64:
        snprintf(buf, size, "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, size, "%g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING: {
        const char *v = config_setting_get_string(s);
        int n = (int)strlen(v);
        if (n > DLH_SHOW_MAX)
            snprintf(buf, size, "\"%.*s...\"", DLH_SHOW_MAX, v);
        else
            snprintf(buf, size, "\"%s\"", v);
        break;
    }
    case CONFIG_TYPE_GROUP: snprintf(buf, size, "a group"); break;
    case CONFIG_TYPE_LIST: snprintf(buf, size, "a list"); break;
    case CONFIG_TYPE_ARRAY: snprintf(buf, size, "an array"); break;
    default: snprintf(buf, size, "nothing"); break;
    }
}

/* "parameter 'key': expected <what>, got <value>" at the key's line. */
static int fail_expected(dlh_params *p, const char *key, const config_setting_t *s,
                         const char *what)
{
    char got[128];
    describe(s, got, sizeof got);
    return fail_at(p, s, "parameter '%s': expected %s, got %s", key, what, got);
}

/* ------------------------------------------------------------ params */

static int known_has(const dlh_params *p, const char *key)
{
    for (size_t i = 0; i < p->n_known; i++)
        if (strcmp(p->known[i], key) == 0)
            return 1;
    return 0;
}

static int known_add(dlh_params *p, const char *key)
{
    if (known_has(p, key))
        return 0;
    if (grow((void **)&p->known, &p->cap_known, p->n_known + 1, sizeof *p->known) < 0)
        return oom();
    char *k = strdup(key);
    if (!k)
        return oom();
    p->known[p->n_known++] = k;
    return 0;
}

dlh_params *dlh_params_new(dlh_config *c, config_setting_t *group, const char *label,
                           const char *const *reserved)
{
    dlh_params *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->c = c;
    p->group = group;
    p->label = strdup(label ? label : "");
    if (!p->label) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; reserved && reserved[i]; i++)
        if (known_add(p, reserved[i]) < 0) {
            dlh_params_free(p);
            return NULL;
        }
    return p;
}

dlh_params *dlh_params_empty(dlh_config *c, const char *label)
{
    return dlh_params_new(c, NULL, label, NULL);
}

void dlh_params_free(dlh_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_known; i++)
        free(p->known[i]);
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->known);
    free(p->owned);
    free(p->label);
    free(p);
}

const char *dlh_params_label(const dlh_params *p)
{
    return p->label;
}

int dlh_params_check_unused(dlh_params *p)
{
    if (!p->group || !config_setting_is_group(p->group))
        return 0;
    int n = config_setting_length(p->group);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(p->group, (unsigned)i);
        const char *name = config_setting_name(m);
        if (!name || known_has(p, name) || !visible(p, m))
            continue;
        const char *near = dlh_closest(name, (const char *const *)p->known, p->n_known);
        if (near)
            return fail_at(p, m, "unknown parameter '%s' \u2014 did you mean '%s'?",
                           name, near);
        return fail_at(p, m, "unknown parameter '%s'", name);
    }
    return 0;
}

/* Optimal string alignment distance: Levenshtein plus the swap of two
   adjacent characters as one edit, the commonest typo ("rleu" for "relu"). */
size_t dlh_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    size_t stack[3][64], *buf = NULL;
    size_t *prev2 = stack[0], *prev = stack[1], *row = stack[2];
    if (nb >= 64) {
        buf = malloc(3 * (nb + 1) * sizeof *buf);
        if (!buf)
            return na > nb ? na : nb;
        prev2 = buf;
        prev = buf + nb + 1;
        row = buf + 2 * (nb + 1);
    }
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = row;
        row = t;
    }
    size_t d = prev[nb];
    free(buf);
    return d;
}

const char *dlh_closest(const char *word, const char *const *candidates, size_t n)
{
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = dlh_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* Records `key` as known and finds it; DLH_ENOMEM only. */
static int lookup(dlh_params *p, const char *key, config_setting_t **out)
{
    *out = NULL;
    int rc = known_add(p, key);
    if (rc < 0)
        return rc;
    *out = member(p, key);
    return 0;
}

/* A missing required key is often a misspelt one that is present: point at
   the misspelling rather than only at the group. */
static int missing(dlh_params *p, const char *key)
{
    if (p->group && config_setting_is_group(p->group)) {
        int n = config_setting_length(p->group);
        for (int i = 0; i < n; i++) {
            config_setting_t *m = config_setting_get_elem(p->group, (unsigned)i);
            const char *name = config_setting_name(m);
            const char *const cand[1] = { key };
            if (name && !known_has(p, name) && visible(p, m) &&
                dlh_closest(name, cand, 1))
                return fail_at(p, m, "missing required parameter '%s' "
                               "(found '%s' — did you mean '%s'?)", key, name, key);
        }
    }
    return fail_at(p, NULL, "missing required parameter '%s'", key);
}

static int bad_call(const char *what)
{
    dlh_error_set("parameter access: %s", what);
    return DLH_EINVAL;
}

/* ------------------------------------------------------------ accessors */

static void int_range(int64_t min, int64_t max, char *buf, size_t size)
{
    if (min == INT64_MIN && max == INT64_MAX)
        snprintf(buf, size, "an integer");
    else if (max == INT64_MAX)
        snprintf(buf, size, "an integer >= %lld", (long long)min);
    else if (min == INT64_MIN)
        snprintf(buf, size, "an integer <= %lld", (long long)max);
    else
        snprintf(buf, size, "an integer in [%lld, %lld]", (long long)min, (long long)max);
}

int dlh_param_int(dlh_params *p, const char *key, const int64_t *def, int64_t min,
                  int64_t max, int64_t *out)
{
    if (!p || !key || !out)
        return bad_call("NULL argument to param_int");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    if (!s) {
        if (!def)
            return missing(p, key);
        *out = *def;
        return 0;
    }
    char what[96];
    int_range(min, max, what, sizeof what);
    int64_t v;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        v = config_setting_get_int(s);
        break;
    case CONFIG_TYPE_INT64:
        v = config_setting_get_int64(s);
        break;
    case CONFIG_TYPE_FLOAT: {
        /* 512.0 is an integer; 2.5 or 1e30 is not. */
        double f = config_setting_get_float(s);
        if (!isfinite(f) || f != floor(f) || f < -9223372036854775808.0 ||
            f >= 9223372036854775808.0)
            return fail_expected(p, key, s, what);
        v = (int64_t)f;
        break;
    }
    default:
        return fail_expected(p, key, s, what);
    }
    if (v < min || v > max)
        return fail_expected(p, key, s, what);
    *out = v;
    return 0;
}

static void float_range(double min, double max, char *buf, size_t size)
{
    int lo = min > -DBL_MAX, hi = max < DBL_MAX;
    if (!lo && !hi)
        snprintf(buf, size, "a finite number");
    else if (!hi)
        snprintf(buf, size, "a number >= %g", min);
    else if (!lo)
        snprintf(buf, size, "a number <= %g", max);
    else
        snprintf(buf, size, "a number in [%g, %g]", min, max);
}

int dlh_param_float(dlh_params *p, const char *key, const double *def, double min,
                    double max, double *out)
{
    if (!p || !key || !out)
        return bad_call("NULL argument to param_float");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    if (!s) {
        if (!def)
            return missing(p, key);
        *out = *def;
        return 0;
    }
    char what[96];
    float_range(min, max, what, sizeof what);
    double v;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT: v = config_setting_get_int(s); break;
    case CONFIG_TYPE_INT64: v = (double)config_setting_get_int64(s); break;
    case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
    default: return fail_expected(p, key, s, what);
    }
    if (!isfinite(v) || v < min || v > max)
        return fail_expected(p, key, s, what);
    *out = v;
    return 0;
}

int dlh_param_bool(dlh_params *p, const char *key, const int *def, int *out)
{
    if (!p || !key || !out)
        return bad_call("NULL argument to param_bool");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    if (!s) {
        if (!def)
            return missing(p, key);
        *out = *def;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail_expected(p, key, s, "true or false");
    *out = config_setting_get_bool(s);
    return 0;
}

int dlh_param_string(dlh_params *p, const char *key, const char *def, const char **out)
{
    if (!p || !key || !out)
        return bad_call("NULL argument to param_string");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    if (!s) {
        if (!def)
            return missing(p, key);
        *out = def;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail_expected(p, key, s, "a string");
    *out = config_setting_get_string(s);
    return 0;
}

int dlh_param_choice(dlh_params *p, const char *key, const char *const *choices,
                     int def_index, int *out)
{
    if (!p || !key || !choices || !out)
        return bad_call("NULL argument to param_choice");
    int n = 0;
    while (choices[n])
        n++;
    if (def_index >= n)
        return bad_call("param_choice default beyond the choices");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    if (!s) {
        if (def_index < 0)
            return missing(p, key);
        *out = def_index;
        return 0;
    }
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(s);
        for (int i = 0; i < n; i++)
            if (strcmp(v, choices[i]) == 0) {
                *out = i;
                return 0;
            }
    }
    char what[1024] = "one of ";
    size_t len = strlen(what);
    for (int i = 0; i < n && len < sizeof what; i++)
        len += (size_t)snprintf(what + len, sizeof what - len, "%s\"%s\"",
                                i ? ", " : "", choices[i]);
    return fail_expected(p, key, s, what);
}

/* One number of a float list into *out, or a message naming index i. */
static int float_elem(dlh_params *p, const char *key, const config_setting_t *e, int i,
                      float *out)
{
    char got[128];
    describe(e, got, sizeof got);
    if (!config_setting_is_number(e))
        return fail_at(p, e, "parameter '%s': expected a list of numbers, got %s at "
                       "index %d", key, got, i);
    double v = config_setting_type(e) == CONFIG_TYPE_FLOAT ? config_setting_get_float(e)
               : (double)config_setting_get_int64(e);
    if (!isfinite(v) || fabs(v) > FLT_MAX)
        return fail_at(p, e, "parameter '%s': expected finite numbers within float "
                       "range, got %s at index %d", key, got, i);
    *out = (float)v;
    return 0;
}

int dlh_param_floats(dlh_params *p, const char *key, float *out, size_t max, size_t *n)
{
    if (!p || !key || !n || (!out && max))
        return bad_call("NULL argument to param_floats");
    *n = 0;
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0 || !s)
        return rc;
    if (config_setting_is_number(s)) {
        if (max < 1)
            return fail_at(p, s, "parameter '%s': expected at most %zu numbers, got 1",
                           key, max);
        rc = float_elem(p, key, s, 0, &out[0]);
        if (rc == 0)
            *n = 1;
        return rc;
    }
    if (!config_setting_is_list(s) && !config_setting_is_array(s))
        return fail_expected(p, key, s, "a number or a list of numbers");
    int len = config_setting_length(s);
    if ((size_t)len > max)
        return fail_at(p, s, "parameter '%s': expected at most %zu numbers, got %d",
                       key, max, len);
    for (int i = 0; i < len; i++) {
        rc = float_elem(p, key, config_setting_get_elem(s, (unsigned)i), i, &out[i]);
        if (rc < 0)
            return rc;
    }
    *n = (size_t)len;
    return 0;
}

static int own_string(dlh_params *p, char *s, const char **out)
{
    if (!s)
        return oom();
    if (grow((void **)&p->owned, &p->cap_owned, p->n_owned + 1, sizeof *p->owned) < 0) {
        free(s);
        return oom();
    }
    p->owned[p->n_owned++] = s;
    *out = s;
    return 0;
}

int dlh_param_path(dlh_params *p, const char *key, const char *def, const char **out)
{
    if (!p || !key || !out)
        return bad_call("NULL argument to param_path");
    config_setting_t *s;
    int rc = lookup(p, key, &s);
    if (rc < 0)
        return rc;
    const char *v;
    if (!s) {
        if (!def)
            return missing(p, key);
        v = def;
    } else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        return fail_expected(p, key, s, "a file name");
    } else {
        v = config_setting_get_string(s);
        if (!*v && !def)
            return fail_expected(p, key, s, "a file name");
    }
    if (!*v) {
        *out = "";
        return 0;
    }
    return own_string(p, p->c ? join_path(p->c->dir, v) : strdup(v), out);
}

int dlh_param_has(dlh_params *p, const char *key)
{
    if (!p || !key)
        return 0;
    config_setting_t *s;
    lookup(p, key, &s);
    if (!s)
        s = member(p, key);     /* recording ran out of memory; still answer */
    return s != NULL;
}

int dlh_param_error(dlh_params *p, const char *key, const char *fmt, ...)
{
    if (!p)
        return bad_call("NULL params to param_error");
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_atv(p, member(p, key), fmt, ap);
    va_end(ap);
    return rc;
}
