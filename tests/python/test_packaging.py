"""Packaging: one version number everywhere, kept in every cache key; the CPU device's
compiler search (system compiler, else the [cpu] extra's zig, else a clear error)."""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap

import pytest

import pymetallic
from pymetallic import _core

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = """
kernel void twice(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = 2.0f * x[i]; }
"""
RUN_KERNEL = textwrap.dedent("""
    import numpy as np, pymetallic as pm
    d = pm.Device.get_default_device()
    x = np.arange(64, dtype=np.float32)
    b = pm.Buffer.from_numpy(d, x)
    p = pm.ComputePipelineState(d, pm.Library(d, {src!r}).make_function("twice"))
    q = pm.CommandQueue(d); cb = q.make_command_buffer(); e = cb.make_compute_command_encoder()
    e.set_compute_pipeline_state(p); e.set_buffer(b, 0, 0); e.dispatch_threads((64, 1, 1), (32, 1, 1))
    e.end_encoding(); cb.commit(); cb.wait_until_completed()
    assert (b.to_numpy(np.float32, (64,)) == 2 * x).all()
    print("compiler:", pm._core.toolchains()["cpu"])
""").format(src=KERNEL)


def _run(code, env_update, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_update, PYMETALLIC_DEVICE="cpu")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


def test_one_version_number():
    source = open(os.path.join(ROOT, "python", "pymetallic", "_version.py")).read()
    written = re.search(r'^__version__ = "([^"]+)"', source, re.M).group(1)
    assert pymetallic.__version__ == written
    assert _core.__version__ == written  # the C++ library read the same file (CMakeLists.txt)
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", written)


def test_info_shows_the_version(capsys):
    from pymetallic import cli

    assert cli.main(["info"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"pymetallic {pymetallic.__version__}"


def test_every_cache_entry_is_kept_per_version(tmp_path):
    r = _run(RUN_KERNEL, {"PYMETALLIC_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    entries = [f for f in os.listdir(tmp_path / "cpu") if ".tmp" not in f]
    assert any(f.endswith(".so") for f in entries), entries
    suffix = re.compile(re.escape(f"-{pymetallic.__version__}") + r"\.\w+$")
    assert entries and all(suffix.search(f) for f in entries), entries


def test_no_compiler_says_how_to_get_one(tmp_path):
    """Nothing on PATH, no $CXX, and the zig it is pointed at missing: a DeviceError that names
    the [cpu] extra and the system packages, raised when a library is built, not a crash."""
    code = textwrap.dedent("""
        import pymetallic as pm
        d = pm.Device.get_default_device()
        try:
            pm.Library(d, {src!r})
        except pm.DeviceError as e:
            print("ERROR:", e)
        print("info cpu:", pm._core.toolchains()["cpu"])
    """).format(src=KERNEL)
    r = _run(
        code,
        {
            "PATH": str(tmp_path),
            "PYMETALLIC_ZIG": str(tmp_path / "no-zig"),
            "PYMETALLIC_CACHE_DIR": str(tmp_path / "cache"),
        },
        drop=("CXX",),
    )
    assert r.returncode == 0, r.stderr
    error = next(line for line in r.stdout.splitlines() if line.startswith("ERROR:"))
    assert "needs a C++ compiler" in error
    assert "pip install 'metallic-compute[cpu]'" in error and "apt-get install g++" in error
    assert "info cpu: unavailable" in r.stdout


def test_cxx_naming_nothing_is_an_error(tmp_path):
    r = _run(
        "import pymetallic as pm\nprint(pm._core.toolchains()['cpu'])",
        {"CXX": str(tmp_path / "no-such-compiler"), "PYMETALLIC_CACHE_DIR": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    assert "unavailable: CXX names" in r.stdout and "metallic-compute[cpu]" in r.stdout


@pytest.mark.skipif(importlib.util.find_spec("ziglang") is None, reason="the [cpu] extra (ziglang) is not installed")
def test_zig_compiles_kernels_when_there_is_no_system_compiler(tmp_path):
    """The [cpu] extra: with no compiler on PATH, the CPU device compiles with the ziglang
    wheel's clang (the first compile on a machine also builds zig's C++ library: minutes)."""
    r = _run(
        RUN_KERNEL,
        {"PATH": str(tmp_path), "PYMETALLIC_CACHE_DIR": str(tmp_path / "cache")},
        drop=("CXX", "PYMETALLIC_ZIG"),
    )
    assert r.returncode == 0, r.stderr
    assert "zig c++" in r.stdout
