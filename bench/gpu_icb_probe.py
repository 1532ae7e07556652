"""Where the fluid step executed from an indirect command buffer spends its time, against
CuPy replaying a CUDA graph of the same 25 launches (issue 13, item 3). One process, rounds
alternated; 100 steps, one command buffer per step, one wait at the end. Rows:

- by value / through pointers: the parameter ring's bytes passed to the graph's kernels by
  value (default) or read from the ring buffer (PYMETALLIC_ICB_PARAMETERS_BY_VALUE=0; each
  variant runs in a subprocess of its own);
- same bytes each step: the ring written with the same parameters every step (a by-value
  graph then needs no node update after the first: the GPU side alone);
- host: the time until the last step's commit returned (the host's share; when it is close
  to the total, the host is the bound).

    PYTHONPATH=python python3 bench/gpu_icb_probe.py [--steps 100] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(steps, rounds, fixed):
    import pymetallic
    from pymetallic.demos.fluid import FluidSimulation

    device = next(d for d in pymetallic.Device.get_all_devices() if d.kind == "cuda")
    sim = FluidSimulation(device, 512)
    if fixed:  # the same parameters every step
        params = sim.config.pack(0)
        sim.config.pack = lambda step: params
    sim.step(3, indirect=True)
    total, host = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        last = None
        for _ in range(steps):
            _, next_dye, next_p = sim._plan()
            last = sim._encode_indirect_step(sim.config.pack(sim.step_count))
            sim._dye, sim._p = next_dye, next_p
            sim.step_count += 1
        h = time.perf_counter()
        last.wait_until_completed()
        e = time.perf_counter()
        total.append(e - t)
        host.append(h - t)
    print(f"{statistics.median(total) * 1e3:.3f} {statistics.median(host) * 1e3:.3f}")


def cupy_graph(steps, rounds, with_event=False):
    import cupy as cp
    import pymetallic
    from gpu_fluid import CupyFluid, capture_step_graph
    from pymetallic.demos.fluid import FluidSimulation

    device = next(d for d in pymetallic.Device.get_all_devices() if d.kind == "cuda")
    theirs = CupyFluid(cp, FluidSimulation(device, 512))
    graph, stream = capture_step_graph(cp, theirs)
    times = []
    events = [cp.cuda.Event(disable_timing=True) for _ in range(steps)]
    for _ in range(rounds + 1):
        t = time.perf_counter()
        for i in range(steps):
            graph.launch(stream)
            if with_event:  # as our queue records one per commit once it is precise
                events[i].record(stream)
        stream.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--child", choices=["changing", "fixed"])
    args = ap.parse_args()
    if args.child:
        child(args.steps, args.rounds, args.child == "fixed")
        return
    sys.path.insert(0, HERE)
    variants = [
        ("by value, parameters change each step", "1", "changing"),
        ("through pointers, parameters change each step", "0", "changing"),
        ("by value, same bytes each step", "1", "fixed"),
        ("through pointers, same bytes each step", "0", "fixed"),
    ]
    results = {name: [] for name, _, _ in variants}
    graph = []
    for _ in range(3):
        for name, by_value, kind in variants:
            env = dict(os.environ, PYMETALLIC_ICB_PARAMETERS_BY_VALUE=by_value)
            out = subprocess.check_output(
                [sys.executable, __file__, "--child", kind, "--steps", str(args.steps), "--rounds", str(args.rounds)],
                env=env,
            )
            results[name].append([float(v) for v in out.split()])
        graph.append(cupy_graph(args.steps, args.rounds) * 1e3)
    g = statistics.median(graph)
    print(f"CuPy CUDA graph of the step, {args.steps} steps: {g:.3f} ms (runs {', '.join(f'{v:.3f}' for v in graph)})")
    ge = statistics.median(cupy_graph(args.steps, args.rounds, with_event=True) * 1e3 for _ in range(3))
    print(f"CuPy CUDA graph of the step, an event recorded after each launch: {ge:.3f} ms ({ge / g:.2f} of the graph)")
    for name, runs in results.items():
        total = statistics.median(r[0] for r in runs)
        host = statistics.median(r[1] for r in runs)
        print(f"ICB {name:<48} total {total:7.3f} ms  host {host:7.3f} ms  vs graph {total / g:5.2f}")


if __name__ == "__main__":
    main()
