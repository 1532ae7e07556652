"""Threadgroup memory and barriers (MSL.md §2, §5.7, §6.2): kernel-scope threadgroup arrays,
several [[threadgroup(n)]] parameters sized on the host, threadgroup_barrier with every
mem_flags value, tree reductions in a loop with partial last groups, simdgroup_barrier,
2-D tiled transpose and matmul."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// tree reduction with a barrier inside the loop; works for any group size (partial groups too)
kernel void tree_sum(device const float* x [[buffer(0)]], device float* partial [[buffer(1)]],
                     constant uint& n [[buffer(2)]], threadgroup float* sh [[threadgroup(0)]],
                     uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                     uint tgs [[threads_per_threadgroup]], uint dtgs [[dispatch_threads_per_threadgroup]],
                     uint tg [[threadgroup_position_in_grid]]) {
  sh[lid] = gid < n ? x[gid] : 0.0f;
  for (uint k = tgs; k < dtgs; ++k) if (lid == 0) sh[k] = 0.0f;   // pad a partial group
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = dtgs / 2; s > 0; s >>= 1) {
    if (lid < s) sh[lid] += sh[lid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (lid == 0) partial[tg] = sh[0];
}

// every mem_flags value; two threadgroup(n) parameters plus a kernel-scope array
kernel void flags(device const int* x [[buffer(0)]], device int* out [[buffer(1)]],
                  device int* scratch [[buffer(2)]],
                  threadgroup int* a [[threadgroup(0)]], threadgroup int* b [[threadgroup(1)]],
                  uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                  uint tgs [[threads_per_threadgroup]], uint tg [[threadgroup_position_in_grid]]) {
  threadgroup int c[128];
  a[lid] = x[gid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  b[lid] = a[(lid + 1) % tgs] * 2;
  threadgroup_barrier(mem_flags::mem_none);
  c[lid] = b[(lid + 2) % tgs] + 1;
  scratch[gid] = c[lid];
  threadgroup_barrier(mem_flags::mem_device);
  int d = scratch[tg * tgs + (lid + 3) % tgs];
  threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
  a[lid] = d;
  scratch[gid] = -d;
  threadgroup_barrier(mem_flags::mem_threadgroup | mem_flags::mem_device | mem_flags::mem_texture);
  out[gid] = a[(lid + 5) % tgs] + scratch[tg * tgs + (lid + 7) % tgs];
}

kernel void simd_barrier(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                         uint gid [[thread_position_in_grid]], ushort lid [[thread_position_in_threadgroup]],
                         ushort lane [[thread_index_in_simdgroup]], ushort sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float sh[256];
  sh[lid] = x[gid];
  simdgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = sh[sg * 32 + (lane ^ 31)];
}

#define TILE 16
kernel void transpose_tiled(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                            constant uint2& shape [[buffer(2)]],   // (cols, rows) of in
                            uint2 tgid [[threadgroup_position_in_grid]], uint2 lid [[thread_position_in_threadgroup]]) {
  threadgroup float tile[TILE][TILE + 1];
  uint x = tgid.x * TILE + lid.x, y = tgid.y * TILE + lid.y;
  if (x < shape.x && y < shape.y) tile[lid.y][lid.x] = in[y * shape.x + x];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint ox = tgid.y * TILE + lid.x, oy = tgid.x * TILE + lid.y;
  if (ox < shape.y && oy < shape.x) out[oy * shape.y + ox] = tile[lid.x][lid.y];
}

// C[M,N] = A[M,K] B[K,N]; tiles in two threadgroup(n) parameters sized by the host
kernel void matmul_tiled(device const float* A [[buffer(0)]], device const float* B [[buffer(1)]],
                         device float* C [[buffer(2)]], constant uint3& mnk [[buffer(3)]],
                         threadgroup float* As [[threadgroup(0)]], threadgroup float* Bs [[threadgroup(1)]],
                         uint2 gid [[thread_position_in_grid]], uint2 lid [[thread_position_in_threadgroup]],
                         uint2 tgsz [[dispatch_threads_per_threadgroup]]) {
  const uint T = tgsz.x;                          // square tiles
  uint M = mnk.x, N = mnk.y, K = mnk.z;
  uint row = gid.y, col = gid.x;
  float acc = 0.0f;
  for (uint k0 = 0; k0 < K; k0 += T) {
    As[lid.y * T + lid.x] = (row < M && k0 + lid.x < K) ? A[row * K + k0 + lid.x] : 0.0f;
    Bs[lid.y * T + lid.x] = (col < N && k0 + lid.y < K) ? B[(k0 + lid.y) * N + col] : 0.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint k = 0; k < T; ++k) acc += As[lid.y * T + k] * Bs[k * T + lid.x];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("tg", [32, 64, 256, 1024])
def test_tree_reduction_partial_last_group(device, runner, tg):
    rng = np.random.default_rng()
    n = 3 * tg + tg // 2 + 5  # not a multiple of the group
    x = rng.standard_normal(n).astype(np.float32)
    groups = -(-n // tg)
    partial = runner.run(
        device, SRC, "tree_sum", [x, np.zeros(groups, np.float32), np.uint32(n)], (n,), (tg,), tg_memory=[(tg * 4, 0)]
    )[1]
    ref = np.array([x[g * tg : (g + 1) * tg].astype(np.float64).sum() for g in range(groups)])
    np.testing.assert_allclose(partial, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tg", [32, 128])
def test_every_mem_flags_value(device, runner, tg):
    rng = np.random.default_rng()
    n = tg * 3
    x = rng.integers(-1000, 1000, n).astype(np.int32)
    out = runner.run(
        device,
        SRC,
        "flags",
        [x, np.zeros(n, np.int32), np.zeros(n, np.int32)],
        (n,),
        (tg,),
        tg_memory=[(tg * 4, 0), (tg * 4, 1)],
    )[1]
    xs = x.reshape(3, tg).astype(np.int64)
    l = np.arange(tg)
    a = xs
    b = a[:, (l + 1) % tg] * 2
    c = b[:, (l + 2) % tg] + 1
    d = c[:, (l + 3) % tg]
    ref = d[:, (l + 5) % tg] - d[:, (l + 7) % tg]
    np.testing.assert_array_equal(out.reshape(3, tg), ref)


def test_simdgroup_barrier(device, runner):
    rng = np.random.default_rng()
    x = rng.standard_normal(512).astype(np.float32)
    out = runner.run(device, SRC, "simd_barrier", [x, np.zeros(512, np.float32)], (512,), (256,))[1]
    np.testing.assert_array_equal(out, x.reshape(-1, 32)[:, ::-1].ravel())


@pytest.mark.parametrize("shape", [(64, 48), (37, 53)])
def test_tiled_transpose_2d(device, runner, shape):
    rng = np.random.default_rng()
    rows, cols = shape
    a = rng.standard_normal((rows, cols)).astype(np.float32)
    groups = (-(-cols // 16), -(-rows // 16))
    out = runner.run(
        device,
        SRC,
        "transpose_tiled",
        [a, np.zeros((cols, rows), np.float32), np.array([cols, rows], np.uint32)],
        groups,
        (16, 16),
        threadgroups=True,
    )[1]
    np.testing.assert_array_equal(out, a.T)


@pytest.mark.parametrize("T,mnk", [(8, (33, 17, 29)), (16, (64, 48, 80))])
def test_tiled_matmul_2d(device, runner, T, mnk):
    rng = np.random.default_rng()
    M, N, K = mnk
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    C = runner.run(
        device,
        SRC,
        "matmul_tiled",
        [A, B, np.zeros((M, N), np.float32), np.array([M, N, K], np.uint32)],
        (-(-N // T), -(-M // T)),
        (T, T),
        threadgroups=True,  # whole groups: every thread loads
        tg_memory=[(T * T * 4, 0), (T * T * 4, 1)],
    )[2]
    np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4)
