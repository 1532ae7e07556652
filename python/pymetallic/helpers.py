"""The original pymetallic's ``helpers`` module: ``MetallicDemo`` and the ``metallic-demo``
and ``metallic-smoke`` console scripts, under their original names.

The demos live in ``pymetallic.demos`` (one module per area: compute, memory, image,
simulation, system); the console scripts are commands of the one command-line parser in
``pymetallic.cli``. This module only re-exports them.
"""

from __future__ import annotations

from .cli import demo_main, smoke_main
from .demos.base import ALIASES, demo_names, resolve_demo_name, timing_line
from .demos.runner import MetallicDemo, get_demos, run_complete_demo, run_demos_cli
from .demos.simulation import LIFE_PALETTE

__all__ = [
    "ALIASES",
    "LIFE_PALETTE",
    "MetallicDemo",
    "demo_main",
    "demo_names",
    "get_demos",
    "resolve_demo_name",
    "run_complete_demo",
    "run_demos_cli",
    "smoke_main",
    "timing_line",
]

if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(demo_main())
