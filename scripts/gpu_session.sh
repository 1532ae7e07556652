#!/usr/bin/env bash
# What we run on the GPU machine (see docs/performance.md): build with the packages it has,
# run the whole test suite on the GPU, then the benchmark against CuPy. Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
echo "== build"
cmake -S . -B .devbuild -G Ninja -DMETALLIC_BUILD_PYTHON=ON -DMETALLIC_BUILD_TESTS=OFF \
  -Dnanobind_DIR="$(python3 -m nanobind --cmake_dir)" >/dev/null && cmake --build .devbuild -j 16 >"$OUT/build.log" 2>&1 \
  || { tail -50 "$OUT/build.log"; exit 1; }
ln -sf "$PWD"/.devbuild/_core*.so python/pymetallic/
python3 -c "import pymetallic; print(pymetallic.Device.get_all_devices())"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== tests"
  python3 -m pytest -q -p no:cacheprovider ${TESTS:-$(ls -d tests/python tests/msl 2>/dev/null)} 2>&1 | tee "$OUT/pytest.log" | tail -${TEST_TAIL:-25}
fi
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  echo "== bench"
  python3 bench/gpu_vs_cupy.py ${BENCH_ARGS:-} --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
fi
