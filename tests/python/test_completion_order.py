"""Waiting for one command buffer while later ones run (a ring of per-frame buffers, as
real-time Metal programs keep): `wait_until_completed` returns once *that* buffer is done,
not once the queue is idle, and every buffer's results are right (checked against a Python
computation of the same recurrence). On CUDA the first such wait switches the queue to a
completion event per commit (StreamProgress in src/backends/cuda/cuda_completion.h)."""

import numpy as np

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void lcg(device uint* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                uint i [[thread_position_in_grid]]) {
    uint x = i + 1;
    for (uint k = 0; k < n; ++k) x = x * 1664525u + 1013904223u;
    out[i] = x;
}
"""

MASK = 0xFFFFFFFF


def lcg_reference(start, n):
    """x -> 1664525 x + 1013904223 (mod 2**32) applied n times, by squaring the affine map."""
    a, c = 1, 0  # the identity
    base_a, base_c = 1664525, 1013904223
    while n:
        if n & 1:
            a, c = (base_a * a) & MASK, (base_a * c + base_c) & MASK
        base_a, base_c = (base_a * base_a) & MASK, (base_a * base_c + base_c) & MASK
        n >>= 1
    return (a * start + c) & MASK


def commit(queue, pipe, out, n, threads):
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(out, 0, 0)
    enc.set_bytes(np.uint32(n), 1)
    enc.dispatch_threads(threads, min(threads, 32))
    enc.end_encoding()
    cb.commit()
    return cb


def test_a_wait_returns_before_later_buffers_finish(device):
    pipe = pm.ComputePipelineState(device, device.make_library(SRC).make_function("lcg"))
    queue = device.make_command_queue()
    # One thread of a long dependent chain: a fraction of a second on either kind of device.
    long_n = 60_000_000 if device.kind == "cuda" else 80_000_000
    for _ in range(2):  # on CUDA the first round teaches the queue that waits are per buffer
        short_out, long_out = pm.Buffer(device, 4 * 32), pm.Buffer(device, 4)
        short = commit(queue, pipe, short_out, 1000, 32)
        slow = commit(queue, pipe, long_out, long_n, 1)
        short.wait_until_completed()
        assert short.get_status() == 1, short.error
        still_running = slow.get_status() != 1
        expected = [lcg_reference(i + 1, 1000) for i in range(32)]
        assert short_out.to_numpy(np.uint32).tolist() == expected
        slow.wait_until_completed()
        assert long_out.to_numpy(np.uint32)[0] == lcg_reference(1, long_n)
    assert still_running, "the wait for the first buffer also waited for the long one behind it"


def test_a_later_buffer_done_means_the_earlier_ones_are_done(device):
    """Buffers of one queue complete in commit order: once a later one is known complete, the
    status of every earlier one says completed too, even while buffers after it still run.
    (On CUDA the first two are committed before the queue turns to an event per commit.)"""
    pipe = pm.ComputePipelineState(device, device.make_library(SRC).make_function("lcg"))
    queue = device.make_command_queue()
    long_n = 20_000_000 if device.kind == "cuda" else 1_000_000
    outs = [pm.Buffer(device, 4 * 32) for _ in range(4)]
    first = commit(queue, pipe, outs[0], long_n, 1)
    second = commit(queue, pipe, outs[1], 1000, 32)
    first.get_status()  # a poll with a later buffer in flight (CUDA: events from now on)
    third = commit(queue, pipe, outs[2], 1000, 32)
    fourth = commit(queue, pipe, outs[3], long_n, 1)
    third.wait_until_completed()
    assert third.get_status() == 1, third.error
    assert second.get_status() == 1, "an earlier buffer reads as unfinished after a later one completed"
    assert first.get_status() == 1
    fourth.wait_until_completed()
    assert outs[0].to_numpy(np.uint32)[0] == lcg_reference(1, long_n)
    assert outs[1].to_numpy(np.uint32).tolist() == [lcg_reference(i + 1, 1000) for i in range(32)]
    assert outs[3].to_numpy(np.uint32)[0] == lcg_reference(1, long_n)
