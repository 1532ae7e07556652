"""SIMD-group matrix products as ML libraries write them: the tiled GEMM of bench/gemm.metal
(threadgroup tiles, simdgroup_load / simdgroup_multiply_accumulate / simdgroup_store, float
accumulators over half, bfloat and float inputs) against NumPy in float64, and
thread_elements() of a product still in Apple's lane layout (on CUDA the half and bfloat
products run on tensor cores, which use another fragment layout internally)."""

import os

import numpy as np
import pytest

GEMM = open(os.path.join(os.path.dirname(__file__), "..", "..", "bench", "gemm.metal")).read()

ELEMENTS = r"""
#include <metal_stdlib>
using namespace metal;
template <typename T>
void product_elements(device const T* a, device const T* b, device float* out, uint lane) {
  simdgroup_matrix<T, 8, 8> A, B;
  simdgroup_float8x8 D;
  simdgroup_load(A, a, 8);
  simdgroup_load(B, b, 8);
  simdgroup_multiply(D, A, B);
  out[lane * 2 + 0] = D.thread_elements()[0];
  out[lane * 2 + 1] = D.thread_elements()[1];
}
kernel void elements_half(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                          device float* out [[buffer(2)]], uint lane [[thread_index_in_simdgroup]]) {
  product_elements(a, b, out, lane);
}
kernel void elements_bfloat(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                            device float* out [[buffer(2)]], uint lane [[thread_index_in_simdgroup]]) {
  product_elements(a, b, out, lane);
}
"""


def to_bf16(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def inputs(tname, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    if tname == "half":
        stored = x.astype(np.float16)
        return stored, stored.astype(np.float64)
    if tname == "bfloat":
        stored = to_bf16(x)
        return stored, from_bf16(stored).astype(np.float64)
    return x, x.astype(np.float64)


@pytest.mark.parametrize(
    "kernel,tname,bm,bn,threads",
    [
        # double-buffered slices (the benchmark's rows): 64 x 128 tiles of 4 SIMD groups for half
        # and bfloat, 128 x 128 tiles of 8 for float
        ("gemm_half", "half", 64, 128, 128),
        ("gemm_bfloat", "bfloat", 64, 128, 128),
        ("gemm_float", "float", 128, 128, 256),
        # the first version: 64 x 64 tiles of 4 SIMD groups, one threadgroup buffer
        ("gemm_small_half", "half", 64, 64, 128),
        # gemm_pipe: 64-deep slices in one buffer, 32-deep in two, threadgroups swizzled in
        # groups of 8 tile rows (here 3 x 2 tiles: a part group, renumbered column by column)
        ("gemm_pipe_half", "half", 64, 128, 128),
        ("gemm_pipe_bfloat", "bfloat", 64, 128, 128),
        ("gemm_pipe2_half", "half", 64, 128, 128),
    ],
)
def test_tiled_gemm(device, runner, kernel, tname, bm, bn, threads):
    rng = np.random.default_rng({"half": 1, "bfloat": 2, "float": 3}[tname])
    # several slices (K of 3 64-deep or 6 32-deep slices for gemm_pipe, 3-6 for the others), and
    # for gemm_pipe a grid whose swizzle moves tiles
    m, n, k = (3 * bm, 2 * bn, 192) if kernel.startswith("gemm_pipe") else (2 * bm, bn, 96)
    a, a64 = inputs(tname, (m, k), rng)
    b, b64 = inputs(tname, (k, n), rng)
    shape = np.array([m, n, k], np.uint32)
    c = runner.run(
        device,
        GEMM,
        kernel,
        [a.ravel(), b.ravel(), np.zeros(m * n, np.float32), shape],
        (n // bn, m // bm, 1),
        (threads, 1, 1),
        threadgroups=True,
    )[2].reshape(m, n)
    ref = a64 @ b64
    # Products of half/bfloat inputs are exact in float; float sums of k terms.
    bound = 2.0**-22 * k * (np.abs(a64) @ np.abs(b64)) + 1e-30
    np.testing.assert_array_less(np.abs(c - ref), bound)


@pytest.mark.parametrize("tname", ["half", "bfloat"])
def test_product_thread_elements_keep_apple_layout(device, runner, tname):
    rng = np.random.default_rng(4)
    a, a64 = inputs(tname, (8, 8), rng)
    b, b64 = inputs(tname, (8, 8), rng)
    out = runner.run(
        device, ELEMENTS, f"elements_{tname}", [a.ravel(), b.ravel(), np.zeros(64, np.float32)], (32,), (32,)
    )[2]
    ref = a64 @ b64
    lanes = np.arange(32)
    q = lanes // 4
    row = (q & 4) + (lanes // 2) % 4
    col = (q & 2) * 2 + (lanes % 2) * 2
    want = np.stack([ref[row, col], ref[row, col + 1]], axis=1).ravel()
    np.testing.assert_array_less(np.abs(out - want), 2.0**-22 * 8 * (np.abs(a64) @ np.abs(b64)).max() + 1e-30)
