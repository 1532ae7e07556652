"""Our side of every benchmark: the MSL kernels of bench/gpu_kernels.py compiled once on a
device, and command buffers recorded and run with as little Python per dispatch as the API
allows. Shared by bench/gpu_vs_cupy.py and bench/cpu_vs_pocl.py."""

from __future__ import annotations

import statistics
import time

import pymetallic

from gpu_kernels import MSL


class MslRunner:
    def __init__(self, device):
        self.device = device
        self.queue = pymetallic.CommandQueue(device)
        self.lib = pymetallic.Library(device, MSL)
        self.pipes = {}

    def pipe(self, name):
        if name not in self.pipes:
            self.pipes[name] = pymetallic.ComputePipelineState(self.device, self.lib.make_function(name))
        return self.pipes[name]

    def buf(self, array):
        return pymetallic.Buffer.from_numpy(self.device, array)

    def encode(self, enc, name, buffers, grid, tg, bytes_args=(), groups=False, tg_mem=()):
        enc.set_compute_pipeline_state(self.pipe(name))
        for i, b in enumerate(buffers):
            enc.set_buffer(b, 0, i)
        for value, index in bytes_args:
            enc.set_bytes(value, index)
        for length, index in tg_mem:
            enc.set_threadgroup_memory_length(length, index)
        if groups:
            enc.dispatch_threadgroups(grid, tg)
        else:
            enc.dispatch_threads(grid, tg)

    def record(self, name, buffers, grid, tg, bytes_args=(), repeat=1, groups=False, tg_mem=()):
        """A command buffer with `repeat` dispatches of kernel `name`, not committed."""
        cb = self.queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        for _ in range(repeat):
            self.encode(enc, name, buffers, grid, tg, bytes_args, groups, tg_mem)
        enc.end_encoding()
        return cb

    def run(self, *args, **kwargs):
        cb = self.record(*args, **kwargs)
        cb.commit()
        cb.wait_until_completed()
        assert cb.get_status() == 1, cb.error

    def runner(self, *args, **kwargs):
        """A callable that records, commits and waits on one command buffer."""
        return lambda: self.run(*args, **kwargs)

    def ping_pong(self, name, buffers, steps, grid, tg, bytes_args=()):
        """``steps`` dispatches of kernel ``name``, each in its own command buffer and waited
        for, reading buffers[s % 2] and writing buffers[(s + 1) % 2] at step s (a simulation
        run as a Metal program steps it: the Life rows)."""
        # Written out as a program would (and as the CuPy side's loop is): no helper layers
        # (run()/record()/encode() cost 1.7 us of Python per step on the 2-core development
        # machine, CPU device, Python 3.12: 7.0 -> 5.3 us per step of a 16x16 Life).
        pipe, queue = self.pipe(name), self.queue
        a, b = buffers
        cb = None
        for _ in range(steps):
            cb = queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pipe)
            enc.set_buffer(a, 0, 0)
            enc.set_buffer(b, 0, 1)
            for value, index in bytes_args:
                enc.set_bytes(value, index)
            enc.dispatch_threads(grid, tg)
            enc.end_encoding()
            cb.commit()
            cb.wait_until_completed()
            a, b = b, a
        assert cb is None or cb.get_status() == 1, cb.error

    def timed(self, *args, **kwargs):
        """Median seconds of commit + wait of a command buffer recorded beforehand: the
        launches overlap the device's work, as a peer's back-to-back launches do."""

        def once():
            cb = self.record(*args, **kwargs)
            t = time.perf_counter()
            cb.commit()
            cb.wait_until_completed()
            return time.perf_counter() - t

        for _ in range(2):
            once()
        return statistics.median(once() for _ in range(7))

    def empty_dispatches(self, count, wait_each):
        """`count` empty dispatches, each in its own command buffer as a Metal program would
        write them, waiting on each (`wait_each`) or only on the last: the launch-overhead rows."""
        if not hasattr(self, "_empty_buffer"):
            self._empty_buffer = pymetallic.Buffer(self.device, 256)
        buf, pipe, queue = self._empty_buffer, self.pipe("empty"), self.queue
        last = None
        for _ in range(count):
            cb = queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pipe)
            enc.set_buffer(buf, 0, 0)
            enc.dispatch_threads((32, 1, 1), (32, 1, 1))
            enc.end_encoding()
            cb.commit()
            if wait_each:
                cb.wait_until_completed()
            last = cb
        last.wait_until_completed()
