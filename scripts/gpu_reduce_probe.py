"""Where does reduce_sum lose 10% against CuPy? Times variants of the MSL kernel on the GPU:
the benchmark's (size from threads_per_threadgroup), a fixed size, and a dispatch_threads
grid, each against the CUDA version."""

import statistics
import sys
import time
import numpy as np
import cupy as cp
import pymetallic

sys.path.insert(0, "bench")
from gpu_kernels import CUDA

VARIANTS = {
    "threads_per_threadgroup": "uint size [[threads_per_threadgroup]]",
    "fixed 256": "uint unused [[threads_per_threadgroup]]",
}
SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void red(device const float* in [[buffer(0)]], device float* partial [[buffer(1)]],
                uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                uint group [[threadgroup_position_in_grid]], PARAM) {
    threadgroup float scratch[256];
    scratch[lid] = in[gid];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = SIZE / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (lid == 0) partial[group] = scratch[0];
}
"""
d = pymetallic.Device.get_default_device()
n = 1 << 26
groups = n // 256
a = np.random.default_rng(0).random(n, np.float32)
A = pymetallic.Buffer.from_numpy(d, a)
P = pymetallic.Buffer(d, 4 * groups)
q = pymetallic.CommandQueue(d)


def time_ours(pipe, reps=20, groups_mode=True):
    def once():
        cb = q.make_command_buffer()
        e = cb.make_compute_command_encoder()
        for _ in range(reps):
            e.set_compute_pipeline_state(pipe)
            e.set_buffer(A, 0, 0)
            e.set_buffer(P, 0, 1)
            if groups_mode:
                e.dispatch_threadgroups((groups, 1, 1), (256, 1, 1))
            else:
                e.dispatch_threads((n, 1, 1), (256, 1, 1))
        e.end_encoding()
        t = time.perf_counter()
        cb.commit()
        cb.wait_until_completed()
        return (time.perf_counter() - t) / reps

    for _ in range(2):
        once()
    return statistics.median(once() for _ in range(7))


k = cp.RawModule(code=CUDA, options=("-std=c++17",)).get_function("reduce_sum")
ca, cpart = cp.asarray(a), cp.empty(groups, cp.float32)


def cupy_time(reps=20):
    def once():
        t = time.perf_counter()
        for _ in range(reps):
            k((groups,), (256,), (ca, cpart))
        cp.cuda.Device().synchronize()
        return (time.perf_counter() - t) / reps

    for _ in range(2):
        once()
    return statistics.median(once() for _ in range(7))


print("cupy", cupy_time() * 1e3, "ms")
for name, param in VARIANTS.items():
    src = SRC.replace("PARAM", param).replace("SIZE", "size" if "size" in param else "256u")
    pipe = pymetallic.ComputePipelineState(d, pymetallic.Library(d, src).make_function("red"))
    print(name, "threadgroups", time_ours(pipe) * 1e3, "ms; threads", time_ours(pipe, groups_mode=False) * 1e3, "ms")
import os

os.environ["PYMETALLIC_CUDA_GRAPHS"] = "0"
q2 = pymetallic.CommandQueue(d)
print("cupy again", cupy_time() * 1e3, "ms")
