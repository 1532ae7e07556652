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


def write_json(path, data):
    """Writes ``data`` (a benchmark's rows) to ``path`` as indented JSON; nothing when path is empty."""
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
