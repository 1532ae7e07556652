#!/usr/bin/env bash
# Installs what pymetallic needs from Debian packages, when it is missing: a C++17
# compiler (also used at run time by the CPU backend), CMake, GoogleTest, Python's venv,
# xxHash (the cache keys' hash, header-only).
set -euo pipefail

missing=()
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -e /usr/include/gtest/gtest.h ] || [ -e /usr/local/include/gtest/gtest.h ] || missing+=(libgtest-dev)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
[ -e /usr/include/xxhash.h ] || [ -e /usr/local/include/xxhash.h ] || missing+=(libxxhash-dev)
# Optional: an MPI implementation, for the MPI example's test (tests/python/test_mpi_example.py
# runs examples/mpi_halo.py under `mpirun -n 2`; mpi4py comes from the test extra). Installed
# when we can; without it that test skips.
optional=()
command -v mpirun >/dev/null 2>&1 || optional+=(openmpi-bin)
[ -e /usr/lib/x86_64-linux-gnu/libmpi.so ] || [ -e /usr/lib/aarch64-linux-gnu/libmpi.so ] || \
  ls /usr/lib/*/libmpi.so >/dev/null 2>&1 || optional+=(libopenmpi-dev)
if [ ${#optional[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing+=("${optional[@]}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "== installing system packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: these Debian packages are missing and I am not root: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
