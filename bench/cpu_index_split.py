"""Index math the CPU backend splits by runs of threads (docs/architecture.md, "Index-set
splitting"): a 3x3 box blur on a 2D image dispatched as 1D threads (`x = gid % w`,
`y = gid / w`, clamped edges) and a 3x3 blur with periodic boundaries (`(gid.x + w + dx) % w`),
against the same arithmetic in NumPy, one run. Each row checks the outputs agree first.

    PYMETALLIC_CPU_SPLIT={0,1} PYTHONPATH=python python bench/cpu_index_split.py [--size 1024]

Times: median of interleaved samples of one command buffer of `--repeat` dispatches (ours,
divided by the count) and of one NumPy evaluation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void blur_1d_index(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                          constant uint& w [[buffer(2)]], constant uint& h [[buffer(3)]],
                          uint gid [[thread_position_in_grid]]) {
  uint x = gid % w;
  uint y = gid / w;
  uint xl = x > 0 ? x - 1 : 0, xr = min(x + 1, w - 1);
  uint yu = y > 0 ? y - 1 : 0, yd = min(y + 1, h - 1);
  float s = in[yu * w + xl] + in[yu * w + x] + in[yu * w + xr]
          + in[y * w + xl] + in[y * w + x] + in[y * w + xr]
          + in[yd * w + xl] + in[yd * w + x] + in[yd * w + xr];
  out[gid] = s * (1.0f / 9.0f);
}

kernel void blur_wrap(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      constant uint& w [[buffer(2)]], constant uint& h [[buffer(3)]],
                      uint2 gid [[thread_position_in_grid]]) {
  float s = 0.0f;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      s += in[((gid.y + h + dy) % h) * w + (gid.x + w + dx) % w];
  out[gid.y * w + gid.x] = s * (1.0f / 9.0f);
}
"""


def numpy_blur(a, mode):
    """The 3x3 box blur in NumPy; mode "edge" (clamped neighbours) or "wrap" (periodic)."""
    p = np.pad(a, 1, mode=mode)
    h, w = a.shape
    s = np.zeros_like(a)
    for dy in range(3):
        for dx in range(3):
            s += p[dy : dy + h, dx : dx + w]
    return s * np.float32(1.0 / 9.0)


def numpy_blur_clamped(a):
    return numpy_blur(a, "edge")


def numpy_blur_wrap(a):
    return numpy_blur(a, "wrap")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--samples", type=int, default=7)
    args = ap.parse_args()
    dev = pm.Device.get_default_device()
    lib = pm.Library(dev, SRC)
    queue = pm.CommandQueue(dev)
    n = args.size
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    src = pm.Buffer.from_numpy(dev, a)
    dst = pm.Buffer.from_numpy(dev, np.zeros_like(a))
    split = os.environ.get("PYMETALLIC_CPU_SPLIT", "1")
    print(f"PYMETALLIC_CPU_SPLIT={split}  size {n}x{n}  load {os.getloadavg()[0]:.2f}")
    rows = [
        ("blur 3x3, 1D index (gid % w, gid / w)", "blur_1d_index", (n * n, 1, 1), (256, 1, 1), numpy_blur_clamped),
        ("blur 3x3, periodic ((gid.x + w + dx) % w)", "blur_wrap", (n, n, 1), (16, 16, 1), numpy_blur_wrap),
    ]
    for label, name, grid, tg, ref in rows:
        pipe = pm.ComputePipelineState(dev, lib.make_function(name))

        def run(repeat):
            cb = queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pipe)
            enc.set_buffer(src, 0, 0)
            enc.set_buffer(dst, 0, 1)
            enc.set_bytes(np.uint32(n), 2)
            enc.set_bytes(np.uint32(n), 3)
            for _ in range(repeat):
                enc.dispatch_threads(grid, tg)
            enc.end_encoding()
            t = time.perf_counter()
            cb.commit()
            cb.wait_until_completed()
            return (time.perf_counter() - t) / repeat

        run(1)
        expect = ref(a)
        np.testing.assert_allclose(dst.to_numpy(np.float32, (n, n)), expect, rtol=1e-5, atol=1e-6)
        ours, theirs = [], []
        ref(a)
        for _ in range(args.samples):
            ours.append(run(args.repeat))
            t = time.perf_counter()
            ref(a)
            theirs.append(time.perf_counter() - t)
        o, t = statistics.median(ours), statistics.median(theirs)
        print(
            f"{label:<44} ours {o * 1e3:8.3f} ms (min {min(ours) * 1e3:.3f}, max {max(ours) * 1e3:.3f})"
            f"  numpy {t * 1e3:8.3f} ms  ours/numpy {o / t:5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
