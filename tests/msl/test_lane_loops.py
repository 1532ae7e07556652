"""Lane loops (src/msl/barrier_fission.h): on the CPU, kernels with a data-dependent `while`
(run masked: the group steps while any thread is still in the loop) or a uniform `for` of
variable trip count (stepped by the group, each step a loop over the threads), and halving
reductions `if (lid < s)` (the thread loop stops at s). Every kernel runs on every device
against a NumPy reference and, on the CPU, under every schedule (conftest.py): `nofission`
runs the same kernels thread after thread, whole."""

import os
import subprocess
import sys

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// A data-dependent escape loop (divergent trip counts), locals before and after it.
kernel void escape(device uint* out [[buffer(0)]], constant uint2& size [[buffer(1)]],
                   constant uint& max_iter [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
  float cx = -2.0f + 3.0f * (float(gid.x) + 0.5f) / float(size.x);
  float cy = -1.5f + 3.0f * (float(gid.y) + 0.5f) / float(size.y);
  float x = 0.0f, y = 0.0f;
  uint i = 0;
  while (i < max_iter && x * x + y * y <= 4.0f) {
    float t = x * x - y * y + cx;
    y = 2.0f * x * y + cy;
    x = t;
    i++;
  }
  out[gid.y * size.x + gid.x] = i;
}

// Threads that return before the loop; a condition with a side effect; a loop some threads
// never enter.
kernel void collatz(device const uint* in [[buffer(0)]], device uint* steps [[buffer(1)]],
                    device uint* peak [[buffer(2)]], constant uint& n [[buffer(3)]],
                    uint gid [[thread_position_in_grid]]) {
  if (gid >= n) return;
  uint v = in[gid], count = 0, top = v, guard = 0;
  while (v != 1u && guard++ < 1000u) {
    v = (v & 1u) ? 3u * v + 1u : v / 2u;
    top = max(top, v);
    count++;
  }
  steps[gid] = count + 1000u * guard;
  peak[gid] = top;
}

// A uniform `for` of variable trip count: the group steps k.
kernel void matmul_k(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                     device float* c [[buffer(2)]], constant uint3& mnk [[buffer(3)]],
                     uint2 gid [[thread_position_in_grid]]) {
  if (gid.x >= mnk.y || gid.y >= mnk.x) return;
  float acc = 0.0f;
  for (uint k = 0; k < mnk.z; ++k) acc += a[gid.y * mnk.z + k] * b[k * mnk.y + gid.x];
  c[gid.y * mnk.y + gid.x] = acc * 2.0f;
}

// Not a lane loop (a `break`): the plain thread loop runs it.
kernel void first_negative(device const int* in [[buffer(0)]], device int* out [[buffer(1)]],
                           constant uint& len [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  int found = -1;
  for (uint k = 0; k < len; ++k) {
    if (in[gid * len + k] < 0) { found = int(k); break; }
  }
  out[gid] = found;
}

// A spin on what another thread writes after its loop: never masked (a SIMD group without
// independent forward progress would wait forever). Only compiled here.
kernel void spin_lock(device atomic_uint* lock [[buffer(0)]], device uint* counter [[buffer(1)]],
                      uint gid [[thread_position_in_grid]]) {
  uint expected = 0;
  while (!atomic_compare_exchange_weak_explicit(lock, &expected, 1u, memory_order_relaxed,
                                                memory_order_relaxed)) {
    expected = 0;
  }
  counter[0] += 1;
  atomic_store_explicit(lock, 0u, memory_order_relaxed);
}

// Halving reductions: `if (lid < s)` stretches, by index in the group and by (2D) position.
kernel void halve(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                  uint gid [[thread_position_in_grid]], uint lid [[thread_index_in_threadgroup]],
                  uint group [[threadgroup_position_in_grid]], uint size [[threads_per_threadgroup]]) {
  threadgroup float scratch[256];
  scratch[lid] = in[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = size / 2; s > 0; s >>= 1) {
    if (lid < s) scratch[lid] += scratch[lid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (lid == 0) out[group] = scratch[0];
}

kernel void halve_rows(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                       uint2 lid [[thread_position_in_threadgroup]], uint2 tg [[threads_per_threadgroup]],
                       uint2 group [[threadgroup_position_in_grid]], uint2 ngroups [[threadgroups_per_grid]],
                       uint index [[thread_index_in_threadgroup]]) {
  threadgroup float row[8][32];
  uint g = group.y * ngroups.x + group.x;
  row[lid.y][lid.x] = in[g * tg.x * tg.y + index];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint x = lid.x;
  for (uint s = tg.x / 2; s > 0; s >>= 1) {
    if (x < s) row[lid.y][x] += row[lid.y][x + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  // By index in a 2D group: no shortcut applies, the test decides.
  if (index < tg.y) out[g * tg.y + index] = row[index][0];
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def escape_reference(w, h, iters):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = np.float32(-2.0) + np.float32(3.0) * (xs + np.float32(0.5)) / np.float32(w)
    cy = np.float32(-1.5) + np.float32(3.0) * (ys + np.float32(0.5)) / np.float32(h)
    x = np.zeros_like(cx)
    y = np.zeros_like(cy)
    it = np.zeros(cx.shape, np.uint32)
    for _ in range(iters):
        live = x * x + y * y <= 4.0
        if not live.any():
            break
        t = x * x - y * y + cx
        y = np.where(live, np.float32(2.0) * x * y + cy, y)
        x = np.where(live, t, x)
        it += live
    return it


@pytest.mark.parametrize("w,h,tg", [(64, 48, (16, 16)), (37, 21, (8, 4)), (50, 3, (32, 1))])
def test_masked_escape_loop(device, runner, w, h, tg):
    out = np.zeros(w * h, np.uint32)
    # Safe math: under fast math (Metal's default) the compiler may contract a*b+c into an
    # fma differently in the vectorised and the scalar code, and an escape count near the
    # boundary moves; the schedules are compared bit for bit here.
    got = runner.run(
        device,
        SRC,
        "escape",
        [out, np.array([w, h], np.uint32), np.uint32(64)],
        (w, h),
        tg,
        options={"math_mode": "safe"},
    )[0].reshape(h, w)
    ref = escape_reference(w, h, 64)
    # float rounding (contraction) may move a point on the escape boundary by an iteration or so
    assert np.mean(got == ref) > 0.99
    assert np.max(np.abs(got.astype(np.int64) - ref)) <= 64


def collatz_reference(v):
    v, count, top = int(v), 0, int(v)
    guard = 0
    while v != 1:
        guard += 1
        if guard > 1000:
            break
        v = 3 * v + 1 if v & 1 else v // 2
        v &= 0xFFFFFFFF
        top = max(top, v)
        count += 1
    return count + 1000 * guard, top


def test_masked_loop_with_returns_and_side_effects(device, runner):
    n = 300
    x = np.random.default_rng(3).integers(1, 5000, 320).astype(np.uint32)
    x[5] = 1  # never enters the loop
    steps = np.full(320, 7, np.uint32)
    peak = np.full(320, 7, np.uint32)
    got_steps, got_peak = runner.run(device, SRC, "collatz", [x, steps, peak, np.uint32(n)], (320,), (64,))[1:3]
    ref = np.array([collatz_reference(v) for v in x[:n]], np.uint64)
    np.testing.assert_array_equal(got_steps[:n], ref[:, 0].astype(np.uint32))
    np.testing.assert_array_equal(got_peak[:n], ref[:, 1].astype(np.uint32))
    assert np.all(got_steps[n:] == 7) and np.all(got_peak[n:] == 7)


@pytest.mark.parametrize("m,n,k", [(33, 45, 17), (16, 16, 64), (5, 70, 1)])
def test_group_stepped_for(device, runner, m, n, k):
    rng = np.random.default_rng(m * n)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = np.full((m, n), 5.0, np.float32)
    got = runner.run(device, SRC, "matmul_k", [a, b, c, np.array([m, n, k, 0], np.uint32)], (n + 3, m), (16, 8))[2]
    np.testing.assert_allclose(got, 2 * (a.astype(np.float64) @ b), rtol=1e-5, atol=1e-5)


def test_loop_with_break_still_correct(device, runner):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 40, (96, 10)).astype(np.int32)
    got = runner.run(device, SRC, "first_negative", [x, np.zeros(96, np.int32), np.uint32(10)], (96,), (32,))[1]
    neg = x < 0
    np.testing.assert_array_equal(got, np.where(neg.any(1), neg.argmax(1), -1))


@pytest.mark.parametrize("tg", [256, 64, 96, 1])
def test_halving_reduction(device, runner, tg):
    groups = 7
    x = np.random.default_rng(tg).uniform(-1, 1, tg * groups).astype(np.float32)
    got = runner.run(device, SRC, "halve", [x, np.zeros(groups, np.float32)], (groups,), (tg,), threadgroups=True)[1]
    # the kernel's own tree (size/2, size/4, ...): exact for powers of two, drops the odd
    # element of each level otherwise, as it does on a GPU
    ref = x.reshape(groups, tg).astype(np.float64).copy()
    s = tg // 2
    while s > 0:
        ref[:, :s] += ref[:, s : 2 * s]
        s //= 2
    np.testing.assert_allclose(got, ref[:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tgx,tgy", [(32, 8), (16, 4), (8, 3)])
def test_halving_rows(device, runner, tgx, tgy):
    groups = (3, 2)
    ng = groups[0] * groups[1]
    x = np.random.default_rng(tgx + tgy).uniform(-1, 1, ng * tgx * tgy).astype(np.float32)
    got = runner.run(
        device, SRC, "halve_rows", [x, np.zeros(ng * tgy, np.float32)], groups, (tgx, tgy), threadgroups=True
    )[1]
    np.testing.assert_allclose(got, x.reshape(ng * tgy, tgx).astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)


def test_which_kernels_get_lane_loops(cpu_device):
    """escape, collatz and matmul_k run split for their loops; first_negative (a `break`) and
    spin_lock (atomics in the loop) keep the plain path."""
    code = (
        "import pymetallic as pm, sys; sys.path.insert(0, %r); from test_lane_loops import SRC; "
        "pm.Library(pm.Device.get_default_device(), SRC)"
    ) % os.path.dirname(__file__)
    env = dict(os.environ, PYMETALLIC_DEBUG_FISSION="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    for k in ("escape", "collatz", "matmul_k"):
        assert f"kernel '{k}' runs split (loop fission, 0 SIMD-group calls over lanes, 1 loops" in r.stderr, r.stderr
    assert "kernel 'first_negative'" not in r.stderr
    assert "kernel 'spin_lock'" not in r.stderr
