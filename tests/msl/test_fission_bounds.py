"""Halving reductions in the shapes the CPU's loop fission bounds (src/msl/barrier_fission.h,
`each_below`): a stretch that is one `if (lid < s) ...` runs only the threads below `s`, and where
that bound applies (an unsigned `s`, the thread's x position, or its index in a one-row group) the
statement under the test runs without it. Where it does not apply (a signed `s`, the index in a
group of several rows) the test stays. The split kernels keep their threadgroup arrays as locals
of the group's call. Every shape runs on every device against a NumPy model of the same steps
(run under every CPU schedule by the runner: fibers and thread-by-thread give the same bits)."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// x position in the group, unsigned bound; `first` may be the group's size or more.
kernel void halve_by_position(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                              constant uint& first [[buffer(2)]],
                              uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                              uint size [[threads_per_threadgroup]]) {
  threadgroup float t[1024];
  t[lid] = in[gid];
  for (uint i = lid + size; i < 1024; i += size) t[i] = 0.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = first; s > 0; s >>= 1) {
    if (lid < s) t[lid] += t[lid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[gid] = t[lid];
}

// Index in the group (a 2-D group: the bound applies only to one-row groups).
kernel void halve_by_index(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                           constant uint& first [[buffer(2)]],
                           uint2 gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                           uint2 size [[threads_per_threadgroup]], uint2 grid [[threads_per_grid]]) {
  threadgroup float t[1024];
  uint total = size.x * size.y;
  uint at = gid.y * grid.x + gid.x;
  t[tid] = in[at];
  t[tid + total] = 0.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = first; s > 0; s >>= 1) {
    if (tid < s) t[tid] += t[tid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[at] = t[tid];
}

// A signed bound: no loop bound from it, the test decides.
kernel void halve_signed(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                         constant int& first [[buffer(2)]],
                         uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                         uint size [[threads_per_threadgroup]]) {
  threadgroup float t[1024];
  t[lid] = in[gid];
  t[lid + size] = 0.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (int s = first; s > 0; s /= 2) {
    if (lid < s) t[lid] += t[lid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[gid] = t[lid];
}

// `if (lid == k)`: one thread, or none (k negative or past the group); a literal 0.
kernel void pick_one(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                     constant int& k [[buffer(2)]],
                     uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                     uint group [[threadgroup_position_in_grid]], uint groups [[threadgroups_per_grid]]) {
  threadgroup float t[256];
  t[lid] = in[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lid == k) out[group] = t[lid] * 2.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lid == 0) out[groups + group] = t[0] + t[1];
}

// The same by a 16-bit index in the group, 2-D groups too (the test stays there).
kernel void pick_by_index(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                          constant uint& k [[buffer(2)]],
                          uint2 gid [[thread_position_in_grid]], ushort tid [[thread_index_in_threadgroup]],
                          uint2 group [[threadgroup_position_in_grid]], uint2 groups [[threadgroups_per_grid]],
                          uint2 grid [[threads_per_grid]]) {
  threadgroup float t[256];
  t[tid] = in[gid.y * grid.x + gid.x];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == k) out[group.y * groups.x + group.x] = t[tid] - 1.0f;
}
"""


def model(groups_of_values, first):
    """Each row: one group's values in thread-index order; the kernels' steps in float32."""
    out = []
    for g in groups_of_values:
        n = g.size
        t = np.concatenate([g, np.zeros(1024 - n, np.float32)]).astype(np.float32)
        s = int(first)
        while s > 0:
            idx = np.arange(min(s, n))
            t[idx] = t[idx] + t[idx + s]
            s >>= 1
        out.append(t[:n])
    return np.array(out, np.float32)


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("tg,first", [(256, 128), (64, 64), (64, 500), (48, 24), (40, 16), (32, 0)])
def test_halving_by_position(device, runner, tg, first):
    groups = 5
    x = np.random.default_rng(tg + first).uniform(-1, 1, tg * groups).astype(np.float32)
    got = runner.run(device, SRC, "halve_by_position", [x, np.zeros_like(x), np.uint32(first)], (tg * groups,), (tg,))[
        1
    ]
    expect = model(x.reshape(groups, tg), first).ravel()
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(16, 4), (64, 1), (8, 8)])
def test_halving_by_index(device, runner, shape):
    gx, gy = 3, 2
    w, h = shape[0] * gx, shape[1] * gy
    x = np.random.default_rng(shape[0]).uniform(-1, 1, w * h).astype(np.float32)
    first = shape[0] * shape[1] // 2
    got = runner.run(device, SRC, "halve_by_index", [x, np.zeros_like(x), np.uint32(first)], (w, h), shape)[1]
    # Each group's values in thread-index order (x fastest), and back to grid order.
    grid = x.reshape(h, w)
    expect = np.zeros_like(grid)
    for by in range(gy):
        for bx in range(gx):
            rows = slice(by * shape[1], (by + 1) * shape[1])
            cols = slice(bx * shape[0], (bx + 1) * shape[0])
            expect[rows, cols] = model(grid[rows, cols].reshape(1, -1), first).reshape(shape[1], shape[0])
    np.testing.assert_allclose(got.reshape(h, w), expect, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("first", [32, 7, -3])
def test_halving_with_a_signed_bound(device, runner, first):
    tg, groups = 64, 3
    x = np.random.default_rng(abs(first)).uniform(-1, 1, tg * groups).astype(np.float32)
    got = runner.run(device, SRC, "halve_signed", [x, np.zeros_like(x), np.int32(first)], (tg * groups,), (tg,))[1]
    expect = x.reshape(groups, tg).copy()
    for g in expect:
        t = np.concatenate([g, np.zeros(tg, np.float32)])
        s = first
        while s > 0:
            idx = np.arange(min(s, tg))
            t[idx] = t[idx] + t[idx + s]
            s //= 2
        g[:] = t[:tg]
    np.testing.assert_allclose(got, expect.ravel(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", [0, 5, 63, 64, 1000, -1])
def test_one_thread_by_position(device, runner, k):
    tg, groups = 64, 4
    x = np.random.default_rng(7).uniform(-1, 1, tg * groups).astype(np.float32)
    out = np.full(2 * groups, -7.0, np.float32)
    got = runner.run(device, SRC, "pick_one", [x, out, np.int32(k)], (tg * groups,), (tg,))[1]
    g = x.reshape(groups, tg)
    first = g[:, k] * 2 if 0 <= k < tg else np.full(groups, -7.0, np.float32)
    np.testing.assert_allclose(got[:groups], first, rtol=1e-6)
    np.testing.assert_allclose(got[groups:], g[:, 0] + g[:, 1], rtol=1e-6)


@pytest.mark.parametrize("shape,k", [((64, 1), 9), ((16, 4), 37), ((8, 8), 64), ((16, 4), 70000)])
def test_one_thread_by_index(device, runner, shape, k):
    gx, gy = 3, 2
    w, h = shape[0] * gx, shape[1] * gy
    x = np.random.default_rng(k).uniform(-1, 1, w * h).astype(np.float32)
    out = np.full(gx * gy, -7.0, np.float32)
    got = runner.run(device, SRC, "pick_by_index", [x, out, np.uint32(k)], (w, h), shape)[1]
    grid = x.reshape(h, w)
    expect = np.full(gx * gy, -7.0, np.float32)
    # ushort tid == uint k: tid is promoted, so k must equal the index exactly (70000 matches none).
    if k < shape[0] * shape[1]:
        ty, tx = divmod(k, shape[0])
        for by in range(gy):
            for bx in range(gx):
                expect[by * gx + bx] = grid[by * shape[1] + ty, bx * shape[0] + tx] - 1
    np.testing.assert_allclose(got, expect, rtol=1e-6)
