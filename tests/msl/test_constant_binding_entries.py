"""`constant T&` arguments bound every way, in command buffers committed again and again.

On CUDA a kernel that reads `constant T&` arguments has a general entry (it tests, per
launch, whether each argument's data is inline from set_bytes or in a buffer) and two uniform
entries made for all-inline and all-in-buffers data (no test: it costs ~0.15 us per launch of
a 4 us kernel on the H200, bench/gpu_param_probe.py); a CUDA graph, made when the same
command buffer is committed a second time, moves inline data behind pointers and so takes
the buffers entry. Every combination must read the values of its own commit: set_bytes,
set_buffer and a mix, whole and partial threadgroups, one and several dispatches per command
buffer, first commit and replays. The reference is NumPy."""

import numpy as np
import pytest

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
struct Affine { float scale; float shift; uint n; };
// out[i] = in[i] * a.scale + a.shift + bias, for i < a.n
kernel void affine(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                   constant Affine& a [[buffer(2)]], constant float& bias [[buffer(3)]],
                   uint i [[thread_position_in_grid]]) {
    if (i < a.n) out[i] = in[i] * a.scale + a.shift + bias;
}
// out[i] = in[i] * w[i % 20]: a constant argument over 64 bytes (read in place, not copied)
struct Weights { float w[20]; };
kernel void weigh(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                  constant Weights& c [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    out[i] = in[i] * c.w[i % 20];
}
// out[i] += k (a second kernel with one constant argument)
kernel void add_k(device float* out [[buffer(0)]], constant float& k [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
    out[i] += k;
}
"""

AFFINE = np.dtype([("scale", "<f4"), ("shift", "<f4"), ("n", "<u4")])


@pytest.fixture(scope="module")
def pipes():
    cache = {}

    def get(device):
        if device not in cache:
            lib = pm.Library(device, SRC)
            cache[device] = {
                n: pm.ComputePipelineState(device, lib.make_function(n)) for n in ("affine", "add_k", "weigh")
            }
        return cache[device]

    return get


# How `a` (the struct) and `bias` are bound: "bytes" (set_bytes) or "buffer" (set_buffer).
BINDINGS = [("bytes", "bytes"), ("buffer", "buffer"), ("bytes", "buffer"), ("buffer", "bytes")]


@pytest.mark.parametrize("bind_a,bind_bias", BINDINGS, ids=["-".join(b) for b in BINDINGS])
@pytest.mark.parametrize("n,tg", [(256, 64), (250, 64)], ids=["whole_groups", "partial_group"])
@pytest.mark.parametrize("dispatches", [1, 2], ids=["one_dispatch", "two_dispatches"])
def test_each_commit_reads_its_own_constants(device, pipes, bind_a, bind_bias, n, tg, dispatches):
    p = pipes(device)
    queue = device.make_command_queue()
    x = np.linspace(-2, 2, n).astype(np.float32)
    src = pm.Buffer.from_numpy(device, x)
    out = pm.Buffer(device, 4 * n)
    for commit in range(4):  # on CUDA: a graph from the second commit of the same sequence on
        a = np.array([(1.5 + commit, -0.25 * commit, n - commit)], AFFINE)
        bias = np.float32(0.5 * commit + 0.125)
        k = np.float32(3.0 - commit)
        a_buf = pm.Buffer.from_numpy(device, a.view(np.uint8))
        bias_buf = pm.Buffer.from_numpy(device, np.array([bias]))
        out.contents()[:] = bytes(4 * n)  # zero: the rows past a.n stay zero
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(p["affine"])
        enc.set_buffer(src, 0, 0)
        enc.set_buffer(out, 0, 1)
        if bind_a == "bytes":
            enc.set_bytes(a.tobytes(), 2)
        else:
            enc.set_buffer(a_buf, 0, 2)
        if bind_bias == "bytes":
            enc.set_bytes(bias, 3)
        else:
            enc.set_buffer(bias_buf, 0, 3)
        enc.dispatch_threads((n, 1, 1), (tg, 1, 1))
        if dispatches == 2:
            enc.set_compute_pipeline_state(p["add_k"])
            enc.set_buffer(out, 0, 0)
            enc.set_bytes(k, 1)
            enc.dispatch_threads((n, 1, 1), (tg, 1, 1))
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        assert cb.error is None, cb.error
        m = n - commit
        want = np.zeros(n, np.float64)
        want[:m] = x[:m].astype(np.float64) * a["scale"][0] + a["shift"][0] + bias
        if dispatches == 2:
            want += k
        np.testing.assert_allclose(out.to_numpy(np.float32), want, rtol=1e-6, atol=1e-6, err_msg=f"commit {commit}")


@pytest.mark.parametrize("bind", ["bytes", "buffer"])
@pytest.mark.parametrize("dispatches", [1, 2], ids=["one_dispatch", "two_dispatches"])
def test_large_constant_struct_each_commit(device, pipes, bind, dispatches):
    """An 80-byte `constant` struct (over the 64 bytes copied into registers): the same
    entries, graphs and replays read it in place."""
    p = pipes(device)
    queue = device.make_command_queue()
    n = 320
    x = np.linspace(-1, 1, n).astype(np.float32)
    src = pm.Buffer.from_numpy(device, x)
    out = pm.Buffer(device, 4 * n)
    for commit in range(4):
        w = (np.arange(20, dtype=np.float32) * 0.5 - commit).astype(np.float32)
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        for _ in range(dispatches):  # the same dispatch again: a graph of two launches on CUDA
            enc.set_compute_pipeline_state(p["weigh"])
            enc.set_buffer(src, 0, 0)
            enc.set_buffer(out, 0, 1)
            if bind == "bytes":
                enc.set_bytes(w.tobytes(), 2)
            else:
                enc.set_buffer(pm.Buffer.from_numpy(device, w), 0, 2)
            enc.dispatch_threads((n, 1, 1), (64, 1, 1))
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        assert cb.error is None, cb.error
        want = x.astype(np.float64) * w[np.arange(n) % 20]
        np.testing.assert_allclose(out.to_numpy(np.float32), want, rtol=1e-6, err_msg=f"commit {commit}")
