"""Barriers in the shapes the CPU's loop fission handles (src/msl/barrier_fission.h) and in
shapes it leaves to fibers. Every kernel runs on every device against a NumPy reference
(run with PYMETALLIC_CPU_FISSION=0 to check the fiber path on the same kernels)."""

import os
import subprocess
import sys

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Locals across barriers (several declarators, an array, a pointer), a nested split loop,
// early return before the barriers.
kernel void stencil_steps(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                          constant uint& steps [[buffer(2)]], constant uint& n [[buffer(3)]],
                          uint gid [[thread_position_in_grid]], uint lid [[thread_index_in_threadgroup]],
                          uint tg [[threads_per_threadgroup]]) {
  threadgroup float cur[64];
  threadgroup float nxt[64];
  constexpr float kWeight = 0.25f;
  uint left = (lid + tg - 1) % tg, right = (lid + 1) % tg;
  float history[3];
  const device float* src = in + (gid - lid);
  cur[lid] = src[lid];
  history[0] = cur[lid];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = 0; s < steps; ++s) {
    for (uint r = 0; r < 2; ++r) {
      float v = cur[lid] * (1 - 2 * kWeight) + (cur[left] + cur[right]) * kWeight;
      threadgroup_barrier(mem_flags::mem_threadgroup);
      nxt[lid] = v + float(r);
      threadgroup_barrier(mem_flags::mem_threadgroup);
      cur[lid] = nxt[lid];
      threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    history[1 + (s & 1)] = cur[lid];
  }
  if (gid >= n) return;
  out[3 * gid + 0] = history[0];
  out[3 * gid + 1] = history[1];
  out[3 * gid + 2] = cur[lid];
}

// Threads that return before a barrier take no part in the stretches after it.
kernel void early_exit(device const int* in [[buffer(0)]], device int* out [[buffer(1)]],
                       uint lid [[thread_index_in_threadgroup]], uint group [[threadgroup_position_in_grid]]) {
  threadgroup atomic_int live;
  if (lid == 0) atomic_store_explicit(&live, 0, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (in[group * 32 + lid] < 0) return;
  atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[group * 32 + lid] = atomic_load_explicit(&live, memory_order_relaxed);
}

// A barrier inside `if` (uniform condition): not split, fibers run it.
kernel void barrier_in_if(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                          constant uint& flag [[buffer(2)]],
                          uint lid [[thread_index_in_threadgroup]], uint gid [[thread_position_in_grid]]) {
  threadgroup float t[32];
  t[lid] = in[gid];
  if (flag != 0) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float v = t[31 - lid];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    t[lid] = v;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[gid] = t[lid];
}
"""


def stencil_reference(x, steps, tg):
    groups = x.reshape(-1, tg).astype(np.float64)
    cur = groups.copy()
    hist = [cur.copy(), None, None]
    for s in range(steps):
        for r in range(2):
            cur = cur * 0.5 + (np.roll(cur, 1, axis=1) + np.roll(cur, -1, axis=1)) * 0.25 + r
        hist[1 + (s & 1)] = cur.copy()
    return hist[0].ravel(), hist[1].ravel(), cur.ravel()


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_locals_and_nested_split_loops(device, runner, steps):
    tg, groups = 64, 5
    n = tg * groups - 7  # the last group's tail returns early, after every barrier
    x = np.random.default_rng().uniform(-1, 1, tg * groups).astype(np.float32)
    out = np.zeros(3 * tg * groups, np.float32)
    got = runner.run(
        device, SRC, "stencil_steps", [x, out, np.uint32(steps), np.uint32(n)], (groups,), (tg,), threadgroups=True
    )[1].reshape(-1, 3)
    h0, h1, last = stencil_reference(x, steps, tg)
    np.testing.assert_allclose(got[:n, 0], h0[:n], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[:n, 1], h1[:n], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[:n, 2], last[:n], rtol=1e-4, atol=1e-4)
    assert np.all(got[n:] == 0)


def test_early_return_leaves_later_stretches(device, runner):
    groups = 6
    x = np.random.default_rng().integers(-5, 5, 32 * groups).astype(np.int32)
    out = np.full(x.size, -99, np.int32)
    got = runner.run(device, SRC, "early_exit", [x, out], (groups,), (32,), threadgroups=True)[1]
    live = (x.reshape(groups, 32) >= 0).sum(axis=1)
    expect = np.where(x >= 0, np.repeat(live, 32), -99)
    np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("flag", [0, 1])
def test_barrier_in_if_still_correct(device, runner, flag):
    x = np.random.default_rng().uniform(-1, 1, 128).astype(np.float32)
    got = runner.run(device, SRC, "barrier_in_if", [x, np.zeros_like(x), np.uint32(flag)], (128,), (32,))[1]
    expect = x.reshape(-1, 32)[:, ::-1].ravel() if flag else x
    np.testing.assert_array_equal(got, expect)


def test_which_kernels_are_split(cpu_device):
    """The CPU splits the first two kernels and leaves the barrier inside `if` to fibers."""
    code = (
        "import pymetallic as pm, sys; sys.path.insert(0, %r); from test_barrier_fission import SRC; "
        "pm.Library(pm.Device.get_default_device(), SRC)"
    ) % os.path.dirname(__file__)
    env = dict(
        os.environ, PYMETALLIC_DEBUG_FISSION="1", PYMETALLIC_CACHE_DIR=os.environ.get("PYMETALLIC_CACHE_DIR", "")
    )
    env.pop("PYMETALLIC_CACHE_DIR") if not env["PYMETALLIC_CACHE_DIR"] else None
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "kernel 'barrier_in_if' keeps fibers" in r.stderr
    assert "kernel 'stencil_steps' runs split" in r.stderr and "kernel 'early_exit' runs split" in r.stderr
