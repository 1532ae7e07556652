"""reduce_sum_simd (bench/cpu_vs_pocl.py's kernel: simd_sum -> barrier -> simd_sum, 256 threads a
group, 4M floats) against NumPy's a.sum() in one process: min and median of N dispatches each.
On a shared machine the minimum shows what the kernel costs when it gets both cores; the median
what the load left (cpu_vs_pocl.py reports medians of 5). Usage: python bench/cpu_reduce_simd_min.py [N]"""

import os
import sys
import time

import numpy as np

import pymetallic

sys.path.insert(0, os.path.dirname(__file__))
import cpu_vs_pocl  # noqa: E402

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
dev = pymetallic.Device.get_default_device()
lib = pymetallic.Library(dev, cpu_vs_pocl.SIMD_MSL)
pipe = pymetallic.ComputePipelineState(dev, lib.make_function("reduce_sum_simd"))
queue = pymetallic.CommandQueue(dev)
n = 1 << 22
a = np.random.default_rng(2).random(n, np.float32)
groups = n // 256
A, P = pymetallic.Buffer.from_numpy(dev, a), pymetallic.Buffer(dev, 4 * groups)


def run():
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(A, 0, 0)
    enc.set_buffer(P, 0, 1)
    enc.dispatch_threadgroups((groups, 1, 1), (256, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()


run()
np.testing.assert_allclose(P.to_numpy(np.float32), a.astype(np.float64).reshape(groups, 256).sum(1), rtol=1e-5)
ours, ref = [], []
for _ in range(reps):  # interleaved
    t = time.perf_counter()
    run()
    ours.append(time.perf_counter() - t)
    t = time.perf_counter()
    a.sum()
    ref.append(time.perf_counter() - t)
ours.sort()
ref.sort()
print(
    f"reduce_sum_simd 4M: ours min {ours[0] * 1e3:.3f} ms, median {ours[reps // 2] * 1e3:.3f}; "
    f"NumPy a.sum() min {ref[0] * 1e3:.3f} ms, median {ref[reps // 2] * 1e3:.3f}; "
    f"ratio of minima {ours[0] / ref[0]:.2f}, of medians {ours[reps // 2] / ref[reps // 2]:.2f}"
)
