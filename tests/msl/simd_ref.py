"""NumPy references for the SIMD-group / quad-group conformance tests."""

import os
import subprocess
import sys

import numpy as np

# name -> (numpy storage dtype, kind, components, storage components per element)
TYPES = {
    "float": (np.float32, "f", 1, 1),
    "half": (np.float16, "f", 1, 1),
    "bfloat": (np.uint16, "bf", 1, 1),
    "int": (np.int32, "i", 1, 1),
    "uint": (np.uint32, "i", 1, 1),
    "short": (np.int16, "i", 1, 1),
    "ushort": (np.uint16, "i", 1, 1),
    "char": (np.int8, "i", 1, 1),
    "uchar": (np.uint8, "i", 1, 1),
    "float4": (np.float32, "f", 4, 4),
    "int2": (np.int32, "i", 2, 2),
    "half3": (np.float16, "f", 3, 4),
    "uint4": (np.uint32, "i", 4, 4),
}
EPS = {np.float32: 2.0**-24, np.float16: 2.0**-11, np.uint16: 2.0**-8}


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x):
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def simd_groups(n, tg, width=32):
    """Global thread ids of each SIMD group (or quad) of a 1-D dispatch_threads(n, tg)."""
    out = []
    for base in range(0, n, tg):
        size = min(tg, n - base)
        for s in range(0, size, width):
            out.append(np.arange(base + s, base + min(s + width, size)))
    return out


def random_values(rng, name, n, for_product=False):
    """(storage array of shape (n, storage comps), float64/int values of shape (n, comps))."""
    dt, kind, c, sc = TYPES[name]
    if kind == "i":
        info = np.iinfo(dt)
        v = rng.integers(info.min, info.max, (n, c), endpoint=True, dtype=np.int64).astype(dt)
        store = np.zeros((n, sc), dt)
        store[:, :c] = v
        return store, v
    if for_product:
        f = rng.uniform(0.8, 1.25, (n, c)) * rng.choice([-1.0, 1.0], (n, c))
    else:
        f = rng.standard_normal((n, c)) * 4
    if kind == "bf":
        bits = f32_to_bf16(f.astype(np.float32))
        store = np.zeros((n, sc), np.uint16)
        store[:, :c] = bits
        return store, bf16_to_f32(bits).astype(np.float64)
    v = f.astype(dt)
    store = np.zeros((n, sc), dt)
    store[:, :c] = v
    return store, v.astype(np.float64)


def as_values(name, store):
    dt, kind, c, sc = TYPES[name]
    s = store.reshape(store.shape[0], -1)[:, :c]
    if kind == "bf":
        return bf16_to_f32(s).astype(np.float64)
    if kind == "f":
        return s.astype(np.float64)
    return s


def wrap(v, dt):
    """Integers (int64 or uint64, possibly past the range) to dt with two's complement wrap."""
    return np.asarray(v).astype(np.uint64).astype(np.dtype(dt).str.replace("i", "u")).view(dt)


def fold(name, vals, op):
    """Reference fold of vals (k, comps) by op over axis 0, inclusive prefix array (k, comps)."""
    dt, kind, c, _ = TYPES[name]
    if kind == "i":
        u = vals.astype(np.int64).astype(np.uint64)
        if op == "sum":
            return wrap(np.cumsum(u, axis=0, dtype=np.uint64), dt)
        if op == "product":
            return wrap(np.cumprod(u, axis=0, dtype=np.uint64), dt)
        if op == "min":
            return np.minimum.accumulate(vals, axis=0)
        if op == "max":
            return np.maximum.accumulate(vals, axis=0)
        f = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[op]
        return f.accumulate(vals, axis=0)
    if op == "sum":
        return np.cumsum(vals, axis=0)
    if op == "product":
        return np.cumprod(vals, axis=0)
    if op == "min":
        return np.minimum.accumulate(vals, axis=0)
    return np.maximum.accumulate(vals, axis=0)


def assert_close(name, got, want, scale, what):
    """Exact for integers; for floats |got - want| <= 40 * eps * scale (the fold order of
    the device is free)."""
    dt, kind, c, _ = TYPES[name]
    if kind == "i":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    tol = 40 * EPS[dt] * scale + 1e-30
    bad = np.abs(got - want) > tol
    assert not bad.any(), f"{what}: got {got[bad]} want {want[bad]} (tol {tol[bad] if np.ndim(tol) else tol})"


# ---- The fold order of the CPU's SIMD-group folds (and of CUDA's for a full warp), in float32.


def tree(v, op):
    """CUDA's xor butterfly over a whole group of 2^k lanes, seen from lane 0, in float32."""
    t = np.array(v, np.float32)
    with np.errstate(over="ignore", under="ignore"):
        while len(t) > 1:
            h = len(t) // 2
            t = op(t[:h], t[h:]).astype(np.float32)
    return t[0]


def ascending(v, op):
    acc = np.float32(v[0])
    with np.errstate(over="ignore", under="ignore"):
        for x in v[1:]:
            acc = np.float32(op(acc, np.float32(x)))
    return acc


def ladder(v, op):
    """CUDA's shfl_up ladder: at step o, lane i >= o becomes op(lane i - o, lane i)."""
    t = np.array(v, np.float32)
    o = 1
    with np.errstate(over="ignore", under="ignore"):
        while o < len(t):
            u = t.copy()
            u[o:] = op(t[:-o], t[o:])
            t = u.astype(np.float32)
            o *= 2
    return t


def ascending_scan(v, op, identity):
    acc, out = np.float32(identity), []
    with np.errstate(over="ignore", under="ignore"):
        for x in v:
            acc = np.float32(op(acc, np.float32(x)))
            out.append(acc)
    return np.array(out, np.float32)


def run_against_fibers(runner, device, src, name, args, n, tg, options=None):
    """The default path's outputs of a 1-D dispatch, checked bit for bit against the fiber path
    on the CPU."""
    from conftest import cpu_schedule

    got = runner.run(device, src, name, args, (n,), (tg,), options=options)
    if getattr(device, "kind", "cpu") == "cpu":
        with cpu_schedule("fibers"):
            fib = runner._run_once(device, src, name, args, (n,), (tg,), False, (), options)
        for a, b in zip(got, fib):
            if a is not None:
                np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    return got


def fission_log(test_file, *sources):
    """What PYMETALLIC_DEBUG_FISSION=1 reports (stderr) while a fresh process compiles the MSL
    sources named `sources` of the test module `test_file` on the default device."""
    module = os.path.splitext(os.path.basename(test_file))[0]
    code = f"import pymetallic as pm, sys; sys.path.insert(0, {os.path.dirname(test_file)!r}); import {module} as m; "
    code += "d = pm.Device.get_default_device(); " + "; ".join(f"pm.Library(d, m.{s})" for s in sources)
    env = dict(os.environ, PYMETALLIC_DEBUG_FISSION="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stderr
