"""Heat diffusion across MPI ranks: one device per process, halos sent with mpi4py.

Each rank takes the device `pymetallic.local_device()` gives it (under mpirun/srun: local rank
modulo the node's GPUs, or the CPU device), computes its slab of rows, and swaps its first and
last rows with the neighbouring ranks after every step:

* on a CPU device the halos go straight from and into the buffers' NumPy views;
* on a GPU with GPU-aware MPI and `pymetallic.BufferView` (DLPack / __cuda_array_interface__)
  the rows are sent from and received into device memory directly;
* otherwise (host staging) each step's blit copies the two rows into a small CPU-device buffer
  on the GPU's queue, MPI sends from its NumPy view, and the received rows are copied back
  into the halos on the GPU's queue before the next step.

Rank 0 gathers the result and checks it against the same steps on one device (and, at small
sizes, NumPy in float64). Without mpi4py it runs as a single rank.

Run: mpirun -n 2 python examples/mpi_halo.py [--small] [--size 2048] [--steps 100]
GPU-aware MPI is used when mpi4py reports CUDA support, or PYMETALLIC_MPI_GPU_AWARE=1 (0 forbids).
PYMETALLIC_MPI_HALO=views|staging|device forces one way of sending halos (to test each).
"""

import argparse
import os
import time

import numpy as np

import pymetallic
from pymetallic.demos import heat

try:
    from mpi4py import MPI
except Exception:  # not installed, or no MPI library for it to load
    MPI = None  # type: ignore[assignment]


class _OneRank:
    """What this script uses of a communicator, for a run without mpi4py."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def gather(self, value, root=0):
        return [value]

    def bcast(self, value, root=0):
        return value

    def Barrier(self):
        pass


def mpi_gpu_aware():
    env = os.environ.get("PYMETALLIC_MPI_GPU_AWARE")
    if env is not None:
        return env == "1"
    query = getattr(MPI, "Query_cuda_support", None)
    try:
        return bool(query()) if query else False
    except Exception:
        return False


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
parser.add_argument("--size", type=int, default=None)
parser.add_argument("--steps", type=int, default=None)
args = parser.parse_args()

comm = MPI.COMM_WORLD if MPI is not None else _OneRank()
rank, nranks = comm.Get_rank(), comm.Get_size()
device = pymetallic.local_device()
size = args.size or (66 if args.small else 2048 if device.kind == "cuda" else 512)
steps = args.steps or (20 if args.small else 100 if device.kind == "cuda" else 30)
if size - 2 < nranks:
    raise SystemExit(f"a {size}-row grid cannot be split over {nranks} ranks")
grid = heat.initial_grid(size, size)
first, n = heat.split_rows(size - 2, nranks)[rank]
width, row = size, size * 4
up = rank - 1 if rank > 0 else None
down = rank + 1 if rank < nranks - 1 else None

forced = os.environ.get("PYMETALLIC_MPI_HALO")  # views | staging | device: for testing each path
if forced:
    mode = {"views": "host views", "staging": "host staging", "device": "GPU-aware (device buffers)"}[forced]
elif device.kind == "cpu":
    mode = "host views"
elif hasattr(pymetallic, "BufferView") and MPI is not None and mpi_gpu_aware():
    mode = "GPU-aware (device buffers)"
else:
    mode = "host staging"

local = np.ascontiguousarray(grid[first : first + n + 2])
bufs = [pymetallic.Buffer.from_numpy(device, local), pymetallic.Buffer.from_numpy(device, local)]
queue = device.make_command_queue()
pipeline = heat.heat_pipeline(device)
cpu = next(d for d in pymetallic.Device.get_all_devices() if d.kind == "cpu")
send = pymetallic.Buffer(cpu, 2 * row)  # host staging: my first and last rows
recv = pymetallic.Buffer(cpu, 2 * row)  # host staging: the halos above and below
send_rows, recv_rows = send.to_numpy(np.float32, (2, width)), recv.to_numpy(np.float32, (2, width))


def rows_of(buf, first_row, count=1):
    """MPI's view of `count` rows of a slab buffer starting at `first_row`."""
    if mode == "host views":
        return buf.to_numpy(np.float32, (n + 2, width))[first_row : first_row + count]
    return [pymetallic.BufferView(buf, np.float32, (count * width,), offset=first_row * row), MPI.FLOAT]


def exchange(src, dst):
    """Swap boundary rows with the neighbours: my rows of `src`, their rows into `dst`'s halos."""
    if mode == "host staging":
        mine = {up: send_rows[0], down: send_rows[1]}
        theirs = {up: recv_rows[0], down: recv_rows[1]}
    else:
        mine = {up: rows_of(src, 1), down: rows_of(src, n)}
        theirs = {up: rows_of(dst, 0), down: rows_of(dst, n + 1)}
    for other in (up, down):  # every rank swaps upwards first: pairs meet without deadlock
        if other is not None:
            comm.Sendrecv(mine[other], dest=other, recvbuf=theirs[other], source=other)


comm.Barrier()
t0 = time.perf_counter()
for k in range(steps):
    src, dst = bufs[k % 2], bufs[(k + 1) % 2]
    cb = queue.make_command_buffer()
    if mode == "host staging" and k > 0:
        # The halos received after the last step go into this step's source.
        blit = cb.make_blit_command_encoder()
        if up is not None:
            blit.copy_from_buffer(recv, 0, src, 0, row)
        if down is not None:
            blit.copy_from_buffer(recv, row, src, (n + 1) * row, row)
        blit.end_encoding()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipeline)
    enc.set_buffer(src, 0, 0)
    enc.set_buffer(dst, 0, 1)
    enc.set_bytes(np.array([width, n], np.uint32), 2)
    enc.set_bytes(np.float32(heat.ALPHA), 3)
    enc.dispatch_threads((width, n, 1), (32, 8, 1))
    enc.end_encoding()
    if mode == "host staging" and nranks > 1:
        blit = cb.make_blit_command_encoder()
        blit.copy_from_buffer(dst, row, send, 0, row)
        blit.copy_from_buffer(dst, n * row, send, row, row)
        blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    if k < steps - 1 and nranks > 1:
        # Host staging receives into `recv` (copied in by the next step); the other modes
        # write the halos of the next step's source, which is this step's destination.
        exchange(dst, dst)
elapsed = time.perf_counter() - t0

mine = bufs[steps % 2].to_numpy(np.float32, (n + 2, width))[1 : n + 1].copy()
parts = comm.gather((first, mine, device.kind), root=0)
times = comm.gather(elapsed, root=0)
if rank == 0:
    assert parts is not None and times is not None  # gather returns the lists on the root
    result = grid.copy()
    for f, rows, _ in parts:
        result[f + 1 : f + 1 + rows.shape[0]] = rows
    single, t_single = heat.run_split([device], grid, steps)
    print(
        f"heat diffusion, {size} x {size}, {steps} steps over {nranks} rank(s) "
        f"({', '.join(sorted({p[2] for p in parts}))}), halos: {mode}"
    )
    print(f"  {nranks} rank(s): {max(times) * 1e3:8.1f} ms   one device: {t_single * 1e3:8.1f} ms")
    if all(p[2] == device.kind for p in parts):
        assert np.array_equal(result, single), f"max |diff| against one device = {np.abs(result - single).max()}"
        print("  result == single-device result (bit for bit)")
    else:
        np.testing.assert_allclose(result, single, rtol=1e-5, atol=1e-6)
        print("  result matches the single-device result")
    if size <= 1024:
        err = np.abs(result - heat.reference(grid, steps)).max()
        assert err < 1e-4, f"max |error| against NumPy float64 is {err}"
        print(f"  max |error| against NumPy float64: {err:.2e}")
