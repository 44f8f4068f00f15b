/* Parameter tables (plugin.h, ABI 1.5): the host table's accessors check
 * every read of a component that has one against its entry, so the
 * generated reference cannot drift from the code; describe refuses a
 * malformed table; the reference text says type, default and range. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "params.h"
#include "reference.h"
#include "registry.h"
#include "tap.h"

static const dlh_param_doc table[] = {
    { "units", DLH_PARAM_INT, NULL, 1, 65536, NULL, "output features" },
    { "rate", DLH_PARAM_FLOAT, "0.5", 0.0, 1.0, NULL, "drop probability" },
    { "bias", DLH_PARAM_BOOL, "true", 0, 0, NULL, "add a bias" },
    { "mode", DLH_PARAM_CHOICE, "zero", 0, 0, "zero|edge", "fill" },
    { "betas", DLH_PARAM_FLOATS, "[0.9, 0.999]", 0, 0, NULL, "two numbers" },
    { "gain", DLH_PARAM_FLOAT, "", 0.0, DLH_PARAM_NO_MAX, NULL, "optional, > 0" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

static const dlh_host *h;

static int sched_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    (void)state;
    *lr = ctx->base_lr;
    return 0;
}

/* A read whose result must be DLH_EPLUGIN with `want` in the message. */
static void drift(int rc, const char *want, const char *what)
{
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), want), "%s is a plugin bug (%s)", what,
       dlh_error_get());
}

int main(void)
{
    h = dlh_host_table();
    dlh_config *c = NULL;
    ok(dlh_config_load_string("l = { units = 8; rate = 0.25; mode = \"edge\"; gain = 2.0; "
                              "extra = 1; };\n", "t.cfg", &c) == 0, "config loads");
    dlh_params *p = dlh_params_new(c, config_setting_get_member(dlh_config_root(c), "l"),
                                   "layer 'x'", NULL);
    dlh_params_set_doc(p, table, 6);

    int64_t i64;
    double f;
    int b, k;
    size_t n;
    float fl[2];
    const char *const modes[] = { "zero", "edge", NULL };
    const char *const other_modes[] = { "zero", "reflect", NULL };
    const double half = 0.5, quarter = 0.25;
    const int yes = 1, no = 0;
    ok(h->param_int(p, "units", NULL, 1, 65536, &i64) == 0 && i64 == 8,
       "a read as the table says works");
    ok(h->param_float(p, "rate", &half, 0.0, 1.0, &f) == 0 && f == 0.25, "float read");
    ok(h->param_bool(p, "bias", &yes, &b) == 0 && b == 1, "bool read (default)");
    ok(h->param_choice(p, "mode", modes, 0, &k) == 0 && k == 1, "choice read");
    ok(h->param_floats(p, "betas", fl, 2, &n) == 0 && n == 0, "floats read (absent)");
    ok(h->param_has(p, "gain") == 1 &&
       h->param_float(p, "gain", NULL, 0.0, HUGE_VAL, &f) == 0 && f == 2.0,
       "an optional key without default, read when present");
    ok(h->param_float(p, "gain", NULL, -HUGE_VAL, HUGE_VAL, &f) == 0,
       "a table range within the accessor's is accepted (the code checks the rest)");
    drift(h->param_float(p, "gain", NULL, 1.0, HUGE_VAL, &f), "range is [1, inf]",
          "a range narrower in the code than in the table");

    drift(h->param_int(p, "extra", NULL, 0, 9, &i64), "parameter 'extra' is read but not in",
          "a key the table does not list");
    drift(h->param_float(p, "units", NULL, 0, 9, &f), "read as float, its parameter table "
          "says int", "another type");
    drift(h->param_float(p, "rate", &quarter, 0.0, 1.0, &f), "the code's default is 0.25",
          "another default");
    drift(h->param_float(p, "rate", NULL, 0.0, 1.0, &f), "default is (required)",
          "required in the code, defaulted in the table");
    drift(h->param_int(p, "units", NULL, 2, 65536, &i64), "range is [2, 65536]",
          "an int range narrower in the code than in the table");
    drift(h->param_bool(p, "bias", &no, &b), "default is false", "another bool default");
    drift(h->param_choice(p, "mode", other_modes, 0, &k), "choices is zero|reflect",
          "other choices");
    drift(h->param_choice(p, "mode", modes, 1, &k), "default is edge",
          "another choice default");
    ok(h->param_has(p, "extra") == 0, "param_has of an unlisted key reads as absent");

    /* Without a table nothing is checked. */
    dlh_params_set_doc(p, NULL, 0);
    ok(h->param_int(p, "extra", NULL, 0, 9, &i64) == 0 && i64 == 1,
       "without a table every read is the plain accessor's");
    dlh_params_free(p);
    dlh_config_free(c);

    /* describe */
    static const dlh_param_doc twice[] = {
        { "a", DLH_PARAM_INT, "1", 0, 9, NULL, "x" }, { "a", DLH_PARAM_INT, "1", 0, 9, NULL, "y" },
        { NULL, 0, NULL, 0, 0, NULL, NULL } };
    static const dlh_param_doc nohelp[] = {
        { "a", DLH_PARAM_INT, "1", 0, 9, NULL, "" }, { NULL, 0, NULL, 0, 0, NULL, NULL } };
    static const dlh_param_doc badtype[] = {
        { "a", 99, "1", 0, 9, NULL, "x" }, { NULL, 0, NULL, 0, 0, NULL, NULL } };
    static const dlh_param_doc nochoices[] = {
        { "a", DLH_PARAM_CHOICE, "x", 0, 0, NULL, "x" }, { NULL, 0, NULL, 0, 0, NULL, NULL } };
    static const dlh_schedule_ops sops = { .struct_size = sizeof sops, .lr = sched_lr };
    ok(dlh_registry_add(DLH_KIND_SCHEDULE, "sched", &sops, "d", NULL) == 0, "a component");
    int rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "sched", twice, NULL);
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), "'a' has a key listed twice"),
       "a key twice is refused (%s)", dlh_error_get());
    rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "sched", nohelp, NULL);
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), "no help line"), "no help is refused");
    rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "sched", badtype, NULL);
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), "an unknown type"), "a bad type is refused");
    rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "sched", nochoices, NULL);
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), "a choice without choices"),
       "a choice without choices is refused");
    rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "nosuch", table, NULL);
    ok(rc == DLH_EPLUGIN && strstr(dlh_error_get(), "is not registered by this plugin"),
       "a component that is not there is refused");
    rc = dlh_registry_describe(DLH_KIND_SCHEDULE, "sched", table, NULL);
    const dlh_component *comp = dlh_registry_find(DLH_KIND_SCHEDULE, "sched");
    ok(rc == 0 && comp && comp->n_params == 6 && dlh_component_param(comp, "mode") == &table[3],
       "a good table attaches (6 entries)");

    char text[256];
    dlh_param_doc_text(&table[0], text, sizeof text);
    ok(strcmp(text, "int, required, in [1, 65536]") == 0, "text: %s", text);
    dlh_param_doc_text(&table[3], text, sizeof text);
    ok(strcmp(text, "choice of zero|edge, default \"zero\"") == 0, "text: %s", text);
    dlh_param_doc_text(&table[5], text, sizeof text);
    ok(strcmp(text, "float, unset, >= 0") == 0, "text: %s", text);
    dlh_registry_clear();
    return done_testing();
}
