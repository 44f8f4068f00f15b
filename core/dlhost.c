/* The `dlhost` command: parses argv and calls libdlhost.
 *
 * Exit statuses (DESIGN.md section 6): 0 ok, 1 runtime failure, 2 usage or
 * configuration error, 3 plugin error, 4 training diverged; and as a shell
 * reports a signal, 130 (SIGINT) or 143 (SIGTERM) for a run that a signal
 * stopped after saving where it was. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas_cap.h"
#include "check.h"
#include "compare.h"
#include "curves.h"
#include "cv.h"
#include "error.h"
#include "manifest.h"
#include "eval.h"
#include "export.h"
#include "init_weights.h"
#include "params.h"
#include "predict.h"
#include "preview.h"
#include "gradcheck.h"
#include "reference.h"
#include "registry.h"
#include "run.h"
#include "sweep.h"

enum {
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_PLUGIN = 3,
    EXIT_DIVERGED = 4
};

static int cmd_experiment(const char *cmd, int argc, char **argv);
static int cmd_infer(const char *cmd, int argc, char **argv);
static int cmd_select(const char *cmd, int argc, char **argv);
static int cmd_plot(const char *cmd, int argc, char **argv);
static int cmd_compare(const char *cmd, int argc, char **argv);
static int cmd_plugins(const char *cmd, int argc, char **argv);
static int cmd_export(const char *cmd, int argc, char **argv);

static const char help_head[] =
    "usage: dlhost COMMAND [ARGUMENTS]\n"
    "\n"
    "Commands:\n";

/* Every command: its name, what runs it, its lines of --help. */
static const struct {
    const char *name;
    int (*run)(const char *cmd, int argc, char **argv);
    const char *help;
} commands[] = {
    { "run", cmd_experiment,
    "  run CFG [--backend NAME] [--set KEY=VALUE]... [--runs DIR]\n"
    "          [--resume RUNDIR] [--profile] [--diagnose]\n"
    "                        train the experiment described by CFG; the run\n"
    "                        directory is DIR/<name> (default runs/<name>);\n"
    "                        --resume continues RUNDIR/last.safetensors from where\n"
    "                        it was saved (an epoch's end, or the batch where Ctrl-C\n"
    "                        stopped it; same model and optimizer, any backend) and\n"
    "                        writes into RUNDIR;\n"
    "                        --profile times each layer's forward and backward, the\n"
    "                        data, loss, guard and update of every epoch into\n"
    "                        profile.csv in the run directory and prints the last\n"
    "                        epoch's (the backend is synchronised at every mark)\n"
    "                        --diagnose (train.diagnostics = true) writes each\n"
    "                        layer's activation, gradient and update statistics\n"
    "                        per epoch to diagnostics.csv and warns of dead units,\n"
    "                        too large updates and layers no gradient reaches\n" },
    { "eval", cmd_experiment,
    "  eval CFG --weights FILE [--backend NAME] [--set KEY=VALUE]...\n"
    "                        evaluate the weights of FILE on CFG's data.test:\n"
    "                        loss, accuracy, the classification report (per-class\n"
    "                        precision, recall, F1, support; macro and weighted\n"
    "                        averages) and the confusion matrix; --json writes the\n"
    "                        same numbers to FILE\n" },
    { "predict", cmd_infer,
    "  predict CFG --weights FILE --input DATA [--out FILE] [--top K]\n"
    "          [--batch N] [--reader TYPE] [--backend NAME] [--set KEY=VALUE]...\n"
    "                        the weights of FILE applied to DATA (read by reader\n"
    "                        TYPE, else data.train's, its file replaced; labels\n"
    "                        optional; one PNG or JPEG image too): per sample a\n"
    "                        CSV row of the top K classes (default up to 5) and\n"
    "                        their probabilities, or the regression outputs, into\n"
    "                        FILE (default predictions.csv; - for stdout), N\n"
    "                        samples a batch\n" },
    { "embed", cmd_infer,
    "  embed CFG --weights FILE --layer NAME --out FILE.npy [--input DATA]\n"
    "          [--batch N] [--reader TYPE] [--backend NAME] [--set KEY=VALUE]...\n"
    "                        layer NAME's output per sample of DATA (default\n"
    "                        data.test, else data.train) as a float32 .npy (N, D),\n"
    "                        the labels alongside in FILE_labels.npy\n" },
    { "export", cmd_export,
    "  export CFG --weights FILE --onnx OUT.onnx [--probs] [--backend NAME]\n"
    "         [--set KEY=VALUE]...\n"
    "                        the model with the weights of FILE as ONNX (opset 17):\n"
    "                        input the raw sample, output the raw output; --probs\n"
    "                        adds the class probabilities\n" },
    { "check", cmd_experiment,
    "  check CFG [--backend NAME] [--set KEY=VALUE]...\n"
    "                        validate CFG and print the model without training\n" },
    { "cv", cmd_select,
    "  cv CFG --folds K [--stratified] [--repeats R] [--refit] [--runs DIR]\n"
    "         [--backend NAME] [--set KEY=VALUE]...\n"
    "                        k-fold cross-validation: K runs, each validating on\n"
    "                        fold k of data.train (DIR/<name>/fold-k, or\n"
    "                        repeat-r/fold-k with R repeats of other folds), then\n"
    "                        each fold's best epoch and the mean and sample\n"
    "                        standard deviation of every metric, printed and in\n"
    "                        DIR/<name>/cv.csv; --stratified keeps the class\n"
    "                        proportions in each fold; --refit trains once more\n"
    "                        on all of data.train for the mean best epoch count\n"
    "                        and evaluates data.test.  Run again after a stop:\n"
    "                        finished folds are kept, a stopped one resumes\n" },
    { "sweep", cmd_select,
    "  sweep CFG --grid KEY=V1,V2,... [--grid ...] [--random N --range\n"
    "            KEY=LO:HI[:log|lin]]... [--cv K [--stratified]] [--runs DIR]\n"
    "            [--backend NAME] [--set KEY=VALUE]...\n"
    "                        a run per combination of the grid (or N random\n"
    "                        draws, seeded) in DIR/<name>/sweep/<values>/ (with\n"
    "                        --cv a cross-validation each), a leaderboard by the\n"
    "                        monitored metric in DIR/<name>/sweep.csv and the\n"
    "                        best configuration in DIR/<name>/best.cfg; run again\n"
    "                        after a stop: finished runs are not trained again\n" },
    { "init", cmd_experiment,
    "  init CFG --out FILE [--backend NAME] [--set KEY=VALUE]...\n"
    "                        write the weights a run of CFG starts from (every\n"
    "                        layer's tensors, initialised) to the safetensors\n"
    "                        FILE, replacing it atomically\n" },
    { "augment", cmd_experiment,
    "  augment CFG [--out FILE] [--samples N] [--backend NAME] [--set KEY=VALUE]...\n"
    "                        draw the first N (default 32) training samples as read\n"
    "                        and after data.augment, side by side, into FILE\n"
    "                        (default augment.png); signals (audio waveforms) are\n"
    "                        written as WAV clips NNN-original.wav and\n"
    "                        NNN-augmented.wav into the folder FILE (default\n"
    "                        augment) at the reader's sample rate, or at --rate HZ\n" },
    { "gradcheck", cmd_experiment,
    "  gradcheck CFG [--layer NAME] [--backend NAME] [--set KEY=VALUE]...\n"
    "                        check every layer's and the loss's backward against\n"
    "                        central differences on the model's shapes (cpu)\n" },
    { "plot", cmd_plot,
    "  plot RUNDIR [--out FILE]\n"
    "                        draw RUNDIR/metrics.csv as learning curves into\n"
    "                        RUNDIR/curves.svg (or FILE); a run keeps it current\n" },
    { "compare", cmd_compare,
    "  compare RUNDIR... [--out FILE]\n"
    "                        the runs' best metrics side by side (a row per\n"
    "                        metrics.csv column) and their curves overlaid in\n"
    "                        FILE (default compare.svg)\n" },
    { "plugins", cmd_plugins,
    "  plugins [--verbose]   list the registered components (kind, name, plugin\n"
    "                        file, version, ABI); --verbose adds descriptions,\n"
    "                        parameters, full paths and the devices each backend\n"
    "                        sees\n"
    "  plugins --reference[=markdown|man]\n"
    "                        print every component's parameters (type, default,\n"
    "                        range) as Markdown (README.md's reference) or a man\n"
    "                        page (dlhost-components(7))\n" },
};

static const char help_tail[] =
    "\n"
    "Options:\n"
    "  --backend NAME        use backend NAME instead of the file's backend.type\n"
    "                        (not the file's backend keys: --set backend.KEY=VALUE\n"
    "                        gives NAME's)\n"
    "  --set KEY=VALUE       override a scalar of the file (train.epochs=3)\n"
    "  -h, --help            show this help\n"
    "  --version             show the version and the plugin ABI\n"
    "\n"
    "Environment:\n"
    "  DLHOST_PLUGIN_PATH       colon-separated absolute folders searched for\n"
    "                           plugins before the installed folder\n"
    "  DLHOST_PLUGIN_PATH_ONLY  1: search DLHOST_PLUGIN_PATH only\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error,\n"
    "3 plugin error, 4 training diverged, 130 or 143 run stopped by SIGINT or\n"
    "SIGTERM (after the step under way; last.safetensors holds the position and\n"
    "--resume goes on from it).\n";

static void print_help(void);

static int usage_error(const char *fmt, ...) DLH_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dlhost: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'dlhost --help' for usage.\n", stderr);
    return EXIT_USAGE;
}

static int exit_status(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case DLH_ECONFIG:
    case DLH_EPARSE:
    case DLH_ESHAPE:
    case DLH_ERANGE:
    case DLH_EINVAL:
        return EXIT_USAGE;
    case DLH_EPLUGIN:
        return EXIT_PLUGIN;
    case DLH_ENUMERIC:
        return EXIT_DIVERGED;
    default:
        return EXIT_RUNTIME;
    }
}

/* Prints the pending error and gives `status`. */
static int report(int rc, int status)
{
    const char *msg = dlh_error_get();
    fprintf(stderr, "dlhost: error: %s\n", *msg ? msg : dlh_strerror(rc));
    return status;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int compare_components(const void *a, const void *b)
{
    const dlh_component *x = *(const dlh_component *const *)a;
    const dlh_component *y = *(const dlh_component *const *)b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    return strcmp(x->name, y->name);
}

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

/* The devices a backend lists (ABI 1.1 slot), indented under its row. */
static void print_devices(const dlh_component *c, int indent)
{
    const dlh_backend_ops *ops = c->ops;
    if (c->plugin_struct_size < offsetof(dlh_backend_ops, devices) + sizeof ops->devices ||
        !ops->devices)
        return;
    char buf[4096];
    dlh_error_clear();
    if (ops->devices(dlh_host_table(), buf, sizeof buf) != 0) {
        printf("%*sdevices: none listed (%s)\n", indent, "", dlh_error_get());
        return;
    }
    buf[sizeof buf - 1] = '\0';
    for (char *line = buf, *end; *line; line = end) {
        end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        printf("%*s%.*s\n", indent, "", len, line);
        end = end ? end + 1 : line + len;
    }
}

/* ------------------------------------------------------------ options */

/* Values given one after another (--set), in order; room for all of argv. */
typedef struct cli_list {
    const char **v;
    int n;
} cli_list;

/* An option of a command.  With `value` or `list` it takes a value, as
   "--name VALUE" or "--name=VALUE": *value gets the last one given, list
   each in turn; else it is a flag that sets *flag, or appends `constant` to
   list.  `only`: the commands that take it (" run eval "), NULL for all. */
typedef struct cli_opt {
    const char *name;
    const char *only;
    const char **value;
    cli_list *list;
    int *flag;
    const char *constant;
} cli_opt;

enum { CLI_HELP = -1 };

/* Room for argc values in each of lists[0..n) (one block, to free). */
static const char **cli_room(int argc, cli_list *const *lists, int n)
{
    const char **room = calloc((size_t)(argc + 1) * (size_t)n, sizeof *room);
    if (!room)
        dlh_error_set("out of memory");
    for (int i = 0; room && i < n; i++)
        lists[i]->v = room + (size_t)i * (size_t)(argc + 1);
    return room;
}

static const cli_opt *cli_find(const char *cmd, const cli_opt *opts, size_t n, const char *a)
{
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    char word[64];
    snprintf(word, sizeof word, " %s ", cmd);
    for (size_t k = 0; k < n; k++) {
        const cli_opt *o = &opts[k];
        int takes = o->value || (o->list && !o->constant);
        if (strlen(o->name) == len && strncmp(a, o->name, len) == 0 && (takes || !eq) &&
            (!o->only || strstr(o->only, word)))
            return o;
    }
    return NULL;
}

/* Parses argv[0..argc) of command cmd by opts[0..n): the rest are operands
   (at most max, 0 for any; a second one is refused as "one <what> at a
   time").  0; CLI_HELP after printing the help (--help, -h); or a usage
   error's status. */
static int cli_parse(const char *cmd, const cli_opt *opts, size_t n, int argc, char **argv,
                     cli_list *operands, int max, const char *what)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help();
            return CLI_HELP;
        }
        const cli_opt *o = a[0] == '-' && a[1] == '-' ? cli_find(cmd, opts, n, a) : NULL;
        if (!o) {
            if (a[0] == '-' && a[1] != '\0')
                return usage_error("%s: unknown option '%s'", cmd, a);
            if (max > 0 && operands->n >= max)
                return usage_error("%s: one %s at a time ('%s' and '%s')", cmd, what,
                                   operands->v[0], a);
            operands->v[operands->n++] = a;
            continue;
        }
        const char *v = o->constant, *eq = strchr(a, '=');
        if (o->value || (o->list && !o->constant)) {
            if (!eq && i + 1 >= argc)
                return usage_error("%s: option '%s' needs a value", cmd, a);
            v = eq ? eq + 1 : argv[++i];
        }
        if (o->flag)
            *o->flag = 1;
        else if (o->value)
            *o->value = v;
        else
            o->list->v[o->list->n++] = v;
    }
    return 0;
}

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

/* cli_parse for a command of one experiment file (run, predict, cv, ...):
   *room holds lists[0..n_lists < 8) and the file, which goes to *cfg_path;
   a missing one is refused.  0: go on (*room to free); 1: done, with
   *status the command's exit status (0 after --help, or a usage error's or
   running out of memory's) and nothing to free. */
static int cli_parse_experiment(const char *cmd, const cli_opt *opts, size_t n, int argc,
                                char **argv, cli_list *const *lists, int n_lists,
                                const char ***room, const char **cfg_path, int *status)
{
    cli_list files = { 0 }, *all[8];
    int k = 0;
    for (; k < n_lists && k < 7; k++)
        all[k] = lists[k];
    all[k++] = &files;
    *cfg_path = NULL;
    if (!(*room = cli_room(argc, all, k))) {
        *status = report(DLH_ENOMEM, EXIT_RUNTIME);
        return 1;
    }
    *status = cli_parse(cmd, opts, n, argc, argv, &files, 1, "experiment file");
    *cfg_path = files.n ? files.v[0] : NULL;
    if (!*status && !*cfg_path)
        *status = usage_error("%s: missing the experiment file (dlhost %s CFG)", cmd, cmd);
    if (!*status)
        return 0;
    free(*room);
    *room = NULL;
    *status = *status == CLI_HELP ? 0 : *status;
    return 1;
}

static int cmd_plugins(const char *cmd, int argc, char **argv)
{
    (void)cmd;
    int verbose = 0, reference = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--reference") == 0 ||
                 strcmp(argv[i], "--reference=markdown") == 0)
            reference = DLH_REFERENCE_MARKDOWN;
        else if (strcmp(argv[i], "--reference=man") == 0)
            reference = DLH_REFERENCE_MAN;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 0;
        } else
            return usage_error("plugins: unknown argument '%s'", argv[i]);
    }

    dlh_registry_load_all(0);       /* failures are warnings here */
    size_t n = dlh_registry_count();
    if (n == 0) {
        fprintf(stderr, "dlhost: warning: no components registered (searched %s)\n",
                dlh_plugin_dirs());
        dlh_registry_clear();
        return 0;
    }
    const dlh_component **list = malloc(n * sizeof *list);
    if (!list) {
        dlh_registry_clear();
        dlh_error_set("out of memory");
        return report(DLH_ENOMEM, EXIT_RUNTIME);
    }
    for (size_t i = 0; i < n; i++)
        list[i] = dlh_registry_at(i);
    qsort(list, n, sizeof *list, compare_components);
    if (reference >= 0) {
        dlh_reference_print(stdout, list, n, reference);
        free(list);
        dlh_registry_clear();
        return 0;
    }

    char abi[32];
    int wk = 4, wn = 4, wp = 6, wv = 7;
    for (size_t i = 0; i < n; i++) {
        const dlh_component *c = list[i];
        wk = width(wk, dlh_kind_name(c->kind));
        wn = width(wn, c->name);
        wp = width(wp, c->plugin ? base_name(c->plugin->path) : "(built-in)");
        wv = width(wv, c->plugin ? c->plugin->info.version : PACKAGE_VERSION);
    }
    printf("%-*s  %-*s  %-*s  %-*s  %s\n", wk, "KIND", wn, "NAME", wp, "PLUGIN", wv,
           "VERSION", "ABI");
    for (size_t i = 0; i < n; i++) {
        const dlh_component *c = list[i];
        const dlh_plugin_file *p = c->plugin;
        if (p)
            snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->info.abi_major,
                     (unsigned)p->info.abi_minor);
        else
            snprintf(abi, sizeof abi, "%d.%d", DLH_ABI_MAJOR, DLH_ABI_MINOR);
        printf("%-*s  %-*s  %-*s  %-*s  %s\n", wk, dlh_kind_name(c->kind), wn, c->name, wp,
               p ? base_name(p->path) : "(built-in)", wv,
               p ? p->info.version : PACKAGE_VERSION, abi);
        if (verbose) {
            int indent = wk + 2;
            if (c->description[0])
                printf("%*s%s\n", indent, "", c->description);
            for (size_t j = 0; j < c->n_params; j++) {
                char text[1024];
                dlh_param_doc_text(&c->params[j], text, sizeof text);
                printf("%*s  %s (%s): %s\n", indent, "", c->params[j].key, text,
                       c->params[j].help);
            }
            if (p)
                printf("%*s%s (plugin '%s'%s%s)\n", indent, "", p->path, p->info.name,
                       p->info.license[0] ? ", license " : "", p->info.license);
            if (c->kind == DLH_KIND_BACKEND)
                print_devices(c, indent);
        }
    }
    if (verbose)
        printf("\nplugin folders: %s\n", dlh_plugin_dirs());
    free(list);
    dlh_registry_clear();
    return 0;
}

/* The experiment file at path with the --set assignments of sets applied in
   order, into *cfg (NULL on failure); 0, or the exit status after the
   message: 2 for a file that cannot be read or parsed (the user's to fix,
   whatever the code: a missing file is DLH_EIO) or a bad assignment (its
   message names it), 1 out of memory. */
static int config_with_sets(const char *path, const cli_list *sets, dlh_config **cfg)
{
    int rc = dlh_config_load(path, cfg);
    for (int i = 0; rc == 0 && i < sets->n; i++)
        rc = dlh_config_set(*cfg, sets->v[i]);
    if (rc == 0)
        return 0;
    dlh_config_free(*cfg);
    *cfg = NULL;
    return report(rc, rc == DLH_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE);
}

/* `check`, `run`, `eval`, `augment` and `init`: the same arguments (and a
   few of their own), a different action. */
static int cmd_experiment(const char *cmd, int argc, char **argv)
{
    const char *backend = NULL, *weights = NULL, *runs = NULL, *resume = NULL, *out = NULL;
    const char *samples = "32", *rate_s = NULL, *layer = NULL, *json = NULL;
    int is_run = strcmp(cmd, "run") == 0, is_eval = strcmp(cmd, "eval") == 0;
    int is_aug = strcmp(cmd, "augment") == 0, is_gc = strcmp(cmd, "gradcheck") == 0;
    int is_init = strcmp(cmd, "init") == 0;
    int profile = 0;
    cli_list sets = { 0 };
    const cli_opt opts[] = {
        { .name = "--backend", .value = &backend },
        { .name = "--set", .list = &sets },
        { .name = "--weights", .only = " eval ", .value = &weights },
        { .name = "--json", .only = " eval ", .value = &json },
        { .name = "--out", .only = " augment init ", .value = &out },
        { .name = "--samples", .only = " augment ", .value = &samples },
        { .name = "--rate", .only = " augment ", .value = &rate_s },
        { .name = "--layer", .only = " gradcheck ", .value = &layer },
        { .name = "--runs", .only = " run ", .value = &runs },
        { .name = "--resume", .only = " run ", .value = &resume },
        { .name = "--profile", .only = " run ", .flag = &profile },
        { .name = "--diagnose", .only = " run ", .list = &sets,
          .constant = "train.diagnostics=true" },
    };
    cli_list *lists[] = { &sets };
    const char **room, *cfg_path;
    int status;
    if (cli_parse_experiment(cmd, opts, N_OF(opts), argc, argv, lists, 1, &room, &cfg_path,
                             &status))
        return status;
    if (!status && backend && !backend[0])
        status = usage_error("%s: --backend needs a name", cmd);
    if (!status && is_eval && (!weights || !weights[0]))
        status = usage_error("eval: missing the weights (dlhost eval CFG --weights FILE)");
    if (!status && json && !json[0])
        status = usage_error("eval: --json needs a file name");
    if (!status && is_init && (!out || !out[0]))
        status = usage_error("init: missing the output file (dlhost init CFG --out FILE)");
    if (!status && runs && !runs[0])
        status = usage_error("run: --runs needs a folder");
    if (!status && resume && !resume[0])
        status = usage_error("run: --resume needs a run folder");
    long n_samples = 0;
    double rate = 0.0;
    if (!status && is_aug) {
        char *end;
        n_samples = strtol(samples, &end, 10);
        if (!*samples || *end || n_samples < 1 || n_samples > 256)
            status = usage_error("augment: --samples: expected a whole number from 1 to "
                                 "256, got '%s'", samples);
        else if (out && !out[0])
            status = usage_error("augment: --out needs a file name");
        if (!status && rate_s) {
            rate = strtod(rate_s, &end);
            if (!*rate_s || *end || !(rate >= 1.0 && rate <= 1e6))
                status = usage_error("augment: --rate: expected a sample rate in Hz from 1 "
                                     "to 1000000, got '%s'", rate_s);
        }
    }
    if (status) {
        free(room);
        return status;
    }

    dlh_config *cfg;
    status = config_with_sets(cfg_path, &sets, &cfg);
    free(room);
    if (status)
        return status;

    /* Plugins that fail to load are warnings: the experiment may not need them.
       If it does, the missing component is the error. */
    dlh_registry_load_named();
    dlh_error_clear();
    int rc;
    if (is_run) {
        dlh_run_options opt = { .runs_root = runs, .progress = -1, .resume = resume,
                                .profile = profile };
        rc = dlh_run_ex(cfg, backend, &opt, stdout);
    } else if (is_eval)
        rc = dlh_eval_json(cfg, backend, weights, json, stdout);
    else if (is_aug)
        rc = dlh_preview(cfg, backend, out, n_samples, rate, stdout);
    else if (is_gc)
        rc = dlh_gradcheck(cfg, backend, layer, stdout);
    else if (is_init)
        rc = dlh_init_weights(cfg, backend, out, stdout);
    else
        rc = dlh_check(cfg, backend, stdout);
    fflush(stdout);
    /* A run stopped by signal rc (run.h) exits as the shell would report it. */
    status = rc < 0 ? report(rc, exit_status(rc)) : rc > 0 ? 128 + rc : 0;
    dlh_config_free(cfg);
    dlh_registry_clear();
    return status;
}

/* `predict` and `embed` (predict.h): a checkpoint applied to data. */
static int cmd_infer(const char *cmd, int argc, char **argv)
{
    int is_embed = strcmp(cmd, "embed") == 0;
    const char *backend = NULL, *weights = NULL, *input = NULL, *layer = NULL, *top_s = NULL;
    const char *out = is_embed ? NULL : "predictions.csv", *batch_s = NULL, *reader = NULL;
    cli_list sets = { 0 };
    const cli_opt opts[] = {
        { .name = "--backend", .value = &backend },
        { .name = "--set", .list = &sets },
        { .name = "--weights", .value = &weights },
        { .name = "--input", .value = &input },
        { .name = "--out", .value = &out },
        { .name = "--top", .only = " predict ", .value = &top_s },
        { .name = "--layer", .only = " embed ", .value = &layer },
        { .name = "--batch", .value = &batch_s },
        { .name = "--reader", .value = &reader },
    };
    cli_list *lists[] = { &sets };
    const char **room, *cfg_path;
    int status;
    if (cli_parse_experiment(cmd, opts, N_OF(opts), argc, argv, lists, 1, &room, &cfg_path,
                             &status))
        return status;
    long top = 0;
    char *end;
    if (!status && (!weights || !weights[0]))
        status = usage_error("%s: missing the weights (dlhost %s CFG --weights FILE)", cmd,
                             cmd);
    if (!status && !is_embed && (!input || !input[0]))
        status = usage_error("predict: missing the data (dlhost predict CFG --weights FILE "
                             "--input DATA)");
    if (!status && input && !input[0])
        status = usage_error("%s: --input needs a file or folder", cmd);
    if (!status && is_embed && (!layer || !layer[0]))
        status = usage_error("embed: missing the layer (dlhost embed CFG --weights FILE "
                             "--layer NAME --out FILE.npy)");
    if (!status && (!out || !out[0] || (is_embed && strcmp(out, "-") == 0)))
        status = usage_error(is_embed ? "embed: missing the output file (--out FILE.npy)"
                             : "predict: --out needs a file name (or - for stdout)");
    if (!status && backend && !backend[0])
        status = usage_error("%s: --backend needs a name", cmd);
    if (!status && top_s && (top = strtol(top_s, &end, 10), !*top_s || *end || top < 1 ||
                             top > 1000000))
        status = usage_error("predict: --top: expected a whole number from 1 to 1000000, "
                             "got '%s'", top_s);
    long batch = 0;
    if (!status && batch_s && (batch = strtol(batch_s, &end, 10), !*batch_s || *end ||
                               batch < 1 || batch > 1000000))
        status = usage_error("%s: --batch: expected a whole number from 1 to 1000000, "
                             "got '%s'", cmd, batch_s);
    if (!status && reader && (!reader[0] || !input))
        status = usage_error("%s: --reader needs %s", cmd, input ? "a dataset type"
                             : "--input DATA (it names the reader of DATA)");
    dlh_config *cfg = NULL;
    if (!status) {
        dlh_registry_load_named();
        dlh_error_clear();
    }
    int rc = status ? 0 : dlh_config_load(cfg_path, &cfg);
    /* data.test's settings go to the group --input makes (predict.h). */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; !status && rc == 0 && i < sets.n; i++)
            if ((input && strncmp(sets.v[i], "data.test.", 10) == 0 ? 1 : 0) == pass)
                rc = dlh_config_set(cfg, sets.v[i]);
        if (!status && rc == 0 && input && pass == 0)
            rc = dlh_predict_input(cfg, input, reader);
    }
    free(room);
    if (status || rc < 0) {
        dlh_config_free(cfg);
        dlh_registry_clear();
        return status ? status : report(rc, rc == DLH_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE);
    }
    dlh_error_clear();
    rc = is_embed ? dlh_embed(cfg, backend, weights, layer, out, batch, stderr)
                  : dlh_predict(cfg, backend, weights, out, (int)top, batch, stderr);
    fflush(stdout);
    status = rc < 0 ? report(rc, exit_status(rc)) : 0;
    dlh_config_free(cfg);
    dlh_registry_clear();
    return status;
}

/* `export` (export.h): the model as ONNX. */
static int cmd_export(const char *cmd, int argc, char **argv)
{
    const char *backend = NULL, *weights = NULL, *onnx = NULL;
    int probs = 0;
    cli_list sets = { 0 };
    const cli_opt opts[] = {
        { .name = "--backend", .value = &backend },
        { .name = "--set", .list = &sets },
        { .name = "--weights", .value = &weights },
        { .name = "--onnx", .value = &onnx },
        { .name = "--probs", .flag = &probs },
    };
    cli_list *lists[] = { &sets };
    const char **room, *cfg_path;
    int status;
    if (cli_parse_experiment(cmd, opts, N_OF(opts), argc, argv, lists, 1, &room, &cfg_path,
                             &status))
        return status;
    if (!weights || !weights[0])
        status = usage_error("export: missing the weights (dlhost export CFG --weights "
                             "FILE --onnx OUT.onnx)");
    else if (!onnx || !onnx[0])
        status = usage_error("export: missing the output file (--onnx OUT.onnx)");
    else if (backend && !backend[0])
        status = usage_error("export: --backend needs a name");
    dlh_config *cfg = NULL;
    if (!status)
        status = config_with_sets(cfg_path, &sets, &cfg);
    free(room);
    if (status)
        return status;
    dlh_registry_load_named();
    dlh_error_clear();
    int rc = dlh_export_onnx(cfg, backend, weights, onnx, probs, stderr);
    /* A layer without an ONNX form is the model's, as a bad setting is. */
    status = rc == DLH_EUNSUPPORTED ? report(rc, EXIT_USAGE)
             : rc < 0 ? report(rc, exit_status(rc)) : 0;
    dlh_config_free(cfg);
    dlh_registry_clear();
    return status;
}

/* A whole number from lo to hi for option `opt` of cmd; 0, or the usage
   error's status. */
static int parse_count(const char *cmd, const char *opt, const char *text, long lo, long hi,
                       int *v)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (!*text || *end || n < lo || n > hi)
        return usage_error("%s: %s: expected a whole number from %ld to %ld, got '%s'", cmd,
                           opt, lo, hi, text);
    *v = (int)n;
    return 0;
}

/* `cv` and `sweep`: an experiment, the run options, and their own. */
static int cmd_select(const char *cmd, int argc, char **argv)
{
    int is_cv = strcmp(cmd, "cv") == 0;
    dlh_select sel = { 0 };
    dlh_cv_options cv = { 0, 1, 0, 0 };
    dlh_sweep_options sw = { 0 };
    const char *repeats = NULL, *folds = NULL, *random = NULL;
    cli_list sets = { 0 }, grid = { 0 }, ranges = { 0 };
    const cli_opt opts[] = {
        { .name = "--backend", .value = &sel.backend },
        { .name = "--set", .list = &sets },
        { .name = "--runs", .value = &sel.runs_root },
        { .name = "--repeats", .value = &repeats },
        { .name = "--stratified", .flag = &cv.stratified },
        { .name = "--folds", .only = " cv ", .value = &folds },
        { .name = "--refit", .only = " cv ", .flag = &cv.refit },
        { .name = "--cv", .only = " sweep ", .value = &folds },
        { .name = "--grid", .only = " sweep ", .list = &grid },
        { .name = "--range", .only = " sweep ", .list = &ranges },
        { .name = "--random", .only = " sweep ", .value = &random },
    };
    cli_list *lists[] = { &sets, &grid, &ranges };
    const char **room;
    int status, folds_given;
    if (cli_parse_experiment(cmd, opts, N_OF(opts), argc, argv, lists, 3, &room,
                             &sel.cfg_path, &status))
        return status;
    folds_given = folds != NULL;
    if (!status && repeats)
        status = parse_count(cmd, "--repeats", repeats, 1, 1000, &cv.repeats);
    if (!status && folds)
        status = parse_count(cmd, is_cv ? "--folds" : "--cv", folds, 2, 100000, &cv.folds);
    if (!status && random)
        status = parse_count(cmd, "--random", random, 1, 100000, &sw.random);
    if (!status && is_cv && !folds_given)
        status = usage_error("cv: missing the number of folds (dlhost cv CFG --folds K)");
    if (!status && !is_cv && !folds_given && (cv.stratified || cv.repeats > 1))
        status = usage_error("sweep: --stratified and --repeats go with --cv K");
    if (!status && sel.backend && !sel.backend[0])
        status = usage_error("%s: --backend needs a name", cmd);
    if (!status && sel.runs_root && !sel.runs_root[0])
        status = usage_error("%s: --runs needs a folder", cmd);
    if (status)
        goto out;
    sel.sets = sets.v;
    sel.n_sets = sets.n;
    sw.grid = grid.v;
    sw.n_grid = grid.n;
    sw.ranges = ranges.v;
    sw.n_ranges = ranges.n;
    sw.cv = cv;
    /* As for run: plugins that fail to load are warnings. */
    dlh_registry_load_named();
    dlh_error_clear();
    int rc = is_cv ? dlh_cv(&sel, &cv, stdout) : dlh_sweep(&sel, &sw, stdout);
    fflush(stdout);
    status = rc < 0 ? report(rc, exit_status(rc)) : rc > 0 ? 128 + rc : 0;
    dlh_registry_clear();
out:
    free(room);
    return status;
}

/* dlhost plot RUNDIR [--out FILE] */
static int cmd_plot(const char *cmd, int argc, char **argv)
{
    const char *out = NULL;
    cli_list dirs = { 0 };
    const cli_opt opts[] = { { .name = "--out", .value = &out } };
    cli_list *lists[] = { &dirs };
    const char **room = cli_room(argc, lists, 1);
    if (!room)
        return report(DLH_ENOMEM, EXIT_RUNTIME);
    int st = cli_parse(cmd, opts, N_OF(opts), argc, argv, &dirs, 1, "run directory");
    const char *dir = dirs.n ? dirs.v[0] : NULL;
    free(room);
    if (st)
        return st == CLI_HELP ? 0 : st;
    if (!dir || !dir[0])
        return usage_error("plot: missing the run directory (dlhost plot RUNDIR)");
    if (out && !out[0])
        return usage_error("plot: --out needs a file name");
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *metrics = malloc(dl + sizeof "/metrics.csv"), *svg = malloc(dl + sizeof "/curves.svg");
    if (!metrics || !svg) {
        free(metrics);
        free(svg);
        dlh_error_set("out of memory");
        return report(DLH_ENOMEM, EXIT_RUNTIME);
    }
    snprintf(metrics, dl + sizeof "/metrics.csv", "%.*s/metrics.csv", (int)dl, dir);
    snprintf(svg, dl + sizeof "/curves.svg", "%.*s/curves.svg", (int)dl, dir);
    /* The title is the run's name: the folder's last part. */
    const char *name = dir + dl;
    while (name > dir && name[-1] != '/')
        name--;
    char title[256];
    snprintf(title, sizeof title, "%.*s", (int)(dir + dl - name), name);
    dlh_epoch_row *rows = NULL;
    size_t n = 0;
    int status = 0;
    /* The extra columns' names too (the metrics panel), ",a,b". */
    dlh_metrics_table t = { 0 };
    char *columns = NULL;
    size_t clen = 0;
    int rc = dlh_metrics_read(metrics, &rows, &n);
    FILE *cf = rc == 0 ? open_memstream(&columns, &clen) : NULL;
    if (rc == 0 && !cf) {
        dlh_error_set("out of memory");
        rc = DLH_ENOMEM;
    }
    if (cf) {
        if ((rc = dlh_metrics_table_read(metrics, &t)) == 0)
            for (int c = 8; c < t.n_cols; c++)     /* after the header's 8 */
                fprintf(cf, ",%s", t.names[c]);
        if (fclose(cf) != 0 && rc == 0) {
            dlh_error_set("out of memory");
            rc = DLH_ENOMEM;
        }
        dlh_metrics_table_free(&t);
    }
    if (rc < 0) {
        status = report(rc, rc == DLH_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE);
    } else if ((rc = dlh_curves_write(out ? out : svg, rows, n, columns, title)) < 0) {
        status = report(rc, exit_status(rc));
    } else {
        printf("%s: %zu epoch%s drawn from %s\n", out ? out : svg, n, n == 1 ? "" : "s",
               metrics);
    }
    free(rows);
    free(columns);
    free(metrics);
    free(svg);
    return status;
}

/* dlhost compare RUNDIR... [--out FILE]: a folder that is not a run or a
   metrics.csv that cannot be read is the user's to fix (status 2); a
   compare.svg that cannot be written a runtime failure (1). */
static int cmd_compare(const char *cmd, int argc, char **argv)
{
    const char *out = "compare.svg";
    cli_list dirs = { 0 };
    const cli_opt opts[] = { { .name = "--out", .value = &out } };
    cli_list *lists[] = { &dirs };
    const char **room = cli_room(argc, lists, 1);
    if (!room)
        return report(DLH_ENOMEM, EXIT_RUNTIME);
    int status = cli_parse(cmd, opts, N_OF(opts), argc, argv, &dirs, 0, NULL);
    size_t n = (size_t)dirs.n;
    if (status == CLI_HELP) {
        free(room);
        return 0;
    }
    for (size_t i = 0; !status && i < n; i++)
        if (!dirs.v[i][0])
            status = usage_error("compare: an empty run folder name");
    if (!status && n == 0)
        status = usage_error("compare: missing the run folders (dlhost compare RUNDIR... "
                             "[--out FILE])");
    if (!status && !out[0])
        status = usage_error("compare: --out needs a file name");
    if (status) {
        free(room);
        return status;
    }
    /* The plugins build each run's config.cfg (its columns' directions);
       as for run, those that fail to load are warnings. */
    dlh_registry_load_named();
    dlh_error_clear();
    dlh_compare c;
    int rc = dlh_compare_load(dirs.v, n, &c);
    free(room);
    if (rc < 0) {
        dlh_registry_clear();
        return report(rc, rc == DLH_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE);
    }
    dlh_compare_print(stdout, &c);
    if ((rc = dlh_compare_svg(&c, out)) < 0)
        status = report(rc, exit_status(rc));
    else
        printf("%s: %zu run%s drawn\n", out, n, n == 1 ? "" : "s");
    dlh_compare_free(&c);
    dlh_registry_clear();
    return status;
}

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(void)
{
    fputs(help_head, stdout);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fputs(commands[i].help, stdout);
    fputs(help_tail, stdout);
}

/* "run, eval, ... or plugins": every command's name. */
static void command_names(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COMMANDS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                i == 0 ? "" : i + 1 < N_COMMANDS ? ", " : " or ",
                                commands[i].name);
}

int main(int argc, char **argv)
{
    /* Before anything calls OpenBLAS.  On failure OpenBLAS's workers may
       be spinning on their buffers, and exit() would wait for them. */
    int blas_rc = dlh_blas_cap_check(argv);
    if (blas_rc) {
        report(blas_rc, EXIT_RUNTIME);
        fflush(NULL);
        _exit(EXIT_RUNTIME);
    }
    char names[512];
    command_names(names, sizeof names);
    if (argc < 2)
        return usage_error("missing command (%s)", names);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_help();
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dlhost %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, DLH_ABI_MAJOR,
               DLH_ABI_MINOR);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(cmd, argc - 2, argv + 2);
    if (cmd[0] == '-')
        return usage_error("unknown option '%s'", cmd);
    return usage_error("unknown command '%s' (%s)", cmd, names);
}
