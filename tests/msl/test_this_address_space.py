"""Member functions and constructors overloaded only on the address space of `this` (the array
wrapper SPIRV-Cross and Tint emit for every array), and free functions written twice for the
`device` and `constant` address spaces with the same body. Address spaces are erased in the
generated code, so such definitions are one function: the front end keeps one. Overloads whose
bodies really differ, and that cannot be told apart at run time, are refused at their line."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T, size_t N> struct Arr {
  T v[N];
  thread T& operator[](size_t i) thread { return v[i]; }
  constexpr const thread T& operator[](size_t i) const thread { return v[i]; }
  device T& operator[](size_t i) device { return v[i]; }
  constexpr const device T& operator[](size_t i) const device { return v[i]; }
  threadgroup T& operator[](size_t i) threadgroup { return v[i]; }
  constexpr const threadgroup T& operator[](size_t i) const threadgroup { return v[i]; }
  constexpr const constant T& operator[](size_t i) const constant { return v[i]; }
};

struct Counter {
  uint n;
  uint pad;
  Counter() thread : n{7}, pad{} {}
  Counter() threadgroup : n{7}, pad{} {}
  void bump(uint k) thread { n += k; }
  void bump(uint k) device { n += k; }
  uint get() const thread { return n; }
  uint get() const device { return n; }
};

struct Rows { Arr<float, 4> r; };

// The same index helper for device and constant data: one function once erased.
uint at(const device uint* shape, uint i) { return shape[i] * 2; }
uint at(constant uint* shape, uint i) { return shape[i] * 2; }

kernel void arrays(device const Rows* rows [[buffer(0)]], constant uint* shape [[buffer(1)]],
                   device float* out [[buffer(2)]], device uint* counts [[buffer(3)]],
                   uint i [[thread_position_in_grid]], uint l [[thread_position_in_threadgroup]]) {
  threadgroup Arr<float, 32> tile;
  Arr<float, 4> local;
  for (uint k = 0; k < 4; ++k) local[k] = float(k + i);
  tile[l] = rows[i].r[i % 4];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  Counter c;
  c.bump(at(shape, 0));
  out[i] = tile[(l + 1) % 32] + local[3] + float(c.get());
  counts[i] = at(shape, 1) + at((const device uint*)counts, i);
}
"""


def test_this_overloads_and_twin_helpers(device, runner):
    n = 64
    rows = np.random.default_rng(1).uniform(-1, 1, (n, 4)).astype(np.float32)
    shape = np.array([3, 5], np.uint32)
    out = np.zeros(n, np.float32)
    counts = np.arange(n, dtype=np.uint32)
    _, _, out, counts = runner.run(device, SRC, "arrays", [rows, shape, out, counts], (n,), (32,))
    picked = rows[np.arange(n), np.arange(n) % 4].astype(np.float64)
    nxt = (np.arange(n) // 32) * 32 + (np.arange(n) % 32 + 1) % 32
    expect = picked[nxt] + (3 + np.arange(n)) + (7 + 6)
    np.testing.assert_allclose(out, expect, rtol=1e-6)
    np.testing.assert_array_equal(counts, 10 + 2 * np.arange(n))


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_this_overloads_with_different_bodies_are_refused(device):
    src = r"""
#include <metal_stdlib>
using namespace metal;
struct S {
  float v;
  float get() thread { return v; }
  float get() device { return -v; }
};
kernel void k(device S* s [[buffer(0)]]) { s[0].v = s[0].get(); }
"""
    with pytest.raises(pm.MetalError, match=r"program.metal:7:.*address space of 'this'"):
        pm.Library(device, src)


def test_device_and_constant_twins_with_different_bodies_are_refused(device):
    src = r"""
#include <metal_stdlib>
using namespace metal;
uint at(const device uint* s, uint i) { return s[i]; }
uint at(constant uint* s, uint i) { return s[i] + 1; }
kernel void k(device uint* out [[buffer(0)]]) { out[0] = at(out, 0); }
"""
    with pytest.raises(pm.MetalError, match=r"program.metal:5:.*differ only between the device and constant"):
        pm.Library(device, src)
