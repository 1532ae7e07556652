"""Cold NVRTC compile of the GPU benchmark library (bench/gpu_kernels.py), without a GPU: each
run is a new process with an empty kernel cache that compiles the MSL for sm_90 through the
CUDA backend's own path (pymetallic's offline compile: translation, the generated CUDA C++,
NVRTC to a cubin), beside NVRTC compiling the same kernels written in CUDA C++ (what CuPy's
RawModule does in bench/gpu_vs_cupy.py, there on the GPU's host). Prints wall and CPU
seconds (min and median of the runs) and the ratio; the CPU time is the steadier number on a
shared machine. NVRTC runs on the CPU, so this measures the same work as the GPU row.

    python bench/nvrtc_cold.py [--runs 7] [--arch sm_90] [--json out.json]
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
pm._core.compile_offline(MSL, None, "cuda", sys.argv[2])
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
"""

THEIRS = r"""
import ctypes, glob, json, os, sys, time
sys.path.insert(0, sys.argv[1])
from gpu_kernels import CUDA
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
"""


def run(code, arch, cache):
    env = dict(os.environ, PYMETALLIC_CACHE_DIR=cache)
    out = subprocess.check_output([sys.executable, "-c", code, HERE, arch], env=env, text=True)
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    rows = {"ours": [], "cuda": []}
    for _ in range(args.runs):  # interleaved, so that a change of load hits both sides
        with tempfile.TemporaryDirectory() as cache:
            rows["ours"].append(run(OURS, args.arch, cache))
        rows["cuda"].append(run(THEIRS, args.arch, ""))
    summary = {}
    for side, runs in rows.items():
        for what in ("wall", "cpu"):
            values = [r[what] for r in runs]
            summary[f"{side}_{what}_min"], summary[f"{side}_{what}_median"] = min(values), statistics.median(values)
    for what in ("wall", "cpu"):
        print(
            f"cold compile of the benchmark library, {what:<4}: ours {summary[f'ours_{what}_min']:.3f} s "
            f"(median {summary[f'ours_{what}_median']:.3f})   CUDA C++ {summary[f'cuda_{what}_min']:.3f} s "
            f"(median {summary[f'cuda_{what}_median']:.3f})   ratio of minima "
            f"{summary[f'ours_{what}_min'] / summary[f'cuda_{what}_min']:.2f}",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f}, {args.runs} runs each")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "runs": rows, "load": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
