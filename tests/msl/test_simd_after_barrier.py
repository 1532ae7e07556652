"""SIMD-group functions wherever a SIMD group's lanes meet again (issue 15): directly after a
threadgroup barrier, between barriers, in a loop with barriers, after a barrier inside a
helper function, after a simdgroup_barrier, after early returns, in divergent branches that
reconverge, quad functions after a barrier, simdgroup_matrix load -> barrier -> multiply,
and barriers or SIMD-group calls reached only through a functor's operator(), a type
alias, a member function, a lambda or an overloaded operator. Threadgroups of 33, 48, 64 and
100 threads (partial SIMD groups). On the CPU every kernel also runs under each scheduling
path (conftest.py) and must agree with the default."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

struct Dims { uint n; uint m; };

kernel void after_barrier(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                          constant Dims& d [[buffer(2)]],
                          uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 4 + 0] = simd_sum(1.0f);
  out[i * 4 + 1] = simd_sum(x[i]);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 4 + 2] = simd_shuffle_xor(x[i], ushort(1));
  out[i * 4 + 3] = simd_prefix_exclusive_sum(x[i]);
}

kernel void shuffle_first(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                          constant Dims& d [[buffer(2)]],
                          uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  threadgroup_barrier(mem_flags::mem_device);
  out[i * 2 + 0] = simd_shuffle(x[i], ushort((t % 32 + 3) % 32));
  out[i * 2 + 1] = simd_sum(x[i]);
}

kernel void loop_barrier(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                         constant Dims& d [[buffer(2)]],
                         uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  threadgroup float tile[128];
  uint i = g * d.n + t;
  float acc = 0.0f;
  for (uint k = 0; k < 3; ++k) {
    tile[t] = x[i] * float(k + 1);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    acc += simd_sum(tile[(t + 1) % d.n]);
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  out[i] = acc;
}

float stage(threadgroup float* tile, float v, uint t, uint n) {
  tile[t] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return tile[n - 1 - t];
}

kernel void helper_barrier(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                           constant Dims& d [[buffer(2)]],
                           uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  threadgroup float tile[128];
  uint i = g * d.n + t;
  float r = stage(tile, x[i], t, d.n);
  out[i * 2 + 0] = simd_max(r);
  out[i * 2 + 1] = quad_sum(r);
}

kernel void simdgroup_barrier_then_simd(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                                        constant Dims& d [[buffer(2)]],
                                        uint t [[thread_position_in_threadgroup]],
                                        uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  simdgroup_barrier(mem_flags::mem_none);
  out[i * 2 + 0] = simd_sum(1.0f);
  simdgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 2 + 1] = simd_broadcast_first(x[i]);
}

kernel void early_return(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                         constant Dims& d [[buffer(2)]],
                         uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  if (t >= d.m) return;
  out[i * 2 + 0] = simd_sum(1.0f);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 2 + 1] = simd_sum(x[i]);
}

kernel void divergent(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                      constant Dims& d [[buffer(2)]],
                      uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  uint lane = t % 32;
  float a = -1.0f;
  if (lane < 16)
    a = simd_sum(x[i]);
  float b = simd_sum(x[i]);
  float c;
  if (lane & 1)
    c = simd_sum(x[i]);
  else
    c = simd_sum(x[i] * 2.0f);
  out[i * 3 + 0] = a;
  out[i * 3 + 1] = b;
  out[i * 3 + 2] = c;
}

kernel void quad_after_barrier(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                               constant Dims& d [[buffer(2)]],
                               uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  uint i = g * d.n + t;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i * 2 + 0] = quad_sum(x[i]);
  out[i * 2 + 1] = quad_shuffle_xor(x[i], ushort(2));
}

// Library-style block reduction: the barrier and the SIMD call are reached only through
// the functor's operator().
template <typename T>
struct BlockSum {
  T operator()(T v, threadgroup T* shared, uint t, uint n) const {
    T s = simd_sum(v);
    if (t % 32 == 0) shared[t / 32] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    T total = 0;
    for (uint k = 0; k < (n + 31) / 32; ++k) total += shared[k];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return total;
  }
};
using FloatBlockSum = BlockSum<float>;

struct Stats {
  threadgroup float* shared;
  float mean(float v, uint t, uint n) const { return BlockSum<float>()(v, shared, t, n) / float(n); }
};

struct Partial { float v; };
Partial operator~(Partial p) { return Partial{simd_sum(p.v)}; }

kernel void functor_sum(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                        constant Dims& d [[buffer(2)]],
                        uint t [[thread_position_in_threadgroup]], uint g [[threadgroup_position_in_grid]]) {
  threadgroup float shared[4];
  uint i = g * d.n + t;
  out[i * 5 + 0] = BlockSum<float>()(x[i], shared, t, d.n);
  out[i * 5 + 1] = FloatBlockSum()(x[i] * 2.0f, shared, t, d.n);
  Stats st{shared};
  out[i * 5 + 2] = st.mean(x[i], t, d.n);
  auto sum_after_barrier = [&](float v) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_sum(v);
  };
  out[i * 5 + 3] = sum_after_barrier(x[i]);
  Partial p{x[i]};
  out[i * 5 + 4] = (~p).v;
}

// A kernel that synchronises nowhere, in the same library.
kernel void plain(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  out[i] = x[i] + 1.0f;
}

kernel void matrix_after_barrier(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                                 device float* c [[buffer(2)]], uint t [[thread_position_in_threadgroup]],
                                 uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float ta[128];
  threadgroup float tb[128];
  for (uint k = t; k < 128; k += 64) {
    ta[k] = a[k];
    tb[k] = b[k];
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_float8x8 A, B, C;
  simdgroup_load(A, ta + sg * 64, 8);
  simdgroup_load(B, tb + sg * 64, 8);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_multiply(C, A, B);
  simdgroup_store(C, c + sg * 64, 8);
}
"""

SIZES = [33, 48, 64, 100]
GROUPS = 2


def dims(n, m=0):
    return np.array([n, m], np.uint32)


def members(n):
    """For each thread of a group of n: the indices (in the group) of its SIMD group's lanes."""
    return [np.arange(32 * (t // 32), min(32 * (t // 32) + 32, n)) for t in range(n)]


def per_group(x, n, f):
    """f(xg, t, lanes) for every thread of every threadgroup -> array of results."""
    out = []
    for g in range(GROUPS):
        xg = x[g * n : (g + 1) * n]
        m = members(n)
        out.append([f(xg, t, m[t]) for t in range(n)])
    return np.array(out, np.float64).reshape(GROUPS * n, -1)


def data(n, seed=0):
    return np.random.default_rng(seed + n).integers(0, 8, GROUPS * n).astype(np.float32)


def run(runner, device, kernel, x, n, width, m=0):
    out = np.full(GROUPS * n * width, -7.0, np.float32)
    res = runner.run(device, SRC, kernel, [x, out, dims(n, m)], (GROUPS, 1, 1), (n, 1, 1), threadgroups=True)
    return res[1].reshape(GROUPS * n, width)


def check(runner, device, kernel, n, width, seed, ref, m=0):
    """Runs ``kernel`` on data(n, seed) and compares every thread's ``width`` outputs with
    ref(xg, t, lanes) (its threadgroup's inputs, its index, its SIMD group's lanes)."""
    x = data(n, seed)
    got = run(runner, device, kernel, x, n, width, m)
    np.testing.assert_array_equal(got, per_group(x, n, ref))
    return x


def shuffled(xg, t, lanes, src):
    """What lane ``src`` of thread t's SIMD group holds; t's own value where that lane is
    missing (a partial SIMD group)."""
    return xg[32 * (t // 32) + src] if src < len(lanes) else xg[t]


def quad(t, lanes):
    """The lanes of thread t's quad (within its SIMD group)."""
    return [q for q in lanes if q // 4 == t // 4]


@pytest.mark.parametrize("n", SIZES)
def test_simd_sum_directly_after_barrier(runner, device, n):
    def ref(xg, t, lanes):
        lane = t % 32
        return [len(lanes), xg[lanes].sum(), shuffled(xg, t, lanes, lane ^ 1), xg[lanes[:lane]].sum()]

    check(runner, device, "after_barrier", n, 4, 0, ref)


@pytest.mark.parametrize("n", SIZES)
def test_simd_shuffle_first_after_barrier(runner, device, n):
    def ref(xg, t, lanes):
        return [shuffled(xg, t, lanes, (t % 32 + 3) % 32), xg[lanes].sum()]

    check(runner, device, "shuffle_first", n, 2, 1, ref)


@pytest.mark.parametrize("n", SIZES)
def test_simd_sum_in_loop_with_barriers(runner, device, n):
    def ref(xg, t, lanes):
        return [sum(xg[(lanes + 1) % n].sum() * (k + 1) for k in range(3))]

    check(runner, device, "loop_barrier", n, 1, 2, ref)


@pytest.mark.parametrize("n", SIZES)
def test_simd_and_quad_after_barrier_in_helper(runner, device, n):
    def ref(xg, t, lanes):
        r = xg[n - 1 - np.arange(n)]
        return [r[lanes].max(), r[quad(t, lanes)].sum()]

    check(runner, device, "helper_barrier", n, 2, 3, ref)


@pytest.mark.parametrize("n", SIZES)
def test_simd_after_simdgroup_barrier(runner, device, n):
    check(runner, device, "simdgroup_barrier_then_simd", n, 2, 4, lambda xg, t, lanes: [len(lanes), xg[lanes[0]]])


@pytest.mark.parametrize("n,m", [(64, 40), (100, 70), (48, 5), (33, 33)])
def test_simd_after_early_return(runner, device, n, m):
    def ref(xg, t, lanes):
        if t >= m:
            return [-7.0, -7.0]
        live = lanes[lanes < m]
        return [len(live), xg[live].sum()]

    check(runner, device, "early_return", n, 2, 5, ref, m)


@pytest.mark.parametrize("n", SIZES)
def test_divergent_calls_reconverge(runner, device, n):
    def ref(xg, t, lanes):
        lane = t % 32
        low = lanes[lanes % 32 < 16]
        odd = lanes[lanes % 2 == 1]
        even = lanes[lanes % 2 == 0]
        a = xg[low].sum() if lane < 16 else -1.0
        c = xg[odd].sum() if lane & 1 else 2.0 * xg[even].sum()
        return [a, xg[lanes].sum(), c]

    check(runner, device, "divergent", n, 3, 6, ref)


@pytest.mark.parametrize("n", SIZES)
def test_quad_functions_after_barrier(runner, device, n):
    def ref(xg, t, lanes):
        q = quad(t, lanes)
        return [xg[q].sum(), xg[t ^ 2] if t ^ 2 in q else xg[t]]

    check(runner, device, "quad_after_barrier", n, 2, 7, ref)


@pytest.mark.parametrize("n", SIZES)
def test_sync_through_functor_alias_member_lambda_operator(runner, device, n):
    def ref(xg, t, lanes):
        total = xg.sum()
        return [total, 2 * total, np.float32(np.float32(total) / np.float32(n)), xg[lanes].sum(), xg[lanes].sum()]

    x = check(runner, device, "functor_sum", n, 5, 8, ref)
    # The plain kernel of the same library still runs (and without fibers).
    y = runner.run(device, SRC, "plain", [x, np.zeros_like(x)], (x.size,), (32,))[1]
    np.testing.assert_array_equal(y, x + 1)


def test_simdgroup_matrix_load_barrier_multiply(runner, device):
    rng = np.random.default_rng(9)
    a = rng.integers(-4, 5, 128).astype(np.float32)
    b = rng.integers(-4, 5, 128).astype(np.float32)
    c = runner.run(
        device, SRC, "matrix_after_barrier", [a, b, np.zeros(128, np.float32)], (1, 1, 1), (64, 1, 1), threadgroups=True
    )[2]
    ref = np.concatenate(
        [
            (a[s * 64 : (s + 1) * 64].reshape(8, 8).astype(np.float64) @ b[s * 64 : (s + 1) * 64].reshape(8, 8)).ravel()
            for s in range(2)
        ]
    )
    np.testing.assert_array_equal(c, ref.astype(np.float32))
