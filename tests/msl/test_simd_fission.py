"""SIMD-group functions in uniform control flow on the CPU's loop-fission path
(src/msl/barrier_fission.h, src/runtime/metal_simd_fission.h): the call's arguments go to a
slot per thread, each SIMD group's result is computed over its lanes' slots, the statement
continues with it. Results must equal the fiber path's bit for bit (same fold order), for
whole and partial SIMD groups and after early returns; and the kernels below must really take
the split path (checked through PYMETALLIC_DEBUG_FISSION=1), calls under `if` too (the
threads where the condition holds are the active lanes), while a call right of `&&` keeps the
fibers."""

import numpy as np
import pytest
from simd_ref import ascending, fission_log, run_against_fibers, simd_groups, tree

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void fis_reduce(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                       device int* iout [[buffer(2)]],
                       uint i [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  float v = x[i];
  float s = simd_sum(v);
  out[i * 6 + 0] = s;
  out[i * 6 + 1] = simd_max(v) - simd_min(v);
  out[i * 6 + 2] = simd_prefix_inclusive_sum(v);
  out[i * 6 + 3] = simd_prefix_exclusive_sum(v);
  out[i * 6 + 4] = metal::simd_broadcast_first(v);
  out[i * 6 + 5] = simd_product(v);
  int b = int(v * 100.0f);
  iout[i * 4 + 0] = simd_xor(b);
  iout[i * 4 + 1] = int(ulong(simd_ballot(v > 0.0f)) & 0xffffffffu);
  iout[i * 4 + 2] = simd_all(v > -3.0f) ? 1 : 0;
  iout[i * 4 + 3] = simd_any(v > 2.0f) ? 1 : 0;
}

kernel void fis_shuffle(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                        uint i [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  float v = x[i];
  out[i * 6 + 0] = simd_shuffle_down(v, ushort(3));
  out[i * 6 + 1] = simd_shuffle_up(v, ushort(5));
  out[i * 6 + 2] = simd_shuffle_xor(v, ushort(lane % 7));
  out[i * 6 + 3] = simd_shuffle(v, ushort((lane * 5 + 2) % 40));
  out[i * 6 + 4] = simd_broadcast(v, ushort(4));
  out[i * 6 + 5] = simd_shuffle_rotate_down(v, ushort(9));
}

// Tree reduction by shuffles in a uniform loop, then a barrier and a second simd_sum over
// the partials (the MLX / llama.cpp norm shape).
kernel void fis_tree(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]], uint tid [[thread_position_in_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float part[32];
  if (tid < 32) part[tid] = 0.0f;
  float v = x[i];
  for (ushort d = 16; d > 0; d /= 2)
    v += simd_shuffle_down(v, d);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) part[sg] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = simd_sum(part[lane]);
  out[i * 2 + 0] = v;
  out[i * 2 + 1] = total;
}

// Threads that returned are inactive lanes, as on the fiber path.
kernel void fis_early(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  float v = x[i];
  if (v < 0.0f) return;
  float s = simd_sum(v);
  out[i * 2 + 0] = s;
  out[i * 2 + 1] = simd_prefix_exclusive_sum(v);
}

// A call that only lane 0 reaches: its active lanes are lane 0 alone.
kernel void fis_divergent(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                          uint i [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (lane == 0) out[i] = simd_sum(x[i]);
}

// A call right of `&&`: only the lanes where the left side holds evaluate it (fibers keep it).
kernel void fis_short_circuit(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                              uint i [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  out[i] = (lane < 3 && simd_all(x[i] > -10.0f)) ? 1.0f : 0.0f;
}
"""

TGS = [32, 33, 48, 64, 100, 256]


def fold(vals):
    """The CPU's (and CUDA's) order: a whole SIMD group as the xor butterfly's tree (lane i with
    lane i + 16, then + 8, ...), fewer lanes in ascending order."""
    return tree(vals, np.add) if len(vals) == 32 else ascending(vals, np.add)


def run_both(runner, device, name, args, n, tg):
    return run_against_fibers(runner, device, SRC, name, args, n, tg)


@pytest.mark.parametrize("tg", TGS)
def test_reductions_scans_votes(device, runner, tg):
    n = 3 * tg - 7 if tg > 8 else 3 * tg
    rng = np.random.default_rng(tg)
    x = rng.standard_normal(n).astype(np.float32)
    out, iout = np.zeros(n * 6, np.float32), np.zeros(n * 4, np.int32)
    _, out, iout = run_both(runner, device, "fis_reduce", [x, out, iout], n, tg)
    out, iout = out.reshape(n, 6), iout.reshape(n, 4)
    for g in simd_groups(n, tg):
        v = x[g]
        np.testing.assert_allclose(out[g, 0], v.astype(np.float64).sum(), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out[g, 1], np.float32(v.max() - v.min()))
        np.testing.assert_allclose(out[g, 2], np.cumsum(v.astype(np.float64)), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out[g, 3], np.cumsum(v.astype(np.float64)) - v, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out[g, 4], v[0])
        np.testing.assert_allclose(out[g, 5], np.prod(v.astype(np.float64)), rtol=1e-4)
        b = (v * np.float32(100)).astype(np.int32)
        np.testing.assert_array_equal(iout[g, 0], np.bitwise_xor.reduce(b))
        ballot = sum(1 << k for k in range(len(g)) if v[k] > 0)
        np.testing.assert_array_equal(iout[g, 1].astype(np.uint32), np.uint32(ballot))
        np.testing.assert_array_equal(iout[g, 2], int(bool(np.all(v > -3))))
        np.testing.assert_array_equal(iout[g, 3], int(bool(np.any(v > 2))))
        if device.kind == "cpu":  # the fold order of fold()
            np.testing.assert_array_equal(out[g, 0], fold(v))


@pytest.mark.parametrize("tg", TGS)
def test_shuffles(device, runner, tg):
    n = 2 * tg + 5
    x = np.random.default_rng(tg + 1).standard_normal(n).astype(np.float32)
    _, out = run_both(runner, device, "fis_shuffle", [x, np.zeros(n * 6, np.float32)], n, tg)
    out = out.reshape(n, 6)
    for g in simd_groups(n, tg):
        v, m = x[g], len(g)

        def src(s, own):
            return v[s] if 0 <= s < m else own

        for lane in range(m):
            own = v[lane]
            assert out[g[lane], 0] == src(lane + 3, own)
            assert out[g[lane], 1] == (src(lane - 5, own) if lane >= 5 else own)
            assert out[g[lane], 2] == src(lane ^ (lane % 7), own)
            assert out[g[lane], 3] == src((lane * 5 + 2) % 40, own)
            assert out[g[lane], 4] == src(4, own)
            assert out[g[lane], 5] == src((lane + 9) % 32, own)


@pytest.mark.parametrize("tg", [64, 100, 256])
def test_tree_then_barrier_then_simd_sum(device, runner, tg):
    n = 4 * tg
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    _, out = run_both(runner, device, "fis_tree", [x, np.zeros(n * 2, np.float32)], n, tg)
    out = out.reshape(n, 2)
    lane0 = {}
    for g in simd_groups(n, tg):  # a shuffle from past a partial group's end returns the lane's own value
        v, m = x[g].astype(np.float64), len(g)
        for d in (16, 8, 4, 2, 1):
            v = v + np.array([v[k + d] if k + d < m else v[k] for k in range(m)])
        lane0[g[0]] = v[0]
        np.testing.assert_allclose(out[g[0], 0], v[0], rtol=1e-5, atol=1e-5)
    for base in range(0, n, tg):
        total = sum(lane0[b] for b in range(base, base + tg, 32))
        np.testing.assert_allclose(out[base : base + tg, 1], total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tg", [32, 48, 100])
def test_returned_threads_are_inactive(device, runner, tg):
    n = 3 * tg
    x = np.random.default_rng(4).standard_normal(n).astype(np.float32)
    _, out = run_both(runner, device, "fis_early", [x, np.full(n * 2, -7, np.float32)], n, tg)
    out = out.reshape(n, 2)
    for g in simd_groups(n, tg):
        live = g[x[g] >= 0]
        np.testing.assert_array_equal(out[g[x[g] < 0]], -7)
        if len(live):
            np.testing.assert_allclose(out[live, 0], x[live].astype(np.float64).sum(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(
                out[live, 1], np.cumsum(x[live].astype(np.float64)) - x[live], rtol=1e-5, atol=1e-5
            )


def test_divergent_call_sees_one_lane(device, runner):
    n = 96
    x = np.random.default_rng(5).standard_normal(n).astype(np.float32)
    _, out = runner.run(device, SRC, "fis_divergent", [x, np.zeros(n, np.float32)], (n,), (n,))
    np.testing.assert_array_equal(out[::32], x[::32])


def test_short_circuit_call(device, runner):
    n = 64
    x = np.random.default_rng(6).standard_normal(n).astype(np.float32)
    _, out = runner.run(device, SRC, "fis_short_circuit", [x, np.zeros(n, np.float32)], (n,), (n,))
    want = np.array([1.0 if i % 32 < 3 else 0.0 for i in range(n)], np.float32)
    np.testing.assert_array_equal(out, want)


def test_which_kernels_take_the_split_path(cpu_device):
    """The optimisation must not silently regress: uniform calls and calls under `if` are split,
    a call right of `&&` keeps the fibers and says why."""
    log = fission_log(__file__, "SRC")
    for k, calls in (("fis_reduce", 11), ("fis_shuffle", 6), ("fis_tree", 2), ("fis_early", 2), ("fis_divergent", 1)):
        assert f"kernel '{k}' runs split (loop fission, {calls} SIMD-group calls" in log, log
    assert "kernel 'fis_short_circuit' keeps fibers" in log and "`&&`" in log, log
