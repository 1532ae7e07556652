"""MSL math (MSL.md §5.1): every function, scalar and vector (float4), float and half, in
metal::, fast:: and precise::, against NumPy float64; plus the math constants."""

import numpy as np
import pytest

# name -> (arity, reference in float64, input domain)
PI = np.pi


def _round_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


UNARY = {
    "acos": (np.arccos, (-0.99, 0.99)),
    "acosh": (np.arccosh, (1.01, 10)),
    "asin": (np.arcsin, (-0.99, 0.99)),
    "asinh": (np.arcsinh, (-10, 10)),
    "atan": (np.arctan, (-10, 10)),
    "atanh": (np.arctanh, (-0.95, 0.95)),
    "cbrt": (np.cbrt, (-100, 100)),
    "ceil": (np.ceil, (-10, 10)),
    "cos": (np.cos, (-10, 10)),
    "cosh": (np.cosh, (-4, 4)),
    "cospi": (lambda x: np.cos(PI * x), (-3, 3)),
    "exp": (np.exp, (-4, 4)),
    "exp2": (np.exp2, (-6, 6)),
    "exp10": (lambda x: 10.0**x, (-3, 3)),
    "fabs": (np.abs, (-10, 10)),
    "abs": (np.abs, (-10, 10)),
    "floor": (np.floor, (-10, 10)),
    "fract": (lambda x: x - np.floor(x), (-10, 10)),
    "log": (np.log, (0.01, 100)),
    "log2": (np.log2, (0.01, 100)),
    "log10": (np.log10, (0.01, 100)),
    "rint": (np.rint, (-10, 10)),
    "round": (_round_away, (-10, 10)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.01, 100)),
    "sin": (np.sin, (-10, 10)),
    "sinh": (np.sinh, (-4, 4)),
    "sinpi": (lambda x: np.sin(PI * x), (-3, 3)),
    "sqrt": (np.sqrt, (0, 100)),
    "tan": (np.tan, (-1.3, 1.3)),
    "tanh": (np.tanh, (-5, 5)),
    "tanpi": (lambda x: np.tan(PI * x), (-0.4, 0.4)),
    "trunc": (np.trunc, (-10, 10)),
}
BINARY = {
    "atan2": (np.arctan2, (-10, 10)),
    "copysign": (np.copysign, (-10, 10)),
    "divide": (np.divide, (0.5, 10)),
    "fdim": (lambda x, y: np.maximum(x - y, 0), (-10, 10)),
    "fmax": (np.fmax, (-10, 10)),
    "fmin": (np.fmin, (-10, 10)),
    "fmod": (np.fmod, (0.5, 10)),
    "pow": (np.power, (0.1, 4)),
    "powr": (np.power, (0.1, 4)),
    "max": (np.maximum, (-10, 10)),
    "min": (np.minimum, (-10, 10)),
}
TERNARY = {
    "fma": (lambda x, y, z: x * y + z, (-10, 10)),
    "fmax3": (lambda x, y, z: np.maximum(np.maximum(x, y), z), (-10, 10)),
    "fmin3": (lambda x, y, z: np.minimum(np.minimum(x, y), z), (-10, 10)),
    "fmedian3": (lambda x, y, z: np.median(np.stack([x, y, z]), 0), (-10, 10)),
}
EXACT = {
    "ceil",
    "floor",
    "fabs",
    "abs",
    "rint",
    "round",
    "trunc",
    "copysign",
    "fmax",
    "fmin",
    "max",
    "min",
    "fmax3",
    "fmin3",
    "fmedian3",
    "fdim",
    "fract",
    "fmod",
}
# the fmedian3/fmax3/fmin3/divide... family has no half overloads in every MSL version; we test them anyway
NAMES = list(UNARY) + list(BINARY) + list(TERNARY)
N = 256  # elements per function (scalar kernels); vector kernels use N/4 float4s


def _body(ns, T):
    lines = []
    for k, name in enumerate(NAMES):
        o = f"{k} * NPER + i"
        if name in UNARY:
            expr = f"{ns}{name}(x[{o}])"
        elif name in BINARY:
            expr = f"{ns}{name}(x[{o}], y[{o}])"
        else:
            expr = f"{ns}{name}(x[{o}], y[{o}], z[{o}])"
        if ns and name in ("abs", "max", "min"):  # not in fast::/precise::
            expr = f"{name}" + expr[len(ns) + len(name) :]
        lines.append(f"  out[{o}] = {expr};")
    return "\n".join(lines)


KERNELS = {}
for ns, tag in (("", "def"), ("fast::", "fast"), ("precise::", "precise")):
    for T, n in (("float", N), ("float4", N // 4), ("half", N), ("half4", N // 4)):
        if ns and T.startswith("half"):
            continue
        KERNELS[(tag, T)] = f"math_{tag}_{T}", n

SRC = "#include <metal_stdlib>\nusing namespace metal;\n"
for (tag, T), (kname, n) in KERNELS.items():
    ns = "" if tag == "def" else tag + "::"
    SRC += f"""
kernel void {kname}(device const {T}* x [[buffer(0)]], device const {T}* y [[buffer(1)]],
                    device const {T}* z [[buffer(2)]], device {T}* out [[buffer(3)]],
                    uint i [[thread_position_in_grid]]) {{
  const uint NPER = {n};
{_body(ns, T)}
}}
"""
SRC += r"""
template <typename T, typename I>
METAL_FUNC void specials(device const T* x, device T* out, device I* iout, uint i, uint n) {
  I e;
  T ip, c;
  out[0 * n + i] = frexp(x[i], e);
  iout[0 * n + i] = e;
  iout[1 * n + i] = ilogb(x[i]);
  out[1 * n + i] = ldexp(x[i], I(3));
  out[2 * n + i] = modf(x[i], ip);
  out[3 * n + i] = ip;
  out[4 * n + i] = sincos(x[i], c);
  out[5 * n + i] = c;
  out[6 * n + i] = nextafter(x[i], T(0));
  out[7 * n + i] = precise::sincos(x[i], c) + fast::cos(x[i]);
}
kernel void specials_float(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                           device int* iout [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  specials<float, int>(x, out, iout, i, 64);
}
kernel void specials_float4(device const float4* x [[buffer(0)]], device float4* out [[buffer(1)]],
                            device int4* iout [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  specials<float4, int4>(x, out, iout, i, 16);
}
kernel void specials_half(device const half* x [[buffer(0)]], device half* out [[buffer(1)]],
                          device int* iout [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  specials<half, int>(x, out, iout, i, 64);
}
kernel void constants(device float* f [[buffer(0)]], device half* h [[buffer(1)]], uint i [[thread_position_in_grid]]) {
  if (i) return;
  f[0] = M_PI_F; f[1] = M_E_F; f[2] = M_SQRT2_F; f[3] = M_PI_2_F; f[4] = M_LN2_F; f[5] = M_LOG2E_F;
  f[6] = M_1_PI_F; f[7] = M_SQRT1_2_F; f[8] = MAXFLOAT; f[9] = HUGE_VALF; f[10] = INFINITY; f[11] = NAN;
  f[12] = FLT_MAX; f[13] = FLT_MIN; f[14] = M_LN10_F; f[15] = M_PI_4_F;
  h[0] = M_PI_H; h[1] = M_E_H; h[2] = HALF_MAX; h[3] = M_SQRT2_H;
}
"""

# (kernel tag) -> rtol, atol for non-exact functions
TOL = {
    ("precise", "f"): (4e-6, 2e-6),
    ("def", "f"): (1e-4, 1e-4),
    ("fast", "f"): (1e-3, 1e-3),
    ("def", "h"): (4e-3, 4e-3),
}


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def _inputs(rng, np_t, size):
    xs, ys, zs = [], [], []
    for name in NAMES:
        lo, hi = (UNARY.get(name) or BINARY.get(name) or TERNARY.get(name))[1]
        for arr in (xs, ys, zs):
            arr.append(rng.uniform(lo, hi, size))
    return [np.concatenate(a).astype(np_t) for a in (xs, ys, zs)]


@pytest.mark.parametrize("tag,T", list(KERNELS))
def test_math_functions(device, runner, tag, T):
    kname, n = KERNELS[(tag, T)]
    np_t = np.float16 if T.startswith("half") else np.float32
    rng = np.random.default_rng()
    x, y, z = _inputs(rng, np_t, N)
    out = runner.run(device, SRC, kname, [x, y, z, np.zeros_like(x)], (n,), (64,))[3]
    rtol, atol = TOL[(tag, "h" if np_t is np.float16 else "f")]
    bad = []
    for k, name in enumerate(NAMES):
        s = slice(k * N, (k + 1) * N)
        a, b, c = (v[s].astype(np.float64) for v in (x, y, z))
        fn = (UNARY.get(name) or BINARY.get(name) or TERNARY.get(name))[0]
        ref = fn(a) if name in UNARY else fn(a, b) if name in BINARY else fn(a, b, c)
        got = out[s].astype(np.float64)
        if name == "fract":
            ref = np.minimum(ref, np.nextafter(np_t(1), np_t(0)))
        if name in EXACT:
            ok = got == ref.astype(np_t).astype(np.float64)
        else:
            ok = np.abs(got - ref) <= atol + rtol * np.abs(ref)
        if not ok.all():
            j = np.flatnonzero(~ok)[0]
            bad.append(
                f"{name}: {np.count_nonzero(~ok)} bad, e.g. x={a[j]!r} y={b[j]!r} got {got[j]!r} want {ref[j]!r}"
            )
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", ["float", "float4", "half"])
def test_frexp_ilogb_ldexp_modf_sincos_nextafter(device, runner, kind):
    np_t = np.float16 if kind == "half" else np.float32
    rng = np.random.default_rng()
    x = (rng.uniform(-50, 50, 64) * rng.choice([1e-3, 1, 30], 64)).astype(np_t)
    x[x == 0] = 1
    grid = 16 if kind == "float4" else 64
    out, iout = runner.run(
        device, SRC, f"specials_{kind}", [x, np.zeros(8 * 64, np_t), np.zeros(2 * 64, np.int32)], (grid,), (16,)
    )[1:]
    x64 = x.astype(np.float64)
    if kind == "float4":  # out rows are float4 blocks: element (row r, float4 j, lane c) -> r*64 + 4j + c
        pass
    m, e = np.frexp(x64)
    out, iout = out.reshape(8, 64).astype(np.float64), iout.reshape(2, 64)
    np.testing.assert_array_equal(out[0], m)
    np.testing.assert_array_equal(iout[0], e)
    np.testing.assert_array_equal(iout[1], e - 1)
    np.testing.assert_array_equal(out[1], (x64 * 8).astype(np_t))
    frac, ip = np.modf(x64)
    np.testing.assert_array_equal(out[2], frac.astype(np_t))
    np.testing.assert_array_equal(out[3], ip)
    tol = dict(rtol=4e-3, atol=4e-3) if np_t is np.float16 else dict(rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(out[4], np.sin(x64), **tol)
    np.testing.assert_allclose(out[5], np.cos(x64), **tol)
    np.testing.assert_array_equal(out[6], np.nextafter(x, np_t(0)))
    np.testing.assert_allclose(
        out[7],
        np.sin(x64) + np.cos(x64),
        rtol=1e-2 if np_t is np.float16 else 1e-3,
        atol=1e-2 if np_t is np.float16 else 1e-3,
    )


def test_math_constants(device, runner):
    f, h = runner.run(device, SRC, "constants", [np.zeros(16, np.float32), np.zeros(4, np.float16)], (1,), (1,))
    want = np.array([np.pi, np.e, np.sqrt(2), np.pi / 2, np.log(2), np.log2(np.e), 1 / np.pi, np.sqrt(0.5)], np.float32)
    np.testing.assert_array_equal(f[:8], want)
    fi = np.finfo(np.float32)
    assert f[8] == fi.max and np.isposinf(f[9]) and np.isposinf(f[10]) and np.isnan(f[11])
    assert f[12] == fi.max and f[13] == fi.tiny and f[14] == np.float32(np.log(10)) and f[15] == np.float32(np.pi / 4)
    np.testing.assert_array_equal(h, np.array([np.pi, np.e, 65504, np.sqrt(2)], np.float16))
