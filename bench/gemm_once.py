"""One dispatch of bench/gemm.metal's kernel (default gemm_half, n = 1024), for profilers
(`ncu python bench/gemm_once.py`)."""

import os
import sys

import numpy as np

import pymetallic

name = sys.argv[1] if len(sys.argv) > 1 else "gemm_half"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_gemm import KERNELS, VARIANTS  # noqa: E402

tname, bm, bn, threads = {**KERNELS, **VARIANTS}[name]
dt = {"half": np.float16, "float": np.float32, "bfloat": np.uint16}[tname]
d = next(x for x in pymetallic.Device.get_all_devices() if x.kind == "cuda")
lib = pymetallic.Library(d, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gemm.metal")).read())
pipe = pymetallic.ComputePipelineState(d, lib.make_function(name))
q = pymetallic.CommandQueue(d)
A = pymetallic.Buffer.from_numpy(d, np.ones((n, n), dt))
B = pymetallic.Buffer.from_numpy(d, np.ones((n, n), dt))
C = pymetallic.Buffer(d, n * n * 4)
cb = q.make_command_buffer()
e = cb.make_compute_command_encoder()
e.set_compute_pipeline_state(pipe)
for i, b in enumerate((A, B, C)):
    e.set_buffer(b, 0, i)
e.set_bytes(np.array([n, n, n], np.uint32), 3)
e.dispatch_threadgroups((n // bn, n // bm, 1), (threads, 1, 1))
e.end_encoding()
cb.commit()
cb.wait_until_completed()
print(name, n, "done")
