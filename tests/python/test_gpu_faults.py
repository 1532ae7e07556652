"""A fault inside a kernel on a GPU: the command buffer reports it with the kernel's name,
waiting raises MetalError, and since a CUDA context cannot recover from a fault, every later
call says the device is unusable instead of hanging or aborting. Runs in a child process
(the fault poisons the process's GPU context)."""

import subprocess
import sys
import textwrap

import pytest

import pymetallic

CUDA = [d for d in pymetallic.Device.get_all_devices() if d.kind == "cuda"]

CHILD = textwrap.dedent("""
    import numpy as np, pymetallic
    d = next(d for d in pymetallic.Device.get_all_devices() if d.kind == "cuda")
    src = '''
    kernel void wild_write(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        x[i + (1ul << 40)] = 1.0;   // far outside any allocation
    }'''
    buf = pymetallic.Buffer(d, 1024)
    q = pymetallic.CommandQueue(d)
    cb = q.make_command_buffer()
    e = cb.make_compute_command_encoder()
    e.set_compute_pipeline_state(pymetallic.ComputePipelineState(d, pymetallic.Library(d, src).make_function("wild_write")))
    e.set_buffer(buf, 0, 0)
    e.dispatch_threads((32, 1, 1), (32, 1, 1))
    e.end_encoding()
    cb.commit()
    try:
        cb.wait_until_completed()
        print("NO ERROR")
    except pymetallic.MetalError as err:
        print("WAIT:", err)
    print("STATUS:", cb.get_status(), cb.error)
    try:
        pymetallic.Buffer(d, 64)
        print("NO ERROR AFTER")
    except pymetallic.DeviceError as err:
        print("AFTER:", err)
""")


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_kernel_fault_is_reported_and_poisons_the_device_clearly():
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "WAIT:" in out and "wild_write" in out and "ILLEGAL_ADDRESS" in out, out
    assert "STATUS: -1" in out, out
    assert "AFTER:" in out and "unusable" in out, out
