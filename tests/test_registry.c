/* The registry, the loader and the host table: validation of registered
 * components, every broken fixture plugin's refusal message, duplicate
 * handling in a folder scan, and the real plugins of the build tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "error.h"
#include "registry.h"
#include "tap.h"

static char fixtures[4096];

static int has(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

/* ok() on a substring, printing the text when it is missing. */
static void like(const char *text, const char *needle, const char *what)
{
    if (!ok(has(text, needle), "%s mentions '%s'", what, needle))
        diag("got: %s", text ? text : "(null)");
}

static const char *fixture(const char *name)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s.so", fixtures, name);
    return path;
}

/* Loads fixture `name`, expecting a refusal; returns a copy of the message. */
static char *load_refused(const char *name)
{
    int rc = dlh_registry_load_file(fixture(name));
    ok(rc == DLH_EPLUGIN, "%s: refused with DLH_EPLUGIN (got %d)", name, rc);
    return strdup(dlh_error_get());
}

/* ---- a built-in schedule and fake backends ---- */
static int half_lr(void *state, const dlh_schedule_ctx *ctx, double *lr)
{
    (void)state;
    *lr = 0.5 * ctx->base_lr;
    return 0;
}

static double call_lr(const dlh_component *c, double base)
{
    const dlh_schedule_ops *ops = c->ops;
    dlh_schedule_ctx ctx = { sizeof ctx, base, 0, 0, 1, 1, 0.0 };
    double lr = -1.0;
    if (ops->lr(NULL, &ctx, &lr) < 0)
        return -2.0;
    return lr;
}

static int fake_destroyed;

static int fake_probe_no(const dlh_host *host)
{
    (void)host;
    return 0;
}

static int fake_probe_why(const dlh_host *host)
{
    host->error("no card in slot 2");
    return 0;
}

static int fake_create_fail(const dlh_host *host, dlh_params *params, void **ctx)
{
    (void)params;
    *ctx = &fake_destroyed;
    host->error("no device 3");
    return DLH_EDEVICE;
}

static int fake_create_ok(const dlh_host *host, dlh_params *params, void **ctx)
{
    (void)host;
    (void)params;
    *ctx = &fake_destroyed;
    return 0;
}

static void fake_destroy(void *ctx)
{
    if (ctx == &fake_destroyed)
        fake_destroyed++;
}

static void fake_never(void)
{
}

static int aug_apply_stub(void *state, const dlh_augment_ctx *ctx, float *x)
{
    (void)state, (void)ctx, (void)x;
    return 0;
}

/* Every required slot set; the ones these tests never call point at a
   function of another type, which is fine as long as nobody calls it. */
static dlh_backend_ops fake_backend(int (*create)(const dlh_host *, dlh_params *, void **))
{
    dlh_backend_ops o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.create = create;
    o.destroy = fake_destroy;
#define FAKE(slot) o.slot = (__typeof__(o.slot))fake_never
    FAKE(alloc); FAKE(free); FAKE(write); FAKE(read); FAKE(copy); FAKE(fill);
    FAKE(sync); FAKE(gemm); FAKE(gemm_batched); FAKE(ew_prepare); FAKE(ew_release);
    FAKE(ew_run); FAKE(reduce); FAKE(softmax); FAKE(im2col); FAKE(col2im);
    FAKE(pool2d); FAKE(pool2d_backward); FAKE(gather); FAKE(scatter_add); FAKE(rand);
#undef FAKE
    return o;
}

static void test_host_table(void)
{
    const dlh_host *h = dlh_host_table();
    ok(h && h->struct_size == sizeof(dlh_host), "host table has struct_size %zu",
       sizeof(dlh_host));
    ok(h->abi_major == DLH_ABI_MAJOR && h->abi_minor == DLH_ABI_MINOR,
       "host table ABI is %d.%d", DLH_ABI_MAJOR, DLH_ABI_MINOR);
    ok(h->version && h->version[0], "host table has a version ('%s')",
       h->version ? h->version : "");
    ok(h->error && h->log && h->param_int && h->param_float && h->param_bool &&
       h->param_string && h->param_choice && h->param_floats && h->param_path &&
       h->param_has && h->param_error && h->ew_compile && h->ew_run && h->ew_program &&
       h->ew_free && h->tensor_write && h->tensor_read && h->rng_stream,
       "every host table member is set");
    h->error("plugin says %d", 42);
    ok(strcmp(dlh_error_get(), "plugin says 42") == 0, "host->error sets the core message");

    /* Reference values from splitmix64 in Python (mix(0) is splitmix64's
       well-known first output 0xe220a8397b1dcdaf). */
    ok(h->rng_stream(0, 0, 0) == 0x238275bc38fcbe91ull, "rng_stream(0, 0, 0)");
    ok(h->rng_stream(1, 2, 3) == 0xd0734750fde362b3ull, "rng_stream(1, 2, 3)");
    ok(h->rng_stream(7, 1ull << 40, 12345) == 0x4870c2282568d803ull,
       "rng_stream(7, 2^40, 12345)");
    ok(h->rng_stream(1, 3, 2) != h->rng_stream(1, 2, 3) &&
       h->rng_stream(2, 2, 3) != h->rng_stream(1, 2, 3), "rng_stream separates its inputs");
}

static void test_kind_names(void)
{
    static const char *const want[DLH_KIND_COUNT] = {
        "backend", "layer", "loss", "optimizer", "schedule", "augmenter", "dataset",
        "metric"
    };
    int all = 1;
    for (int k = 0; k < DLH_KIND_COUNT; k++)
        all &= strcmp(dlh_kind_name((dlh_kind)k), want[k]) == 0;
    ok(all, "dlh_kind_name names every kind");
}

static void test_add_validation(void)
{
    dlh_registry_clear();
    dlh_schedule_ops s = { sizeof s, NULL, half_lr, NULL, NULL };
    int rc;

    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "Bad-Name", &s, "", NULL);
    ok(rc == DLH_EPLUGIN, "a name with capitals and '-' is refused");
    like(dlh_error_get(), "'Bad-Name' is not valid", "bad name message");
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "", &s, "", NULL);
    ok(rc == DLH_EPLUGIN, "an empty name is refused");
    rc = dlh_registry_add(DLH_KIND_COUNT, "x", &s, "", NULL);
    ok(rc == DLH_EPLUGIN, "an unknown kind is refused");
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "nops", NULL, "", NULL);
    ok(rc == DLH_EPLUGIN, "NULL ops are refused");
    like(dlh_error_get(), "schedule 'nops': ops is NULL", "NULL ops message");

    dlh_schedule_ops small = s;
    small.struct_size = 4;
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "small", &small, "", NULL);
    ok(rc == DLH_EPLUGIN, "a struct_size below ABI 1.0's is refused");
    like(dlh_error_get(), "struct_size 4", "small struct message");
    small.struct_size = 1u << 20;
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "huge", &small, "", NULL);
    ok(rc == DLH_EPLUGIN, "a struct_size over 64 KiB is refused");

    dlh_schedule_ops nolr = { sizeof nolr, NULL, NULL, NULL, NULL };
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "nolr", &nolr, "", NULL);
    ok(rc == DLH_EPLUGIN, "a NULL required slot is refused");
    like(dlh_error_get(), "(built-in): schedule 'nolr': required slot 'lr' is NULL",
         "NULL slot message");
    /* An augmenter needs create (ABI 1.0) or create_ex (ABI 1.4). */
    dlh_augmenter_ops nocreate = { .struct_size = sizeof nocreate, .apply = aug_apply_stub };
    rc = dlh_registry_add(DLH_KIND_AUGMENTER, "nocreate", &nocreate, "", NULL);
    ok(rc == DLH_EPLUGIN, "an augmenter with neither create nor create_ex is refused");
    like(dlh_error_get(), "augmenter 'nocreate': required slot 'create' (or 'create_ex') "
         "is NULL", "no-create message");
    ok(dlh_registry_count() == 0, "nothing refused was registered");

    /* A plugin of a later minor declares a bigger struct: the host copies
       its own size and ignores the rest. */
    struct {
        dlh_schedule_ops ops;
        void *later[4];
    } bigger;
    memset(&bigger, 0xab, sizeof bigger);
    bigger.ops = s;
    bigger.ops.struct_size = sizeof bigger;
    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "half", &bigger, "halves it", NULL);
    ok(rc == 0, "a valid schedule with a larger struct_size registers");
    const dlh_component *c = dlh_registry_find(DLH_KIND_SCHEDULE, "half");
    ok(c && c->ops != (const void *)&bigger, "find returns the host's copy");
    ok(c && c->plugin_struct_size == sizeof bigger && c->plugin == NULL &&
       strcmp(c->description, "halves it") == 0, "the component records size and description");
    if (c)
        is_float(call_lr(c, 0.25), 0.125, 1e-12, "the copied lr slot runs");
    else
        ok(0, "the copied lr slot runs");

    rc = dlh_registry_add(DLH_KIND_SCHEDULE, "half", &s, "", NULL);
    ok(rc == DLH_EPLUGIN, "a second 'half' is refused");
    like(dlh_error_get(), "schedule 'half' is already registered", "duplicate message");
    rc = dlh_registry_add(DLH_KIND_LAYER, "half", &(dlh_layer_ops){ 0 }, "", NULL);
    ok(rc == DLH_EPLUGIN, "a layer with struct_size 0 is refused");

    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "halg"), "a misspelt name is not found");
    like(dlh_error_get(), "unknown schedule 'halg' (did you mean 'half'?)", "did-you-mean");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "zzzzzzzzzzzz"), "a far name is not found");
    like(dlh_error_get(), "(known: half)", "far name message");
    ok(!dlh_registry_find(DLH_KIND_AUGMENTER, "flip"), "an empty kind finds nothing");
    like(dlh_error_get(), "unknown augmenter 'flip': no augmenter plugin is loaded (searched ",
         "empty kind message");

    /* Backends: probe says no; create fails (destroy still runs); create works. */
    dlh_backend_ops no = fake_backend(fake_create_ok);
    no.probe = fake_probe_no;
    dlh_backend_ops bad = fake_backend(fake_create_fail);
    dlh_backend_ops good = fake_backend(fake_create_ok);
    ok(dlh_registry_add(DLH_KIND_BACKEND, "fake_absent", &no, "", NULL) == 0 &&
       dlh_registry_add(DLH_KIND_BACKEND, "fake_broken", &bad, "", NULL) == 0 &&
       dlh_registry_add(DLH_KIND_BACKEND, "fake_fine", &good, "", NULL) == 0,
       "fake backends register");
    dlh_backend *be = NULL;
    rc = dlh_backend_open("fake_absent", NULL, &be);
    ok(rc == DLH_EDEVICE && !be, "a backend whose probe says 0 is not opened");
    like(dlh_error_get(), "backend 'fake_absent' is not usable on this machine", "probe message");
    dlh_backend_ops why = fake_backend(fake_create_ok);
    why.probe = fake_probe_why;
    rc = dlh_registry_add(DLH_KIND_BACKEND, "fake_why", &why, "", NULL);
    rc = rc ? rc : dlh_backend_open("fake_why", NULL, &be);
    ok(rc == DLH_EDEVICE && !be && strcmp(dlh_error_get(), "backend 'fake_why' is not usable "
       "on this machine: no card in slot 2") == 0, "a probe's reason is kept: %s",
       dlh_error_get());
    /* An ABI 1.0 backend ends at rand: it registers, and the 1.1 devices
       slot reads NULL whatever lies past its struct_size. */
    dlh_backend_ops old = fake_backend(fake_create_ok);
    old.struct_size = (uint32_t)offsetof(dlh_backend_ops, devices);
    old.devices = (__typeof__(old.devices))fake_never;
    rc = dlh_registry_add(DLH_KIND_BACKEND, "fake_old", &old, "", NULL);
    c = dlh_registry_find(DLH_KIND_BACKEND, "fake_old");
    ok(rc == 0 && c && c->plugin_struct_size == offsetof(dlh_backend_ops, devices) &&
       ((const dlh_backend_ops *)c->ops)->devices == NULL,
       "an ABI 1.0-sized backend registers without the 1.1 devices slot");
    fake_destroyed = 0;
    rc = dlh_backend_open("fake_broken", NULL, &be);
    ok(rc == DLH_EDEVICE && !be && fake_destroyed == 1,
       "a failed create gives its code and destroy still runs");
    like(dlh_error_get(), "backend 'fake_broken': no device 3", "create failure message");
    fake_destroyed = 0;
    rc = dlh_backend_open("fake_fine", NULL, &be);
    ok(rc == 0 && be && be->ctx == &fake_destroyed && strcmp(be->name, "fake_fine") == 0 &&
       be->ops->create == fake_create_ok, "a working backend opens");
    dlh_backend_close(be);
    ok(fake_destroyed == 1, "close destroys it");
    dlh_backend_close(NULL);
    rc = dlh_backend_open("fake_fien", NULL, &be);
    ok(rc < 0 && !be, "an unknown backend is not opened");
    like(dlh_error_get(), "did you mean 'fake_fine'", "unknown backend message");

    dlh_registry_clear();
    ok(dlh_registry_count() == 0 && !dlh_registry_at(0), "clear empties the registry");
}

static void test_fixtures(void)
{
    char want[128], *msg;
    dlh_registry_clear();

    msg = load_refused("bad_abi");
    like(msg, fixture("bad_abi"), "bad_abi");
    like(msg, "bad_abi.so: plugin was built for ABI 99.0", "bad_abi");
    snprintf(want, sizeof want, "this dlhost has ABI %d.%d", DLH_ABI_MAJOR, DLH_ABI_MINOR);
    like(msg, want, "bad_abi");
    like(msg, "rebuild it", "bad_abi");
    free(msg);

    msg = load_refused("newer_minor");
    snprintf(want, sizeof want, "built for ABI %d.%d, this dlhost has ABI %d.%d",
             DLH_ABI_MAJOR, DLH_ABI_MINOR + 1, DLH_ABI_MAJOR, DLH_ABI_MINOR);
    like(msg, want, "newer_minor");
    like(msg, "newer_minor.so", "newer_minor");
    free(msg);

    msg = load_refused("no_init");
    like(msg, "no_init.so: plugin has no dlh_plugin_init", "no_init");
    free(msg);

    msg = load_refused("no_info");
    like(msg, "no_info.so: not a dlhost plugin (no dlh_plugin symbol)", "no_info");
    free(msg);

    msg = load_refused("failing_init");
    like(msg, "failing_init.so: plugin 'failing_init' failed to initialise: "
         "license server example.invalid did not answer", "failing_init");
    free(msg);

    msg = load_refused("null_slot");
    like(msg, "null_slot.so: layer 'null_slot_layer': required slot 'forward' is NULL",
         "null_slot");
    free(msg);

    ok(dlh_registry_count() == 0, "refused plugins leave nothing registered");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "bad_abi_ran") &&
       !dlh_registry_find(DLH_KIND_SCHEDULE, "newer_minor_ran") &&
       !dlh_registry_find(DLH_KIND_SCHEDULE, "no_info_ran"),
       "no init of a plugin with a wrong or missing stamp ran");

    int rc = dlh_registry_load_file(fixture("good"));
    ok(rc == 0, "good loads (%s)", rc ? dlh_error_get() : "ok");
    const dlh_component *layer = dlh_registry_find(DLH_KIND_LAYER, "fixture_identity");
    const dlh_component *sched = dlh_registry_find(DLH_KIND_SCHEDULE, "fixture_const");
    ok(layer && sched, "good registers layer fixture_identity and schedule fixture_const");
    const dlh_plugin_file *p = sched ? sched->plugin : NULL;
    ok(p && strcmp(p->info.name, "good") == 0 && strcmp(p->info.version, "1.2.3") == 0 &&
       p->info.abi_major == DLH_ABI_MAJOR && p->info.abi_minor == DLH_ABI_MINOR &&
       strcmp(p->info.license, "MIT") == 0, "the component names its plugin's stamp");
    ok(p && strcmp(p->path, fixture("good")) == 0 && p->handle,
       "the component names its plugin's path");
    ok(layer && layer->plugin == p && strcmp(layer->description, "copies its input") == 0,
       "both components come from the same plugin file");
    if (sched)
        is_float(call_lr(sched, 0.125), 0.125, 0, "fixture_const's lr runs through the copy");
    else
        ok(0, "fixture_const's lr runs through the copy");
    size_t count = dlh_registry_count();
    ok(dlh_registry_load_file(fixture("good")) == 0 && dlh_registry_count() == count,
       "loading the same file again registers nothing twice");

    /* Two plugins with one name: both load; the plain name is ambiguous,
       "plugin:name" picks one. */
    ok(dlh_registry_load_file(fixture("duplicate")) == 0,
       "a second plugin with a component name taken loads");
    ok(dlh_registry_find(DLH_KIND_SCHEDULE, "duplicate_own") != NULL,
       "with its own components");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "fixture_const"),
       "the plain name registered by two plugins is refused");
    like(dlh_error_get(), "schedule 'fixture_const' is registered by more than one plugin: ",
         "ambiguous name message");
    like(dlh_error_get(), fixture("good"), "it names the first file");
    like(dlh_error_get(), fixture("duplicate"), "and the second");
    like(dlh_error_get(), "type = \"good:fixture_const\"", "and says how to pick one");
    sched = dlh_registry_find(DLH_KIND_SCHEDULE, "good:fixture_const");
    ok(sched && sched->plugin == p, "good:fixture_const is good's");
    const dlh_component *dup = dlh_registry_find(DLH_KIND_SCHEDULE, "duplicate:fixture_const");
    ok(dup && dup->plugin && has(dup->plugin->path, "/duplicate.so"),
       "duplicate:fixture_const is duplicate's");
    if (dup)
        is_float(call_lr(dup, 0.5), 1.0, 0, "it runs duplicate's lr (twice the base)");
    else
        ok(0, "it runs duplicate's lr (twice the base)");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "other:fixture_const"),
       "a plugin that does not have the name is refused");
    like(dlh_error_get(), "no plugin 'other' has a schedule 'fixture_const' (plugins that "
         "do: 'good', 'duplicate')", "it lists the plugins that do");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "good:nothing"), "good:nothing is unknown");
    like(dlh_error_get(), "no plugin has a schedule 'nothing'", "unknown qualified name");

    ok(!dlh_registry_find(DLH_KIND_LAYER, "fixture_identy"), "misspelt fixture layer");
    like(dlh_error_get(), "did you mean 'fixture_identity'?", "fixture layer suggestion");

    rc = dlh_registry_load_file("good.so");
    ok(rc == DLH_EPLUGIN, "a relative path is refused");
    like(dlh_error_get(), "must be absolute", "relative path message");
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/absent.so", fixtures);
    rc = dlh_registry_load_file(missing);
    ok(rc == DLH_EPLUGIN, "a missing file is refused");
    like(dlh_error_get(), "absent.so: cannot load: No such file", "missing file message");
    rc = dlh_registry_load_file(fixtures);
    ok(rc == DLH_EPLUGIN, "a folder is refused");
    like(dlh_error_get(), "not a regular file", "folder message");

    dlh_registry_clear();
}

static void test_scan_fixtures(void)
{
    setenv("DLHOST_PLUGIN_PATH", fixtures, 1);
    setenv("DLHOST_PLUGIN_PATH_ONLY", "1", 1);
    ok(strcmp(dlh_plugin_dirs(), fixtures) == 0, "dlh_plugin_dirs lists the path only");

    dlh_registry_clear();
    capture_begin();
    int rc = dlh_registry_load_all(0);
    char *err = capture_end();
    ok(rc == 0, "a lenient scan of the fixtures succeeds");
    like(err, "warning: ", "scan warnings");
    like(err, "bad_abi.so: plugin was built for ABI 99.0", "scan warnings");
    like(err, "no_info.so: not a dlhost plugin", "scan warnings");
    like(err, "null_slot.so: layer 'null_slot_layer'", "scan warnings");
    /* duplicate.so and good.so both have fixture_const: no warning, no
       winner by load order; the experiment must name one. */
    ok(!has(err, "fixture_const"), "a name two plugins share is not a load warning");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "fixture_const"),
       "the shared name is ambiguous after a scan too");
    const dlh_component *c = dlh_registry_find(DLH_KIND_SCHEDULE, "duplicate:fixture_const");
    if (c)
        is_float(call_lr(c, 0.5), 1.0, 0, "duplicate:fixture_const is duplicate's (twice the base)");
    else
        ok(0, "duplicate:fixture_const is duplicate's (twice the base)");
    ok(dlh_registry_find(DLH_KIND_SCHEDULE, "duplicate_own") != NULL,
       "duplicate's own schedule is there");
    ok(!dlh_registry_find(DLH_KIND_SCHEDULE, "failing_partial"),
       "failing_init's component was dropped");
    free(err);

    dlh_registry_clear();
    capture_begin();
    rc = dlh_registry_load_all(1);
    char *msg = strdup(dlh_error_get());
    err = capture_end();
    ok(rc == DLH_EPLUGIN, "a strict scan of the fixtures fails");
    like(msg, "bad_abi.so", "strict scan: the first failure (by name)");
    ok(!has(err, "bad_abi.so"), "strict scan: the first failure is returned, not warned");
    free(msg);
    free(err);

    char path[8300];
    snprintf(path, sizeof path, "relative/dir::%s", fixtures);
    setenv("DLHOST_PLUGIN_PATH", path, 1);
    dlh_registry_clear();
    capture_begin();
    dlh_registry_load_all(0);
    err = capture_end();
    like(err, "ignoring relative folder 'relative/dir'", "relative entry warning");
    ok(dlh_registry_find(DLH_KIND_SCHEDULE, "duplicate_own") != NULL,
       "the absolute entry after it is still searched");
    free(err);

    snprintf(path, sizeof path, "%s/no_such_folder", fixtures);
    setenv("DLHOST_PLUGIN_PATH", path, 1);
    dlh_registry_clear();
    capture_begin();
    rc = dlh_registry_load_all(0);
    err = capture_end();
    ok(rc == 0 && dlh_registry_count() == 0, "a missing folder loads nothing");
    like(err, "no_such_folder", "missing folder warning");
    ok(!dlh_registry_find(DLH_KIND_LAYER, "dense"), "no layer in an empty registry");
    like(dlh_error_get(), "no layer plugin is loaded (searched ", "empty registry message");
    like(dlh_error_get(), "no_such_folder", "empty registry message names the folder");
    free(err);
    dlh_registry_clear();
}

static void test_build_tree(const char *build_path)
{
    if (!build_path) {
        skip("DLHOST_PLUGIN_PATH is unset (run through make check)");
        return;
    }
    setenv("DLHOST_PLUGIN_PATH", build_path, 1);
    setenv("DLHOST_PLUGIN_PATH_ONLY", "1", 1);
    dlh_registry_clear();
    int rc = dlh_registry_load_all(1);
    ok(rc == 0, "the build tree's plugins all load (%s)", rc ? dlh_error_get() : "ok");
    const dlh_component *cpu = dlh_registry_find(DLH_KIND_BACKEND, "cpu");
    ok(cpu && cpu->plugin && has(cpu->plugin->path, "/cpu.so"), "the cpu backend is found");
    ok(!dlh_registry_find(DLH_KIND_LAYER, "dnse"), "a misspelt layer is not found");
    like(dlh_error_get(), "unknown layer 'dnse' (did you mean 'dense'?)", "layer suggestion");

    dlh_backend *be = NULL;
    rc = dlh_backend_open("cpu", NULL, &be);
    ok(rc == 0 && be, "the cpu backend opens (%s)", rc ? dlh_error_get() : "ok");
    if (rc == 0 && be) {
        /* tensor_write/read address mem.off in elements: check the placement. */
        const dlh_host *h = dlh_host_table();
        dlh_buffer *buf = NULL;
        float back[8] = { 0 }, src[6] = { 1, -2, 3.5f, 4, 5, 6.25f };
        rc = be->ops->alloc(be->ctx, 8 * sizeof(float), &buf);
        if (rc == 0)
            rc = be->ops->fill(be->ctx, (dlh_mem){ buf, 0 }, 8, 0.0f);
        dlh_tensor t = { { buf, 2 }, DLH_F32, 2, { 2, 3 } };
        if (rc == 0)
            rc = h->tensor_write(be, &t, src);
        if (rc == 0)
            rc = be->ops->read(be->ctx, buf, 0, back, sizeof back);
        ok(rc == 0 && back[0] == 0 && back[1] == 0 && back[2] == 1 && back[4] == 3.5f &&
           back[7] == 6.25f, "tensor_write writes numel floats at mem.off");
        float got[6] = { 0 };
        if (rc == 0)
            rc = h->tensor_read(be, &t, got);
        ok(rc == 0 && memcmp(got, src, sizeof src) == 0, "tensor_read reads them back");
        dlh_tensor bad = t;
        bad.shape[1] = -3;
        ok(h->tensor_read(be, &bad, got) == DLH_EINVAL, "a negative dimension is refused");
        be->ops->free(be->ctx, buf);
    } else {
        skip("no cpu backend");
        skip("no cpu backend");
        skip("no cpu backend");
    }
    dlh_backend_close(be);
    dlh_registry_clear();
}

int main(void)
{
    const char *f = getenv("DLHOST_FIXTURES");
    if (!f || f[0] != '/')
        skip_all("DLHOST_FIXTURES is unset (run through make check)");
    snprintf(fixtures, sizeof fixtures, "%s", f);
    const char *bp = getenv("DLHOST_PLUGIN_PATH");
    char *build_path = bp ? strdup(bp) : NULL;

    test_host_table();
    test_kind_names();
    test_add_validation();
    test_fixtures();
    test_scan_fixtures();
    test_build_tree(build_path);

    free(build_path);
    dlh_registry_clear();
    return done_testing();
}
