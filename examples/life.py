"""Conway's Game of Life, checked against NumPy and saved as an animated GIF.

Run: python examples/life.py [--small] [--out life.gif]
"""

import argparse
import os
import time

import numpy as np

from pymetallic.demos import LifeSimulation, life_reference
from pymetallic.gif import save_gif

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
parser.add_argument("--out", default="life.gif")
args = parser.parse_args()

size, steps = (48, 20) if args.small else (256, 300)
sim = LifeSimulation(width=size, density=0.3, seed=42)
start = sim.board.copy()  # board is a view: copy to keep it
frames = [start * 255]
t0 = time.perf_counter()
for i in range(steps):
    sim.step(1)  # a command buffer per generation
    if i % 2 == 1:
        frames.append(sim.board * 255)
elapsed = time.perf_counter() - t0
assert np.array_equal(sim.board, life_reference(start, steps)), "differs from NumPy"
save_gif(args.out, frames, duration_ms=60)  # grayscale palette: 255 = alive
print(f"{size}x{size}, {steps} generations in {elapsed:.3f} s (matches NumPy); wrote {args.out}")
