"""MSL kernel declarations (MSL.md §3): `kernel` and `[[kernel]]`, implicit buffer numbering,
built-in inputs in uint/ushort 1-3 forms (complementing tests/python/test_dispatch.py),
template kernels with [[host_name]], [[max_total_threads_per_threadgroup]]."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

struct Args { uint n; float scale; };

// ggml style: no [[buffer(n)]] at all; indices 0, 1, 2 in parameter order
kernel void implicit_idx(constant Args& args, device const float* src, device float* dst,
                         uint i [[thread_position_in_grid]]) {
  if (i < args.n) dst[i] = src[i] * args.scale;
}

// mixed: explicit 3 is skipped by the implicit ones (0, 1, 2, then 4)
[[kernel]] void mixed_idx(device const float* a, device const float* b, device float* c,
                          device float* d [[buffer(3)]], device float* e,
                          uint i [[thread_position_in_grid]]) {
  c[i] = a[i] + b[i];
  d[i] = a[i] - b[i];
  e[i] = a[i] * b[i];
}

kernel void builtins_ushort(device uint* out [[buffer(0)]],
                            ushort3 gid [[thread_position_in_grid]],
                            ushort3 tpg [[threads_per_grid]],
                            ushort3 lid [[thread_position_in_threadgroup]],
                            ushort3 tptg [[threads_per_threadgroup]],
                            ushort3 dtptg [[dispatch_threads_per_threadgroup]],
                            ushort3 tgid [[threadgroup_position_in_grid]],
                            ushort3 ntg [[threadgroups_per_grid]],
                            ushort tidx [[thread_index_in_threadgroup]]) {
  uint flat = gid.x + uint(tpg.x) * (gid.y + uint(tpg.y) * gid.z);
  device uint* o = out + 16 * flat;
  o[0] = gid.x; o[1] = gid.y; o[2] = gid.z;
  o[3] = tpg.x; o[4] = tpg.y; o[5] = tpg.z;
  o[6] = lid.x + 100 * lid.y + 10000 * lid.z;
  o[7] = tptg.x + 100 * tptg.y + 10000 * tptg.z;
  o[8] = dtptg.x + 100 * dtptg.y + 10000 * dtptg.z;
  o[9] = tgid.x + 100 * tgid.y + 10000 * tgid.z;
  o[10] = ntg.x + 100 * ntg.y + 10000 * ntg.z;
  o[11] = tidx;
}

kernel void builtins_2d(device uint* out [[buffer(0)]],
                        uint2 gid [[thread_position_in_grid]], uint2 tpg [[threads_per_grid]],
                        ushort2 lid [[thread_position_in_threadgroup]], ushort2 tptg [[threads_per_threadgroup]],
                        uint2 tgid [[threadgroup_position_in_grid]], uint2 ntg [[threadgroups_per_grid]]) {
  uint flat = gid.x + tpg.x * gid.y;
  device uint* o = out + 8 * flat;
  o[0] = gid.x; o[1] = gid.y; o[2] = lid.x; o[3] = lid.y;
  o[4] = tptg.x * 1000 + tptg.y; o[5] = tgid.x * 1000 + tgid.y; o[6] = ntg.x * 1000 + ntg.y;
  o[7] = tpg.x * 1000 + tpg.y;
}

kernel void builtins_simd(device uint* out [[buffer(0)]],
                          uint gid [[thread_position_in_grid]],
                          ushort lane [[thread_index_in_simdgroup]],
                          ushort sg [[simdgroup_index_in_threadgroup]],
                          ushort nsg [[simdgroups_per_threadgroup]],
                          uint dnsg [[dispatch_simdgroups_per_threadgroup]],
                          uint width [[threads_per_simdgroup]],
                          ushort tew [[thread_execution_width]],
                          ushort qlane [[thread_index_in_quadgroup]],
                          uint qg [[quadgroup_index_in_threadgroup]],
                          ushort nqg [[quadgroups_per_threadgroup]],
                          uint dnqg [[dispatch_quadgroups_per_threadgroup]]) {
  device uint* o = out + 10 * gid;
  o[0] = lane; o[1] = sg; o[2] = nsg; o[3] = dnsg; o[4] = width; o[5] = tew;
  o[6] = qlane; o[7] = qg; o[8] = nqg; o[9] = dnqg;
}

template <typename T, int K>
[[kernel]] void scale_k(device const T* x [[buffer(0)]], device T* y [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * T(K);
}
template [[host_name("scale_float_3")]] [[kernel]] decltype(scale_k<float, 3>) scale_k<float, 3>;
template [[host_name("scale_int_5")]] [[kernel]] decltype(scale_k<int, 5>) scale_k<int, 5>;
template [[host_name("scale_half_2")]] [[kernel]] void scale_k<half, 2>(device const half*, device half*, uint);

[[max_total_threads_per_threadgroup(128)]]
kernel void limited(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] += 1.0f; }
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_implicit_buffer_indices_ggml_style(device, runner):
    rng = np.random.default_rng()
    n = 77
    args = np.array([(n, 2.5)], dtype=[("n", "<u4"), ("scale", "<f4")])
    x = rng.standard_normal(96).astype(np.float32)
    dst = runner.run(device, SRC, "implicit_idx", [args, x, np.zeros(96, np.float32)], (96,), (32,))[2]
    np.testing.assert_array_equal(dst[:n], x[:n] * np.float32(2.5))
    assert np.all(dst[n:] == 0)


def test_implicit_indices_skip_explicit_ones(device, runner):
    rng = np.random.default_rng()
    a, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    z = np.zeros(64, np.float32)
    out = runner.run(device, SRC, "mixed_idx", [a, b, z, z, z], (64,), (32,))
    np.testing.assert_array_equal(out[2], a + b)
    np.testing.assert_array_equal(out[3], a - b)
    np.testing.assert_array_equal(out[4], a * b)
    fn = runner._libs[(id(device), SRC)].make_function("mixed_idx")
    assert fn.name == "mixed_idx"


@pytest.mark.parametrize("threadgroups", [False, True])
def test_ushort3_builtins(device, runner, threadgroups):
    tg = (4, 3, 2)
    if threadgroups:
        groups = (3, 2, 2)
        grid = tuple(g * t for g, t in zip(groups, tg))
        dims = groups
    else:
        grid = (10, 5, 3)  # partial groups in every dimension
        dims = grid
    total = int(np.prod(grid))
    out = runner.run(
        device, SRC, "builtins_ushort", [np.zeros(16 * total, np.uint32)], dims, tg, threadgroups=threadgroups
    )[0].reshape(total, 16)
    z, y, x = np.meshgrid(np.arange(grid[2]), np.arange(grid[1]), np.arange(grid[0]), indexing="ij")
    x, y, z = x.ravel(), y.ravel(), z.ravel()
    np.testing.assert_array_equal(out[:, 0], x)
    np.testing.assert_array_equal(out[:, 1], y)
    np.testing.assert_array_equal(out[:, 2], z)
    assert np.all(out[:, 3:6] == grid)
    lx, ly, lz = x % tg[0], y % tg[1], z % tg[2]
    gx, gy, gz = x // tg[0], y // tg[1], z // tg[2]
    np.testing.assert_array_equal(out[:, 6], lx + 100 * ly + 10000 * lz)
    sx = np.minimum(tg[0], grid[0] - gx * tg[0])
    sy = np.minimum(tg[1], grid[1] - gy * tg[1])
    sz = np.minimum(tg[2], grid[2] - gz * tg[2])
    np.testing.assert_array_equal(out[:, 7], sx + 100 * sy + 10000 * sz)
    assert np.all(out[:, 8] == tg[0] + 100 * tg[1] + 10000 * tg[2])
    np.testing.assert_array_equal(out[:, 9], gx + 100 * gy + 10000 * gz)
    ng = [-(-g // t) for g, t in zip(grid, tg)]
    assert np.all(out[:, 10] == ng[0] + 100 * ng[1] + 10000 * ng[2])
    np.testing.assert_array_equal(out[:, 11], lx + sx * (ly + sy * lz))


def test_mixed_uint2_ushort2_builtins(device, runner):
    grid, tg = (13, 7), (8, 4)
    total = grid[0] * grid[1]
    out = runner.run(device, SRC, "builtins_2d", [np.zeros(8 * total, np.uint32)], grid, tg)[0].reshape(total, 8)
    y, x = np.meshgrid(np.arange(grid[1]), np.arange(grid[0]), indexing="ij")
    x, y = x.ravel(), y.ravel()
    np.testing.assert_array_equal(out[:, 0], x)
    np.testing.assert_array_equal(out[:, 1], y)
    np.testing.assert_array_equal(out[:, 2], x % 8)
    np.testing.assert_array_equal(out[:, 3], y % 4)
    np.testing.assert_array_equal(out[:, 4], np.minimum(8, 13 - (x // 8) * 8) * 1000 + np.minimum(4, 7 - (y // 4) * 4))
    np.testing.assert_array_equal(out[:, 5], (x // 8) * 1000 + y // 4)
    assert np.all(out[:, 6] == 2 * 1000 + 2) and np.all(out[:, 7] == 13 * 1000 + 7)


@pytest.mark.parametrize("n,tg", [(256, 128), (200, 96)])
def test_simd_and_quad_builtins(device, runner, n, tg):
    out = runner.run(device, SRC, "builtins_simd", [np.zeros(10 * n, np.uint32)], (n,), (tg,))[0].reshape(n, 10)
    g = np.arange(n)
    lid = g % tg
    size = np.minimum(tg, n - (g // tg) * tg)
    np.testing.assert_array_equal(out[:, 0], lid % 32)
    np.testing.assert_array_equal(out[:, 1], lid // 32)
    np.testing.assert_array_equal(out[:, 2], -(-size // 32))
    assert np.all(out[:, 3] == -(-tg // 32))
    assert np.all(out[:, 4] == 32) and np.all(out[:, 5] == 32)
    np.testing.assert_array_equal(out[:, 6], lid % 4)
    np.testing.assert_array_equal(out[:, 7], lid // 4)
    np.testing.assert_array_equal(out[:, 8], -(-size // 4))
    assert np.all(out[:, 9] == -(-tg // 4))


@pytest.mark.parametrize(
    "name,dtype,k", [("scale_float_3", np.float32, 3), ("scale_int_5", np.int32, 5), ("scale_half_2", np.float16, 2)]
)
def test_template_kernels_host_name(device, runner, name, dtype, k):
    rng = np.random.default_rng()
    x = (rng.standard_normal(64) * 100).astype(dtype)
    y = runner.run(device, SRC, name, [x, np.zeros(64, dtype)], (64,), (64,))[1]
    np.testing.assert_array_equal(y, (x * dtype(k)).astype(dtype))
    names = set(runner._libs[(id(device), SRC)].function_names)
    assert {"scale_float_3", "scale_int_5", "scale_half_2", "implicit_idx", "limited"} <= names
    assert "scale_k" not in names


def test_max_total_threads_per_threadgroup(device, runner):
    p = runner.pipeline(device, SRC, "limited")
    assert p.max_total_threads_per_threadgroup == 128
    assert runner.pipeline(device, SRC, "implicit_idx").max_total_threads_per_threadgroup >= 256
    x = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(runner.run(device, SRC, "limited", [x], (256,), (128,))[0], x + 1)
    with pytest.raises(pm.MetalError):
        runner.run(device, SRC, "limited", [x], (256,), (256,))
