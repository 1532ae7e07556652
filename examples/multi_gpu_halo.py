"""Heat diffusion split across every GPU of this machine, halos exchanged by peer blits.

The grid's interior rows are split into one slab per GPU. Each step, every GPU computes its
slab, then copies its first and last rows into its neighbours' halo rows with a blit on its
own queue (GPU to GPU: peer access over NVLink/PCIe when the GPUs allow it). Shared events
order the queues — a GPU starts step k once its neighbours have pushed their rows of step
k-1 — so the host never waits inside the loop. The result is checked against the same steps
on one device (and, at small sizes, against NumPy in float64).

With one GPU (or none) the split runs on one device in two parts, each with its own queue,
still ordered by shared events and exchanging halos by blits; with PYMETALLIC_CPU_DEVICES=N
the parts run on N CPU devices.

Run: python examples/multi_gpu_halo.py [--small] [--size 4096] [--steps 200] [--parts N]
"""

import argparse
import os

import numpy as np

import pymetallic
from pymetallic.demos import heat

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
parser.add_argument("--size", type=int, default=None, help="grid edge (default: 4096 on GPUs, 1024 on the CPU)")
parser.add_argument("--steps", type=int, default=None)
parser.add_argument("--parts", type=int, default=None, help="slabs (default: one per device, at least 2)")
args = parser.parse_args()

all_devices = pymetallic.Device.get_all_devices()
gpus = [d for d in all_devices if d.kind == "cuda"]
cpus = [d for d in all_devices if d.kind == "cpu"]
if len(gpus) >= 2:
    pool, note = gpus, f"{len(gpus)} GPUs"
elif len(cpus) >= 2 and not gpus:
    pool, note = cpus, f"{len(cpus)} CPU devices (PYMETALLIC_CPU_DEVICES)"
else:
    one = pymetallic.Device.get_default_device()
    pool, note = [one], f"one device only ({one.name}): the split runs on it, one queue per part"
parts = args.parts or max(2, len(pool))
devices = [pool[i % len(pool)] for i in range(parts)]

on_gpu = devices[0].kind == "cuda"
size = args.size or (66 if args.small else 4096 if on_gpu else 1024)
steps = args.steps or (20 if args.small else 200 if on_gpu else 50)
grid = heat.initial_grid(size, size)

print(f"heat diffusion, {size} x {size}, {steps} steps, {parts} parts on {note}")
for p, d in enumerate(devices):
    print(f"  part {p}: {d!r}")
split, t_split = heat.run_split(devices, grid, steps)
single, t_single = heat.run_split([devices[0]], grid, steps)
print(f"  split over {parts} parts: {t_split * 1e3:8.1f} ms   one device: {t_single * 1e3:8.1f} ms")

same_kind = all(d.kind == devices[0].kind for d in devices)
if same_kind:
    # The same kernel on the same kind of device: every cell must match bit for bit.
    assert np.array_equal(split, single), (
        f"split and single-device results differ: max |diff| = {np.abs(split - single).max()}"
    )
    print("  split result == single-device result (bit for bit)")
else:
    np.testing.assert_allclose(split, single, rtol=1e-5, atol=1e-6)
    print("  split result matches the single-device result")
if size <= 1024:
    ref = heat.reference(grid, steps)
    err = np.abs(split - ref).max()
    assert err < 1e-4, f"max |error| against NumPy float64 is {err}"
    print(f"  max |error| against NumPy float64: {err:.2e}")
