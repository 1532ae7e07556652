"""Tile-shape sweep of bench/gemm.metal's `gemm` template (BM x BN x BK threadgroup tiles, SGM x SGN
SIMD groups) for half, bfloat and float at M = N = K = 4096, against cuBLAS in the same process.

Each configuration is instantiated in its own small library (the template of gemm.metal plus one
`[[host_name]]` instantiation; the libraries compile in parallel), checked against cuBLAS's float32
product of the same inputs (relative Frobenius error; half and bfloat inputs multiply exactly in
float, so only float summation order differs), then timed: the best of --reps runs, each one
dispatch in its own command buffer timed by the GPU (CUDA events, PYMETALLIC_GPU_TIMESTAMPS=1),
against the best of --reps CUDA-event-timed `cupy.matmul` / `torch.matmul` calls (inputs and
output preallocated; TF32 off). Prints TFLOP/s and % of each peer, and writes the rows as JSON.

    python bench/gpu_gemm_sweep.py [--n 4096] [--json out.json] [--types half,bfloat,float]
                                   [--configs half:128x128x32:2x4,...] [--reps 10] [--variants]

A configuration with a fourth field pB[sS] is gemm.metal's `gemm_pipe` template instead of `gemm`:
B threadgroup buffers (1 or 2) and a threadgroup swizzle of 2^S tile rows (S = 0: none), e.g.
half:64x128x64:2x2:p1s3 (64-deep slices in one buffer, swizzled in groups of 8 rows).

--variants also times the default half and bfloat shapes with one switch of the runtime's
SIMD-group matrices changed (each in a child process compiling against a copy of the runtime
headers with the switch defined before metal_simdgroup_matrix.h): "no-kfuse" (each 8x8x8 product
one mma.sync m16n8k8, not two products along k as one m16n8k16), "no-ldmatrix" (per-lane loads
from threadgroup memory, as before ldmatrix) and "ldmatrix-a-x2" (a product's A fragment as an
ldmatrix .x2 pair instead of .x1 beside a zero register), "no-rowpair" (no row pairing: each
product alone in an instruction whose rows 8-15 are unused, each fragment its own ldmatrix),
"no-rowpair-loads" (products paired, loads not) and "rowpair-pend" (a pair of products left
pending, fused with the next pair along k behind a vote). Rows carry a "variant" key.
--variant-names picks some of them; with --configs the variants time those shapes.

Without an NVIDIA GPU (or without CuPy) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("PYMETALLIC_GPU_TIMESTAMPS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gemm_common import dispatcher, operands  # noqa: E402

# (type, BM, BN, BK, SGM, SGN). The first of each type is bench/gemm.metal's default.
CONFIGS = [
    ("half", 64, 128, 32, 2, 2),
    ("half", 128, 128, 32, 2, 4),
    ("half", 128, 128, 16, 2, 4),
    ("half", 128, 128, 32, 4, 2),
    ("half", 128, 128, 32, 4, 4),
    ("half", 64, 256, 32, 2, 4),
    ("half", 128, 64, 32, 2, 2),
    ("half", 64, 64, 32, 2, 2),
    ("half", 64, 64, 64, 2, 2),
    ("half", 64, 128, 32, 2, 4),
    ("half", 128, 64, 32, 4, 2),
    ("half", 64, 128, 64, 2, 2, 1, 3),
    ("half", 64, 128, 64, 2, 2, 1, 0),
    ("half", 64, 128, 32, 2, 2, 2, 3),
    ("half", 64, 128, 32, 2, 2, 2, 0),
    ("bfloat", 64, 128, 32, 2, 2),
    ("bfloat", 128, 128, 32, 2, 4),
    ("bfloat", 128, 128, 16, 2, 4),
    ("bfloat", 128, 128, 32, 4, 2),
    ("bfloat", 64, 256, 32, 2, 4),
    ("bfloat", 64, 64, 32, 2, 2),
    ("bfloat", 64, 128, 32, 2, 4),
    ("bfloat", 64, 128, 64, 2, 2, 1, 3),
    ("bfloat", 64, 128, 32, 2, 2, 2, 3),
    ("float", 128, 128, 16, 2, 4),
    ("float", 128, 128, 8, 2, 4),
    ("float", 128, 128, 16, 4, 4),
    ("float", 64, 128, 16, 2, 2),
    ("float", 128, 64, 16, 2, 2),
    ("float", 64, 64, 16, 2, 2),
    ("float", 64, 128, 16, 2, 4),
]
SIZE = {"half": 2, "bfloat": 2, "float": 4}
# --variants: name -> the line put before metal_simdgroup_matrix.h in a copy of the runtime.
VARIANTS = {
    "no-kfuse": "#define METAL_SGM_KFUSE 0",
    "no-ldmatrix": "#define METAL_SGM_LDMATRIX 0",
    "ldmatrix-a-x2": "#define METAL_SGM_LDMATRIX_A_X2 1",
    "no-rowpair": "#define METAL_SGM_ROWPAIR 0",
    "rowpair-pend": "#define METAL_SGM_ROWPAIR_PEND 1",
    "no-rowpair-loads": "#define METAL_SGM_ROWPAIR_LOADS 0",
}
DEFAULT_VARIANT = "default"


def run_variants(args, runtime_dir):
    """Times the default half and bfloat shapes (or those of --configs) under each of VARIANTS, in
    child processes."""
    rows = []
    defaults = [config_name(next(c for c in CONFIGS if c[0] == t)) for t in ("half", "bfloat")]
    if args.configs:
        defaults = [config_name(parse_config(x)) for x in args.configs.split(",")]
    names = args.variant_names.split(",") if args.variant_names else list(VARIANTS)
    for name in names:
        line = VARIANTS[name]
        with tempfile.TemporaryDirectory() as tmp:
            rt = os.path.join(tmp, "runtime")
            shutil.copytree(runtime_dir, rt)
            header = os.path.join(rt, "metal_simdgroup_matrix.h")
            with open(header) as f:
                text = f.read()
            with open(header, "w") as f:
                f.write(line + "\n" + text)
            out = os.path.join(tmp, "rows.json")
            cmd = [sys.executable, os.path.abspath(__file__), "--n", str(args.n), "--reps", str(args.reps)]
            cmd += ["--types", "half,bfloat", "--configs", ",".join(defaults), "--variant", name, "--json", out]
            print(f"variant {name}: {line}", flush=True)
            env = dict(os.environ, PYMETALLIC_RUNTIME_DIR=rt)
            proc = subprocess.run(cmd, env=env, timeout=300)
            if proc.returncode == 0 and os.path.exists(out):
                with open(out) as f:
                    rows += json.load(f)["rows"]
            else:
                rows.append({"variant": name, "error": f"child exited with {proc.returncode}"})
    return rows


def config_name(c):
    t, bm, bn, bk, sgm, sgn = c[:6]
    pipe = f":p{c[6]}s{c[7]}" if len(c) > 6 else ""
    return f"{t}:{bm}x{bn}x{bk}:{sgm}x{sgn}{pipe}"


def parse_config(text):
    t, tile, sgs, *pipe = text.split(":")
    bm, bn, bk = (int(x) for x in tile.split("x"))
    sgm, sgn = (int(x) for x in sgs.split("x"))
    if not pipe:
        return (t, bm, bn, bk, sgm, sgn)
    nbuf, _, swz = pipe[0].removeprefix("p").partition("s")
    return (t, bm, bn, bk, sgm, sgn, int(nbuf), int(swz or 0))


def problems(c, n):
    """Why the template cannot run c at M = N = K = n (empty when it can)."""
    t, bm, bn, bk, sgm, sgn = c[:6]
    nbuf = c[6] if len(c) > 6 else 2
    nt, ve = sgm * sgn * 32, 16 // SIZE[t]
    why = []
    if n % bm or n % bn or n % bk:
        why.append(f"{n} is not a multiple of the tile")
    if bm % (sgm * 8) or bn % (sgn * 8) or bk % 8:
        why.append("fragments do not tile the block")
    if (bm * bk) % (ve * nt) or (bk * bn) % (ve * nt) or bk % ve or bn % ve:
        why.append("16-byte reads do not tile the slices")
    tg = nbuf * (bm * (bk + 8) + bk * (bn + 8)) * SIZE[t]
    if tg > 48 * 1024:
        why.append(f"{tg} bytes of threadgroup memory (over 48 KiB)")
    if len(c) > 6:  # gemm_pipe asserts Metal's limit and walks slices 16 deep
        if tg > 32 * 1024:
            why.append(f"{tg} bytes of threadgroup memory (over Metal's 32 KiB)")
        if bk % 16 or nbuf not in (1, 2):
            why.append("gemm_pipe needs BK a multiple of 16 and 1 or 2 buffers")
    return why


def source(template, c, name):
    t, bm, bn, bk, sgm, sgn = c[:6]
    kernel, extra = ("gemm_pipe", f", {c[6]}, {c[7]}") if len(c) > 6 else ("gemm", "")
    return (
        template
        + "\n#define GEMM_ARGS(T) device const T*, device const T*, device float*, constant GemmShape&, uint2, uint, uint\n"
        + f'template [[host_name("{name}")]] kernel void {kernel}<{t}, {bm}, {bn}, {bk}, {sgm}, {sgn}{extra}>(GEMM_ARGS({t}));\n'
    )


def best_event_seconds(fn, reps, cp):
    """Best CUDA-event time of fn() over reps runs, after two untimed ones."""
    fn()
    fn()
    best = float("inf")
    start, end = cp.cuda.Event(), cp.cuda.Event()
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, end) / 1e3)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="M = N = K (a multiple of every BM, BN, BK)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--types", default="half,bfloat,float")
    ap.add_argument("--configs", help="comma-separated type:BMxBNxBK:SGMxSGN (default: the built-in list)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=8, help="libraries compiled at once")
    ap.add_argument("--variants", action="store_true", help="also time the runtime's load variants")
    ap.add_argument("--variant-names", help="comma-separated subset of the --variants: " + ", ".join(VARIANTS))
    ap.add_argument("--variant", default=DEFAULT_VARIANT, help=argparse.SUPPRESS)  # a child's label
    args = ap.parse_args()

    try:
        import cupy as cp

        cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001 - any reason there is no usable GPU
        print(f"skipped: no CuPy/NVIDIA GPU ({type(e).__name__}: {e})")
        return 0
    import pymetallic

    devices = [d for d in pymetallic.Device.get_all_devices() if getattr(d, "kind", "") == "cuda"]
    if not devices:
        print("skipped: pymetallic sees no CUDA device")
        return 0
    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None

    device = devices[0]
    queue = pymetallic.CommandQueue(device)
    n = args.n
    types = args.types.split(",")
    configs = [parse_config(x) for x in args.configs.split(",")] if args.configs else CONFIGS
    configs = [c for c in configs if c[0] in types]
    template = open(os.path.join(HERE, "gemm.metal")).read().split("#define GEMM_ARGS")[0]

    # Compile every valid configuration (in parallel: the compiler releases the GIL).
    t0 = time.perf_counter()
    pipes, failures = {}, {}

    def build(c):
        name = "sweep_" + config_name(c).replace(":", "_")
        lib = pymetallic.Library(device, source(template, c, name))
        return pymetallic.ComputePipelineState(device, lib.make_function(name))

    valid = []
    for c in configs:
        why = problems(c, n)
        if why:
            failures[c] = "; ".join(why)
        else:
            valid.append(c)
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(build, c): c for c in valid}
        for f in concurrent.futures.as_completed(futures):
            c = futures[f]
            try:
                pipes[c] = f.result()
            except Exception as e:  # noqa: BLE001 - reported per configuration
                failures[c] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    compile_s = time.perf_counter() - t0
    print(f"compiled {len(pipes)} configurations in {compile_s:.1f} s", flush=True)

    rng = np.random.default_rng(0)
    a32 = rng.standard_normal((n, n)).astype(np.float32)
    b32 = rng.standard_normal((n, n)).astype(np.float32)
    flop = 2.0 * n**3
    rows = []
    C = pymetallic.Buffer(device, n * n * 4)
    for t in types:
        host_a, host_b, ref_a, ref_b = operands(t, a32, b32)
        ga, gb = cp.asarray(ref_a), cp.asarray(ref_b)
        ref = cp.matmul(ga, gb)  # float32 cuBLAS, TF32 off (CuPy's default)
        ref_norm = float(cp.linalg.norm(ref))

        # The peers: cuBLAS on the same element type, output preallocated.
        peers = {}
        if t in ("half", "float"):
            pa, pb = (ga.astype(cp.float16), gb.astype(cp.float16)) if t == "half" else (ga, gb)
            pout = cp.empty((n, n), pa.dtype)
            peers["cupy.matmul"] = best_event_seconds(lambda: cp.matmul(pa, pb, out=pout), args.reps, cp)
        if torch is not None:
            tt = {"half": torch.float16, "bfloat": torch.bfloat16, "float": torch.float32}[t]
            ta = torch.as_tensor(ga, device="cuda").to(tt)
            tb = torch.as_tensor(gb, device="cuda").to(tt)
            tout = torch.empty((n, n), dtype=tt, device="cuda")
            peers["torch.matmul"] = best_event_seconds(lambda: torch.matmul(ta, tb, out=tout), args.reps, cp)
        for p, s in peers.items():
            print(f"  {t:<6} {p:<13} {s * 1e3:8.3f} ms {flop / s / 1e12:7.1f} TFLOP/s", flush=True)

        A = pymetallic.Buffer.from_numpy(device, host_a)
        B = pymetallic.Buffer.from_numpy(device, host_b)
        for c in [c for c in configs if c[0] == t]:
            row = {
                "variant": args.variant,
                "config": config_name(c),
                "type": t,
                "tile": list(c[1:4]),
                "simdgroups": list(c[4:6]),
                "n": n,
            }
            if c not in pipes:
                row["error"] = failures.get(c, "not built")
                print(f"  {config_name(c):<24} skipped: {row['error']}", flush=True)
                rows.append(row)
                continue
            ours = dispatcher(pymetallic, queue, pipes[c], A, B, C, n, c[1], c[2], c[4] * c[5] * 32)

            try:
                ours()
                got = cp.asarray(np.array(C.to_numpy(np.float32, (n, n))))  # a copy: no live view
                err = float(cp.linalg.norm(got - ref)) / ref_norm
                row["rel_error"] = err
                # Float accumulation of exact products (half/bfloat) or of float products: only the
                # summation order may differ from cuBLAS's (a few sqrt(K) * 2^-24, relative).
                if not err < (1e-5 if t == "float" else 1e-4):
                    raise AssertionError(f"relative error {err:.2e} against cuBLAS float32")
                ours()
                ours()
                best = float("inf")
                for _ in range(args.reps):
                    cb = ours()
                    dt = cb.gpu_end_time - cb.gpu_start_time
                    best = min(best, dt if dt > 0 else float("inf"))
                if best == float("inf"):  # no GPU timestamps: wall clock of one dispatch
                    for _ in range(args.reps):
                        w = time.perf_counter()
                        ours()
                        best = min(best, time.perf_counter() - w)
                row["ours_s"] = best
                row["tflops"] = flop / best / 1e12
                label = config_name(c) + ("" if args.variant == DEFAULT_VARIANT else f" [{args.variant}]")
                text = f"  {label:<40} {best * 1e3:8.3f} ms {row['tflops']:7.1f} TFLOP/s"
                for p, s in peers.items():
                    row[f"pct_of_{p}"] = 100.0 * s / best
                    row[f"{p}_s"] = s
                    text += f"  {100.0 * s / best:5.1f}% of {p}"
                print(text + f"  rel.err {err:.1e}", flush=True)
            except Exception as e:  # noqa: BLE001 - one failing configuration must not end the sweep
                row["error"] = f"{type(e).__name__}: {e}"[:300]
                print(f"  {config_name(c):<24} FAILED: {row['error']}", flush=True)
            rows.append(row)

    if args.variants:
        rows += run_variants(args, pymetallic._core.runtime_dir())
    if args.variant != DEFAULT_VARIANT:  # a child of --variants: its parent sums up
        write_rows(args.json, n, compile_s, rows)
        return 0
    for t in types:
        timed = [r for r in rows if r.get("type") == t and "tflops" in r and r["variant"] == DEFAULT_VARIANT]
        if timed:
            best = max(timed, key=lambda r: r["tflops"])
            print(f"best {t}: {best['config']} {best['tflops']:.1f} TFLOP/s", flush=True)
            same = [r for r in rows if r.get("config") == timed[0]["config"] and "tflops" in r]
            if len(same) > 1:  # the default shape under each runtime variant
                print("  " + ", ".join(f"{r['variant']} {r['tflops']:.1f}" for r in same) + " TFLOP/s", flush=True)
    write_rows(args.json, n, compile_s, rows)
    return 0


def write_rows(path, n, compile_s, rows):
    if path:
        with open(path, "w") as f:
            json.dump({"n": n, "compile_s": compile_s, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
