#!/usr/bin/python3
"""Reference values for tests/test_metrics.c, from scikit-learn.

Builds small classification data sets (probability rows in double, classes,
sample weights exactly representable in float32, as dlhost's metric ABI
hands them over) and regression sets (float32 predictions and targets),
computes every built-in metric of plugins/metrics/ with scikit-learn's own
function for each parameter setting the test creates, and prints the data
and the values as C initialisers, kept in tests/ref/metrics_ref.h (and the
specificity of examples/plugins/example_metric.c, from
multilabel_confusion_matrix).  The edge
cases are deliberate: probabilities on a coarse grid (ties in the ranking
metrics and in argmax), a class never predicted, a class absent from the
targets, a single class present, zero_division 0 and 1, zero weights, a
binary model's 0.5 exactly, a constant regression target.  Where
scikit-learn raises (roc_auc_score with one class present) the value is NAN,
which is what the metric reports.  The test itself never needs Python; run
this again only to regenerate the numbers:
    /usr/bin/python3 tests/ref/metrics_ref.py > tests/ref/metrics_ref.h
(tests/test_ref_live.sh does that in make check and compares).
Generated with Debian 12's python3-sklearn 1.2.1.
"""
import math
import warnings

import numpy as np
import sklearn
from sklearn import metrics as skm

warnings.simplefilter("ignore")
rng = np.random.RandomState(13)


def grid_rows(n, c, top=4):
    """Probability rows a / sum(a), a in 0..top: many exact ties."""
    rows = []
    while len(rows) < n:
        a = rng.randint(0, top + 1, size=c).astype(np.float64)
        if a.sum() > 0:
            rows.append(a / a.sum())
    return np.array(rows)


def weights(n, zeros=True):
    w = rng.choice([0.25, 0.5, 1.0, 1.5, 2.0, 3.25], size=n).astype(np.float32)
    if zeros:
        w[rng.choice(n, size=2, replace=False)] = 0.0
    return w.astype(np.float64)


# ---- classification sets: name -> (prob [n, c], y [n], weight or None,
#      binary, class names or None)
SETS = {}

# 4 classes, ties everywhere
p = grid_rows(41, 4)
y = np.array([rng.choice(4, p=r) if rng.rand() < 0.6 else rng.randint(4) for r in p])
SETS["mc"] = (p, y, None, 0, None)
SETS["mc_w"] = (p, y, weights(41), 0, None)

# 3 named classes, class 1 absent from the targets (but predicted)
p = grid_rows(23, 3)
y = rng.choice([0, 2], size=23)
SETS["absent"] = (p, y, weights(23), 0, ["cat", "dog", "bird"])

# 3 classes, class 2 never predicted but present in the targets
p = grid_rows(29, 3)
p[:, 2] = 0.0
p[p.sum(axis=1) == 0] = [0.25, 0.75, 0.0]
p = p / p.sum(axis=1, keepdims=True)
y = rng.randint(3, size=29)
SETS["never"] = (p, y, None, 0, None)


def binary_rows(q):
    return np.stack([1.0 - q, q], axis=1)


# a binary (sigmoid) model: probabilities on a grid of eighths, 0.5 included
q = rng.randint(0, 9, size=37) / 8.0
y = (rng.rand(37) < 0.3 + 0.5 * q).astype(np.int64)
SETS["bin"] = (binary_rows(q), y, None, 1, None)
SETS["bin_w"] = (binary_rows(q), y, weights(37), 1, None)

# a binary model whose targets are all class 1 (a single class present)
q = rng.randint(0, 5, size=11) / 4.0
SETS["single"] = (binary_rows(q), np.ones(11, dtype=np.int64), None, 1, None)

# a binary model that never predicts class 1 and has no class-1 target
q = rng.randint(0, 4, size=9) / 8.0
SETS["none_pos"] = (binary_rows(q), np.zeros(9, dtype=np.int64), None, 1, None)

# two softmax classes (not binary): argmax ties at [0.5, 0.5] go to class 0
p = grid_rows(19, 2, top=3)
y = rng.randint(2, size=19)
SETS["two"] = (p, y, weights(19, zeros=False), 0, ["no", "yes"])


def pred_of(name, threshold=0.5):
    p, y, w, binary, _ = SETS[name]
    if binary:
        return (p[:, 1] > threshold).astype(np.int64)
    return np.argmax(p, axis=1)


def safe(f):
    try:
        return [float(v) for v in np.atleast_1d(f())]
    except ValueError:
        return [math.nan]


CASES = []      # (set, metric, body, values)


def case(name, metric, body, values):
    CASES.append((name, metric, body, values))


def avg_arg(avg):
    return None if avg == "none" else avg


for name in SETS:
    p, y, w, binary, _ = SETS[name]
    c = p.shape[1]
    labels = list(range(c))
    yp = pred_of(name)
    case(name, "accuracy", "", safe(lambda: skm.accuracy_score(y, yp, sample_weight=w)))
    if binary:
        for thr in (0.3, 0.625):
            yt = pred_of(name, thr)
            case(name, "accuracy", "threshold = %r;" % thr,
                 safe(lambda: skm.accuracy_score(y, yt, sample_weight=w)))
    for k in (1, 2, 3, 5):
        if c == 2:
            f = lambda: skm.top_k_accuracy_score(y, p[:, 1], k=k, labels=labels,
                                                  sample_weight=w)
        else:
            f = lambda: skm.top_k_accuracy_score(y, p, k=k, labels=labels, sample_weight=w)
        case(name, "top_k_accuracy", "" if k == 5 else "k = %d;" % k, safe(f))
    averages = (["binary"] if c == 2 else []) + ["micro", "macro", "weighted", "none"]
    for metric, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                       ("f1", skm.f1_score)):
        for avg in averages:
            for zd in (0, 1):
                body = "average = \"%s\";" % avg
                if zd:
                    body += " zero_division = 1;"
                kw = {} if avg == "binary" else {"labels": labels}
                case(name, metric, body,
                     safe(lambda: fn(y, yp, average=avg_arg(avg), zero_division=zd,
                                     sample_weight=w, **kw)))
    for beta in (0.5, 2.0):
        for avg in averages:
            kw = {} if avg == "binary" else {"labels": labels}
            case(name, "fbeta", "beta = %r; average = \"%s\";" % (beta, avg),
                 safe(lambda: skm.fbeta_score(y, yp, beta=beta, average=avg_arg(avg),
                                              sample_weight=w, **kw)))
    # the default average: binary with 2 classes, else macro
    case(name, "f1", "", safe(lambda: skm.f1_score(
        y, yp, average="binary" if c == 2 else "macro", sample_weight=w,
        **({} if c == 2 else {"labels": labels}))))
    for adj in (False, True):
        case(name, "balanced_accuracy", "adjusted = true;" if adj else "",
             safe(lambda: skm.balanced_accuracy_score(y, yp, sample_weight=w,
                                                     adjusted=adj)))
    for norm in ("none", "true", "pred", "all"):
        cm = skm.confusion_matrix(y, yp, labels=labels, sample_weight=w,
                                  normalize=None if norm == "none" else norm)
        case(name, "confusion", "" if norm == "none" else "normalize = \"%s\";" % norm,
             [float(v) for v in cm.ravel()])
    onehot = np.eye(c)[y]
    for metric in ("auroc", "average_precision"):
        for avg in (["binary"] if c == 2 else []) + ["macro", "weighted", "none"]:
            body = "average = \"%s\";" % avg
            if metric == "auroc":
                if avg == "binary":
                    f = lambda: skm.roc_auc_score(y, p[:, 1], sample_weight=w)
                elif avg == "none":
                    vals = []
                    for k in range(c):
                        vals += safe(lambda: skm.roc_auc_score(onehot[:, k], p[:, k],
                                                               sample_weight=w))
                    case(name, metric, body, vals)
                    continue
                elif c > 2:
                    f = lambda: skm.roc_auc_score(y, p, multi_class="ovr", labels=labels,
                                                  average=avg, sample_weight=w)
                else:
                    f = lambda: skm.roc_auc_score(onehot, p, average=avg, sample_weight=w)
            else:
                if avg == "binary":
                    f = lambda: skm.average_precision_score(y, p[:, 1], sample_weight=w)
                else:
                    f = lambda: skm.average_precision_score(onehot, p, average=avg_arg(avg),
                                                            sample_weight=w)
            case(name, metric, body, safe(f))
    case(name, "log_loss", "",
         safe(lambda: skm.log_loss(y, p, labels=labels, sample_weight=w)))
    case(name, "mcc", "", safe(lambda: skm.matthews_corrcoef(y, yp, sample_weight=w)))
    # examples/plugins/example_metric.c: specificity, one against the rest
    for thr in ((0.5, 0.3) if binary else (0.5,)):
        mcm = skm.multilabel_confusion_matrix(y, pred_of(name, thr), labels=labels,
                                              sample_weight=w)
        tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
        spec = np.where(tn + fp > 0, tn / np.where(tn + fp > 0, tn + fp, 1), 0.0)
        case(name, "specificity", "" if thr == 0.5 else "threshold = %r;" % thr,
             [float(spec[1] if c == 2 else spec.mean())])

# ---- regression sets: name -> (pred [n, width], target [n, width], weight)
RSETS = {}
t = rng.randn(31, 3).astype(np.float32)
t[:, 1] = 2.5                   # a constant target
t[:, 2] *= 40.0
t[:, 2] += 1000.0               # a large offset: the mean must not cancel
f = (t + rng.randn(31, 3).astype(np.float32) * np.float32(0.5)).astype(np.float32)
f[:, 1] = 2.5                   # ... predicted exactly
RSETS["reg3"] = (f, t, None)
RSETS["reg3_w"] = (f, t, weights(31))
t1 = rng.randn(17, 1).astype(np.float32)
f1 = (t1 * np.float32(0.8) + np.float32(0.1)).astype(np.float32)
RSETS["reg1_w"] = (f1, t1, weights(17))
tc = np.full((12, 2), 1.25, dtype=np.float32)
fc = tc.copy()
fc[3, 0] = 1.5                  # constant target, imperfect: r2 0; perfect: r2 1
RSETS["const"] = (fc, tc, weights(12, zeros=False))

for name, (fp, tp, w) in RSETS.items():
    F, T = fp.astype(np.float64), tp.astype(np.float64)
    case(name, "mae", "", safe(lambda: skm.mean_absolute_error(T, F, sample_weight=w)))
    case(name, "rmse", "",
         safe(lambda: math.sqrt(skm.mean_squared_error(T, F, sample_weight=w))))
    case(name, "r2", "", safe(lambda: skm.r2_score(T, F, sample_weight=w)))


# ---- printing
def num(v):
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(float(v))


def array(ctype, name, values, per_line=4):
    print("static const %s %s[] = {" % (ctype, name))
    vals = [num(v) for v in values]
    for i in range(0, len(vals), per_line):
        print("    " + ", ".join(vals[i:i + per_line]) + ",")
    print("};")


print("/* Generated by tests/ref/metrics_ref.py with scikit-learn %s. */" % sklearn.__version__)
for name, (p, y, w, binary, names) in SETS.items():
    array("double", "cls_%s_prob" % name, p.ravel())
    array("float", "cls_%s_target" % name, y, 8)
    if w is not None:
        array("float", "cls_%s_weight" % name, w, 8)
    if names:
        print("static const char *const cls_%s_names[] = { %s };" %
              (name, ", ".join('"%s"' % s for s in names)))
for name, (fp, tp, w) in RSETS.items():
    array("float", "reg_%s_pred" % name, fp.ravel())
    array("float", "reg_%s_target" % name, tp.ravel())
    if w is not None:
        array("float", "reg_%s_weight" % name, w, 8)
print("static const metrics_set ref_sets[] = {")
for name, (p, y, w, binary, names) in SETS.items():
    print("    { \"%s\", DLH_METRIC_CLASSES, %d, %d, %d, %d, cls_%s_prob, NULL, cls_%s_target, "
          "%s, %s }," % (name, len(y), p.shape[1], 0, binary, name, name,
                         "cls_%s_weight" % name if w is not None else "NULL",
                         "cls_%s_names" % name if names else "NULL"))
for name, (fp, tp, w) in RSETS.items():
    print("    { \"%s\", DLH_METRIC_VALUES, %d, 0, %d, 0, NULL, reg_%s_pred, reg_%s_target, "
          "%s, NULL }," % (name, fp.shape[0], fp.shape[1], name, name,
                           "reg_%s_weight" % name if w is not None else "NULL"))
print("};")
for i, (name, metric, body, values) in enumerate(CASES):
    array("double", "case_%d" % i, values)
print("static const metrics_case ref_cases[] = {")
for i, (name, metric, body, values) in enumerate(CASES):
    print("    { \"%s\", \"%s\", \"%s\", case_%d, %d }," %
          (name, metric, body.replace('"', '\\"'), i, len(values)))
print("};")
