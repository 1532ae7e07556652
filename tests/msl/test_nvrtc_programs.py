"""Issue 13, item 4: a library's kernels compiled as several NVRTC programs at once
(PYMETALLIC_NVRTC_THREADS=n; the default is one program: NVRTC parses one program at a time
per process, docs/performance.md), kernel i in program i % n, each a module of its own. The
NVRTC checks need no GPU; the run checks run on every device (on the CPU the setting changes
nothing)."""

import os
import re
import subprocess
import sys

import numpy as np
import nvrtc_direct
import pymetallic as pm
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def nvrtc_available():
    try:
        return not pm._core.toolchains().get("nvrtc", "unavailable").startswith("unavailable")
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def nvrtc(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    return monkeypatch


def bench_msl():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from gpu_kernels import MSL

    return MSL


def test_each_program_holds_its_kernels_and_compiles_them_to_the_same_instructions(nvrtc):
    msl = bench_msl()
    nvrtc.setenv("PYMETALLIC_NVRTC_THREADS", "1")
    one = pm._core.compile_offline(msl, None, "cuda", "sm_90")
    assert one["programs"] == 1 and one["units"] == [one["generated"]]
    nvrtc.setenv("PYMETALLIC_NVRTC_THREADS", "3")
    three = pm._core.compile_offline(msl, None, "cuda", "sm_90")
    assert three["programs"] == 3 and len(three["units"]) == 3 and "(3 modules)" in three["artifact"]
    assert three["generated"] == one["generated"]  # the whole unit, as one program compiles it
    kernels = len(three["functions"])
    assert kernels == 7
    for p, unit in enumerate(three["units"]):
        for i in range(kernels):
            assert (f"void metallic_entry_{i}(" in unit) == (i % 3 == p), (p, i)
    # Every entry compiles to the same PTX in its program as in the single one.
    lib = nvrtc_direct.library()
    flags = nvrtc_direct.options() + ["-DMETAL_FAST_MATH=1", "--fmad=true"]
    whole = nvrtc_direct.functions(nvrtc_direct.compile(lib, one["generated"], flags))
    split = {}
    for unit in three["units"]:
        split.update(nvrtc_direct.functions(nvrtc_direct.compile(lib, unit, flags)))
    assert split.keys() == whole.keys()
    for i in range(kernels):  # the general entry, and one uniform entry or the two specialised ones
        e = f"metallic_entry_{i}"
        uniform = {n for n in whole if n.startswith(e + "_")}
        assert e in whole and uniform in ({e + "_uniform"}, {e + "_uniform_inline", e + "_uniform_buffers"}), uniform
    assert len(whole) == 18  # 7 kernels; 4 of them read a constant T& (three entries each)
    for name in whole:  # labels and local depots are numbered by the function's place in its module
        assert numbering(split[name]) == numbering(whole[name]), name


def numbering(ptx):
    """A function's PTX without what depends on the rest of its module: label and local-depot
    numbers, and where a threadgroup array is declared (inside the one function that uses
    it, "demoted", or at module scope when two entries share it)."""
    ptx = re.sub(r"__local_depot\d+", "__local_depot", re.sub(r"\$L__BB\d+_", "$L__BB_", ptx))
    lines = [ln for ln in ptx.splitlines() if ln.strip() and "// demoted variable" not in ln]
    return "\n".join(ln for ln in lines if not ln.strip().startswith(".shared "))


def test_each_program_is_cached_and_a_damaged_one_is_rebuilt(nvrtc, tmp_path):
    msl = bench_msl()
    nvrtc.setenv("PYMETALLIC_NVRTC_THREADS", "3")
    first = pm._core.compile_offline(msl, None, "cuda", "sm_90")
    folder = tmp_path / "cuda"
    cubins = sorted(f for f in os.listdir(folder) if f.endswith(".cubin"))
    assert len(cubins) == 3
    stamps = {f: os.stat(folder / f).st_ino for f in cubins}
    again = pm._core.compile_offline(msl, None, "cuda", "sm_90")
    assert again["binary_size"] == first["binary_size"]
    assert {
        f: os.stat(folder / f).st_ino for f in cubins
    } == stamps  # read (a rebuilt entry is a new file), not rebuilt
    damaged = folder / cubins[1]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    rebuilt = pm._core.compile_offline(msl, None, "cuda", "sm_90")
    assert rebuilt["binary_size"] == first["binary_size"]
    assert damaged.read_bytes() != bytes(data)  # the checksum caught it: compiled and written anew


def test_an_error_is_reported_as_with_one_program(nvrtc):
    bad = """#include <metal_stdlib>
using namespace metal;
kernel void a(device float* o [[buffer(0)]]) { o[0] = 1.0f; }
kernel void b(device float* o [[buffer(0)]]) { o[0] = 2.0f; }
kernel void c(device float* o [[buffer(0)]]) {
    o[0] = not_declared_here;
}
"""
    messages = []
    for threads in ("1", "3"):
        nvrtc.setenv("PYMETALLIC_NVRTC_THREADS", threads)
        with pytest.raises(pm.CompileError, match=r"program.metal:6: error: identifier \"not_declared_here\"") as e:
            pm._core.compile_offline(bad, None, "cuda", "sm_90")
        messages.append(str(e.value).split("(generated CUDA C++ saved as")[0])
    assert messages[0] == messages[1]


def test_a_bad_setting_is_refused(nvrtc):
    for value in ("0", "two", "-1"):
        nvrtc.setenv("PYMETALLIC_NVRTC_THREADS", value)
        with pytest.raises(pm.ValidationError, match="PYMETALLIC_NVRTC_THREADS"):
            pm._core.compile_offline(bench_msl(), None, "cuda", "sm_90")


def test_the_default_is_one_program(tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[1]); import pymetallic as pm; from gpu_kernels import MSL;"
        "print(pm._core.compile_offline(MSL, None, 'cuda', 'sm_90')['programs'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYMETALLIC_NVRTC_THREADS"}
    env["PYMETALLIC_CACHE_DIR"] = str(tmp_path)
    out = subprocess.check_output([sys.executable, "-c", code, os.path.join(ROOT, "bench")], env=env, text=True)
    assert int(out.split()[-1]) == 1


SRC = """#include <metal_stdlib>
using namespace metal;
kernel void twice(device const float* x [[buffer(0)]], device float* y [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    y[i] = 2.0f * x[i];
}
kernel void plus_index(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                       uint i [[thread_position_in_grid]], uint t [[thread_index_in_threadgroup]]) {
    y[i] = x[i] + float(i) + 0.5f * float(t);
}
kernel void square(device const float* x [[buffer(0)]], device float* y [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    y[i] = x[i] * x[i];
}
kernel void negate(device const float* x [[buffer(0)]], device float* y [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    y[i] = -x[i];
}
"""


@pytest.mark.parametrize("n", [96, 100], ids=["whole_groups", "partial_group"])
def test_kernels_of_several_programs_run(runner, device, monkeypatch, n):
    """Each kernel from its own module (4 kernels, 3 programs: kernels 0 and 3 share one), both
    entries (every threadgroup whole, and not)."""
    monkeypatch.setenv("PYMETALLIC_NVRTC_THREADS", "3")
    x = np.linspace(-3, 5, n).astype(np.float32)
    i = np.arange(n)
    expected = {
        "twice": 2 * x,
        "plus_index": x + i + 0.5 * (i % 32),
        "square": x * x,
        "negate": -x,
    }
    for name, want in expected.items():
        y = runner.run(device, SRC, name, [x, np.zeros_like(x)], (n,), (32,))[1]
        np.testing.assert_allclose(y, want.astype(np.float32), rtol=1e-6, err_msg=name)


def test_without_uniform_entries_the_general_ones_are_unchanged(nvrtc):
    """PYMETALLIC_CUDA_UNIFORM_ENTRIES=0 drops the uniform entries (one per kernel; two for a
    kernel with `constant T&` arguments: their data inline, or in buffers) for a shorter cold
    compile, and changes nothing else."""
    msl = bench_msl()
    both = pm._core.compile_offline(msl, None, "cuda", "sm_90", True)["generated"]
    nvrtc.setenv("PYMETALLIC_CUDA_UNIFORM_ENTRIES", "0")
    general = pm._core.compile_offline(msl, None, "cuda", "sm_90", True)["generated"]
    assert "_uniform(" in both and "_uniform" not in general
    lib = nvrtc_direct.library()
    flags = nvrtc_direct.options() + ["-DMETAL_FAST_MATH=1", "--fmad=true"]
    a = nvrtc_direct.functions(nvrtc_direct.compile(lib, both, flags))
    b = nvrtc_direct.functions(nvrtc_direct.compile(lib, general, flags))
    assert len(b) == 7 and set(b) == {n for n in a if "_uniform" not in n}
    for name in b:
        assert numbering(a[name]) == numbering(b[name]), name
    pm._core.compile_offline(msl, None, "cuda", "sm_90")  # and it builds


@pytest.mark.parametrize("n", [96, 100], ids=["whole_groups", "partial_group"])
def test_kernels_without_uniform_entries_run(runner, device, monkeypatch, n):
    monkeypatch.setenv("PYMETALLIC_CUDA_UNIFORM_ENTRIES", "0")
    x = np.linspace(-3, 5, n).astype(np.float32)
    i = np.arange(n)
    src = SRC + "// built without _uniform entries\n"  # a library of its own in the runner's cache
    y = runner.run(device, src, "plus_index", [x, np.zeros_like(x)], (n,), (32,))[1]
    np.testing.assert_allclose(y, (x + i + 0.5 * (i % 32)).astype(np.float32), rtol=1e-6)
