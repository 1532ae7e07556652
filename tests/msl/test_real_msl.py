"""MSL as translators and libraries write it (issue 10): Apple's SDK headers and predefined
macros, compile options as MTLCompileOptions (math_mode, language_version), template-dependent
max_total_threads_per_threadgroup, array parameters of kernels, __restrict parameters, a leading
`::`, repeated function-constant declarations, host names built from adjacent string literals,
and arguments that need no binding because the kernel never touches them."""

import numpy as np
import pytest

import pymetallic as pm


def run(device, fn, buffers, grid, tg=(32, 1, 1), bytes_args=None):
    """buffers: {index: ndarray}; returns {index: array after the run}."""
    pipe = pm.ComputePipelineState(device, fn)
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    bufs = {}
    for i, a in buffers.items():
        bufs[i] = (pm.Buffer.from_numpy(device, np.ascontiguousarray(a)), a.dtype, a.shape)
        enc.set_buffer(bufs[i][0], 0, i)
    for i, v in (bytes_args or {}).items():
        enc.set_bytes(v, i)
    enc.dispatch_threads(tuple(grid) + (1,) * (3 - len(grid)), tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    return {i: np.array(b.to_numpy(dt, shape)) for i, (b, dt, shape) in bufs.items()}


# ---------------------------------------------------------------- 1, 13: headers, macros, options
SDK_SRC = r"""
#include <metal_stdlib>
#include <simd/simd.h>
#include <metal_logging>
#include <metal_compute>
#include <metal_atomic>
#include <metal_simdgroup>
using namespace metal;

#ifdef __FAST_MATH__
#define FAST 1
#else
#define FAST 0
#endif
#ifdef __HAVE_BFLOAT__
#define BF 1
#else
#define BF 0
#endif
#if defined(__METAL_MACOS__) && !defined(__METAL_IOS__)
#define MAC 1
#else
#define MAC 0
#endif

struct Uniforms { vector_float4 scale; simd_float2x2 m; };

kernel void sdk(device int* flags [[buffer(0)]], device float4* v [[buffer(1)]],
                constant Uniforms& u [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (i == 0) {
    flags[0] = __METAL_VERSION__;
    flags[1] = BF;
    flags[2] = MAC;
    flags[3] = FAST;
    flags[4] = __METAL_MAYBE_FAST_MATH__ ? 1 : 0;
  }
  simd_float2 xy = u.m * v[i].xy;
  v[i] = v[i] * u.scale + float4(xy, 0.0f, 0.0f);
}
"""


def uniforms(scale, m):
    # struct { float4 scale; float2x2 m; } : 16 + 16 bytes, m column-major
    return np.concatenate([np.asarray(scale, np.float32), np.asarray(m, np.float32).T.reshape(-1)])


@pytest.mark.parametrize(
    "options, version, bf, fast",
    [
        (None, 320, 1, 1),
        ({"math_mode": "safe"}, 320, 1, 0),
        ({"math_mode": "relaxed", "language_version": "3.1"}, 310, 1, 1),
        ({"fast_math": False, "language_version": 3.0}, 300, 0, 0),
        ({"language_version": "2.4", "math_mode": "fast"}, 240, 0, 1),
    ],
)
def test_sdk_headers_and_predefined_macros(device, options, version, bf, fast):
    rng = np.random.default_rng(1)
    v = rng.standard_normal((64, 4)).astype(np.float32)
    scale = np.array([1.5, -2.0, 0.25, 3.0], np.float32)
    m = np.array([[1.0, 2.0], [-0.5, 4.0]], np.float32)
    fn = pm.Library(device, SDK_SRC, options).make_function("sdk")
    out = run(device, fn, {0: np.zeros(8, np.int32), 1: v}, (64,), bytes_args={2: uniforms(scale, m)})
    assert list(out[0][:5]) == [version, bf, 1, fast, fast]
    want = v.astype(np.float64) * scale
    want[:, :2] += (m.astype(np.float64) @ v[:, :2].T.astype(np.float64)).T
    np.testing.assert_allclose(out[1], want, rtol=1e-5, atol=1e-5)


def test_sdk_headers_compile_for_cuda(cuda_compile):
    cuda_compile(SDK_SRC)


@pytest.mark.parametrize(
    "header, message",
    [
        ("<stdio.h>", r"program.metal:3:1: error: <stdio.h> is not a header of the Metal SDK"),
        ("<metal_nonexistent>", r"program.metal:3:1: error: <metal_nonexistent> is not a header of the Metal SDK"),
        ("<simd/nothing.h>", r"program.metal:3:1: error: <simd/nothing.h> is not a header of the Metal SDK"),
    ],
)
def test_unknown_system_header_names_its_line(device, header, message):
    src = f"#include <metal_stdlib>\nusing namespace metal;\n#include {header}\nkernel void k(device int* a) {{ a[0] = 1; }}\n"
    with pytest.raises(pm.CompileError, match=message):
        pm.Library(device, src)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"math_mode": "precise"}, "unknown math_mode 'precise'"),
        ({"language_version": "3.3"}, "unknown language_version '3.3'"),
    ],
)
def test_bad_compile_options(device, options, match):
    with pytest.raises(pm.ValidationError, match=match):
        pm.Library(device, SDK_SRC, options)


# ---------------------------------------------------------------- 5, 11: templates as libraries write them
TEMPLATE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T, int BM, int BN>
[[kernel, max_total_threads_per_threadgroup(BM * BN * 32)]] void scale_rows(
    device const T* x [[buffer(0)]], device T* y [[buffer(1)]], constant float& alpha [[buffer(2)]],
    uint i [[thread_position_in_grid]], uint n [[threads_per_threadgroup]]) {
  y[i] = static_cast<T>(static_cast<float>(x[i]) * alpha + float(n) * 0.0f + float(BM * 10 + BN));
}

#define instantiate_scale(tname, type, bm, bn)                                        \
  template [[host_name("scale_" #tname "_" #bm "x" #bn)]] [[kernel]] void              \
  scale_rows<type, bm, bn>(device const type*, device type*, constant float&, uint, uint);

instantiate_scale(f32, float, 2, 4)
instantiate_scale(f16, half, 1, 2)
instantiate_scale(f32, float, 1, 1)
"""


@pytest.mark.parametrize(
    "name, dtype, bm, bn",
    [("scale_f32_2x4", np.float32, 2, 4), ("scale_f16_1x2", np.float16, 1, 2), ("scale_f32_1x1", np.float32, 1, 1)],
)
def test_template_dependent_max_threads_and_joined_host_names(device, name, dtype, bm, bn):
    lib = pm.Library(device, TEMPLATE_SRC)
    assert name in lib.function_names
    fn = lib.make_function(name)
    pipe = pm.ComputePipelineState(device, fn)
    limit = bm * bn * 32
    assert 0 < pipe.max_total_threads_per_threadgroup <= limit
    if device.kind == "cpu":
        assert pipe.max_total_threads_per_threadgroup == limit
    x = np.linspace(-3, 3, 256).astype(dtype)
    alpha = np.float32(1.25)
    out = run(device, fn, {0: x, 1: np.zeros_like(x)}, (256,), tg=(32, 1, 1), bytes_args={2: alpha})
    want = x.astype(np.float64) * 1.25 + (bm * 10 + bn)
    np.testing.assert_allclose(out[1].astype(np.float64), want, rtol=2e-3 if dtype == np.float16 else 1e-6)
    # A threadgroup beyond the instantiation's limit is refused.
    q = pm.CommandQueue(device)
    enc = q.make_command_buffer().make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    with pytest.raises(pm.ValidationError, match="max_total_threads_per_threadgroup"):
        enc.dispatch_threads((2048, 1, 1), (pipe.max_total_threads_per_threadgroup + 32, 1, 1))


def test_template_dependent_max_threads_compiles_for_cuda(cuda_compile):
    cuda_compile(TEMPLATE_SRC)


def test_template_dependent_max_threads_out_of_range(device):
    src = TEMPLATE_SRC + "\ninstantiate_scale(f32, float, 8, 8)\n"
    with pytest.raises(pm.CompileError, match="max_total_threads_per_threadgroup of scale_f32_8x8 must be between"):
        pm.Library(device, src)


# ---------------------------------------------------------------- 6, 7, 8: parameters and names
PARAMS_SRC = r"""
#include <metal_stdlib>
using namespace metal;

namespace acc {
inline float step(float a, float b) { return a * 2.0f + b; }
namespace inner { inline int twice(int x) { return 2 * x; } }
}
struct Data { float bias[4]; };

kernel void gather(device float* out,                           // buffer(0), implicit
                   constant const int strides[2],                // buffer(1), implicit: a constant buffer
                   device const float* __restrict in,            // buffer(2)
                   constant Data& __restrict d [[buffer(3)]],
                   device float rows[2][4] [[buffer(4)]],
                   device int* restrict count [[buffer(5)]],
                   uint i [[thread_position_in_grid]]) {
  int j = strides[0] * int(i) + strides[1];
  out[i] = ::acc::step(in[j], d.bias[i % 4]) + float(::acc::inner::twice(1)) + ::metal::max(0.0f, -1.0f);
  if (i == 0) count[0] = int(::metal::abs(-7));
  if (i < 8) rows[i / 4][i % 4] = float(i) * 0.5f;
}
"""


def test_array_restrict_and_global_qualified_names(device):
    lib = pm.Library(device, PARAMS_SRC)
    fn = lib.make_function("gather")
    indices = {a.name: a.index for a in fn.arguments if a.kind == "buffer"}
    assert indices == {"out": 0, "strides": 1, "in": 2, "d": 3, "rows": 4, "count": 5}
    rng = np.random.default_rng(2)
    n = 100
    src = rng.standard_normal(3 * n + 5).astype(np.float32)
    strides = np.array([3, 5], np.int32)
    bias = np.array([0.5, -1.0, 2.0, 0.25], np.float32)
    out = run(
        device,
        fn,
        {0: np.zeros(n, np.float32), 2: src, 4: np.zeros((2, 4), np.float32), 5: np.zeros(1, np.int32)},
        (n,),
        bytes_args={1: strides, 3: bias},
    )
    idx = 3 * np.arange(n) + 5
    want = src[idx].astype(np.float64) * 2 + bias[np.arange(n) % 4] + 2.0
    np.testing.assert_allclose(out[0], want, rtol=1e-6)
    assert out[5][0] == 7
    np.testing.assert_array_equal(out[4], np.arange(8).reshape(2, 4) * 0.5)


def test_array_restrict_and_global_qualified_names_compile_for_cuda(cuda_compile):
    cuda_compile(PARAMS_SRC)


# ---------------------------------------------------------------- 9, 12: function constants and bindings
FC_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// A header shared by several kernel files, included twice: the constants are declared twice.
#define SHARED_HEADER                                                   \
  constant bool has_bias [[function_constant(0)]];                      \
  constant int scale [[function_constant(1)]];
SHARED_HEADER
SHARED_HEADER

struct Params { float offset; float unused[15]; };

kernel void affine(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                   device const float* bias [[buffer(2)]], constant Params& p [[buffer(3)]],
                   device float* never [[buffer(4)]], texture2d<float> tex [[texture(0)]],
                   uint i [[thread_position_in_grid]]) {
  float v = x[i] * float(scale);
  if (has_bias) {
    v += bias[i];
  }
  if (!has_bias) v += 0.5f;
  if (is_function_constant_defined(scale) && scale > 100) {
    v += p.offset;
  } else {
    v -= 1.0f;
  }
  y[i] = v;
}
"""


def dispatch(device, fn, bound, n=64):
    pipe = pm.ComputePipelineState(device, fn)
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    bufs = {i: pm.Buffer.from_numpy(device, a) for i, a in bound.items()}
    for i, b in bufs.items():
        enc.set_buffer(b, 0, i)
    enc.dispatch_threads((n, 1, 1), (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    return bufs[1].to_numpy(np.float32).copy()


def test_repeated_function_constants_and_inactive_arguments(device):
    lib = pm.Library(device, FC_SRC)
    x = np.arange(64, dtype=np.float32)
    # has_bias false: bias (read only under `if (has_bias)`), p (only under a false condition),
    # never (not named) and tex are inactive and need no binding.
    fn = lib.make_function("affine", constants={"has_bias": False, "scale": 3})
    active = {a.name: a.active for a in fn.arguments if a.kind != "builtin"}
    assert active == {"x": True, "y": True, "bias": False, "p": False, "never": False, "tex": False}
    y = dispatch(device, fn, {0: x, 1: np.zeros_like(x)})
    np.testing.assert_allclose(y, x * 3 + 0.5 - 1.0)
    # has_bias true: bias is active, and a dispatch without it is refused naming it.
    fn = lib.make_function("affine", constants={"has_bias": True, "scale": 2})
    with pytest.raises(pm.ValidationError, match=r"argument 'bias' \[\[buffer\(2\)\]\] is not bound"):
        dispatch(device, fn, {0: x, 1: np.zeros_like(x)})
    b = np.linspace(1, 2, 64).astype(np.float32)
    y = dispatch(device, fn, {0: x, 1: np.zeros_like(x), 2: b})
    np.testing.assert_allclose(y, x * 2 + b - 1.0, rtol=1e-6)
    # scale > 100: p is read, so it must be bound.
    fn = lib.make_function("affine", constants={"has_bias": False, "scale": 200})
    with pytest.raises(pm.ValidationError, match=r"argument 'p' \[\[buffer\(3\)\]\] is not bound"):
        dispatch(device, fn, {0: x, 1: np.zeros_like(x)})
    params = np.zeros(16, np.float32)
    params[0] = 0.75
    y = dispatch(device, fn, {0: x, 1: np.zeros_like(x), 3: params})
    np.testing.assert_allclose(y, x * 200 + 0.5 + 0.75, rtol=1e-6)


def test_repeated_function_constants_compile_for_cuda(cuda_compile):
    cuda_compile(FC_SRC)


def test_function_constant_redeclared_differently(device):
    src = FC_SRC.replace(
        "SHARED_HEADER\nSHARED_HEADER", "SHARED_HEADER\nconstant float scale [[function_constant(1)]];"
    )
    with pytest.raises(pm.CompileError, match=r"program.metal:10:.*'scale' declared again with a different type"):
        pm.Library(device, src)
    src = FC_SRC.replace("SHARED_HEADER\nSHARED_HEADER", "SHARED_HEADER\nconstant int scale [[function_constant(2)]];")
    with pytest.raises(pm.CompileError, match=r"'scale' declared again with a different index \(2, was 1\)"):
        pm.Library(device, src)
