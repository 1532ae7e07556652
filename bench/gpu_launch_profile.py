"""Where the microseconds of an empty dispatch go (issue 13, launch overhead): each step of a
Metal-style dispatch (command buffer, encoder, pipeline, buffer, dispatch, end, commit, wait)
added one at a time, per call, next to CuPy's launch and synchronize of the same empty kernel
in the same run. Prints microseconds per iteration for each cumulative prefix; the
difference between consecutive rows is what that step costs.

    python bench/gpu_launch_profile.py [--n 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import pymetallic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from host_encode_profile import MSL, NAMES, steps  # noqa: E402  the same cumulative steps

try:
    import cupy as cp
except ImportError:  # pragma: no cover
    cp = None

CUDA = 'extern "C" __global__ void empty(float* out) {}'


def per_call(fn, n, repeats=5):
    fn(n // 10)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--json")
    args = ap.parse_args()
    device = next(d for d in pymetallic.Device.get_all_devices() if getattr(d, "kind", "") == "cuda")
    lib = pymetallic.Library(device, MSL)
    pipe = pymetallic.ComputePipelineState(device, lib.make_function("empty"))
    queue = pymetallic.CommandQueue(device)
    buf = pymetallic.Buffer(device, 256)

    rows = []
    for i, name in enumerate(NAMES, start=1):
        us = per_call(steps(queue, pipe, buf, i), args.n if i < 7 else args.n // 4)
        rows.append({"row": name, "us": us})
        print(f"{name:<32} {us:8.3f} us", flush=True)
    if cp is not None:
        k = cp.RawKernel(CUDA, "empty")
        out = cp.empty(64, cp.float32)
        stream = cp.cuda.get_current_stream()

        def launch(n):
            for _ in range(n):
                k((1,), (32,), (out,))
            stream.synchronize()

        def launch_sync(n):
            for _ in range(n):
                k((1,), (32,), (out,))
                cp.cuda.Device().synchronize()

        for name, fn, n in [("cupy launch", launch, args.n), ("cupy launch + synchronize", launch_sync, args.n // 4)]:
            us = per_call(fn, n)
            rows.append({"row": name, "us": us})
            print(f"{name:<32} {us:8.3f} us", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
