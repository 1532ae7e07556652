"""SIMD-group matrices in a program that never reads a fragment's elements directly: on CUDA
the matrices then live in the tensor cores' own fragment layout, a half/bfloat matrix also
carries its transpose (loaded from memory, or made where a product or a constructor writes
it) and a float one the unused rows of the instruction's accumulator. Every way a matrix
gets written is checked as both operands of a later product: loads with odd row strides
(rows not 4-byte aligned), transposed loads at an origin, a half/bfloat product result used
as B, the diagonal constructor, make_filled, and a float accumulator loaded from memory.
Against NumPy in float64 (the same kernels run on the CPU)."""

import numpy as np
import pytest

from simd_ref import bf16_to_f32, f32_to_bf16

# No direct element access anywhere in this source (that would select Apple's lane layout).
SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T>
void chain(device const T* a, device const T* b, device const float* c, device float* out, device T* hout) {
  simdgroup_matrix<T, 8, 8> A, B, At, Bt;
  simdgroup_load(A, a, 9);                        // a is 8 x 9: odd row stride
  simdgroup_load(B, b, 8);
  simdgroup_load(At, a, 9, ulong2(1, 0), true);   // columns 1..8 of a, transposed
  simdgroup_load(Bt, b, 8, ulong2(0, 0), true);
  simdgroup_float8x8 C, D, E;
  simdgroup_load(C, c, 8);
  simdgroup_multiply_accumulate(D, A, B, C);      // A B + C
  simdgroup_store(D, out, 8);
  simdgroup_multiply_accumulate(D, At, Bt, D);    // At Bt + (A B + C)
  simdgroup_store(D, out + 64, 8);
  simdgroup_matrix<T, 8, 8> H;
  simdgroup_multiply(H, A, B);                    // rounded to T ...
  simdgroup_store(H, hout, 8);
  simdgroup_multiply(E, At, H);                   // ... then used as B
  simdgroup_store(E, out + 128, 8);
  simdgroup_matrix<T, 8, 8> I(T(2.0f));           // 2 on the diagonal, as B
  simdgroup_multiply(E, A, I);
  simdgroup_store(E, out + 192, 8);
  simdgroup_matrix<T, 8, 8> F = make_filled_simdgroup_matrix<T, 8, 8>(T(0.5f));
  simdgroup_multiply(E, F, B);                    // filled as A
  simdgroup_multiply_accumulate(E, B, F, E);      // filled as B
  simdgroup_store(E, out + 256, 8);
}
kernel void chain_half(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                       device const float* c [[buffer(2)]], device float* out [[buffer(3)]],
                       device half* hout [[buffer(4)]]) { chain(a, b, c, out, hout); }
kernel void chain_bfloat(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                         device const float* c [[buffer(2)]], device float* out [[buffer(3)]],
                         device bfloat* hout [[buffer(4)]]) { chain(a, b, c, out, hout); }
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("tname", ["half", "bfloat"])
def test_every_writer_as_either_operand(device, runner, tname):
    rng = np.random.default_rng({"half": 11, "bfloat": 12}[tname])
    a32 = rng.standard_normal((8, 9)).astype(np.float32)
    b32 = rng.standard_normal((8, 8)).astype(np.float32)
    c = rng.standard_normal((8, 8)).astype(np.float32)
    if tname == "half":
        a, b = a32.astype(np.float16), b32.astype(np.float16)
        val = lambda x: x.astype(np.float64)  # noqa: E731
        eps = 2.0**-11
    else:
        a, b = f32_to_bf16(a32), f32_to_bf16(b32)
        val = lambda x: bf16_to_f32(x).astype(np.float64)  # noqa: E731
        eps = 2.0**-8
    out, hout = runner.run(
        device,
        SRC,
        f"chain_{tname}",
        [a.ravel(), b.ravel(), c.ravel(), np.zeros(320, np.float32), np.zeros(64, a.dtype)],
        (32,),
        (32,),
    )[3:5]
    A, B, C = val(a)[:, :8], val(b), c.astype(np.float64)
    At, Bt = val(a)[:, 1:9].T, B.T
    out = out.astype(np.float64).reshape(5, 8, 8)
    H = val(hout).reshape(8, 8)

    def close(got, ref, scale):  # float accumulation of 8 exact products, plus rounding
        np.testing.assert_array_less(np.abs(got - ref), 2.0**-20 * scale + 1e-30)

    close(out[0], A @ B + C, np.abs(A) @ np.abs(B) + np.abs(C))
    close(out[1], At @ Bt + out[0], np.abs(At) @ np.abs(Bt) + np.abs(out[0]))
    # the T-typed result: rounded once from the float sum
    np.testing.assert_array_less(np.abs(H - A @ B), eps * np.abs(A @ B) + 2.0**-20 * (np.abs(A) @ np.abs(B)) + 1e-30)
    close(out[2], At @ H, np.abs(At) @ np.abs(H))
    np.testing.assert_array_equal(out[3], 2.0 * A)
    close(out[4], 0.5 * np.ones((8, 8)) @ B + B @ (0.5 * np.ones((8, 8))), 2 * np.abs(B).sum())
