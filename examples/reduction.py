"""Sum a large array with threadgroup memory: a two-pass tree reduction.

Pass 1: each threadgroup of 256 threads sums a slice into threadgroup memory, halving the
active threads each round (with threadgroup_barrier between rounds), and writes one partial
sum. Pass 2: a single threadgroup sums the partial sums.

Run: python examples/reduction.py [--small]
"""

import argparse
import os
import time

import numpy as np

import pymetallic
from pymetallic.kernels import REDUCTION

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
args = parser.parse_args()

n = 100_000 if args.small else 16_000_000
groups = 16 if args.small else 256  # pass-1 threadgroups; each thread loops over its share
device = pymetallic.Device.get_default_device()
queue = device.make_command_queue()
pipeline = pymetallic.kernel_cache.get(device, REDUCTION, "reduce_sum")

data = np.random.default_rng(0).random(n, dtype=np.float32)
src = pymetallic.Buffer.from_numpy(device, data)
partial = pymetallic.Buffer(device, groups * 4)
total = pymetallic.Buffer(device, 4)

t0 = time.perf_counter()
cb = queue.make_command_buffer()
enc = cb.make_compute_command_encoder()
enc.set_compute_pipeline_state(pipeline)
# Pass 1: `groups` threadgroups of 256 threads.
enc.set_buffer(src, 0, 0)
enc.set_buffer(partial, 0, 1)
enc.set_bytes(np.uint32(n), 2)
enc.dispatch_threadgroups((groups, 1, 1), (256, 1, 1))
# Pass 2, in the same command buffer: dispatches of one encoder run in order.
enc.set_buffer(partial, 0, 0)
enc.set_buffer(total, 0, 1)
enc.set_bytes(np.uint32(groups), 2)
enc.dispatch_threadgroups((1, 1, 1), (256, 1, 1))
enc.end_encoding()
cb.commit()
cb.wait_until_completed()
elapsed = time.perf_counter() - t0

result = float(total.to_numpy(np.float32)[0])
expected = float(data.astype(np.float64).sum())
print(f"sum of {n:,} floats = {result:.6g} (NumPy float64: {expected:.6g}) in {elapsed * 1e3:.2f} ms")
assert abs(result - expected) <= 1e-5 * expected
