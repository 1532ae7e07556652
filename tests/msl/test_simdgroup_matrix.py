"""MSL SIMD-group matrices (MSL.md §5.9): the thread_elements() layout, load/store (with
origin, stride, transpose), make_filled, the diagonal constructor, multiply and
multiply_accumulate for float/half/bfloat, and a tiled 16x32 * 32x16 product through
threadgroup memory, against NumPy."""

import numpy as np
import pytest

from simd_ref import bf16_to_f32, f32_to_bf16

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Each lane writes (2*lane, 2*lane+1) into its fragment; the stored matrix shows the layout.
kernel void layout(device float* out [[buffer(0)]], uint lane [[thread_index_in_simdgroup]]) {
  simdgroup_float8x8 m = make_filled_simdgroup_matrix<float, 8>(-1.0f);
  m.thread_elements()[0] = float(2 * lane);
  m.thread_elements()[1] = float(2 * lane + 1);
  simdgroup_store(m, out);
}

// load (origin, stride, transpose) then store (origin, stride, transpose); the diagonal
// constructor and make_filled.
kernel void load_store(device const float* src [[buffer(0)]], device float* out [[buffer(1)]]) {
  simdgroup_float8x8 a, b;
  simdgroup_load(a, src, 16, ulong2(3, 5));            // block at column 3, row 5 of a 16-wide matrix
  simdgroup_load(b, src, 16, ulong2(8, 1), true);      // transposed
  simdgroup_store(a, out, 8);                          // out[0..63]
  simdgroup_store(b, out + 64, 8);                     // out[64..127]
  simdgroup_store(a, out + 128, 16, ulong2(4, 2), true);  // transposed into a 16x16 region
  simdgroup_float8x8 d(3.0f);
  simdgroup_store(d, out + 384);
  simdgroup_half8x8 f = make_filled_simdgroup_matrix<half, 8, 8>(half(2.5f));
  simdgroup_store(f, out + 448);
}

template <typename T>
void mma(device const T* a, device const T* b, device const T* c, device T* d, device T* e) {
  simdgroup_matrix<T, 8, 8> ma, mb, mc, md;
  simdgroup_load(ma, a);
  simdgroup_load(mb, b);
  simdgroup_load(mc, c);
  simdgroup_multiply_accumulate(md, ma, mb, mc);
  simdgroup_store(md, d);
  simdgroup_multiply(ma, ma, mb);  // aliasing result and operand
  simdgroup_store(ma, e);
}
kernel void mma_float(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                      device const float* c [[buffer(2)]], device float* d [[buffer(3)]],
                      device float* e [[buffer(4)]]) { mma(a, b, c, d, e); }
kernel void mma_half(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                     device const half* c [[buffer(2)]], device half* d [[buffer(3)]],
                     device half* e [[buffer(4)]]) { mma(a, b, c, d, e); }
kernel void mma_bfloat(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                       device const bfloat* c [[buffer(2)]], device bfloat* d [[buffer(3)]],
                       device bfloat* e [[buffer(4)]]) { mma(a, b, c, d, e); }

// ggml style: half operands, float accumulator.
kernel void mma_mixed(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                      device float* d [[buffer(2)]]) {
  simdgroup_half8x8 ma, mb;
  simdgroup_float8x8 mc = make_filled_simdgroup_matrix<float, 8>(0.f);
  simdgroup_load(ma, a);
  simdgroup_load(mb, b);
  simdgroup_multiply_accumulate(mc, ma, mb, mc);
  simdgroup_store(mc, d);
}

// C (16x16) = A (16x32) * B (32x16): 4 SIMD groups, one 8x8 tile each, operands staged in
// threadgroup memory.
kernel void tiled(device const float* A [[buffer(0)]], device const float* B [[buffer(1)]],
                  device float* C [[buffer(2)]], uint lid [[thread_index_in_threadgroup]],
                  uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float As[16 * 32];
  threadgroup float Bs[32 * 16];
  for (uint i = lid; i < 512; i += 128) { As[i] = A[i]; Bs[i] = B[i]; }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint ti = sg / 2, tj = sg % 2;
  simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8>(0.0f);
  for (uint k = 0; k < 4; ++k) {
    simdgroup_float8x8 a, b;
    simdgroup_load(a, As, 32, ulong2(k * 8, ti * 8));
    simdgroup_load(b, Bs, 16, ulong2(tj * 8, k * 8));
    simdgroup_multiply_accumulate(acc, a, b, acc);
  }
  simdgroup_store(acc, C, 16, ulong2(tj * 8, ti * 8));
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def layout_ref():
    m = np.full((8, 8), -1.0)
    for lane in range(32):
        q = lane // 4
        row = (q & 4) + (lane // 2) % 4
        col = (q & 2) * 2 + (lane % 2) * 2
        m[row, col] = 2 * lane
        m[row, col + 1] = 2 * lane + 1
    return m


def test_layout_formula_covers_every_element_once():
    m = layout_ref()
    assert sorted(m.ravel().tolist()) == list(range(64))


def test_thread_elements_layout(device, runner):
    out = runner.run(device, SRC, "layout", [np.zeros(64, np.float32)], (32,), (32,))[0]
    np.testing.assert_array_equal(out.reshape(8, 8), layout_ref())


def test_load_store(device, runner):
    rng = np.random.default_rng(5)
    src = rng.standard_normal((16, 16)).astype(np.float32)
    out = runner.run(device, SRC, "load_store", [src.ravel(), np.full(512, 7.0, np.float32)], (32,), (32,))[1]
    np.testing.assert_array_equal(out[:64].reshape(8, 8), src[5:13, 3:11])
    np.testing.assert_array_equal(out[64:128].reshape(8, 8), src[1:9, 8:16].T)
    region = np.full((16, 16), 7.0, np.float32)
    region[2:10, 4:12] = src[5:13, 3:11].T
    np.testing.assert_array_equal(out[128:384].reshape(16, 16), region)
    np.testing.assert_array_equal(out[384:448].reshape(8, 8), np.eye(8) * 3)
    np.testing.assert_array_equal(out[448:512], np.full(64, 2.5))


@pytest.mark.parametrize("tname", ["float", "half", "bfloat"])
def test_multiply_accumulate(device, runner, tname):
    rng = np.random.default_rng({"float": 1, "half": 2, "bfloat": 3}[tname])
    mats = [rng.standard_normal((8, 8)).astype(np.float32) for _ in range(3)]
    if tname == "float":
        store = mats
        vals = [m.astype(np.float64) for m in mats]
        eps = 2.0**-22
    elif tname == "half":
        store = [m.astype(np.float16) for m in mats]
        vals = [m.astype(np.float64) for m in store]
        eps = 2.0**-10
    else:
        store = [f32_to_bf16(m) for m in mats]
        vals = [bf16_to_f32(m).astype(np.float64) for m in store]
        eps = 2.0**-7
    dt = store[0].dtype
    _, _, _, d, e = runner.run(
        device, SRC, f"mma_{tname}", [s.ravel() for s in store] + [np.zeros(64, dt), np.zeros(64, dt)], (32,), (32,)
    )
    conv = (lambda x: bf16_to_f32(x).astype(np.float64)) if tname == "bfloat" else (lambda x: x.astype(np.float64))
    a, b, c = vals
    scale = np.abs(a) @ np.abs(b) + np.abs(c)
    np.testing.assert_array_less(np.abs(conv(d).reshape(8, 8) - (a @ b + c)), eps * scale + 1e-6)
    scale = np.abs(a) @ np.abs(b)
    np.testing.assert_array_less(np.abs(conv(e).reshape(8, 8) - a @ b), eps * scale + 1e-6)


def test_mixed_half_float(device, runner):
    rng = np.random.default_rng(9)
    a = rng.standard_normal((8, 8)).astype(np.float16)
    b = rng.standard_normal((8, 8)).astype(np.float16)
    d = runner.run(device, SRC, "mma_mixed", [a.ravel(), b.ravel(), np.zeros(64, np.float32)], (32,), (32,))[2]
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(d.reshape(8, 8), ref, rtol=0, atol=1e-5 * (np.abs(a) @ np.abs(b)).max())


def test_tiled_16x16_product(device, runner):
    rng = np.random.default_rng(21)
    A = rng.standard_normal((16, 32)).astype(np.float32)
    B = rng.standard_normal((32, 16)).astype(np.float32)
    C = runner.run(
        device, SRC, "tiled", [A.ravel(), B.ravel(), np.zeros(256, np.float32)], (1,), (128,), threadgroups=True
    )[2]
    ref = A.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(C.reshape(16, 16), ref, rtol=0, atol=1e-5 * (np.abs(A) @ np.abs(B)).max())
