"""2-D stable fluids on the device (kernels in ``kernels/fluid.metal``), with a NumPy
reference that mirrors every kernel for the tests."""

from __future__ import annotations

import math
import struct

import numpy as np

from .._api import (
    Buffer,
    CommandQueue,
    ComputePipelineState,
    Device,
    IndirectCommandBufferDescriptor,
    IndirectCommandType,
)
from ..kernels import FLUID
from ..metallic import kernel_cache

KERNELS = ("add_source", "advect_velocity", "advect_dye", "divergence", "jacobi", "subtract_gradient")

# FluidParams in fluid.metal: 2 uint, 3 float, 2 uint, 9 float (64 bytes).
_PARAMS = struct.Struct("<IIfffIIfffffffff")
# step(indirect=True): the steps' parameters go through a ring of this many slots (steps in
# flight at most).
_RING = 4


class FluidConfig:
    """Physical settings, all in grid cells and steps (dt = 1 step by default)."""

    def __init__(
        self,
        width,
        height,
        dt=1.0,
        vel_dissipation=0.999,
        dye_dissipation=0.996,
        jacobi_iterations=20,
        radius=None,
        force=None,
        dye_rate=0.5,
        wobble=0.6,
    ):
        self.width, self.height = int(width), int(height)
        self.dt = float(dt)
        self.vel_dissipation = float(vel_dissipation)
        self.dye_dissipation = float(dye_dissipation)
        self.jacobi_iterations = int(jacobi_iterations)
        scale = self.width / 512.0
        self.radius = float(radius if radius is not None else max(2.0, self.width / 20.0))
        self.force = float(force if force is not None else 1.2 * scale)
        self.dye_rate = float(dye_rate)
        self.wobble = float(wobble)
        self.cx = 0.5 * (self.width - 1)
        self.cy = 0.88 * (self.height - 1)

    def source(self, step):
        """(force_x, force_y) at ``step``: an upward jet (towards row 0) that sways."""
        angle = self.wobble * math.sin(0.13 * step)
        return self.force * math.sin(angle), -self.force * math.cos(angle)

    def box(self):
        """The source's dispatch box: (x0, y0, side)."""
        r = int(math.ceil(self.radius))
        x0 = max(0, int(math.floor(self.cx)) - r)
        y0 = max(0, int(math.floor(self.cy)) - r)
        return x0, y0, 2 * r + 2

    def pack(self, step) -> bytes:
        fx, fy = self.source(step)
        x0, y0, _ = self.box()
        return _PARAMS.pack(
            self.width,
            self.height,
            self.dt,
            self.vel_dissipation,
            self.dye_dissipation,
            x0,
            y0,
            self.cx,
            self.cy,
            self.radius,
            fx,
            fy,
            self.dye_rate,
            0.0,
            0.0,
            0.0,
        )


def _encode(enc, params, pso, bufs, pidx, grid, tg):
    """One dispatch of a step: ``pso`` on ``bufs`` (indices 0..), the step's parameters at ``pidx``."""
    enc.set_compute_pipeline_state(pso)
    for i, b in enumerate(bufs):
        enc.set_buffer(b, 0, i)
    enc.set_bytes(params, pidx)
    enc.dispatch_threads(grid, tg)


class FluidSimulation:
    """The fluid state in device buffers; pipelines built once; a step is 25 dispatches
    (with the default 20 Jacobi iterations).

    ``step(n, wait_each_dispatch=False)``: one command buffer per step, committed and waited
    on; ``wait_each_dispatch=True`` is the original demo's pattern, a command buffer per
    dispatch with a wait on each; ``indirect=True`` encodes the step's dispatches once in an
    indirect command buffer and executes it each step.
    """

    def __init__(self, device=None, width=512, height=None, queue=None, threadgroup=(64, 4, 1), **config):
        self.device = device or Device.get_default_device()
        self.width = int(width)
        self.height = int(height or width)
        self.config = FluidConfig(self.width, self.height, **config)
        self.queue = queue or CommandQueue(self.device)
        self.pipelines = {k: kernel_cache.get(self.device, FLUID, k) for k in KERNELS}
        n = self.width * self.height
        zeros2 = np.zeros((self.height, self.width, 2), np.float32)
        zeros1 = np.zeros((self.height, self.width), np.float32)
        self.vel = [Buffer.from_numpy(self.device, zeros2) for _ in range(2)]
        self.dye_bufs = [Buffer.from_numpy(self.device, zeros1) for _ in range(2)]
        self.pressure_bufs = [Buffer.from_numpy(self.device, zeros1) for _ in range(2)]
        self.div = Buffer.from_numpy(self.device, zeros1)
        self._dye = 0  # which dye buffer holds the current dye
        self._p = 0  # which pressure buffer holds the latest pressure (warm start)
        self.step_count = 0
        self._tg = tuple(threadgroup)
        self._grid = (self.width, self.height, 1)
        self._plans = {}
        self._icb = None  # step(indirect=True): built on first use
        self.cells = n

    # ---------------------------------------------------------------- state access
    @property
    def velocity(self) -> np.ndarray:
        """(H, W, 2) float32 view of the velocity (cells per step)."""
        return self.vel[0].to_numpy(np.float32, (self.height, self.width, 2))

    @property
    def dye(self) -> np.ndarray:
        """(H, W) float32 view of the dye density."""
        return self.dye_bufs[self._dye].to_numpy(np.float32, (self.height, self.width))

    @property
    def pressure(self) -> np.ndarray:
        return self.pressure_bufs[self._p].to_numpy(np.float32, (self.height, self.width))

    def set_state(self, velocity=None, dye=None, pressure=None):
        """Overwrites the state (for tests and custom initial conditions)."""
        if velocity is not None:
            self.velocity[...] = velocity
        if dye is not None:
            self.dye[...] = dye
        if pressure is not None:
            self.pressure[...] = pressure

    # ---------------------------------------------------------------- dispatch plan
    def _plan(self):
        """The dispatches of one step from the current buffer parity, built once per parity:
        a list of (pipeline, buffers, params index, grid, threadgroup)."""
        key = (self._dye, self._p)
        plan = self._plans.get(key)
        if plan is None:
            P = self.pipelines
            va, vb = self.vel
            d_in, d_out = self.dye_bufs[self._dye], self.dye_bufs[1 - self._dye]
            _, _, side = self.config.box()
            grid, tg = self._grid, self._tg
            plan = [
                (P["add_source"], (va, d_in), 2, (side, side, 1), (min(side, 16), min(side, 16), 1)),
                (P["advect_velocity"], (va, vb), 2, grid, tg),
                (P["advect_dye"], (va, d_in, d_out), 3, grid, tg),
                (P["divergence"], (vb, self.div), 2, grid, tg),
            ]
            p = self._p
            for _ in range(self.config.jacobi_iterations):
                plan.append((P["jacobi"], (self.pressure_bufs[p], self.div, self.pressure_bufs[1 - p]), 3, grid, tg))
                p = 1 - p
            plan.append((P["subtract_gradient"], (vb, self.pressure_bufs[p], va), 3, grid, tg))
            plan = (plan, 1 - self._dye, p)
            self._plans[key] = plan
        return plan

    # ---------------------------------------------------------------- indirect command buffer
    def _indirect_range(self, slot):
        """The step's dispatches for the current buffer parity, recorded once in an indirect
        command buffer, reading their parameters (which ``set_bytes`` passes in ``step()``)
        from ring slot ``slot``: one range per (parity, slot), as a Metal program keeps a
        uniform buffer per frame in flight. Returns its (location, length)."""
        if self._icb is None:
            desc = IndirectCommandBufferDescriptor()
            desc.command_types = IndirectCommandType.CONCURRENT_DISPATCH_THREADS
            desc.inherit_pipeline_state = False
            desc.inherit_buffers = False
            desc.max_kernel_buffer_bind_count = 4
            # Room for every buffer parity a step can start from (dye x pressure) and slot.
            self._icb = self.device.new_indirect_command_buffer(desc, 4 * _RING * len(self._plan()[0]))
            self._icb_pipelines = {
                k: ComputePipelineState(self.device, p.function, support_indirect_command_buffers=True)
                for k, p in self.pipelines.items()
            }
            self._icb_ranges = {}
            self._ring = Buffer(self.device, _PARAMS.size * _RING)
            self._ring_view = self._ring.to_numpy(np.uint8, (_RING, _PARAMS.size))
            self._ring_users = [None] * _RING
        key = (self._dye, self._p, slot)
        where = self._icb_ranges.get(key)
        if where is None:
            by_pipeline = {id(p): self._icb_pipelines[k] for k, p in self.pipelines.items()}
            plan = self._plan()[0]
            start = len(self._icb_ranges) * len(plan)
            for i, (pso, bufs, pidx, grid, tg) in enumerate(plan):
                cmd = self._icb.indirect_compute_command(start + i)
                cmd.set_compute_pipeline_state(by_pipeline[id(pso)])
                for b_index, b in enumerate(bufs):
                    cmd.set_kernel_buffer(b, 0, b_index)
                cmd.set_kernel_buffer(self._ring, slot * _PARAMS.size, pidx)
                cmd.concurrent_dispatch_threads(grid, tg)
                cmd.set_barrier()  # each dispatch reads what the one before wrote
            where = self._icb_ranges[key] = (start, len(plan))
        return where

    def _encode_indirect_step(self, params):
        slot = self.step_count % _RING
        where = self._indirect_range(slot)
        if self._ring_users[slot] is not None:
            self._ring_users[slot].wait_until_completed()  # the step that read this slot is done
        self._ring_view[slot] = np.frombuffer(params, np.uint8)
        cb = self.queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.execute_commands_in_buffer(self._icb, where)
        enc.end_encoding()
        cb.commit()
        self._ring_users[slot] = cb
        return cb

    def step(self, n=1, wait_each_dispatch=False, wait_each_step=True, indirect=False):
        """Advances ``n`` steps. Returns self.

        ``wait_each_step=False`` commits one command buffer per step and waits only for the
        last: the device runs step k while the host encodes step k+1 (the queue keeps them
        in order), as a real-time program would. ``indirect=True``: each step executes the
        dispatches recorded once in an indirect command buffer instead of encoding them."""
        queue = self.queue
        last = None
        for _ in range(n):
            if indirect and not wait_each_dispatch:
                _, next_dye, next_p = self._plan()
                last = self._encode_indirect_step(self.config.pack(self.step_count))
                if wait_each_step:
                    last.wait_until_completed()
                self._dye, self._p = next_dye, next_p
                self.step_count += 1
                continue
            dispatches, next_dye, next_p = self._plan()
            params = self.config.pack(self.step_count)
            if wait_each_dispatch:
                for dispatch in dispatches:
                    cb = queue.make_command_buffer()
                    enc = cb.make_compute_command_encoder()
                    _encode(enc, params, *dispatch)
                    enc.end_encoding()
                    cb.commit()
                    cb.wait_until_completed()
            else:
                cb = queue.make_command_buffer()
                enc = cb.make_compute_command_encoder()
                for dispatch in dispatches:
                    _encode(enc, params, *dispatch)
                enc.end_encoding()
                cb.commit()
                if wait_each_step:
                    cb.wait_until_completed()
                last = cb
            self._dye, self._p = next_dye, next_p
            self.step_count += 1
        if last is not None and not wait_each_step:
            last.wait_until_completed()
        return self

    def run_kernel(self, name, buffers, grid=None):
        """Runs one fluid kernel on the given buffers (in binding order) with this
        simulation's parameters, and waits. For kernel-by-kernel tests."""
        cb = self.queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(self.pipelines[name])
        for i, b in enumerate(buffers):
            enc.set_buffer(b, 0, i)
        enc.set_bytes(self.config.pack(self.step_count), len(buffers))
        if grid is None:
            if name == "add_source":
                side = self.config.box()[2]
                grid = (side, side, 1)
            else:
                grid = self._grid
        enc.dispatch_threads(grid, (min(grid[0], 16), min(grid[1], 16), 1))
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()


class FluidReference:
    """The same algorithm in NumPy float32, kernel for kernel."""

    def __init__(self, width, height=None, **config):
        self.width = int(width)
        self.height = int(height or width)
        self.config = FluidConfig(self.width, self.height, **config)
        h, w = self.height, self.width
        self.velocity = np.zeros((h, w, 2), np.float32)
        self.dye = np.zeros((h, w), np.float32)
        self.pressure = np.zeros((h, w), np.float32)
        self.step_count = 0
        self._ys, self._xs = np.mgrid[0:h, 0:w].astype(np.float32)

    # Each function mirrors the kernel of the same name.
    def add_source(self, vel, dye, step):
        c = self.config
        x0, y0, side = c.box()
        x1, y1 = min(x0 + side, self.width), min(y0 + side, self.height)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = xs - np.float32(c.cx), ys - np.float32(c.cy)
        r = np.float32(c.radius)
        q = np.maximum(np.float32(1) - (dx * dx + dy * dy) / (r * r), np.float32(0))
        wgt = q * q
        fx, fy = (np.float32(f) for f in c.source(step))
        dt = np.float32(c.dt)
        vel[y0:y1, x0:x1, 0] += dt * wgt * fx
        vel[y0:y1, x0:x1, 1] += dt * wgt * fy
        dye[y0:y1, x0:x1] = np.minimum(dye[y0:y1, x0:x1] + dt * wgt * np.float32(c.dye_rate), np.float32(1))

    def _sample(self, field, px, py):
        w, h = self.width, self.height
        x = np.clip(px, 0, w - 1).astype(np.float32)
        y = np.clip(py, 0, h - 1).astype(np.float32)
        x0, y0 = x.astype(np.int64), y.astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = x - x0.astype(np.float32), y - y0.astype(np.float32)
        if field.ndim == 3:
            fx, fy = fx[..., None], fy[..., None]
        top = field[y0, x0] + (field[y0, x1] - field[y0, x0]) * fx
        bot = field[y1, x0] + (field[y1, x1] - field[y1, x0]) * fx
        return top + (bot - top) * fy

    def advect(self, vel, field, dissipation):
        dt = np.float32(self.config.dt)
        px = self._xs - dt * vel[..., 0]
        py = self._ys - dt * vel[..., 1]
        return (np.float32(dissipation) * self._sample(field, px, py)).astype(np.float32)

    def advect_velocity(self, vel):
        return self.advect(vel, vel, self.config.vel_dissipation)

    def advect_dye(self, vel, dye):
        return self.advect(vel, dye, self.config.dye_dissipation)

    @staticmethod
    def divergence(vel):
        u, v = vel[..., 0], vel[..., 1]
        ur = np.zeros_like(u)
        ur[:, :-1] = u[:, 1:]
        ul = np.zeros_like(u)
        ul[:, 1:] = u[:, :-1]
        vd = np.zeros_like(v)
        vd[:-1, :] = v[1:, :]
        vu = np.zeros_like(v)
        vu[1:, :] = v[:-1, :]
        return (np.float32(0.5) * ((ur - ul) + (vd - vu))).astype(np.float32)

    @staticmethod
    def _neighbours(p):
        e = np.pad(p, 1, mode="edge")  # zero normal derivative at the walls
        return e[1:-1, :-2], e[1:-1, 2:], e[:-2, 1:-1], e[2:, 1:-1]  # left, right, up, down

    def jacobi(self, p, div):
        l, r, u, d = self._neighbours(p)
        return (np.float32(0.25) * (l + r + u + d - div)).astype(np.float32)

    def subtract_gradient(self, vel, p):
        l, r, u, d = self._neighbours(p)
        out = vel.copy()
        out[..., 0] -= np.float32(0.5) * (r - l)
        out[..., 1] -= np.float32(0.5) * (d - u)
        return out

    def step(self, n=1):
        for _ in range(n):
            vel, dye = self.velocity, self.dye
            self.add_source(vel, dye, self.step_count)
            vb = self.advect_velocity(vel)
            self.dye = self.advect_dye(vel, dye)
            div = self.divergence(vb)
            p = self.pressure
            for _ in range(self.config.jacobi_iterations):
                p = self.jacobi(p, div)
            self.pressure = p
            self.velocity = self.subtract_gradient(vb, p)
            self.step_count += 1
        return self
