"""Cost of validation mode (issue 12) on the CPU: each benchmark kernel of
bench/gpu_kernels.py run plain and with options={"validation": True}, plus the fluid
demo's kernels for one simulation step. Prints the time of each and the slowdown.

Validation checks every subscripted access against the bound buffers, tracks every
threadgroup byte (last writer/reader per barrier interval), runs barrier kernels as fibers
(no loop fission) and does not flatten the thread loop, so expect one to two orders of
magnitude: it is a debugging mode.

Run: python bench/cpu_validation.py [--small]
"""

import argparse
import os
import sys
import time

import numpy as np

import pymetallic as pm

sys.path.insert(0, os.path.dirname(__file__))
from gpu_kernels import MSL  # noqa: E402


def cases(small):
    n = 1 << (16 if small else 20)
    side = 256 if small else 512
    mm = 64 if small else 128
    life = 256 if small else 512
    rng = np.random.default_rng(0)
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    A, B = rng.random((mm, mm), dtype=np.float32), rng.random((mm, mm), dtype=np.float32)
    cells = (rng.random((life, life)) < 0.3).astype(np.uint8)
    return [
        ("vector_add %d" % n, "vector_add", [a, b, np.zeros_like(a)], (n, 1, 1), (256, 1, 1)),
        (
            "mandelbrot %dx%d" % (side, side),
            "mandelbrot",
            [np.zeros(side * side, np.uint32), np.array([side, side], np.uint32), np.uint32(64)],
            (side, side, 1),
            (16, 16, 1),
        ),
        ("reduce_sum %d" % n, "reduce_sum", [a, np.zeros(n // 256, np.float32)], (n, 1, 1), (256, 1, 1)),
        ("matmul_naive %d" % mm, "matmul_naive", [A, B, np.zeros_like(A), np.uint32(mm)], (mm, mm, 1), (16, 16, 1)),
        ("matmul_tiled %d" % mm, "matmul_tiled", [A, B, np.zeros_like(A), np.uint32(mm)], (mm, mm, 1), (16, 16, 1)),
        (
            "life_step %d" % life,
            "life_step",
            [cells, np.zeros_like(cells), np.uint32(life)],
            (life, life, 1),
            (16, 16, 1),
        ),
    ]


def run(device, lib, name, args, grid, tg, queue):
    pipe = pm.ComputePipelineState(device, lib.make_function(name))
    bufs = [pm.Buffer.from_numpy(device, x) if isinstance(x, np.ndarray) and x.ndim and x.size > 2 else x for x in args]

    def once():
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipe)
        for i, x in enumerate(bufs):
            if isinstance(x, pm.Buffer):
                enc.set_buffer(x, 0, i)
            else:
                enc.set_bytes(x, i)
        enc.dispatch_threads(grid, tg)
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()

    once()  # warm up (and compile)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - t)
    return best


def main(kind="cpu"):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--small", action="store_true")
    args = p.parse_args()
    found = [d for d in pm.Device.get_all_devices() if getattr(d, "kind", "cpu") == kind]
    if not found:
        sys.exit("no %s device here" % kind)
    device = found[0]
    print(device.name)
    queue = pm.CommandQueue(device)
    t = time.perf_counter()
    plain = pm.Library(device, MSL, {"filename": "bench.metal"})
    t_plain = time.perf_counter() - t
    t = time.perf_counter()
    checked = pm.Library(device, MSL, {"filename": "bench.metal", "validation": True})
    t_checked = time.perf_counter() - t
    print("compile (cold unless cached): plain %.2f s, validation %.2f s" % (t_plain, t_checked))
    print("%-22s %12s %14s %9s" % ("kernel", "plain ms", "validation ms", "slowdown"))
    for title, name, a, grid, tg in cases(args.small):
        t0 = run(device, plain, name, a, grid, tg, queue)
        t1 = run(device, checked, name, a, grid, tg, queue)
        print("%-22s %12.2f %14.2f %8.1fx" % (title, t0 * 1e3, t1 * 1e3, t1 / t0))


if __name__ == "__main__":
    main()
