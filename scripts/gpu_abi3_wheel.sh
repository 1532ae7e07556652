#!/usr/bin/env bash
# Builds the release wheel on a machine with CPython >= 3.12 (the GPU machine), where it is an
# abi3 (limited-API) wheel, installs it into a fresh virtual environment and runs a few tests
# against the installed package from outside the tree. Offline: the build tools must be
# installed already (--no-build-isolation). Writes $OUT/abi3-wheel.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
log=$OUT/abi3-wheel.txt
{
  python3 --version
  cmake --version | head -1
  python3 scripts/check_limited_api.py 2>&1 | tail -2
  rm -rf /tmp/abi3-whl /tmp/abi3-venv build/cp3*-abi3-*
  python3 -m pip wheel --no-build-isolation --no-deps -v -w /tmp/abi3-whl . > /tmp/abi3-build.txt 2>&1
  echo "pip wheel rc=$?"
  echo "limited-API defines in the build: $(grep -c -- '-DPy_LIMITED_API=0x030C0000' /tmp/abi3-build.txt)"
  tail -3 /tmp/abi3-build.txt
  ls /tmp/abi3-whl
  python3 -m zipfile -l /tmp/abi3-whl/*.whl | grep "_core"
  python3 -m venv --system-site-packages /tmp/abi3-venv
  /tmp/abi3-venv/bin/pip install -q --no-deps --no-index --force-reinstall /tmp/abi3-whl/*.whl
  root=$PWD
  # NumPy may live outside the system site (a user install): put its folder on the path.
  export PYTHONPATH=$(python3 -c "import numpy, os; print(os.path.dirname(os.path.dirname(numpy.__file__)))")
  (cd /tmp && /tmp/abi3-venv/bin/python -c "import pymetallic._core as c; print('imported', c.__file__)" &&
    /tmp/abi3-venv/bin/python -m pytest -q -p no:cacheprovider "$root/tests/python/test_error_vocabulary.py" \
      "$root/tests/python/test_dispatch.py" 2>&1 | tail -3)
} > "$log" 2>&1
echo "abi3 wheel: $(grep -E 'rc=|imported|passed|failed' "$log" | tr '\n' ' ')"
