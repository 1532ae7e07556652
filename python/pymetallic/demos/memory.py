"""The memory demo: coalesced and strided copies, blits, fills, private buffers and NumPy views."""

from __future__ import annotations

import time

import numpy as np

from .._api import Buffer
from ..kernels import HELPERS
from ..metallic import async_buffer_from_numpy, fill_u32, scalar_add
from .base import DemoBase


class MemoryDemos(DemoBase):
    """``demo_memory_patterns``."""

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
