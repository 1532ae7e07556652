"""dispatch_threadgroups_with_indirect_buffer against dispatch_threadgroups with the same
counts, on the default CUDA device: the cost of the fixed grid (one wave of blocks, each
running several threadgroups in turn) over a launch sized by the host.

    PYTHONPATH=python python3 bench/gpu_indirect.py

Each row: microseconds per dispatch (median over rounds of `REPEAT` dispatches in one command
buffer, GPU time with PYMETALLIC_GPU_TIMESTAMPS=1), direct and indirect, and their ratio."""

import os
import statistics
import sys

os.environ.setdefault("PYMETALLIC_GPU_TIMESTAMPS", "1")

import numpy as np  # noqa: E402

import pymetallic as pm  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from gpu_kernels import MSL  # noqa: E402

REPEAT, ROUNDS = 50, 15


def time_per_dispatch(queue, pipe, buffers, bytes_args, encode_dispatch):
    times = []
    for _ in range(ROUNDS + 2):
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipe)
        for i, b in buffers:
            enc.set_buffer(b, 0, i)
        for i, v in bytes_args:
            enc.set_bytes(v, i)
        for _ in range(REPEAT):
            encode_dispatch(enc)
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        if cb.error:
            raise RuntimeError(cb.error)
        times.append((cb.gpu_end_time - cb.gpu_start_time) / REPEAT * 1e6)
    return statistics.median(times[2:])


def main():
    device = pm.Device.get_default_device()
    if device.kind != "cuda":
        print("no CUDA device: nothing to compare")
        return 0
    lib = pm.Library(device, MSL)
    queue = pm.CommandQueue(device)
    n = 1 << 24
    a = pm.Buffer.from_numpy(device, np.ones(n, np.float32))
    b = pm.Buffer.from_numpy(device, np.ones(n, np.float32))
    c = pm.Buffer(device, 4 * n)
    m = 1024
    cases = [
        # name, kernel, buffers, set_bytes, counts, threads per threadgroup
        ("vector_add 16M", "vector_add", [(0, a), (1, b), (2, c)], [], (n // 256, 1, 1), (256, 1, 1)),
        ("vector_add 64K", "vector_add", [(0, a), (1, b), (2, c)], [], (256, 1, 1), (256, 1, 1)),
        ("reduce_sum 16M", "reduce_sum", [(0, a), (1, c)], [], (n // 256, 1, 1), (256, 1, 1)),
        (
            "matmul_tiled 1024",
            "matmul_tiled",
            [(0, a), (1, b), (2, c)],
            [(3, np.uint32(m))],
            (m // 16, m // 16, 1),
            (16, 16, 1),
        ),
    ]
    print(f"{'kernel':22s} {'direct us':>10s} {'indirect us':>12s} {'ratio':>7s}")
    for name, fn, buffers, bytes_args, counts, tg in cases:
        pipe = pm.ComputePipelineState(device, lib.make_function(fn))
        counts_buffer = pm.Buffer.from_numpy(device, np.array(counts, np.uint32))
        direct = time_per_dispatch(queue, pipe, buffers, bytes_args, lambda enc: enc.dispatch_threadgroups(counts, tg))
        indirect = time_per_dispatch(
            queue,
            pipe,
            buffers,
            bytes_args,
            lambda enc: enc.dispatch_threadgroups_with_indirect_buffer(counts_buffer, 0, tg),
        )
        print(f"{name:22s} {direct:10.2f} {indirect:12.2f} {indirect / direct:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
