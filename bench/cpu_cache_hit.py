"""Cache hit in a new process: time from `pymetallic.Library(...)` of the benchmark library
(bench/gpu_kernels.py, 7 kernels) to its 7 pipelines, with a warm disk cache. Prints wall and
CPU time (process_time: what the process itself spent, less sensitive to a loaded machine).
Run it several times in fresh processes after one run has filled the cache:

    for i in 1 2 3 4 5 6; do python bench/cpu_cache_hit.py; done
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pymetallic as pm  # noqa: E402
from gpu_kernels import MSL  # noqa: E402

NAMES = ("vector_add", "mandelbrot", "reduce_sum", "matmul_naive", "matmul_tiled", "empty", "life_step")

d = pm.Device.get_default_device()
t0w, t0c = time.perf_counter(), time.process_time()
lib = pm.Library(d, MSL)
pipes = [pm.ComputePipelineState(d, lib.make_function(k)) for k in NAMES]
t1w, t1c = time.perf_counter(), time.process_time()
print(json.dumps({"wall_ms": (t1w - t0w) * 1e3, "cpu_ms": (t1c - t0c) * 1e3}))
