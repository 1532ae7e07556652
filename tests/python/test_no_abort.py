"""Issue 11, item 3: no abort without a Python exception. Every toolchain and cache failure
is a MetalError/DeviceError naming the fix, never SIGABRT; a trap in a kernel is an error on
its command buffer (or refused at compile time), never SIGILL. Each case in a child process
with its own cache folder."""

import os
import stat

import pytest

from reliability_util import run_child

COMPILE = """
SRC = "kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = 2.0f * x[i] + %d.0f; }"
def compile_and_run(n=1):
    lib = pm.Library(CPU, SRC % n)
    x = pm.Buffer.from_numpy(CPU, np.arange(8, dtype=np.float32))
    launch(pm.CommandQueue(CPU), lib, "k", [x], 8, 8).wait_until_completed()
    np.testing.assert_array_equal(x.to_numpy(np.float32), 2 * np.arange(8, dtype=np.float32) + n)
"""

EXPECT_ERROR = (
    COMPILE
    + """
for attempt in range(2):   # the second attempt must fail the same way, not hang or abort
    try:
        compile_and_run(attempt)
        print("compiled")
    except pm.DeviceError as e:
        print("DeviceError:", str(e).splitlines()[0])
    except pm.MetalError as e:
        print(type(e).__name__ + ":", str(e).splitlines()[0])
"""
)


@pytest.fixture
def fresh_cache(tmp_path):
    return {"PYMETALLIC_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize("cxx", ["/nonexistent/bin/c++", "false", "true"])
def test_a_wrong_cxx_is_a_device_error(cxx, fresh_cache):
    r = run_child(EXPECT_ERROR, env={**fresh_cache, "CXX": cxx}, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("DeviceError:") for ln in lines), r.stdout
    assert "CXX" in lines[0] and ("g++" in lines[0] or "clang++" in lines[0] or "compiler" in lines[0]), lines[0]


def test_no_compiler_on_path_is_a_device_error(fresh_cache):
    env = {**fresh_cache, "PATH": "/nonexistent", "CXX": ""}
    r = run_child(EXPECT_ERROR, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("DeviceError:") and "C++ compiler" in r.stdout and "CXX" in r.stdout, r.stdout


@pytest.mark.parametrize("kind", ["missing-parent-unwritable", "a-file", "read-only"])
def test_an_unusable_cache_folder_falls_back_with_a_warning(kind, tmp_path):
    if kind == "missing-parent-unwritable":
        parent = tmp_path / "locked"
        parent.mkdir()
        parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
        target = parent / "cache"
    elif kind == "a-file":
        target = tmp_path / "file"
        target.write_text("not a folder")
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0 and kind != "a-file":
        pytest.skip("root can write anywhere")
    r = run_child(
        COMPILE + "compile_and_run(3)\nprint('ok')",
        env={"PYMETALLIC_CACHE_DIR": str(target), "TMPDIR": str(tmp_path)},
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert "warning" in r.stderr and "PYMETALLIC_CACHE_DIR" in r.stderr and "temporary" in r.stderr


def test_no_usable_cache_and_no_temporary_folder_is_an_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    r = run_child(EXPECT_ERROR, env={"PYMETALLIC_CACHE_DIR": str(target), "TMPDIR": str(target)}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("MetalError:") and "PYMETALLIC_CACHE_DIR" in r.stdout, r.stdout


def test_a_trap_in_a_kernel_is_an_error_not_sigill(fresh_cache):
    r = run_child(
        """
src = "kernel void t(device int* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { if (x[i] == 0) __builtin_trap(); x[i] = 1; }"
try:
    lib = pm.Library(CPU, src)
    x = pm.Buffer.from_numpy(CPU, np.zeros(4, np.int32))
    launch(pm.CommandQueue(CPU), lib, "t", [x], 4, 4).wait_until_completed()
    print("no error")
except pm.CompileError as e:
    print("refused")
except pm.MetalError as e:
    print("stopped" if "trap" in str(e) else repr(e))
""",
        env=fresh_cache,
        timeout=60,
    )
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout.strip() in ("refused", "stopped")
