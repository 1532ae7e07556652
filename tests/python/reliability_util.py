"""Running a snippet in a child process, bounded in time: crashes, hangs and aborts are
observed from outside, so the test process survives them."""

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
