"""pymetallic (MSL through NVRTC) against CuPy RawKernel (the same algorithm in CUDA C++), in
one run on the same GPU. Every row checks that both outputs agree before timing; times are
medians of several repeats after warm-up. Prints one line per row with the ratio
ours / CuPy (below 1.0: we are faster).

    python bench/gpu_vs_cupy.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import pymetallic

try:
    import cupy as cp
except ImportError:  # pragma: no cover - the benchmark needs a GPU machine
    sys.exit("this benchmark needs CuPy and an NVIDIA GPU")

sys.path.insert(0, os.path.dirname(__file__))
from gpu_kernels import CUDA, MSL  # noqa: E402
from msl_runner import MslRunner  # noqa: E402
from timing import median_seconds, paired_medians, write_json  # noqa: E402

RESULTS = []


def report(name, ours, theirs, unit="ms", scale=1e3, extra=""):
    ratio = ours / theirs if theirs else float("nan")
    RESULTS.append({"row": name, "ours": ours, "cupy": theirs, "ratio": ratio, "extra": extra})
    print(
        f"{name:<46} ours {ours * scale:10.4f} {unit}   cupy {theirs * scale:10.4f} {unit}   "
        f"ratio {ratio:5.2f}  {extra}",
        flush=True,
    )


Ours = MslRunner  # our side of every row


def cupy_kernel(name):
    return cp.RawModule(code=CUDA, options=("-std=c++17",)).get_function(name)


def bench_copy_ceiling(n):
    a = cp.ones(n, cp.float32)
    b = cp.empty_like(a)

    def run():
        for _ in range(10):
            cp.copyto(b, a)
        cp.cuda.Device().synchronize()

    t = median_seconds(run) / 10
    gbps = 2 * 4 * n / t / 1e9
    print(f"{'device-to-device copy ceiling':<46} {gbps:8.0f} GB/s", flush=True)
    return gbps


def bench_vector_add(ours, n, ceiling):
    rng = np.random.default_rng(0)
    a, b = rng.random(n, np.float32), rng.random(n, np.float32)
    A, B = pymetallic.Buffer.from_numpy(ours.device, a), pymetallic.Buffer.from_numpy(ours.device, b)
    C = pymetallic.Buffer(ours.device, 4 * n)
    ca, cb_, cc = cp.asarray(a), cp.asarray(b), cp.empty(n, cp.float32)
    k = cupy_kernel("vector_add")
    ours.run("vector_add", [A, B, C], (n, 1, 1), (256, 1, 1))
    k(((n + 255) // 256,), (256,), (ca, cb_, cc, np.uint32(n)))
    np.testing.assert_array_equal(C.to_numpy(np.float32), cp.asnumpy(cc))
    reps = 20
    t_ours = ours.timed("vector_add", [A, B, C], (n, 1, 1), (256, 1, 1), repeat=reps) / reps

    def theirs():
        for _ in range(reps):
            k(((n + 255) // 256,), (256,), (ca, cb_, cc, np.uint32(n)))
        cp.cuda.Device().synchronize()

    t_cupy = median_seconds(theirs) / reps
    gbps = 3 * 4 * n / t_ours / 1e9
    report(
        f"vector add {n // 2**20}M float32",
        t_ours,
        t_cupy,
        extra=f"{gbps:.0f} GB/s = {100 * gbps / ceiling:.0f}% of copy",
    )


def bench_mandelbrot(ours, w, iters):
    out = pymetallic.Buffer(ours.device, 4 * w * w)
    cout = cp.empty(w * w, cp.uint32)
    k = cupy_kernel("mandelbrot")
    size = np.array([w, w], np.uint32)
    args = [(size, 1), (np.uint32(iters), 2)]
    ours.run("mandelbrot", [out], (w, w, 1), (16, 16, 1), args)
    k(((w + 15) // 16, (w + 15) // 16), (16, 16), (cout, np.uint32(w), np.uint32(w), np.uint32(iters)))
    mism = np.mean(out.to_numpy(np.uint32) != cp.asnumpy(cout))
    assert mism < 1e-3, mism
    reps = 20
    t_ours = ours.timed("mandelbrot", [out], (w, w, 1), (16, 16, 1), args, repeat=reps) / reps

    def theirs():
        for _ in range(reps):
            k(((w + 15) // 16, (w + 15) // 16), (16, 16), (cout, np.uint32(w), np.uint32(w), np.uint32(iters)))
        cp.cuda.Device().synchronize()

    report(f"Mandelbrot {w}x{w}, {iters} iterations", t_ours, median_seconds(theirs) / reps)


def bench_reduce(ours, n):
    rng = np.random.default_rng(1)
    a = rng.random(n, np.float32)
    groups = n // 256
    A = pymetallic.Buffer.from_numpy(ours.device, a)
    P = pymetallic.Buffer(ours.device, 4 * groups)
    ca, cpart = cp.asarray(a), cp.empty(groups, cp.float32)
    k = cupy_kernel("reduce_sum")
    ours.run("reduce_sum", [A, P], (groups, 1, 1), (256, 1, 1), groups=True)
    k((groups,), (256,), (ca, cpart))
    np.testing.assert_allclose(P.to_numpy(np.float32), cp.asnumpy(cpart), rtol=1e-5)
    np.testing.assert_allclose(P.to_numpy(np.float32).astype(np.float64).sum(), a.astype(np.float64).sum(), rtol=1e-5)
    reps = 20
    t_ours = ours.timed("reduce_sum", [A, P], (groups, 1, 1), (256, 1, 1), repeat=reps, groups=True) / reps

    def theirs():
        for _ in range(reps):
            k((groups,), (256,), (ca, cpart))
        cp.cuda.Device().synchronize()

    report(
        f"reduce_sum {n // 2**20}M (barrier in a loop)",
        t_ours,
        median_seconds(theirs) / reps,
        extra=f"{4 * n / t_ours / 1e9:.0f} GB/s",
    )


def bench_matmul(ours, n, name):
    rng = np.random.default_rng(2)
    a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
    A, B = pymetallic.Buffer.from_numpy(ours.device, a), pymetallic.Buffer.from_numpy(ours.device, b)
    C = pymetallic.Buffer(ours.device, 4 * n * n)
    ca, cb_, cc = cp.asarray(a), cp.asarray(b), cp.empty((n, n), cp.float32)
    k = cupy_kernel(name)
    ours.run(name, [A, B, C], (n, n, 1), (16, 16, 1), [(np.uint32(n), 3)])
    k((n // 16, n // 16), (16, 16), (ca, cb_, cc, np.uint32(n)))
    ref = cp.asnumpy(cc)
    np.testing.assert_allclose(C.to_numpy(np.float32, (n, n)), ref, rtol=1e-4)
    t_ours = ours.timed(name, [A, B, C], (n, n, 1), (16, 16, 1), [(np.uint32(n), 3)])

    def theirs():
        k((n // 16, n // 16), (16, 16), (ca, cb_, cc, np.uint32(n)))
        cp.cuda.Device().synchronize()

    t_cupy = median_seconds(theirs, repeats=5)
    report(f"matmul {n}^3 {name}", t_ours, t_cupy, extra=f"{2 * n**3 / t_ours / 1e12:.1f} TFLOP/s")


def bench_launch(ours):
    k = cupy_kernel("empty")
    cbuf = cp.empty(64, cp.float32)
    n = 2000

    def ours_no_wait():
        ours.empty_dispatches(n, wait_each=False)

    def cupy_no_wait():
        for _ in range(n):
            k((1,), (32,), (cbuf,))
        cp.cuda.Device().synchronize()

    def ours_wait():
        ours.empty_dispatches(n // 4, wait_each=True)

    def cupy_wait():
        for _ in range(n // 4):
            k((1,), (32,), (cbuf,))
            cp.cuda.Device().synchronize()

    # Rounds alternate between the two sides (timing.paired_medians): the launch floor moves
    # by about a microsecond between spells of the same run.
    ours_t, cupy_t = paired_medians([ours_no_wait, cupy_no_wait], repeats=11)
    report("empty dispatch + commit (no wait)", ours_t / n, cupy_t / n, unit="us", scale=1e6)
    ours_t, cupy_t = paired_medians([ours_wait, cupy_wait], repeats=11)
    report("empty dispatch + commit + wait", ours_t / (n // 4), cupy_t / (n // 4), unit="us", scale=1e6)


LIFE_ROWS = 512


def bench_life(ours, steps):
    w = LIFE_ROWS
    rng = np.random.default_rng(3)
    grid = (rng.random((w, w)) < 0.3).astype(np.uint8)
    bufs = [pymetallic.Buffer.from_numpy(ours.device, grid), pymetallic.Buffer(ours.device, w * w)]
    cbufs = [cp.asarray(grid), cp.empty((w, w), cp.uint8)]
    k = cupy_kernel("life_step")
    size = np.uint32(w)

    def ours_run():
        ours.ping_pong("life_step", bufs, steps, (w, w, 1), (16, 16, 1), [(size, 2)])

    def cupy_run():
        for s in range(steps):
            k((w // 16, w // 16), (16, 16), (cbufs[s % 2], cbufs[(s + 1) % 2], size))
            cp.cuda.Device().synchronize()

    ours_run()
    cupy_run()
    np.testing.assert_array_equal(bufs[steps % 2].to_numpy(np.uint8, (w, w)), cp.asnumpy(cbufs[steps % 2]))
    report(f"Life {w}x{w} x {steps}, wait each step", *paired_medians([ours_run, cupy_run], repeats=9))


def bench_compile(samples=7):
    """Cold NVRTC compile of the benchmark library, ours against CuPy's RawModule, alternated
    `samples` times each in this process (both NVRTCs already loaded, so neither side pays its
    library load): ours with an empty cache folder and a unique comment per sample (nothing
    cached, translation included), CuPy's with a unique comment (its kernel cache misses).
    Reports the medians (seconds) and their ratio; the minima are in the row's `extra`. Then a
    warm start from the disk cache in a new process, and the 4-program split, ours only. The
    tiered row (PYMETALLIC_CUDA_TIERED=1) times what Library() waits for, the general entries.
    About 20 s in all."""
    import statistics
    import tempfile

    device = pymetallic.Device.get_default_device()

    def ours(i, tiered=False):
        saved = {k: os.environ.get(k) for k in ("PYMETALLIC_CACHE_DIR", "PYMETALLIC_CUDA_TIERED")}
        with tempfile.TemporaryDirectory() as cache:
            os.environ["PYMETALLIC_CACHE_DIR"] = cache  # both read by the CUDA backend on every compile
            if tiered:
                os.environ["PYMETALLIC_CUDA_TIERED"] = "1"
            try:
                source = MSL + f"\n// cold sample {i} {time.time()}\n"
                t = time.perf_counter()
                lib = pymetallic.Library(device, source)
                elapsed = time.perf_counter() - t
                if tiered:  # let the background compile of the uniform entries finish off the clock
                    time.sleep(1.0)
                del lib
                return elapsed
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    def theirs(i):
        t = time.perf_counter()
        cp.RawModule(code=CUDA + f"\n// cold sample {i} {time.time()}\n", options=("-std=c++17",)).get_function(
            "vector_add"
        )
        return time.perf_counter() - t

    def alternated(mine_fn):
        mine, cupys = [], []
        for i in range(samples):  # alternated (and the order swapped each round), so load changes hit both sides
            for side in (mine_fn, theirs) if i % 2 == 0 else (theirs, mine_fn):
                (mine if side is mine_fn else cupys).append(side(i))
        return mine, cupys

    def report_alternated(name, mine_fn, note=""):
        mine, cupys = alternated(mine_fn)
        extra = f"{note}medians of {samples} alternated; minima {min(mine):.3f} / {min(cupys):.3f} s"
        report(name, statistics.median(mine), statistics.median(cupys), unit="s", scale=1, extra=extra)

    report_alternated("NVRTC compile of the benchmark library, cold", ours)
    # Tiered (PYMETALLIC_CUDA_TIERED=1, off by default): what Library() waits for, the general
    # entries; the uniform ones are compiled in the background (not timed here).
    report_alternated(
        "  cold, tiered (PYMETALLIC_CUDA_TIERED=1)", lambda i: ours(i, tiered=True), "general entries only, "
    )

    code = (
        "import time, pymetallic, sys; sys.path.insert(0, 'bench'); from gpu_kernels import MSL; "
        "d = pymetallic.Device.get_default_device(); t = time.perf_counter(); "
        "pymetallic.Library(d, MSL); print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYMETALLIC_CACHE_DIR=cache)
        subprocess.check_output([sys.executable, "-c", code], env=env)  # fills the cache
        warm = min(
            float(subprocess.check_output([sys.executable, "-c", code], env=env).decode().split()[-1]) for _ in range(3)
        )
    with tempfile.TemporaryDirectory() as cache:  # the kernels as 4 NVRTC programs on 4 threads (opt-in)
        env = dict(os.environ, PYMETALLIC_CACHE_DIR=cache, PYMETALLIC_NVRTC_THREADS="4")
        cold_one = float(subprocess.check_output([sys.executable, "-c", code], env=env).decode().split()[-1])
    print(f"{'  cold, as 4 NVRTC programs on 4 threads':<46} ours {cold_one:10.3f} s", flush=True)
    RESULTS.append({"row": "compile cold, 4 programs", "ours": cold_one})
    print(f"{'  warm, from the disk cache, new process':<46} ours {warm * 1e3:10.3f} ms", flush=True)
    RESULTS.append({"row": "compile warm (new process)", "ours": warm})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    device = pymetallic.Device.get_default_device()
    if device.kind != "cuda":
        sys.exit("no CUDA device: set PYMETALLIC_DEVICE=cuda or run on a GPU machine")
    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(
        f"device: {device.name} (CuPy sees {name}); driver {cp.cuda.runtime.driverGetVersion()}; "
        f"CuPy {cp.__version__}; {time.strftime('%Y-%m-%d')}",
        flush=True,
    )
    ours = Ours(device)
    n = 2**22 if args.quick else 2**26
    ceiling = bench_copy_ceiling(n)
    bench_vector_add(ours, n, ceiling)
    bench_mandelbrot(ours, 1024, 256)
    bench_reduce(ours, n)
    bench_matmul(ours, 512 if args.quick else 2048, "matmul_naive")
    bench_matmul(ours, 512 if args.quick else 2048, "matmul_tiled")
    bench_launch(ours)
    bench_life(ours, 200)
    try:
        from gpu_fluid import bench_fluid

        bench_fluid(ours, report, median_seconds, cupy_kernel)
    except ImportError as e:
        print(f"fluid rows skipped: {e}")
    bench_compile()
    write_json(args.json, {"device": device.name, "date": time.strftime("%Y-%m-%d"), "rows": RESULTS})


if __name__ == "__main__":
    main()
