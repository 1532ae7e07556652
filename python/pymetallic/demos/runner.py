"""``MetallicDemo``, the original package's demo class, made of the demo areas; running
several demos, and what the ``demo``/``smoke`` commands of the command line run."""

from __future__ import annotations

import sys

from ..errors import MetalError
from ..metallic import run_simple_compute_example
from .base import _DEMOS, demo_names, resolve_demo_name
from .compute import ComputeDemos
from .image import ImageDemos
from .memory import MemoryDemos
from .simulation import SimulationDemos
from .system import SystemDemos


class MetallicDemo(ComputeDemos, MemoryDemos, ImageDemos, SimulationDemos, SystemDemos):
    """The demos of the original package, on ``device`` (the default device if None).

    Each ``demo_*`` method runs its kernels, prints what it did and a timing line
    (``⏱ Elapsed … sec for N steps, average = …``), checks its result against NumPy, and
    returns a dict with at least ``ok`` (True, False, or None when skipped) and ``elapsed``
    (seconds). ``quiet`` silences printing; ``out_path`` is the folder for GIFs and PNGs
    (default ``demo_output``); ``quick`` picks small sizes; ``write_files=False`` skips images.
    """

    def get_demos(self):
        """{name: bound demo method}, in run order."""
        return {name: getattr(self, method) for name, method in _DEMOS}

    def run(self, names=None):
        """Runs the named demos (all by default); returns {name: result}. A demo that raises
        is reported and counted as failed; the others still run."""
        demos = self.get_demos()
        chosen = demo_names() if not names or "all" in names else [resolve_demo_name(n) for n in names]
        results = {}
        for name in chosen:
            try:
                results[name] = demos[name]()
            except Exception as e:  # noqa: BLE001 - one failing demo must not stop the rest
                self._print(f"  ✗ demo '{name}' failed: {type(e).__name__}: {e}")
                results[name] = {"name": name, "ok": False, "error": f"{type(e).__name__}: {e}"}
        return results

    def run_complete_demo(self):
        """Every demo in order, then a summary. Returns {name: result}."""
        results = self.run()
        self._print_summary(results)
        return results

    def _print_summary(self, results):
        self._print("\n=== Summary ===")
        for name, res in results.items():
            mark = {True: "✓", False: "✗", None: "-"}[res.get("ok")]
            t = res.get("elapsed")
            self._print(f"  {mark} {name:<12} {'' if t is None else f'{t:8.3f} s'}")


def get_demos(demo=None):
    """{name: demo callable} on a new (or the given) ``MetallicDemo``."""
    return (demo or MetallicDemo()).get_demos()


def run_complete_demo(quiet=False, out_path=None, quick=False):
    """Runs every demo; returns {name: result}."""
    return MetallicDemo(quiet=quiet, out_path=out_path, quick=quick).run_complete_demo()


def run_demos_cli(names, out_dir, quick, quiet=False, verbose=False):
    """Shared by ``metallic-demo`` and ``pymetallic demo``: returns an exit status."""
    try:
        if names and "all" not in names:
            names = [resolve_demo_name(n) for n in names]
        demo = MetallicDemo(quiet=quiet, out_path=out_dir, quick=quick)
    except (ValueError, MetalError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        if verbose:
            print(str(e), file=sys.stderr)
        return 2
    results = demo.run(names)
    if not quiet or len(results) > 1:
        quiet_saved, demo.quiet = demo.quiet, False
        demo._print_summary(results)
        demo.quiet = quiet_saved
    failed = [n for n, r in results.items() if r.get("ok") is False]
    if failed:
        print(f"error: {len(failed)} demo(s) failed: {', '.join(failed)}", file=sys.stderr)
        if verbose:
            for n in failed:
                if "error" in results[n]:
                    print(f"  {n}: {results[n]['error']}", file=sys.stderr)
        return 1
    return 0


def run_smoke(verbose=False):
    """The ``smoke`` command: a quick self-test (vector add, Life, one fluid step) on the
    default device; returns the exit status, 0 when everything matched NumPy."""
    try:
        ok = bool(run_simple_compute_example())
        demo = MetallicDemo(quiet=False, quick=True, write_files=False)
        ok &= bool(demo.demo_cellular_automata(size=32, steps=8)["ok"])
        ok &= bool(demo.demo_fluid_dynamics(size=24, steps=2, compare_modes=False)["ok"])
    except MetalError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        if verbose:
            print(str(e), file=sys.stderr)
        return 1
    print("SMOKE OK" if ok else "SMOKE FAILED")
    return 0 if ok else 1
