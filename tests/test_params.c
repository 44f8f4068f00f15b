/* Experiment files and typed parameters: loading, --set, every accessor's
 * values, defaults and error messages, unknown keys, @include confinement. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlhost/status.h>

#include "error.h"
#include "params.h"
#include "tap.h"
#include "tmpdir.h"

static char tmp[4096];

/* rc and the exact message. */
static void is_error(int rc, int want_rc, const char *want, const char *what)
{
    const char *got = dlh_error_get();
    if (!ok(rc == want_rc && strcmp(got, want) == 0, "%s", what)) {
        diag("  got rc %d: %s", rc, got);
        diag(" want rc %d: %s", want_rc, want);
    }
}

static void is_str(const char *got, const char *want, const char *what)
{
    if (!ok(got && strcmp(got, want) == 0, "%s", what))
        diag("got '%s', want '%s'", got ? got : "(null)", want);
}

static char *in_tmp(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", tmp, name);
    return buf;
}

static const char good[] =
    "name = \"exp\";\n"                 /* 1 */
    "layer = {\n"                       /* 2 */
    "  units = 512;\n"                  /* 3 */
    "  rate = 0.25;\n"                  /* 4 */
    "  bias = true;\n"                  /* 5 */
    "  act = \"relu\";\n"               /* 6 */
    "  big = 5000000000L;\n"            /* 7 */
    "  whole = 64.0;\n"                 /* 8 */
    "  mean = (0.5, 1, 2.5);\n"         /* 9 */
    "  std = [0.25, 0.5];\n"            /* 10 */
    "  one = 3;\n"                      /* 11 */
    "  file = \"data/train.csv\";\n"    /* 12 */
    "  abs = \"/srv/x.csv\";\n"         /* 13 */
    "  huge = 1e999;\n"                 /* 14 */
    "  mixed = (1.0, \"x\");\n"         /* 15 */
    "  sub = { a = 1; };\n"             /* 16 */
    "  empty = ();\n"                   /* 17 */
    "  nofile = \"\";\n"                /* 18 */
    "  flt = (1e39);\n"                 /* 19 */
    "};\n"                              /* 20 */
    "model = ( { units = 3; } );\n";    /* 21 */

static void test_happy(dlh_config *c)
{
    config_setting_t *g = config_setting_get_member(dlh_config_root(c), "layer");
    dlh_params *p = dlh_params_new(c, g, "layer 'fc1'", NULL);
    int64_t i = 0;
    double d = 0;
    int b = -1, ci = -1;
    const char *s = NULL;
    float f[4] = { 0 };
    size_t n = 99;

    ok(dlh_param_int(p, "units", NULL, 1, 1048576, &i) == 0 && i == 512, "int: units = 512");
    ok(dlh_param_int(p, "big", NULL, 0, INT64_MAX, &i) == 0 && i == 5000000000LL,
       "int: int64 value 5000000000");
    ok(dlh_param_int(p, "whole", NULL, 0, 100, &i) == 0 && i == 64,
       "int: float with an integer value (64.0) is accepted");
    ok(dlh_param_float(p, "rate", NULL, 0, 1, &d) == 0 && d == 0.25, "float: rate = 0.25");
    ok(dlh_param_float(p, "units", NULL, 0, 1e6, &d) == 0 && d == 512.0,
       "float: an integer is accepted as a number");
    ok(dlh_param_float(p, "big", NULL, -INFINITY, INFINITY, &d) == 0 && d == 5e9,
       "float: an int64 is accepted as a number");
    ok(dlh_param_bool(p, "bias", NULL, &b) == 0 && b == 1, "bool: bias = true");
    ok(dlh_param_string(p, "act", NULL, &s) == 0 && s && strcmp(s, "relu") == 0,
       "string: act = \"relu\"");
    static const char *const acts[] = { "tanh", "relu", "sigmoid", NULL };
    ok(dlh_param_choice(p, "act", acts, -1, &ci) == 0 && ci == 1, "choice: relu is index 1");
    ok(dlh_param_floats(p, "mean", f, 4, &n) == 0 && n == 3 && f[0] == 0.5f &&
       f[1] == 1.0f && f[2] == 2.5f, "floats: list (0.5, 1, 2.5)");
    ok(dlh_param_floats(p, "std", f, 2, &n) == 0 && n == 2 && f[0] == 0.25f && f[1] == 0.5f,
       "floats: array [0.25, 0.5] at exactly max");
    ok(dlh_param_floats(p, "one", f, 4, &n) == 0 && n == 1 && f[0] == 3.0f,
       "floats: a single number is a 1-element list");
    n = 99;
    ok(dlh_param_floats(p, "empty", f, 4, &n) == 0 && n == 0, "floats: empty list gives 0");
    ok(dlh_param_path(p, "file", NULL, &s) == 0, "path: relative file");
    is_str(s, "data/train.csv", "path: folder '.' leaves a relative name as it is");
    ok(dlh_param_path(p, "abs", NULL, &s) == 0, "path: absolute file");
    is_str(s, "/srv/x.csv", "path: absolute name unchanged");
    ok(dlh_param_path(p, "nofile", "", &s) == 0 && s && *s == '\0',
       "path: empty value with an optional default gives \"\"");
    ok(dlh_param_has(p, "sub") == 1 && dlh_param_has(p, "nothere") == 0, "has");

    char where[256];
    dlh_params_where(p, "rate", where, sizeof where);
    is_str(where, "exp.cfg:4", "where: a key's line");
    dlh_params_where(p, NULL, where, sizeof where);
    is_str(where, "exp.cfg:2", "where: the group's line");
    dlh_params_where(p, "absent", where, sizeof where);
    is_str(where, "exp.cfg:2", "where: an absent key gives the group's line");
    is_str(dlh_params_label(p), "layer 'fc1'", "label");
    dlh_params_free(p);
}

static void test_defaults(dlh_config *c)
{
    config_setting_t *g = config_setting_get_member(dlh_config_root(c), "layer");
    dlh_params *p = dlh_params_new(c, g, "layer 'fc1'", NULL);
    int64_t i = 0, di = 7;
    double d = 0, dd = 0.125;
    int b = -1, db = 0, ci = -1;
    const char *s = NULL;
    float f[2];
    size_t n = 99;
    static const char *const acts[] = { "tanh", "relu", NULL };

    ok(dlh_param_int(p, "width", &di, 1, 10, &i) == 0 && i == 7, "default int");
    ok(dlh_param_float(p, "momentum", &dd, 0, 1, &d) == 0 && d == 0.125, "default float");
    ok(dlh_param_bool(p, "nesterov", &db, &b) == 0 && b == 0, "default bool");
    ok(dlh_param_string(p, "mode", "fan_in", &s) == 0 && s && strcmp(s, "fan_in") == 0,
       "default string");
    ok(dlh_param_choice(p, "activation", acts, 0, &ci) == 0 && ci == 0, "default choice");
    ok(dlh_param_floats(p, "weights", f, 2, &n) == 0 && n == 0, "absent floats give n = 0");
    ok(dlh_param_path(p, "out", "", &s) == 0 && s && *s == '\0', "default path \"\"");
    ok(dlh_param_path(p, "out2", "w.bin", &s) == 0, "default path w.bin");
    is_str(s, "w.bin", "default path resolved against '.'");
    dlh_params_free(p);

    /* An empty params answers every accessor with its default. */
    p = dlh_params_empty(c, "optimizer 'sgd'");
    ok(dlh_param_int(p, "units", &di, 1, 10, &i) == 0 && i == 7, "empty: int default");
    ok(dlh_param_float(p, "lr", &dd, 0, 1, &d) == 0 && d == 0.125, "empty: float default");
    ok(dlh_param_bool(p, "x", &db, &b) == 0 && b == 0, "empty: bool default");
    ok(dlh_param_string(p, "x", "y", &s) == 0 && strcmp(s, "y") == 0, "empty: string default");
    ok(dlh_param_choice(p, "x", acts, 1, &ci) == 0 && ci == 1, "empty: choice default");
    ok(dlh_param_floats(p, "x", f, 2, &n) == 0 && n == 0, "empty: floats absent");
    ok(dlh_param_has(p, "x") == 0, "empty: has nothing");
    ok(dlh_params_check_unused(p) == 0, "empty: nothing unused");
    is_error(dlh_param_float(p, "lr", NULL, 0, 1, &d), DLH_ECONFIG,
             "exp.cfg: optimizer 'sgd': missing required parameter 'lr'",
             "empty: a required key is missing, located at the file");
    dlh_params_free(p);
}

static void test_errors(dlh_config *c)
{
    config_setting_t *g = config_setting_get_member(dlh_config_root(c), "layer");
    dlh_params *p = dlh_params_new(c, g, "layer 'fc1'", NULL);
    int64_t i = -5;
    double d = -5;
    int b = -1, ci = -1;
    const char *s = NULL;
    float f[4];
    size_t n = 0;
    static const char *const acts[] = { "tanh", "sigmoid", NULL };

    is_error(dlh_param_int(p, "width", NULL, 1, 10, &i), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'width'",
             "int: missing required key at the group's line");
    ok(i == -5, "int: output untouched on error");
    is_error(dlh_param_int(p, "act", NULL, 1, 10, &i), DLH_ECONFIG,
             "exp.cfg:6: layer 'fc1': parameter 'act': expected an integer in [1, 10], got \"relu\"",
             "int: a string is refused");
    is_error(dlh_param_int(p, "rate", NULL, 0, INT64_MAX, &i), DLH_ECONFIG,
             "exp.cfg:4: layer 'fc1': parameter 'rate': expected an integer >= 0, got 0.25",
             "int: a fraction is refused");
    is_error(dlh_param_int(p, "bias", NULL, INT64_MIN, INT64_MAX, &i), DLH_ECONFIG,
             "exp.cfg:5: layer 'fc1': parameter 'bias': expected an integer, got true",
             "int: a bool is refused");
    is_error(dlh_param_int(p, "units", NULL, 1024, 2048, &i), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected an integer in [1024, 2048], got 512",
             "int: below the range");
    is_error(dlh_param_int(p, "units", NULL, INT64_MIN, 100, &i), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected an integer <= 100, got 512",
             "int: above the range");
    is_error(dlh_param_int(p, "big", NULL, 0, INT32_MAX, &i), DLH_ECONFIG,
             "exp.cfg:7: layer 'fc1': parameter 'big': expected an integer in [0, 2147483647], got 5000000000",
             "int: int64 above the range");
    is_error(dlh_param_int(p, "huge", NULL, INT64_MIN, INT64_MAX, &i), DLH_ECONFIG,
             "exp.cfg:14: layer 'fc1': parameter 'huge': expected an integer, got inf",
             "int: an infinite float is refused");

    is_error(dlh_param_float(p, "act", NULL, 0, 1, &d), DLH_ECONFIG,
             "exp.cfg:6: layer 'fc1': parameter 'act': expected a number in [0, 1], got \"relu\"",
             "float: a string is refused");
    is_error(dlh_param_float(p, "sub", NULL, 0, INFINITY, &d), DLH_ECONFIG,
             "exp.cfg:16: layer 'fc1': parameter 'sub': expected a number >= 0, got a group",
             "float: a group is refused");
    is_error(dlh_param_float(p, "rate", NULL, 0.5, 1, &d), DLH_ECONFIG,
             "exp.cfg:4: layer 'fc1': parameter 'rate': expected a number in [0.5, 1], got 0.25",
             "float: below the range");
    is_error(dlh_param_float(p, "units", NULL, -INFINITY, 100, &d), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected a number <= 100, got 512",
             "float: above the range");
    is_error(dlh_param_float(p, "huge", NULL, -INFINITY, INFINITY, &d), DLH_ECONFIG,
             "exp.cfg:14: layer 'fc1': parameter 'huge': expected a finite number, got inf",
             "float: Inf is refused even without bounds");
    is_error(dlh_param_float(p, "rate2", NULL, 0, 1, &d), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'rate2'",
             "float: missing required key");
    {
        /* A required key that is missing because it is misspelt points at the
           misspelling; a close key that was already read is not one. */
        dlh_config *c2 = NULL;
        ok(dlh_config_load_string("fc1 = {\n  type = \"dense\";\n  unit = 16;\n};\n",
                                  "typo.cfg", &c2) == 0, "loaded the misspelt group");
        dlh_params *p2 = c2 ? dlh_params_new(c2, config_setting_get_member(
                                  dlh_config_root(c2), "fc1"), "layer 'fc1'", NULL)
                            : NULL;
        int64_t units = 0;
        if (p2)
            is_error(dlh_param_int(p2, "units", NULL, 1, 100, &units), DLH_ECONFIG,
                     "typo.cfg:3: layer 'fc1': missing required parameter 'units' "
                     "(found 'unit' — did you mean 'units'?)",
                     "missing required key: the misspelling is named");
        dlh_params_free(p2);
        dlh_config_free(c2);
    }
    /* libconfig 1.5 cannot write NaN in a file; a program can store one. */
    config_setting_t *nan_s = config_setting_add(g, "nanval", CONFIG_TYPE_FLOAT);
    ok(nan_s && config_setting_set_float(nan_s, NAN) == CONFIG_TRUE, "stored a NaN");
    is_error(dlh_param_float(p, "nanval", NULL, -INFINITY, INFINITY, &d), DLH_ECONFIG,
             "exp.cfg: layer 'fc1': parameter 'nanval': expected a finite number, got nan",
             "float: NaN is refused");
    config_setting_remove(g, "nanval");
    ok(d == -5, "float: output untouched on error");

    is_error(dlh_param_bool(p, "units", NULL, &b), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected true or false, got 512",
             "bool: an integer is refused");
    is_error(dlh_param_bool(p, "shuffle", NULL, &b), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'shuffle'",
             "bool: missing required key");
    is_error(dlh_param_string(p, "units", NULL, &s), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected a string, got 512",
             "string: an integer is refused");
    is_error(dlh_param_string(p, "mode", NULL, &s), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'mode'",
             "string: missing required key");
    is_error(dlh_param_choice(p, "act", acts, 0, &ci), DLH_ECONFIG,
             "exp.cfg:6: layer 'fc1': parameter 'act': expected one of \"tanh\", \"sigmoid\", got \"relu\"",
             "choice: a value not among the choices lists them");
    is_error(dlh_param_choice(p, "units", acts, 0, &ci), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected one of \"tanh\", \"sigmoid\", got 512",
             "choice: a number is refused");
    is_error(dlh_param_choice(p, "activation", acts, -1, &ci), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'activation'",
             "choice: missing required key");
    ok(ci == -1, "choice: output untouched on error");

    is_error(dlh_param_floats(p, "mean", f, 2, &n), DLH_ECONFIG,
             "exp.cfg:9: layer 'fc1': parameter 'mean': expected at most 2 numbers, got 3",
             "floats: too many values");
    is_error(dlh_param_floats(p, "one", f, 0, &n), DLH_ECONFIG,
             "exp.cfg:11: layer 'fc1': parameter 'one': expected at most 0 numbers, got 1",
             "floats: a single number where none fit");
    is_error(dlh_param_floats(p, "mixed", f, 4, &n), DLH_ECONFIG,
             "exp.cfg:15: layer 'fc1': parameter 'mixed': expected a list of numbers, got \"x\" at index 1",
             "floats: a string element is refused");
    is_error(dlh_param_floats(p, "sub", f, 4, &n), DLH_ECONFIG,
             "exp.cfg:16: layer 'fc1': parameter 'sub': expected a number or a list of numbers, got a group",
             "floats: a group is refused");
    is_error(dlh_param_floats(p, "act", f, 4, &n), DLH_ECONFIG,
             "exp.cfg:6: layer 'fc1': parameter 'act': expected a number or a list of numbers, got \"relu\"",
             "floats: a string is refused");
    is_error(dlh_param_floats(p, "flt", f, 4, &n), DLH_ECONFIG,
             "exp.cfg:19: layer 'fc1': parameter 'flt': expected finite numbers within float range, got 1e+39 at index 0",
             "floats: a value beyond float range is refused");
    is_error(dlh_param_floats(p, "huge", f, 4, &n), DLH_ECONFIG,
             "exp.cfg:14: layer 'fc1': parameter 'huge': expected finite numbers within float range, got inf at index 0",
             "floats: Inf is refused");
    ok(n == 0, "floats: n = 0 on error");

    is_error(dlh_param_path(p, "units", NULL, &s), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': parameter 'units': expected a file name, got 512",
             "path: a number is refused");
    is_error(dlh_param_path(p, "nofile", NULL, &s), DLH_ECONFIG,
             "exp.cfg:18: layer 'fc1': parameter 'nofile': expected a file name, got \"\"",
             "path: an empty required name is refused");
    is_error(dlh_param_path(p, "weights", NULL, &s), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': missing required parameter 'weights'",
             "path: missing required key");

    is_error(dlh_param_error(p, "units", "units must be even, got %d", 511), DLH_ECONFIG,
             "exp.cfg:3: layer 'fc1': units must be even, got 511",
             "param_error at a key's line");
    is_error(dlh_param_error(p, "nope", "needs %s", "inputs"), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': needs inputs", "param_error at the group's line");
    is_error(dlh_param_error(p, NULL, "bad group"), DLH_ECONFIG,
             "exp.cfg:2: layer 'fc1': bad group", "param_error with no key");
    dlh_params_free(p);
}

static void test_unused(void)
{
    static const char text[] =
        "a = { units = 3; unit = 4; };\n"
        "b = {\n"
        "  type = \"dense\";\n"
        "  name = \"fc1\";\n"
        "  zzzz = 1;\n"
        "};\n"
        "c = { type = \"sgd\"; nme = \"x\"; lr = 0.1; };\n"
        "d = { type = \"sgd\"; lr = 0.1; };\n";
    dlh_config *c = NULL;
    ok(dlh_config_load_string(text, "u.cfg", &c) == 0, "load the unknown-key config");
    if (!c)
        return;
    config_setting_t *root = dlh_config_root(c);
    static const char *const reserved[] = { "type", "name", "inputs", NULL };
    int64_t i;
    double d;

    dlh_params *p = dlh_params_new(c, config_setting_get_member(root, "a"), "layer 'fc1'", reserved);
    ok(dlh_param_int(p, "units", NULL, 1, 10, &i) == 0 && i == 3, "read units");
    is_error(dlh_params_check_unused(p), DLH_ECONFIG,
             "u.cfg:1: layer 'fc1': unknown parameter 'unit' \u2014 did you mean 'units'?",
             "unknown key with a suggestion");
    dlh_params_free(p);

    p = dlh_params_new(c, config_setting_get_member(root, "b"), "layer 'fc1'", reserved);
    int64_t def = 1;
    ok(dlh_param_int(p, "zzzy_not", &def, 1, 10, &i) == 0, "read an absent key");
    is_error(dlh_params_check_unused(p), DLH_ECONFIG,
             "u.cfg:5: layer 'fc1': unknown parameter 'zzzz'",
             "unknown key without a suggestion; reserved keys before it are not reported");
    dlh_params_free(p);

    p = dlh_params_new(c, config_setting_get_member(root, "c"), "optimizer 'sgd'", reserved);
    ok(dlh_param_float(p, "lr", NULL, 0, 1, &d) == 0, "read lr");
    is_error(dlh_params_check_unused(p), DLH_ECONFIG,
             "u.cfg:7: optimizer 'sgd': unknown parameter 'nme' \u2014 did you mean 'name'?",
             "a reserved key is suggested too");
    dlh_params_free(p);

    p = dlh_params_new(c, config_setting_get_member(root, "d"), "optimizer 'sgd'", reserved);
    ok(dlh_param_float(p, "lr", NULL, 0, 1, &d) == 0, "read lr");
    ok(dlh_params_check_unused(p) == 0, "reserved and read keys: nothing unknown");
    dlh_params_free(p);

    /* A key read for its default is a candidate too. */
    p = dlh_params_new(c, config_setting_get_member(root, "a"), "layer 'x'", NULL);
    ok(dlh_param_int(p, "units", NULL, 1, 10, &i) == 0, "read units");
    ok(dlh_param_int(p, "unix", &def, 1, 10, &i) == 0 && i == 1, "read absent unix");
    ok(dlh_params_check_unused(p) == DLH_ECONFIG &&
       strstr(dlh_error_get(), "unknown parameter 'unit' \u2014 did you mean 'units'?") != NULL,
       "ties go to the first key read");
    dlh_params_free(p);
    dlh_config_free(c);
}

static void test_set(void)
{
    static const char text[] =
        "name = \"exp\";\n"
        "layer = { rate = 0.25; units = 4; };\n"
        "model = ( { units = 3; } );\n";
    dlh_config *c = NULL;
    ok(dlh_config_load_string(text, "s.cfg", &c) == 0, "load the --set config");
    if (!c)
        return;
    config_setting_t *root = dlh_config_root(c);
    int64_t i = 0;
    double d = 0;
    int b = 0;
    const char *s = NULL;

    ok(dlh_config_set(c, "train.epochs=3") == 0, "--set creates train.epochs");
    ok(dlh_config_set(c, "train.shuffle = TRUE") == 0, "--set a bool, spaces around '='");
    ok(dlh_config_set(c, "layer.rate=5e-1") == 0, "--set replaces a float");
    ok(dlh_config_set(c, "layer.units=2.5") == 0, "--set replaces an int with a float");
    ok(dlh_config_set(c, "name=other") == 0, "--set an unquoted string");
    ok(dlh_config_set(c, "layer.tag=\"42\"") == 0, "--set a quoted string");
    ok(dlh_config_set(c, "layer.seed=-9000000000") == 0, "--set an int64");
    ok(dlh_config_set(c, "layer.neg=-7") == 0, "--set a negative int");
    ok(dlh_config_set(c, "layer.v=0x10") == 0, "--set hex text stays a string");
    ok(dlh_config_set(c, "train.epochs=4") == 0, "--set the same key twice");

    dlh_params *p = dlh_params_new(c, config_setting_get_member(root, "train"), "train", NULL);
    ok(p && dlh_param_int(p, "epochs", NULL, 1, 100, &i) == 0 && i == 4, "train.epochs = 4");
    ok(dlh_param_bool(p, "shuffle", NULL, &b) == 0 && b == 1, "train.shuffle = true");
    is_error(dlh_param_int(p, "epochs", NULL, 5, 10, &i), DLH_ECONFIG,
             "--set train.epochs=4: train: parameter 'epochs': expected an integer in [5, 10], got 4",
             "a --set value's message names the assignment");
    is_error(dlh_param_int(p, "batch", NULL, 1, 10, &i), DLH_ECONFIG,
             "--set train.epochs=3: train: missing required parameter 'batch'",
             "a group made by --set is located at the assignment");
    dlh_params_free(p);

    p = dlh_params_new(c, config_setting_get_member(root, "layer"), "layer", NULL);
    ok(dlh_param_float(p, "rate", NULL, 0, 1, &d) == 0 && d == 0.5, "layer.rate = 0.5");
    ok(dlh_param_float(p, "units", NULL, 0, 10, &d) == 0 && d == 2.5, "layer.units = 2.5");
    ok(dlh_param_string(p, "tag", NULL, &s) == 0 && strcmp(s, "42") == 0, "layer.tag = \"42\"");
    ok(dlh_param_int(p, "seed", NULL, INT64_MIN, 0, &i) == 0 && i == -9000000000LL,
       "layer.seed = -9000000000");
    ok(dlh_param_int(p, "neg", NULL, -10, 0, &i) == 0 && i == -7, "layer.neg = -7");
    ok(dlh_param_string(p, "v", NULL, &s) == 0 && strcmp(s, "0x10") == 0, "layer.v = \"0x10\"");
    dlh_params_free(p);
    p = dlh_params_new(c, root, "experiment", NULL);
    ok(dlh_param_string(p, "name", NULL, &s) == 0 && strcmp(s, "other") == 0, "name = other");
    dlh_params_free(p);

    is_error(dlh_config_set(c, "train.epochs"), DLH_ECONFIG,
             "--set \"train.epochs\": expected KEY=VALUE (e.g. train.epochs=3)",
             "--set without '='");
    is_error(dlh_config_set(c, " =3"), DLH_ECONFIG,
             "--set \" =3\": no setting name before '='", "--set with an empty path");
    is_error(dlh_config_set(c, "train.epochs="), DLH_ECONFIG,
             "--set \"train.epochs=\": no value after '=' (write train.epochs=\"\" for an empty string)",
             "--set with an empty value");
    is_error(dlh_config_set(c, "name.x=3"), DLH_ECONFIG,
             "--set \"name.x=3\": 'name' is a single value, not a group",
             "--set through a scalar");
    is_error(dlh_config_set(c, "model.units=3"), DLH_ECONFIG,
             "--set \"model.units=3\": 'model' is a list, not a group",
             "--set through a list");
    is_error(dlh_config_set(c, "layer=3"), DLH_ECONFIG,
             "--set \"layer=3\": 'layer' is a group; --set replaces only a single value",
             "--set replacing a group");
    is_error(dlh_config_set(c, "model=1"), DLH_ECONFIG,
             "--set \"model=1\": 'model' is a list; --set replaces only a single value",
             "--set replacing a list");
    is_error(dlh_config_set(c, "a..b=1"), DLH_ECONFIG,
             "--set \"a..b=1\": 'a..b' is not a valid setting path (names start with a "
             "letter; use '.' between group names)", "--set with an empty path component");
    is_error(dlh_config_set(c, "9lives=1"), DLH_ECONFIG,
             "--set \"9lives=1\": '9lives' is not a valid setting path (names start with a "
             "letter; use '.' between group names)", "--set with a bad name");
    is_error(dlh_config_set(c, "x=99999999999999999999"), DLH_ECONFIG,
             "--set \"x=99999999999999999999\": integer out of the 64-bit range",
             "--set with a too large integer");
    is_error(dlh_config_set(c, "x=1e999"), DLH_ECONFIG,
             "--set \"x=1e999\": number out of range", "--set with an infinite number");
    ok(config_setting_get_member(root, "x") == NULL && config_setting_get_member(root, "a") == NULL,
       "failed --set leaves nothing behind");
    dlh_config_free(c);
}

/* dlh_params_sets_only: --backend NAME over a file written for another
   backend reads only the keys --set made; the file's are neither read,
   suggested nor unknown. */
static void test_sets_only(void)
{
    static const char text[] =
        "backend = { type = \"opencl\"; gemm = \"clblast\"; threads = 8; };\n";
    static const char *const reserved[] = { "type", NULL };
    dlh_config *c = NULL;
    ok(dlh_config_load_string(text, "b.cfg", &c) == 0, "load the sets-only config");
    if (!c)
        return;
    config_setting_t *group = config_setting_get_member(dlh_config_root(c), "backend");
    int64_t i = 0;
    int b = 0;

    dlh_params *p = dlh_params_new(c, group, "backend 'cpu'", reserved);
    dlh_params_sets_only(p);
    ok(dlh_param_int(p, "threads", NULL, 1, 64, &i) == DLH_ECONFIG,
       "the file's threads is not seen");
    ok(!dlh_param_has(p, "gemm"), "nor its gemm");
    ok(dlh_params_check_unused(p) == 0, "the file's keys are not unknown");
    dlh_params_free(p);

    ok(dlh_config_set(c, "backend.threads=2") == 0 && dlh_config_set(c, "backend.adapt=false") == 0
       && dlh_config_set(c, "backend.gemm=tiled") == 0, "--set three backend keys");
    p = dlh_params_new(c, group, "backend 'cpu'", reserved);
    dlh_params_sets_only(p);
    ok(dlh_param_int(p, "threads", NULL, 1, 64, &i) == 0 && i == 2,
       "the --set threads replaces the file's and is seen");
    ok(dlh_param_bool(p, "adapt", NULL, &b) == 0 && b == 0, "a key only --set wrote is seen");
    is_error(dlh_params_check_unused(p), DLH_ECONFIG,
             "--set backend.gemm=tiled: backend 'cpu': unknown parameter 'gemm'",
             "a --set key the reader did not ask for is unknown, at its --set");
    dlh_params_free(p);
    dlh_config_free(c);

    /* A misspelt --set key is still suggested for a missing required one,
       a misspelt key of the file is not. */
    ok(dlh_config_load_string("backend = { thread = 8; };\n", "m.cfg", &c) == 0,
       "load a file with a misspelt key");
    if (!c)
        return;
    group = config_setting_get_member(dlh_config_root(c), "backend");
    p = dlh_params_new(c, group, "backend 'cpu'", reserved);
    dlh_params_sets_only(p);
    is_error(dlh_param_int(p, "threads", NULL, 1, 64, &i), DLH_ECONFIG,
             "m.cfg:1: backend 'cpu': missing required parameter 'threads'",
             "the file's misspelling is not offered");
    dlh_params_free(p);
    ok(dlh_config_set(c, "backend.threds=2") == 0, "--set a misspelt key");
    p = dlh_params_new(c, group, "backend 'cpu'", reserved);
    dlh_params_sets_only(p);
    is_error(dlh_param_int(p, "threads", NULL, 1, 64, &i), DLH_ECONFIG,
             "--set backend.threds=2: backend 'cpu': missing required parameter 'threads' "
             "(found 'threds' \u2014 did you mean 'threads'?)",
             "the --set misspelling is offered");
    dlh_params_free(p);
    dlh_config_free(c);
}

static void test_files(void)
{
    char path[4200], want[8600];
    dlh_config *c = NULL;
    int rc;

    /* A good file: relative paths resolve against its folder. */
    tmpdir_put(tmp, "exp.cfg",
               "name = \"x\";\n@include \"inc.cfg\"\ndata = { file = \"d/x.csv\"; };\n");
    tmpdir_put(tmp, "inc.cfg", "net = {\n  units = 0;\n};\n");
    rc = dlh_config_load(in_tmp("exp.cfg", path, sizeof path), &c);
    if (!ok(rc == 0, "load a file with an @include inside its folder"))
        diag("%s", dlh_error_get());
    if (c) {
        is_str(dlh_config_path(c), path, "config path");
        is_str(dlh_config_dir(c), tmp, "config dir is the file's folder");
        config_setting_t *root = dlh_config_root(c);
        dlh_params *p = dlh_params_new(c, config_setting_get_member(root, "data"), "data", NULL);
        const char *s = NULL;
        ok(dlh_param_path(p, "file", NULL, &s) == 0, "path from a file");
        snprintf(want, sizeof want, "%s/d/x.csv", tmp);
        is_str(s, want, "path resolved against the file's folder");
        ok(dlh_param_path(p, "other", "w.bin", &s) == 0, "default path from a file");
        snprintf(want, sizeof want, "%s/w.bin", tmp);
        is_str(s, want, "default path resolved against the file's folder");
        dlh_params_free(p);
        p = dlh_params_new(c, config_setting_get_member(root, "net"), "layer 'fc1'", NULL);
        int64_t i;
        snprintf(want, sizeof want,
                 "%s/inc.cfg:2: layer 'fc1': parameter 'units': expected an integer in [1, 1048576], got 0",
                 tmp);
        is_error(dlh_param_int(p, "units", NULL, 1, 1048576, &i), DLH_ECONFIG, want,
                 "a setting from an included file names that file and line");
        dlh_params_free(p);
        dlh_config_free(c);
    }

    tmpdir_put(tmp, "syntax.cfg", "a = 1;\nb = {\n  c = ;\n};\n");
    rc = dlh_config_load(in_tmp("syntax.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s:3: syntax error", path);
    is_error(rc, DLH_ECONFIG, want, "syntax error with its line");
    ok(c == NULL, "no config after an error");

    tmpdir_put(tmp, "dup.cfg", "a = 1;\n\na = 2;\n");
    rc = dlh_config_load(in_tmp("dup.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s:3: duplicate setting name", path);
    is_error(rc, DLH_ECONFIG, want, "duplicate key with its line");

    tmpdir_put(tmp, "inc_bad.cfg", "a = 1;\n@include \"bad_part.cfg\"\n");
    tmpdir_put(tmp, "bad_part.cfg", "b = 2;\nc = (;\n");
    rc = dlh_config_load(in_tmp("inc_bad.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s/bad_part.cfg:2: syntax error", tmp);
    is_error(rc, DLH_ECONFIG, want, "syntax error inside an included file names that file");

    rc = dlh_config_load(in_tmp("missing.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    is_error(rc, DLH_EIO, want, "missing file");

    rc = dlh_config_load(tmp, &c);
    snprintf(want, sizeof want, "%s: not a regular file (a folder)", tmp);
    is_error(rc, DLH_EIO, want, "a folder is not a file");

    /* Reads that would never end (issue 10): a FIFO blocks the open, a
       device never reaches its end.  alarm() turns a hang into a failure. */
    alarm(20);
    if (mkfifo(in_tmp("fifo.cfg", path, sizeof path), 0600) == 0) {
        rc = dlh_config_load(path, &c);
        snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", path);
        is_error(rc, DLH_EIO, want, "a FIFO as the experiment file is refused at once");
        tmpdir_put(tmp, "inc_fifo.cfg", "a = 1;\n@include \"fifo.cfg\"\n");
        rc = dlh_config_load(in_tmp("inc_fifo.cfg", path, sizeof path), &c);
        snprintf(want, sizeof want, "%s:2: @include \"fifo.cfg\": %s/fifo.cfg: not a "
                 "regular file (a FIFO)", path, tmp);
        is_error(rc, DLH_EIO, want, "a FIFO as an @include is refused at once");
    } else {
        skip("mkfifo failed: no FIFO to test with");
        skip("mkfifo failed: no FIFO to test with");
    }
    rc = dlh_config_load("/dev/zero", &c);
    is_error(rc, DLH_EIO, "/dev/zero: not a regular file (a character device)",
             "a device as the experiment file is refused");
    alarm(0);
    /* 16 MiB of comments: over the limit, refused before libconfig sees it. */
    size_t big = ((size_t)16 << 20) + 2;
    char *text = malloc(big);
    if (text) {
        memset(text, '#', big);
        text[big - 1] = '\n';
        tmpdir_write(in_tmp("big.cfg", path, sizeof path), text, big);
        rc = dlh_config_load(path, &c);
        snprintf(want, sizeof want, "%s: %zu bytes, over the limit of 16777216 bytes for "
                 "this file", path, big);
        is_error(rc, DLH_EDATA, want, "an experiment file over 16 MiB is refused");
        /* Two includes of 9 MiB each: together over the limit. */
        memset(text, '#', (size_t)9 << 20);
        text[((size_t)9 << 20) - 1] = '\n';
        tmpdir_write(in_tmp("nine.cfg", path, sizeof path), text, (size_t)9 << 20);
        free(text);
        tmpdir_put(tmp, "two_nines.cfg", "@include \"nine.cfg\"\n@include \"nine.cfg\"\n");
        rc = dlh_config_load(in_tmp("two_nines.cfg", path, sizeof path), &c);
        snprintf(want, sizeof want, "%s:2: @include \"nine.cfg\": with it, the "
                 "experiment file and its includes pass the limit of 16 MiB in all", path);
        is_error(rc, DLH_EDATA, want,
                 "includes that together pass 16 MiB are refused at the one that passes it");
    }

    tmpdir_write(in_tmp("nul.cfg", path, sizeof path), "a = 1;\0b = 2;\n", 14);
    rc = dlh_config_load(in_tmp("nul.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s: not a text file (contains a NUL byte)", path);
    is_error(rc, DLH_EDATA, want, "a NUL byte is refused");

    /* @include confinement */
    tmpdir_put(tmp, "up.cfg", "a = 1;\n@include \"../secret.cfg\"\n");
    rc = dlh_config_load(in_tmp("up.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s:2: @include \"../secret.cfg\": included files must lie "
             "inside the experiment's folder (no absolute path, no '..')", path);
    is_error(rc, DLH_ECONFIG, want, "@include with '..' is refused");

    tmpdir_put(tmp, "abs.cfg", "# settings\n\n  @include \"/etc/hostname\"\n");
    rc = dlh_config_load(in_tmp("abs.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s:3: @include \"/etc/hostname\": included files must lie "
             "inside the experiment's folder (no absolute path, no '..')", path);
    is_error(rc, DLH_ECONFIG, want, "indented @include of an absolute path is refused");

    tmpdir_put(tmp, "mid.cfg", "a = 1;\n@include \"sub/../../x.cfg\"\n");
    rc = dlh_config_load(in_tmp("mid.cfg", path, sizeof path), &c);
    ok(rc == DLH_ECONFIG && strstr(dlh_error_get(), "no absolute path, no '..'"),
       "'..' in the middle of an @include is refused");

    tmpdir_put(tmp, "nest.cfg", "@include \"nest2.cfg\"\n");
    tmpdir_put(tmp, "nest2.cfg", "a = 1;\n\n@include \"../y.cfg\"\n");
    rc = dlh_config_load(in_tmp("nest.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s/nest2.cfg:3: @include \"../y.cfg\": included files must lie "
             "inside the experiment's folder (no absolute path, no '..')", tmp);
    is_error(rc, DLH_ECONFIG, want, "an escaping @include inside an included file is refused");

    tmpdir_put(tmp, "loop.cfg", "@include \"loop.cfg\"\n");
    rc = dlh_config_load(in_tmp("loop.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s/loop.cfg:1: @include \"loop.cfg\": includes nested deeper "
             "than 10 levels", tmp);
    is_error(rc, DLH_ECONFIG, want, "an @include cycle stops");

    char outside[4200], link[4200];
    snprintf(outside, sizeof outside, "%s/../%s.outside", tmp, strrchr(tmp, '/') + 1);
    FILE *f = fopen(outside, "w");
    if (f) {
        fputs("secret = 1;\n", f);
        fclose(f);
        in_tmp("link.cfg", link, sizeof link);
        if (symlink(outside, link) == 0) {
            tmpdir_put(tmp, "sym.cfg", "@include \"link.cfg\"\n");
            rc = dlh_config_load(in_tmp("sym.cfg", path, sizeof path), &c);
            snprintf(want, sizeof want, "%s:1: @include \"link.cfg\": resolves to a file "
                     "outside the experiment's folder", path);
            is_error(rc, DLH_ECONFIG, want, "a symbolic link out of the folder is refused");
        } else {
            skip("cannot make a symbolic link here");
        }
        remove(outside);
    } else {
        skip("cannot write next to the temporary folder");
    }

    tmpdir_put(tmp, "noinc.cfg", "a = 1;\n@include \"nope.cfg\"\n");
    rc = dlh_config_load(in_tmp("noinc.cfg", path, sizeof path), &c);
    snprintf(want, sizeof want, "%s:2: @include \"nope.cfg\": No such file or directory", path);
    is_error(rc, DLH_EIO, want, "a missing included file");

    /* Integers libconfig 1.5 would silently truncate. */
    rc = dlh_config_load_string("seed = 1;\n# 99999999999 in a comment\n"
                                "s = \"99999999999\";\nx-1 = 2;\nbig = 99999999999;\n",
                                "int.cfg", &c);
    if (LIBCONFIG_VER_MAJOR == 1 && LIBCONFIG_VER_MINOR < 7)
        is_error(rc, DLH_ECONFIG, "int.cfg:5: integer 99999999999 does not fit in 32 bits; "
                 "write 99999999999L for a 64-bit integer", "a 33-bit integer without L");
    else
        ok(rc == 0, "a 33-bit integer without L is an int64");
    dlh_config_free(c);
    c = NULL;
    rc = dlh_config_load_string("a = -2147483648;\nb = 2147483647;\nc = 0x7fffffff;\n"
                                "d = 1.5e10;\ne = 99999999999L;\nf = -9223372036854775808L;\n",
                                "int.cfg", &c);
    if (!ok(rc == 0, "integers at the limits load"))
        diag("%s", dlh_error_get());
    dlh_config_free(c);
    c = NULL;
    rc = dlh_config_load_string("a = 1;\nb = 9223372036854775808L;\n", "int.cfg", &c);
    is_error(rc, DLH_ECONFIG, "int.cfg:2: integer 9223372036854775808L is out of the 64-bit range",
             "an integer beyond 64 bits");
    rc = dlh_config_load_string("a = -2147483649;\n", "int.cfg", &c);
    ok(rc == (LIBCONFIG_VER_MINOR < 7 ? DLH_ECONFIG : 0), "a negative 33-bit integer");
    dlh_config_free(c);
    c = NULL;
    rc = dlh_config_load_string("a = 0x80000000;\n", "int.cfg", &c);
    ok(rc == (LIBCONFIG_VER_MINOR < 7 ? DLH_ECONFIG : 0), "a 32-bit hex value above INT_MAX");
    dlh_config_free(c);
    c = NULL;

    rc = dlh_config_load_string("f = \"x.csv\";\n", "nowhere/exp.cfg", &c);
    ok(rc == 0 && c, "a text config may be named after a folder that does not exist");
    if (c) {
        dlh_params *p = dlh_params_new(c, dlh_config_root(c), "experiment", NULL);
        const char *s = NULL;
        ok(p && dlh_param_path(p, "f", NULL, &s) == 0, "path in a text config");
        is_str(s, "nowhere/x.csv", "path resolved against the name's folder");
        dlh_params_free(p);
        dlh_config_free(c);
        c = NULL;
    }

    rc = dlh_config_load_string("a = 1;\nb = ;\n", "str.cfg", &c);
    is_error(rc, DLH_ECONFIG, "str.cfg:2: syntax error", "syntax error in a string config");
}

static void test_distance(void)
{
    ok(dlh_edit_distance("kitten", "sitting") == 3, "distance kitten/sitting = 3");
    ok(dlh_edit_distance("", "abc") == 3 && dlh_edit_distance("abc", "") == 3,
       "distance to the empty string");
    ok(dlh_edit_distance("units", "units") == 0, "distance to itself = 0");
    ok(dlh_edit_distance("unit", "units") == 1, "distance unit/units = 1");
    ok(dlh_edit_distance("flaw", "lawn") == 2, "distance flaw/lawn = 2");
    ok(dlh_edit_distance("rleu", "relu") == 1, "an adjacent swap is one edit");
    ok(dlh_edit_distance("mes", "mse") == 1 && dlh_edit_distance("ab", "ba") == 1,
       "swaps at the end and in two-letter words");
    ok(dlh_edit_distance("abcd", "badc") == 2, "two swaps are two edits");
    char a[101], b[101];
    memset(a, 'a', 100);
    memset(b, 'a', 100);
    a[100] = b[100] = '\0';
    b[50] = 'b';
    ok(dlh_edit_distance(a, b) == 1, "distance on long words");
    b[99] = '\0';
    ok(dlh_edit_distance(a, b) == 2, "distance on long words of unequal length");

    static const char *const opts[] = { "momentum", "nesterov", "dampening", "lr" };
    const char *got = dlh_closest("momentun", opts, 4);
    is_str(got, "momentum", "closest: momentun -> momentum");
    ok(dlh_closest("lrr", opts, 4) == opts[3], "closest: short words allow distance 1");
    ok(dlh_closest("xyz", opts, 4) == NULL, "closest: nothing near");
    ok(dlh_closest("momnetum", opts, 4) == opts[0], "closest: two edits in an 8-letter word");
    ok(dlh_closest("mmntm", opts, 4) == NULL, "closest: three edits in a 5-letter word is too far");
    ok(dlh_closest("x", opts, 0) == NULL, "closest: no candidates");
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    tmpdir_make(tmp, sizeof tmp, base && *base ? base : "/tmp", "dlh-params");

    dlh_config *c = NULL;
    int rc = dlh_config_load_string(good, "exp.cfg", &c);
    if (!ok(rc == 0 && c, "load good text"))
        diag("%s", dlh_error_get());
    if (c) {
        is_str(dlh_config_dir(c), ".", "a bare file name's folder is '.'");
        test_happy(c);
        test_defaults(c);
        test_errors(c);
        dlh_config_free(c);
    }
    test_unused();
    test_set();
    test_sets_only();
    test_files();
    test_distance();

    tmpdir_remove(tmp);
    ok(access(tmp, F_OK) != 0, "temporary folder removed");
    return done_testing();
}
