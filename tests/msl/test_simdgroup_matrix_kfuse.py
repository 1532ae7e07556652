"""Accumulation chains of SIMD-group matrix products (MSL.md §5.9), the pattern of MLX-style GEMMs:
acc = a0 * b0 + acc; acc = a1 * b1 + acc; ... On CUDA (sm_80+, a program that never names
thread_elements()) a float accumulator of half or bfloat products keeps its last product pending
and the next one along the chain issues both as one mma.sync m16n8k16 (METAL_SGM_KFUSE, see
metal_simdgroup_matrix.h); whatever reads the accumulator first adds the pending product. These
kernels exercise every way a chain ends or is read: chains of odd and even length with constant
trip counts, run-time trip counts (one and two products per iteration), a store in the middle of
a chain, a copy of an accumulator with a product pending, the accumulator as a product's A and B
and as the C of a different destination, a half/bfloat destination from a pending float
accumulator, half and bfloat products alternating into one accumulator, and chains with half
and bfloat accumulators. Inputs are small integers, so every result is exact: each must equal
NumPy's float64 product exactly, on the CPU and on CUDA.

Without a GPU the CUDA translation of bench/gemm.metal's half GEMM is compiled to PTX with NVRTC:
its k-steps issue m16n8k16 (half as many as m16n8k8 with the switch off) and the pending flag
leaves no test behind.
"""

import os
import re

import numpy as np
import pytest

from simd_ref import bf16_to_f32, f32_to_bf16

SRC = r"""
#include <metal_stdlib>
using namespace metal;
#define UNROLL _Pragma("clang loop unroll(full)")

// acc (from c) plus the first N products a[k] * b[k], with a constant trip count.
template <typename T, int N>
void chain(device const T* a, device const T* b, device const float* c, device float* out) {
  simdgroup_float8x8 acc;
  simdgroup_load(acc, c);
  UNROLL for (int k = 0; k < N; ++k) {
    simdgroup_matrix<T, 8, 8> x, y;
    simdgroup_load(x, a + k * 64);
    simdgroup_load(y, b + k * 64);
    simdgroup_multiply_accumulate(acc, x, y, acc);
  }
  simdgroup_store(acc, out);
}

// out[0..5]: chains of length 1..6 from c; out[6]: a chain of p[0] products (run-time trip count);
// out[7]: p[1] products, two per iteration plus a last odd one.
template <typename T>
void chains(device const T* a, device const T* b, device const float* c, device const uint* p, device float* out) {
  chain<T, 1>(a, b, c, out);
  chain<T, 2>(a, b, c, out + 64);
  chain<T, 3>(a, b, c, out + 128);
  chain<T, 4>(a, b, c, out + 192);
  chain<T, 5>(a, b, c, out + 256);
  chain<T, 6>(a, b, c, out + 320);
  simdgroup_float8x8 acc;
  simdgroup_load(acc, c);
  for (uint k = 0; k < p[0]; ++k) {
    simdgroup_matrix<T, 8, 8> x, y;
    simdgroup_load(x, a + k * 64);
    simdgroup_load(y, b + k * 64);
    simdgroup_multiply_accumulate(acc, x, y, acc);
  }
  simdgroup_store(acc, out + 384);
  simdgroup_float8x8 acc2 = make_filled_simdgroup_matrix<float, 8>(0.0f);
  uint k = 0;
  for (; k + 1 < p[1]; k += 2) {
    simdgroup_matrix<T, 8, 8> x0, y0, x1, y1;
    simdgroup_load(x0, a + k * 64);
    simdgroup_load(y0, b + k * 64);
    simdgroup_load(x1, a + (k + 1) * 64);
    simdgroup_load(y1, b + (k + 1) * 64);
    simdgroup_multiply_accumulate(acc2, x0, y0, acc2);
    simdgroup_multiply_accumulate(acc2, x1, y1, acc2);
  }
  if (k < p[1]) {
    simdgroup_matrix<T, 8, 8> x, y;
    simdgroup_load(x, a + k * 64);
    simdgroup_load(y, b + k * 64);
    simdgroup_multiply_accumulate(acc2, x, y, acc2);
  }
  simdgroup_store(acc2, out + 448);
}

// Reads of accumulators with a product pending (see the test for each output).
template <typename T>
void reads(device const T* a, device const T* b, device const float* f, device float* out, device T* tout) {
  simdgroup_matrix<T, 8, 8> x[6], y[6];
  UNROLL for (int k = 0; k < 6; ++k) {
    simdgroup_load(x[k], a + k * 64);
    simdgroup_load(y[k], b + k * 64);
  }
  simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8>(0.0f);
  simdgroup_multiply_accumulate(acc, x[0], y[0], acc);
  simdgroup_store(acc, out);  // 0: stored with one product pending
  simdgroup_multiply_accumulate(acc, x[1], y[1], acc);
  simdgroup_multiply_accumulate(acc, x[2], y[2], acc);
  simdgroup_store(acc, out + 64);  // 1: after a pair
  simdgroup_multiply_accumulate(acc, x[3], y[3], acc);
  simdgroup_store(acc, out + 128);  // 2: an odd product after the pair
  simdgroup_multiply_accumulate(acc, x[4], y[4], acc);
  simdgroup_float8x8 copy = acc;  // the copy carries the pending product
  simdgroup_multiply_accumulate(acc, x[5], y[5], acc);
  simdgroup_multiply_accumulate(copy, x[0], y[0], copy);
  simdgroup_store(acc, out + 192);   // 3
  simdgroup_store(copy, out + 256);  // 4
  // A pending accumulator as a float product's A and B.
  simdgroup_float8x8 F, P, Q, g;
  simdgroup_load(F, f);
  simdgroup_multiply(g, x[1], y[1]);  // g = x1 y1, pending
  simdgroup_multiply(P, g, F);
  simdgroup_multiply(Q, F, g);
  simdgroup_store(P, out + 320);  // 5
  simdgroup_store(Q, out + 384);  // 6
  // A pending accumulator as the C of another destination, then accumulated further itself.
  simdgroup_float8x8 h = make_filled_simdgroup_matrix<float, 8>(1.0f), D;
  simdgroup_multiply_accumulate(h, x[3], y[3], h);
  simdgroup_multiply_accumulate(D, x[2], y[2], h);
  simdgroup_multiply_accumulate(h, x[4], y[4], h);
  simdgroup_store(D, out + 448);  // 7
  simdgroup_store(h, out + 512);  // 8
  // g (already read, nothing pending) accumulated again, then stored transposed.
  simdgroup_multiply_accumulate(g, x[5], y[5], g);
  simdgroup_store(g, out + 576, 8, ulong2(0), true);  // 9
  // A T destination from a pending float accumulator, and a T-accumulated chain.
  simdgroup_float8x8 e = make_filled_simdgroup_matrix<float, 8>(0.0f);
  simdgroup_multiply_accumulate(e, x[5], y[5], e);
  simdgroup_matrix<T, 8, 8> r, t = make_filled_simdgroup_matrix<T, 8>(T(2));
  simdgroup_multiply_accumulate(r, x[0], y[0], e);
  simdgroup_store(r, tout);  // T 0
  UNROLL for (int k = 0; k < 3; ++k) simdgroup_multiply_accumulate(t, x[k], y[k], t);
  simdgroup_store(t, tout + 64);  // T 1
}

kernel void chains_half(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                        device const float* c [[buffer(2)]], device const uint* p [[buffer(3)]],
                        device float* out [[buffer(4)]]) { chains(a, b, c, p, out); }
kernel void chains_bfloat(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                          device const float* c [[buffer(2)]], device const uint* p [[buffer(3)]],
                          device float* out [[buffer(4)]]) { chains(a, b, c, p, out); }
kernel void reads_half(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                       device const float* f [[buffer(2)]], device float* out [[buffer(3)]],
                       device half* tout [[buffer(4)]]) { reads(a, b, f, out, tout); }
kernel void reads_bfloat(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                         device const float* f [[buffer(2)]], device float* out [[buffer(3)]],
                         device bfloat* tout [[buffer(4)]]) { reads(a, b, f, out, tout); }

// Half and bfloat products alternating into one float accumulator: h0 b1 b2 h3 h4 b5 (a pending
// product of the other type is added before this one is deferred).
kernel void alternate(device const half* ah [[buffer(0)]], device const half* bh [[buffer(1)]],
                      device const bfloat* ab [[buffer(2)]], device const bfloat* bb [[buffer(3)]],
                      device float* out [[buffer(4)]]) {
  simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8>(0.0f);
  const bool half_step[6] = {true, false, false, true, true, false};
  UNROLL for (int k = 0; k < 6; ++k) {
    if (half_step[k]) {
      simdgroup_half8x8 x, y;
      simdgroup_load(x, ah + k * 64);
      simdgroup_load(y, bh + k * 64);
      simdgroup_multiply_accumulate(acc, x, y, acc);
    } else {
      simdgroup_bfloat8x8 x, y;
      simdgroup_load(x, ab + k * 64);
      simdgroup_load(y, bb + k * 64);
      simdgroup_multiply_accumulate(acc, x, y, acc);
    }
    if (k == 2) simdgroup_store(acc, out);
  }
  simdgroup_store(acc, out + 64);
}
"""

K = 6  # matrices per operand


def encode(tname, v):
    if tname == "half":
        return v.astype(np.float16)
    return f32_to_bf16(v.astype(np.float32))


def decode(tname, v):
    if tname == "half":
        return v.astype(np.float64)
    return bf16_to_f32(v).astype(np.float64)


def operands(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, (K, 8, 8)).astype(np.float64)
    b = rng.integers(-2, 3, (K, 8, 8)).astype(np.float64)
    return rng, a, b


@pytest.mark.parametrize("runtime_counts", [(5, 6), (4, 3), (0, 1)])
@pytest.mark.parametrize("tname", ["half", "bfloat"])
def test_chains(device, runner, tname, runtime_counts):
    rng, a, b = operands({"half": 41, "bfloat": 42}[tname])
    c = rng.integers(-8, 9, (8, 8)).astype(np.float64)
    p = np.array(runtime_counts + (0, 0), np.uint32)
    args = [encode(tname, a.ravel()), encode(tname, b.ravel()), c.astype(np.float32).ravel(), p]
    args.append(np.zeros(8 * 64, np.float32))
    out = runner.run(device, SRC, f"chains_{tname}", args, (32,), (32,))[4].astype(np.float64).reshape(8, 8, 8)
    prods = a @ b
    for n in range(1, 7):
        np.testing.assert_array_equal(out[n - 1], c + prods[:n].sum(0), err_msg=f"a chain of {n}")
    np.testing.assert_array_equal(out[6], c + prods[: runtime_counts[0]].sum(0), err_msg="run-time trip count")
    np.testing.assert_array_equal(out[7], prods[: runtime_counts[1]].sum(0), err_msg="two products per trip")


@pytest.mark.parametrize("tname", ["half", "bfloat"])
def test_reads_of_pending_accumulators(device, runner, tname):
    rng, a, b = operands({"half": 43, "bfloat": 44}[tname])
    f = rng.integers(-2, 3, (8, 8)).astype(np.float64)
    dt = np.float16 if tname == "half" else np.uint16
    args = [encode(tname, a.ravel()), encode(tname, b.ravel()), f.astype(np.float32).ravel()]
    args += [np.zeros(10 * 64, np.float32), np.zeros(2 * 64, dt)]
    out, tout = runner.run(device, SRC, f"reads_{tname}", args, (32,), (32,))[3:5]
    out = out.astype(np.float64).reshape(10, 8, 8)
    tout = decode(tname, tout).reshape(2, 8, 8)
    p = a @ b
    want = [
        p[0],
        p[0] + p[1] + p[2],
        p[:4].sum(0),
        p.sum(0),
        p[:5].sum(0) + p[0],
        p[1] @ f,
        f @ p[1],
        1.0 + p[3] + p[2],
        1.0 + p[3] + p[4],
        (p[1] + p[5]).T,
    ]
    for i, w in enumerate(want):
        np.testing.assert_array_equal(out[i], w, err_msg=f"output {i}")
    np.testing.assert_array_equal(tout[0], p[5] + p[0], err_msg=f"{tname} destination from a pending accumulator")
    np.testing.assert_array_equal(tout[1], 2.0 + p[:3].sum(0), err_msg=f"{tname} accumulator chain")


def test_half_and_bfloat_products_alternate(device, runner):
    _, ah, bh = operands(45)
    _, ab, bb = operands(46)
    args = [encode("half", ah.ravel()), encode("half", bh.ravel()), encode("bfloat", ab.ravel())]
    args += [encode("bfloat", bb.ravel()), np.zeros(128, np.float32)]
    out = runner.run(device, SRC, "alternate", args, (32,), (32,))[4].astype(np.float64).reshape(2, 8, 8)
    half_step = [True, False, False, True, True, False]
    prods = [(ah[k] @ bh[k]) if h else (ab[k] @ bb[k]) for k, h in enumerate(half_step)]
    np.testing.assert_array_equal(out[0], sum(prods[:3]))
    np.testing.assert_array_equal(out[1], sum(prods))


# --- the CUDA translation, without a GPU -------------------------------------------------

GEMM = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "gemm.metal")


def gemm_half_ptx(*defines):
    from test_simdgroup_matrix_ldmatrix import cuda_ptx, gemm_only

    return cuda_ptx(gemm_only("gemm_half"), list(defines))


def entry(text):
    """The PTX of the non-uniform entry point (the uniform one is its copy)."""
    import nvrtc_direct

    return nvrtc_direct.functions(text)["metallic_entry_0"]


def test_gemm_k_steps_fuse_on_cuda():
    # Products one at a time (row pairing off: test_simdgroup_matrix_rowpair.py pairs them).
    fused = entry(gemm_half_ptx("-DMETAL_SGM_ROWPAIR=0"))
    plain = entry(gemm_half_ptx("-DMETAL_SGM_ROWPAIR=0", "-DMETAL_SGM_KFUSE=0"))
    k16 = fused.count("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32")
    k8 = plain.count("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32")
    # 4 x 8 fragments per SIMD group, 4 k-steps per 32-deep slice: 128 products, 64 instructions.
    assert k8 == 128 and k16 == 64
    assert "m16n8k8" not in fused  # the flag folded: no product left to add after the loop
    # No test of the flag left: as many predicated instructions and branches as without it.
    assert fused.count("@%p") == plain.count("@%p") and fused.count("bra") == plain.count("bra")


def k_loop(text):
    """The PTX of the longest loop of an entry: from a label to the last branch back to it."""
    lines = text.splitlines()
    where = {}
    best = []
    for i, line in enumerate(lines):
        label = re.match(r"\s*(\$L__BB\d+_\d+):", line)
        if label:
            where[label.group(1)] = i
        back = re.search(r"bra(?:\.uni)?\s+(\$L__BB\d+_\d+);", line)
        if back and back.group(1) in where and i - where[back.group(1)] > len(best):
            best = lines[where[back.group(1)] : i + 1]
    return best


def test_gemm_pipe_reads_the_next_slice_before_the_products_on_cuda():
    from test_simdgroup_matrix_ldmatrix import cuda_ptx, gemm_only

    loop = k_loop(entry(cuda_ptx(gemm_only("gemm_pipe_half"))))
    reads = [i for i, line in enumerate(loop) if "ld.global" in line and ".v4." in line]
    mma = [i for i, line in enumerate(loop) if "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in line]
    # A 64-deep slice of a 64 x 128 tile, 4 SIMD groups of 4 x 8 fragments: 64 m16n8k16 (two 8-deep
    # products of two fragment rows each: row pairing), 4 A and 8 B fragments per 8-deep step from
    # threadgroup memory, four at a time (paired rows of two 8-deep steps: ldmatrix .x4, and .x4.trans
    # of which ptxas keeps the A's or the B's),
    # the next slice in 16-byte reads (64 x 64 + 64 x 128 halves over 128 threads: 12 each), all
    # issued before the first product; the slice written after the products, between two barriers.
    assert len(mma) == 64 and "m16n8k8" not in "\n".join(loop)
    # 4 16-deep steps x 6 .x4 loads (2 of A, 4 of B) x (.x4, .x4.trans)
    assert sum("ldmatrix.sync.aligned.m8n8.x4" in line for line in loop) == 48
    assert sum("ldmatrix.sync.aligned.m8n8" in line for line in loop) == 48
    assert len(reads) == 12 and max(reads) < min(mma)
    bars = [i for i, line in enumerate(loop) if "bar.sync" in line]
    stores = [i for i, line in enumerate(loop) if "st.shared.v4" in line]
    assert len(bars) == 2 and len(stores) == 12 and bars[0] < min(stores) and max(stores) < bars[1]
    assert min(bars) > max(mma)
