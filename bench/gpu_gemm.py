"""An MLX-style tiled GEMM written in MSL (bench/gemm.metal: threadgroup tiles, SIMD-group
8x8 matrices, float accumulators) against cuBLAS through CuPy (`cupy.matmul`), in one run
on one GPU. Each row first checks our C against cuBLAS's (relative Frobenius error), then
times both (median of several runs after warm-up) and prints TFLOP/s and the ratio
ours / cuBLAS time (above 1.0: we are slower), plus the fraction of cuBLAS's throughput.

    python bench/gpu_gemm.py [--n 4096] [--json out.json] [--all]

The rows are gemm_half and gemm_bfloat (64 x 128 x 32 tiles, 128 threads), gemm_pipe_half and
gemm_pipe_bfloat (the same tiles 64 deep, the next slice prefetched into registers, threadgroups
swizzled in groups of 8 rows: the best of bench/gpu_gemm_sweep.py on the H200, 2026-12-01) and
gemm_float (128 x 128 tiles, 256 threads); --all adds
the other tile shapes of bench/gemm.metal and the first, single-buffered 64 x 64 version.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import pymetallic

try:
    import cupy as cp
except ImportError:  # pragma: no cover - the benchmark needs a GPU machine
    sys.exit("this benchmark needs CuPy and an NVIDIA GPU")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gemm_common import dispatcher, operands  # noqa: E402
from timing import median_seconds, write_json  # noqa: E402

# kernel -> (element type, BM, BN, threads per threadgroup), as instantiated in gemm.metal.
KERNELS = {
    "gemm_half": ("half", 64, 128, 128),
    "gemm_bfloat": ("bfloat", 64, 128, 128),
    "gemm_pipe_half": ("half", 64, 128, 128),
    "gemm_pipe_bfloat": ("bfloat", 64, 128, 128),
    "gemm_float": ("float", 128, 128, 256),
}
VARIANTS = {
    "gemm_half_128": ("half", 128, 128, 256),
    "gemm_half_sg2x2": ("half", 128, 128, 128),
    "gemm_half_64": ("half", 64, 64, 128),
    "gemm_half_128x64": ("half", 128, 64, 128),
    "gemm_small_half": ("half", 64, 64, 128),
    "gemm_float_64": ("float", 64, 64, 128),
    "gemm_float_128x64": ("float", 128, 64, 128),
    "gemm_small_float": ("float", 64, 64, 128),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="M = N = K (a multiple of 64)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--all", action="store_true", help="also time the other tile shapes")
    ap.add_argument("--kernels", help="comma-separated kernel names (default: the three rows)")
    args = ap.parse_args()
    n = args.n
    device = next(d for d in pymetallic.Device.get_all_devices() if getattr(d, "kind", "") == "cuda")
    lib = pymetallic.Library(device, open(os.path.join(HERE, "gemm.metal")).read())
    queue = pymetallic.CommandQueue(device)
    rng = np.random.default_rng(0)
    a64 = rng.standard_normal((n, n))
    b64 = rng.standard_normal((n, n))
    rows = []
    table = {**KERNELS, **VARIANTS}
    names = args.kernels.split(",") if args.kernels else list(KERNELS) + (list(VARIANTS) if args.all else [])
    a_f32, b_f32 = a64.astype(np.float32), b64.astype(np.float32)
    for kernel in names:
        name, bm, bn, threads = table[kernel]
        host_a, host_b, a_ref, b_ref = operands(name, a_f32, b_f32)
        # bfloat: cuBLAS compares in float32 on the same values.
        ca, cb_ = (
            (cp.asarray(a_ref), cp.asarray(b_ref)) if name == "bfloat" else (cp.asarray(host_a), cp.asarray(host_b))
        )
        pipe = pymetallic.ComputePipelineState(device, lib.make_function(kernel))
        A = pymetallic.Buffer.from_numpy(device, host_a)
        B = pymetallic.Buffer.from_numpy(device, host_b)
        C = pymetallic.Buffer(device, n * n * 4)
        ours = dispatcher(pymetallic, queue, pipe, A, B, C, n, bm, bn, threads)

        def theirs():
            cp.matmul(ca, cb_)
            cp.cuda.Device().synchronize()

        peer = "cupy.matmul"
        if name == "bfloat":
            # NumPy and CuPy have no bfloat16: cuBLAS's bf16 GEMM through PyTorch when present.
            try:
                import torch

                ta = torch.from_numpy(a_ref).cuda().to(torch.bfloat16)
                tb = torch.from_numpy(b_ref).cuda().to(torch.bfloat16)

                def theirs():  # noqa: F811 - the bf16 peer replaces the float32 one
                    torch.matmul(ta, tb)
                    torch.cuda.synchronize()

                peer = "torch.matmul bf16"
            except ImportError:
                peer = "cupy.matmul float32 (no PyTorch for bf16)"

        ours()
        # A copy: a live view of C would make every later run copy C back to the host.
        got = np.array(C.to_numpy(np.float32, (n, n)))
        ref = cp.asnumpy(cp.matmul(ca.astype(cp.float32), cb_.astype(cp.float32)))
        err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        assert err < (1e-5 if name == "float" else 1e-3), f"{kernel}: relative error {err}"
        t_ours, t_blas = median_seconds(ours), median_seconds(theirs)
        flop = 2.0 * n**3
        row = {
            "row": f"gemm {n}^3 {name}",
            "kernel": kernel,
            "ours_s": t_ours,
            "cublas_s": t_blas,
            "ratio": t_ours / t_blas,
            "ours_tflops": flop / t_ours / 1e12,
            "cublas_tflops": flop / t_blas / 1e12,
            "fraction_of_cublas": t_blas / t_ours,
            "rel_error": err,
            "peer": peer,
        }
        rows.append(row)
        print(
            f"{row['row']:<22} {kernel:<18} ours {t_ours * 1e3:9.3f} ms ({row['ours_tflops']:6.1f} TFLOP/s)   "
            f"cuBLAS {t_blas * 1e3:9.3f} ms ({row['cublas_tflops']:6.1f} TFLOP/s)   ratio {row['ratio']:6.2f}   "
            f"{100 * row['fraction_of_cublas']:5.1f}% of cuBLAS   rel.err {err:.1e}   ({peer})",
            flush=True,
        )
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
