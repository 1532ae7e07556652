"""SIMD-group and quad-group folds on the CPU's loop-fission path (src/runtime/metal_simd_fission.h):
a whole SIMD group's 32 values are folded as one tree (reductions) or ladder (scans) over a
contiguous array, the order CUDA's xor butterfly and shfl_up ladder give for a full warp;
groups with inactive lanes (threads that returned) or fewer than 32 lanes (the grid's end, a
threadgroup size that is not a multiple of 32) fold their active lanes in ascending order.
Results are checked against NumPy (float64 and the exact fold order in float32), against the
fiber path bit for bit, and the kernels must really take the split path."""

import numpy as np
import pytest

from simd_ref import ascending, ascending_scan, fission_log, ladder, run_against_fibers, simd_groups, tree

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Float folds and scans in uniform control flow: the tree / ladder for whole SIMD groups.
kernel void ff_float(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  float v = x[i];
  out[i * 7 + 0] = simd_sum(v);
  out[i * 7 + 1] = simd_product(v);
  out[i * 7 + 2] = simd_prefix_inclusive_sum(v);
  out[i * 7 + 3] = simd_prefix_exclusive_sum(v);
  out[i * 7 + 4] = simd_prefix_inclusive_product(v);
  out[i * 7 + 5] = quad_sum(v);
  out[i * 7 + 6] = quad_prefix_exclusive_sum(v);
}

// Integers, with lanes that returned (inactive) and shuffles across the group's edges.
kernel void ff_int(device const int* x [[buffer(0)]], device int* out [[buffer(1)]],
                   uint i [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  int v = x[i];
  if (v % 7 == 0) return;
  out[i * 16 + 0] = simd_sum(v);
  out[i * 16 + 1] = simd_product(v);
  out[i * 16 + 2] = simd_min(v);
  out[i * 16 + 3] = simd_max(v);
  out[i * 16 + 4] = simd_and(v) ^ simd_or(v);
  out[i * 16 + 5] = simd_prefix_inclusive_sum(v);
  out[i * 16 + 6] = simd_prefix_exclusive_product(v);
  out[i * 16 + 7] = simd_shuffle_down(v, ushort(1));
  out[i * 16 + 8] = simd_shuffle_up(v, ushort(31));
  out[i * 16 + 9] = simd_shuffle_xor(v, ushort(31));
  out[i * 16 + 10] = simd_shuffle_rotate_up(v, ushort(1));
  out[i * 16 + 11] = simd_shuffle(v, ushort(lane == 0 ? 31 : 32));
  out[i * 16 + 12] = int(simd_broadcast_first(uint(v)));
  out[i * 16 + 13] = quad_min(v) * 100 + quad_max(v);
  out[i * 16 + 14] = quad_prefix_inclusive_sum(v);
  out[i * 16 + 15] = quad_prefix_exclusive_product(v);
}

// Quad shuffles and broadcasts, unsigned (wrapping) quad folds.
kernel void ff_quad(device const uint* x [[buffer(0)]], device uint* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
  uint v = x[i];
  if (v % 5 == 0) return;
  out[i * 10 + 0] = quad_sum(v);
  out[i * 10 + 1] = quad_product(v);
  out[i * 10 + 2] = quad_xor(v);
  out[i * 10 + 3] = quad_shuffle(v, ushort(v & 3));
  out[i * 10 + 4] = quad_shuffle_down(v, ushort(1));
  out[i * 10 + 5] = quad_shuffle_up(v, ushort(2));
  out[i * 10 + 6] = quad_shuffle_xor(v, ushort(3));
  out[i * 10 + 7] = quad_shuffle_rotate_down(v, ushort(3));
  out[i * 10 + 8] = quad_broadcast(v, ushort(1));
  out[i * 10 + 9] = quad_broadcast_first(v);
}

"""

ONE_LANE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// A SIMD group's result written by one lane (`if (lane == k)`: only that lane of each SIMD group
// runs the statement; lanes that returned or do not exist write nothing), then every lane
// reading the partials by its lane index (a loop over each SIMD group's lanes).
kernel void ff_one_lane(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                        constant uint& k [[buffer(2)]], constant uint& nx [[buffer(3)]],
                        uint2 pos [[thread_position_in_grid]], uint2 tid [[thread_position_in_threadgroup]],
                        uint2 ntg [[threads_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float part[32];
  threadgroup uint who[32];
  if (tid.x + tid.y * ntg.x < 32) { part[tid.x + tid.y * ntg.x] = -1.0f; who[tid.x + tid.y * ntg.x] = 0xffffffffu; }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint i = pos.y * nx + pos.x;
  float v = x[i];
  if (v < -1.5f) return;
  float s = simd_sum(v);
  if (lane == k % 40u) part[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float back = part[lane];
  float mine = simd_max(back);
  if (lane == k % 40u) who[sg] = (tid.y << 16) | tid.x;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 3 + 0] = back;
  out[i * 3 + 1] = mine;
  out[i * 3 + 2] = float(who[sg]);
}
"""

# SIMD-group calls under `if`: the threads where the condition holds are the active lanes.
IF_SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void ff_if(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                  constant uint& n [[buffer(2)]],
                  uint i [[thread_position_in_grid]], uint tid [[thread_position_in_threadgroup]],
                  uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float part[32];
  if (tid < 32) part[tid] = 0.0f;
  float v = 0.0f;
  if (i < n) v = x[i];
  float keep = -5.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) part[sg] = simd_sum(v);  // one lane: its own value
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 0) {  // SIMD-group uniform (MLX's second stage)
    float t = simd_sum(part[lane]);
    keep = t;
  }
  if (i < n) {
    if (x[i] > 0.0f) {  // divergent, nested, guarded read
      float p = simd_prefix_inclusive_sum(v);
      out[i * 6 + 0] = p;
      out[i * 6 + 1] = simd_shuffle_down(v, ushort(1));
      out[i * 6 + 2] = float(ulong(simd_ballot(v > 1.0f)) & 0xffffffffu);
      out[i * 6 + 3] = quad_sum(v);
    }
    out[i * 6 + 4] = keep;
  }
  if (lane % 3 == 1)
    out[i * 6 + 5] = simd_max(v) + float(simd_sum(1));
}
"""

TGS = [32, 48, 100, 256]


def run_both(runner, device, name, args, n, tg, options=None):
    """Float kernels that compare bits pass options={"fast_math": False}: under fast math (Metal's
    default) the C++ compiler may reassociate a fold, and GCC 13 does, differently per path."""
    return run_against_fibers(runner, device, SRC, name, args, n, tg, options)


def sum_scans(v, whole):
    """The inclusive and exclusive prefix sums of a segment in the CPU's order: the ladder for a
    whole SIMD group, else ascending from the identity (lane k gets 0 + v0 + ... + v(k-1))."""
    incl = ladder(v, np.add) if whole else ascending_scan(v, np.add, 0)
    if whole:
        return incl, np.concatenate([[np.float32(0)], incl[:-1]])
    excl = np.array([ascending_scan(v[:k], np.add, 0)[-1] if k else 0 for k in range(len(v))], np.float32)
    return incl, excl


@pytest.mark.parametrize("tg", TGS)
def test_float_fold_order(device, runner, tg):
    """Whole SIMD groups: the tree / ladder (bit for bit: CUDA's order for a full warp); groups
    with fewer than 32 lanes (a partial threadgroup at the grid's end, tg not a multiple of
    32): ascending. All within float32 rounding of the float64 results."""
    n = 3 * tg - 9
    rng = np.random.default_rng(tg)
    x = rng.standard_normal(n).astype(np.float32)
    x[::3] *= 1e4  # magnitudes far apart: the fold order shows in the last bits
    # Metal's default (fast math): within float32 rounding of float64 on every device.
    _, fast = runner.run(device, SRC, "ff_float", [x, np.zeros(n * 7, np.float32)], (n,), (tg,))
    fast = fast.reshape(n, 7)
    for g in simd_groups(n, tg):
        v64 = x[g].astype(np.float64)
        np.testing.assert_allclose(fast[g, 0], v64.sum(), rtol=1e-5, atol=1e-2)
        np.testing.assert_allclose(fast[g, 2], np.cumsum(v64), rtol=1e-5, atol=1e-2)
    # Without fast math the order is the program's: bit for bit on the CPU.
    _, out = run_both(runner, device, "ff_float", [x, np.zeros(n * 7, np.float32)], n, tg, {"fast_math": False})
    out = out.reshape(n, 7)
    exact = getattr(device, "kind", "cpu") == "cpu"
    add, mul = np.add, np.multiply
    for g in simd_groups(n, tg):
        v, v64 = x[g], x[g].astype(np.float64)
        np.testing.assert_allclose(out[g, 0], v64.sum(), rtol=1e-5, atol=1e-2)
        np.testing.assert_allclose(out[g, 2], np.cumsum(v64), rtol=1e-5, atol=1e-2)
        np.testing.assert_allclose(out[g, 3], np.cumsum(v64) - v64, rtol=1e-5, atol=1e-2)
        if not exact:
            continue
        whole = len(g) == 32
        incl, excl = sum_scans(v, whole)
        np.testing.assert_array_equal(out[g, 0], tree(v, add) if whole else ascending(v, add))
        np.testing.assert_array_equal(out[g, 1], tree(v, mul) if whole else ascending(v, mul))
        np.testing.assert_array_equal(out[g, 2], incl)
        np.testing.assert_array_equal(out[g, 3], excl)
        np.testing.assert_array_equal(out[g, 4], ladder(v, mul) if whole else ascending_scan(v, mul, 1))
    for q in simd_groups(n, tg, 4):
        v, v64 = x[q], x[q].astype(np.float64)
        np.testing.assert_allclose(out[q, 5], v64.sum(), rtol=1e-5, atol=1e-2)
        np.testing.assert_allclose(out[q, 6], np.cumsum(v64) - v64, rtol=1e-5, atol=1e-2)
        if not exact:
            continue
        whole = len(simd_groups_of(q[0], n, tg)) == 32  # its SIMD group, all 32 lanes active
        _, excl = sum_scans(v, whole)
        np.testing.assert_array_equal(out[q, 5], tree(v, add) if whole else ascending(v, add))
        np.testing.assert_array_equal(out[q, 6], excl)


def simd_groups_of(i, n, tg):
    """The SIMD group of thread i."""
    for g in simd_groups(n, tg):
        if g[0] <= i <= g[-1]:
            return g
    raise AssertionError(i)


def wrap32(v):
    return np.int64(v).astype(np.uint64).astype(np.uint32).view(np.int32)


@pytest.mark.parametrize("tg", TGS)
def test_int_folds_shuffles_inactive_lanes(device, runner, tg):
    n = 2 * tg + 21
    rng = np.random.default_rng(tg + 7)
    x = rng.integers(-40, 40, n).astype(np.int32)
    x[x == 0] = 3
    x[rng.random(n) < 0.03] = 1 << 20  # products and sums that wrap
    _, out = run_both(runner, device, "ff_int", [x, np.full(n * 16, -12345, np.int32)], n, tg)
    out = out.reshape(n, 16)
    for g in simd_groups(n, tg):
        live = [k for k in range(len(g)) if x[g[k]] % 7 != 0]
        for k in range(len(g)):
            if x[g[k]] % 7 == 0:
                assert (out[g[k]] == -12345).all()
        if not live:
            continue
        v = {k: int(x[g[k]]) for k in live}
        act = [v[k] for k in live]
        prod = 1
        for a in act:
            prod = int(wrap32(prod * a))
        for k in live:
            own = v[k]
            before = [v[j] for j in live if j < k]
            ep = 1
            for a in before:
                ep = int(wrap32(ep * a))
            q0 = k & ~3
            qlive = [j for j in live if q0 <= j < q0 + 4]
            qv = [v[j] for j in qlive]
            qbefore = [v[j] for j in qlive if j < k]
            qep = 1
            for a in qbefore:
                qep = int(wrap32(qep * a))
            want = [
                int(wrap32(sum(act))),
                prod,
                min(act),
                max(act),
                int(np.bitwise_and.reduce(act)) ^ int(np.bitwise_or.reduce(act)),
                int(wrap32(sum(before) + own)),
                ep,
                v.get(k + 1, own),  # lane 31 (or a partial group's last lane): its own value
                v.get(k - 31, own) if k >= 31 else own,
                v.get(k ^ 31, own),
                v.get((k - 1) & 31, own),
                v.get(31, own) if k == 0 else own,  # index 32: out of range
                v[live[0]],
                min(qv) * 100 + max(qv),
                int(wrap32(sum(qbefore) + own)),
                qep,
            ]
            assert out[g[k]].tolist() == want, f"lane {k} of the group at {g[0]}"


@pytest.mark.parametrize("tg", TGS)
def test_quad_shuffles_and_folds(device, runner, tg):
    n = 2 * tg + 3
    rng = np.random.default_rng(tg + 11)
    x = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    _, out = run_both(runner, device, "ff_quad", [x, np.full(n * 10, 7, np.uint32)], n, tg)
    out = out.reshape(n, 10)
    for q in simd_groups(n, tg, 4):
        live = [k for k in range(len(q)) if x[q[k]] % 5 != 0]
        v = {k: int(x[q[k]]) for k in live}
        for k in range(len(q)):
            if k not in v:
                assert (out[q[k]] == 7).all()
        if not live:
            continue
        act = [v[k] for k in live]
        prod = 1
        for a in act:
            prod = (prod * a) & 0xFFFFFFFF
        for k in live:
            own = v[k]
            want = [
                sum(act) & 0xFFFFFFFF,
                prod,
                int(np.bitwise_xor.reduce(np.array(act, np.uint64))),
                v.get(own & 3, own),
                v.get(k + 1, own) if k + 1 < 4 else own,
                v.get(k - 2, own) if k >= 2 else own,
                v.get(k ^ 3, own),
                v.get((k + 3) & 3, own),
                v.get(1, own),
                v[live[0]],
            ]
            assert out[q[k]].tolist() == want, f"lane {k} of the quad at {q[0]}"


@pytest.mark.parametrize("k", [0, 5, 31, 35])
@pytest.mark.parametrize("tg", [(64, 1), (48, 1), (100, 1), (8, 4), (12, 5)])
def test_one_lane_writes_the_group_result(device, runner, tg, k):
    """`if (lane == k) part[sg] = simd_sum(v)` (k >= 32: no lane), in 1-D and 2-D threadgroups,
    with partial SIMD groups and lanes that returned."""
    gx, gy = 2, 2
    nx, ny = gx * tg[0], gy * tg[1]
    n = nx * ny
    rng = np.random.default_rng(k + 100 * tg[0] + tg[1])
    x = rng.standard_normal(n).astype(np.float32)
    out = np.full(n * 3, 7.0, np.float32)
    args = [x, out, np.uint32(k), np.uint32(nx)]
    _, out, _, _ = runner.run(device, ONE_LANE_SRC, "ff_one_lane", args, (nx, ny), tg)
    out = out.reshape(n, 3)
    ntotal = tg[0] * tg[1]
    for by in range(gy):
        for bx in range(gx):
            # the group's threads in linear order (tid.x fastest), their global ids
            ids = [(by * tg[1] + ty) * nx + bx * tg[0] + tx for ty in range(tg[1]) for tx in range(tg[0])]
            part = np.full(32, -1.0, np.float32)
            who = np.full(32, 0xFFFFFFFF, np.uint64)
            for sg in range((ntotal + 31) // 32):
                members = ids[sg * 32 : sg * 32 + 32]
                live = [g for g in members if x[g] >= -1.5]
                lane_k = k % 40
                if lane_k < len(members) and x[members[lane_k]] >= -1.5:
                    part[sg] = np.float32(x[live].astype(np.float64).sum())
                    t = sg * 32 + lane_k
                    who[sg] = ((t // tg[0]) << 16) | (t % tg[0])
            for t, g in enumerate(ids):
                if x[g] < -1.5:
                    assert (out[g] == 7.0).all()
                    continue
                sg, lane = t // 32, t % 32
                members = ids[sg * 32 : sg * 32 + 32]
                live_lanes = [m for m in range(len(members)) if x[members[m]] >= -1.5]
                np.testing.assert_allclose(out[g, 0], part[lane], rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(out[g, 1], max(part[m] for m in live_lanes), rtol=1e-5, atol=1e-5)
                assert out[g, 2] == np.float32(who[sg])


@pytest.mark.parametrize("tg", [32, 48, 100, 256])
def test_calls_under_if(device, runner, tg):
    """SIMD-group and quad calls inside `if` (one lane, SIMD-group uniform, divergent and nested,
    a statement without braces) take the threads where the conditions hold as active lanes;
    threads past n (the grid's end is rounded up to the group) take no part in the inner ifs."""
    n = 3 * tg - 5
    grid = 3 * tg
    rng = np.random.default_rng(tg + 3)
    x = rng.standard_normal(grid).astype(np.float32)
    out = np.full(grid * 6, 9.0, np.float32)
    _, out, _ = runner.run(device, IF_SRC, "ff_if", [x, out, np.uint32(n)], (grid,), (tg,))
    out = out.reshape(grid, 6)
    v = np.where(np.arange(grid) < n, x, 0).astype(np.float32)
    for base in range(0, grid, tg):
        sgs = [np.arange(base + s, base + min(s + 32, tg)) for s in range(0, tg, 32)]
        part = np.zeros(32)
        for k, g in enumerate(sgs):
            part[k] = v[g[0]]  # simd_sum over lane 0 alone
        keep = part[: min(32, len(sgs[0]))].sum()  # SIMD group 0's lanes read part[lane]
        for g in sgs:
            inner = [t for t in g if t < n and x[t] > 0]
            for k, t in enumerate(g):
                lane = k
                if t < n:
                    if x[t] > 0:
                        before = [v[u] for u in inner if u <= t]
                        np.testing.assert_allclose(out[t, 0], sum(before), rtol=1e-5, atol=1e-5)
                        nxt = t + 1 if (k + 1 < len(g) and (t + 1) in inner) else t
                        assert out[t, 1] == v[nxt]
                        ballot = sum(1 << (u - g[0]) for u in inner if v[u] > 1.0)
                        assert out[t, 2] == np.float32(ballot)
                        q0 = g[0] + (k & ~3)
                        quad = [u for u in inner if q0 <= u < q0 + 4]
                        np.testing.assert_allclose(out[t, 3], sum(v[u] for u in quad), rtol=1e-5, atol=1e-5)
                    else:
                        assert (out[t, :4] == 9.0).all()
                    if t - base < 32:
                        np.testing.assert_allclose(out[t, 4], keep, rtol=1e-5, atol=1e-5)
                    else:
                        assert out[t, 4] == -5.0
                else:
                    assert (out[t, :5] == 9.0).all()
                if lane % 3 == 1:
                    act = [g[m] for m in range(len(g)) if m % 3 == 1]
                    assert out[t, 5] == np.float32(max(v[u] for u in act) + len(act))
                else:
                    assert out[t, 5] == 9.0


def test_these_kernels_take_the_split_path(cpu_device):
    """Quad-group functions split too; nothing here keeps the fibers."""
    log = fission_log(__file__, "SRC", "ONE_LANE_SRC", "IF_SRC")
    for k, calls in (("ff_float", 7), ("ff_int", 18), ("ff_quad", 10), ("ff_one_lane", 2), ("ff_if", 8)):
        assert f"kernel '{k}' runs split (loop fission, {calls} SIMD-group calls" in log, log


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
    cuda_compile(ONE_LANE_SRC)
    cuda_compile(IF_SRC)
