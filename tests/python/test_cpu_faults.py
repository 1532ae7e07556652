"""Bad input never crashes: on the CPU, a kernel that writes far outside its buffer or
divides an integer by zero stops with a MetalError on its command buffer, and the process
(and the device) carry on."""

import numpy as np
import pytest

import pymetallic

SRC = """
kernel void wild_write(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    x[i + (1ul << 40)] = 1.0;
}
kernel void divide(device int* x [[buffer(0)]], constant int& d [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    x[i] = x[i] / d;
}
kernel void wild_write_with_barrier(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    x[i + (1ul << 40)] = 1.0;
}
"""


def _run(device, name, buf, extra=()):
    lib = pymetallic.Library(device, SRC)
    cb = pymetallic.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pymetallic.ComputePipelineState(device, lib.make_function(name)))
    enc.set_buffer(buf, 0, 0)
    for value, index in extra:
        enc.set_bytes(value, index)
    enc.dispatch_threads((64, 1, 1), (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    return cb


@pytest.mark.parametrize("name", ["wild_write", "wild_write_with_barrier"])
def test_out_of_bounds_write_is_an_error_not_a_crash(cpu_device, name):
    buf = pymetallic.Buffer(cpu_device, 256)
    cb = _run(cpu_device, name, buf)
    with pytest.raises(pymetallic.MetalError, match=f"{name}.*invalid memory access"):
        cb.wait_until_completed()
    assert cb.get_status() == -1 and "invalid memory access" in cb.error
    # the device still works
    ok = pymetallic.Buffer.from_numpy(cpu_device, np.arange(64, dtype=np.int32))
    _run(cpu_device, "divide", ok, [(np.int32(2), 1)]).wait_until_completed()
    np.testing.assert_array_equal(ok.to_numpy(np.int32), np.arange(64) // 2)


def test_integer_division_by_zero_is_an_error_not_a_crash(cpu_device):
    buf = pymetallic.Buffer.from_numpy(cpu_device, np.arange(64, dtype=np.int32))
    cb = _run(cpu_device, "divide", buf, [(np.int32(0), 1)])
    with pytest.raises(pymetallic.MetalError, match="divide.*division by zero"):
        cb.wait_until_completed()


def test_off_by_one_write_past_the_end_is_an_error(cpu_device):
    src = """
kernel void off_by_one(device float* x [[buffer(0)]], constant uint& n [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
    if (i == 0) x[n] = 1.0;   // one past the end
}"""
    buf = pymetallic.Buffer(cpu_device, 4 * 1000)
    k = pymetallic.Library(cpu_device, src).make_function("off_by_one")
    cb = pymetallic.CommandQueue(cpu_device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pymetallic.ComputePipelineState(cpu_device, k))
    enc.set_buffer(buf, 0, 0)
    enc.set_bytes(np.uint32(1000), 1)
    enc.dispatch_threads((1, 1, 1), (1, 1, 1))
    enc.end_encoding()
    cb.commit()
    with pytest.raises(pymetallic.MetalError, match="off_by_one.*invalid memory access"):
        cb.wait_until_completed()
