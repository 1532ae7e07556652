"""A few launches of chosen benchmark kernels, ours and CuPy's, in one process, for a profiler
(Nsight Compute) to compare launch by launch: the same kernel of bench/gpu_kernels.py in MSL
through pymetallic and in CUDA C++ through CuPy RawKernel, same inputs and launch shape.

    ncu -k regex:'matmul_tiled|life_step' python bench/gpu_ncu_probe.py [--n 2048] [--life 512]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import pymetallic

try:
    import cupy as cp
except ImportError:  # pragma: no cover - needs a GPU machine
    sys.exit("this probe needs CuPy and an NVIDIA GPU")

sys.path.insert(0, os.path.dirname(__file__))
from gpu_kernels import CUDA  # noqa: E402
from msl_runner import MslRunner  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048, help="matmul size (elements per side)")
    ap.add_argument("--life", type=int, default=512, help="Life grid side (cells)")
    ap.add_argument("--repeat", type=int, default=3, help="launches of each kernel on each side")
    args = ap.parse_args()
    device = next(d for d in pymetallic.Device.get_all_devices() if getattr(d, "kind", "") == "cuda")
    ours = MslRunner(device)
    mod = cp.RawModule(code=CUDA, options=("-std=c++17",))
    rng = np.random.default_rng(0)
    n = args.n
    a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
    A, B, C = ours.buf(a), ours.buf(b), pymetallic.Buffer(device, 4 * n * n)
    ca, cb_, cc = cp.asarray(a), cp.asarray(b), cp.empty((n, n), cp.float32)
    k = mod.get_function("matmul_tiled")
    for _ in range(args.repeat):
        ours.run("matmul_tiled", [A, B, C], (n, n, 1), (16, 16, 1), [(np.uint32(n), 3)])
        k((n // 16, n // 16), (16, 16), (ca, cb_, cc, np.uint32(n)))
    cp.cuda.Device().synchronize()
    np.testing.assert_allclose(C.to_numpy(np.float32, (n, n)), cp.asnumpy(cc), rtol=1e-5)
    w = args.life
    grid = (rng.random((w, w)) < 0.3).astype(np.uint8)
    bufs = [ours.buf(grid), pymetallic.Buffer(device, w * w)]
    cbufs = [cp.asarray(grid), cp.empty((w, w), cp.uint8)]
    life = mod.get_function("life_step")
    for s in range(args.repeat):
        ours.run("life_step", [bufs[s % 2], bufs[(s + 1) % 2]], (w, w, 1), (16, 16, 1), [(np.uint32(w), 2)])
        life((w // 16, w // 16), (16, 16), (cbufs[s % 2], cbufs[(s + 1) % 2], np.uint32(w)))
    cp.cuda.Device().synchronize()
    s = args.repeat
    np.testing.assert_array_equal(bufs[s % 2].to_numpy(np.uint8, (w, w)), cp.asnumpy(cbufs[s % 2]))
    print("probe done: outputs agree")


if __name__ == "__main__":
    main()
