"""pymetallic on the CPU against PyOpenCL on PoCL (the same algorithm in OpenCL C, same
work-group shape) and NumPy, in one run on the same machine. Every row checks that the
outputs agree before timing; the sides run interleaved (one sample of each in turn) after a
warm-up, and the times are medians. Prints one line per row with the ratios ours / PoCL and
ours / NumPy (below 1.0: we are faster).

    bash scripts/install_bench_deps.sh           # PoCL + PyOpenCL (once)
    python bench/cpu_vs_pocl.py [--quick] [--json out.json]

Without PyOpenCL/PoCL the PoCL column is left empty and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import pymetallic

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cpu_kernels import OPENCL, OPENCL_FLUID  # noqa: E402
from gpu_kernels import MSL  # noqa: E402
from msl_runner import MslRunner  # noqa: E402
from timing import write_json  # noqa: E402

try:
    import pyopencl as cl
except Exception as e:  # pragma: no cover - depends on the machine
    cl = None
    CL_ERROR = f"PyOpenCL unavailable: {e}"
else:
    CL_ERROR = None

RESULTS = []
KERNEL_NAMES = ("vector_add", "mandelbrot", "reduce_sum", "matmul_naive", "matmul_tiled", "empty", "life_step")


# ---------------------------------------------------------------- timing and reporting
def interleaved(fns, repeats=7, warmup=1):
    """{name: median seconds}: each callable warmed up, then one sample of each in turn."""
    fns = {k: f for k, f in fns.items() if f is not None}
    t0 = time.perf_counter()
    for f in fns.values():
        for _ in range(warmup):
            f()
    if (time.perf_counter() - t0) / max(warmup, 1) > 4.0:  # slow rows: 3 samples each
        repeats = min(repeats, 3)
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            samples[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in samples.items()}


def _fmt(t, scale, width=9):
    return f"{t * scale:{width}.3f}" if t is not None else " " * (width - 1) + "-"


def _ratio(a, b):
    return a / b if (a is not None and b) else None


def report(name, ours, pocl=None, numpy=None, unit="ms", scale=1e3, extra=""):
    rp, rn = _ratio(ours, pocl), _ratio(ours, numpy)
    RESULTS.append(
        {
            "row": name,
            "unit": "s",
            "ours": ours,
            "pocl": pocl,
            "numpy": numpy,
            "ours/pocl": rp,
            "ours/numpy": rn,
            "extra": extra,
        }
    )
    rps = f"{rp:6.2f}" if rp is not None else "     -"
    rns = f"{rn:6.2f}" if rn is not None else "     -"
    print(
        f"{name:<40} ours {_fmt(ours, scale)} {unit:<2}  pocl {_fmt(pocl, scale)}  numpy {_fmt(numpy, scale)}"
        f"   ours/pocl {rps}  ours/numpy {rns}  {extra}",
        flush=True,
    )


# ---------------------------------------------------------------- our side
Ours = MslRunner


# ---------------------------------------------------------------- PoCL side
class PoCL:
    def __init__(self):
        plats = [p for p in cl.get_platforms() if "portable" in p.name.lower() or "pocl" in p.name.lower()]
        if not plats:
            raise RuntimeError("no PoCL platform among " + ", ".join(p.name for p in cl.get_platforms()))
        self.platform = plats[0]
        self.dev = self.platform.get_devices()[0]
        self.ctx = cl.Context([self.dev])
        self.queue = cl.CommandQueue(self.ctx)
        self.prg = cl.Program(self.ctx, OPENCL).build()
        self.fluid_prg = None
        self.kernels = {}

    def kernel(self, name, fluid=False):
        key = (name, fluid)
        if key not in self.kernels:
            if fluid and self.fluid_prg is None:
                self.fluid_prg = cl.Program(self.ctx, OPENCL_FLUID).build()
            self.kernels[key] = cl.Kernel(self.fluid_prg if fluid else self.prg, name)
        return self.kernels[key]

    def buf(self, array=None, nbytes=None):
        mf = cl.mem_flags
        if array is not None:
            return cl.Buffer(self.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=np.ascontiguousarray(array))
        return cl.Buffer(self.ctx, mf.READ_WRITE, nbytes)

    def read(self, buf, dtype, shape):
        out = np.empty(shape, dtype)
        cl.enqueue_copy(self.queue, out, buf)
        return out

    def launch(self, name, args, gsize, lsize, repeat=1):
        k = self.kernel(name)
        k.set_args(*args)
        for _ in range(repeat):
            cl.enqueue_nd_range_kernel(self.queue, k, gsize, lsize)

    def runner(self, name, args, gsize, lsize, repeat=1):
        def run():
            self.launch(name, args, gsize, lsize, repeat)
            self.queue.finish()

        return run


# ---------------------------------------------------------------- rows
def bench_vector_add(ours, pocl, n):
    rng = np.random.default_rng(0)
    a, b = rng.random(n, np.float32), rng.random(n, np.float32)
    c = np.empty_like(a)
    dst = np.empty_like(a)
    ceil = interleaved({"copy": lambda: np.copyto(dst, a)}, repeats=9)["copy"]
    ceiling = 2 * 4 * n / ceil / 1e9
    print(f"{'memory ceiling (NumPy copy, 1 thread)':<40} {ceiling:6.1f} GB/s", flush=True)
    A, B, C = ours.buf(a), ours.buf(b), pymetallic.Buffer(ours.device, 4 * n)
    ours.run("vector_add", [A, B, C], (n, 1, 1), (256, 1, 1))
    np.add(a, b, out=c)
    np.testing.assert_array_equal(C.to_numpy(np.float32), c)
    reps = 5
    fns = {
        "ours": ours.runner("vector_add", [A, B, C], (n, 1, 1), (256, 1, 1), repeat=reps),
        "numpy": lambda: [np.add(a, b, out=c) for _ in range(reps)],
    }
    if pocl:
        pa, pb, pc = pocl.buf(a), pocl.buf(b), pocl.buf(nbytes=4 * n)
        pocl.launch("vector_add", (pa, pb, pc), (n,), (256,))
        np.testing.assert_array_equal(pocl.read(pc, np.float32, n), c)
        fns["pocl"] = pocl.runner("vector_add", (pa, pb, pc), (n,), (256,), repeat=reps)
    t = {k: v / reps for k, v in interleaved(fns, repeats=9).items()}
    gbps = 3 * 4 * n / t["ours"] / 1e9
    extra = f"ours {gbps:.1f} GB/s"
    if "pocl" in t:
        extra += f", PoCL {3 * 4 * n / t['pocl'] / 1e9:.1f} GB/s"
    report(f"vector add {n / 2**20:g}M", t["ours"], t.get("pocl"), t["numpy"], extra=extra)


def mandelbrot_numpy(w, h, iters):
    """The kernel's escape counts, in NumPy float32 (only the points still iterating are kept)."""
    f = np.float32
    cx = f(-2.0) + f(3.0) * (np.arange(w, dtype=f) + f(0.5)) / f(w)
    cy = f(-1.5) + f(3.0) * (np.arange(h, dtype=f) + f(0.5)) / f(h)
    cxa = np.broadcast_to(cx[None, :], (h, w)).ravel().copy()
    cya = np.broadcast_to(cy[:, None], (h, w)).ravel().copy()
    out = np.full(w * h, iters, np.uint32)
    idx = np.arange(w * h)
    x = np.zeros(w * h, f)
    y = np.zeros(w * h, f)
    for i in range(iters):
        keep = x * x + y * y <= f(4.0)
        if not keep.all():
            out[idx[~keep]] = i
            idx, x, y, cxa, cya = idx[keep], x[keep], y[keep], cxa[keep], cya[keep]
            if idx.size == 0:
                break
        t = x * x - y * y + cxa
        y = f(2.0) * x * y + cya
        x = t
    return out


def bench_mandelbrot(ours, pocl, w, iters):
    out = pymetallic.Buffer(ours.device, 4 * w * w)
    args = [(np.array([w, w], np.uint32), 1), (np.uint32(iters), 2)]
    ours.run("mandelbrot", [out], (w, w, 1), (16, 16, 1), args)
    ref = mandelbrot_numpy(w, w, iters)
    mine = out.to_numpy(np.uint32).copy()
    mism = np.mean(mine != ref)
    assert mism < 2e-3, f"ours vs NumPy: {mism:.2%} of the points differ"
    fns = {
        "ours": ours.runner("mandelbrot", [out], (w, w, 1), (16, 16, 1), args),
        "numpy": lambda: mandelbrot_numpy(w, w, iters),
    }
    if pocl:
        po = pocl.buf(nbytes=4 * w * w)
        pargs = (po, np.uint32(w), np.uint32(w), np.uint32(iters))
        pocl.launch("mandelbrot", pargs, (w, w), (16, 16))
        mism = np.mean(pocl.read(po, np.uint32, w * w) != mine)
        assert mism < 2e-3, f"ours vs PoCL: {mism:.2%} of the points differ"
        fns["pocl"] = pocl.runner("mandelbrot", pargs, (w, w), (16, 16))
    t = interleaved(fns, repeats=5)
    report(f"Mandelbrot {w}^2, {iters} iterations", t["ours"], t.get("pocl"), t["numpy"])


def life_numpy(grid, steps):
    n = grid.shape[0]
    g = grid.copy()
    p = np.empty((n + 2, n + 2), np.uint8)
    for _ in range(steps):
        p[1:-1, 1:-1] = g
        p[0, 1:-1], p[-1, 1:-1] = g[-1], g[0]
        p[:, 0], p[:, -1] = p[:, -2], p[:, 1]
        s = p[:-2, :-2] + p[:-2, 1:-1] + p[:-2, 2:] + p[1:-1, :-2] + p[1:-1, 2:] + p[2:, :-2] + p[2:, 1:-1] + p[2:, 2:]
        g = ((s == 3) | ((s == 2) & (g == 1))).view(np.uint8)
    return g


def bench_life(ours, pocl, w, steps):
    rng = np.random.default_rng(3)
    grid = (rng.random((w, w)) < 0.3).astype(np.uint8)
    bufs = [ours.buf(grid), pymetallic.Buffer(ours.device, w * w)]
    size = np.uint32(w)

    def ours_run():
        ours.ping_pong("life_step", bufs, steps, (w, w, 1), (16, 16, 1), [(size, 2)])

    def reset_ours():
        bufs[0].to_numpy(np.uint8, (w, w))[...] = grid

    ours_run()
    ref = life_numpy(grid, steps)
    np.testing.assert_array_equal(bufs[steps % 2].to_numpy(np.uint8, (w, w)), ref)
    fns = {"ours": ours_run, "numpy": lambda: life_numpy(grid, steps)}
    if pocl:
        pb = [pocl.buf(grid), pocl.buf(nbytes=w * w)]
        k = pocl.kernel("life_step")

        def pocl_run():
            for s in range(steps):
                k.set_args(pb[s % 2], pb[(s + 1) % 2], size)
                cl.enqueue_nd_range_kernel(pocl.queue, k, (w, w), (16, 16))
                pocl.queue.finish()

        pocl_run()
        np.testing.assert_array_equal(pocl.read(pb[steps % 2], np.uint8, (w, w)), ref)
        fns["pocl"] = pocl_run
    t = interleaved(fns, repeats=5)
    reset_ours()
    report(f"Life {w}^2 x {steps}, wait each step", t["ours"], t.get("pocl"), t["numpy"])


class PoCLFluid:
    """FluidSimulation's dispatch plan, on PoCL with the OpenCL C kernels."""

    def __init__(self, pocl, width, threadgroup=(64, 4)):
        from pymetallic.demos.fluid import FluidConfig

        self.p = pocl
        self.w = self.h = width
        self.config = FluidConfig(width, width)
        z2 = np.zeros((width, width, 2), np.float32)
        z1 = np.zeros((width, width), np.float32)
        self.vel = [pocl.buf(z2), pocl.buf(z2)]
        self.dye = [pocl.buf(z1), pocl.buf(z1)]
        self.pres = [pocl.buf(z1), pocl.buf(z1)]
        self.div = pocl.buf(z1)
        self.d, self.pi, self.step_count = 0, 0, 0
        self.tg = tuple(threadgroup)
        self.k = {
            name: pocl.kernel(name, fluid=True)
            for name in ("add_source", "advect_velocity", "advect_dye", "divergence", "jacobi", "subtract_gradient")
        }

    def _plan(self):
        va, vb = self.vel
        d_in, d_out = self.dye[self.d], self.dye[1 - self.d]
        _, _, side = self.config.box()
        sg = -(-side // 16) * 16
        grid, tg = (self.w, self.h), self.tg
        k = self.k
        plan = [
            (k["add_source"], (va, d_in), (np.uint32(side),), (sg, sg), (16, 16)),
            (k["advect_velocity"], (va, vb), (), grid, tg),
            (k["advect_dye"], (va, d_in, d_out), (), grid, tg),
            (k["divergence"], (vb, self.div), (), grid, tg),
        ]
        p = self.pi
        for _ in range(self.config.jacobi_iterations):
            plan.append((k["jacobi"], (self.pres[p], self.div, self.pres[1 - p]), (), grid, tg))
            p = 1 - p
        plan.append((k["subtract_gradient"], (vb, self.pres[p], va), (), grid, tg))
        return plan, 1 - self.d, p

    def step(self, n=1, wait_each_dispatch=False):
        q = self.p.queue
        for _ in range(n):
            plan, nd, np_ = self._plan()
            params = self.config.pack(self.step_count)
            for kern, bufs, tail, g, l in plan:
                kern.set_args(*bufs, params, *tail)
                cl.enqueue_nd_range_kernel(q, kern, g, l)
                if wait_each_dispatch:
                    q.finish()
            q.finish()
            self.d, self.pi = nd, np_
            self.step_count += 1
        return self

    def state(self):
        w = self.w
        return (
            self.p.read(self.vel[0], np.float32, (w, w, 2)),
            self.p.read(self.dye[self.d], np.float32, (w, w)),
            self.p.read(self.pres[self.pi], np.float32, (w, w)),
        )


def bench_fluid(ours, pocl, w, steps):
    from pymetallic.demos import FluidReference, FluidSimulation

    # Correctness first: 3 steps on every side against the NumPy reference (chaotic, so early).
    sim = FluidSimulation(ours.device, w, queue=ours.queue)
    ref = FluidReference(w)
    sim.step(3, wait_each_dispatch=True)
    ref.step(3)
    assert ref.dye.max() > 0.1
    for a, b in ((sim.velocity, ref.velocity), (sim.dye, ref.dye), (sim.pressure, ref.pressure)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    if pocl:
        ps = PoCLFluid(pocl, w).step(3, wait_each_dispatch=True)
        for a, b in zip(ps.state(), (ref.velocity, ref.dye, ref.pressure)):
            np.testing.assert_allclose(a, b, atol=1e-4)

    for wait_each in (True, False):
        fns = {"ours": lambda: FluidSimulation(ours.device, w, queue=ours.queue).step(steps, wait_each)}
        if pocl:
            fns["pocl"] = lambda: PoCLFluid(pocl, w).step(steps, wait_each)
        if wait_each:
            fns["numpy"] = lambda: FluidReference(w).step(steps)
        # Construction (buffers, pipelines from the cache) is in both sides' time; it is
        # under a millisecond against the steps' hundreds.
        t = interleaved(fns, repeats=3)
        label = "wait each dispatch" if wait_each else "one wait per step"
        report(f"fluid {w}^2 x {steps}, {label}", t["ours"], t.get("pocl"), t.get("numpy"), unit="s", scale=1)


def bench_reduce(ours, pocl, n):
    rng = np.random.default_rng(1)
    a = rng.random(n, np.float32)
    groups = n // 256
    A, P = ours.buf(a), pymetallic.Buffer(ours.device, 4 * groups)
    ours.run("reduce_sum", [A, P], (groups, 1, 1), (256, 1, 1), groups=True)
    exact = a.astype(np.float64).reshape(groups, 256).sum(1)
    np.testing.assert_allclose(P.to_numpy(np.float32), exact, rtol=1e-5)
    fns = {
        "ours": ours.runner("reduce_sum", [A, P], (groups, 1, 1), (256, 1, 1), groups=True),
        "numpy": lambda: a.sum(),
    }
    if pocl:
        pa, pp = pocl.buf(a), pocl.buf(nbytes=4 * groups)
        pocl.launch("reduce_sum", (pa, pp), (n,), (256,))
        np.testing.assert_allclose(pocl.read(pp, np.float32, groups), exact, rtol=1e-5)
        fns["pocl"] = pocl.runner("reduce_sum", (pa, pp), (n,), (256,))
    t = interleaved(fns, repeats=7)
    report(
        f"reduce_sum {n / 2**20:g}M (barrier in a loop)",
        t["ours"],
        t.get("pocl"),
        t["numpy"],
        extra=f"ours {4 * n / t['ours'] / 1e9:.1f} GB/s (per-group partials; NumPy: a.sum())",
    )


# ML-style reductions with SIMD-group functions: simd_sum -> barrier -> simd_sum (every SIMD
# group reduces the partials again, as llama.cpp's and MLX's norms do). No PoCL column (OpenCL C
# sub-group functions are an extension); the fiber path of the same kernel is timed in the
# same run for the ratio (PYMETALLIC_CPU_SCHEDULE is read at each dispatch).
SIMD_MSL = r"""
#include <metal_stdlib>
using namespace metal;

kernel void reduce_sum_simd(device const float* in [[buffer(0)]], device float* partial [[buffer(1)]],
                            uint gid [[thread_position_in_grid]], uint tid [[thread_position_in_threadgroup]],
                            uint group [[threadgroup_position_in_grid]],
                            uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float sums[32];
  if (tid < 32) sums[tid] = 0.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float s = simd_sum(in[gid]);
  if (lane == 0) sums[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = simd_sum(sums[lane]);
  if (tid == 0) partial[group] = total;
}

kernel void rms_norm(device const float* x [[buffer(0)]], device const float* w [[buffer(1)]],
                     device float* y [[buffer(2)]], constant uint& d [[buffer(3)]], constant float& eps [[buffer(4)]],
                     uint row [[threadgroup_position_in_grid]], uint tid [[thread_position_in_threadgroup]],
                     uint ntg [[threads_per_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float sums[32];
  device const float* xr = x + row * d;
  device float* yr = y + row * d;
  float acc = 0.0f;
  for (uint i = tid; i < d; i += ntg) acc += xr[i] * xr[i];
  if (tid < 32) sums[tid] = 0.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float s = simd_sum(acc);
  if (lane == 0) sums[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = simd_sum(sums[lane]);
  float scale = rsqrt(total / float(d) + eps);
  for (uint i = tid; i < d; i += ntg) yr[i] = xr[i] * scale * w[i];
}
"""


class _Schedule:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        self.saved = os.environ.get("PYMETALLIC_CPU_SCHEDULE")
        os.environ["PYMETALLIC_CPU_SCHEDULE"] = self.value

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop("PYMETALLIC_CPU_SCHEDULE", None)
        else:
            os.environ["PYMETALLIC_CPU_SCHEDULE"] = self.saved


def bench_simd(ours, n, rows, d):
    lib = pymetallic.Library(ours.device, SIMD_MSL)
    pipes = {
        k: pymetallic.ComputePipelineState(ours.device, lib.make_function(k)) for k in ("reduce_sum_simd", "rms_norm")
    }

    def runner(name, buffers, groups, tg, bytes_args=(), schedule="auto"):
        def run():
            cb = ours.queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pipes[name])
            for i, b in enumerate(buffers):
                enc.set_buffer(b, 0, i)
            for value, index in bytes_args:
                enc.set_bytes(value, index)
            enc.dispatch_threadgroups(groups, tg)
            enc.end_encoding()
            with _Schedule(schedule):
                cb.commit()
                cb.wait_until_completed()
            assert cb.get_status() == 1, cb.error

        return run

    rng = np.random.default_rng(2)
    a = rng.random(n, np.float32)
    groups = n // 256
    A, P = ours.buf(a), pymetallic.Buffer(ours.device, 4 * groups)
    exact = a.astype(np.float64).reshape(groups, 256).sum(1)
    fns = {
        "ours": runner("reduce_sum_simd", [A, P], (groups, 1, 1), (256, 1, 1)),
        "fibers": runner("reduce_sum_simd", [A, P], (groups, 1, 1), (256, 1, 1), schedule="fibers"),
        "numpy": lambda: a.sum(),
    }
    for f in (fns["fibers"], fns["ours"]):  # both paths agree with float64
        f()
        np.testing.assert_allclose(P.to_numpy(np.float32), exact, rtol=1e-5)
    t = interleaved(fns, repeats=5)
    report(
        f"reduce_sum_simd {n / 2**20:g}M (simd_sum)",
        t["ours"],
        None,
        t["numpy"],
        extra=f"fibers {t['fibers'] * 1e3:.1f} ms, ours/fibers {t['ours'] / t['fibers']:.3f}",
    )

    x = rng.standard_normal((rows, d), np.float32)
    w = rng.random(d, np.float32)
    eps = 1e-5
    X, W, Y = ours.buf(x), ours.buf(w), pymetallic.Buffer(ours.device, 4 * rows * d)
    bargs = ((np.uint32(d).tobytes(), 3), (np.float32(eps).tobytes(), 4))
    x64 = x.astype(np.float64)
    ref = x64 / np.sqrt((x64 * x64).mean(1, keepdims=True) + eps) * w

    def numpy_rms():
        return x * (1.0 / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + np.float32(eps))) * w

    fns = {
        "ours": runner("rms_norm", [X, W, Y], (rows, 1, 1), (256, 1, 1), bargs),
        "fibers": runner("rms_norm", [X, W, Y], (rows, 1, 1), (256, 1, 1), bargs, schedule="fibers"),
        "numpy": numpy_rms,
    }
    for f in (fns["fibers"], fns["ours"]):
        f()
        np.testing.assert_allclose(Y.to_numpy(np.float32, (rows, d)), ref, rtol=1e-4, atol=1e-5)
    t = interleaved(fns, repeats=5)
    report(
        f"rms_norm {rows}x{d} (simd_sum, barrier, simd_sum)",
        t["ours"],
        None,
        t["numpy"],
        extra=f"fibers {t['fibers'] * 1e3:.1f} ms, ours/fibers {t['ours'] / t['fibers']:.3f}",
    )


def bench_matmul(ours, pocl, n, name):
    rng = np.random.default_rng(2)
    a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    A, B, C = ours.buf(a), ours.buf(b), pymetallic.Buffer(ours.device, 4 * n * n)
    nn = [(np.uint32(n), 3)]
    ours.run(name, [A, B, C], (n, n, 1), (16, 16, 1), nn)
    np.testing.assert_allclose(C.to_numpy(np.float32, (n, n)), exact, rtol=1e-4)
    np.testing.assert_allclose(a @ b, exact, rtol=1e-4)
    fns = {"ours": ours.runner(name, [A, B, C], (n, n, 1), (16, 16, 1), nn), "numpy": lambda: a @ b}
    if pocl:
        pa, pb, pc = pocl.buf(a), pocl.buf(b), pocl.buf(nbytes=4 * n * n)
        pargs = (pa, pb, pc, np.uint32(n))
        pocl.launch(name, pargs, (n, n), (16, 16))
        pocl.queue.finish()
        np.testing.assert_allclose(pocl.read(pc, np.float32, (n, n)), exact, rtol=1e-4)
        fns["pocl"] = pocl.runner(name, pargs, (n, n), (16, 16))
    t = interleaved(fns, repeats=3)
    report(
        f"matmul {n}^3 {name.split('_')[1]}",
        t["ours"],
        t.get("pocl"),
        t["numpy"],
        extra=f"ours {2 * n**3 / t['ours'] / 1e9:.1f} GFLOP/s",
    )


def bench_launch(ours, pocl):
    n = 2000

    def ours_no_wait():
        ours.empty_dispatches(n, wait_each=False)

    def ours_wait():
        ours.empty_dispatches(n // 4, wait_each=True)

    nw, w = {"ours": ours_no_wait}, {"ours": ours_wait}
    if pocl:
        k = pocl.kernel("empty")
        pbuf = pocl.buf(nbytes=256)  # kept alive: PyOpenCL's set_args holds no reference
        k.set_args(pbuf)
        q = pocl.queue

        def pocl_no_wait():
            for _ in range(n):
                cl.enqueue_nd_range_kernel(q, k, (32,), (32,))
            q.finish()

        def pocl_wait():
            for _ in range(n // 4):
                cl.enqueue_nd_range_kernel(q, k, (32,), (32,))
                q.finish()

        nw["pocl"], w["pocl"] = pocl_no_wait, pocl_wait
    t = interleaved(nw, repeats=7)
    report(
        "empty dispatch + commit (no wait)",
        t["ours"] / n,
        t.get("pocl", 0) / n or None,
        unit="us",
        scale=1e6,
        extra="(ours: encode + commit; PoCL: set args once, enqueue)",
    )
    t = interleaved(w, repeats=7)
    report(
        "empty dispatch + commit + wait",
        t["ours"] / (n // 4),
        t.get("pocl", 0) / (n // 4) or None,
        unit="us",
        scale=1e6,
    )


# ---------------------------------------------------------------- compile (in subprocesses)
def compile_probe(side):
    """Run in a fresh process: compile the benchmark library, make every kernel, launch each
    once on a tiny problem (PoCL builds its work-group functions at the first launch).
    Prints JSON: {"build": s, "first_launch": s, "setup": s}."""
    t0 = time.perf_counter()
    if side == "ours":
        d = pymetallic.Device.get_default_device()
        q = pymetallic.CommandQueue(d)
        t1 = time.perf_counter()
        lib = pymetallic.Library(d, MSL)
        pipes = {k: pymetallic.ComputePipelineState(d, lib.make_function(k)) for k in KERNEL_NAMES}
        t2 = time.perf_counter()
        f = pymetallic.Buffer(d, 4 * 1024)
        u = np.uint32(16)
        launches = [
            ("vector_add", [f, f, f], [], (256, 1, 1), (256, 1, 1), False),
            ("mandelbrot", [f], [(np.array([16, 16], np.uint32), 1), (u, 2)], (16, 16, 1), (16, 16, 1), False),
            ("reduce_sum", [f, f], [], (1, 1, 1), (256, 1, 1), True),
            ("matmul_naive", [f, f, f], [(u, 3)], (16, 16, 1), (16, 16, 1), False),
            ("matmul_tiled", [f, f, f], [(u, 3)], (16, 16, 1), (16, 16, 1), False),
            ("empty", [f], [], (32, 1, 1), (32, 1, 1), False),
            ("life_step", [f, f], [(u, 2)], (16, 16, 1), (16, 16, 1), False),
        ]
        for name, bufs, byts, grid, tg, groups in launches:
            cb = q.make_command_buffer()
            e = cb.make_compute_command_encoder()
            e.set_compute_pipeline_state(pipes[name])
            for i, b in enumerate(bufs):
                e.set_buffer(b, 0, i)
            for v, i in byts:
                e.set_bytes(v, i)
            (e.dispatch_threadgroups if groups else e.dispatch_threads)(grid, tg)
            e.end_encoding()
            cb.commit()
            cb.wait_until_completed()
        t3 = time.perf_counter()
    else:
        p = PoCL.__new__(PoCL)
        plats = [x for x in cl.get_platforms() if "portable" in x.name.lower()]
        p.dev = plats[0].get_devices()[0]
        p.ctx = cl.Context([p.dev])
        p.queue = cl.CommandQueue(p.ctx)
        t1 = time.perf_counter()
        prg = cl.Program(p.ctx, OPENCL).build()
        ks = {k: cl.Kernel(prg, k) for k in KERNEL_NAMES}
        t2 = time.perf_counter()
        f = p.buf(nbytes=4 * 1024)
        u = np.uint32(16)
        launches = [
            ("vector_add", (f, f, f), (256,), (256,)),
            ("mandelbrot", (f, u, u, u), (16, 16), (16, 16)),
            ("reduce_sum", (f, f), (256,), (256,)),
            ("matmul_naive", (f, f, f, u), (16, 16), (16, 16)),
            ("matmul_tiled", (f, f, f, u), (16, 16), (16, 16)),
            ("empty", (f,), (32,), (32,)),
            ("life_step", (f, f, u), (16, 16), (16, 16)),
        ]
        for name, args, g, l in launches:
            ks[name].set_args(*args)
            cl.enqueue_nd_range_kernel(p.queue, ks[name], g, l)
            p.queue.finish()
        t3 = time.perf_counter()
    print(json.dumps({"setup": t1 - t0, "build": t2 - t1, "first_launch": t3 - t2}))


def bench_compile(pocl_ok):
    def probe(side, env):
        out = subprocess.check_output(
            [sys.executable, os.path.abspath(__file__), "--_compile-probe", side], env=env, stderr=subprocess.DEVNULL
        )
        return json.loads(out.decode().strip().splitlines()[-1])

    sides = ["ours"] + (["pocl"] if pocl_ok else [])
    cold, hit = {}, {}
    for side in sides:
        colds, hits = [], []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(
                    os.environ,
                    PYMETALLIC_CACHE_DIR=os.path.join(cache, "pm"),
                    POCL_CACHE_DIR=os.path.join(cache, "pocl"),
                    XDG_CACHE_HOME=cache,
                )
                colds.append(probe(side, env))
                hits.extend(probe(side, env) for _ in range(3))
        cold[side] = min(colds, key=lambda r: r["build"] + r["first_launch"])
        hit[side] = min(hits, key=lambda r: r["build"] + r["first_launch"])

    def tot(r):
        return r["build"] + r["first_launch"] if r else None

    def detail(d, prec):
        return ", ".join(
            f"{s}: build {d[s]['build'] * 1e3:.{prec}f} + first launches {d[s]['first_launch'] * 1e3:.{prec}f} ms"
            for s in d
        )

    report(
        "compile: cold (fresh caches, new process)",
        tot(cold["ours"]),
        tot(cold.get("pocl")),
        unit="s",
        scale=1,
        extra=detail(cold, 0),
    )
    report(
        "compile: cache hit (new process)",
        tot(hit["ours"]),
        tot(hit.get("pocl")),
        unit="ms",
        scale=1e3,
        extra=detail(hit, 2),
    )


# ---------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--only", help="comma-separated rows: vadd,mandel,life,fluid,reduce,simd,matmul,launch,compile")
    parser.add_argument("--_compile-probe", dest="probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        compile_probe(args.probe)
        return
    device = pymetallic.Device.get_default_device()
    if device.kind != "cpu":
        sys.exit(f"the default device is {device.kind}: run with PYMETALLIC_DEVICE=cpu")
    pocl, pocl_note = None, CL_ERROR
    if cl is not None:
        try:
            pocl = PoCL()
            pocl_note = f"{pocl.platform.version} on {pocl.dev.name}; PyOpenCL {cl.VERSION_TEXT}"
        except Exception as e:  # pragma: no cover
            pocl_note = f"PoCL unavailable: {e}"
    print(
        f"{time.strftime('%Y-%m-%d')}  {device.name}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"NumPy {np.__version__}; {pocl_note}",
        flush=True,
    )
    only = set(args.only.split(",")) if args.only else None

    def want(row):
        return only is None or row in only

    ours = Ours(device)
    q = args.quick
    if want("vadd"):
        bench_vector_add(ours, pocl, 2**20 if q else 2**24)
    if want("mandel"):
        bench_mandelbrot(ours, pocl, 256 if q else 1024, 256)
    if want("life"):
        bench_life(ours, pocl, 128 if q else 512, 20 if q else 200)
    if want("fluid"):
        bench_fluid(ours, pocl, 128 if q else 512, 10 if q else 100)
    if want("reduce"):
        bench_reduce(ours, pocl, 2**20 if q else 2**24)
    if want("simd"):
        bench_simd(ours, 2**20 if q else 2**22, 64 if q else 1024, 4096)
    if want("matmul"):
        for name in ("matmul_naive", "matmul_tiled"):
            bench_matmul(ours, pocl, 256 if q else 1024, name)
    if want("launch"):
        bench_launch(ours, pocl)
    if want("compile"):
        bench_compile(pocl is not None)
    write_json(
        args.json,
        {
            "device": device.name,
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
            "pocl": pocl_note,
            "numpy": np.__version__,
            "quick": bool(q),
            "rows": RESULTS,
        },
    )


if __name__ == "__main__":
    main()
