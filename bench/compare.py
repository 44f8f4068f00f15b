#!/usr/bin/env python3
"""Side-by-side training speed: dlhost against PyTorch and the sgemm floor.

Run through bench/compare.sh (which builds sgemm_floor), from a configured
build tree.  For each round, alternately: dlhost on mlp.cfg, PyTorch on the
same MLP, the MLP's GEMMs alone (sgemm_floor), dlhost on cnn.cfg, PyTorch on
the same CNN.  Alternating inside one run is the point: on a shared machine
the speed drifts by up to 1.8x between runs, so only ratios taken side by
side mean anything.  Each figure is the median samples/s of a run's epochs
after the first (the first pays for page faults and warm-up), taken from
dlhost's own per-epoch lines (training time only, no validation).  Peak
memory is each child's maximum resident set size (wait4).

PyTorch's figure is cross-checked in the same round against a plain loop
(bench/torch_plain.py: the same training written the obvious way, with
PyTorch's defaults): when the tuned side (bench/torch_fmnist.py) is more
than 15 % below it, the round's dlhost/PyTorch ratio is refused, not
printed, because the bench would then be measuring itself
(bench/README.md).  `compare.py --check-figures TUNED PLAIN` applies that
rule to two given figures (exit 1 when it refuses).

Then, when the opencl backend is built, each model on it for two epochs,
once with an empty PoCL kernel cache and once warm: its samples/s beside
the cpu backend's, and the one-time kernel build cost (--no-opencl skips
this; --opencl-gemm clblast measures CLBlast's gemm on a CPU device).

--cuda adds the cuda rows (bench/compare_cuda.py): dlhost --backend cuda,
PyTorch on CUDA and the cuBLAS-GEMM-only floor (bench/cublas_floor.c) of
issue 15; --no-cpu leaves out the cpu rounds (a GPU machine's short run).

Nothing here is a test: it prints figures and ratios against the targets of
issue 3 and always exits 0 unless it cannot run at all.
"""
import argparse
import glob
import gzip
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TARGETS = {"mlp": 1.5, "cnn": 1.2}      # dlhost / PyTorch samples/s
FLOOR_TARGET = 1.15                     # MLP epoch time / sgemm-only epoch time
MEM_TARGET_MIB = 250                    # peak memory of the MLP run
CROSS_CHECK = 0.15                      # tuned PyTorch at most this far below the plain loop


def cross_check(tuned, plain, tol=CROSS_CHECK):
    """(ok, sentence): whether the tuned PyTorch figure may stand for
    PyTorch, that is, is at most `tol` below the plain loop's."""
    if tuned is None or plain is None or plain <= 0:
        return False, "no plain-loop figure to check the tuned one against"
    short = 1.0 - tuned / plain
    if tuned < plain * (1.0 - tol):
        return False, (f"tuned PyTorch {fmt(tuned)} samples/s is {short:.0%} below the plain "
                       f"loop's {fmt(plain)} (more than {tol:.0%}): the bench's PyTorch side "
                       "is not PyTorch at its best (misconfigured, or the load changed "
                       "between the two), so no ratio")
    return True, (f"tuned PyTorch {fmt(tuned)} samples/s, plain loop {fmt(plain)}: "
                  f"within {tol:.0%}")


def run(cmd, env=None, cwd=None):
    """Runs cmd; returns (exit status, output, max RSS in MiB, seconds)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=cwd, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.stdout.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, ru.ru_maxrss / 1024.0, time.perf_counter() - t0


def median_tail(values):
    if not values:
        return None
    return statistics.median(values[1:] if len(values) > 1 else values)


def idx_header(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(4)
        ndim = head[3]
        return struct.unpack(">" + "I" * ndim, f.read(4 * ndim))


def cfg_value(text, key, default=None):
    m = re.search(r"\b" + key + r"\s*[=:]\s*(\"[^\"]*\"|[^;,\s)]+)", text)
    if not m:
        return default
    return m.group(1).strip('"')


def cfg_train_files(cfg_path):
    """images and labels of data.train (an npy dataset's x and y when there
    are none), resolved against the file's folder."""
    text = open(cfg_path).read()
    text = re.sub(r"(#|//).*", "", text)
    m = re.search(r"\btrain\s*[=:]\s*\{", text)
    part = text[m.end():] if m else text
    folder = os.path.dirname(os.path.abspath(cfg_path))
    for keys in (("images", "labels"), ("x", "y")):
        files = [cfg_value(part, key) for key in keys]
        if None not in files:
            return [v if os.path.isabs(v) else os.path.join(folder, v) for v in files]
    return None


def parse_check(out):
    """Facts of `dlhost check`: train samples, validation fraction, normalize,
    optimizer, lr, batch, parameters, dense widths."""
    info = {"validation": 0.0, "normalize": "none", "dense": []}
    for line in out.splitlines():
        m = re.match(r"train\s+\S+: (\d+) samples", line)
        if m:
            info["samples"] = int(m.group(1))
        m = re.match(r"data.train\s+\S+: \d+ samples, sample \[([0-9, ]+)\]", line)
        if m:
            info["sample"] = [int(v) for v in m.group(1).split(",")]
        m = re.match(r"validation\s+([0-9.eE+-]+) of data.train", line)
        if m:
            info["validation"] = float(m.group(1))
        m = re.match(r"normalize\s+(\w+)", line)
        if m:
            info["normalize"] = m.group(1)
        m = re.match(r"parameters\s+(\d+)", line)
        if m:
            info["params"] = int(m.group(1))
        m = re.match(r"optimizer\s+(\w+) \(lr ([0-9.eE+-]+)", line)
        if m:
            info["optimizer"], info["lr"] = m.group(1), float(m.group(2))
        m = re.match(r"schedule\s+(\w+)", line)
        if m:
            info["schedule"] = m.group(1)
        m = re.search(r"batch size (\d+)", line)
        if m:
            info["batch"] = int(m.group(1))
        m = re.match(r"\s+\S+\s+dense\s+[\[(](\d+)[\])]", line)
        if m:
            info["dense"].append(int(m.group(1)))
    return info


def parse_dlhost_run(out):
    m = re.search(r"^run .*?, (\d+) samples", out, re.M)
    speeds = [float(s) for s in re.findall(r"^epoch \d+/\d+ .*?([0-9.]+) samples/s$",
                                           out, re.M)]
    acc = re.search(r"^test\s+loss [0-9.]+\s+accuracy ([0-9.]+)", out, re.M)
    return (int(m.group(1)) if m else None, speeds,
            float(acc.group(1)) if acc else None)


def torch_cmd(py, src, script, name, info, n_train, epochs):
    """The command line of a PyTorch side (SRC/bench/SCRIPT: torch_fmnist.py,
    torch_plain.py, torch_cuda.py; their add_data_args) for model `name`
    with dlhost's data, batch, optimiser, schedule and sample count."""
    return [py, os.path.join(src, "bench", script),
            "--model", name, "--images", info["files"][0], "--labels", info["files"][1],
            "--samples", str(n_train or 0), "--batch", str(info.get("batch", 128)),
            "--lr", str(info.get("lr", 1e-3)), "--optimizer", info.get("optimizer", "adam"),
            "--normalize", info["normalize"], "--epochs", str(epochs),
            "--schedule", info.get("schedule", "constant")]


def find_torch_python(explicit):
    cands = [explicit] if explicit else ["python3", "/usr/bin/python3"]
    for c in cands:
        exe = shutil.which(c) if c and not os.path.isabs(c) else c
        if not exe or not os.path.exists(exe):
            continue
        r = subprocess.run([exe, "-c", "import torch, numpy; print(torch.__version__)"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return exe, r.stdout.strip()
    return None, None


def fmt(x, unit=""):
    return "-" if x is None else f"{x:,.0f}{unit}"


def opencl_model(name, dlhost, env, work, cfg, cpu_speeds, gemm):
    """The model for 2 epochs on the opencl backend, twice: first with an
    empty PoCL kernel cache (POCL_CACHE_DIR), then with the cache it filled.
    The difference of the two wall times is the one-time kernel build cost
    (our kernels and CLBlast's); epoch 2 of the warm run is the speed.
    `gemm` is the backend's gemm parameter (auto, clblast, tiled)."""
    rc, out, _, _ = run(dlhost + ["plugins"], env=env, cwd=work)
    if not re.search(r"^backend\s+opencl\s", out, re.M):
        print(f"\n{name} opencl : SKIP: the opencl backend is not built")
        return
    cache = tempfile.mkdtemp(prefix="dlhost-bench-pocl-", dir=work)
    oenv = dict(env, POCL_CACHE_DIR=cache)
    cmd = dlhost + ["run", cfg, "--set", "backend.type=opencl",
                    "--set", f"backend.gemm={gemm}", "--set", "train.epochs=2"]
    print(f"\n--- opencl (PoCL on this CPU when there is no GPU), {name.upper()}, 2 epochs, "
          f"gemm {gemm}")
    walls, speeds, desc = [], [], None
    for label in ("cold", "warm"):
        rc, out, mib, secs = run(cmd, env=oenv, cwd=work)
        _, sp, _ = parse_dlhost_run(out)
        m = re.search(r"^run .*?: opencl \((.*)\), \d+ samples", out, re.M)
        if rc != 0 or not sp:
            print(f"{name} opencl : SKIP or FAILED ({label} run, exit {rc}):\n{out[-1500:]}")
            return
        desc = m.group(1) if m else desc
        walls.append(secs)
        speeds.append(sp[-1])
        print(f"{name} opencl : {label} kernel cache: {secs:.1f}s wall, epochs "
              f"{', '.join(fmt(x) for x in sp)} samples/s; peak {mib:.0f} MiB")
    cpu = statistics.median(cpu_speeds) if cpu_speeds else None
    print(f"{name} opencl : {fmt(speeds[-1])} samples/s on {desc}" +
          (f"; cpu {fmt(cpu)} samples/s: opencl/cpu {speeds[-1] / cpu:.2f}x" if cpu else ""))
    print(f"{name} opencl : one-time kernel build cost {walls[0] - walls[1]:.1f}s "
          "(cold minus warm wall time)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--floor", help="the sgemm_floor program")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 2)))
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", 3)))
    ap.add_argument("--no-opencl", action="store_true",
                    help="skip the models on the opencl backend (run when it is usable)")
    ap.add_argument("--opencl-gemm", default="auto", choices=("auto", "clblast", "tiled"),
                    help="the opencl backend's gemm parameter (default auto: tiled on "
                         "CPU devices)")
    ap.add_argument("--python", default=os.environ.get("TORCH_PYTHON"),
                    help="a python3 with torch (default: python3, then /usr/bin/python3)")
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--configs", help="the folder of MODEL.cfg (default "
                    "examples/fashion-mnist of --srcdir)")
    ap.add_argument("--cuda", action="store_true",
                    help="also the cuda rows: dlhost --backend cuda, PyTorch on CUDA, the "
                         "cuBLAS floor (bench/compare_cuda.py)")
    ap.add_argument("--cublas-floor", help="the cublas_floor program (with --cuda)")
    ap.add_argument("--no-cpu", action="store_true",
                    help="leave out the cpu rounds (with --cuda: the cuda rows only)")
    ap.add_argument("--check-figures", nargs=2, type=float, metavar=("TUNED", "PLAIN"),
                    help="only apply the cross-check to two samples/s figures; exit 1 "
                         "when it refuses")
    a = ap.parse_args()
    if a.check_figures:
        ok, why = cross_check(*a.check_figures)
        print(f"cross-check: {'ok' if ok else 'REFUSED'}: {why}")
        return 0 if ok else 1
    sys.stdout.reconfigure(line_buffering=True)     # progress, even into a pipe

    build = os.path.abspath(a.builddir)
    src = os.path.abspath(a.srcdir)
    env = dict(os.environ)
    real = os.path.join(build, ".libs", "dlhost")
    if os.path.exists(real):
        dlhost = [real]
        env["LD_LIBRARY_PATH"] = os.path.join(build, "core", ".libs") + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    elif os.path.exists(os.path.join(build, "dlhost")):
        dlhost = [os.path.join(build, "dlhost")]
    else:
        print(f"no dlhost under {build}: run `make` first", file=sys.stderr)
        return 1
    libs = sorted(glob.glob(os.path.join(build, "plugins", "**", ".libs"), recursive=True))
    env["DLHOST_PLUGIN_PATH"] = ":".join(libs)
    env["DLHOST_PLUGIN_PATH_ONLY"] = "1"
    torch_env = dict(env, OMP_WAIT_POLICY="PASSIVE")

    py, torch_version = find_torch_python(a.python)
    ncpu = os.cpu_count()
    print(f"dlhost bench: {ncpu} cpus, {a.rounds} rounds of {a.epochs} epochs, "
          f"figures are median samples/s of epochs 2..{a.epochs}")
    print(f"PyTorch: {torch_version + ' (' + py + ')' if py else 'SKIP: no python3 with torch and numpy (apt-get install python3-torch)'}")
    if not a.floor or not os.access(a.floor, os.X_OK):
        print("sgemm floor: SKIP: sgemm_floor was not built")
        a.floor = None

    work = tempfile.mkdtemp(prefix="dlhost-bench-")
    models = {}
    for name in a.models.split(","):
        cfg = os.path.join(a.configs or os.path.join(src, "examples", "fashion-mnist"),
                           name + ".cfg")
        if not os.path.exists(cfg):
            print(f"{name}: SKIP: {cfg} does not exist")
            continue
        files = cfg_train_files(cfg)
        if not files or not all(os.path.exists(f) for f in files):
            print(f"{name}: SKIP: training data {files} not found "
                  "(apt-get install dataset-fashion-mnist)")
            continue
        rc, out, _, _ = run(dlhost + ["check", cfg], env=env, cwd=work)
        if rc != 0:
            print(f"{name}: SKIP: dlhost check failed:\n{out}")
            continue
        info = parse_check(out)
        info.update(cfg=cfg, files=files)
        models[name] = info
        print(f"{name}: {cfg}: {info.get('params')} parameters, batch {info.get('batch')}, "
              f"{info.get('optimizer')} lr {info.get('lr')}, normalize {info['normalize']}")
    if not models:
        shutil.rmtree(work, ignore_errors=True)
        return 0

    res = {k: {"dlhost": [], "torch": [], "floor": [], "mem": {}, "ratio": [],
               "floor_ratio": [], "acc": [], "threads": [], "plain": [],
               "refused": []} for k in models}

    def same_blas(out):
        # dlhost names OpenBLAS's kernel family when OpenBLAS's own CPU table
        # does not know the machine (core/loader.c); PyTorch and the floor
        # use the same libopenblas, so they get the same kernels, or the
        # ratios would compare kernels rather than frameworks.
        m = re.search(r"^run .*: cpu \(OpenBLAS [^,]*, ([A-Za-z0-9]+),", out, re.M)
        if m and "OPENBLAS_CORETYPE" not in os.environ:
            for e in (env, torch_env):
                if e.get("OPENBLAS_CORETYPE") != m.group(1):
                    e["OPENBLAS_CORETYPE"] = m.group(1)
                    if e is env:
                        print(f"OpenBLAS kernels: {m.group(1)} (as dlhost chose them) "
                              "for PyTorch and the sgemm floor too")

    def keep_mem(name, who, mib):
        res[name]["mem"][who] = max(res[name]["mem"].get(who, 0.0), mib)

    for r in range(1, (0 if a.no_cpu else a.rounds) + 1):
        print(f"\n--- round {r}/{a.rounds}")
        for name, info in models.items():
            R = res[name]
            rc, out, mib, secs = run(dlhost + ["run", info["cfg"], "--set",
                                               f"train.epochs={a.epochs}"],
                                     env=env, cwd=work)
            n_train, speeds, acc = parse_dlhost_run(out)
            if rc != 0 or not speeds:
                print(f"{name} dlhost: FAILED (exit {rc}):\n{out[-2000:]}")
                continue
            same_blas(out)
            d = median_tail(speeds)
            R["dlhost"].append(d)
            R["acc"].append(acc)
            keep_mem(name, "dlhost", mib)
            be = re.search(r"^run [^:]*: (\S+ \([^)]*\))", out, re.M)
            print(f"{name} dlhost : {fmt(d)} samples/s  (epochs {', '.join(fmt(s) for s in speeds)}; "
                  f"{n_train} samples; peak {mib:.0f} MiB; {secs:.0f}s wall; "
                  f"{be.group(1) if be else 'backend not named'})")
            t = None
            if py:
                cmd = torch_cmd(py, src, "torch_fmnist.py", name, info, n_train, a.epochs) + [
                    "--threads", ",".join(sorted({f"1/{ncpu}", f"{ncpu}/1", f"{ncpu}/{ncpu}",
                                                  "1/1"}))]
                rc, out, mib, secs = run(cmd, env=torch_env, cwd=work)
                m = re.search(r"^torch threads=([0-9/]+) samples_per_s=([0-9.]+)", out, re.M)
                p = re.search(r"^params (\d+)", out, re.M)
                if rc != 0 or not m:
                    print(f"{name} torch : FAILED (exit {rc}):\n{out[-2000:]}")
                else:
                    if p and info.get("params") and int(p.group(1)) != info["params"]:
                        print(f"{name}: WARNING: PyTorch's model has {p.group(1)} parameters, "
                              f"dlhost's {info['params']}: the models differ")
                    sp = [float(s) for s in re.findall(r"^epoch .* ([0-9.]+) samples/s$",
                                                       out, re.M)]
                    t = median_tail(sp)
                    R["torch"].append(t)
                    R["threads"].append(m.group(1))
                    keep_mem(name, "torch", mib)
                    cal = "; ".join(re.findall(r"^calibrate (threads=[0-9/]+ samples_per_s=\d+)",
                                               out, re.M))
                    print(f"{name} torch  : {fmt(t)} samples/s  (threads torch/OpenBLAS "
                          f"{m.group(1)}; calibration {cal}; peak {mib:.0f} MiB; "
                          f"{secs:.0f}s wall)")
                    # The plain loop, with PyTorch's defaults (no PASSIVE).
                    cmd = torch_cmd(py, src, "torch_plain.py", name, info, n_train, a.epochs)
                    rc, out, mib, secs = run(cmd, env=env, cwd=work)
                    pm = re.search(r"^plain threads=(\d+) samples_per_s=([0-9.]+)", out, re.M)
                    plain = None
                    if rc != 0 or not pm:
                        print(f"{name} plain  : FAILED (exit {rc}):\n{out[-2000:]}")
                    else:
                        plain = median_tail([float(s) for s in re.findall(
                            r"^epoch .* ([0-9.]+) samples/s$", out, re.M)])
                        R["plain"].append(plain)
                        print(f"{name} plain  : {fmt(plain)} samples/s  (the obvious loop, "
                              f"PyTorch's default {pm.group(1)} thread(s); {secs:.0f}s wall)")
                    ok, why = cross_check(t, plain)
                    if ok:
                        R["ratio"].append(d / t)
                        print(f"{name} ratio  : dlhost/PyTorch {d / t:.2f}x  "
                              f"(target >= {TARGETS[name]}x; {why})")
                    else:
                        R["refused"].append(why)
                        print(f"{name} ratio  : REFUSED: {why}")
            if name == "mlp" and a.floor and info["dense"]:
                width = 1
                for v in idx_header(info["files"][0])[1:]:
                    width *= v
                base = [a.floor, "--samples", str(n_train), "--batch",
                        str(info.get("batch", 128)), "--epochs", str(a.epochs),
                        "--threads", str(ncpu)]
                dims = [str(width)] + [str(u) for u in info["dense"]]
                # The floor cuts its GEMMs as the cpu backend does (one piece
                # per CPU, OpenMP threads: the bits do not depend on the
                # thread count), under both of the OpenMP wait policies
                # dlhost picks from at start (core/loader.c), the faster
                # kept: a floor is the best these GEMMs can do that way.
                # OpenBLAS's own threads (other bits per thread count) are
                # shown beside it, not used.
                floors = []
                for how, fenv in (("spin 30000", {k: v for k, v in dict(env, GOMP_SPINCOUNT="30000").items()
                                                if k != "OMP_WAIT_POLICY"}),
                                  ("passive", dict(env, OMP_WAIT_POLICY="PASSIVE")),
                                  ("openblas", env)):
                    cmd = base + ["--gemm", "openblas" if how == "openblas" else "split"] + dims
                    rc, out, mib, secs = run(cmd, env=fenv, cwd=work)
                    sp = [float(s) for s in re.findall(r"^epoch .*?([0-9.]+) samples/s", out,
                                                       re.M)]
                    g = re.search(r"gflops=([0-9.]+)", out)
                    if rc != 0 or not sp:
                        print(f"mlp floor  : {how}: FAILED (exit {rc}):\n{out[-2000:]}")
                        continue
                    f = median_tail(sp)
                    print(f"mlp floor  : {how}: {fmt(f)} samples/s  ({n_train / f:.2f} s/epoch "
                          f"of GEMMs {' x '.join(dims)}, best {g.group(1) if g else '?'} "
                          f"GFLOP/s; peak {mib:.0f} MiB)" +
                          ("  [OpenBLAS threads, not the floor]" if how == "openblas" else ""))
                    if how != "openblas":
                        floors.append((f, mib))
                if floors:
                    f, mib = max(floors)
                    R["floor"].append(f)
                    keep_mem(name, "floor", mib)
                    R["floor_ratio"].append(f / d)
                    print(f"mlp epoch  : dlhost {n_train / d:.2f} s, sgemm-only {n_train / f:.2f} s: "
                          f"{f / d:.2f}x the floor (target <= {FLOOR_TARGET}x)")

    if not a.no_opencl:
        for name in models:
            opencl_model(name, dlhost, env, work, models[name]["cfg"], res[name]["dlhost"],
                         a.opencl_gemm)

    if a.cuda:
        import compare_cuda
        compare_cuda.cuda_bench(a, dlhost, env, work, models, py, src)
    if a.no_cpu:
        shutil.rmtree(work, ignore_errors=True)
        return 0
    print("\n=== summary (median over rounds; ratios from the same round)")
    for name, R in res.items():
        med = lambda v: statistics.median(v) if v else None
        d, t, f = med(R["dlhost"]), med(R["torch"]), med(R["floor"])
        print(f"{name}: dlhost {fmt(d)} samples/s, peak {fmt(R['mem'].get('dlhost'), ' MiB')}"
              + (f"; test accuracy after {a.epochs} epochs {R['acc'][-1]:.4f}"
                 if R["acc"] and R["acc"][-1] is not None else ""))
        if t is None:
            print(f"{name}: PyTorch SKIP" if not py else f"{name}: PyTorch FAILED")
        else:
            rr = R["ratio"]
            print(f"{name}: PyTorch {fmt(t)} samples/s (threads torch/OpenBLAS "
                  f"{R['threads']}), peak {fmt(R['mem'].get('torch'), ' MiB')}; "
                  f"plain loop {fmt(med(R['plain']))} samples/s")
            if R["refused"]:
                print(f"{name}: dlhost/PyTorch REFUSED in {len(R['refused'])} of "
                      f"{len(R['torch'])} rounds: {R['refused'][0]}")
            if rr and not R["refused"]:
                print(f"{name}: dlhost/PyTorch {med(rr):.2f}x (rounds: "
                      f"{', '.join(f'{x:.2f}' for x in rr)}; target >= {TARGETS[name]}x: "
                      f"{'met' if med(rr) >= TARGETS[name] else 'NOT met'})")
        if f is not None:
            fr = R["floor_ratio"]
            print(f"{name}: sgemm floor {fmt(f)} samples/s; dlhost epoch time {med(fr):.2f}x "
                  f"the floor (rounds: {', '.join(f'{x:.2f}' for x in fr)}; target <= "
                  f"{FLOOR_TARGET}x: {'met' if med(fr) <= FLOOR_TARGET else 'NOT met'})")
        if name == "mlp" and R["mem"].get("dlhost"):
            m = R["mem"]["dlhost"]
            print(f"mlp: peak memory {m:.0f} MiB (target <= {MEM_TARGET_MIB} MiB: "
                  f"{'met' if m <= MEM_TARGET_MIB else 'NOT met'})")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
