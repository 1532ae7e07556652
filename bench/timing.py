"""What the benchmarks share: the median time of a callable, and writing their rows."""

from __future__ import annotations

import json
import statistics
import time


def median_seconds(fn, repeats=7, warmup=2):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def paired_medians(fns, repeats=7, warmup=2):
    """Median wall-clock seconds of each callable in ``fns``, timed round by round in turn
    (ours, theirs, ours, theirs, ...) after ``warmup`` untimed rounds, so that a slow spell of
    a shared machine (clock, other processes, the driver's housekeeping) falls on every side
    alike instead of on whichever ran during it. Returns the medians in the order of ``fns``."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def write_json(path, data):
    """Writes ``data`` (a benchmark's rows) to ``path`` as indented JSON; nothing when path is empty."""
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
