"""Every script in examples/ runs at a small size (PYMETALLIC_EXAMPLE_SMALL=1)."""

import glob
import os
import subprocess
import sys

import pytest

import pymetallic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py")))
EXPECTED_OUTPUT = {
    "quick_example.py": None,
    "mandelbrot_png.py": "mandelbrot.png",
    "reduction.py": None,
    "nbody.py": None,
    "fluid.py": "fluid.gif",
    "life.py": "life.gif",
}


def test_the_expected_examples_exist():
    assert set(EXPECTED_OUTPUT) <= {os.path.basename(p) for p in EXAMPLES}


# Examples that check their results against NumPy also run under the CPU device's other
# scheduling paths (src/backends/cpu/schedule.h): every path must pass the same checks.
SELF_CHECKING = ["life.py", "nbody.py", "quick_example.py", "reduction.py"]


@pytest.mark.parametrize("schedule", ["fibers", "nofission,serial"])
@pytest.mark.parametrize("name", SELF_CHECKING)
def test_self_checking_example_on_every_cpu_path(name, schedule, tmp_path):
    env = dict(os.environ, PYMETALLIC_EXAMPLE_SMALL="1", PYMETALLIC_DEVICE="cpu", PYMETALLIC_CPU_SCHEDULE=schedule)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(pymetallic.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs_small(path, tmp_path):
    env = dict(os.environ, PYMETALLIC_EXAMPLE_SMALL="1")
    # The child imports the same pymetallic as this process (installed, or the dev tree).
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(pymetallic.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, path], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip()
    out = EXPECTED_OUTPUT.get(os.path.basename(path))
    if out:
        assert (tmp_path / out).stat().st_size > 0
