#!/usr/bin/env bash
# The end-of-session GPU run (one H200): build, the conformance suite's CUDA cases, the
# GPU-specific Python tests, then the benchmarks. Logs and JSON go to $OUT.
#   PART=tests | bench | all (default all)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
mkdir -p "$OUT"
SKIP_TESTS=1 SKIP_BENCH=1 bash scripts/gpu_session.sh > "$OUT/session.log" 2>&1 || { tail -30 "$OUT/session.log"; exit 1; }
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
PART=${PART:-all}
if [ "$PART" != bench ]; then
  echo "== tests/msl (CUDA cases)"
  timeout 240 python3 -m pytest -q -p no:cacheprovider -n 8 tests/msl -k "not cpu" > "$OUT/msl-cuda.log" 2>&1
  tail -3 "$OUT/msl-cuda.log"; grep -E "^(FAILED|ERROR)" "$OUT/msl-cuda.log" | head -20
  echo "== tests/python (GPU files)"
  timeout 240 python3 -m pytest -q -p no:cacheprovider -n 8 ${GPU_PY_TESTS:-tests/python/test_interop_gpu.py \
    tests/python/test_interop.py tests/python/test_fast_metal_kernel.py tests/python/test_compile_on_demand.py \
    tests/python/test_gpu_faults.py tests/python/test_runtime_nvrtc.py tests/python/test_dispatch.py \
    tests/python/test_errors.py tests/python/test_multi_device.py} > "$OUT/python-gpu.log" 2>&1
  tail -3 "$OUT/python-gpu.log"; grep -E "^(FAILED|ERROR)" "$OUT/python-gpu.log" | head -20
fi
if [ "$PART" != tests ]; then
  echo "== benchmarks"
  timeout 200 python3 bench/gpu_vs_cupy.py --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1; tail -25 "$OUT/bench.log"
  timeout 60 python3 bench/gpu_gemm.py --json "$OUT/gemm.json" 2>&1 | tee "$OUT/gemm.log"
  timeout 60 python3 bench/compile_time.py --json "$OUT/compile.json" 2>&1 | tee "$OUT/compile.log"
fi
