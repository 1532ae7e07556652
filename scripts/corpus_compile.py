"""Compiles every MSL file of some folders with ``pymetallic compile`` and reports the rate.

    python3 scripts/corpus_compile.py DIR [DIR ...] [--target cpu|cuda] [-I DIR] [-j N]
    python3 scripts/corpus_compile.py --tint DAWN/test/tint --sample 400 [--target cpu|cuda]

Each file is compiled in its own process (``python -m pymetallic.cli compile FILE``), so a
crash or a hang of one file is a failure of that file only. Failures are grouped by their
first error message (file, line and quoted names taken out, so that one kind of failure is one
group). Files that are not valid Metal for a Mac GPU are compiled too but counted apart:
names marked ``.invalid`` (SPIRV-Cross's marker for output its own test does not compile) and
files using a feature macOS GPUs lack (``--not-mac`` patterns).

The corpus is never part of this repository: point the script at a local copy, e.g. the MSL
that SPIRV-Cross writes for MoltenVK (reference/shaders-msl*/{comp,asm/comp} of its repository).

``--tint DIR`` reads the MSL that Tint writes in dawn's test expectations (``*.expected.msl``
under DIR, recursively). Such a file holds one module per entry point, each after a
``//\n// name\n//`` header; the modules with a ``kernel`` (and no vertex or fragment entry
point) are written to a temporary folder and compiled one by one. Files that say ``SKIP:``
(Tint produced no MSL) are counted apart. ``--sample N`` compiles a random sample of N files
(``--seed`` fixes it) and says so.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import random
import re
import subprocess
import sys
import tempfile
import time

# Names SPIRV-Cross gives to outputs that are not valid MSL (its own test harness skips them).
INVALID_NAME = re.compile(r"\.invalid\.")
# Files whose text is not valid MSL, checked one by one (Apple's compiler refuses them too),
# with the reason. Matched on the file name.
KNOWN_INVALID = {
    "subgroups.nocompat.vk.msl22.ios.comp": (
        "not valid MSL: `uint4(extract_bits(...), uint2(0))` builds a 4-vector from 3 components "
        "(SPIRV-Cross's iOS ballot emulation)"
    ),
    "subgroups.nocompat.vk.msl23.ios.simd.comp": (
        "not valid MSL: `uint4(extract_bits(...), uint2(0))` builds a 4-vector from 3 components "
        "(SPIRV-Cross's iOS ballot emulation)"
    ),
}
# Source patterns of features that no macOS GPU has (the file is valid only for iOS or later
# versions of Metal): counted apart, with the reason. Extend with --not-mac REGEX=REASON.
NOT_MAC = {
    r"\bintersection_query\b|\bmetal_raytracing\b": "ray tracing from compute (not in this project's scope)",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", nargs="*", metavar="DIR", help="folders searched (not recursively) for MSL files")
    p.add_argument("--target", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR", help="include root")
    p.add_argument("--ext", default=".metal,.comp,.msl", help="file name endings to compile (comma-separated)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per file")
    p.add_argument("--python", default=sys.executable, help="interpreter that has pymetallic installed")
    p.add_argument(
        "--not-mac",
        action="append",
        default=[],
        metavar="REGEX=REASON",
        help="a source pattern that marks a file as not valid for a Mac GPU",
    )
    p.add_argument("--tint", action="append", default=[], metavar="DIR", help="Tint expectations (*.expected.msl)")
    p.add_argument("--sample", type=int, default=0, metavar="N", help="compile a random sample of N files")
    p.add_argument("--seed", type=int, default=1, help="seed of --sample")
    p.add_argument("--list", action="store_true", help="list every failing file under its group")
    p.add_argument("--exact", action="store_true", help="group by the exact message (names kept)")
    return p.parse_args(argv)


def find_files(dirs, exts):
    files = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if os.path.isfile(path) and name.endswith(exts):
                files.append(path)
    return files


TINT_MODULE = re.compile(r"^//\n// (\w+)\n//\n", re.M)


def tint_modules(roots, out_dir):
    """The compute modules of Tint's expectations under roots, written to out_dir; and the
    number of files Tint produced no MSL for."""
    files, skipped = [], 0
    for root in roots:
        for dirpath, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                if not name.endswith(".expected.msl"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if text.startswith("SKIP"):
                    skipped += 1
                    continue
                if text.startswith("<dawn>"):
                    # Tint's warnings about the WGSL input come first, up to a blank line.
                    text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
                parts = TINT_MODULE.split(text)
                modules = [("", parts[0])] + list(zip(parts[1::2], parts[2::2]))
                for module, body in modules:
                    if "kernel void" not in body or re.search(r"^\s*(vertex|fragment)\s", body, re.M):
                        continue
                    rel = os.path.relpath(path, root).replace(os.sep, "__").replace(".wgsl.expected.msl", "")
                    out = os.path.join(out_dir, rel + ("." + module if module else "") + ".metal")
                    with open(out, "w", encoding="utf-8") as f:
                        f.write(body)
                    files.append(out)
    return files, skipped


def compile_one(path, args):
    cmd = [args.python, "-m", "pymetallic.cli", "compile", path, "--target", args.target]
    for inc in args.include:
        cmd += ["-I", inc]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return path, False, f"timed out after {args.timeout:.0f} s", time.perf_counter() - t0
    if r.returncode == 0:
        return path, True, "", time.perf_counter() - t0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    first = next((ln for ln in lines if "error" in ln), lines[0] if lines else f"exit status {r.returncode}")
    return path, False, first.strip(), time.perf_counter() - t0


def message_kind(message, exact):
    """The message without its location (and, unless exact, without the names it quotes)."""
    m = re.sub(r"^error:\s*", "", message)
    m = re.sub(r"^\S+?:\d+(:\d+)?:\s*(fatal )?error:\s*", "", m)
    if not exact:
        m = re.sub(r"'[^']*'", "'…'", m)
        m = re.sub(r"\b\d+\b", "N", m)
    return m


def main(argv=None):
    args = parse_args(argv)
    exts = tuple(e if e.startswith(".") else "." + e for e in args.ext.split(",") if e)
    files = find_files(args.dirs, exts)
    tint_skipped = 0
    if args.tint:
        tmp = tempfile.mkdtemp(prefix="tint-msl-")
        more, tint_skipped = tint_modules(args.tint, tmp)
        files += more
    population = len(files)
    if args.sample and args.sample < len(files):
        files = sorted(random.Random(args.seed).sample(files, args.sample))
    if not files:
        print("no files found", file=sys.stderr)
        return 2
    not_mac = dict(NOT_MAC)
    for spec in args.not_mac:
        regex, _, reason = spec.partition("=")
        not_mac[regex] = reason or regex

    excluded = {}  # path -> why the file is not counted
    for path in files:
        if INVALID_NAME.search(os.path.basename(path)):
            excluded[path] = "marked .invalid by its producer"
            continue
        if os.path.basename(path) in KNOWN_INVALID:
            excluded[path] = KNOWN_INVALID[os.path.basename(path)]
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for regex, reason in not_mac.items():
            if re.search(regex, text):
                excluded[path] = reason
                break

    t0 = time.perf_counter()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, ok, message, secs in pool.map(lambda p: compile_one(p, args), files):
            results[path] = (ok, message, secs)
    elapsed = time.perf_counter() - t0

    counted = [p for p in files if p not in excluded]
    passed = [p for p in counted if results[p][0]]
    groups = collections.defaultdict(list)
    for p in counted:
        ok, message, _ = results[p]
        if not ok:
            groups[message_kind(message, args.exact)].append((p, message))

    print(
        f"target {args.target}: {len(passed)}/{len(counted)} files compile "
        f"({100.0 * len(passed) / max(1, len(counted)):.1f}%), {elapsed:.0f} s"
    )
    if len(files) < population:
        print(f"(a random sample of {len(files)} of {population} files, seed {args.seed})")
    if tint_skipped:
        print(f"({tint_skipped} Tint expectations are SKIP: Tint wrote no MSL for them; not counted)")
    if groups:
        print(f"\nfailures by first error ({len(groups)} kinds):")
        for kind, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"  {len(members):4d}  {kind}")
            shown = members if args.list else members[:1]
            for p, message in shown:
                print(f"          {p}: {message}" if args.list else f"          e.g. {message}")
    if excluded:
        print(f"\nnot counted ({len(excluded)} files not valid Metal for a Mac GPU):")
        for p in sorted(excluded):
            ok, message, _ = results[p]
            print(f"  {p}: {excluded[p]}; {'compiles' if ok else 'fails: ' + message}")
    return 0 if len(passed) == len(counted) else 1


if __name__ == "__main__":
    sys.exit(main())
