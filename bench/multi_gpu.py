"""Two-GPU measurements for docs/multi-gpu.md: the heat-diffusion stencil from one GPU to two
(halos exchanged by peer blits, queues ordered by shared events), and the bandwidth of blit
copies between the two GPUs (and, for comparison, within one GPU and to/from the CPU device).

    PYTHONPATH=python python3 bench/multi_gpu.py [--sizes 4096,8192,16384] [--steps 200]

Prints one table per measurement; skips (exit 0) unless two CUDA GPUs are visible.
Stencil rows: milliseconds per step (median of ROUNDS runs of `steps` steps, host clock from
the first commit to the last completion), speedup and parallel efficiency of two GPUs.
Copy rows: GB/s of one blit of each size (median over ROUNDS command buffers of REPEAT copies)."""

import argparse
import statistics
import sys
import time

import numpy as np

import pymetallic as pm
from pymetallic.demos import heat

ROUNDS, REPEAT = 5, 10


def stencil(gpus, sizes, steps):
    print(f"\nheat stencil, {steps} steps (ms per step; median of {ROUNDS})")
    print(f"{'grid':>14} {'1 GPU':>9} {'2 GPUs':>9} {'speedup':>8} {'efficiency':>10}  check")
    for n in sizes:
        grid = heat.initial_grid(n, n)
        heat.run_split([gpus[0]], heat.initial_grid(66, 66), 2)  # compile, warm up
        heat.run_split(gpus[:2], heat.initial_grid(66, 66), 2)
        one, two = [], []
        for _ in range(ROUNDS):
            r1, t1 = heat.run_split([gpus[0]], grid, steps)
            r2, t2 = heat.run_split(gpus[:2], grid, steps)
            one.append(t1 / steps)
            two.append(t2 / steps)
        ok = "bit-exact" if np.array_equal(r1, r2) else f"DIFFERS (max {np.abs(r1 - r2).max():.2e})"
        m1, m2 = statistics.median(one), statistics.median(two)
        print(f"{n:>6} x {n:<6} {m1 * 1e3:9.3f} {m2 * 1e3:9.3f} {m1 / m2:8.2f} {m1 / m2 / 2:10.0%}  {ok}")


def copy_rate(queue, src, dst, nbytes):
    times = []
    for r in range(ROUNDS + 1):
        cb = queue.make_command_buffer()
        blit = cb.make_blit_command_encoder()
        for _ in range(REPEAT):
            blit.copy_from_buffer(src, 0, dst, 0, nbytes)
        blit.end_encoding()
        t0 = time.perf_counter()
        cb.commit()
        cb.wait_until_completed()
        if r:  # the first round warms up (peer access is enabled on first use)
            times.append((time.perf_counter() - t0) / REPEAT)
    return nbytes / statistics.median(times) / 1e9


def copies(gpus, cpu):
    g0, g1 = gpus[0], gpus[1]
    print(f"\nblit copy bandwidth (GB/s; median of {ROUNDS} command buffers of {REPEAT} copies)")
    print(f"{'size':>10} {'0->1 on 0':>10} {'1->0 on 0':>10} {'0->1 on 1':>10} {'0->0':>8} {'cpu->0':>8} {'0->cpu':>8}")
    q0, q1 = g0.make_command_queue(), g1.make_command_queue()
    for mb in (1, 16, 64, 256, 1024):
        n = mb << 20
        a0, b0, a1 = pm.Buffer(g0, n), pm.Buffer(g0, n), pm.Buffer(g1, n)
        h = pm.Buffer(cpu, n)
        row = [copy_rate(q0, a0, a1, n), copy_rate(q0, a1, a0, n), copy_rate(q1, a0, a1, n), copy_rate(q0, a0, b0, n)]
        row += [copy_rate(q0, h, a0, n), copy_rate(q0, a0, h, n)] if mb <= 256 else [float("nan")] * 2
        print(f"{mb:>7} MB " + " ".join(f"{v:10.1f}" if i < 3 else f"{v:8.1f}" for i, v in enumerate(row)))
        del a0, b0, a1, h


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="4096,8192,16384")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    devices = pm.Device.get_all_devices()
    gpus = [d for d in devices if d.kind == "cuda"]
    if len(gpus) < 2:
        print(f"skipped: needs two CUDA GPUs, found {len(gpus)}")
        return 0
    print("devices: " + ", ".join(f"cuda:{g.ordinal} {g.name}" for g in gpus[:2]))
    stencil(gpus, [int(s) for s in args.sizes.split(",")], args.steps)
    copies(gpus, next(d for d in devices if d.kind == "cpu"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
