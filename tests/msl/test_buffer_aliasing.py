"""Metal lets one buffer be bound to several arguments of a kernel (`in` may be `out`). The CPU
backend runs a kernel through `__restrict` pointers only when the dispatch's bound buffers share
no byte (src/backends/cpu/executor.cpp, buffers_disjoint); otherwise the plain copy runs. These
kernels give different results when an aliased store is not seen by a later load, so a wrong
`__restrict` shows. On every device, against NumPy."""

import numpy as np
import pymetallic as pm
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// b[i] = a[i] + 1; b[i] += a[i]: with a == b that is 2a + 2, with separate buffers 2a + 1.
kernel void reload_after_store(device const float* a [[buffer(0)]], device float* b [[buffer(1)]],
                               uint i [[thread_position_in_grid]]) {
  b[i] = a[i] + 1.0f;
  b[i] += a[i];
}

// Bytes, three bindings: b[i] = a + c, then b + a + c reloaded (2a + 2c when all are
// separate, 2a + 3c when a is b, 3a + 2c when c is b).
kernel void three_buffers(device const uchar* a [[buffer(0)]], device uchar* b [[buffer(1)]],
                          device const uchar* c [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  b[i] = uchar(a[i] + c[i]);
  b[i] = uchar(b[i] + a[i] + c[i]);
}
"""

N = 4096


def _dispatch(device, name, bindings, n=N):
    lib = pm.Library(device, SRC)
    pipe = pm.ComputePipelineState(device, lib.make_function(name))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    for index, (buf, offset) in enumerate(bindings):
        enc.set_buffer(buf, offset, index)
    enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()


@pytest.mark.parametrize("aliased", [False, True])
def test_a_store_through_one_binding_is_seen_through_the_other(device, aliased):
    x = np.random.default_rng(1).uniform(-4, 4, N).astype(np.float32)
    a = pm.Buffer.from_numpy(device, x)
    b = a if aliased else pm.Buffer(device, 4 * N)
    _dispatch(device, "reload_after_store", [(a, 0), (b, 0)])
    got = b.to_numpy(np.float32)[:N]
    expect = 2 * (x + 1) if aliased else 2 * x + 1
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("case", ["disjoint", "a_is_b", "c_is_b", "b_inside_a"])
def test_partial_and_offset_aliasing(device, case):
    rng = np.random.default_rng(2)
    n = 1024
    xa = rng.integers(0, 50, 2 * n).astype(np.uint8)
    xc = rng.integers(0, 50, n).astype(np.uint8)
    a = pm.Buffer.from_numpy(device, xa)
    c = pm.Buffer.from_numpy(device, xc)
    if case == "disjoint":
        b, b_off = pm.Buffer(device, n), 0
    elif case == "a_is_b":
        b, b_off = a, 0
    elif case == "c_is_b":
        b, b_off = c, 0
    else:  # b is the second half of a's buffer, a bound from its start
        b, b_off = a, n
    _dispatch(device, "three_buffers", [(a, 0), (b, b_off), (c, 0)], n)
    # Each thread reads and writes element i of each binding only.
    ea, ec = xa[:n].astype(np.int64), xc.astype(np.int64)
    if case == "a_is_b":
        expect = 2 * ea + 3 * ec
    elif case == "c_is_b":
        expect = 3 * ea + 2 * ec
    else:  # separate, or b in the part of a's buffer past the n bytes a's threads read
        expect = 2 * ea + 2 * ec
    got = b.to_numpy(np.uint8)[b_off : b_off + n].astype(np.int64)
    np.testing.assert_array_equal(got, expect % 256)
