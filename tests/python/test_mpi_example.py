"""examples/mpi_halo.py under `mpirun -n 2`: two processes, one device each (CPU devices on a
machine without GPUs), halos through MPI, the gathered result equal to one device's."""

import os
import shutil
import subprocess
import sys

import pytest

import pymetallic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mpi_ready():
    if shutil.which("mpirun") is None:
        return "no MPI implementation (mpirun) is installed: scripts/ensure_system_deps.sh installs openmpi-bin as root"
    try:
        from mpi4py import MPI  # noqa: F401
    except Exception as e:  # not installed, or it found no MPI library
        return f"mpi4py cannot be used ({e}): it comes from the test extra (pip install '.[test]')"
    return None


@pytest.mark.skipif(_mpi_ready() is not None, reason=str(_mpi_ready()))
@pytest.mark.parametrize("halo", ["auto", "staging"])
def test_mpi_halo_two_ranks(halo, tmp_path):
    env = dict(
        os.environ,
        PYMETALLIC_EXAMPLE_SMALL="1",
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(pymetallic.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYMETALLIC_DEVICE", None)
    if halo != "auto":
        env["PYMETALLIC_MPI_HALO"] = halo  # the GPU path's staging blits, run on whatever device
    r = subprocess.run(
        ["mpirun", "-n", "2", sys.executable, os.path.join(REPO, "examples", "mpi_halo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "over 2 rank(s)" in r.stdout, r.stdout
    assert "bit for bit" in r.stdout or "matches the single-device result" in r.stdout, r.stdout
