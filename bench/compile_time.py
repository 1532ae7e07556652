"""Compile time of a library of many kernels, as ML libraries write them: one templated
row reduction instantiated with [[host_name]] for 4 operations x 5 types x 3 widths (60
kernels, our own code in the style of such libraries). Cold (an empty cache folder, a new
process each time): creating the Library, the first pipeline, and three further ones, on
every device. Libraries of more than four kernels compile each kernel on first use
(cpu_device.cpp, kCompileWholeUpTo), after a whole-library check when created.

    python bench/compile_time.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from pm_testing import run_in_fresh_process  # noqa: E402
from timing import write_json  # noqa: E402

OPS = {"sum": "Sum", "max": "Max", "min": "Min", "prod": "Prod"}
TYPES = ["float", "half", "int", "uint", "bfloat"]
WIDTHS = [1, 4, 8]


def library_source() -> str:
    head = r"""
#include <metal_stdlib>
using namespace metal;
template <typename T> struct Sum { T init() { return T(0); } T operator()(T a, T b) { return a + b; } T simd(T v) { return simd_sum(v); } };
template <typename T> struct Max { T init() { return numeric_limits<T>::lowest(); } T operator()(T a, T b) { return max(a, b); } T simd(T v) { return simd_max(v); } };
template <typename T> struct Min { T init() { return numeric_limits<T>::max(); } T operator()(T a, T b) { return min(a, b); } T simd(T v) { return simd_min(v); } };
template <typename T> struct Prod { T init() { return T(1); } T operator()(T a, T b) { return a * b; } T simd(T v) { return simd_product(v); } };
template <typename T, typename Op, int N_READS>
kernel void row_reduce(device const T* in [[buffer(0)]], device T* out [[buffer(1)]], constant uint& n [[buffer(2)]],
    threadgroup T* shared [[threadgroup(0)]],
    uint gid [[threadgroup_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
    uint tpg [[threads_per_threadgroup]], uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]]) {
  Op op;
  T acc = op.init();
  for (uint i = lid * N_READS; i < n; i += tpg * N_READS)
    for (int k = 0; k < N_READS; ++k) if (i + k < n) acc = op(acc, in[gid * n + i + k]);
  acc = op.simd(acc);
  if (lane == 0) shared[sg] = acc;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 0) {
    acc = lid < (tpg + 31) / 32 ? shared[lid] : op.init();
    acc = op.simd(acc);
    if (lid == 0) out[gid] = acc;
  }
}
"""
    lines = [head]
    for op, cls in OPS.items():
        for t in TYPES:
            for r in WIDTHS:
                lines.append(
                    f'template [[host_name("row_reduce_{op}_{t}_{r}")]] kernel void row_reduce<{t}, {cls}<{t}>, {r}>('
                    f"device const {t}*, device {t}*, constant uint&, threadgroup {t}*, uint, uint, uint, uint, uint);"
                )
    return "\n".join(lines)


CHILD = r"""
import json, time
src, d = open(args[0]).read(), device
t = time.perf_counter(); lib = pm.Library(d, src); row = {"library_s": time.perf_counter() - t}
times = []
for name in ["row_reduce_sum_float_4", "row_reduce_max_half_8", "row_reduce_prod_int_1", "row_reduce_min_bfloat_4"]:
    t = time.perf_counter(); pm.ComputePipelineState(d, lib.make_function(name)); times.append(time.perf_counter() - t)
row["first_pipeline_s"] = times[0]
row["further_pipeline_s"] = max(times[1:])
print(json.dumps(row))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    import pymetallic

    kinds = sorted({d.kind for d in pymetallic.Device.get_all_devices()})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "library.metal")
        with open(path, "w") as f:
            f.write(library_source())
        for kind in kinds:
            out = run_in_fresh_process(kind, CHILD, path, cache_dir=os.path.join(tmp, "cache-" + kind))
            row = dict(json.loads([line for line in out if line.strip()][-1]), device=kind, kernels=60)
            row["to_first_pipeline_s"] = row["library_s"] + row["first_pipeline_s"]
            rows.append(row)
            print(
                f"{kind:<5} 60-kernel library, cold: Library() {row['library_s']:6.2f} s   first pipeline "
                f"{row['first_pipeline_s']:6.2f} s (total {row['to_first_pipeline_s']:5.2f} s, goal <= 2)   "
                f"each further <= {row['further_pipeline_s']:5.2f} s (goal <= 1)",
                flush=True,
            )
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
