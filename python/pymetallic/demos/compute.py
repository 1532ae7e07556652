"""The compute demos: vector kernels, matrix operations and the Mandelbrot set."""

from __future__ import annotations

import math
import time

import numpy as np

from .. import gif as _gif
from .._api import Buffer
from ..kernels import LINEAR_ALGEBRA, MANDELBROT, VECTOR_OPS
from . import reference as ref
from .base import DemoBase


class ComputeDemos(DemoBase):
    """``demo_basic_compute``, ``demo_matrix_operations`` and ``demo_advanced_features``."""

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
