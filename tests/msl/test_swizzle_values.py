"""Swizzles are values (MSL: `v.zw` is an rvalue of the vector type): `auto s = v.yx;`
copies, and writing `s` leaves `v` alone; template arguments deduce the vector type; a
swizzle converts wherever a vector does (returned, passed with a vector to one template
parameter, in a conditional, to a constructor). Swizzle writes still write the selected
components only."""

import numpy as np


SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <class T> T twice(T a) { return a * 2; }
template <class T> T pick(T a, T b, bool c) { return c ? a : b; }
template <class T> struct Width { static constexpr int value = 0; };
template <class T, int N> struct Width<vec<T, N>> { static constexpr int value = N; };
template <class T> int width_of(const thread T&) { return Width<T>::value; }
float2 tail(float4 v) { return v.zw; }
struct Pixel { float4 rgba; float2 xy; };   // members named like swizzles

kernel void swizzles(device const uint4* in [[buffer(0)]], device uint4* out [[buffer(1)]],
                     device float4* fout [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  uint4 v = in[i];
  auto s = v.yx;
  s.x = 7;                                   // a copy: v is unchanged
  static_assert(is_same<decltype(s), uint2>::value, "auto deduces uint2");
  uint2 t = twice(v.zw);
  uint2 p = pick(v.xy, t, i % 2 == 0);
  uint3 q = i % 3 == 0 ? v.zyx : uint3(1, 2, 3);
  out[i * 3] = uint4(s, v.x, v.y);
  out[i * 3 + 1] = uint4(t, p);
  out[i * 3 + 2] = uint4(q, uint(width_of(v.wzy)));
  float4 f = float4(v);
  f.xy = f.yx;                               // swizzle writes still write through
  f.zw += float2(0.5f, 0.25f);
  Pixel px{f, f.wz};
  fout[i * 2] = float4(tail(f), px.xy);
  fout[i * 2 + 1] = px.rgba.bgra;
}
"""


def test_swizzles_are_values(device, runner):
    n = 30
    v = np.random.default_rng(5).integers(0, 1000, (n, 4)).astype(np.uint32)
    out = np.zeros((n * 3, 4), np.uint32)
    fout = np.zeros((n * 2, 4), np.float32)
    _, out, fout = runner.run(device, SRC, "swizzles", [v, out, fout], (n,), (8,))
    out = out.reshape(n, 3, 4)
    i = np.arange(n)
    np.testing.assert_array_equal(out[:, 0], np.stack([np.full(n, 7), v[:, 0], v[:, 0], v[:, 1]], 1))
    t = 2 * v[:, 2:4]
    p = np.where((i % 2 == 0)[:, None], v[:, 0:2], t)
    np.testing.assert_array_equal(out[:, 1], np.concatenate([t, p], 1))
    q = np.where((i % 3 == 0)[:, None], v[:, [2, 1, 0]], np.array([1, 2, 3]))
    np.testing.assert_array_equal(out[:, 2], np.concatenate([q, np.full((n, 1), 3)], 1))
    f = v.astype(np.float64)
    f[:, [0, 1]] = f[:, [1, 0]]
    f[:, 2] += 0.5
    f[:, 3] += 0.25
    fout = fout.reshape(n, 2, 4)
    np.testing.assert_array_equal(fout[:, 0], np.concatenate([f[:, 2:4], f[:, [3, 2]]], 1))
    np.testing.assert_array_equal(fout[:, 1], f[:, [2, 1, 0, 3]])


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
