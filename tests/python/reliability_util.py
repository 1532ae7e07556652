"""Running a snippet in a child process, bounded in time: crashes, hangs and aborts are
observed from outside, so the test process survives them. The snippet sees `CPU` and
`launch(queue, lib, name, buffers, grid, tg, scalar, tg_memory)` (one committed dispatch)."""

import os
import subprocess
import sys
import textwrap

PRELUDE = """
import faulthandler, os, sys, threading, time
import numpy as np
import pymetallic as pm
faulthandler.enable()
faulthandler.dump_traceback_later({hang}, exit=True)  # a hang prints every thread's stack
CPU = next(d for d in pm.Device.get_all_devices() if d.kind == "cpu")
def launch(queue, lib, name, buffers, grid=64, tg=32, scalar=None, tg_memory=0):
    # Commits one 1-D dispatch of kernel `name` of `lib` (grid and tg in threads): buffers at
    # indices 0.., `scalar` by set_bytes after them, `tg_memory` bytes of threadgroup memory.
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pm.ComputePipelineState(lib.device, lib.make_function(name)))
    for i, b in enumerate(buffers):
        enc.set_buffer(b, 0, i)
    if scalar is not None:
        enc.set_bytes(scalar, len(buffers))
    if tg_memory:
        enc.set_threadgroup_memory_length(tg_memory, 0)
    enc.dispatch_threads((grid, 1, 1), (tg, 1, 1))
    enc.end_encoding()
    cb.commit()
    return cb
"""


def run_child(code, timeout=60, env=None, hang=None):
    """Runs PRELUDE + code in a fresh interpreter; returns the CompletedProcess. A child that
    outlives `timeout` is killed and reported as returncode None."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    source = PRELUDE.format(hang=hang or max(timeout - 5, 5)) + textwrap.dedent(code)
    try:
        return subprocess.run(
            [sys.executable, "-c", source], capture_output=True, text=True, timeout=timeout, env=full_env
        )
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, None, e.stdout or "", e.stderr or "")


def check_child(code, timeout=60, env=None, hang=None):
    """run_child, asserting a clean exit; returns stdout."""
    r = run_child(code, timeout, env, hang)
    assert r.returncode == 0, f"child exited with {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout
