"""The simulation demos: Conway's Game of Life and 2-D stable fluids, written as GIFs."""

from __future__ import annotations

import time

import numpy as np

from .. import gif as _gif
from .base import DemoBase
from .fluid import FluidReference, FluidSimulation
from .life import LifeSimulation, life_reference

# Life's GIF colours: dead cells dark blue, live ones green.
LIFE_PALETTE = np.zeros((256, 3), np.uint8)
LIFE_PALETTE[0] = (12, 16, 28)
LIFE_PALETTE[1:] = (120, 230, 140)


class SimulationDemos(DemoBase):
    """``demo_cellular_automata`` and ``demo_fluid_dynamics``."""

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
