"""Host cost of encoding one dispatch, step by step, without a GPU (issue 13, launch overhead).

The encoding calls before commit (make_command_buffer, make_compute_command_encoder,
set_compute_pipeline_state, set_buffer, dispatch_threads, end_encoding) run the same C++ on
every device, so their cost is measured here on the CPU device with an empty kernel: each
row adds one step to the loop, and the difference between consecutive rows is what that
step costs per call (bench/gpu_launch_profile.py does the same on the GPU, next to CuPy).
On the CPU device commit and wait run the CPU backend's executor, not the CUDA one: those
two rows are for information only (with --device cuda they are the GPU's). The last rows are
the encoding of one step of the Life benchmark (two buffers, set_bytes, a 2-D dispatch of a
kernel that uses all three, so that the dispatch binds them as Life's does; the empty kernel
of the cumulative rows uses none), its size set_bytes'd as a NumPy scalar (np.uint32, as
bench/gpu_vs_cupy.py passes it) and as bytes.
Each row is the minimum over `--repeats` rounds of `--n` iterations, the rows interleaved
round by round (the minimum, not the median: this machine is shared, and interference only
adds time).

    python bench/host_encode_profile.py [--n 5000] [--repeats 40] [--encode-only] [--json out.json]

Measured on the 2-core development machine (CPU device; Python 3.12, the H200's version;
microseconds per iteration, cumulative, each step's own cost in brackets; min of 3 runs of
40 rounds); "before" is 9b4b83b, "after" the launch branch of 2026-12-01:

    row                              before           after
    make_command_buffer              0.21             0.18
    + encoder + end_encoding         0.39 (0.18)      0.31 (0.13)
    + set_compute_pipeline_state     0.56 (0.17)      0.36 (0.05)
    + set_buffer                     0.70 (0.15)      0.45 (0.09)
    + dispatch_threads               0.85 (0.14)      0.58 (0.13)
    + commit (CPU executor)          1.48             1.05
    + wait_until_completed (CPU)     2.69             2.31
    Life-style encode                1.10             0.74

(Python 3.11: encoding 0.81 -> 0.55, + commit 1.41 -> 1.02, Life-style 1.04 -> 0.72; the
Life-style kernel was then empty, so its dispatch bound nothing.)

Session 8 (the host branch, 2026-12-01), the same machine and method, "before" 6880ad3 and
"after" the host branch, 3 runs of each alternated; the machine ran slower than for the table
above (other sessions' builds on its 2 cores), so compare within this table only:

    row                              Python 3.12                  Python 3.11
                                     before        after          before        after
    make_command_buffer              0.28          0.28           0.26          0.26
    + encoder + end_encoding         0.47 (0.20)   0.40 (0.12)    0.44 (0.18)   0.36 (0.11)
    + set_compute_pipeline_state     0.55 (0.07)   0.48 (0.08)    0.51 (0.08)   0.43 (0.07)
    + set_buffer                     0.69 (0.14)   0.58 (0.10)    0.65 (0.14)   0.57 (0.14)
    + dispatch_threads               0.91 (0.22)   0.76 (0.17)    0.85 (0.20)   0.72 (0.16)
    + commit (CPU executor)          1.68          1.50           1.63          1.51
    + wait_until_completed (CPU)     3.54          3.29           3.52          3.27
    Life-style encode, np.uint32     1.24          1.04           1.22          1.00
    Life-style encode, bytes         1.25          1.03           1.21          1.00

set_bytes(np.uint32(5), 2) alone costs what set_bytes(np.uint32(5).tobytes(), 2) does (0.11 us
a call with the loop, 0.04 us for the loop alone, NumPy 2.4.6: a scalar's buffer is its own
memory, no temporary array), so it has no fast path of its own. Instructions (callgrind, main
thread, RelWithDebInfo -O3 builds, Python 3.12; deterministic, unlike the times): a Life-style
encode 11,610 -> 9,292 per step; the same with commit and wait on a 16x16 grid (CPU executor)
14,857 -> 11,477. What went: the encoder moved into its Python object and destroyed (now built
in place, in a pooled object: no allocation, no entry in nanobind's instance map); its buffer
slots' allocation (kept inside the encoder); nanobind's type lookups for Buffer and
ComputePipelineState arguments (an exact-type check first); a dispatch's argument slots grown
argument by argument (three allocations); the set_bytes arena's allocation (its first 128
bytes live in the command list); the general size path for (w, h, d) tuples of ints; two
locks and a notify per wait (ReleaseGil: wait_until_completed on a finished buffer 0.46 -> 0.37 us).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import pymetallic
from timing import write_json

MSL = """
#include <metal_stdlib>
using namespace metal;
kernel void empty(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {}
kernel void step2d(device const uchar* in [[buffer(0)]], device uchar* out [[buffer(1)]],
                   constant uint& n [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
    out[gid.y * n + gid.x] = in[gid.y * n + gid.x];  // uses every argument, as Life's kernel does
}
"""
LIFE_ROW = "Life-style encode (2 buffers, set_bytes, 2-D dispatch)"
LIFE_BYTES_ROW = "the same, set_bytes(bytes) instead of np.uint32"

NAMES = [
    "make_command_buffer",
    "+ encoder + end_encoding",
    "+ set_compute_pipeline_state",
    "+ set_buffer",
    "+ dispatch_threads",
    "+ commit",
    "+ wait_until_completed",
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


def life_steps(queue, pipe, bufs, size=None):
    """The encoding of one step of bench/gpu_vs_cupy.py's Life row (ping-pong buffers, the
    size by set_bytes: a NumPy scalar, as that row passes it, unless `size` is given), without
    commit."""
    size = np.uint32(512) if size is None else size

    def run(n):
        for s in range(n):
            cb = queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pipe)
            enc.set_buffer(bufs[s % 2], 0, 0)
            enc.set_buffer(bufs[(s + 1) % 2], 0, 1)
            enc.set_bytes(size, 2)
            enc.dispatch_threads((512, 512, 1), (16, 16, 1))
            enc.end_encoding()

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
    life_pipe = pymetallic.ComputePipelineState(device, lib.make_function("step2d"))
    life_bufs = [pymetallic.Buffer(device, 512 * 512), pymetallic.Buffer(device, 512 * 512)]
    upto = 5 if args.encode_only else len(NAMES)
    fns = [steps(queue, pipe, buf, i) for i in range(1, upto + 1)]
    fns += [life_steps(queue, life_pipe, life_bufs), life_steps(queue, life_pipe, life_bufs, np.uint32(512).tobytes())]
    ns = [args.n if i < 6 else max(args.n // 10, 1) for i in range(1, upto + 1)] + [args.n, args.n]
    print(f"{'row':<32} {'us/iter':>8} {'step':>8}   ({device.name})")
    rows, last = [], 0.0
    *cumulative, life, life_bytes = per_call_rows(fns, ns, args.repeats)
    for name, us in zip(NAMES, cumulative):
        rows.append({"row": name, "us": us, "step_us": us - last})
        print(f"{name:<32} {us:8.3f} {us - last:8.3f}", flush=True)
        last = us
    rows.append({"row": LIFE_ROW, "us": life})
    rows.append({"row": LIFE_BYTES_ROW, "us": life_bytes})
    print(f"{LIFE_ROW}: {life:.3f} us")
    print(f"{LIFE_BYTES_ROW}: {life_bytes:.3f} us")
    write_json(args.json, rows)


if __name__ == "__main__":
    sys.exit(main())
