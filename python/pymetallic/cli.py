"""``pymetallic``: the command line.

    pymetallic info                      devices, limits and compilers found
    pymetallic compile FILE.metal        check a kernel file (--target cpu|cuda, --emit)
    pymetallic demo [NAME ...]           run demos (fluid, life, ... or all)
    pymetallic bench                     time the demo kernels on the default device
    pymetallic cache info|clear          the kernel cache: where, how big; or empty it
    pymetallic smoke                     a quick self-test on the default device

This is the one argument parser of every command-line entry point: ``metallic-demo`` and
``metallic-smoke`` (the original package's console scripts) are its ``demo`` and ``smoke``
commands under their own names, and ``python -m pymetallic`` is ``pymetallic``.

Errors are one line on stderr (add -v for details); the exit status is 0 only on success.
"""

from __future__ import annotations

import argparse
import sys
import time


def _error(msg, details=None, verbose=False):
    lines = str(msg).strip().splitlines() or ["unknown error"]
    print(f"error: {lines[0]}", file=sys.stderr)
    if verbose:
        rest = "\n".join(lines[1:])
        if rest:
            print(rest, file=sys.stderr)
        if details:
            print(details, file=sys.stderr)
    elif len(lines) > 1 or details:
        print("(run with -v for details)", file=sys.stderr)


def _gib(n):
    return f"{n / 2**30:.1f} GiB"


# ---------------------------------------------------------------- info
def cmd_info(args):
    import pymetallic
    from pymetallic import _core

    devices = pymetallic.Device.get_all_devices()
    try:
        default = pymetallic.Device.get_default_device()
    except pymetallic.MetalError:
        default = None
    print(f"pymetallic {pymetallic.__version__}")
    if not devices:
        print("no devices found")
    for i, d in enumerate(devices):
        mark = "*" if default is not None and d.kind == default.kind and d.name == default.name else " "
        print(f"{mark} [{i}] {d.kind:<5} {d.name}")
        print(
            f"        memory (recommended working set): {_gib(d.recommended_working_set_size)}"
            f", unified memory: {'yes' if d.has_unified_memory else 'no'}"
        )
        print(
            f"        max threads per threadgroup: {d.max_threads_per_threadgroup}"
            f", max threadgroup memory: {d.max_threadgroup_memory_length // 1024} KiB"
        )
    print("compilers:")
    tools = _core.toolchains()
    for target in ("cpu", "nvrtc"):
        print(f"  {target:<6} {tools.get(target) or 'not found'}")
    for target, found in sorted(tools.items()):
        if target not in ("cpu", "nvrtc"):
            print(f"  {target:<6} {found}")
    print(f"kernel cache: {_cache_dir()}  (pymetallic cache info)")
    if default is not None:
        print(f"default device (* above): {default.kind} {default.name}  (set PYMETALLIC_DEVICE=cpu|cuda to choose)")
    return 0


def _cache_dir():
    from pymetallic import _core

    return _core._cache_info()["directory"]


# ---------------------------------------------------------------- cache
def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def cmd_cache(args):
    from pymetallic import _core

    if args.action == "clear":
        before = _core._cache_info()
        removed = _core._cache_clear()
        print(f"removed {removed} files ({_size(before['bytes'])}) from {before['directory']}")
        return 0
    info = _core._cache_info()
    print(f"kernel cache: {info['directory']}")
    print(f"  entries: {info['entries']} ({info['files']} files), {_size(info['bytes'])}")
    for name, n in sorted(info["backends"].items()):
        print(f"    {name:<6} {_size(n)}")
    limit = info["limit"]
    print(
        f"  size limit: {_size(limit) if limit else 'none'} "
        "(PYMETALLIC_CACHE_SIZE_LIMIT; least recently used entries go first)"
    )
    return 0


# ---------------------------------------------------------------- compile
def _macro(text):
    name, _, value = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"bad macro {text!r}: use NAME or NAME=VALUE")
    return name, value if _ else "1"


def cmd_compile(args):
    import os
    import pymetallic
    from pymetallic import _core

    try:
        with open(args.file, encoding="utf-8") as f:
            source = f.read()
    except OSError as e:
        _error(f"cannot read {args.file}: {e.strerror}", verbose=args.verbose)
        return 2
    include_paths = list(args.include) + [os.path.dirname(os.path.abspath(args.file))]
    options = {
        "macros": dict(args.define),
        "include_paths": include_paths,
        "math_mode": args.math_mode,
        "filename": args.file,
    }
    if args.language_version:
        options["language_version"] = args.language_version
    t0 = time.perf_counter()
    try:
        result = _core.compile_offline(source, options, args.target, args.arch or "", args.emit)
    except pymetallic.CompileError as e:
        log = getattr(e, "log", "") or ""
        text = str(e).strip()
        lines = text.splitlines()
        # One line: the first diagnostic with its file:line; the full log with -v.
        import re

        located = re.compile(r":\d+(:\d+)?: (fatal )?error")
        candidates = lines + log.splitlines()
        diag = next((ln for ln in candidates if located.search(ln)), lines[0] if lines else "")
        print(f"error: {diag.strip()}" if diag else f"error: {args.file} does not compile", file=sys.stderr)
        if args.verbose:
            print(log.strip() or text, file=sys.stderr)
        else:
            others = [ln for ln in lines[1:] if ": error:" in ln and ln.strip() != diag.strip()]
            for ln in others[:9]:
                print(ln, file=sys.stderr)
            print("(run with -v for the compiler's full output)", file=sys.stderr)
        return 1
    except pymetallic.MetalError as e:
        _error(e, verbose=args.verbose)
        return 1
    elapsed = time.perf_counter() - t0
    if args.emit:
        sys.stdout.write(result.get("generated", ""))
        if not result.get("generated", "").endswith("\n"):
            sys.stdout.write("\n")
        return 0
    funcs = result.get("functions", [])
    size = result.get("binary_size", 0)
    print(
        f"{args.file}: OK for {args.target}{(' ' + args.arch) if args.arch else ''} "
        f"({result.get('artifact', '')}{f', {size:,} bytes' if size else ''}, {elapsed:.2f} s)"
    )
    print(f"kernels: {', '.join(funcs) if funcs else '(none)'}")
    return 0


# ---------------------------------------------------------------- demo
def cmd_demo(args):
    """Runs the named demos (positional names and ``--demos`` alike; all by default)."""
    from .demos.runner import run_demos_cli

    names = list(args.names) + list(args.demos or [])
    return run_demos_cli(names or ["all"], args.out_dir, args.quick_test, args.quiet, args.verbose)


# ---------------------------------------------------------------- smoke
def cmd_smoke(args):
    """A quick self-test (vector add, Life, one fluid step); 0 when all matched NumPy."""
    from .demos.runner import run_smoke

    return run_smoke(args.verbose)


# ---------------------------------------------------------------- bench
def cmd_bench(args):
    """The demo kernels, timed, each checked against NumPy first (by the demos)."""
    from .demos.runner import MetallicDemo

    demo = MetallicDemo(quiet=args.quiet, quick=args.quick, write_files=False)
    size = args.size or (48 if args.quick else 512)
    rows = []
    ok = True
    r = demo.demo_performance_benchmark()
    ok &= bool(r["ok"])
    rows.append(("vector add (all sizes)", r["elapsed"], r["steps"]))
    r = demo.demo_advanced_features()
    ok &= bool(r["ok"])
    rows.append(("Mandelbrot", r["elapsed"], 1))
    life_steps = 24 if args.quick else 200
    r = demo.demo_cellular_automata(size=size, steps=life_steps)
    ok &= bool(r["ok"])
    rows.append((f"Life {size}x{size}, wait each step", r["elapsed"], life_steps))
    fluid_steps = 6 if args.quick else 100
    r = demo.demo_fluid_dynamics(size=size, steps=fluid_steps, frame_every=10**9)
    ok &= bool(r["ok"])
    rows.append((f"fluid {size}x{size}, wait each dispatch", r["timings"]["wait_each_dispatch"], fluid_steps))
    rows.append((f"fluid {size}x{size}, one command buffer per step", r["timings"]["per_step"], fluid_steps))
    print(f"\n{demo.device.kind} {demo.device.name}")
    print(f"{'benchmark':<44} {'total s':>9} {'steps':>6} {'ms/step':>9}")
    for name, t, n in rows:
        print(f"{name:<44} {t:9.3f} {n:6d} {t / max(n, 1) * 1e3:9.3f}")
    if not ok:
        print("error: some results did not match NumPy", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- main
def build_parser():
    """The parser of every entry point; ``parser.commands`` maps each command to its subparser."""
    from .demos.base import ALIASES, demo_names

    p = argparse.ArgumentParser(
        prog="pymetallic", description="Run Apple Metal Shading Language compute kernels on NVIDIA GPUs and any CPU."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="full details on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.commands = sub.choices

    s = sub.add_parser("info", help="list devices, their limits and the compilers found")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("compile", help="compile a .metal file for a target and report errors with file:line")
    s.add_argument("file", metavar="FILE.metal")
    s.add_argument("--target", choices=("cpu", "cuda"), default="cpu", help="backend to compile for (default cpu)")
    s.add_argument("--arch", default="", help="GPU architecture for --target cuda (e.g. sm_90)")
    s.add_argument("-I", dest="include", action="append", default=[], metavar="DIR", help="add an include path")
    s.add_argument(
        "-D",
        dest="define",
        action="append",
        default=[],
        type=_macro,
        metavar="NAME[=VALUE]",
        help="define a preprocessor macro",
    )
    s.add_argument(
        "--math-mode",
        choices=("safe", "relaxed", "fast"),
        default="fast",
        help="floating-point mode, as MTLCompileOptions.mathMode (default fast, Metal's default)",
    )
    s.add_argument(
        "--fast-math",
        dest="math_mode",
        action="store_const",
        const="fast",
        help="the same as --math-mode fast (the older spelling)",
    )
    s.add_argument(
        "--std",
        "--language-version",
        dest="language_version",
        default="",
        metavar="VERSION",
        help="MSL version, e.g. 3.1 (sets __METAL_VERSION__; default 3.2)",
    )
    s.add_argument("--emit", action="store_true", help="print the generated code instead of a summary")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser(
        "demo",
        help="run demos (default: all); e.g. 'pymetallic demo fluid life'",
        description="Run pymetallic's demos: each prints its timing and whether it matched NumPy.",
        epilog="demos: " + ", ".join(demo_names()) + " (aliases: " + ", ".join(sorted(ALIASES)) + ")",
    )
    s.add_argument("names", nargs="*", metavar="NAME", help="demo names, or 'all'")
    s.add_argument("--demos", nargs="+", metavar="NAME", help="the same as the names (metallic-demo's spelling)")
    s.add_argument(
        "--out_dir", "--out-dir", default="demo_output", help="folder for GIFs and PNGs (default demo_output)"
    )
    s.add_argument(
        "--quick_test", "--quick-test", "--quick", action="store_true", help="small sizes: a fast check of everything"
    )
    s.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("bench", help="time vector add, Mandelbrot, Life and the fluid step on the default device")
    s.add_argument("--quick", action="store_true", help="small sizes")
    s.add_argument("--size", type=int, default=None, help="grid side for Life and the fluid (default 512)")
    s.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    s.set_defaults(func=cmd_bench)
    s = sub.add_parser("cache", help="the kernel cache: 'info' (where, how big) or 'clear' (empty it)")
    s.add_argument("action", choices=("info", "clear"), nargs="?", default="info")
    s.set_defaults(func=cmd_cache)

    s = sub.add_parser(
        "smoke",
        help="a quick self-test (vector add, Life, one fluid step) on the default device",
        description="Quick self-test of pymetallic on the default device.",
    )
    s.set_defaults(func=cmd_smoke)
    return p


def main(argv=None, command=None, prog=None):
    """Runs the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    With ``command``, ``argv`` holds that command's arguments only and ``prog`` names the
    program in messages: how ``metallic-demo`` and ``metallic-smoke`` run.
    """
    parser = build_parser()
    # -v may also come after the subcommand.
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    argv = [a for a in argv if a not in ("-v", "--verbose")]
    if command is None:
        args = parser.parse_args(argv)
    else:
        sub = parser.commands[command]
        sub.prog = prog or sub.prog
        args = sub.parse_args(argv)
        args.command = command
    args.verbose = verbose
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one clear line, details with -v
        import traceback

        _error(f"{type(e).__name__}: {e}", traceback.format_exc() if verbose else None, verbose)
        return 1


def demo_main(argv=None):
    """``metallic-demo``: the ``demo`` command (``--demos NAME…|all``, ``--out_dir``,
    ``--quick_test``); returns the exit status."""
    return main(argv, command="demo", prog="metallic-demo")


def smoke_main(argv=None):
    """``metallic-smoke``: the ``smoke`` command; exit status 0 when everything matched NumPy."""
    return main(argv, command="smoke", prog="metallic-smoke")


if __name__ == "__main__":
    sys.exit(main())
