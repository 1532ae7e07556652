"""2-D stable fluids, saved as a colourised animated GIF.

The simulation (pymetallic.demos.FluidSimulation) keeps its state in device buffers and
runs 25 dispatches per step: source, two advections, divergence, 20 Jacobi iterations,
gradient subtraction.

Run: python examples/fluid.py [--small] [--out fluid.gif]
"""

import argparse
import os
import time

from pymetallic.demos import FluidSimulation
from pymetallic.gif import colormap, save_gif, to_indices

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
parser.add_argument("--out", default="fluid.gif")
args = parser.parse_args()

size, steps = (48, 6) if args.small else (256, 120)
sim = FluidSimulation(width=size)  # default device; pipelines are built once here
frames = []
t0 = time.perf_counter()
for i in range(steps):
    sim.step(1)  # one command buffer per step, then wait
    if i % 3 == 0:
        frames.append(to_indices(sim.dye))  # sim.dye is a NumPy view of the device buffer
elapsed = time.perf_counter() - t0
save_gif(args.out, frames, colormap(), duration_ms=50)
print(f"{size}x{size}, {steps} steps in {elapsed:.3f} s; wrote {args.out} ({len(frames)} frames)")
