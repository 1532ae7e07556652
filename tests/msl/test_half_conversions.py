"""half and bfloat convert like MSL's built-in arithmetic types: the usual arithmetic
conversions in conditional expressions (`c ? h : 0.5f` is a float, `c ? h : 2` a half),
mixed arithmetic (half with an integer stays half, with float becomes float), implicit
conversions from int/float, overload resolution of library functions called with mixed
arguments, and the `h` / `bf` literal suffixes (MSL 3.1)."""

import numpy as np


SRC = r"""
#include <metal_stdlib>
using namespace metal;

// The types MSL gives these expressions.
static_assert(is_same<decltype(true ? half(1) : 0.5f), float>::value, "half : float is float");
static_assert(is_same<decltype(true ? half(1) : 2), half>::value, "half : int is half");
static_assert(is_same<decltype(false ? 2u : half(1)), half>::value, "uint : half is half");
static_assert(is_same<decltype(true ? bfloat(1) : 0.5f), float>::value, "bfloat : float is float");
static_assert(is_same<decltype(true ? bfloat(1) : 3), bfloat>::value, "bfloat : int is bfloat");
static_assert(is_same<decltype(half(1) + 1), half>::value, "half + int is half");
static_assert(is_same<decltype(half(1) * 1.0f), float>::value, "half * float is float");
static_assert(is_same<decltype(1.5h), half>::value && is_same<decltype(1.5bf), bfloat>::value, "suffixes");
static_assert(is_same<decltype(max(half(1), 0)), half>::value, "max(half, int) is half");
static_assert(is_same<decltype(sign(half(1))), half>::value, "sign(half) is half");

template <typename T> T relu(T x) { return x > 0 ? x : 0; }              // T : int
template <typename T> float blend(T x, bool c) { return c ? x : 0.1f; }   // T : float

kernel void conversions(device const half* h [[buffer(0)]], device const float* f [[buffer(1)]],
                        device float* out [[buffer(2)]], device half* hout [[buffer(3)]],
                        device bfloat* bout [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  half x = h[i];
  bfloat y = bfloat(f[i]);
  bool c = (i % 2) == 0;
  float a = c ? x : 0.1f;          // 0.1f stays a float (not rounded to half)
  half b = c ? x : 2;
  float e = c ? y : 0.3f;
  bfloat g = c ? y : 1;
  half k = i % 3 == 0 ? 0.25h : x; // half literal
  bfloat m = c ? 1.5bf : y;
  device float* o = out + i * 8;
  o[0] = a;
  o[1] = blend(x, c);
  o[2] = e;
  o[3] = float(relu(x));
  o[4] = max(x, f[i]);             // float
  o[5] = float(sign(x)) + float(clamp(x, 0, 1));
  o[6] = x * 0.1f;                 // float arithmetic
  o[7] = float(insert_bits(uint(i), 5u, 4u, 3u));
  hout[i * 2] = b;
  hout[i * 2 + 1] = k + 1;         // half + int is half
  bout[i * 2] = g;
  bout[i * 2 + 1] = m;
}
"""


def _bf16(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def _bf16_to_f32(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def test_conversions(device, runner):
    n = 48
    rng = np.random.default_rng(3)
    h = rng.uniform(-2, 2, n).astype(np.float16)
    f = rng.uniform(-2, 2, n).astype(np.float32)
    out = np.zeros(n * 8, np.float32)
    hout = np.zeros(n * 2, np.float16)
    bout = np.zeros(n * 2, np.uint16)
    _, _, out, hout, bout = runner.run(device, SRC, "conversions", [h, f, out, hout, bout], (n,), (16,))
    out = out.reshape(n, 8).astype(np.float64)
    i = np.arange(n)
    c = i % 2 == 0
    hx = h.astype(np.float64)
    y = _bf16_to_f32(_bf16(f)).astype(np.float64)
    np.testing.assert_array_equal(out[:, 0], np.where(c, hx, np.float32(0.1)))
    np.testing.assert_array_equal(out[:, 1], np.where(c, hx, np.float32(0.1)))
    np.testing.assert_array_equal(out[:, 2], np.where(c, y, np.float32(0.3)))
    np.testing.assert_array_equal(out[:, 3], np.maximum(hx, 0))
    np.testing.assert_array_equal(out[:, 4], np.maximum(hx, f.astype(np.float64)))
    np.testing.assert_array_equal(out[:, 5], np.sign(hx) + np.clip(hx, 0, 1))
    np.testing.assert_allclose(out[:, 6], hx * np.float32(0.1), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 7], (i & ~np.uint32(0x70)) | (5 << 4))
    hout = hout.reshape(n, 2).astype(np.float64)
    np.testing.assert_array_equal(hout[:, 0], np.where(c, hx, 2.0))
    k = np.where(i % 3 == 0, 0.25, hx)
    np.testing.assert_array_equal(hout[:, 1], (k + 1).astype(np.float16).astype(np.float64))
    bout = bout.reshape(n, 2)
    np.testing.assert_array_equal(bout[:, 0], np.where(c, _bf16(f), _bf16(np.float32(1.0))))
    np.testing.assert_array_equal(bout[:, 1], np.where(c, _bf16(np.float32(1.5)), _bf16(f)))


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
