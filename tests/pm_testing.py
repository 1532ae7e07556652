"""Small helpers shared by the Python tests (and bench/compile_time.py)."""

import os
import subprocess
import sys

import pymetallic

# What a child of run_in_fresh_process runs first: `pm`, `device` (the first device of the
# kind asked for) and `args` (the further arguments).
_CHILD_PRELUDE = (
    "import sys\n"
    "import pymetallic as pm\n"
    "args = sys.argv[2:]\n"
    "device = [x for x in pm.Device.get_all_devices() if x.kind == sys.argv[1]][0]\n"
)


def run_in_fresh_process(kind, code, *args, cache_dir, timeout=600):
    """Runs ``code`` in a new Python process whose kernel cache folder is ``cache_dir`` (so
    that what it compiles can be counted or timed), with this process's pymetallic; the
    child sees ``pm``, ``device`` (of ``kind``) and ``args``. Returns its stdout's lines;
    AssertionError with its output when it fails."""
    env = dict(os.environ, PYMETALLIC_CACHE_DIR=str(cache_dir))
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(pymetallic.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "-c", _CHILD_PRELUDE + code, kind, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.split("\n")


def run_kernel(device, source, name, grid, tg, buffers=(), bytes_args=(), tg_memory=(), groups=False):
    """Compile, dispatch once and wait. buffers: [(Buffer, index)], bytes_args: [(np value, index)],
    tg_memory: [(bytes, index)]. groups=True dispatches `grid` threadgroups instead of threads."""
    lib = pymetallic.Library(device, source)
    pipeline = pymetallic.ComputePipelineState(device, lib.make_function(name))
    queue = pymetallic.CommandQueue(device)
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipeline)
    for buf, index in buffers:
        enc.set_buffer(buf, 0, index)
    for value, index in bytes_args:
        enc.set_bytes(value, index)
    for length, index in tg_memory:
        enc.set_threadgroup_memory_length(length, index)
    if groups:
        enc.dispatch_threadgroups(grid, tg)
    else:
        enc.dispatch_threads(grid, tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.get_status() == 1, cb.error
    return cb
