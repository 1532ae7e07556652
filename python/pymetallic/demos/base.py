"""What every demo shares: the demo names and their run order, the original's timing line,
and ``DemoBase`` (printing, checks against NumPy, buffers and one-dispatch helpers) that
the demo areas (compute, memory, image, simulation, system) build on."""

from __future__ import annotations

import os
import sys

from .._api import Buffer, CommandQueue, Device
from ..errors import MetalError
from ..kernel import kernel_cache

# Canonical demo names, in run order, and the method behind each.
_DEMOS = [
    ("basic", "demo_basic_compute"),
    ("matrix", "demo_matrix_operations"),
    ("advanced", "demo_advanced_features"),
    ("memory", "demo_memory_patterns"),
    ("image", "demo_image_processing"),
    ("life", "demo_cellular_automata"),
    ("fluid", "demo_fluid_dynamics"),
    ("device_info", "demo_device_info"),
    ("performance", "demo_performance_benchmark"),
    ("errors", "demo_error_handling"),
]

ALIASES = {
    "basic_compute": "basic",
    "matrix_operations": "matrix",
    "mandelbrot": "advanced",
    "advanced_features": "advanced",
    "memory_patterns": "memory",
    "image_processing": "image",
    "cellular": "life",
    "cellular_automata": "life",
    "conway": "life",
    "fluid_dynamics": "fluid",
    "cfd": "fluid",
    "info": "device_info",
    "device": "device_info",
    "performance_benchmark": "performance",
    "bench": "performance",
    "benchmark": "performance",
    "error_handling": "errors",
    "error": "errors",
}


def demo_names():
    """The canonical demo names, in the order ``run_complete_demo`` runs them."""
    return [name for name, _ in _DEMOS]


def resolve_demo_name(name):
    """A canonical demo name for ``name`` or one of its aliases; ValueError if unknown."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in demo_names():
        raise ValueError(f"unknown demo {name!r}; choose from: {', '.join(demo_names())} (or 'all')")
    return key


def timing_line(elapsed, steps):
    """The original's timing line."""
    return f"⏱ Elapsed {elapsed:.3f} sec for {steps} steps, average = {elapsed / max(steps, 1):.4f} sec"


class DemoBase:
    """State and helpers of a demo run on ``device`` (the default device if None).

    ``quiet`` silences printing; ``out_path`` is the folder for GIFs and PNGs (default
    ``demo_output``); ``quick`` picks small sizes; ``write_files=False`` skips images;
    ``progress`` shows a progress line on stderr (default: when stderr is a terminal).
    """

    def __init__(self, quiet=False, out_path=None, device=None, quick=False, write_files=True, progress=None):
        self.quiet = quiet
        self.out_path = out_path or "demo_output"
        self.device = device or Device.get_default_device()
        self.queue = CommandQueue(self.device)
        self.quick = quick
        self.write_files = write_files
        self.results = {}
        stream = sys.stderr
        self._progress_on = (not quiet) and (progress if progress is not None else stream.isatty())

    # ---------------------------------------------------------------- small utilities
    def _print(self, *args):
        if not self.quiet:
            print(*args, flush=True)

    def _header(self, title):
        self._print(f"\n=== {title} ===  [{self.device.name} ({self.device.kind})]")

    def _timing(self, elapsed, steps):
        self._print("  " + timing_line(elapsed, steps))

    def _check(self, what, ok, detail=""):
        mark = "✓" if ok else "✗"
        verdict = "matches NumPy" if ok else "does NOT match NumPy"
        self._print(f"  {mark} {what} {verdict}{(' (' + detail + ')') if detail else ''}")
        return bool(ok)

    def _progress(self, label, i, n):
        if self._progress_on and (i == n or i % max(1, n // 50) == 0):
            end = "\n" if i == n else ""
            sys.stderr.write(f"\r  {label}: {i}/{n}{end}")
            sys.stderr.flush()

    def _size(self, value, full, quick):
        if value is not None:
            return value
        return quick if self.quick else full

    def _out(self, name):
        os.makedirs(self.out_path, exist_ok=True)
        return os.path.join(self.out_path, name)

    def _pipeline(self, source, name):
        return kernel_cache.get(self.device, source, name)

    def _dispatch(self, pipeline, buffers, grid, tg=None, bytes_args=(), cb=None):
        """Encodes one dispatch; commits and waits unless ``cb`` is given."""
        own = cb is None
        cb = cb or self.queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipeline)
        for i, b in enumerate(buffers):
            enc.set_buffer(b, 0, i)
        for data, index in bytes_args:
            enc.set_bytes(data, index)
        grid = tuple(grid) + (1,) * (3 - len(grid))
        if tg is None:
            tg = (min(grid[0], 256), 1, 1) if grid[1] == 1 else (min(grid[0], 64), min(grid[1], 4), 1)
        enc.dispatch_threads(grid, tg)
        enc.end_encoding()
        if own:
            cb.commit()
            cb.wait_until_completed()
            if cb.get_status() != 1:
                raise MetalError(f"dispatch failed: {cb.error}")
        return cb

    def _buf(self, array):
        return Buffer.from_numpy(self.device, array)

    def _result(self, name, ok, elapsed, **extra):
        res = {"name": name, "ok": ok, "elapsed": elapsed, **extra}
        self.results[name] = res
        return res
