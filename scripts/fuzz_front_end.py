"""Fuzzes the MSL front end: mutated and truncated versions of every kernel source in the
repository go through translation (no compile); anything but a MetalError is a bug.

    PYTHONPATH=python python3 scripts/fuzz_front_end.py [--seed N] [--count N]

A crash leaves the offending input in /tmp/pymetallic-fuzz-last.metal.
"""

import argparse
import glob
import os
import random
import re

import pymetallic
from pymetallic import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIECES = list("{}()[]<>;:,.#\"'\\/*&|^~!?=+-%0123456789abxyz_ \n\t") + [
    "[[", "]]", "kernel", "device", "threadgroup", "constant", "#define", "#if", "#include", "template",
    "[[buffer(", "[[thread_position_in_grid]]", "\\\n", "/*", "*/"]


def sources():
    found = [open(f).read() for f in glob.glob(os.path.join(ROOT, "python/pymetallic/kernels/*.metal"))]
    for f in glob.glob(os.path.join(ROOT, "tests/msl/test_*.py")) + [os.path.join(ROOT, "bench/gpu_kernels.py")]:
        found += [m.group(1) for m in re.finditer(r'"""(.*?)"""', open(f).read(), re.S) if "kernel" in m.group(1)]
    return found


def mutate(rng, text):
    if rng.random() < 0.3:
        return text[:rng.randrange(len(text) + 1)]
    chars = list(text)
    for _ in range(rng.randrange(1, 8)):
        at = rng.randrange(len(chars) + 1)
        if chars and rng.random() < 0.5:
            del chars[at % len(chars)]
        else:
            chars.insert(at, rng.choice(PIECES))
    return "".join(chars)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = sources()
    errors = 0
    for _ in range(args.count):
        text = mutate(rng, rng.choice(corpus))
        with open("/tmp/pymetallic-fuzz-last.metal", "w") as f:
            f.write(text)
        try:
            _core.compile_offline(text, None, "cpu", "", True)
        except pymetallic.MetalError:
            errors += 1
    print(f"{args.count} inputs, {errors} rejected with a MetalError, no crash")


if __name__ == "__main__":
    main()
