"""The cuda rows of bench/compare.py (--cuda; issue 15's speed targets).

Per round and model, side by side: dlhost with --backend cuda, PyTorch's
CUDA path for the same model (bench/torch_cuda.py, when torch in the chosen
python has CUDA and sees a device; else one SKIP line with the reason), and
for the MLP the cuBLAS-GEMM-only floor (bench/cublas_floor.c: the MLP's
GEMMs with cublasSgemm on one stream, timed between stream syncs, as
bench/sgemm_floor.c is the floor on cpu).  Figures are the median
samples/s of the epochs after the first; ratios are taken in the same
round.  Targets: the epoch within 1.5x of the floor, dlhost faster than
PyTorch at batch 128.  The CNN has no floor (as on cpu): a GEMM-only floor
of a convolution network would have to choose an im2col or cuDNN lowering,
which is the thing measured.

A dlhost run that fails before any epoch (no driver, no device: one line)
makes the whole section one SKIP line with that reason.  With the fake
driver of tests/fake_cuda (tests/test_cuda_bench.sh) every line is
printed, and the numbers mean nothing: kernels do not run there.
"""
import os
import re
import statistics
import subprocess

from compare import fmt, idx_header, median_tail, parse_dlhost_run, run, torch_cmd

FLOOR_TARGET = 1.5      # cuda MLP epoch time / cuBLAS-only epoch time
TORCH_TARGET = 1.0      # dlhost cuda / PyTorch cuda samples/s


def torch_cuda(py):
    """(usable, sentence): whether PyTorch in `py` can run on CUDA here."""
    if not py:
        return False, "no python3 with torch and numpy"
    r = subprocess.run([py, "-c", "import torch; a = torch.cuda.is_available(); "
                        "print(torch.__version__, torch.version.cuda, a, "
                        "torch.cuda.get_device_name(0) if a else '-')"],
                       capture_output=True, text=True)
    f = r.stdout.split(None, 3)
    if r.returncode != 0 or len(f) < 3:
        return False, f"{py} cannot say ({(r.stderr or r.stdout).strip()[-300:]})"
    if f[1] == "None":
        return False, f"torch {f[0]} in {py} is built without CUDA (torch.version.cuda None)"
    if f[2] != "True":
        return False, (f"torch {f[0]} (CUDA {f[1]}) in {py}: torch.cuda.is_available() "
                       "is False (no driver or no device it can use)")
    return True, f"torch {f[0]} (CUDA {f[1]}) in {py} on {f[3].strip()}"


def floor_cmd(floor, info, n_train, epochs):
    width = 1
    for v in info.get("sample") or idx_header(info["files"][0])[1:]:
        width *= v
    return [floor, "--samples", str(n_train), "--batch", str(info.get("batch", 128)),
            "--epochs", str(epochs), str(width)] + [str(u) for u in info["dense"]]


def cuda_bench(a, dlhost, env, work, models, py, src):
    """Prints the cuda rows and their summary; returns nothing."""
    print("\n--- cuda: dlhost --backend cuda, PyTorch on CUDA, the cuBLAS floor")
    tok, why = torch_cuda(py)
    print(f"PyTorch cuda: {why}" if tok else f"PyTorch cuda: SKIP: {why}")
    floor = a.cublas_floor if a.cublas_floor and os.access(a.cublas_floor, os.X_OK) else None
    if not floor:
        print("cuBLAS floor: SKIP: cublas_floor was not built (bench/compare.sh builds it "
              "when the cuda plugin is)")
    res = {k: {"dlhost": [], "torch": [], "floor": [], "floor_ratio": [], "ratio": []}
           for k in models}
    for r in range(1, a.rounds + 1):
        print(f"\n--- cuda round {r}/{a.rounds}")
        for name, info in models.items():
            R = res[name]
            rc, out, mib, secs = run(dlhost + ["run", info["cfg"], "--backend", "cuda",
                                               "--set", f"train.epochs={a.epochs}"],
                                     env=env, cwd=work)
            n_train, speeds, _ = parse_dlhost_run(out)
            if rc != 0 or not speeds:
                lines = [x for x in out.strip().splitlines() if x.strip()]
                if not speeds and len(lines) == 1:
                    print(f"cuda: SKIP: dlhost --backend cuda exits {rc}: {lines[0]}")
                    return
                print(f"{name} cuda dlhost: FAILED (exit {rc}):\n{out[-2000:]}")
                continue
            d = median_tail(speeds)
            R["dlhost"].append(d)
            be = re.search(r"^run [^:]*: (cuda \(.*\)), \d+ samples", out, re.M)
            print(f"{name} cuda dlhost: {fmt(d)} samples/s  (epochs "
                  f"{', '.join(fmt(s) for s in speeds)}; peak host {mib:.0f} MiB; "
                  f"{secs:.0f}s wall; {be.group(1) if be else 'backend not named'})")
            t = None
            if tok:
                cmd = torch_cmd(py, src, "torch_cuda.py", name, info, n_train, a.epochs)
                rc, out, mib, secs = run(cmd, env=env, cwd=work)
                m = re.search(r"^torch-cuda device=\S+ samples_per_s=([0-9.]+)", out, re.M)
                if rc != 0 or not m:
                    print(f"{name} cuda torch : FAILED (exit {rc}):\n{out[-2000:]}")
                else:
                    t = median_tail([float(s) for s in re.findall(
                        r"^epoch .* ([0-9.]+) samples/s$", out, re.M)])
                    R["torch"].append(t)
                    R["ratio"].append(d / t)
                    print(f"{name} cuda torch : {fmt(t)} samples/s  ({secs:.0f}s wall)")
                    print(f"{name} cuda ratio : dlhost/PyTorch {d / t:.2f}x  (target > "
                          f"{TORCH_TARGET}x at batch {info.get('batch')})")
            if name == "mlp" and floor and info["dense"]:
                cmd = floor_cmd(floor, info, n_train, a.epochs)
                rc, out, mib, secs = run(cmd, env=env, cwd=work)
                sp = [float(s) for s in re.findall(r"^epoch .*?([0-9.]+) samples/s", out, re.M)]
                g = re.search(r"gflops=([0-9.]+)", out)
                dev = re.search(r"^device \d+: (.*)$", out, re.M)
                if rc != 0 or not sp:
                    print(f"mlp cuBLAS floor: FAILED (exit {rc}):\n{out[-2000:]}")
                    continue
                f = median_tail(sp)
                R["floor"].append(f)
                R["floor_ratio"].append(f / d)
                print(f"mlp cuBLAS floor: {fmt(f)} samples/s  ({n_train / f:.3f} s/epoch of "
                      f"GEMMs {' x '.join(cmd[-len(info['dense']) - 1:])}, best "
                      f"{g.group(1) if g else '?'} GFLOP/s; "
                      f"{dev.group(1) if dev else 'device not named'})")
                print(f"mlp cuda epoch  : dlhost {n_train / d:.3f} s, cuBLAS-only "
                      f"{n_train / f:.3f} s: {f / d:.2f}x the floor (target <= "
                      f"{FLOOR_TARGET}x)")

    print("\n=== cuda summary (median over rounds; ratios from the same round)")
    med = lambda v: statistics.median(v) if v else None       # noqa: E731
    for name, R in res.items():
        d = med(R["dlhost"])
        print(f"{name} cuda: dlhost {fmt(d)} samples/s" +
              (f"; PyTorch {fmt(med(R['torch']))} samples/s" if R["torch"] else
               "; PyTorch SKIP" if not tok else "; PyTorch FAILED"))
        if R["ratio"]:
            m = med(R["ratio"])
            print(f"{name} cuda: dlhost/PyTorch {m:.2f}x (rounds: "
                  f"{', '.join(f'{x:.2f}' for x in R['ratio'])}; target > {TORCH_TARGET}x: "
                  f"{'met' if m > TORCH_TARGET else 'NOT met'})")
        if R["floor_ratio"]:
            m = med(R["floor_ratio"])
            print(f"{name} cuda: cuBLAS floor {fmt(med(R['floor']))} samples/s; dlhost epoch "
                  f"time {m:.2f}x the floor (rounds: "
                  f"{', '.join(f'{x:.2f}' for x in R['floor_ratio'])}; target <= "
                  f"{FLOOR_TARGET}x: {'met' if m <= FLOOR_TARGET else 'NOT met'})")
