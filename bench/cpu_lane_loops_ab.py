"""Lane loops on and off in one process (PYMETALLIC_CPU_LANE_LOOPS=0 is read per Library),
timed interleaved: the rows of bench/cpu_vs_pocl.py the lane loops change, ours only.

    python bench/cpu_lane_loops_ab.py
"""

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pymetallic as pm  # noqa: E402
from gpu_kernels import MSL  # noqa: E402

d = pm.Device.get_default_device()
q = pm.CommandQueue(d)
libs = {"lane loops": pm.Library(d, MSL)}
os.environ["PYMETALLIC_CPU_LANE_LOOPS"] = "0"
libs["per-thread loop"] = pm.Library(d, MSL)
del os.environ["PYMETALLIC_CPU_LANE_LOOPS"]


def runner(lib, name, bufs, grid, tg, byts=()):
    p = pm.ComputePipelineState(d, lib.make_function(name))

    def run():
        cb = q.make_command_buffer()
        e = cb.make_compute_command_encoder()
        e.set_compute_pipeline_state(p)
        for i, b in enumerate(bufs):
            e.set_buffer(b, 0, i)
        for v, i in byts:
            e.set_bytes(v, i)
        e.dispatch_threads(grid, tg)
        e.end_encoding()
        cb.commit()
        cb.wait_until_completed()

    return run


rng = np.random.default_rng(0)
n = 512
out = pm.Buffer.from_numpy(d, np.zeros(1024 * 1024, np.uint32))
a = pm.Buffer.from_numpy(d, rng.random(n * n, np.float32))
b = pm.Buffer.from_numpy(d, rng.random(n * n, np.float32))
c = pm.Buffer.from_numpy(d, np.zeros(n * n, np.float32))
size = np.array([1024, 1024], np.uint32)
fns = {}
for label, lib in libs.items():
    mandel = runner(lib, "mandelbrot", [out], (1024, 1024, 1), (16, 16, 1), [(size, 1), (np.uint32(256), 2)])
    fns[f"Mandelbrot 1024^2, 256 it. ({label})"] = mandel
    fns[f"matmul 512^3 naive ({label})"] = runner(
        lib, "matmul_naive", [a, b, c], (n, n, 1), (16, 16, 1), [(np.uint32(n), 3)]
    )
for f in fns.values():
    f()
samples = {k: [] for k in fns}
for _ in range(7):
    for k, f in fns.items():
        t = time.perf_counter()
        f()
        samples[k].append(time.perf_counter() - t)
for k, v in samples.items():
    print(f"{k:45s} {statistics.median(v) * 1e3:9.2f} ms")
