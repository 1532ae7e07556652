#!/usr/bin/env bash
# Installs what bench/cpu_vs_pocl.py compares against: PoCL (the portable OpenCL runtime for
# CPUs) through the Debian packages, and PyOpenCL through pip into the Python that runs the
# benchmark. Not part of `make test`.
#
#   bash scripts/install_bench_deps.sh [python]      (default: python3; use .venv/bin/python
#                                                     to install into the project's venv)
set -euo pipefail
PY="${1:-python3}"

pkgs=(pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev clinfo)
if ! dpkg -s pocl-opencl-icd ocl-icd-libopencl1 >/dev/null 2>&1; then
  echo "== installing Debian packages: ${pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: not root; run: sudo apt-get update && sudo apt-get install -y ${pkgs[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
fi

if ! "$PY" -c 'import pyopencl' >/dev/null 2>&1; then
  echo "== pip install pyopencl into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install -q pyopencl
fi

"$PY" - <<'PY'
import pyopencl as cl
for p in cl.get_platforms():
    print(f"OpenCL platform: {p.name} {p.version}: " + ", ".join(d.name for d in p.get_devices()))
PY
