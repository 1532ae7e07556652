"""Functions overloaded on the address space of a pointer or reference parameter (MSL.md §2):
`f(const device float*)` next to `f(const threadgroup float*)` and `f(const thread float*)`.
Generated code erases address spaces, so the front end renames such overloads and a
dispatcher picks the one for where the argument points, at run time. Each overload here
computes something different, so a wrong pick shows in the result."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Free functions: the same signature once address spaces are erased.
float weigh(const device float* v, uint n) { float s = 0; for (uint i = 0; i < n; ++i) s += v[i]; return 2 * s; }
float weigh(const threadgroup float* v, uint n) { float s = 0; for (uint i = 0; i < n; ++i) s += v[i]; return 3 * s; }
float weigh(const thread float* v, uint n) { float s = 0; for (uint i = 0; i < n; ++i) s += v[i]; return 5 * s; }

// Called between overloads and before the last one is defined.
float twice_weighed(const device float* v) { return 2 * weigh(v, 4); }
float weigh(constant float* v, uint n, float k) { return k * v[0] + float(n); }   // other arity: untouched

// Templates with references, and template arguments that cannot be deduced.
template <typename T> T bump(device T& x) { return x + T(100); }
template <typename T> T bump(threadgroup T& x) { return x + T(1000); }
template <int N> float nth(const device float* p) { return p[N] + 0.25f; }
template <int N> float nth(const threadgroup float* p) { return p[N] + 0.5f; }

// Member functions, and mixed parameters: only the second one differs.
struct Accumulator {
  float value;
  void add(float w, const device float* p) thread { value += w * p[0]; }
  void add(float w, const threadgroup float* p) thread { value += 10 * w * p[0]; }
};

constant float kTable[4] = {1.0f, 2.0f, 4.0f, 8.0f};
float table_or_tile(constant float* p) { return p[1]; }
float table_or_tile(threadgroup float* p) { return -p[1]; }

kernel void overloads(device const float* a [[buffer(0)]], device float* out [[buffer(1)]],
                      threadgroup float* arena [[threadgroup(0)]],
                      uint i [[thread_position_in_grid]], uint l [[thread_position_in_threadgroup]],
                      uint base [[threadgroup_position_in_grid]]) {
  threadgroup float tile[4];
  tile[l] = a[i] * 2;
  arena[l] = a[i] + 1;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const device float* group = a + base * 4;
  thread float local[4] = {a[i], 1, 2, 3};
  Accumulator acc{0};
  acc.add(1.0f, group + l);
  acc.add(1.0f, tile + l);
  device float* o = out + i * 10;
  o[0] = weigh(group, 4);
  o[1] = weigh(tile, 4);
  o[2] = weigh(local, 4);
  o[3] = weigh(arena, 4);
  o[4] = twice_weighed(group);
  o[5] = bump(tile[l]) + bump(o[0]);
  o[6] = nth<2>(group) + nth<3>(tile);
  o[7] = acc.value;
  o[8] = table_or_tile(kTable) + table_or_tile(tile);
  o[9] = weigh(kTable, 7u, 0.5f);
}

// No barrier: the CPU runs this one without fibers (pointers into the worker's own stack).
kernel void overloads_flat(device const float* a [[buffer(0)]], device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  thread float local[2] = {a[i], 1};
  out[2 * i] = weigh(local, 2);
  out[2 * i + 1] = weigh(a + i, 1);
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_overloads_pick_the_argument_address_space(device, runner):
    rng = np.random.default_rng()
    groups = 8
    a = rng.uniform(-1, 1, 4 * groups).astype(np.float32)
    out = np.zeros(10 * a.size, np.float32)
    _, out = runner.run(device, SRC, "overloads", [a, out], (a.size,), (4,), tg_memory=[(16, 0)])
    out = out.reshape(-1, 10).astype(np.float64)
    a64 = a.astype(np.float64)
    g = a64.reshape(groups, 4)
    group_sum = np.repeat(g.sum(axis=1), 4)
    tile_sum = 2 * group_sum
    expect = np.zeros_like(out)
    expect[:, 0] = 2 * group_sum
    expect[:, 1] = 3 * tile_sum
    expect[:, 2] = 5 * (a64 + 6)
    expect[:, 3] = 3 * (group_sum + 4)
    expect[:, 4] = 4 * group_sum
    expect[:, 5] = (2 * a64 + 1000) + (2 * group_sum + 100)
    expect[:, 6] = np.repeat(g[:, 2], 4) + 0.25 + 2 * np.repeat(g[:, 3], 4) + 0.5
    expect[:, 7] = a64 + 10 * 2 * a64
    expect[:, 8] = 2.0 - 2 * np.repeat(g[:, 1], 4)
    expect[:, 9] = 0.5 * 1.0 + 7
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_overloads_without_fibers(device, runner):
    a = np.random.default_rng().uniform(-1, 1, 100).astype(np.float32)
    out = np.zeros(2 * a.size, np.float32)
    _, out = runner.run(device, SRC, "overloads_flat", [a, out], (a.size,), (32,))
    out = out.reshape(-1, 2).astype(np.float64)
    np.testing.assert_allclose(out[:, 0], 5 * (a.astype(np.float64) + 1), rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], 2 * a.astype(np.float64), rtol=1e-6)


def test_device_and_constant_overloads_are_refused(device):
    src = r"""
#include <metal_stdlib>
using namespace metal;
float get(const device float* p) { return p[0]; }
float get(constant float* p) { return -p[0]; }
kernel void k(device float* out [[buffer(0)]]) { out[0] = get(out); }
"""
    with pytest.raises(pm.MetalError, match=r"program.metal:5:.*differ only between the device and constant"):
        pm.Library(device, src)
