"""Issue 13, item 4: tiered CUDA libraries (PYMETALLIC_CUDA_TIERED=1, entry_wrapper.h). A library
is returned once the general entry of each kernel (any dispatch) is compiled; the uniform
entries (whole threadgroups; `constant T&` data inline or in buffers) come from a second unit
of the same code compiled on a background thread, and dispatches take them once loaded. The
NVRTC checks need no GPU; the run checks run on every device (on the CPU the setting changes
nothing) and dispatch while the uniform entries arrive."""

import os
import sys
import time

import numpy as np
import nvrtc_direct
import pymetallic as pm
import pytest
from test_nvrtc_programs import bench_msl, nvrtc_available, numbering

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture
def nvrtc(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    return monkeypatch


def test_the_two_units_hold_every_entry_with_the_same_instructions(nvrtc):
    msl = bench_msl()
    direct = pm._core.compile_offline(msl, None, "cuda", "sm_90", True)["generated"]
    nvrtc.setenv("PYMETALLIC_CUDA_TIERED", "1")
    tiered = pm._core.compile_offline(msl, None, "cuda", "sm_90", True)
    general, uniform = tiered["units"]
    assert tiered["generated"] == general
    # The layout table, read by the host, only in the unit loaded with the library.
    assert "metallic_layout_0[]" in general and "metallic_layout_" not in uniform
    lib = nvrtc_direct.library()
    flags = nvrtc_direct.options() + ["-DMETAL_FAST_MATH=1", "--fmad=true"]
    whole = nvrtc_direct.functions(nvrtc_direct.compile(lib, direct, flags))
    first = nvrtc_direct.functions(nvrtc_direct.compile(lib, general, flags))
    late = nvrtc_direct.functions(nvrtc_direct.compile(lib, uniform, flags))
    assert set(first) == {f"metallic_entry_{i}" for i in range(7)}
    assert set(late) == {n for n in whole if "_uniform" in n} and len(late) == 11
    for name, ptx in {**first, **late}.items():
        assert numbering(ptx) == numbering(whole[name]), name


def test_offline_compile_builds_both_units(nvrtc):
    nvrtc.setenv("PYMETALLIC_CUDA_TIERED", "1")
    r = pm._core.compile_offline(bench_msl(), None, "cuda", "sm_90")
    assert r["programs"] == 2 and len(r["units"]) == 2 and "2 modules" in r["artifact"]


def test_tiering_is_off_by_default_and_with_uniform_entries_off(nvrtc):
    msl = bench_msl()
    assert pm._core.compile_offline(msl, None, "cuda", "sm_90", True)["units"] == []
    nvrtc.setenv("PYMETALLIC_CUDA_TIERED", "1")
    nvrtc.setenv("PYMETALLIC_CUDA_UNIFORM_ENTRIES", "0")
    assert pm._core.compile_offline(msl, None, "cuda", "sm_90", True)["units"] == []


SRC = r"""
#include <metal_stdlib>
using namespace metal;
struct Affine { float scale; uint n; };

kernel void affine(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                   constant Affine& p [[buffer(2)]], constant float& shift [[buffer(3)]],
                   uint i [[thread_position_in_grid]], uint tg [[threads_per_threadgroup]]) {
    if (i < p.n) y[i] = x[i] * p.scale + shift + float(tg);
}

kernel void plus_group(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                       uint i [[thread_position_in_grid]], uint tg [[threads_per_threadgroup]]) {
    y[i] = x[i] + float(tg);
}
"""


def group_sizes(n, tg):
    """threads_per_threadgroup of each thread of dispatch_threads(n, tg): the last group may be smaller."""
    i = np.arange(n)
    return np.minimum(tg, n - (i // tg) * tg).astype(np.float32)


def test_dispatches_are_right_while_the_uniform_entries_arrive(device, monkeypatch, tmp_path):
    """Whole and partial threadgroups; the `constant` data by set_bytes, by buffers and mixed;
    repeated for a while after the library is made, so that on a GPU dispatches run before
    and after the uniform entries are loaded."""
    monkeypatch.setenv("PYMETALLIC_CUDA_TIERED", "1")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    lib = pm.Library(device, SRC + f"// tiered {time.time()}\n")
    affine = pm.ComputePipelineState(device, lib.make_function("affine"))
    plus = pm.ComputePipelineState(device, lib.make_function("plus_group"))
    queue = pm.CommandQueue(device)
    params = np.zeros(1, dtype=[("scale", np.float32), ("n", np.uint32)])
    deadline = time.perf_counter() + (3.0 if getattr(device, "kind", "cpu") == "cuda" else 0.2)
    rounds = 0
    while rounds < 4 or time.perf_counter() < deadline:
        for n in (96, 100):
            x = np.linspace(-3, 5, n).astype(np.float32) + rounds
            params["scale"], params["n"] = 1.5 + rounds, n
            shift = np.float32(0.25 * rounds)
            X, Y = pm.Buffer.from_numpy(device, x), pm.Buffer(device, 4 * n)
            P, S = pm.Buffer.from_numpy(device, params), pm.Buffer.from_numpy(device, np.array([shift]))
            want = x * params["scale"][0] + shift + group_sizes(n, 32)
            for binding in ("inline", "buffers", "mixed"):
                cb = queue.make_command_buffer()
                enc = cb.make_compute_command_encoder()
                enc.set_compute_pipeline_state(affine)
                enc.set_buffer(X, 0, 0)
                enc.set_buffer(Y, 0, 1)
                if binding == "inline":
                    enc.set_bytes(params.tobytes(), 2)
                    enc.set_bytes(shift, 3)
                elif binding == "buffers":
                    enc.set_buffer(P, 0, 2)
                    enc.set_buffer(S, 0, 3)
                else:
                    enc.set_bytes(params.tobytes(), 2)
                    enc.set_buffer(S, 0, 3)
                enc.dispatch_threads((n, 1, 1), (32, 1, 1))
                enc.set_compute_pipeline_state(plus)
                enc.set_buffer(X, 0, 0)
                enc.set_buffer(X, 0, 1)  # in place: x + group size
                enc.dispatch_threads((n, 1, 1), (32, 1, 1))
                enc.end_encoding()
                cb.commit()
                cb.wait_until_completed()
                assert cb.get_status() == 1, cb.error
                np.testing.assert_allclose(Y.to_numpy(np.float32), want, rtol=1e-6, err_msg=f"{binding}, n={n}")
                x = x + group_sizes(n, 32)
                np.testing.assert_allclose(X.to_numpy(np.float32), x, rtol=1e-6, err_msg=f"plus_group, n={n}")
                want = x * params["scale"][0] + shift + group_sizes(n, 32)
        rounds += 1


def test_a_process_exits_while_the_uniform_unit_compiles(tmp_path):
    """The background compile is waited for at exit (no crash, no hang); its unit is then in
    the disk cache, and a new process starts warm from both units."""
    code = (
        "import sys, time; sys.path.insert(0, {bench!r}); import pymetallic as pm; from gpu_kernels import MSL; "
        "d = pm.Device.get_default_device(); lib = pm.Library(d, MSL); "
        "pm.ComputePipelineState(d, lib.make_function('vector_add')); print('made')"
    ).format(bench=os.path.join(ROOT, "bench"))
    env = dict(os.environ, PYMETALLIC_CUDA_TIERED="1", PYMETALLIC_CACHE_DIR=str(tmp_path))
    import subprocess

    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "made" in out.stdout, out.stderr
