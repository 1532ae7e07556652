"""MSL atomics (MSL.md §5.7): every atomic_*_explicit function, in device and threadgroup
memory, checked against NumPy."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void hist_device(device const uint* x [[buffer(0)]], device atomic_uint* h [[buffer(1)]],
                        constant uint& n [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  if (gid < n) atomic_fetch_add_explicit(&h[x[gid] & 63u], 1u, memory_order_relaxed);
}

kernel void hist_threadgroup(device const uint* x [[buffer(0)]], device atomic_uint* h [[buffer(1)]],
                             constant uint& n [[buffer(2)]], uint gid [[thread_position_in_grid]],
                             uint lid [[thread_position_in_threadgroup]], uint tgs [[threads_per_threadgroup]]) {
  threadgroup atomic_uint local[64];
  for (uint i = lid; i < 64; i += tgs) atomic_store_explicit(&local[i], 0u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (gid < n) atomic_fetch_add_explicit(&local[x[gid] & 63u], 1u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint i = lid; i < 64; i += tgs) {
    uint c = atomic_load_explicit(&local[i], memory_order_relaxed);
    if (c) atomic_fetch_add_explicit(&h[i], c, memory_order_relaxed);
  }
}

// Float add/sub in device memory, and a per-group partial sum in threadgroup memory.
kernel void float_sum(device const float* x [[buffer(0)]], device atomic_float* out [[buffer(1)]],
                      device float* partial [[buffer(2)]], constant uint& n [[buffer(3)]],
                      uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                      uint tg [[threadgroup_position_in_grid]]) {
  threadgroup atomic_float acc[1];
  if (lid == 0) atomic_store_explicit(&acc[0], 0.0f, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (gid < n) {
    atomic_fetch_add_explicit(&out[0], x[gid], memory_order_relaxed);
    atomic_fetch_sub_explicit(&out[1], x[gid], memory_order_relaxed);
    atomic_fetch_add_explicit(&acc[0], x[gid], memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lid == 0) partial[tg] = atomic_load_explicit(&acc[0], memory_order_relaxed);
}

// max of floats with a compare-exchange loop (the MLX pattern), in device memory.
kernel void float_cas_max(device const float* x [[buffer(0)]], device atomic_float* m [[buffer(1)]],
                          constant uint& n [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  if (gid >= n) return;
  float v = x[gid];
  float expected = atomic_load_explicit(m, memory_order_relaxed);
  while (v > expected &&
         !atomic_compare_exchange_weak_explicit(m, &expected, v, memory_order_relaxed, memory_order_relaxed)) {
  }
}

// Integer read-modify-write ops, device (slots 0..6) and threadgroup (copied to 7..13).
// Returned old values: fetch_add gives each thread a distinct ticket.
kernel void int_ops(device const int* x [[buffer(0)]], device atomic_int* r [[buffer(1)]],
                    device atomic_uint* u [[buffer(2)]], device uint* tickets [[buffer(3)]],
                    device int* tg_out [[buffer(4)]], threadgroup atomic_int* t [[threadgroup(0)]],
                    constant uint& n [[buffer(5)]], uint gid [[thread_position_in_grid]],
                    uint lid [[thread_position_in_threadgroup]], uint tg [[threadgroup_position_in_grid]]) {
  if (lid < 7) atomic_store_explicit(&t[lid], lid == 2 ? -1 : (lid == 5 ? 2147483647 : (lid == 6 ? -2147483647 - 1 : 0)),
                                     memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (gid < n) {
    int v = x[gid];
    atomic_fetch_add_explicit(&r[0], v, memory_order_relaxed);
    atomic_fetch_sub_explicit(&r[1], v, memory_order_relaxed);
    atomic_fetch_and_explicit(&r[2], v, memory_order_relaxed);
    atomic_fetch_or_explicit(&r[3], v, memory_order_relaxed);
    atomic_fetch_xor_explicit(&r[4], v, memory_order_relaxed);
    atomic_fetch_min_explicit(&r[5], v, memory_order_relaxed);
    atomic_fetch_max_explicit(&r[6], v, memory_order_relaxed);
    uint w = uint(v);
    atomic_fetch_min_explicit(&u[0], w, memory_order_relaxed);
    atomic_fetch_max_explicit(&u[1], w, memory_order_relaxed);
    atomic_fetch_and_explicit(&u[2], w | 0x80000000u, memory_order_relaxed);
    atomic_fetch_or_explicit(&u[3], w, memory_order_relaxed);
    atomic_fetch_xor_explicit(&u[4], w, memory_order_relaxed);
    atomic_fetch_sub_explicit(&u[5], w, memory_order_relaxed);
    tickets[gid] = atomic_fetch_add_explicit(&u[6], 1u, memory_order_relaxed);
    atomic_fetch_add_explicit(&t[0], v, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t[1], v, memory_order_relaxed);
    atomic_fetch_and_explicit(&t[2], v, memory_order_relaxed);
    atomic_fetch_or_explicit(&t[3], v, memory_order_relaxed);
    atomic_fetch_xor_explicit(&t[4], v, memory_order_relaxed);
    atomic_fetch_min_explicit(&t[5], v, memory_order_relaxed);
    atomic_fetch_max_explicit(&t[6], v, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lid < 7) tg_out[tg * 7 + lid] = atomic_load_explicit(&t[lid], memory_order_relaxed);
}

// exchange: every old value is seen exactly once (a chain through the slot); CAS with a
// stale expected value fails and reports the current value; bool flags elect one winner.
kernel void exchange_cas(device atomic_uint* slot [[buffer(0)]], device uint* olds [[buffer(1)]],
                         device atomic_bool* flags [[buffer(2)]], device uint* winners [[buffer(3)]],
                         device atomic_int* c [[buffer(4)]], device int* cas_out [[buffer(5)]],
                         constant uint& n [[buffer(6)]], uint gid [[thread_position_in_grid]],
                         uint lid [[thread_position_in_threadgroup]]) {
  threadgroup atomic_uint tslot[1];
  threadgroup atomic_bool tflag[1];
  if (lid == 0) {
    atomic_store_explicit(&tslot[0], 0xffffffffu, memory_order_relaxed);
    atomic_store_explicit(&tflag[0], false, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (gid >= n) return;
  olds[gid] = atomic_exchange_explicit(slot, gid, memory_order_relaxed);
  bool was = atomic_exchange_explicit(&flags[gid % 8], true, memory_order_relaxed);
  if (!was) winners[gid % 8] = gid + 1;
  uint tw = atomic_exchange_explicit(&tslot[0], lid, memory_order_relaxed);
  bool tb = atomic_exchange_explicit(&tflag[0], true, memory_order_relaxed);
  (void)tw; (void)tb;
  if (gid == 0) {
    int expected = 5;  // c holds 7: fails, expected becomes 7
    bool ok1 = atomic_compare_exchange_weak_explicit(&c[0], &expected, 11, memory_order_relaxed, memory_order_relaxed);
    cas_out[0] = ok1; cas_out[1] = expected;
    bool ok2 = atomic_compare_exchange_weak_explicit(&c[0], &expected, 11, memory_order_relaxed, memory_order_relaxed);
    cas_out[2] = ok2; cas_out[3] = expected; cas_out[4] = atomic_load_explicit(&c[0], memory_order_relaxed);
    bool bexp = false;  // flags[0] is true by now
    bool ok3 = atomic_compare_exchange_weak_explicit(&flags[0], &bexp, false, memory_order_relaxed, memory_order_relaxed);
    cas_out[5] = ok3; cas_out[6] = bexp;
    cas_out[7] = atomic_load_explicit(&flags[0], memory_order_relaxed);
    float fe = 1.0f;
    (void)fe;
  }
}

// store/load with every memory order; load a neighbour's threadgroup value after a barrier.
kernel void store_load(device atomic_uint* d [[buffer(0)]], device uint* out [[buffer(1)]],
                       device atomic_float* f [[buffer(2)]], device atomic_ulong* ul [[buffer(3)]],
                       constant uint& n [[buffer(4)]], uint gid [[thread_position_in_grid]],
                       uint lid [[thread_position_in_threadgroup]], uint tgs [[threads_per_threadgroup]]) {
  threadgroup atomic_uint t[256];
  atomic_store_explicit(&t[lid], gid * 3u, memory_order_release);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint nb = atomic_load_explicit(&t[(lid + 1) % tgs], memory_order_acquire);
  if (gid >= n) return;
  atomic_store_explicit(&d[gid], gid ^ 0x5a5au, memory_order_seq_cst);
  uint back = atomic_load_explicit(&d[gid], memory_order_seq_cst);
  atomic_store_explicit(&f[gid], float(gid) * 0.5f, memory_order_relaxed);
  atomic_thread_fence(mem_flags::mem_device, memory_order_seq_cst, thread_scope_device);
  float fb = atomic_load_explicit(&f[gid], memory_order_relaxed);
  float fx = atomic_exchange_explicit(&f[gid], 2.0f, memory_order_acq_rel);
  out[gid * 4 + 0] = back;
  out[gid * 4 + 1] = nb;
  out[gid * 4 + 2] = uint(fb * 2.0f);
  out[gid * 4 + 3] = uint(fx * 2.0f);
  atomic_fetch_max_explicit(&ul[0], ulong(gid) << 33, memory_order_relaxed);
  atomic_fetch_min_explicit(&ul[1], (ulong(gid) << 33) + 5ul, memory_order_relaxed);
  atomic_fetch_add_explicit(&ul[2], 1ul << 32, memory_order_relaxed);
}
"""

TGS = [32, 64, 256, 100]


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("kernel", ["hist_device", "hist_threadgroup"])
@pytest.mark.parametrize("tg", TGS)
def test_histogram(device, runner, kernel, tg):
    rng = np.random.default_rng(100 + tg)
    n = 3000
    x = rng.integers(0, 2**32, n, dtype=np.uint32)
    _, h, _ = runner.run(device, SRC, kernel, [x, np.zeros(64, np.uint32), np.uint32(n)], (n,), (tg,))
    np.testing.assert_array_equal(h, np.bincount(x & 63, minlength=64))


@pytest.mark.parametrize("tg", [64, 256, 100])
def test_float_add_sub(device, runner, tg):
    rng = np.random.default_rng(7 + tg)
    n = 5000
    x = rng.standard_normal(n).astype(np.float32)
    groups = (n + tg - 1) // tg
    _, out, partial, _ = runner.run(
        device, SRC, "float_sum", [x, np.zeros(2, np.float32), np.zeros(groups, np.float32), np.uint32(n)], (n,), (tg,)
    )
    ref = x.astype(np.float64).sum()
    tol = 1e-5 * np.abs(x).astype(np.float64).sum()
    assert abs(out[0] - ref) <= tol
    assert abs(out[1] + ref) <= tol
    pad = np.zeros(groups * tg, np.float64)
    pad[:n] = x
    np.testing.assert_allclose(partial, pad.reshape(groups, tg).sum(axis=1), rtol=0, atol=1e-4)


def test_float_cas_max(device, runner):
    rng = np.random.default_rng(3)
    n = 4000
    x = (rng.standard_normal(n) * 100).astype(np.float32)
    _, m, _ = runner.run(device, SRC, "float_cas_max", [x, np.array([-1e30], np.float32), np.uint32(n)], (n,), (128,))
    assert m[0] == x.max()


@pytest.mark.parametrize("tg", [32, 256, 100])
def test_integer_ops(device, runner, tg):
    rng = np.random.default_rng(11 + tg)
    n = 2000
    x = rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32)
    r0 = np.array([5, 9, -1, 0, 0, 2**31 - 1, -(2**31)], np.int32)
    u0 = np.array([0xFFFFFFFF, 0, 0xFFFFFFFF, 0, 0, 1000, 0], np.uint32)
    groups = (n + tg - 1) // tg
    _, r, u, tickets, tg_out, _ = runner.run(
        device,
        SRC,
        "int_ops",
        [x, r0, u0, np.zeros(n, np.uint32), np.zeros(groups * 7, np.int32), np.uint32(n)],
        (n,),
        (tg,),
        tg_memory=[(7 * 4, 0)],
        order_dependent=True,
    )  # tickets: arrival order
    x64 = x.astype(np.int64)
    w = x.view(np.uint32)

    def int_ref(v, init):
        v = v.astype(np.int64)
        return (
            np.array(
                [
                    (init[0] + v.sum()) % 2**32,
                    (init[1] - v.sum()) % 2**32,
                    np.bitwise_and.reduce(v, initial=int(init[2])) % 2**32,
                    np.bitwise_or.reduce(v, initial=int(init[3])) % 2**32,
                    np.bitwise_xor.reduce(v, initial=int(init[4])) % 2**32,
                    min(v.min(), init[5]) % 2**32,
                    max(v.max(), init[6]) % 2**32,
                ],
                np.uint64,
            )
            .astype(np.uint32)
            .view(np.int32)
        )

    np.testing.assert_array_equal(r, int_ref(x64, r0.astype(np.int64)))
    np.testing.assert_array_equal(
        u[:6],
        np.array(
            [
                min(w.min(), 0xFFFFFFFF),
                max(w.max(), 0),
                np.bitwise_and.reduce(w | np.uint32(0x80000000)),
                np.bitwise_or.reduce(w),
                np.bitwise_xor.reduce(w),
                (1000 - w.astype(np.int64).sum()) % 2**32,
            ],
            np.uint32,
        ),
    )
    assert u[6] == n
    np.testing.assert_array_equal(np.sort(tickets), np.arange(n, dtype=np.uint32))
    tinit = np.array([0, 0, -1, 0, 0, 2**31 - 1, -(2**31)], np.int64)
    for g in range(groups):
        np.testing.assert_array_equal(tg_out[g * 7 : (g + 1) * 7], int_ref(x64[g * tg : (g + 1) * tg], tinit))


@pytest.mark.parametrize("tg", [64, 100])
def test_exchange_and_compare_exchange(device, runner, tg):
    n = 1000
    _, olds, flags, winners, c, cas, _ = runner.run(
        device,
        SRC,
        "exchange_cas",
        [
            np.array([0xFFFFFFFF], np.uint32),
            np.zeros(n, np.uint32),
            np.zeros(8, np.uint8),
            np.zeros(8, np.uint32),
            np.array([7], np.int32),
            np.zeros(8, np.int32),
            np.uint32(n),
        ],
        (n,),
        (tg,),
        order_dependent=True,
    )  # exchanges return values in arrival order
    # every value stored was returned exactly once by a later exchange, except the last one
    seen = np.sort(olds)
    assert seen[-1] == 0xFFFFFFFF and len(np.unique(olds)) == n
    assert set(olds[olds != 0xFFFFFFFF].tolist()) < set(range(n))
    assert flags.tolist() == [1] * 8
    assert all(w != 0 and (w - 1) % 8 == i for i, w in enumerate(winners))
    assert cas.tolist() == [0, 7, 1, 7, 11, 0, 1, 1]


@pytest.mark.parametrize("tg", [32, 256, 100])
def test_store_load_orders(device, runner, tg):
    n = 1000
    d, out, f, ul, _ = runner.run(
        device,
        SRC,
        "store_load",
        [
            np.zeros(n, np.uint32),
            np.zeros(4 * n, np.uint32),
            np.zeros(n, np.float32),
            np.array([0, 2**64 - 1, 0], np.uint64),
            np.uint32(n),
        ],
        (n,),
        (tg,),
    )
    gid = np.arange(n)
    out = out.reshape(n, 4)
    np.testing.assert_array_equal(d, gid ^ 0x5A5A)
    np.testing.assert_array_equal(out[:, 0], gid ^ 0x5A5A)
    lid = gid % tg
    base = gid - lid
    size = np.minimum(tg, n - base)  # the edge group is smaller
    np.testing.assert_array_equal(out[:, 1], (base + (lid + 1) % size) * 3)
    np.testing.assert_array_equal(out[:, 2], gid)
    np.testing.assert_array_equal(out[:, 3], gid)
    np.testing.assert_array_equal(f, np.full(n, 2.0, np.float32))
    assert ul.tolist() == [(n - 1) << 33, 5, n << 32]
