"""Issue 11, item 7: no silent wrong result from misuse the API can see: set_bytes shorter than
the kernel's `constant T&`, grids whose counts overflow or exceed the device's limits, and
read_scalar while work on the buffer still runs."""

import threading
import time

import numpy as np
import pytest

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
struct Params { float scale; float offset; uint count; uint pad; };
kernel void affine(device float* x [[buffer(0)]], constant Params& p [[buffer(1)]],
                   uint i [[thread_position_in_grid]]) {
    if (i < p.count) x[i] = x[i] * p.scale + p.offset;
}
kernel void noop(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {}
kernel void slow_write(device int* x [[buffer(0)]], volatile device int* gate [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
    while (gate[0] == 0) {}
    x[i] = 42;
}
"""


@pytest.fixture
def lib(device):
    return pm.Library(device, SRC)


def _encoder(device, lib, name):
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pm.ComputePipelineState(device, lib.make_function(name)))
    return cb, enc


def test_short_set_bytes_for_a_constant_reference_is_refused(device, lib):
    x = pm.Buffer.from_numpy(device, np.ones(16, np.float32))
    cb, enc = _encoder(device, lib, "affine")
    enc.set_buffer(x, 0, 0)
    enc.set_bytes(np.float32(2.0), 1)  # 4 bytes for a 16-byte Params
    with pytest.raises(pm.ValidationError, match=r"'p' \[\[buffer\(1\)\]\].*16 bytes.*only 4"):
        enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    # a buffer range too short for it is refused too
    small = pm.Buffer(device, 8)
    enc.set_buffer(small, 0, 1)
    with pytest.raises(pm.ValidationError, match="only 8 bytes"):
        enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    # the right size works and computes the right thing
    params = np.array([(3.0, 0.5, 16, 0)], dtype=[("s", "<f4"), ("o", "<f4"), ("n", "<u4"), ("p", "<u4")])
    enc.set_bytes(params, 1)
    enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(x.to_numpy(np.float32), np.full(16, 3.5, np.float32))


@pytest.mark.parametrize("grid", [(2**22, 2**21, 2**21), (2**32 - 1,) * 3, (2**32, 1, 1), (2**64 - 1, 1, 1)])
def test_overflowing_grids_are_refused(device, lib, grid):
    cb, enc = _encoder(device, lib, "noop")
    enc.set_buffer(pm.Buffer(device, 64), 0, 0)
    with pytest.raises(pm.ValidationError, match="grid|threadgroups"):
        enc.dispatch_threads(grid, (1, 1, 1))
    with pytest.raises(pm.ValidationError, match="threadgroups|2\\^32"):
        enc.dispatch_threadgroups(grid, (1, 1, 1))


def test_threadgroup_count_limit(device, lib):
    cb, enc = _encoder(device, lib, "noop")
    enc.set_buffer(pm.Buffer(device, 64), 0, 0)
    # 2^33 threadgroups: beyond 32-bit group indices (CPU) and CUDA's y limit alike
    with pytest.raises(pm.ValidationError, match="threadgroups.*limit"):
        enc.dispatch_threadgroups((2**17, 2**16, 1), (1, 1, 1))
    with pytest.raises(pm.ValidationError, match="threadgroup"):
        enc.dispatch_threads((4, 4, 1), (2**32, 2**32, 1))  # a threadgroup whose size overflows


def test_zero_sized_grids_run_nothing(device, lib):
    cb, enc = _encoder(device, lib, "noop")
    enc.set_buffer(pm.Buffer(device, 64), 0, 0)
    enc.dispatch_threads((0, 5, 5), (1, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.get_status() == 1


def test_read_scalar_waits_for_running_work(cpu_device):
    lib = pm.Library(cpu_device, SRC)
    x = pm.Buffer.from_numpy(cpu_device, np.zeros(64, np.int32))
    gate = pm.Buffer.from_numpy(cpu_device, np.zeros(1, np.int32))
    cb, enc = _encoder(cpu_device, lib, "slow_write")
    enc.set_buffer(x, 0, 0)
    enc.set_buffer(gate, 0, 1)
    enc.dispatch_threads((64, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    opener = threading.Timer(0.3, lambda: gate.to_numpy(np.int32).__setitem__(0, 1))
    opener.start()
    t0 = time.time()
    assert cpu_device.read_scalar(x, np.int32, 63) == 42  # not the stale 0
    assert time.time() - t0 > 0.2
    opener.join()
