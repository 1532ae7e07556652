"""Cold NVRTC compile of the GPU benchmark library (bench/gpu_kernels.py), without a GPU: each
run is a new process with an empty kernel cache (nothing cached at all: NVRTC keeps no state
between processes that we could use, see --pch-probe) that compiles the MSL for sm_90 through
the CUDA backend's own path (pymetallic's offline compile: translation, the generated CUDA
C++, NVRTC to cubins), beside NVRTC compiling the same kernels written in CUDA C++ (what
CuPy's RawModule does in bench/gpu_vs_cupy.py, there on the GPU's host), interleaved in one
run. Our side four times: as built by default (one NVRTC program), tiered
(PYMETALLIC_CUDA_TIERED=1: what Library() waits for, the General unit, and on its own row
the Uniform unit a device then compiles in the background), as --programs NVRTC programs on
as many threads (PYMETALLIC_NVRTC_THREADS; NVRTC parses one program at a time per process,
so this only overlaps back ends), and without the uniform entries
(PYMETALLIC_CUDA_UNIFORM_ENTRIES=0). Prints wall and CPU seconds (min and median of the runs) and
the ratios (of the minima, and the median of each round's ratio); CPU time is the steadier
number on a shared machine, wall time what a user waits
(with several programs the CPU time is the sum over threads). NVRTC runs on the CPU, so this
measures the same work as the GPU row.

    python bench/nvrtc_cold.py [--runs 7] [--arch sm_90] [--programs 4] [--json out.json]
    python bench/nvrtc_cold.py --pch-probe   # can an NVRTC precompiled header serve a new process?
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

OURS = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import pymetallic as pm
from gpu_kernels import MSL
pm._core.toolchains()  # load NVRTC before timing: CuPy's side has it loaded too
c0, t0 = time.process_time(), time.perf_counter()
r = pm._core.compile_offline(MSL, None, "cuda", sys.argv[2])
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "programs": r["programs"]}))
"""

# A tiered library (PYMETALLIC_CUDA_TIERED=1): the translation and the General unit, which
# Library() waits for, then the Uniform unit, which a device compiles in the background; each
# unit compiled through NVRTC with the backend's flags (cuda_toolchain.cpp).
TIERED = r"""
import ctypes, glob, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import pymetallic as pm
from gpu_kernels import MSL
LOAD_NVRTC
pm._core.toolchains()
flags = ["--std=c++17", "-default-device", "--include-path=" + pm._core.runtime_dir(), "-w", "-DMETAL_FAST_MATH=1",
         "--fmad=true", "--gpu-architecture=" + sys.argv[2]]
argv = (ctypes.c_char_p * len(flags))(*[f.encode() for f in flags])
def nvrtc(unit):
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), unit.encode(), b"unit.cu", 0, None, None) == 0
    assert lib.nvrtcCompileProgram(prog, len(flags), argv) == 0
    n = ctypes.c_size_t()
    lib.nvrtcGetCUBINSize(prog, ctypes.byref(n))
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
c0, t0 = time.process_time(), time.perf_counter()
units = pm._core.compile_offline(MSL, None, "cuda", sys.argv[2], True)["units"]
assert len(units) == 2, "PYMETALLIC_CUDA_TIERED=1 gives two units"
nvrtc(units[0])
c1, t1 = time.process_time(), time.perf_counter()
nvrtc(units[1])
c2, t2 = time.process_time(), time.perf_counter()
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "late_wall": t2 - t1, "late_cpu": c2 - c1}))
"""

LOAD_NVRTC = r"""
names = [p for d in os.environ.get("PYMETALLIC_NVRTC_PATH", "").split(os.pathsep) if d
         for p in glob.glob(os.path.join(d, "libnvrtc.so*"))]
names += ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"] + sorted(glob.glob("/usr/local/cuda*/lib*/libnvrtc.so*"), reverse=True)
for n in names:
    if "builtins" in n or "alt" in n:
        continue
    try:
        lib = ctypes.CDLL(n)
        break
    except OSError:
        pass
"""

THEIRS = r"""
import ctypes, glob, json, os, sys, time
sys.path.insert(0, sys.argv[1])
from gpu_kernels import CUDA
LOAD_NVRTC
opts = [b"-std=c++17", ("--gpu-architecture=" + sys.argv[2]).encode()]
argv = (ctypes.c_char_p * len(opts))(*opts)
prog = ctypes.c_void_p()
c0, t0 = time.process_time(), time.perf_counter()
assert lib.nvrtcCreateProgram(ctypes.byref(prog), CUDA.encode(), b"kernels.cu", 0, None, None) == 0
assert lib.nvrtcCompileProgram(prog, len(opts), argv) == 0
n = ctypes.c_size_t()
lib.nvrtcGetCUBINSize(prog, ctypes.byref(n))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
lib.nvrtcDestroyProgram(ctypes.byref(prog))
print(json.dumps({"wall": wall, "cpu": cpu}))
""".replace("LOAD_NVRTC", LOAD_NVRTC)
TIERED = TIERED.replace("LOAD_NVRTC", LOAD_NVRTC)

# An NVRTC precompiled header of the runtime (CUDA 12.8+: --create-pch / --use-pch), made by
# one process and offered to a new one, as a PCH kept in the kernel cache would be: prints
# whether NVRTC used it ("using precompiled header" in its log) and the CPU seconds of a
# syntax-only compile of the benchmark library's unit with and without it.
PCH_PROBE = r"""
import ctypes, glob, json, os, sys, time
LOAD_NVRTC
unit, runtime, pch, mode = sys.argv[1:5]
src = open(unit).read()
flags = ["--std=c++17", "-default-device", "--include-path=" + runtime, "-w", "-DMETAL_FAST_MATH=1", "--fmad=true",
         "--gpu-architecture=sm_90", "-fdevice-syntax-only", "--pch-messages=true", "--pch-verbose=true"]
flags += {"create": ["--create-pch=" + pch], "use": ["--use-pch=" + pch], "none": []}[mode]
argv = (ctypes.c_char_p * len(flags))(*[f.encode() for f in flags])
prog = ctypes.c_void_p()
assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"unit.cu", 0, None, None) == 0
c0 = time.process_time()
rc = lib.nvrtcCompileProgram(prog, len(flags), argv)
cpu = time.process_time() - c0
n = ctypes.c_size_t()
lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
log = ctypes.create_string_buffer(n.value)
lib.nvrtcGetProgramLog(prog, log)
print(json.dumps({"rc": rc, "cpu": cpu, "used": "using precompiled header" in log.value.decode(errors="replace"),
                  "created": "creating precompiled header" in log.value.decode(errors="replace")}))
""".replace("LOAD_NVRTC", LOAD_NVRTC)


def run(code, arch, cache, **env_extra):
    env = dict(os.environ, PYMETALLIC_CACHE_DIR=cache, **env_extra)
    out = subprocess.check_output([sys.executable, "-c", code, HERE, arch], env=env, text=True)
    return json.loads(out.strip().splitlines()[-1])


def pch_probe(runs):
    sys.path.insert(0, HERE)
    import pymetallic as pm
    from gpu_kernels import MSL

    with tempfile.TemporaryDirectory() as d:
        unit = os.path.join(d, "unit.cu")
        with open(unit, "w") as f:
            f.write(pm._core.compile_offline(MSL, None, "cuda", "sm_90", True)["generated"])
        pch = os.path.join(d, "runtime.pch")

        def probe(mode):
            args = [sys.executable, "-c", PCH_PROBE, unit, pm._core.runtime_dir(), pch, mode]
            return json.loads(subprocess.check_output(args, text=True).strip().splitlines()[-1])

        made = probe("create")
        print(f"PCH made by one process: created={made['created']}, {os.path.getsize(pch) / 1e6:.1f} MB")
        rows = {"none": [], "use": []}
        for _ in range(runs):
            for mode in rows:
                rows[mode].append(probe(mode))
        for mode, rs in rows.items():
            print(
                f"  new process, {'with the PCH' if mode == 'use' else 'no PCH':<12}: syntax-only compile "
                f"{min(r['cpu'] for r in rs):.3f} s CPU (min of {runs}); NVRTC used the PCH in "
                f"{sum(r['used'] for r in rs)} of {runs}"
            )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--programs", type=int, default=4, help="the split row's PYMETALLIC_NVRTC_THREADS")
    ap.add_argument("--pch-probe", action="store_true", help="only check whether an NVRTC PCH serves a new process")
    args = ap.parse_args()
    if args.pch_probe:
        pch_probe(args.runs)
        return
    rows = {"ours": [], "ours_tiered": [], "ours_late": [], "ours_n": [], "ours_general": [], "cuda": []}
    for _ in range(args.runs):  # interleaved, so that a change of load hits every side
        with tempfile.TemporaryDirectory() as cache:
            rows["ours"].append(run(OURS, args.arch, cache))
        with tempfile.TemporaryDirectory() as cache:
            r = run(TIERED, args.arch, cache, PYMETALLIC_CUDA_TIERED="1")
            rows["ours_tiered"].append({"wall": r["wall"], "cpu": r["cpu"]})
            rows["ours_late"].append({"wall": r["late_wall"], "cpu": r["late_cpu"]})
        with tempfile.TemporaryDirectory() as cache:
            rows["ours_n"].append(run(OURS, args.arch, cache, PYMETALLIC_NVRTC_THREADS=str(args.programs)))
        with tempfile.TemporaryDirectory() as cache:
            rows["ours_general"].append(run(OURS, args.arch, cache, PYMETALLIC_CUDA_UNIFORM_ENTRIES="0"))
        rows["cuda"].append(run(THEIRS, args.arch, ""))
    summary = {"programs": rows["ours"][0]["programs"], "split_programs": rows["ours_n"][0]["programs"]}
    for side, runs in rows.items():
        for what in ("wall", "cpu"):
            values = [r[what] for r in runs]
            summary[f"{side}_{what}_min"], summary[f"{side}_{what}_median"] = min(values), statistics.median(values)

    def programs(n):
        return f"{n} program{'s' if n > 1 else ''}"

    labels = {
        "ours": f"ours ({programs(summary['programs'])})",
        "ours_n": f"ours ({programs(summary['split_programs'])})",
        "ours_tiered": "ours tiered (Library() waits)",
        "ours_late": "+ uniform unit (background)",
        "ours_general": "ours (no _uniform entries)",
        "cuda": "CUDA C++",
    }
    print(f"cold compile of the benchmark library ({len(os.sched_getaffinity(0))} CPUs), min (median) of {args.runs}:")
    for what in ("wall", "cpu"):
        cells = "\n        ".join(
            f"{labels[side]} {summary[f'{side}_{what}_min']:.3f} s ({summary[f'{side}_{what}_median']:.3f})"
            for side in rows
        )
        ratios = "  ".join(
            f"{label}/CUDA {summary[f'{side}_{what}_min'] / summary[f'cuda_{what}_min']:.2f}"
            for side, label in (
                ("ours", "default"),
                ("ours_tiered", "tiered"),
                ("ours_n", "split"),
                ("ours_general", "no-uniform"),
            )
        )
        # Each round's ratio to the CUDA C++ of the same round, then their median: steadier than
        # a ratio of minima where the machine's speed drifts between rounds.
        paired = "  ".join(
            f"{label}/CUDA {statistics.median(a[what] / b[what] for a, b in zip(rows[side], rows['cuda'])):.2f}"
            for side, label in (("ours", "default"), ("ours_tiered", "tiered"), ("ours_general", "no-uniform"))
        )
        print(f"  {what:<4}: {cells}\n        ratios of minima: {ratios}\n        median per-round ratio: {paired}")
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "runs": rows, "load": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
