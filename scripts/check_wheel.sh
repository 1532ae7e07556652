#!/usr/bin/env bash
# Checks a built wheel the way a new user meets it: installed into a fresh virtual environment
# in a temporary folder OUTSIDE the source tree (so nothing is imported from python/ and a file
# missing from the wheel's package data fails here), with the system C++ compiler hidden from
# PATH, so the CPU device has to use the [cpu] extra's compiler (zig's clang, from the index).
#
#   scripts/check_wheel.sh dist/metallic_compute-*.whl     make wheel-check / .ci/run
#   scripts/check_wheel.sh --installed SRC                 cibuildwheel's test-command: the
#                                                          running python already has the wheel
# Runs: the README's quick example, a sample of MSL conformance tests, the fluid demo.
# PYMETALLIC_WHEEL_TESTS overrides the sample (test files, relative to tests/).
set -euo pipefail

if [ "${1:-}" = "--installed" ]; then
  src="$(cd "${2:?usage: check_wheel.sh --installed SOURCE_TREE}" && pwd)"
  work="$(mktemp -d)"
  py="$(command -v python)"
  hide_compiler=0  # cibuildwheel's containers: the compiler stays, the point is the wheel
else
  wheel="$(cd "$(dirname "${1:?usage: check_wheel.sh WHEEL}")" && pwd)/$(basename "$1")"
  src="$(cd "$(dirname "$0")/.." && pwd)"
  work="$(mktemp -d)"
  echo "== fresh virtual environment in $work (outside the source tree)"
  python3 -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install -q --upgrade pip
  # [cpu]: the compiler; pytest and pillow for the sample tests and the demo's images.
  "$work/venv/bin/python" -m pip install -q "${wheel}[cpu,demo]" "pytest>=7"
  py="$work/venv/bin/python"
  hide_compiler=1
fi
trap 'rm -rf "$work"' EXIT
case "$work" in "$src"/*) echo "error: $work is inside the source tree" >&2; exit 1 ;; esac

# The sample: copied out of the tree with the two conftest files and the test helpers.
tests="${PYMETALLIC_WHEEL_TESTS:-msl/test_threadgroup.py msl/test_atomic.py msl/test_textures.py}"
mkdir -p "$work/tests/msl"
cp "$src/tests/conftest.py" "$src/tests/pm_testing.py" "$work/tests/"
cp "$src/tests/msl/conftest.py" "$src/tests/msl/simd_ref.py" "$work/tests/msl/"
for t in $tests; do cp "$src/tests/$t" "$work/tests/$t"; done
cp "$src/examples/quick_example.py" "$work/"

cd "$work"
run() {
  if [ "$hide_compiler" = 1 ]; then
    # Only the environment's own bin folder on PATH: no c++, g++ or clang++ to be found.
    env -u CXX PATH="$work/venv/bin" PYMETALLIC_CACHE_DIR="$work/cache" PYMETALLIC_DEVICE=cpu "$@"
  else
    env PYMETALLIC_CACHE_DIR="$work/cache" PYMETALLIC_DEVICE=cpu "$@"
  fi
}

echo "== the installed package"
run "$py" - "$src" <<'EOF'
import sys, pymetallic
src = sys.argv[1]
assert not pymetallic.__file__.startswith(src), f"imported from the source tree: {pymetallic.__file__}"
print(f"pymetallic {pymetallic.__version__} from {pymetallic.__file__}")
# The package data, file by file: every file of python/pymetallic (kernels, py.typed), the
# runtime headers generated code is compiled against, and the generated stubs.
import glob, os
pkg, tree = os.path.dirname(pymetallic.__file__), os.path.join(src, "python", "pymetallic")
want = ["_core.pyi", "py.typed"]
for root, dirs, files in os.walk(tree):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    want += [os.path.relpath(os.path.join(root, f), tree) for f in files if not f.startswith("_core.")]
want += ["runtime/" + os.path.basename(h) for h in glob.glob(os.path.join(src, "src", "runtime", "metal_*"))]
missing = sorted(w for w in set(want) if not os.path.isfile(os.path.join(pkg, w)))
assert not missing, f"missing from the installed package: {missing}"
print(f"package data: {len(set(want))} files present")
EOF
run "$py" -m pymetallic.cli info | tee info.log
if [ "$hide_compiler" = 1 ]; then
  grep -q "cpu .*zig" info.log || {
    echo "error: with no system compiler on PATH the CPU device does not use the [cpu] extra's zig" >&2
    exit 1
  }
fi

echo "== quick example"
start=$(date +%s)
run "$py" quick_example.py | tee quick.log
grep -q "Computation complete!" quick.log
echo "(quick example: $(( $(date +%s) - start )) s, the first compile with a fresh compiler included)"

echo "== conformance sample: $tests"
run "$py" -m pytest -q -p no:cacheprovider --rootdir "$work" $(for t in $tests; do echo "tests/$t"; done)

echo "== fluid demo (make demo's)"
run "$py" -m pymetallic.cli demo fluid --out_dir "$work/demo_output"
ls "$work/demo_output" | grep -q . || { echo "error: the fluid demo wrote nothing" >&2; exit 1; }
echo "== wheel check passed"
