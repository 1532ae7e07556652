"""All-pairs gravitational N-body: a few steps on the device, the first checked in NumPy.

Run: python examples/nbody.py [--small]
"""

import argparse
import os
import time

import numpy as np

import pymetallic
from pymetallic.demos.reference import nbody_reference
from pymetallic.kernels import NBODY

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
args = parser.parse_args()

n, steps = (256, 3) if args.small else (4096, 10)
device = pymetallic.Device.get_default_device()
queue = device.make_command_queue()
pipeline = pymetallic.kernel_cache.get(device, NBODY, "nbody_step")

# A cold disc of bodies: float4 = (x, y, z, mass); velocities (vx, vy, vz, 0).
rng = np.random.default_rng(1)
pos = np.zeros((n, 4), np.float32)
pos[:, :3] = rng.standard_normal((n, 3)) * np.array([1.0, 1.0, 0.1])
pos[:, 3] = rng.uniform(0.5, 1.5, n) / n
vel = np.zeros((n, 4), np.float32)

# NBodyParams {uint n; float dt; float softening2; float g;}
params = np.array([(n, 0.01, 0.01, 1.0)], dtype=[("n", "<u4"), ("dt", "<f4"), ("eps2", "<f4"), ("g", "<f4")])
pos_bufs = [pymetallic.Buffer.from_numpy(device, pos), pymetallic.Buffer(device, pos.nbytes)]
vel_buf = pymetallic.Buffer.from_numpy(device, vel)


def step(i):
    """One step: read positions from one buffer, write the other (ping-pong)."""
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipeline)
    enc.set_buffer(pos_bufs[i % 2], 0, 0)
    enc.set_buffer(vel_buf, 0, 1)
    enc.set_buffer(pos_bufs[(i + 1) % 2], 0, 2)
    enc.set_bytes(params, 3)
    enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()


step(0)
exp_pos, exp_vel = nbody_reference(pos, vel, 0.01, 0.01)
got = pos_bufs[1].to_numpy(np.float32, (n, 4))
assert np.allclose(got, exp_pos, rtol=1e-4, atol=1e-5), "first step differs from NumPy"
t0 = time.perf_counter()
for i in range(1, steps):
    step(i)
elapsed = time.perf_counter() - t0
final = pos_bufs[steps % 2].to_numpy(np.float32, (n, 4))
print(
    f"{n} bodies, {steps} steps (first matched NumPy); {elapsed / max(steps - 1, 1) * 1e3:.2f} ms/step; "
    f"centre of mass {np.average(final[:, :3], axis=0, weights=final[:, 3]).round(4)}"
)
