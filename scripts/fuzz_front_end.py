"""Fuzzes pymetallic: the MSL front end with structure-aware mutations of real kernels
(address spaces, attributes, macros, templates, preprocessor lines, numbers, splices of two
kernels), and the Python API with random call sequences (buffers, encoders, dispatches,
blits, waits, handlers; valid and invalid arguments). Anything but success or a MetalError
is a finding: another exception type, a crash, or a hang.

    PYTHONPATH=python python3 scripts/fuzz_front_end.py [--seed N] [--count N] [--api N]

`make test` runs a bounded round (tests/python/test_fuzz.py); a longer run is the same
command with larger counts, e.g. `--count 200000 --api 20000` (about an hour on 2 cores).
The slowest front-end input so far is kept in /tmp/pymetallic-fuzz-slowest.metal.
The input being tried is kept in /tmp/pymetallic-fuzz-last.metal (front end) and
/tmp/pymetallic-fuzz-last.py (API), so a crash or hang leaves its reproduction behind; a
hang (no input finishing for --hang seconds) prints every thread's stack and exits with 3.
"""

import argparse
import faulthandler
import glob
import os
import random
import re
import sys
import time

import numpy as np

import pymetallic
from pymetallic import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIECES = list("{}()[]<>;:,.#\"'\\/*&|^~!?=+-%0123456789abxyz_ \n\t") + [
    "[[",
    "]]",
    "kernel",
    "device",
    "threadgroup",
    "constant",
    "#define",
    "#if",
    "#include",
    "template",
    "[[buffer(",
    "[[thread_position_in_grid]]",
    "\\\n",
    "/*",
    "*/",
]
SPACES = ["device", "constant", "threadgroup", "thread", "threadgroup_imageblock", "ray_data", "object_data"]
ATTRIBUTES = [
    "[[buffer(0)]]",
    "[[buffer(30)]]",
    "[[buffer(31)]]",
    "[[buffer(-1)]]",
    "[[buffer(99999999999)]]",
    "[[thread_position_in_grid]]",
    "[[threadgroup_position_in_grid]]",
    "[[thread_index_in_simdgroup]]",
    "[[threadgroup(0)]]",
    "[[texture(0)]]",
    "[[sampler(0)]]",
    "[[function_constant(0)]]",
    "[[max_total_threads_per_threadgroup(1)]]",
    "[[kernel]]",
    '[[host_name("x")]]',
    "[[unknown]]",
    "[[]]",
    "[[buffer(]]",
    "__attribute__((aligned(16)))",
]
NUMBERS = [
    "0",
    "-1",
    "1u",
    "2147483647",
    "2147483648",
    "4294967296",
    "18446744073709551616",
    "1e999",
    "0x",
    "1.5h",
    "0.0f",
    "-0.0",
    "3.4e38f",
    "'a'",
    "1'000",
]
TYPES = [
    "float",
    "half",
    "int",
    "uint",
    "float4",
    "half3",
    "bool",
    "char",
    "packed_float3",
    "float2x2",
    "atomic_int",
    "T",
    "auto",
    "void",
    "simdgroup_float8x8",
    "texture2d<float>",
]


def sources():
    found = [open(f).read() for f in glob.glob(os.path.join(ROOT, "python/pymetallic/kernels/*.metal"))]
    for f in glob.glob(os.path.join(ROOT, "tests/msl/test_*.py")) + [os.path.join(ROOT, "bench/gpu_kernels.py")]:
        if os.path.exists(f):
            found += [m.group(1) for m in re.finditer(r'"""(.*?)"""', open(f).read(), re.S) if "kernel" in m.group(1)]
    return found or ["kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] += 1; }"]


WORD = re.compile(r"[A-Za-z_]\w*|\d[\w.']*|\S")


def _replace_random(rng, text, pattern, choices):
    hits = list(re.finditer(pattern, text))
    if not hits:
        return text
    m = rng.choice(hits)
    return text[: m.start()] + rng.choice(choices) + text[m.end() :]


def _doubling_macros(rng):
    depth = rng.randrange(2, 40)
    lines = ["#define PM_F0(x) (x + 1)"]
    lines += [f"#define PM_F{i}(x) PM_F{i - 1}(x) * PM_F{i - 1}(x)" for i in range(1, depth)]
    return "\n".join(lines) + "\n", f"PM_F{depth - 1}"


def mutate_structure(rng, text, corpus):
    """One structure-aware edit of a kernel source."""
    kind = rng.randrange(12)
    if kind == 0:
        return _replace_random(rng, text, r"\b(device|constant|threadgroup|thread)\b", SPACES)
    if kind == 1:
        return _replace_random(rng, text, r"\[\[[^\]]*\]\]", ATTRIBUTES)
    if kind == 2:
        return _replace_random(rng, text, r"(?<![\w.])\d[\w.']*", NUMBERS)
    if kind == 3:
        return _replace_random(rng, text, r"\b(float|half|int|uint|float4|float2|uint2|bool|short)\b", TYPES)
    if kind == 4:  # a template head before some function or kernel
        return _replace_random(
            rng,
            text,
            r"\b(kernel void|inline|static inline|float |void )",
            [
                "template <typename T> kernel void",
                "template <int N> inline",
                "template <typename... Ts> void ",
                "template <> float ",
                "template <typename T = float> void ",
            ],
        )
    if kind == 5:  # nested macros, sometimes exponential
        defs, name = _doubling_macros(rng)
        body = _replace_random(rng, text, r"\b\d+(\.\d*)?f?\b", [f"{name}(1)"])
        return defs + body
    if kind == 6:  # preprocessor lines
        line = rng.choice(
            [
                "#if 1",
                "#if 0",
                "#endif",
                "#else",
                "#ifdef X",
                "#define X X",
                "#define X(a) X(a)",
                "#undef metal",
                "#include <metal_stdlib>",
                '#include "missing.h"',
                "#include </etc/passwd>",
                "#pragma once",
                "#error stop",
                "#line 99999999999",
                "#define __METAL_VERSION__ 0",
            ]
        )
        lines = text.split("\n")
        lines.insert(rng.randrange(len(lines) + 1), line)
        return "\n".join(lines)
    if kind == 7:  # splice two kernels at random token boundaries
        other = rng.choice(corpus)
        a, b = list(WORD.finditer(text)), list(WORD.finditer(other))
        if not a or not b:
            return text + other
        return text[: rng.choice(a).start()] + other[rng.choice(b).start() :]
    if kind == 8:  # duplicate a line (redefinitions, repeated parameters)
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines)
    if kind == 9:  # delete a balanced-looking token
        return _replace_random(rng, text, r"[{}()\[\];,<>]", [""])
    if kind == 10:  # many copies: size and linearity
        return text * rng.randrange(2, 20)
    return mutate_chars(rng, text)


def mutate_chars(rng, text):
    if rng.random() < 0.3:
        return text[: rng.randrange(len(text) + 1)]
    chars = list(text)
    for _ in range(rng.randrange(1, 8)):
        at = rng.randrange(len(chars) + 1)
        if chars and rng.random() < 0.5:
            del chars[at % len(chars)]
        else:
            chars.insert(at, rng.choice(PIECES))
    return "".join(chars)


def fuzz_front_end(rng, count, stats):
    corpus = sources()
    for _ in range(count):
        text = rng.choice(corpus)
        for _ in range(rng.randrange(1, 4)):
            text = mutate_structure(rng, text, corpus)
        with open("/tmp/pymetallic-fuzz-last.metal", "w") as f:
            f.write(text)
        t0 = time.perf_counter()
        try:
            _core.compile_offline(text, None, "cpu", "", True)
            stats["fe_translated"] += 1
        except pymetallic.MetalError:
            stats["fe_rejected"] += 1
        except Exception as e:  # noqa: BLE001 - the finding
            stats["findings"].append(f"front end: {type(e).__name__}: {str(e)[:200]} (input kept)")
            with open(f"/tmp/pymetallic-fuzz-finding-{len(stats['findings'])}.metal", "w") as f:
                f.write(text)
        took = time.perf_counter() - t0
        if took > stats["fe_slowest"]:
            stats["fe_slowest"] = took
            with open("/tmp/pymetallic-fuzz-slowest.metal", "w") as f:  # to look at why
                f.write(text)
        stats["executions"] += 1
        faulthandler.dump_traceback_later(stats["hang"], exit=True)  # re-armed per input


API_KERNELS = """
#include <metal_stdlib>
using namespace metal;
struct P { float a; uint n; };
kernel void axpy(device float* x [[buffer(0)]], constant P& p [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    if (i < p.n) x[i] = x[i] * p.a + 1.0f;
}
kernel void tg_sum(device float* x [[buffer(0)]], threadgroup float* s [[threadgroup(0)]],
                   uint l [[thread_position_in_threadgroup]], uint g [[thread_position_in_grid]]) {
    s[l] = x[g];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (l == 0) x[g] = s[0];
}
"""


def _random_int(rng):
    return rng.choice(
        [
            0,
            1,
            2,
            3,
            4,
            16,
            31,
            64,
            255,
            4096,
            -1,
            2**31,
            2**32,
            2**63,
            2**64,
            np.int64(8),
            np.uint8(3),
            1.5,
            "4",
            None,
            True,
        ]
    )


def _random_size3(rng):
    if rng.random() < 0.7:
        return tuple(rng.choice([1, 2, 3, 8, 32, 64, 100]) for _ in range(rng.randrange(1, 4)))
    return rng.choice(
        [
            (2**22, 2**21, 2**21),
            (2**32 - 1,) * 3,
            (0, 1, 1),
            (-1,),
            (1, 1, 1, 1),
            "64",
            (64.0,),
            [np.int64(4)],
            (2**31, 1, 1),
            2**40,
            (),
        ]
    )


def fuzz_api(rng, count, stats):
    d = next(dev for dev in pymetallic.Device.get_all_devices() if dev.kind == "cpu")
    lib = pymetallic.Library(d, API_KERNELS)
    pipes = [pymetallic.ComputePipelineState(d, lib.make_function(n)) for n in ("axpy", "tg_sum")]
    queues = [pymetallic.CommandQueue(d) for _ in range(2)]
    buffers = [pymetallic.Buffer(d, 4096)]
    for _ in range(count):
        log = []
        try:
            for _ in range(rng.randrange(1, 12)):
                op = rng.randrange(10)
                if op == 0:
                    n = _random_int(rng)
                    log.append(f"Buffer(d, {n!r})")
                    buffers.append(pymetallic.Buffer(d, n))
                    buffers = buffers[-8:]
                    continue
                q = rng.choice(queues)
                cb = q.make_command_buffer()
                if op in (1, 2, 3, 4, 5):
                    enc = cb.make_compute_command_encoder()
                    pipe = rng.choice(pipes + [None])
                    log.append(f"set_compute_pipeline_state({pipe!r})")
                    enc.set_compute_pipeline_state(pipe)
                    for _ in range(rng.randrange(0, 4)):
                        b, off, idx = rng.choice(buffers + [None]), _random_int(rng), rng.choice([0, 1, 30, 31, -1])
                        log.append(f"set_buffer({b!r}, {off!r}, {idx!r})")
                        enc.set_buffer(b, off, idx)
                    if rng.random() < 0.7:
                        data = rng.choice(
                            [
                                np.array([(2.0, 64)], dtype=[("a", "<f4"), ("n", "<u4")]),
                                np.float32(2),
                                np.zeros(5000, np.uint8),
                                b"",
                                2.0,
                                "x",
                            ]
                        )
                        log.append(f"set_bytes({type(data).__name__}, 1)")
                        enc.set_bytes(data, 1)
                    if rng.random() < 0.5:
                        n = _random_int(rng)
                        log.append(f"set_threadgroup_memory_length({n!r}, 0)")
                        enc.set_threadgroup_memory_length(n, 0)
                    grid, tg = _random_size3(rng), _random_size3(rng)
                    log.append(f"dispatch({grid!r}, {tg!r})")
                    (enc.dispatch_threads if rng.random() < 0.5 else enc.dispatch_threadgroups)(grid, tg)
                    if rng.random() < 0.9:
                        enc.end_encoding()
                elif op == 6:
                    blit = cb.make_blit_command_encoder()
                    src, dst = rng.choice(buffers), rng.choice(buffers)
                    a, b, n = _random_int(rng), _random_int(rng), _random_int(rng)
                    log.append(f"copy_from_buffer({src!r}, {a!r}, {dst!r}, {b!r}, {n!r})")
                    blit.copy_from_buffer(src, a, dst, b, n)
                    blit.end_encoding()
                elif op == 7:
                    log.append("add_completed_handler")
                    cb.add_completed_handler(lambda c: c.status)
                elif op == 8:
                    b = rng.choice(buffers)
                    i = _random_int(rng)
                    log.append(f"read_scalar({b!r}, float32, {i!r})")
                    d.read_scalar(b, np.float32, i)
                    continue
                log.append("commit")
                cb.commit()
                if rng.random() < 0.5:
                    log.append("wait")
                    cb.wait_until_completed(timeout=rng.choice([None, 0, 0.01, 5]))
                else:
                    cb.status, cb.error
            stats["api_ok"] += 1
        except pymetallic.MetalError:
            stats["api_rejected"] += 1
        except Exception as e:  # noqa: BLE001 - the finding
            stats["findings"].append(f"API: {type(e).__name__}: {str(e)[:200]} after {log[-3:]}")
        with open("/tmp/pymetallic-fuzz-last.py", "w") as f:
            f.write("\n".join(log))
        stats["executions"] += 1
        faulthandler.dump_traceback_later(stats["hang"], exit=True)


def run(seed=1, count=5000, api=500, hang=60):
    rng = random.Random(seed)
    stats = {
        "executions": 0,
        "fe_translated": 0,
        "fe_rejected": 0,
        "fe_slowest": 0.0,
        "api_ok": 0,
        "api_rejected": 0,
        "findings": [],
        "hang": hang,
    }
    faulthandler.enable()
    faulthandler.dump_traceback_later(hang, exit=True)
    t0 = time.time()
    fuzz_front_end(rng, count, stats)
    fuzz_api(rng, api, stats)
    faulthandler.cancel_dump_traceback_later()
    stats["seconds"] = time.time() - t0
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=5000, help="front-end inputs")
    parser.add_argument("--api", type=int, default=500, help="API call sequences")
    parser.add_argument("--hang", type=float, default=60, help="seconds one input may take")
    args = parser.parse_args()
    os.environ.setdefault("PYMETALLIC_KERNEL_TIMEOUT", "2")  # a huge valid grid ends, as a finding-free error
    s = run(args.seed, args.count, args.api, args.hang)
    print(
        f"{s['executions']} executions in {s['seconds']:.1f} s: front end {s['fe_translated']} translated, "
        f"{s['fe_rejected']} rejected (slowest {s['fe_slowest']:.2f} s); API {s['api_ok']} ran, "
        f"{s['api_rejected']} rejected; {len(s['findings'])} findings"
    )
    for f in s["findings"]:
        print("FINDING:", f)
    return 1 if s["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
