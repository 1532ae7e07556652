"""The system demos: devices and compilers, vector-add bandwidth, and error handling."""

from __future__ import annotations

import time

import numpy as np

from .._api import Buffer, CommandQueue, Device
from ..errors import CompileError, MetalError, ValidationError
from ..kernel import kernel_cache
from ..kernels import VECTOR_OPS
from ..metallic import fill_u32
from .base import DemoBase


class SystemDemos(DemoBase):
    """``demo_device_info``, ``demo_performance_benchmark`` and ``demo_error_handling``."""

    def demo_device_info(self):
        """Every device with its limits, and the compilers found; a tiny kernel on each."""
        self._header("Device information")
        from .. import _core

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
