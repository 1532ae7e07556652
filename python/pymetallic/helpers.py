"""The original pymetallic's demos: ``MetallicDemo`` and the ``metallic-demo`` and
``metallic-smoke`` console scripts.

Each ``demo_*`` method runs its kernels, prints what it did and a timing line
(``⏱ Elapsed … sec for N steps, average = …``), checks its result against NumPy, and
returns a dict with at least ``ok`` (True, False, or None when skipped) and ``elapsed``.
``MetallicDemo(quick=True)`` uses small sizes (tests, smoke runs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from . import gif as _gif
from ._api import Buffer, CommandQueue, Device
from .demos.fluid import FluidReference, FluidSimulation
from .demos.life import LifeSimulation, life_reference
from .demos import reference as ref
from .errors import CompileError, MetalError, ValidationError
from .kernels import HELPERS, IMAGE_PROCESSING, IMAGE_TEXTURE, LINEAR_ALGEBRA, MANDELBROT, VECTOR_OPS
from .metallic import fill_u32, kernel_cache, async_buffer_from_numpy, scalar_add

# Canonical demo names, in run order, and the method behind each.
_DEMOS = [
    ("basic", "demo_basic_compute"),
    ("matrix", "demo_matrix_operations"),
    ("advanced", "demo_advanced_features"),
    ("memory", "demo_memory_patterns"),
    ("image", "demo_image_processing"),
    ("life", "demo_cellular_automata"),
    ("fluid", "demo_fluid_dynamics"),
    ("device_info", "demo_device_info"),
    ("performance", "demo_performance_benchmark"),
    ("errors", "demo_error_handling"),
]

ALIASES = {
    "basic_compute": "basic",
    "matrix_operations": "matrix",
    "mandelbrot": "advanced",
    "advanced_features": "advanced",
    "memory_patterns": "memory",
    "image_processing": "image",
    "cellular": "life",
    "cellular_automata": "life",
    "conway": "life",
    "fluid_dynamics": "fluid",
    "cfd": "fluid",
    "info": "device_info",
    "device": "device_info",
    "performance_benchmark": "performance",
    "bench": "performance",
    "benchmark": "performance",
    "error_handling": "errors",
    "error": "errors",
}

LIFE_PALETTE = np.zeros((256, 3), np.uint8)
LIFE_PALETTE[0] = (12, 16, 28)
LIFE_PALETTE[1:] = (120, 230, 140)


def demo_names():
    """The canonical demo names, in the order ``run_complete_demo`` runs them."""
    return [name for name, _ in _DEMOS]


def resolve_demo_name(name):
    """A canonical demo name for ``name`` or one of its aliases; ValueError if unknown."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in demo_names():
        raise ValueError(f"unknown demo {name!r}; choose from: {', '.join(demo_names())} (or 'all')")
    return key


def timing_line(elapsed, steps):
    """The original's timing line."""
    return f"⏱ Elapsed {elapsed:.3f} sec for {steps} steps, average = {elapsed / max(steps, 1):.4f} sec"


class MetallicDemo:
    """The demos of the original package, on ``device`` (the default device if None).

    ``quiet`` silences printing; ``out_path`` is the folder for GIFs and PNGs (default
    ``demo_output``); ``quick`` picks small sizes; ``write_files=False`` skips images.
    """

    def __init__(self, quiet=False, out_path=None, device=None, quick=False, write_files=True, progress=None):
        self.quiet = quiet
        self.out_path = out_path or "demo_output"
        self.device = device or Device.get_default_device()
        self.queue = CommandQueue(self.device)
        self.quick = quick
        self.write_files = write_files
        self.results = {}
        stream = sys.stderr
        self._progress_on = (not quiet) and (progress if progress is not None else stream.isatty())

    # ---------------------------------------------------------------- small utilities
    def _print(self, *args):
        if not self.quiet:
            print(*args, flush=True)

    def _header(self, title):
        self._print(f"\n=== {title} ===  [{self.device.name} ({self.device.kind})]")

    def _timing(self, elapsed, steps):
        self._print("  " + timing_line(elapsed, steps))

    def _check(self, what, ok, detail=""):
        mark = "✓" if ok else "✗"
        verdict = "matches NumPy" if ok else "does NOT match NumPy"
        self._print(f"  {mark} {what} {verdict}{(' (' + detail + ')') if detail else ''}")
        return bool(ok)

    def _progress(self, label, i, n):
        if self._progress_on and (i == n or i % max(1, n // 50) == 0):
            end = "\n" if i == n else ""
            sys.stderr.write(f"\r  {label}: {i}/{n}{end}")
            sys.stderr.flush()

    def _size(self, value, full, quick):
        if value is not None:
            return value
        return quick if self.quick else full

    def _out(self, name):
        os.makedirs(self.out_path, exist_ok=True)
        return os.path.join(self.out_path, name)

    def _pipeline(self, source, name):
        return kernel_cache.get(self.device, source, name)

    def _dispatch(self, pipeline, buffers, grid, tg=None, bytes_args=(), cb=None):
        """Encodes one dispatch; commits and waits unless ``cb`` is given."""
        own = cb is None
        cb = cb or self.queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipeline)
        for i, b in enumerate(buffers):
            enc.set_buffer(b, 0, i)
        for data, index in bytes_args:
            enc.set_bytes(data, index)
        grid = tuple(grid) + (1,) * (3 - len(grid))
        if tg is None:
            tg = (min(grid[0], 256), 1, 1) if grid[1] == 1 else (min(grid[0], 64), min(grid[1], 4), 1)
        enc.dispatch_threads(grid, tg)
        enc.end_encoding()
        if own:
            cb.commit()
            cb.wait_until_completed()
            if cb.get_status() != 1:
                raise MetalError(f"dispatch failed: {cb.error}")
        return cb

    def _buf(self, array):
        return Buffer.from_numpy(self.device, array)

    def _result(self, name, ok, elapsed, **extra):
        res = {"name": name, "ok": ok, "elapsed": elapsed, **extra}
        self.results[name] = res
        return res

    # ---------------------------------------------------------------- demos
    def demo_basic_compute(self, n=None):
        """Element-wise vector kernels (add, multiply, saxpy, math functions)."""
        self._header("Basic compute: vector operations")
        n = self._size(n, 1 << 20, 4096)
        rng = np.random.default_rng(1)
        a = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        ba, bb, bo = self._buf(a), self._buf(b), Buffer(self.device, a.nbytes)
        out = bo.to_numpy(np.float32, (n,))
        alpha = np.float32(2.5)
        cases = [
            ("vector_add", [], a + b),
            ("vector_multiply", [], a * b),
            ("saxpy", [(alpha, 3)], alpha * a + b),
            ("vector_math", [], np.sqrt(np.abs(a)) + np.sin(b) * np.exp(-b * b)),
        ]
        ok, t0 = True, time.perf_counter()
        for name, extra, expected in cases:
            self._dispatch(self._pipeline(VECTOR_OPS, name), [ba, bb, bo], (n,), bytes_args=extra)
            good = np.allclose(out, expected, rtol=1e-5, atol=1e-5)
            ok &= self._check(f"{name} on {n:,} floats", good)
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, len(cases))
        return self._result("basic", ok, elapsed, steps=len(cases), n=n)

    def demo_matrix_operations(self, size=None, tiled_size=None):
        """Matrix multiply (naive and 16x16 tiled with threadgroup memory), transpose, matvec."""
        self._header("Matrix operations")
        m = self._size(size, 256, 40)
        t = self._size(tiled_size, 128, 24)
        rng = np.random.default_rng(2)
        ok, t0 = True, time.perf_counter()
        for name, dim in (("matmul_naive", m), ("matmul_tiled", t)):
            A = rng.standard_normal((dim, dim + 3)).astype(np.float32)
            B = rng.standard_normal((dim + 3, dim - 1)).astype(np.float32)
            M, K, N = A.shape[0], A.shape[1], B.shape[1]
            C = Buffer(self.device, M * N * 4)
            dims = np.array([M, N, K], np.uint32)
            ts = time.perf_counter()
            if name == "matmul_tiled":
                grid = (-(-N // 16) * 16, -(-M // 16) * 16, 1)
                self._dispatch(
                    self._pipeline(LINEAR_ALGEBRA, name),
                    [self._buf(A), self._buf(B), C],
                    grid,
                    (16, 16, 1),
                    [(dims, 3)],
                )
            else:
                self._dispatch(
                    self._pipeline(LINEAR_ALGEBRA, name), [self._buf(A), self._buf(B), C], (N, M, 1), None, [(dims, 3)]
                )
            dt = time.perf_counter() - ts
            got = C.to_numpy(np.float32, (M, N))
            expected = A.astype(np.float64) @ B.astype(np.float64)
            gflops = 2 * M * N * K / dt / 1e9
            ok &= self._check(
                f"{name} {M}x{K} @ {K}x{N} ({gflops:.2f} GFLOP/s)",
                np.allclose(got, expected, rtol=1e-4, atol=1e-4 * math.sqrt(K)),
            )
        A = rng.standard_normal((m // 2 + 1, m)).astype(np.float32)
        T = Buffer(self.device, A.nbytes)
        self._dispatch(
            self._pipeline(LINEAR_ALGEBRA, "transpose"),
            [self._buf(A), T],
            (A.shape[1], A.shape[0], 1),
            None,
            [(np.array([A.shape[1], A.shape[0]], np.uint32), 2)],
        )
        ok &= self._check(
            f"transpose {A.shape[0]}x{A.shape[1]}", np.array_equal(T.to_numpy(np.float32, A.T.shape), A.T)
        )
        x = rng.standard_normal(A.shape[1]).astype(np.float32)
        y = Buffer(self.device, A.shape[0] * 4)
        self._dispatch(
            self._pipeline(LINEAR_ALGEBRA, "matvec"),
            [self._buf(A), self._buf(x), y],
            (A.shape[0],),
            None,
            [(np.uint32(A.shape[1]), 3)],
        )
        ok &= self._check(
            "matvec",
            np.allclose(y.to_numpy(np.float32), A.astype(np.float64) @ x, rtol=1e-4, atol=1e-4 * math.sqrt(A.shape[1])),
        )
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, 4)
        return self._result("matrix", ok, elapsed, steps=4)

    def demo_advanced_features(self, width=None, height=None, max_iter=256):
        """Mandelbrot set (a 2-D grid, a struct of parameters), written as a PNG."""
        self._header("Advanced features: Mandelbrot set")
        w = self._size(width, 1024, 96)
        h = self._size(height, 768, 72)
        x_min, y_min, scale = ref.mandelbrot_view(w, h)
        params = np.zeros(
            1, dtype=[("w", "<u4"), ("h", "<u4"), ("it", "<u4"), ("x", "<f4"), ("y", "<f4"), ("s", "<f4")]
        )
        params[0] = (w, h, max_iter, x_min, y_min, scale)
        out = Buffer(self.device, w * h * 4)
        pso = self._pipeline(MANDELBROT, "mandelbrot")
        self._dispatch(pso, [out], (w, h, 1), (64, 4, 1), [(params, 1)])  # warm-up
        t0 = time.perf_counter()
        self._dispatch(pso, [out], (w, h, 1), (64, 4, 1), [(params, 1)])
        elapsed = time.perf_counter() - t0
        self._print(f"  {w}x{h} pixels, {max_iter} iterations max")
        self._timing(elapsed, 1)
        got = out.to_numpy(np.uint32, (h, w)).copy()
        expected = ref.mandelbrot_reference(w, h, max_iter, x_min, y_min, scale)
        # Points on the set's boundary are chaotic: one rounding difference (an FMA the
        # device contracts, say) changes their count. Nearly all pixels must agree exactly.
        agree = float(np.mean(got == expected))
        ok = self._check("iteration counts", agree >= 0.995, f"{agree * 100:.3f}% of pixels identical")
        files = []
        if self.write_files:
            frac = np.where(got >= max_iter, 0.0, np.sqrt(got / max_iter))
            files.append(_gif.save_png(self._out("mandelbrot.png"), _gif.to_indices(frac), _gif.colormap()))
            self._print(f"  wrote {files[-1]}")
        return self._result("advanced", ok, elapsed, steps=1, files=files, agreement=agree)

    def demo_memory_patterns(self, n=None):
        """Coalesced vs strided copies, blits, fills, private buffers and NumPy views."""
        self._header("Memory patterns")
        n = self._size(n, 1 << 22, 1 << 14)
        rng = np.random.default_rng(3)
        src_np = rng.standard_normal(n).astype(np.float32)
        src, dst = self._buf(src_np), Buffer(self.device, src_np.nbytes)
        out = dst.to_numpy(np.float32, (n,))
        ok, t0 = True, time.perf_counter()

        def timed(label, fn, nbytes):
            fn()
            ts = time.perf_counter()
            fn()
            dt = time.perf_counter() - ts
            self._print(f"  {label:<34} {dt * 1e3:8.3f} ms  {nbytes / dt / 1e9:7.2f} GB/s")

        copy = self._pipeline(HELPERS, "copy_f32")
        timed("coalesced copy (kernel)", lambda: self._dispatch(copy, [src, dst], (n,)), 2 * src_np.nbytes)
        ok &= self._check("coalesced copy", np.array_equal(out, src_np))
        stride = 33
        strided = self._pipeline(HELPERS, "strided_copy_f32")
        timed(
            f"strided read (stride {stride})",
            lambda: self._dispatch(strided, [src, dst], (n,), None, [(np.array([n, stride], np.uint32), 2)]),
            2 * src_np.nbytes,
        )
        ok &= self._check("strided copy", np.array_equal(out, src_np[(np.arange(n, dtype=np.uint64) * stride) % n]))

        def blit_copy():
            cb = self.queue.make_command_buffer()
            blit = cb.make_blit_command_encoder()
            blit.copy_from_buffer(src, 0, dst, 0, src_np.nbytes)
            blit.end_encoding()
            cb.commit()
            cb.wait_until_completed()

        out[:] = 0
        timed("blit copy", blit_copy, 2 * src_np.nbytes)
        ok &= self._check("blit copy", np.array_equal(out, src_np))

        cb = self.queue.make_command_buffer()
        blit = cb.make_blit_command_encoder()
        blit.fill_buffer(dst, range(0, src_np.nbytes), 0x3F)
        blit.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        ok &= self._check("blit fill (byte 0x3F)", np.all(dst.to_numpy(np.uint8) == 0x3F))
        fill_u32(self.device, dst, 0xDEADBEEF)
        ok &= self._check("fill_u32", np.all(dst.to_numpy(np.uint32) == 0xDEADBEEF))

        # A private (device-only) buffer, filled by a staged blit and read back through a copy.
        cb = self.queue.make_command_buffer()
        private = async_buffer_from_numpy(self.device, src_np, cb)
        blit = cb.make_blit_command_encoder()
        blit.copy_from_buffer(private, 0, dst, 0, src_np.nbytes)
        blit.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        ok &= self._check("private buffer round trip", np.array_equal(out, src_np))

        # to_numpy is a view: writes through it are seen by the next kernel.
        out[:] = 1.0
        scalar_add(self.device, dst, 2.0)
        ok &= self._check("write through a to_numpy view, then scalar_add", np.all(out == 3.0))
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, 7)
        return self._result("memory", ok, elapsed, steps=7, n=n)

    def demo_image_processing(self, width=None, height=None, level=0.35):
        """Buffer pipeline (grayscale -> Gaussian blur -> Sobel -> threshold, one command
        buffer), then a 3x3 box blur through textures."""
        self._header("Image processing")
        w = self._size(width, 512, 64)
        h = self._size(height, 384, 48)
        rgb = ref.synthetic_image(w, h)
        size = np.array([w, h], np.uint32)
        b_rgb = self._buf(rgb)
        gray, blur, edges = (Buffer(self.device, w * h * 4) for _ in range(3))
        mask = Buffer(self.device, w * h)
        P = {k: self._pipeline(IMAGE_PROCESSING, k) for k in ("rgb_to_gray", "gaussian_blur3x3", "sobel", "threshold")}

        def pipeline():
            cb = self.queue.make_command_buffer()
            self._dispatch(P["rgb_to_gray"], [b_rgb, gray], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["gaussian_blur3x3"], [gray, blur], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["sobel"], [blur, edges], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["threshold"], [edges, mask], (w * h,), None, [(np.float32(level), 2)], cb=cb)
            cb.commit()
            cb.wait_until_completed()

        pipeline()
        t0 = time.perf_counter()
        pipeline()
        elapsed = time.perf_counter() - t0
        self._print(f"  {w}x{h} RGB image: grayscale -> blur -> Sobel -> threshold (4 dispatches, 1 command buffer)")
        self._timing(elapsed, 1)
        g_ref = ref.gray_reference(rgb)
        b_ref = ref.blur3x3_reference(g_ref)
        e_ref = ref.sobel_reference(b_ref)
        ok = self._check("grayscale", np.allclose(gray.to_numpy(np.float32, (h, w)), g_ref, atol=1e-5))
        ok &= self._check("Gaussian blur", np.allclose(blur.to_numpy(np.float32, (h, w)), b_ref, atol=1e-5))
        e_got = edges.to_numpy(np.float32, (h, w))
        ok &= self._check("Sobel", np.allclose(e_got, e_ref, atol=1e-4))
        m_got = mask.to_numpy(np.uint8, (h, w))
        clear = np.abs(e_ref - level) > 1e-4  # pixels not on the threshold's edge
        ok &= self._check("threshold", np.array_equal(m_got[clear], np.where(e_ref > level, 255, 0)[clear]))
        files = []
        if self.write_files:
            files.append(_gif.save_png(self._out("image_input.png"), rgb))
            files.append(_gif.save_png(self._out("image_edges.png"), _gif.to_indices(e_got, 0, 2.0)))
            files.append(_gif.save_png(self._out("image_mask.png"), m_got))
            self._print(f"  wrote {', '.join(files)}")
        texture = self._texture_blur(g_ref)
        return self._result("image", ok, elapsed, steps=1, files=files, texture=texture)

    def _texture_blur(self, gray_np):
        """The texture version of a 3x3 box blur; 'skipped' where textures are missing."""
        try:
            pso = self._pipeline(IMAGE_TEXTURE, "texture_box_blur")
            make_texture = getattr(self.device, "make_texture", None)
            if make_texture is None:
                raise MetalError("textures are not supported yet")
            h, w = gray_np.shape
            src = make_texture(gray_np.astype(np.float32))
            dst = make_texture(np.zeros_like(gray_np, dtype=np.float32))
            cb = self.queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pso)
            enc.set_texture(src, 0)
            enc.set_texture(dst, 1)
            enc.dispatch_threads((w, h, 1), (16, 16, 1))
            enc.end_encoding()
            cb.commit()
            cb.wait_until_completed()
            got = np.asarray(dst.to_numpy(np.float32)).reshape(h, w)
            ok = self._check("texture box blur", np.allclose(got, ref.box3x3_reference(gray_np), atol=1e-5))
            return "ok" if ok else "mismatch"
        except MetalError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self._print(f"  texture blur: skipped: textures not supported yet on {self.device.name} ({first})")
            return "skipped"

    def demo_cellular_automata(self, size=None, steps=None, frame_every=2, wait_each_step=True):
        """Conway's Game of Life on a torus, written as an animated GIF."""
        self._header("Cellular automata: Conway's Game of Life")
        n = self._size(size, 512, 64)
        steps = self._size(steps, 200, 24)
        sim = LifeSimulation(self.device, n, n, queue=self.queue, seed=7)
        start = sim.board.copy()
        frames = [start.copy()]
        self._print(
            f"  {n}x{n} board, {steps} generations, "
            f"{'a command buffer per step, waiting on each' if wait_each_step else 'one command buffer'}"
        )
        t0 = time.perf_counter()
        if wait_each_step:
            for i in range(1, steps + 1):
                sim.step(1)
                if i % frame_every == 0:
                    frames.append(sim.board.copy())
                self._progress("life", i, steps)
        else:
            sim.step(steps, wait_each_step=False)
            frames.append(sim.board.copy())
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, steps)
        ok = self._check(
            f"board after {steps} generations",
            np.array_equal(sim.board, life_reference(start, steps)),
            f"{int(sim.board.sum())} cells alive",
        )
        files = []
        if self.write_files:
            files.append(_gif.save_gif(self._out("cellular.gif"), frames, LIFE_PALETTE, duration_ms=50))
            self._print(f"  wrote {files[-1]} ({len(frames)} frames)")
        return self._result("life", ok, elapsed, steps=steps, files=files)

    def demo_fluid_dynamics(self, size=None, steps=None, frame_every=2, wait_each_dispatch=True, compare_modes=True):
        """2-D stable fluids: semi-Lagrangian advection, divergence, 20 Jacobi pressure
        iterations and gradient subtraction per step, written as a colourised GIF."""
        self._header("Fluid dynamics: 2-D stable fluids")
        n = self._size(size, 512, 48)
        steps = self._size(steps, 100, 6)
        sim = FluidSimulation(self.device, n, n, queue=self.queue)
        per_step = 4 + sim.config.jacobi_iterations + 1
        mode = "a command buffer per dispatch, waiting on each" if wait_each_dispatch else "one command buffer per step"
        self._print(
            f"  {n}x{n} grid, {steps} steps, {per_step} dispatches per step "
            f"({sim.config.jacobi_iterations} Jacobi iterations), {mode}"
        )
        cmap = _gif.colormap()
        frames = []
        t0 = time.perf_counter()
        for i in range(1, steps + 1):
            sim.step(1, wait_each_dispatch=wait_each_dispatch)
            if i % frame_every == 0 or i == steps:
                frames.append(_gif.to_indices(sim.dye))
            self._progress("fluid", i, steps)
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, steps)
        timings = {"wait_each_dispatch" if wait_each_dispatch else "per_step": elapsed}

        # Check: one more step from the final state, on the device and in NumPy.
        check = FluidReference(n, n)
        check.velocity, check.dye, check.pressure = sim.velocity.copy(), sim.dye.copy(), sim.pressure.copy()
        check.step_count = sim.step_count
        sim.step(1)
        check.step(1)
        err = max(float(np.abs(sim.velocity - check.velocity).max()), float(np.abs(sim.dye - check.dye).max()))
        scale = max(1.0, float(np.abs(check.velocity).max()))
        ok = self._check(
            "one step from the final state",
            err <= 1e-4 * scale,
            f"max difference {err:.2e}, max speed {float(np.abs(check.velocity).max()):.2f} cells/step",
        )

        if compare_modes:
            other = not wait_each_dispatch
            sim2 = FluidSimulation(self.device, n, n, queue=self.queue)
            sim2.step(1, wait_each_dispatch=other)
            t1 = time.perf_counter()
            sim2.step(steps, wait_each_dispatch=other)
            e2 = time.perf_counter() - t1
            label = "a command buffer per dispatch" if other else "one command buffer per step"
            self._print(f"  same run with {label} (no frames):")
            self._timing(e2, steps)
            timings["wait_each_dispatch" if other else "per_step"] = e2
        files = []
        if self.write_files:
            files.append(_gif.save_gif(self._out("fluid_dynamics.gif"), frames, cmap, duration_ms=60))
            self._print(f"  wrote {files[-1]} ({len(frames)} frames)")
        return self._result("fluid", ok, elapsed, steps=steps, files=files, timings=timings, error=err)

    def demo_device_info(self):
        """Every device with its limits, and the compilers found; a tiny kernel on each."""
        self._header("Device information")
        from . import _core

        t0 = time.perf_counter()
        ok = True
        for dev in Device.get_all_devices():
            self._print(f"  {dev.kind:5} {dev.name}")
            self._print(
                f"        working set {dev.recommended_working_set_size / 2**30:.1f} GiB, "
                f"unified memory {dev.has_unified_memory}, max threads/threadgroup "
                f"{dev.max_threads_per_threadgroup}, threadgroup memory "
                f"{dev.max_threadgroup_memory_length // 1024} KiB"
            )
            a = np.arange(256, dtype=np.float32)
            bo = Buffer(dev, a.nbytes)
            q = CommandQueue(dev)
            cb = q.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(kernel_cache.get(dev, VECTOR_OPS, "vector_add"))
            ba = Buffer.from_numpy(dev, a)
            enc.set_buffer(ba, 0, 0)
            enc.set_buffer(ba, 0, 1)
            enc.set_buffer(bo, 0, 2)
            enc.dispatch_threads((256, 1, 1), (64, 1, 1))
            enc.end_encoding()
            cb.commit()
            cb.wait_until_completed()
            ok &= self._check(f"vector_add on {dev.kind}", np.array_equal(bo.to_numpy(np.float32), 2 * a))
        for kind, found in sorted(_core.toolchains().items()):
            self._print(f"  compiler {kind:6}: {found}")
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, 1)
        return self._result("device_info", ok, elapsed, steps=1)

    def demo_performance_benchmark(self, sizes=None, repeats=None):
        """Vector add bandwidth over sizes, against NumPy."""
        self._header("Performance benchmark: vector add")
        sizes = sizes or ([1 << 16] if self.quick else [1 << 20, 1 << 22, 1 << 24])
        repeats = self._size(repeats, 10, 3)
        pso = self._pipeline(VECTOR_OPS, "vector_add")
        ok, total, steps = True, 0.0, 0
        self._print(f"  {'elements':>12} {'device ms':>10} {'GB/s':>8} {'NumPy ms':>10} {'GB/s':>8}")
        for n in sizes:
            a = np.random.default_rng(n).random(n, dtype=np.float32)
            b = np.ones(n, np.float32)
            ba, bb, bo = self._buf(a), self._buf(b), Buffer(self.device, a.nbytes)
            self._dispatch(pso, [ba, bb, bo], (n,))
            t0 = time.perf_counter()
            for _ in range(repeats):
                self._dispatch(pso, [ba, bb, bo], (n,))
            dt = (time.perf_counter() - t0) / repeats
            total += dt * repeats
            steps += repeats
            c = np.empty_like(a)
            np.add(a, b, out=c)
            t0 = time.perf_counter()
            for _ in range(repeats):
                np.add(a, b, out=c)
            dn = (time.perf_counter() - t0) / repeats
            nbytes = 3 * a.nbytes
            self._print(
                f"  {n:>12,} {dt * 1e3:10.3f} {nbytes / dt / 1e9:8.2f} {dn * 1e3:10.3f} {nbytes / dn / 1e9:8.2f}"
            )
            ok &= np.array_equal(bo.to_numpy(np.float32), c)
        self._check("every vector add", ok)
        self._timing(total, steps)
        return self._result("performance", ok, total, steps=steps)

    def demo_error_handling(self):
        """The errors a user meets first: each raised as the documented MetalError subclass,
        with the device still usable afterwards."""
        self._header("Error handling")
        t0 = time.perf_counter()
        bad = (
            "#include <metal_stdlib>\nusing namespace metal;\n"
            "kernel void broken(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
            "    a[i] = undefined_name;\n}\n"
        )
        good_buf = Buffer(self.device, 64)
        cases = [
            ("compile error", CompileError, lambda: kernel_cache.get(self.device, bad, "broken")),
            ("missing function", MetalError, lambda: self._pipeline(VECTOR_OPS, "no_such_kernel")),
            ("to_numpy with a wrong shape", MetalError, lambda: good_buf.to_numpy(np.float32, (5, 5))),
            (
                "set_bytes with an untyped Python float",
                ValidationError,
                lambda: self.queue.make_command_buffer().make_compute_command_encoder().set_bytes(1.5, 0),
            ),
            ("unknown storage mode", ValueError, lambda: Buffer(self.device, 64, 7)),
            ("fill_u32 past the end", ValidationError, lambda: fill_u32(self.device, good_buf, 1, 1000)),
        ]
        ok = True
        for what, expected, fn in cases:
            try:
                fn()
            except expected as e:
                first = str(e).strip().splitlines()
                detail = first[1] if what == "compile error" and len(first) > 1 else (first[0] if first else "")
                self._print(f"  ✓ {what}: {type(e).__name__}: {detail[:110]}")
            except Exception as e:  # noqa: BLE001 - the demo reports any wrong error type
                ok = False
                self._print(f"  ✗ {what}: expected {expected.__name__}, got {type(e).__name__}: {e}")
            else:
                ok = False
                self._print(f"  ✗ {what}: no error was raised")
        a = np.arange(64, dtype=np.float32)
        ba, bo = self._buf(a), Buffer(self.device, a.nbytes)
        self._dispatch(self._pipeline(VECTOR_OPS, "vector_add"), [ba, ba, bo], (64,))
        ok &= self._check("a kernel after the errors", np.array_equal(bo.to_numpy(np.float32), 2 * a))
        elapsed = time.perf_counter() - t0
        self._timing(elapsed, len(cases))
        return self._result("errors", ok, elapsed, steps=len(cases))

    # ---------------------------------------------------------------- running several
    def get_demos(self):
        """{name: bound demo method}, in run order."""
        return {name: getattr(self, method) for name, method in _DEMOS}

    def run(self, names=None):
        """Runs the named demos (all by default); returns {name: result}. A demo that raises
        is reported and counted as failed; the others still run."""
        demos = self.get_demos()
        chosen = demo_names() if not names or "all" in names else [resolve_demo_name(n) for n in names]
        results = {}
        for name in chosen:
            try:
                results[name] = demos[name]()
            except Exception as e:  # noqa: BLE001 - one failing demo must not stop the rest
                self._print(f"  ✗ demo '{name}' failed: {type(e).__name__}: {e}")
                results[name] = {"name": name, "ok": False, "error": f"{type(e).__name__}: {e}"}
        return results

    def run_complete_demo(self):
        """Every demo in order, then a summary. Returns {name: result}."""
        results = self.run()
        self._print_summary(results)
        return results

    def _print_summary(self, results):
        self._print("\n=== Summary ===")
        for name, res in results.items():
            mark = {True: "✓", False: "✗", None: "-"}[res.get("ok")]
            t = res.get("elapsed")
            self._print(f"  {mark} {name:<12} {'' if t is None else f'{t:8.3f} s'}")


def get_demos(demo=None):
    """{name: demo callable} on a new (or the given) ``MetallicDemo``."""
    return (demo or MetallicDemo()).get_demos()


def run_complete_demo(quiet=False, out_path=None, quick=False):
    """Runs every demo; returns {name: result}."""
    return MetallicDemo(quiet=quiet, out_path=out_path, quick=quick).run_complete_demo()


# ---------------------------------------------------------------- console scripts


def _demo_parser(prog="metallic-demo"):
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run pymetallic's demos: each prints its timing and whether it matched NumPy.",
        epilog="demos: " + ", ".join(demo_names()) + " (aliases: " + ", ".join(sorted(ALIASES)) + ")",
    )
    p.add_argument("--demos", nargs="+", default=["all"], metavar="NAME", help="demos to run, or 'all' (default)")
    p.add_argument(
        "--out_dir", "--out-dir", default="demo_output", help="folder for GIFs and PNGs (default demo_output)"
    )
    p.add_argument(
        "--quick_test", "--quick-test", action="store_true", help="small sizes: a fast check that everything works"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    p.add_argument("--verbose", "-v", action="store_true", help="full details on errors")
    return p


def run_demos_cli(names, out_dir, quick, quiet=False, verbose=False):
    """Shared by ``metallic-demo`` and ``pymetallic demo``: returns an exit status."""
    try:
        if names and "all" not in names:
            names = [resolve_demo_name(n) for n in names]
        demo = MetallicDemo(quiet=quiet, out_path=out_dir, quick=quick)
    except (ValueError, MetalError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        if verbose:
            print(str(e), file=sys.stderr)
        return 2
    results = demo.run(names)
    if not quiet or len(results) > 1:
        quiet_saved, demo.quiet = demo.quiet, False
        demo._print_summary(results)
        demo.quiet = quiet_saved
    failed = [n for n, r in results.items() if r.get("ok") is False]
    if failed:
        print(f"error: {len(failed)} demo(s) failed: {', '.join(failed)}", file=sys.stderr)
        if verbose:
            for n in failed:
                if "error" in results[n]:
                    print(f"  {n}: {results[n]['error']}", file=sys.stderr)
        return 1
    return 0


def demo_main(argv=None):
    """``metallic-demo``: runs the demos."""
    args = _demo_parser().parse_args(argv)
    return run_demos_cli(args.demos, args.out_dir, args.quick_test, args.quiet, args.verbose)


def smoke_main(argv=None):
    """``metallic-smoke``: a quick self-test (vector add, Life, one fluid step) on the
    default device; exit status 0 when everything matched NumPy."""
    p = argparse.ArgumentParser(
        prog="metallic-smoke", description="Quick self-test of pymetallic on the default device."
    )
    p.add_argument("--verbose", "-v", action="store_true", help="full details on errors")
    args = p.parse_args(argv)
    from .metallic import run_simple_compute_example

    try:
        ok = bool(run_simple_compute_example())
        demo = MetallicDemo(quiet=False, quick=True, write_files=False)
        ok &= bool(demo.demo_cellular_automata(size=32, steps=8)["ok"])
        ok &= bool(demo.demo_fluid_dynamics(size=24, steps=2, compare_modes=False)["ok"])
    except MetalError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        if args.verbose:
            print(str(e), file=sys.stderr)
        return 1
    print("SMOKE OK" if ok else "SMOKE FAILED")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(demo_main())
