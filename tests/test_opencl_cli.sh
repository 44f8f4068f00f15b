#!/bin/sh
# The opencl backend from the command line: the devices `dlhost plugins
# --verbose` lists, a short training run on it, and its bad input, each a
# clear message and exit status while the cpu backend keeps working in the
# same installation: no OpenCL platform (OCL_ICD_VENDORS=/nonexistent makes
# the ICD loader find none), a device index out of range, a kernel build
# failure (its build log is shown), a gemm parameter that is no choice;
# and gemm = "clblast" and "tiled" train alike.
#
# Environment (set by `make check`): DLHOST_BIN, DLHOST_SRCDIR,
# DLHOST_PLUGIN_PATH.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
data=$DLHOST_SRCDIR/tests/data

run_cmd "$dlhost" plugins
if ! grep -q '^backend  *opencl ' "$OUT_FILE"; then
    skip_all "the opencl plugin is not on the plugin path"
fi

# The small csv regression of tests/data, with backends of our choosing.
cp "$data/good.cfg" "$data/good_train.csv" "$TAP_TMP/" || {
    echo "Bail out! cannot copy tests/data/good.cfg"
    exit 1
}
with_backend() {
    sed "s|^backend = .*|backend = { $2 };|" "$TAP_TMP/good.cfg" >"$TAP_TMP/$1.cfg"
}
with_backend ocl 'type = "opencl";'
with_backend far 'type = "opencl"; device = 99;'
with_backend broken 'type = "opencl"; build_options = "-DOCL_ROW_WG=undefined_size_x";'
with_backend badgemm 'type = "opencl"; gemm = "fast";'
with_backend clblast 'type = "opencl"; gemm = "clblast";'
with_backend tiled 'type = "opencl"; gemm = "tiled";'
runs=$TAP_TMP/runs

# ---- no OpenCL platform at all
OCL_ICD_VENDORS=/nonexistent run_cmd "$dlhost" plugins --verbose
is "$RC" 0 "plugins --verbose without a platform exits 0"
like "$OUT_FILE" "no OpenCL platform found (clGetPlatformIDs: CL_PLATFORM_NOT_FOUND_KHR" \
    "it says there is no platform, and why"

OCL_ICD_VENDORS=/nonexistent run_cmd "$dlhost" run "$TAP_TMP/ocl.cfg" --runs "$runs"
is "$RC" 1 "run on opencl without a platform exits 1"
like "$ERR_FILE" "backend 'opencl' is not usable on this machine: opencl: no OpenCL platform found" \
    "it says the backend is not usable, and why"

OCL_ICD_VENDORS=/nonexistent run_cmd "$dlhost" run "$TAP_TMP/ocl.cfg" --backend cpu \
    --set train.epochs=1 --runs "$runs"
is "$RC" 0 "the same file on --backend cpu still trains"

# ---- with a device
run_cmd "$dlhost" plugins --verbose
if grep -q "no OpenCL platform found" "$OUT_FILE"; then
    skip "no OpenCL platform on this machine: the device tests cannot run"
    done_testing
fi
awk '/^backend  *opencl /{on = 1; next} /^[a-z]/{on = 0} on' "$OUT_FILE" >"$TAP_TMP/devices"
like "$TAP_TMP/devices" "platform 0: " "plugins --verbose lists the OpenCL platforms under opencl"
grep -q '^  *device 0: .*(.*compute unit.*) \[default\]' "$TAP_TMP/devices" || \
    grep -q '^  *device [0-9]*: .*\[default\]' "$TAP_TMP/devices"
ok $? "it lists the devices and marks the default"

run_cmd "$dlhost" run "$TAP_TMP/far.cfg" --runs "$runs"
is "$RC" 2 "a device index out of range exits 2"
like "$ERR_FILE" "far.cfg:5: " "it names the file and line"
like "$ERR_FILE" "device index 99 is out of range: platform 0 '" "it says what there is"

run_cmd "$dlhost" run "$TAP_TMP/broken.cfg" --runs "$runs"
is "$RC" 1 "a kernel build failure exits 1"
like "$ERR_FILE" "clBuildProgram: CL_BUILD_PROGRAM_FAILURE building the backend kernels" \
    "it names the call and the error"
like "$ERR_FILE" "use of undeclared identifier 'undefined_size_x'" "it shows the build log"

run_cmd "$dlhost" run "$TAP_TMP/ocl.cfg" --set train.epochs=3 --runs "$runs"
is "$RC" 0 "a run on opencl exits 0"
like "$OUT_FILE" "opencl (CLBlast" "it says it runs on opencl"
metrics=$runs/regression/metrics.csv
falls=$(awk -F, 'NR == 2 { first = $2 } NR == 4 { last = $2 }
                END { print (last < first) ? "yes" : "no (" first " -> " last ")" }' \
        "$metrics" 2>/dev/null)
is "$falls" "yes" "its training loss falls over 3 epochs"

# ---- gemm: tiled kernels on CPU devices (auto), or as chosen
if grep -q '(CPU, ' "$OUT_FILE"; then
    like "$OUT_FILE" "(gemm: dlhost's tiled kernels)" "auto takes the tiled gemm on a CPU device"
else
    unlike "$OUT_FILE" "tiled kernels" "auto keeps CLBlast's gemm on a GPU"
fi
run_cmd "$dlhost" run "$TAP_TMP/badgemm.cfg" --runs "$runs"
is "$RC" 2 "gemm = \"fast\" exits 2"
like "$ERR_FILE" "badgemm.cfg:5: " "it names the file and line"
like "$ERR_FILE" "parameter 'gemm': expected one of \"auto\", \"clblast\", \"tiled\", got \"fast\"" \
    "it lists the choices"
for g in clblast tiled; do
    run_cmd "$dlhost" run "$TAP_TMP/$g.cfg" --set train.epochs=3 --runs "$TAP_TMP/$g"
    is "$RC" 0 "a run with gemm = $g exits 0"
    cut -d, -f2 "$TAP_TMP/$g/regression/metrics.csv" >"$TAP_TMP/$g.loss"
done
grep -q "tiled kernels" "$OUT_FILE"
ok $? "gemm = tiled says so"
far=$(paste -d, "$TAP_TMP/clblast.loss" "$TAP_TMP/tiled.loss" | awk -F, 'NR > 1 {
          d = $1 - $2; if (d < 0) d = -d
          if (d > 1e-4 * ($1 < 0 ? -$1 : $1) + 1e-7) print NR ": " $1 " against " $2 }')
is "$far" "" "the training losses of both gemms agree to 1e-4"

run_cmd "$dlhost" run "$TAP_TMP/good.cfg" --set train.epochs=1 --runs "$runs"
is "$RC" 0 "the cpu backend trains in the same installation"

# ---- a run goes on on another backend: 2 epochs on cpu, to 4 on opencl, to
# 5 on cpu again, against 5 epochs on cpu alone.
mixed=$TAP_TMP/mixed/regression
run_cmd "$dlhost" run "$TAP_TMP/good.cfg" --set train.epochs=2 --runs "$TAP_TMP/mixed"
is "$RC" 0 "2 epochs on cpu"
run_cmd "$dlhost" run "$TAP_TMP/good.cfg" --backend opencl --set train.epochs=4 \
    --resume "$mixed"
is "$RC" 0 "--resume --backend opencl goes on on opencl"
like "$OUT_FILE" "trained on cpu " "it says where the run was trained"
like "$OUT_FILE" "continued on opencl " "and where it goes on"
run_cmd "$dlhost" run "$TAP_TMP/ocl.cfg" --backend cpu --set train.epochs=5 --resume "$mixed"
is "$RC" 0 "and back on cpu"
like "$OUT_FILE" "trained on opencl " "from opencl"
run_cmd "$dlhost" run "$TAP_TMP/good.cfg" --set train.epochs=5 --runs "$TAP_TMP/whole"
is "$RC" 0 "5 epochs on cpu alone"
is "$(cut -d, -f1 "$mixed/metrics.csv" | tr '\n' ' ')" "epoch 1 2 3 4 5 " \
    "the mixed run has one metrics row per epoch"
far=$(awk -F, 'FNR == 1 { next } NR == FNR { a[$1] = $2; next }
               { d = $2 - a[$1]; if (d < 0) d = -d;
                 if (d > 1e-4 * (a[$1] < 0 ? -a[$1] : a[$1]) + 1e-7)
                     print "epoch " $1 ": " a[$1] " against " $2 }' \
      "$TAP_TMP/whole/regression/metrics.csv" "$mixed/metrics.csv")
is "$far" "" "its training losses equal the cpu run's to 1e-4"

done_testing
