"""MSL language base (MSL.md §0): templates, constexpr, static_assert, structs with methods,
operator overloading, namespaces, type traits, METAL_FUNC, loop-unroll pragmas,
__METAL_VERSION__ gating, #include of a user header, -D macros."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

namespace ops {
template <typename T> struct Add { static METAL_FUNC T apply(T a, T b) { return a + b; } };
template <typename T> struct Mul { static METAL_FUNC T apply(T a, T b) { return a * b; } };
namespace inner { constexpr int twice(int x) { return 2 * x; } }
}

template <typename T, int N>
METAL_FUNC T dot_n(const device T* a, const device T* b, uint base) {
  T acc = T(0);
#pragma clang loop unroll(full)
  for (int i = 0; i < N; ++i) acc += a[base + i] * b[base + i];
  return acc;
}

constexpr int kN = ops::inner::twice(2);          // 4
static_assert(kN == 4, "constexpr evaluation");
static_assert(sizeof(float4) == 16 && sizeof(half) == 2, "sizes");

struct Complex {
  float re, im;
  Complex(float r, float i) : re(r), im(i) {}
  Complex operator*(Complex o) const { return Complex(re * o.re - im * o.im, re * o.im + im * o.re); }
  Complex operator+(Complex o) const { return Complex(re + o.re, im + o.im); }
  Complex& operator+=(Complex o) { re += o.re; im += o.im; return *this; }
  bool operator==(Complex o) const { return re == o.re && im == o.im; }
  float norm2() const { return re * re + im * im; }
};

template <typename T> struct Acc {
  T v;
  METAL_FUNC void add(T x) { v += x; }
  template <typename U> METAL_FUNC U as() const { return static_cast<U>(v); }
};

// type traits: enable_if / is_same / conditional / is_floating_point
template <typename T, typename enable_if<is_floating_point<T>::value, int>::type = 0>
METAL_FUNC int kind_of(T) { return 1; }
template <typename T, typename enable_if<!is_floating_point<T>::value, int>::type = 0>
METAL_FUNC int kind_of(T) { return 2; }

#if defined(__METAL_VERSION__) && __METAL_VERSION__ >= 310
#define HAS_BF 1
#else
#define HAS_BF 0
#endif

#ifndef SCALE
#define SCALE 1
#endif

template <typename Op>
kernel void binop(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                  device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = Op::apply(a[i], b[i]);
}
template [[host_name("add_f")]] kernel void binop<ops::Add<float>>(device const float*, device const float*, device float*, uint);
template [[host_name("mul_f")]] kernel void binop<ops::Mul<float>>(device const float*, device const float*, device float*, uint);

kernel void dot4(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                 device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = dot_n<float, kN>(a, b, i * kN);
}

kernel void complex_ops(device const float2* a [[buffer(0)]], device const float2* b [[buffer(1)]],
                        device float4* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  Complex x(a[i].x, a[i].y), y(b[i].x, b[i].y);
  Complex p = x * y + x;
  Complex s = x; s += y;
  out[i] = float4(p.re, p.im, s.norm2(), (x == x && !(x == y)) ? 1.0f : 0.0f);
}

kernel void traits(device int* out [[buffer(0)]], device float* fout [[buffer(1)]],
                   uint i [[thread_position_in_grid]]) {
  if (i != 0) return;
  out[0] = is_same<float, float>::value;
  out[1] = is_same<float, half>::value;
  out[2] = is_same<conditional<true, int, float>::type, int>::value;
  out[3] = is_same<conditional<false, int, float>::type, float>::value;
  out[4] = kind_of(1.5f);
  out[5] = kind_of(3);
  out[6] = kind_of(half(1));
  out[7] = is_floating_point<half>::value;
  out[8] = is_integral<uint>::value;
  out[9] = is_signed<int>::value + 2 * is_unsigned<uint>::value;
  out[10] = HAS_BF;
  out[11] = __METAL_VERSION__ >= 200;
  out[12] = SCALE;
  out[13] = is_same<make_unsigned<int>::type, uint>::value;
  out[14] = is_same<remove_const<const float>::type, float>::value;
  out[15] = is_same<decltype(1.0), float>::value;   // unsuffixed literal is float
  Acc<float> acc{1.0f};
  acc.add(2.5f);
  fout[0] = acc.v;
  fout[1] = float(acc.as<int>());
}
"""

INCLUDE_SRC = r"""
#include <metal_stdlib>
#include "my_helpers.h"
using namespace metal;
kernel void use_header(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  y[i] = helpers::affine(x[i]) * N_MUL;
}
"""

HEADER = r"""
#pragma once
namespace helpers {
inline float affine(float x) { return 3.0f * x + 1.0f; }
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("name,op", [("add_f", np.add), ("mul_f", np.multiply)])
def test_template_kernel_with_namespaced_functor(device, runner, name, op):
    rng = np.random.default_rng()
    a, b = rng.standard_normal(300).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    _, _, out = runner.run(device, SRC, name, [a, b, np.zeros(300, np.float32)], (300,), (64,))
    np.testing.assert_array_equal(out, op(a, b))


def test_constexpr_unrolled_template_function(device, runner):
    rng = np.random.default_rng()
    a, b = rng.standard_normal((100, 4)).astype(np.float32), rng.standard_normal((100, 4)).astype(np.float32)
    _, _, out = runner.run(device, SRC, "dot4", [a, b, np.zeros(100, np.float32)], (100,), (32,))
    np.testing.assert_allclose(out, (a.astype(np.float64) * b).sum(1), rtol=1e-5, atol=1e-5)


def test_struct_methods_and_operators(device, runner):
    rng = np.random.default_rng()
    a, b = rng.standard_normal((64, 2)).astype(np.float32), rng.standard_normal((64, 2)).astype(np.float32)
    _, _, out = runner.run(device, SRC, "complex_ops", [a, b, np.zeros((64, 4), np.float32)], (64,), (64,))
    x = a[:, 0].astype(np.float64) + 1j * a[:, 1]
    y = b[:, 0].astype(np.float64) + 1j * b[:, 1]
    p = x * y + x
    s = x + y
    np.testing.assert_allclose(out[:, 0], p.real, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], p.imag, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[:, 2], np.abs(s) ** 2, rtol=1e-5, atol=1e-5)
    assert np.all(out[:, 3] == 1.0)


def test_type_traits_version_and_default_macro(device, runner):
    out, fout = runner.run(device, SRC, "traits", [np.zeros(16, np.int32), np.zeros(2, np.float32)], (1,), (1,))
    assert out[:10].tolist() == [1, 0, 1, 1, 1, 2, 1, 1, 1, 3]
    assert out[10] in (0, 1)
    assert out[11] == 1 and out[12] == 1 and out[13] == 1 and out[14] == 1 and out[15] == 1
    assert fout.tolist() == [3.5, 3.0]


def test_macro_option_defines(device):
    lib = pm.Library(device, SRC, options={"macros": {"SCALE": "7"}})
    pipe = pm.ComputePipelineState(device, lib.make_function("traits"))
    q = pm.CommandQueue(device)
    out = pm.Buffer.from_numpy(device, np.zeros(16, np.int32))
    fout = pm.Buffer.from_numpy(device, np.zeros(2, np.float32))
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(out, 0, 0)
    enc.set_buffer(fout, 0, 1)
    enc.dispatch_threads((1, 1, 1), (1, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert out.to_numpy(np.int32)[12] == 7


def test_include_user_header_from_include_path(device, tmp_path):
    (tmp_path / "my_helpers.h").write_text(HEADER)
    lib = pm.Library(device, INCLUDE_SRC, options={"include_paths": [str(tmp_path)], "macros": {"N_MUL": "2"}})
    k = pm.ComputePipelineState(device, lib.make_function("use_header"))
    rng = np.random.default_rng()
    x = rng.standard_normal(50).astype(np.float32)
    bx, by = pm.Buffer.from_numpy(device, x), pm.Buffer.from_numpy(device, np.zeros(50, np.float32))
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(k)
    enc.set_buffer(bx, 0, 0)
    enc.set_buffer(by, 0, 1)
    enc.dispatch_threads((50, 1, 1), (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_allclose(by.to_numpy(np.float32), (3.0 * x.astype(np.float64) + 1.0) * 2, rtol=1e-6, atol=1e-6)


def test_include_missing_header_is_an_error(device):
    with pytest.raises(pm.MetalError, match="my_helpers.h"):
        pm.Library(device, INCLUDE_SRC, options={"macros": {"N_MUL": "2"}})
