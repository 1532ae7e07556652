"""Kernels written the way ML libraries write them (issue 10): templates over float / half /
bfloat instantiated by macros with [[host_name]] names built from adjacent string literals,
implicit buffer indices, `constant const int shape[2]` array parameters, functor operations,
template-dependent max_total_threads_per_threadgroup and SIMD-group reductions. Binary (strided),
unary, cast, softmax, RMS norm and gather, each against NumPy in float64."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
#include <simd/simd.h>
using namespace metal;

namespace ops {
struct Add { template <typename T> T operator()(T a, T b) const { return a + b; } };
struct Mul { template <typename T> T operator()(T a, T b) const { return a * b; } };
struct Maximum { template <typename T> T operator()(T a, T b) const { return max(a, b); } };
struct Exp { template <typename T> T operator()(T x) const { return static_cast<T>(metal::exp(static_cast<float>(x))); } };
struct Neg { template <typename T> T operator()(T x) const { return -x; } };
struct Square { template <typename T> T operator()(T x) const { return x * x; } };
}

// out[i, j] = op(a[i * as[0] + j * as[1]], b[i * bs[0] + j * bs[1]]): broadcasting by strides.
template <typename T, typename Op>
[[kernel]] void binary_g(device const T* a, device const T* b, device T* out,
                         constant const int shape[2], constant const int a_strides[2],
                         constant const int b_strides[2], uint2 index [[thread_position_in_grid]]) {
  if (int(index.x) >= shape[1] || int(index.y) >= shape[0]) return;
  int i = index.y, j = index.x;
  out[i * shape[1] + j] = Op()(a[i * a_strides[0] + j * a_strides[1]], b[i * b_strides[0] + j * b_strides[1]]);
}

template <typename T, typename Op>
[[kernel]] void unary_v(device const T* in, device T* out, uint i [[thread_position_in_grid]]) {
  out[i] = Op()(in[i]);
}

template <typename T, typename U>
[[kernel]] void copy_cast(device const T* in, device U* out, uint i [[thread_position_in_grid]]) {
  out[i] = static_cast<U>(in[i]);
}

// One threadgroup of TG threads per row.
template <typename T, int TG>
[[kernel, max_total_threads_per_threadgroup(TG)]] void softmax_rows(
    device const T* in, device T* out, constant int& axis_size,
    uint row [[threadgroup_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float partial[TG / 32];
  in += row * axis_size;
  out += row * axis_size;
  float m = -INFINITY;
  for (int i = lid; i < axis_size; i += TG) m = max(m, static_cast<float>(in[i]));
  m = simd_max(m);
  if (lane == 0) partial[sg] = m;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  m = partial[0];
  for (int s = 1; s < TG / 32; ++s) m = max(m, partial[s]);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float sum = 0.0f;
  for (int i = lid; i < axis_size; i += TG) sum += metal::exp(static_cast<float>(in[i]) - m);
  sum = simd_sum(sum);
  if (lane == 0) partial[sg] = sum;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  sum = 0.0f;
  for (int s = 0; s < TG / 32; ++s) sum += partial[s];
  for (int i = lid; i < axis_size; i += TG) out[i] = static_cast<T>(metal::exp(static_cast<float>(in[i]) - m) / sum);
}

// One SIMD-group per row.
template <typename T>
[[kernel]] void rms_norm(device const T* x, device const T* w, device T* out,
                         constant float& eps, constant uint& axis_size,
                         uint row [[threadgroup_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  x += row * axis_size;
  out += row * axis_size;
  float acc = 0.0f;
  for (uint i = lane; i < axis_size; i += 32) acc += static_cast<float>(x[i]) * static_cast<float>(x[i]);
  acc = simd_sum(acc);
  float scale = metal::precise::rsqrt(acc / float(axis_size) + eps);
  for (uint i = lane; i < axis_size; i += 32) out[i] = static_cast<T>(static_cast<float>(x[i]) * scale * static_cast<float>(w[i]));
}

// out[i, j] = src[idx[i], j], indices checked against the source's rows.
template <typename T, typename IdxT>
[[kernel]] void gather_rows(device const T* src, device const IdxT* idx, device T* out,
                            constant const int src_shape[2], uint2 pos [[thread_position_in_grid]]) {
  IdxT r = idx[pos.y];
  out[pos.y * src_shape[1] + pos.x] = (r >= 0 && int(r) < src_shape[0]) ? src[int(r) * src_shape[1] + pos.x] : T(0);
}

#define instantiate_binary(opname, op, tname, type)                                               \
  template [[host_name("binary_" #opname "_" #tname)]] [[kernel]] void binary_g<type, ops::op>(    \
      device const type*, device const type*, device type*, constant const int*, constant const int*, \
      constant const int*, uint2);
#define instantiate_unary(opname, op, tname, type)                                                \
  template [[host_name("unary_" #opname "_" #tname)]] [[kernel]] decltype(unary_v<type, ops::op>) \
      unary_v<type, ops::op>;
#define instantiate_cast(iname, itype, oname, otype)                                              \
  template [[host_name("cast_" #iname "_" #oname)]] [[kernel]] decltype(copy_cast<itype, otype>)  \
      copy_cast<itype, otype>;

instantiate_binary(add, Add, float32, float)
instantiate_binary(mul, Mul, float16, half)
instantiate_binary(maximum, Maximum, bfloat16, bfloat)
instantiate_unary(exp, Exp, float32, float)
instantiate_unary(neg, Neg, float16, half)
instantiate_unary(square, Square, bfloat16, bfloat)
instantiate_cast(float32, float, float16, half)
instantiate_cast(float32, float, bfloat16, bfloat)
instantiate_cast(float16, half, float32, float)
instantiate_cast(int32, int, float32, float)
template [[host_name("softmax_float32")]] [[kernel]] decltype(softmax_rows<float, 128>) softmax_rows<float, 128>;
template [[host_name("softmax_float16")]] [[kernel]] decltype(softmax_rows<half, 64>) softmax_rows<half, 64>;
template [[host_name("rms_norm_float32")]] [[kernel]] decltype(rms_norm<float>) rms_norm<float>;
template [[host_name("rms_norm_float16")]] [[kernel]] decltype(rms_norm<half>) rms_norm<half>;
template [[host_name("gather_float32_int32")]] [[kernel]] decltype(gather_rows<float, int>) gather_rows<float, int>;
template [[host_name("gather_float16_uint32")]] [[kernel]] decltype(gather_rows<half, uint>) gather_rows<half, uint>;
"""


def to_bf16(x):
    """float32 -> bfloat16 bits (uint16), round to nearest even."""
    b = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


@pytest.fixture(scope="module")
def lib(device):
    return pm.Library(device, SRC)


def run(device, lib, name, inputs, out, grid, tg, threadgroups=False, bytes_args=None):
    """inputs at buffers 0.., the output right after them, bytes_args {index: value} by set_bytes."""
    pipe = pm.ComputePipelineState(device, lib.make_function(name))
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    keep = []
    for i, a in enumerate(inputs):
        b = pm.Buffer.from_numpy(device, np.ascontiguousarray(a))
        keep.append(b)
        enc.set_buffer(b, 0, i)
    for i, v in (bytes_args or {}).items():
        enc.set_bytes(v, i)
    ob = pm.Buffer.from_numpy(device, np.zeros_like(out))
    enc.set_buffer(ob, 0, len(inputs))
    (enc.dispatch_threadgroups if threadgroups else enc.dispatch_threads)(grid, tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    return np.array(ob.to_numpy(out.dtype, out.shape))


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_library_names(lib):
    names = set(lib.function_names)
    for n in (
        "binary_add_float32",
        "binary_maximum_bfloat16",
        "unary_square_bfloat16",
        "cast_float32_bfloat16",
        "softmax_float16",
        "rms_norm_float32",
        "gather_float16_uint32",
    ):
        assert n in names


@pytest.mark.parametrize(
    "name, kind", [("binary_add_float32", "f32"), ("binary_mul_float16", "f16"), ("binary_maximum_bfloat16", "bf16")]
)
def test_binary_broadcast_by_strides(device, lib, name, kind):
    rng = np.random.default_rng()
    rows, cols = 37, 45
    a = rng.standard_normal((rows, cols)).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)  # broadcast along rows: stride 0
    if kind == "f32":
        a_in, b_in, out, back = a, b, np.zeros((rows, cols), np.float32), lambda o: o
    elif kind == "f16":
        a_in, b_in, out, back = (
            a.astype(np.float16),
            b.astype(np.float16),
            np.zeros((rows, cols), np.float16),
            lambda o: o.astype(np.float32),
        )
    else:
        a_in, b_in, out, back = to_bf16(a), to_bf16(b), np.zeros((rows, cols), np.uint16), from_bf16
    av = back(a_in).astype(np.float64)
    bv = back(b_in).astype(np.float64)
    want = {
        "binary_add_float32": av + bv,
        "binary_mul_float16": av * bv,
        "binary_maximum_bfloat16": np.maximum(av, bv),
    }[name]
    shape = np.array([rows, cols], np.int32)
    got = run(
        device,
        lib,
        name,
        [a_in, b_in],
        out,
        (cols, rows, 1),
        (16, 4, 1),
        bytes_args={3: shape, 4: np.array([cols, 1], np.int32), 5: np.array([0, 1], np.int32)},
    )
    tol = {"f32": 1e-6, "f16": 1e-3, "bf16": 8e-3}[kind]
    np.testing.assert_allclose(back(got).astype(np.float64), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["unary_exp_float32", "unary_neg_float16", "unary_square_bfloat16"])
def test_unary(device, lib, name):
    rng = np.random.default_rng()
    x = rng.uniform(-3, 3, 300).astype(np.float32)
    if name.endswith("float32"):
        got = run(device, lib, name, [x], np.zeros_like(x), (300, 1, 1), (64, 1, 1))
        np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=2e-6)
    elif name.endswith("_float16"):
        h = x.astype(np.float16)
        got = run(device, lib, name, [h], np.zeros_like(h), (300, 1, 1), (64, 1, 1))
        np.testing.assert_array_equal(got, -h)
    else:
        bits = to_bf16(x)
        got = run(device, lib, name, [bits], np.zeros_like(bits), (300, 1, 1), (64, 1, 1))
        v = from_bf16(bits).astype(np.float64)
        np.testing.assert_allclose(from_bf16(got), v * v, rtol=8e-3)


def test_casts(device, lib):
    rng = np.random.default_rng()
    x = (rng.standard_normal(256) * 100).astype(np.float32)
    got = run(device, lib, "cast_float32_float16", [x], np.zeros(256, np.float16), (256, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(got, x.astype(np.float16))
    got = run(device, lib, "cast_float32_bfloat16", [x], np.zeros(256, np.uint16), (256, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(got, to_bf16(x))
    h = x.astype(np.float16)
    got = run(device, lib, "cast_float16_float32", [h], np.zeros(256, np.float32), (256, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(got, h.astype(np.float32))
    i = rng.integers(-(1 << 24), 1 << 24, 256).astype(np.int32)
    got = run(device, lib, "cast_int32_float32", [i], np.zeros(256, np.float32), (256, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(got, i.astype(np.float32))


@pytest.mark.parametrize("name, dtype, tg", [("softmax_float32", np.float32, 128), ("softmax_float16", np.float16, 64)])
def test_softmax_rows(device, lib, name, dtype, tg):
    rng = np.random.default_rng()
    rows, n = 7, 333
    x = (rng.standard_normal((rows, n)) * 4).astype(dtype)
    fn = lib.make_function(name)
    assert pm.ComputePipelineState(device, fn).max_total_threads_per_threadgroup <= tg
    got = run(
        device,
        lib,
        name,
        [x],
        np.zeros_like(x),
        (rows, 1, 1),
        (tg, 1, 1),
        threadgroups=True,
        bytes_args={2: np.int32(n)},
    )
    xv = x.astype(np.float64)
    e = np.exp(xv - xv.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    tol = 1e-6 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("name, dtype", [("rms_norm_float32", np.float32), ("rms_norm_float16", np.float16)])
def test_rms_norm(device, lib, name, dtype):
    rng = np.random.default_rng()
    rows, n = 5, 200
    x = rng.standard_normal((rows, n)).astype(dtype)
    w = rng.uniform(0.5, 1.5, n).astype(dtype)
    got = run(
        device,
        lib,
        name,
        [x, w],
        np.zeros_like(x),
        (rows, 1, 1),
        (32, 1, 1),
        threadgroups=True,
        bytes_args={3: np.float32(1e-5), 4: np.uint32(n)},
    )
    xv = x.astype(np.float64)
    want = xv / np.sqrt((xv * xv).mean(axis=1, keepdims=True) + 1e-5) * w.astype(np.float64)
    tol = 2e-6 if dtype == np.float32 else 3e-3
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "name, dtype, itype",
    [("gather_float32_int32", np.float32, np.int32), ("gather_float16_uint32", np.float16, np.uint32)],
)
def test_gather_rows(device, lib, name, dtype, itype):
    rng = np.random.default_rng()
    src = rng.standard_normal((20, 24)).astype(dtype)
    idx = rng.integers(0, 22, 30).astype(itype)  # some rows out of range: zeros
    if itype == np.int32:
        idx[3] = -1
    got = run(
        device,
        lib,
        name,
        [src, idx],
        np.zeros((30, 24), dtype),
        (24, 30, 1),
        (8, 8, 1),
        bytes_args={3: np.array(src.shape, np.int32)},
    )
    ok = (idx.astype(np.int64) >= 0) & (idx.astype(np.int64) < 20)
    want = np.where(ok[:, None], src[np.clip(idx.astype(np.int64), 0, 19)], 0)
    np.testing.assert_array_equal(got, want.astype(dtype))
