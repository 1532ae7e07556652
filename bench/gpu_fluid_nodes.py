"""The fluid step's GPU side, ours against CuPy's (issue 13, command buffer against a CUDA
graph): a few steps of the package's simulation executed from its indirect command buffer and
as an ordinary command buffer, then the same step as CuPy's captured CUDA graph, for a profiler
to time kernel by kernel (`ncu --graph-profiling node --metrics gpu__time_duration.sum`).
Without a profiler it prints CuPy's GPU time per step (CUDA events around 20 graph launches).

    PYTHONPATH=python python3 bench/gpu_fluid_nodes.py [--steps 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("PYMETALLIC_GPU_TIMESTAMPS", "1")

import cupy as cp  # noqa: E402

import pymetallic  # noqa: E402
from pymetallic.demos.fluid import FluidSimulation  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_fluid import CupyFluid, capture_step_graph  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    device = next(d for d in pymetallic.Device.get_all_devices() if d.kind == "cuda")
    sim = FluidSimulation(device, 512)
    plain = FluidSimulation(device, 512)
    theirs = CupyFluid(cp, sim)
    graph, stream = capture_step_graph(cp, theirs)
    sim.step(3, indirect=True)  # builds the ICB ranges and graphs
    plain.step(3)
    graph.launch(stream)
    stream.synchronize()
    for _ in range(args.steps):
        sim.step(1, indirect=True)
    for _ in range(args.steps):
        plain.step(1)
    for _ in range(args.steps):
        graph.launch(stream)
    stream.synchronize()
    # GPU time of one step, each waited for alone: CuPy's graph between two events on its
    # stream; ours, the command buffer's GPU start and end (CUDA events around its work,
    # PYMETALLIC_GPU_TIMESTAMPS=1), with the ring's parameters changing each step (the
    # simulation) and the same every step (a graph whose nodes need no update).
    start, end = cp.cuda.Event(), cp.cuda.Event()
    theirs_us = []
    for _ in range(20):
        start.record(stream)
        graph.launch(stream)
        end.record(stream)
        end.synchronize()
        theirs_us.append(cp.cuda.get_elapsed_time(start, end) * 1e3)
    fixed = FluidSimulation(device, 512)
    params = fixed.config.pack(0)
    fixed.config.pack = lambda step: params
    fixed.step(3, indirect=True)

    def ours_us(s):
        times = []
        for _ in range(20):
            _, next_dye, next_p = s._plan()
            cb = s._encode_indirect_step(s.config.pack(s.step_count))
            cb.wait_until_completed()
            s._dye, s._p = next_dye, next_p
            s.step_count += 1
            times.append((cb.gpu_end_time - cb.gpu_start_time) * 1e6)
        return statistics.median(times)

    print(f"CuPy graph: {statistics.median(theirs_us):.1f} us per step (GPU, events, median of 20)")
    print(f"ours, ICB, parameters changing: {ours_us(sim):.1f} us per step (GPU, events, median of 20)")
    print(f"ours, ICB, same parameters: {ours_us(fixed):.1f} us per step (GPU, events, median of 20)")


if __name__ == "__main__":
    main()
