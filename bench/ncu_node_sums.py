"""Sums Nsight Compute's kernel durations in groups of a fluid step's 25 launches, in launch
order: `ncu --graph-profiling node --metrics gpu__time_duration.sum ... bench/gpu_fluid_nodes.py`
writes one duration per kernel; this prints, per group, the kernel count, the summed GPU time
(us) and the first kernel's name (ours are `metallic_entry_*`, CuPy's carry their own names).

    python3 bench/ncu_node_sums.py ncu_output.txt [--group 25]
"""

from __future__ import annotations

import argparse
import re

KERNEL_LINE = re.compile(r"^  (\S+) \(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)")
TO_US = {"ns": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}


def durations(path):
    """(kernel name, microseconds) for each profiled kernel of an ncu text report."""
    name = None
    for line in open(path):
        m = KERNEL_LINE.match(line)
        if m:
            name = m.group(1)
        elif "gpu__time_duration.sum" in line and name:
            unit, value = line.split()[-2:]
            yield name, float(value.replace(",", "")) * TO_US.get(unit, 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("--group", type=int, default=25)
    args = ap.parse_args()
    rows = list(durations(args.report))
    for g in range(0, len(rows), args.group):
        chunk = rows[g : g + args.group]
        total = sum(us for _, us in chunk)
        print(f"group {g // args.group}: {len(chunk)} kernels, {total:.2f} us, first {chunk[0][0]}")


if __name__ == "__main__":
    main()
