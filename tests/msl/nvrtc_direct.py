"""NVRTC called directly through ctypes (no GPU, no pymetallic in between), for tests that
compare the PTX of generated CUDA C++ units: tests/msl/test_runtime_subsets.py,
test_loop_progress.py, test_nvrtc_programs.py, test_simdgroup_matrix_ldmatrix.py."""

import ctypes
import glob
import os
import re

import pymetallic as pm
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def library():
    """libnvrtc, found as pymetallic finds it ($PYMETALLIC_NVRTC_PATH first); skips the test
    when there is none."""
    folders = os.environ.get("PYMETALLIC_NVRTC_PATH", "")
    candidates = []
    for folder in folders.split(os.pathsep) if folders else []:
        candidates += glob.glob(os.path.join(folder, "libnvrtc.so*"))
    candidates += ["libnvrtc.so"] + sorted(glob.glob("/usr/local/cuda*/lib*/libnvrtc.so*"), reverse=True)
    for c in candidates:
        if "builtins" in c or "alt" in c:
            continue
        try:
            return ctypes.CDLL(c)
        except OSError:
            continue
    pytest.skip("libnvrtc not found")


def runtime_dir():
    """The runtime headers the generated units include (the folder the backend passes NVRTC)."""
    if hasattr(pm._core, "runtime_dir"):
        return pm._core.runtime_dir()
    installed = os.path.join(os.path.dirname(pm.__file__), "runtime")
    return installed if os.path.isdir(installed) else os.path.join(ROOT, "src", "runtime")


def options(arch="compute_90"):
    """The flags pymetallic's CUDA backend compiles with (cuda_toolchain.cpp), for PTX."""
    return ["--std=c++17", "-default-device", f"--include-path={runtime_dir()}", "-w", f"--gpu-architecture={arch}"]


def compile(lib, source, flags):
    """The PTX of `source` ("" with -fdevice-syntax-only); fails the test with NVRTC's log."""
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"k.cu", 0, None, None) == 0
    argv = (ctypes.c_char_p * len(flags))(*[f.encode() for f in flags])
    rc = lib.nvrtcCompileProgram(prog, len(flags), argv)
    n = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    log = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetProgramLog(prog, log)
    text = ""
    if rc == 0 and "-fdevice-syntax-only" not in flags:
        lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
        out = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetPTX(prog, out)
        text = out.value.decode()
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    assert rc == 0, log.value.decode()[:4000]
    return text


def functions(ptx):
    """The text of each .entry / .func of a PTX module, by name (module-scope data aside)."""
    found = {}
    for m in re.finditer(
        r"^\.(?:visible |weak )?(?:\.entry|\.func)\s+(?:\([^)]*\)\s*)?(\w+)\s*\((.*?)^}", ptx, re.S | re.M
    ):
        found[m.group(1)] = m.group(0)
    return found
