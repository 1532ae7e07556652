#!/usr/bin/env bash
# One bounded GPU verification batch (one H200): build, then the steps named in STEPS, each
# with its own time limit and log under $OUT. Prints one line per step and its failures.
#   STEPS="py msl validation vsample example bench" (default: all but bench)
#   PYFILES="test_x test_y" limits the Python step to those files; VSAMPLE_FILES the validation sample.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
mkdir -p "$OUT"
# The GPU machine has no xxhash.h; a copy carried in .gpu_deps/ serves the build there.
[ -f .gpu_deps/xxhash.h ] && export CMAKE_INCLUDE_PATH=$PWD/.gpu_deps
s=$(date +%s)
SKIP_TESTS=1 SKIP_BENCH=1 OUT=$OUT bash scripts/gpu_session.sh > "$OUT/session.log" 2>&1 || { tail -30 "$OUT/session.log"; exit 1; }
echo "build $(( $(date +%s)-s ))s"
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
PT="python3 -m pytest -q -p no:cacheprovider"
step() {
  local name=$1 limit=$2 s rc
  shift 2
  s=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name rc=$rc $(( $(date +%s)-s ))s $(tail -1 "$OUT/$name.log")"
  grep -E "^(FAILED|ERROR)" "$OUT/$name.log" | head -20
}
STEPS=${STEPS:-py msl validation vsample example}
for st in $STEPS; do
  case $st in
  py)
    for f in ${PYFILES:-test_multi_device test_gpu_faults test_interop_gpu test_interop test_fast_metal_kernel \
      test_compile_on_demand test_runtime_nvrtc test_dispatch test_errors test_runaway_kernels test_no_deadlock}; do
      step "py-$f" 150 $PT -n 4 --timeout 90 "tests/python/$f.py"
    done ;;
  msl) step msl-cuda 300 $PT -n 12 --timeout 120 tests/msl -k "not cpu" ;;
  validation) PYMETALLIC_KERNEL_TIMEOUT=120 step validation-cuda 200 $PT -n 8 --timeout 150 tests/msl/test_validation.py -k "cuda" ;;
  vsample)
    PYMETALLIC_VALIDATION=1 PYMETALLIC_TEST_DIFFERENTIAL=0 step vsample-cuda 300 $PT -n 12 --timeout 150 \
      -k "cuda0 and not early_return and not which_kernels_take_the_split_path" \
      ${VSAMPLE_FILES:-$(sed -n '/validation mode (issue 12)/,/^$/p' Makefile | grep -o 'tests/msl/test_[a-z0-9_]*\.py')} ;;
  diag)
    # DIAG="a.py b.py": each script runs alone; one still running after DIAG_WAIT seconds gets
    # every thread's backtrace from cuda-gdb (host and device) in $OUT/<script>.txt, then is killed.
    for f in $DIAG; do
      log="$OUT/$(basename "$f" .py).txt"
      python3 -u "$f" > "$log" 2>&1 &
      pid=$!
      for _ in $(seq 1 "${DIAG_WAIT:-20}"); do sleep 1; kill -0 $pid 2>/dev/null || break; done
      if kill -0 $pid 2>/dev/null; then
        echo "still running after ${DIAG_WAIT:-20}s; backtraces:" >> "$log"
        /usr/local/cuda/bin/cuda-gdb -p $pid -batch -ex "thread apply all bt 30" 2>&1 | grep -E "^#|^Thread" | grep -v "in ?? ()" >> "$log"
        kill -9 $pid
      fi
      echo "diag $f: $(tail -c 4000 "$log")"
    done ;;
  example) step example-validation 120 python3 examples/validation.py --gpu ;;
  bench)
    step bench-gemm ${GEMM_LIMIT:-120} python3 bench/gpu_gemm.py --json "$OUT/gemm.json"
    step bench-validation ${VBENCH_LIMIT:-120} python3 bench/gpu_validation.py
    step bench-vs-cupy ${CUPY_LIMIT:-240} python3 bench/gpu_vs_cupy.py --json "$OUT/bench.json"
    [ "${SKIP_COMPILE_BENCH:-0}" = 1 ] || step bench-compile 90 python3 bench/compile_time.py --json "$OUT/compile.json"
    ;;
  esac
done
# One archive instead of a file per step: the device tool brings back only a few files.
(cd "$OUT" && tar czf logs.tgz ./*.log ./*.json ./*.txt 2>/dev/null && rm -f ./*.log)
