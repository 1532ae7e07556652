"""Host cost of encoding one dispatch, step by step, without a GPU (issue 13, launch overhead).

The encoding calls before commit (make_command_buffer, make_compute_command_encoder,
set_compute_pipeline_state, set_buffer, dispatch_threads, end_encoding) run the same C++ on
every device, so their cost is measured here on the CPU device with an empty kernel: each
row adds one step to the loop, and the difference between consecutive rows is what that
step costs per call (bench/gpu_launch_profile.py does the same on the GPU, next to CuPy).
Commit and commit + wait run the CPU backend's executor, not the CUDA one: printed for
information only. Each row is the minimum over `--repeats` rounds of `--n` iterations, the
rows interleaved round by round (the minimum, not the median: this machine is shared, and
interference only adds time).

    python bench/host_encode_profile.py [--n 5000] [--repeats 40] [--encode-only] [--json out.json]

Measured on the 2-core development machine (CPU device, min of 15 x 20000; microseconds per
iteration, cumulative, each step's own cost in brackets); "before" is 9b4b83b:

    row                              before           after
    make_command_buffer              0.21             0.17
    + encoder + end_encoding         0.37 (0.17)      0.32 (0.15)
    + set_compute_pipeline_state     0.54 (0.17)      0.35 (0.03)
    + set_buffer                     0.72 (0.18)      0.45 (0.10)
    + dispatch_threads               0.84 (0.11)      0.57 (0.12)
"""

from __future__ import annotations

import argparse
import sys
import time

import pymetallic
from timing import write_json

MSL = """
#include <metal_stdlib>
using namespace metal;
kernel void empty(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {}
"""

NAMES = [
    "make_command_buffer",
    "+ encoder + end_encoding",
    "+ set_compute_pipeline_state",
    "+ set_buffer",
    "+ dispatch_threads",
    "+ commit (CPU executor)",
    "+ wait_until_completed (CPU)",
]


def steps(queue, pipe, buf, upto):
    """A loop of n dispatches that goes as far as step `upto` (1: make_command_buffer only)."""

    def run(n):
        cb = None
        for _ in range(n):
            cb = queue.make_command_buffer()
            if upto >= 2:
                enc = cb.make_compute_command_encoder()
            if upto >= 3:
                enc.set_compute_pipeline_state(pipe)
            if upto >= 4:
                enc.set_buffer(buf, 0, 0)
            if upto >= 5:
                enc.dispatch_threads((32, 1, 1), (32, 1, 1))
            if upto >= 2:
                enc.end_encoding()
            if upto >= 6:
                cb.commit()
            if upto >= 7:
                cb.wait_until_completed()
        if upto == 6 and cb is not None:
            cb.wait_until_completed()

    return run


def per_call_rows(fns, ns, repeats):
    """Microseconds per iteration of each loop in `fns` (n iterations each): the fastest of
    `repeats` rounds, every round running each loop once (interleaved, so that a burst of load
    from other processes does not fall on one row only)."""
    for fn, n in zip(fns, ns):
        fn(max(n // 10, 1))
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, (fn, n) in enumerate(zip(fns, ns)):
            t = time.perf_counter()
            fn(n)
            best[i] = min(best[i], (time.perf_counter() - t) / n)
    return [b * 1e6 for b in best]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--device", default="cpu", help='device kind: "cpu" (default) or "cuda"')
    ap.add_argument("--encode-only", action="store_true", help="skip the commit rows")
    ap.add_argument("--json")
    args = ap.parse_args()
    device = next(d for d in pymetallic.Device.get_all_devices() if d.kind == args.device)
    lib = pymetallic.Library(device, MSL)
    pipe = pymetallic.ComputePipelineState(device, lib.make_function("empty"))
    queue = pymetallic.CommandQueue(device)
    buf = pymetallic.Buffer(device, 256)
    upto = 5 if args.encode_only else len(NAMES)
    fns = [steps(queue, pipe, buf, i) for i in range(1, upto + 1)]
    ns = [args.n if i < 6 else max(args.n // 10, 1) for i in range(1, upto + 1)]
    print(f"{'row':<32} {'us/iter':>8} {'step':>8}   ({device.name})")
    rows, last = [], 0.0
    for name, us in zip(NAMES, per_call_rows(fns, ns, args.repeats)):
        rows.append({"row": name, "us": us, "step_us": us - last})
        print(f"{name:<32} {us:8.3f} {us - last:8.3f}", flush=True)
        last = us
    write_json(args.json, rows)


if __name__ == "__main__":
    sys.exit(main())
