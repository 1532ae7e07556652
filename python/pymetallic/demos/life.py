"""Conway's Game of Life on the device, with a NumPy reference."""

from __future__ import annotations

import numpy as np

from .._api import Buffer, CommandQueue, Device
from ..kernels import LIFE
from ..metallic import kernel_cache


def life_reference(grid: np.ndarray, steps: int = 1) -> np.ndarray:
    """``steps`` generations of Life on a torus, in NumPy (uint8 0/1 cells)."""
    g = np.asarray(grid, dtype=np.uint8)
    for _ in range(steps):
        n = sum(np.roll(np.roll(g, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
        g = ((n == 3) | ((n == 2) & (g == 1))).astype(np.uint8)
    return g


class LifeSimulation:
    """A ``height x width`` Life board in two device buffers, ping-ponged each step.

    ``step(n, wait_each_step=True)`` runs ``n`` generations: one command buffer per step,
    waiting on each (the original demo's pattern), or all of them in one command buffer.
    """

    def __init__(
        self,
        device=None,
        width=512,
        height=None,
        initial=None,
        density=0.25,
        seed=0,
        queue=None,
        threadgroup=(64, 4, 1),
    ):
        self.device = device or Device.get_default_device()
        self.width = int(width)
        self.height = int(height or width)
        self.queue = queue or CommandQueue(self.device)
        self.pipeline = kernel_cache.get(self.device, LIFE, "life_step")
        if initial is None:
            rng = np.random.default_rng(seed)
            initial = (rng.random((self.height, self.width)) < density).astype(np.uint8)
        initial = np.ascontiguousarray(initial, dtype=np.uint8)
        if initial.shape != (self.height, self.width):
            raise ValueError(f"initial board has shape {initial.shape}, expected {(self.height, self.width)}")
        self._bufs = [Buffer.from_numpy(self.device, initial), Buffer(self.device, initial.nbytes)]
        self._cur = 0
        self._size = np.array([self.width, self.height], dtype=np.uint32)
        self._grid = (self.width, self.height, 1)
        self._tg = tuple(threadgroup)
        self.generation = 0

    def _encode(self, enc):
        enc.set_compute_pipeline_state(self.pipeline)
        enc.set_buffer(self._bufs[self._cur], 0, 0)
        enc.set_buffer(self._bufs[1 - self._cur], 0, 1)
        enc.set_bytes(self._size, 2)
        enc.dispatch_threads(self._grid, self._tg)
        self._cur = 1 - self._cur
        self.generation += 1

    def step(self, n=1, wait_each_step=True):
        """Advances ``n`` generations."""
        if wait_each_step:
            for _ in range(n):
                cb = self.queue.make_command_buffer()
                enc = cb.make_compute_command_encoder()
                self._encode(enc)
                enc.end_encoding()
                cb.commit()
                cb.wait_until_completed()
        elif n > 0:
            cb = self.queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            for _ in range(n):
                self._encode(enc)
            enc.end_encoding()
            cb.commit()
            cb.wait_until_completed()
        return self

    @property
    def board(self) -> np.ndarray:
        """The current board: a (height, width) uint8 **view** of the device buffer."""
        return self._bufs[self._cur].to_numpy(np.uint8, (self.height, self.width))
