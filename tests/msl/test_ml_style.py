"""Kernels written the way ML libraries write theirs: templates over float/half/bfloat with
functor ops, instantiated under `[[host_name("...")]]` by a macro, buffers without explicit
indices, `constant` shape/stride arrays walked by an elem-to-location helper, and SIMD-group
reductions across a threadgroup. Binary, unary, cast, softmax, RMS norm and gather, each
against NumPy (float64 reference, tolerance of the storage type)."""

import numpy as np
import pytest


SRC = r"""
#include <metal_stdlib>
#include <metal_simdgroup>
using namespace metal;

#define MAX_DIMS 4

template <typename IdxT = int64_t>
METAL_FUNC IdxT elem_to_loc(uint elem, constant const int* shape, constant const int64_t* strides, int ndim) {
  IdxT loc = 0;
  for (int i = ndim - 1; i >= 0 && elem > 0; --i) {
    loc += (elem % shape[i]) * IdxT(strides[i]);
    elem /= shape[i];
  }
  return loc;
}

struct Add { template <typename T> T operator()(T x, T y) { return x + y; } };
struct Mul { template <typename T> T operator()(T x, T y) { return x * y; } };
struct Maximum {
  template <typename T> T operator()(T x, T y) { return x > y ? x : y; }
};
struct Exp { template <typename T> T operator()(T x) { return static_cast<T>(metal::exp(float(x))); } };
struct Sigmoid {
  template <typename T> T operator()(T x) {
    auto y = 1.0f / (1.0f + metal::exp(-metal::abs(float(x))));
    return static_cast<T>(x < T(0) ? 1.0f - y : y);
  }
};
struct Neg { template <typename T> T operator()(T x) { return -x; } };

template <typename T, typename Op>
[[kernel]] void binary_vv(device const T* a, device const T* b, device T* out,
                          uint index [[thread_position_in_grid]]) {
  out[index] = Op()(a[index], b[index]);
}

template <typename T, typename Op>
[[kernel]] void binary_g(device const T* a, device const T* b, device T* out,
                         constant const int* shape, constant const int64_t* a_strides,
                         constant const int64_t* b_strides, constant const int& ndim,
                         uint index [[thread_position_in_grid]]) {
  auto a_idx = elem_to_loc(index, shape, a_strides, ndim);
  auto b_idx = elem_to_loc(index, shape, b_strides, ndim);
  out[index] = Op()(a[a_idx], b[b_idx]);
}

template <typename T, typename Op>
[[kernel]] void unary_v(device const T* in, device T* out, uint index [[thread_position_in_grid]]) {
  out[index] = Op()(in[index]);
}

template <typename T, typename U>
[[kernel]] void copy_v(device const T* src, device U* dst, uint index [[thread_position_in_grid]]) {
  dst[index] = static_cast<U>(src[index]);
}

#define instantiate_binary(name, tname, type, op)                                          \
  template [[host_name(#name "_vv_" #tname)]] [[kernel]] void binary_vv<type, op>(          \
      device const type*, device const type*, device type*, uint);                           \
  template [[host_name(#name "_g_" #tname)]] [[kernel]] void binary_g<type, op>(            \
      device const type*, device const type*, device type*, constant const int*,             \
      constant const int64_t*, constant const int64_t*, constant const int&, uint);
#define instantiate_unary(name, tname, type, op)                                           \
  template [[host_name(#name "_" #tname)]] [[kernel]] void unary_v<type, op>(               \
      device const type*, device type*, uint);
#define instantiate_types(macro, name, op) \
  macro(name, float32, float, op) macro(name, float16, half, op) macro(name, bfloat16, bfloat, op)

instantiate_types(instantiate_binary, add, Add)
instantiate_types(instantiate_binary, mul, Mul)
instantiate_types(instantiate_binary, maximum, Maximum)
instantiate_types(instantiate_unary, exp, Exp)
instantiate_types(instantiate_unary, sigmoid, Sigmoid)
instantiate_types(instantiate_unary, neg, Neg)

#define instantiate_copy(tn, t, un, u) \
  template [[host_name("copy_" #tn "_" #un)]] [[kernel]] void copy_v<t, u>(device const t*, device u*, uint);
instantiate_copy(float32, float, float16, half)
instantiate_copy(float32, float, bfloat16, bfloat)
instantiate_copy(float16, half, float32, float)
instantiate_copy(bfloat16, bfloat, float16, half)
instantiate_copy(float32, float, int32, int)

constant constexpr int SIMD_SIZE = 32;

// One threadgroup per row; each thread takes N_READS strided elements.
template <typename T, int N_READS = 4>
[[kernel]] void softmax_looped(const device T* in, device T* out, constant int& axis_size,
                               uint gid [[threadgroup_position_in_grid]],
                               uint lid [[thread_position_in_threadgroup]],
                               uint lsize [[threads_per_threadgroup]],
                               uint simd_lane_id [[thread_index_in_simdgroup]],
                               uint simd_group_id [[simdgroup_index_in_threadgroup]]) {
  threadgroup float local_max[SIMD_SIZE];
  threadgroup float local_normalizer[SIMD_SIZE];
  in += gid * size_t(axis_size);
  out += gid * size_t(axis_size);
  float maxval = -INFINITY;
  for (int r = 0; r < axis_size; r += lsize * N_READS)
    for (int i = 0; i < N_READS; i++) {
      int j = r + lid * N_READS + i;
      maxval = j < axis_size ? max(maxval, float(in[j])) : maxval;
    }
  maxval = simd_max(maxval);
  if (simd_lane_id == 0) local_max[simd_group_id] = maxval;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group_id == 0) {
    maxval = simd_lane_id < (lsize + SIMD_SIZE - 1) / SIMD_SIZE ? local_max[simd_lane_id] : -INFINITY;
    maxval = simd_max(maxval);
    if (simd_lane_id == 0) local_max[0] = maxval;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  maxval = local_max[0];
  float normalizer = 0;
  for (int r = 0; r < axis_size; r += lsize * N_READS)
    for (int i = 0; i < N_READS; i++) {
      int j = r + lid * N_READS + i;
      normalizer += j < axis_size ? fast::exp(float(in[j]) - maxval) : 0;
    }
  normalizer = simd_sum(normalizer);
  if (simd_lane_id == 0) local_normalizer[simd_group_id] = normalizer;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group_id == 0) {
    normalizer = simd_lane_id < (lsize + SIMD_SIZE - 1) / SIMD_SIZE ? local_normalizer[simd_lane_id] : 0;
    normalizer = simd_sum(normalizer);
    if (simd_lane_id == 0) local_normalizer[0] = normalizer;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  normalizer = 1 / local_normalizer[0];
  for (int r = 0; r < axis_size; r += lsize * N_READS)
    for (int i = 0; i < N_READS; i++) {
      int j = r + lid * N_READS + i;
      if (j < axis_size) out[j] = T(fast::exp(float(in[j]) - maxval) * normalizer);
    }
}

template <typename T>
[[kernel]] void rms_norm(const device T* x, const device T* w, device T* out,
                         constant float& eps, constant uint& axis_size, constant uint& w_stride,
                         uint gid [[threadgroup_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                         uint lsize [[threads_per_threadgroup]],
                         uint simd_lane_id [[thread_index_in_simdgroup]],
                         uint simd_group_id [[simdgroup_index_in_threadgroup]]) {
  threadgroup float local_inv_mean[1];
  threadgroup float local_sums[SIMD_SIZE];
  x += gid * size_t(axis_size);
  out += gid * size_t(axis_size);
  float acc = 0;
  for (uint i = lid; i < axis_size; i += lsize) {
    float xi = x[i];
    acc += xi * xi;
  }
  acc = simd_sum(acc);
  if (simd_group_id == 0) local_sums[simd_lane_id] = 0;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_lane_id == 0) local_sums[simd_group_id] = acc;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group_id == 0) {
    acc = simd_sum(local_sums[simd_lane_id]);
    if (simd_lane_id == 0) local_inv_mean[0] = metal::precise::rsqrt(acc / axis_size + eps);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint i = lid; i < axis_size; i += lsize)
    out[i] = w[w_stride * i] * static_cast<T>(x[i] * local_inv_mean[0]);
}

template <typename T, typename IdxT>
[[kernel]] void gather_rows(const device T* src, const device IdxT* indices, device T* out,
                            constant const size_t* src_shape, constant const int& ndim,
                            uint2 index [[thread_position_in_grid]], uint2 grid_dim [[threads_per_grid]]) {
  size_t row_size = 1;
  for (int d = 1; d < ndim; ++d) row_size *= src_shape[d];
  IdxT idx = indices[index.y];
  size_t row = idx < 0 ? size_t(idx + IdxT(src_shape[0])) : size_t(idx);
  out[index.y * size_t(grid_dim.x) + index.x] = src[row * row_size + index.x];
}

#define instantiate_rows(tname, type)                                                            \
  template [[host_name("softmax_" #tname)]] [[kernel]] void softmax_looped<type>(               \
      const device type*, device type*, constant int&, uint, uint, uint, uint, uint);            \
  template [[host_name("rms_" #tname)]] [[kernel]] void rms_norm<type>(                         \
      const device type*, const device type*, device type*, constant float&, constant uint&,     \
      constant uint&, uint, uint, uint, uint, uint);                                             \
  template [[host_name("gather_" #tname "_int32")]] [[kernel]] void gather_rows<type, int>(      \
      const device type*, const device int*, device type*, constant const size_t*,               \
      constant const int&, uint2, uint2);
instantiate_rows(float32, float)
instantiate_rows(float16, half)
instantiate_rows(bfloat16, bfloat)
"""

TYPES = ["float32", "float16", "bfloat16"]
TOL = {"float32": 2e-6, "float16": 1e-3, "bfloat16": 8e-3}


def to_storage(x, tname):
    """(array in the kernel's storage dtype, its exact values as float64)."""
    x = np.asarray(x, np.float32)
    if tname == "float32":
        return x, x.astype(np.float64)
    if tname == "float16":
        h = x.astype(np.float16)
        return h, h.astype(np.float64)
    u = x.view(np.uint32).astype(np.uint64)
    b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return b, from_storage(b, tname)


def from_storage(a, tname):
    if tname == "bfloat16":
        return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


@pytest.mark.parametrize("tname", TYPES)
@pytest.mark.parametrize("op", ["add", "mul", "maximum"])
def test_binary(device, runner, tname, op):
    rng = np.random.default_rng(11)
    n = 300
    a, a64 = to_storage(rng.uniform(-3, 3, n), tname)
    b, b64 = to_storage(rng.uniform(-3, 3, n), tname)
    ref = {"add": np.add, "mul": np.multiply, "maximum": np.maximum}[op](a64, b64)
    out = np.zeros_like(a)
    *_, out = runner.run(device, SRC, f"{op}_vv_{tname}", [a, b, out], (n,), (64,))
    np.testing.assert_allclose(from_storage(out, tname), ref, rtol=TOL[tname], atol=TOL[tname])
    # The general kernel: a (3, 4, 5) view of a transposed array against a broadcast row.
    shape = (3, 4, 5)
    base, base64 = to_storage(rng.uniform(-3, 3, (5, 4, 3)), tname)
    row, row64 = to_storage(rng.uniform(-3, 3, 5), tname)
    a_strides = np.array([1, 3, 12], np.int64)  # element strides of base.transpose()
    b_strides = np.array([0, 0, 1], np.int64)
    out = np.zeros(60, base.dtype)
    args = [base.ravel(), row, out, np.array(shape, np.int32), a_strides, b_strides, np.int32(3)]
    res = runner.run(device, SRC, f"{op}_g_{tname}", args, (60,), (32,))
    ref = {"add": np.add, "mul": np.multiply, "maximum": np.maximum}[op](base64.transpose(), row64[None, None, :])
    np.testing.assert_allclose(from_storage(res[2], tname), ref.ravel(), rtol=TOL[tname], atol=TOL[tname])


@pytest.mark.parametrize("tname", TYPES)
@pytest.mark.parametrize("op", ["exp", "sigmoid", "neg"])
def test_unary(device, runner, tname, op):
    n = 257
    x, x64 = to_storage(np.random.default_rng(12).uniform(-4, 4, n), tname)
    ref = {"exp": np.exp, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "neg": np.negative}[op](x64)
    out = np.zeros_like(x)
    _, out = runner.run(device, SRC, f"{op}_{tname}", [x, out], (n,), (64,))
    np.testing.assert_allclose(from_storage(out, tname), ref, rtol=2 * TOL[tname] + 1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "pair",
    [
        ("float32", "float16"),
        ("float32", "bfloat16"),
        ("float16", "float32"),
        ("bfloat16", "float16"),
        ("float32", "int32"),
    ],
)
def test_cast(device, runner, pair):
    src_t, dst_t = pair
    n = 200
    vals = np.random.default_rng(13).uniform(-300, 300, n)
    x, x64 = to_storage(vals, src_t)
    dt = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16, "int32": np.int32}[dst_t]
    out = np.zeros(n, dt)
    _, out = runner.run(device, SRC, f"copy_{src_t}_{dst_t}", [x, out], (n,), (64,))
    if dst_t == "int32":
        np.testing.assert_array_equal(out, np.trunc(x64).astype(np.int32))
    else:
        expect, _ = to_storage(x64.astype(np.float32), dst_t)  # one rounding from the exact value
        np.testing.assert_array_equal(
            out.view(np.uint16) if dst_t != "float32" else out, expect.view(np.uint16) if dst_t != "float32" else expect
        )


@pytest.mark.parametrize("tname", TYPES)
@pytest.mark.parametrize("axis_size", [1, 37, 1000])
def test_softmax(device, runner, tname, axis_size):
    rows = 5
    x, x64 = to_storage(np.random.default_rng(14).normal(0, 3, (rows, axis_size)), tname)
    out = np.zeros_like(x)
    _, out, _ = runner.run(
        device, SRC, f"softmax_{tname}", [x, out, np.int32(axis_size)], (rows,), (128,), threadgroups=True
    )
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(from_storage(out, tname), ref, rtol=4 * TOL[tname] + 1e-5, atol=1e-6)


@pytest.mark.parametrize("tname", TYPES)
def test_rms_norm(device, runner, tname):
    rows, n = 6, 300
    rng = np.random.default_rng(15)
    x, x64 = to_storage(rng.normal(0, 2, (rows, n)), tname)
    w, w64 = to_storage(rng.uniform(0.5, 1.5, n), tname)
    out = np.zeros_like(x)
    eps = 1e-5
    res = runner.run(
        device,
        SRC,
        f"rms_{tname}",
        [x, w, out, np.float32(eps), np.uint32(n), np.uint32(1)],
        (rows,),
        (96,),
        threadgroups=True,
    )
    inv = 1 / np.sqrt((x64**2).mean(axis=1, keepdims=True) + eps)
    ref = w64[None, :] * (x64 * inv)
    np.testing.assert_allclose(from_storage(res[2], tname), ref, rtol=3 * TOL[tname] + 1e-5, atol=1e-5)


@pytest.mark.parametrize("tname", TYPES)
def test_gather(device, runner, tname):
    src, src64 = to_storage(np.random.default_rng(16).uniform(-5, 5, (10, 3, 4)), tname)
    idx = np.array([3, -1, 0, 9, -10, 4], np.int32)
    out = np.zeros((idx.size, 12), src.dtype)
    res = runner.run(
        device,
        SRC,
        f"gather_{tname}_int32",
        [src, idx, out, np.array(src.shape, np.uint64), np.int32(3)],
        (12, idx.size),
        (4, 2),
    )
    np.testing.assert_array_equal(from_storage(res[2], tname), src64.reshape(10, 12)[idx])


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
