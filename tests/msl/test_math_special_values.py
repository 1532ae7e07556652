"""MSL math (MSL.md §5.1) on special inputs: NaN, ±inf, ±0, ±1, arguments just outside a
function's domain, huge arguments, overflow, underflow and denormals, against NumPy float64
rounded to the kernel's type.

What is checked follows what the Metal Shading Language specification guarantees:

- `precise::` functions: IEEE-754 / C99 Annex F results, whatever the compile mode: NaN-ness,
  infinities with their sign, the sign of zero wherever C99 (or IEEE 754-2019 §9.2.1 for
  sinpi/cospi/tanpi) defines it, bit-exact for the exact functions (rounding, fmod, fdim,
  copysign, nextafter, frexp, ldexp, modf, ...), a few ulp otherwise.
- `metal::` (the unqualified names) in a Library compiled with fast math off: the same.
- `fast::`, and `metal::` under fast math (Metal's default): the spec lets the compiler assume
  that arguments and results are neither NaN nor infinite and lets it ignore the sign of zero;
  denormals may be flushed. Only finite, normal arguments of moderate size whose result is
  finite and normal (or exactly zero) are checked there, within the fast tolerance, ignoring
  the sign of zero.
- half: MSL makes infinities and NaNs optional for half; pymetallic supports them, and half
  is checked like float (fully with fast math off, the finite subset under fast math).

Where MSL leaves a case open, the semantics chosen are those of C99 / OpenCL C (`_choice`
comments below): ilogb(0) = ilogb(NaN) = INT_MIN, ilogb(±inf) = INT_MAX, frexp(inf/NaN)
stores exponent 0, fract follows OpenCL (fract(±inf) = ±0, fract(NaN) = NaN), powr(x < 0) is
NaN and powr(-0, y) = powr(+0, y), fmedian3 with NaN operands returns a non-NaN operand.
"""

import numpy as np
import pytest

NAN, INF = float("nan"), float("inf")
NNAN = -NAN  # NaN with the sign bit set
F32 = np.finfo(np.float32)
FMAX, FMIN = float(F32.max), float(F32.tiny)  # largest finite, smallest normal
DEN = float(np.float32(1e-40))  # a float denormal
ONE_UP, ONE_DN = 1.0 + 2.0**-23, 1.0 - 2.0**-24
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# ---------------------------------------------------------------------------------------------
# references (float64; the caller rounds to the kernel's type)


def _sinpi(x):
    r = x - 2.0 * np.round(x / 2.0)  # exact, in [-1, 1]
    v = np.sin(np.pi * r)
    v = np.where(np.abs(r) == 0.5, np.sign(r), v)  # exactly ±1
    return np.where((x == np.floor(x)) & np.isfinite(x), np.copysign(0.0, x), v)  # sinpi(±n) = ±0


def _cospi(x):
    a = np.abs(x)
    r = a - 2.0 * np.round(a / 2.0)  # in [-1, 1]
    v = np.where(r == 0, 1.0, np.where(np.abs(r) == 1, -1.0, np.cos(np.pi * r)))
    return np.where(a - np.floor(a) == 0.5, 0.0, v)  # cospi(n + 1/2) = +0


def _tanpi(x):
    n = np.round(x)
    v = np.tan(np.pi * (x - n))
    odd = np.fmod(x, 2.0) != 0
    zero = np.where(np.signbit(x) != odd, -0.0, 0.0)  # tanpi(n): +0 for even n > 0 ...
    pole = np.where(np.fmod(np.floor(x), 2.0) == 0, INF, -INF)  # tanpi(n + 1/2): +inf for even n
    v = np.where((x == np.floor(x)) & np.isfinite(x), zero, v)
    return np.where(x - np.floor(x) == 0.5, pole, v)


def _fract(x):  # _choice: OpenCL C's fract (MSL: x - floor(x) clamped below 1)
    v = np.minimum(x - np.floor(x), float(np.nextafter(np.float32(1), np.float32(0))))
    v = np.where(x == 0, x, v)
    return np.where(np.isinf(x), np.copysign(0.0, x), v)


def _round(x):  # halfway cases away from zero, sign kept
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


def _fdim(x, y):
    return np.where(np.isnan(x) | np.isnan(y), NAN, np.where(x > y, x - y, 0.0))


def _fmedian3(x, y, z):  # no NaN: the middle value
    return np.sort(np.stack([x, y, z]), axis=0)[1]


UNARY = {
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cbrt": np.cbrt,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "cospi": _cospi,
    "exp": np.exp,
    "exp2": np.exp2,
    "exp10": lambda x: np.power(10.0, x),
    "fabs": np.abs,
    "floor": np.floor,
    "fract": _fract,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "rint": np.rint,
    "round": _round,
    "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "sin": np.sin,
    "sinh": np.sinh,
    "sinpi": _sinpi,
    "sqrt": np.sqrt,
    "tan": np.tan,
    "tanh": np.tanh,
    "tanpi": _tanpi,
    "trunc": np.trunc,
}
BINARY = {
    "atan2": np.arctan2,
    "copysign": np.copysign,
    "divide": np.divide,
    "fdim": _fdim,
    "fmax": np.fmax,
    "fmin": np.fmin,
    "fmod": np.fmod,
    "pow": np.power,
    "powr": np.power,
    "nextafter": None,
}
TERNARY = {
    "fma": lambda x, y, z: x * y + z,
    "fmax3": lambda x, y, z: np.fmax(np.fmax(x, y), z),
    "fmin3": lambda x, y, z: np.fmin(np.fmin(x, y), z),
    "fmedian3": _fmedian3,
}
EXACT = {
    "ceil",
    "floor",
    "fabs",
    "rint",
    "round",
    "trunc",
    "fract",
    "copysign",
    "fdim",
    "fmax",
    "fmin",
    "fmod",
    "nextafter",
    "fmax3",
    "fmin3",
    "fmedian3",
    "divide",
    "fma",
    "sqrt",
}
# C99 lets fmax(-0, +0) be either zero
ZERO_SIGN_FREE = {"fmax", "fmin", "fmax3", "fmin3", "fmedian3"}
SIGN_OPS = {"copysign", "fabs"}  # IEEE 754 §5.5.1: defined on NaNs too
TRIG = {"sin", "cos", "tan", "sincos"}  # fast:: accuracy is bounded on [-pi, pi] only
HALF_UNARY = [
    "fabs",
    "sqrt",
    "rsqrt",
    "exp",
    "exp2",
    "log",
    "log2",
    "sin",
    "cos",
    "tanh",
    "floor",
    "ceil",
    "trunc",
    "round",
    "rint",
    "fract",
    "sinpi",
    "acos",
]
HALF_BINARY = ["copysign", "fmax", "fmin", "fmod", "pow", "atan2", "divide", "nextafter"]
HALF_TERNARY = ["fma"]

# ---------------------------------------------------------------------------------------------
# inputs

X1 = [
    NAN,
    NNAN,
    INF,
    -INF,
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.0,
    -2.0,
    2.5,
    -3.0,
    0.25,
    0.75,
    ONE_UP,
    -ONE_UP,
    ONE_DN,
    3.0,
    100.0,
    -100.0,
    200.0,
    -200.0,
    1e30,
    -1e30,
    FMAX,
    -FMAX,
    FMIN,
    -FMIN,
    DEN,
    -DEN,
    1e-30,
    8388609.0,
    -8388609.0,
    0.4999999701976776,
    -0.4999999701976776,
    88.8,
    -103.0,
]
X2 = [NAN, NNAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, 1e30, -1e30, DEN, FMAX]
X3 = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.0, 1e30]
H1 = [
    NAN,
    NNAN,
    INF,
    -INF,
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.0,
    2.5,
    -3.0,
    0.25,
    1.0009765625,
    10.0,
    -10.0,
    12.0,
    -16.0,
    -20.0,
    1000.0,
    65504.0,
    -65504.0,
    2.0**-14,
    2.0**-24,
    -(2.0**-24),
    2.0**-20,
    0.49975586,
]
H2 = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, 300.0, 2.0**-24, 65504.0]
H3 = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.0, 300.0]
LDEXP_X = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 1.5, 3.0, FMAX, FMIN, DEN, -DEN]
LDEXP_K = [0, 1, -1, 127, 128, 200, -126, -149, -150, -200]
H_LDEXP_X = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 1.5, 3.0, 65504.0, 2.0**-14, 2.0**-24]
H_LDEXP_K = [0, 1, -1, 15, 16, 40, -14, -24, -25, -40]


def _pad4(values):
    v = list(values)
    while len(v) % 4:
        v.append(1.0)
    return v


def _grid(values, arity):
    """All combinations of `values` for `arity` arguments, padded to a multiple of 4."""
    v = np.array(values, np.float64)
    cols = [g.ravel() for g in np.meshgrid(*([v] * arity), indexing="ij")]
    n = len(cols[0])
    pad = (-n) % 4
    return [np.concatenate([c, np.ones(pad)]) for c in cols]


INPUTS = {  # (element type) -> arity -> list of float64 columns
    "f": {1: [np.array(_pad4(X1))], 2: _grid(X2, 2), 3: _grid(X3, 3)},
    "h": {1: [np.array(_pad4(H1))], 2: _grid(H2, 2), 3: _grid(H3, 3)},
}

# ---------------------------------------------------------------------------------------------
# kernels: one source per compile mode; each (namespace, type) gets a kernel per arity

FAST_OPTS, PRECISE_OPTS = None, {"math_mode": "safe"}
# (kernel tag, namespace, type, checked as "ieee" or "fast")
VARIANTS = {
    "fastmath": [
        ("precise", "precise::", "float", "ieee"),
        ("precise", "precise::", "float4", "ieee"),
        ("fast", "fast::", "float", "fast"),
        ("def", "", "float", "fast"),
        ("def", "", "half", "fast"),
    ],
    "precisemath": [("def", "", "float", "ieee"), ("def", "", "float4", "ieee"), ("def", "", "half", "ieee")],
}


def _names(T, arity):
    half = T.startswith("half")
    if arity == 1:
        return HALF_UNARY if half else list(UNARY)
    if arity == 2:
        return HALF_BINARY if half else list(BINARY)
    return HALF_TERNARY if half else list(TERNARY)


def _source(mode):
    src = "#include <metal_stdlib>\nusing namespace metal;\n"
    for tag, ns, T, _ in VARIANTS[mode]:
        for arity, params in ((1, "x"), (2, "x, y"), (3, "x, y, z")):
            bufs = "".join(f"device const {T}* {p} [[buffer({k})]], " for k, p in enumerate(params.split(", ")))
            args = ", ".join(f"{p}[i]" for p in params.split(", "))
            body = "\n".join(f"  out[{k} * n + i] = {ns}{f}({args});" for k, f in enumerate(_names(T, arity)))
            src += f"""
kernel void sv{arity}_{tag}_{T}({bufs}device {T}* out [[buffer({arity})]],
                         constant uint& n [[buffer({arity + 1})]], uint i [[thread_position_in_grid]]) {{
{body}
}}
"""
    sc = "precise::sincos" if mode == "fastmath" else "sincos"
    src += f"""
template <typename T, typename I>
METAL_FUNC void sv_specials(device const T* x, device T* out, device I* iout, uint i, uint n) {{
  I e;
  T ip, c;
  out[0 * n + i] = frexp(x[i], e);
  iout[0 * n + i] = e;
  iout[1 * n + i] = ilogb(x[i]);
  out[1 * n + i] = modf(x[i], ip);
  out[2 * n + i] = ip;
  out[3 * n + i] = {sc}(x[i], c);
  out[4 * n + i] = c;
}}
"""
    for T, I in (("float", "int"), ("float4", "int4"), ("half", "int")):
        src += f"""
kernel void svspec_{T}(device const {T}* x [[buffer(0)]], device {T}* out [[buffer(1)]],
                       device {I}* iout [[buffer(2)]], constant uint& n [[buffer(3)]],
                       uint i [[thread_position_in_grid]]) {{
  sv_specials<{T}, {I}>(x, out, iout, i, n);
}}
kernel void svldexp_{T}(device const {T}* x [[buffer(0)]], device const {I}* k [[buffer(1)]],
                        device {T}* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {{
  out[i] = ldexp(x[i], k[i]);
}}
"""
    return src


SRC = {mode: _source(mode) for mode in VARIANTS}
OPTS = {"fastmath": FAST_OPTS, "precisemath": PRECISE_OPTS}


def test_compiles_for_cuda(cuda_compile):
    for src in SRC.values():
        cuda_compile(src)


# ---------------------------------------------------------------------------------------------
# checking


def _np_type(T):
    return np.float16 if T.startswith("half") else np.float32


def _lanes(T):
    return 4 if T.endswith("4") else 1


def _fmt(args):
    return "(" + ", ".join(repr(float(a)) for a in args) + ")"


def _compare(name, args, got, ref64, np_t, mode, bad, exact=None, sign_free=False, trig=False):
    """got: kernel results (np_t); ref64: the float64 reference; args: the arguments (float64
    columns). mode "ieee": full check; "fast": the finite subset only (see the module doc).
    Appends a line per mismatch to bad; returns how many results were checked."""
    exact = name in EXACT if exact is None else exact
    with np.errstate(all="ignore"):
        ref = ref64.astype(np_t)  # rounded once
        g64, r64 = got.astype(np.float64), ref.astype(np.float64)
        fi = np.finfo(np_t)
        ulp = np.maximum(np.abs(np.spacing(ref)).astype(np.float64), float(fi.smallest_subnormal))
        if mode == "fast":
            ok_in = np.ones(len(got), bool)
            for a in args:
                ok_in &= np.isfinite(a) & (np.abs(a) <= 100) & ((a == 0) | (np.abs(a) >= float(fi.tiny)))
            if trig:
                ok_in &= np.abs(args[0]) <= np.pi
            if name in ("pow", "powr"):  # fast pow is exp2(y * log2(x)): x > 0 only (CUDA's __powf too)
                ok_in &= args[0] > 0
            big = min(1e30, float(fi.max))
            ok_out = (ref64 == 0) | ((np.abs(ref64) >= float(fi.tiny)) & (np.abs(ref64) <= big))
            chk = ok_in & ok_out
            tol = 1e-3 if np_t is np.float32 else 4e-3
            ok = np.abs(g64 - ref64) <= tol + tol * np.abs(ref64)
        else:
            chk = np.ones(len(got), bool)
            nan_r, nan_g = np.isnan(ref), np.isnan(got)
            ok = nan_r == nan_g
            both = ~nan_r & ~nan_g
            inf_r = np.isinf(ref)
            ok &= ~both | (~inf_r & ~np.isinf(got)) | (g64 == r64)  # infinities with their sign
            zero = both & (ref == 0)
            ok &= ~zero | (got == 0)
            if not sign_free:
                ok &= ~zero | (np.signbit(got) == np.signbit(ref))
            if name in SIGN_OPS:  # quiet sign-bit operations: the sign of a NaN too
                ok &= np.signbit(got) == np.signbit(ref)
            fin = both & ~inf_r & ~zero
            if exact:
                ok &= ~fin | (g64 == r64)
            else:
                k = 4 if np_t is np.float32 else 1
                ok &= ~fin | (np.abs(g64 - ref64) <= k * ulp)
    ok |= ~chk
    for j in np.flatnonzero(~ok)[:6]:
        bad.append(f"{name}{_fmt([a[j] for a in args])}: got {got[j]!r}, want {ref[j]!r}")
    if np.count_nonzero(~ok) > 6:
        bad.append(f"{name}: {np.count_nonzero(~ok)} mismatches in all")
    return int(np.count_nonzero(chk))


def _reference(name, cols, np_t):
    with np.errstate(all="ignore"):
        if name in UNARY:
            return UNARY[name](cols[0])
        if name == "nextafter":
            x, y = cols  # C99: y when x == y (NumPy's half version returns x)
            return np.where(x == y, y, np.nextafter(x.astype(np_t), y.astype(np_t)).astype(np.float64))
        if name == "powr":  # _choice: NaN for x < 0; -0 counts as +0
            x, y = cols
            r = np.where(x < 0, NAN, np.power(np.where(x == 0, 0.0, x), y))
            # cases where C's pow and OpenCL's powr differ: MSL leaves them open
            open_ = (
                ((x == 0) & (y == 0))
                | (np.isinf(x) & (y == 0))
                | ((x == 1) & ~np.isfinite(y))
                | (np.isnan(x) & (y == 0))
            )
            return np.where(open_, np.nan, r), open_
        if name in BINARY:
            return BINARY[name](*cols)
        return TERNARY[name](*cols)


def _run_variant(device, runner, mode, tag, T, check):
    np_t = _np_type(T)
    lanes = _lanes(T)
    bad, counted = [], 0
    for arity in (1, 2, 3):
        cols = INPUTS["h" if np_t is np.float16 else "f"][arity]
        names = _names(T, arity)
        n = len(cols[0])
        xs = [c.astype(np_t) for c in cols]
        out = np.zeros(len(names) * n, np_t)
        res = runner.run(
            device,
            SRC[mode],
            f"sv{arity}_{tag}_{T}",
            xs + [out, np.uint32(n // lanes)],
            (n // lanes,),
            (32,),
            options=OPTS[mode],
        )[arity]
        xs64 = [x.astype(np.float64) for x in xs]  # the arguments as the kernel saw them
        for k, name in enumerate(names):
            got = res[k * n : (k + 1) * n]
            r = _reference(name, xs64, np_t)
            open_ = None
            if isinstance(r, tuple):
                r, open_ = r
            if name == "fmedian3" and check == "ieee":
                # _choice: with NaN operands, fmedian3 returns one of the non-NaN operands
                anynan = np.zeros(n, bool)
                for x in xs64:
                    anynan |= np.isnan(x)
                allnan = np.isnan(xs64[0]) & np.isnan(xs64[1]) & np.isnan(xs64[2])
                g = got.astype(np.float64)
                is_operand = np.zeros(n, bool)
                for x in xs64:
                    is_operand |= (g == x) & ~np.isnan(x)
                okn = np.where(allnan, np.isnan(g), is_operand)
                for j in np.flatnonzero(anynan & ~okn)[:6]:
                    bad.append(f"fmedian3{_fmt([x[j] for x in xs64])}: got {got[j]!r}, want a non-NaN operand")
                r = np.where(anynan, np.nan, r)
                open_ = anynan
            if open_ is not None:  # not checked: feed the kernel's own result as reference
                r = np.where(open_, got.astype(np.float64), r)
            counted += _compare(
                name, xs64, got, r, np_t, check, bad, sign_free=name in ZERO_SIGN_FREE, trig=name in TRIG
            )
    return bad, counted


@pytest.mark.parametrize(
    "mode,tag,T,check",
    [(m, v[0], v[2], v[3]) for m, vs in VARIANTS.items() for v in vs],
    ids=[f"{m}-{v[0]}-{v[2]}" for m, vs in VARIANTS.items() for v in vs],
)
def test_special_values(device, runner, mode, tag, T, check):
    bad, counted = _run_variant(device, runner, mode, tag, T, check)
    assert counted > 50
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("mode", list(VARIANTS))
@pytest.mark.parametrize("T", ["float", "float4", "half"])
def test_frexp_ilogb_modf_sincos_ldexp(device, runner, mode, T):
    np_t = _np_type(T)
    lanes = _lanes(T)
    half = np_t is np.float16
    # frexp/ilogb/modf/ldexp are not fast::/precise:: functions: under fast math only the
    # finite subset is guaranteed; precise::sincos is checked fully in both modes.
    check = "fast" if mode == "fastmath" else "ieee"
    sc_check = "ieee" if mode == "fastmath" and not half else check
    x = np.array(_pad4(H1 if half else X1), np_t)
    n = len(x)
    out, iout = runner.run(
        device,
        SRC[mode],
        f"svspec_{T}",
        [x, np.zeros(5 * n, np_t), np.zeros(2 * n, np.int32), np.uint32(n // lanes)],
        (n // lanes,),
        (32,),
        options=OPTS[mode],
    )[1:3]
    x64 = x.astype(np.float64)
    bad = []
    with np.errstate(all="ignore"):
        m, e = np.frexp(x64)
        e = np.where(np.isfinite(x64), e, 0)  # _choice: frexp(inf/NaN) stores 0
        il = np.where(x64 == 0, INT_MIN, np.where(np.isnan(x64), INT_MIN, np.where(np.isinf(x64), INT_MAX, e - 1)))
        frac, ip = np.modf(x64)
        rows = [
            ("frexp", m, True, check),
            ("modf", frac, True, check),
            ("modf.int", ip, True, check),
            ("sincos", np.sin(x64), False, sc_check),
            ("sincos.cos", np.cos(x64), False, sc_check),
        ]
    for k, (name, ref, exact, chk) in enumerate(rows):
        _compare(
            name, [x64], out[k * n : (k + 1) * n], ref, np_t, chk, bad, exact=exact, trig=name.startswith("sincos")
        )
    fin = np.isfinite(x64) & (x64 != 0) & ((np.abs(x64) >= float(np.finfo(np_t).tiny)) | (check == "ieee"))
    for name, got, want in (("frexp.exp", iout[:n], e), ("ilogb", iout[n:], il)):
        sel = fin if check == "fast" else np.ones(n, bool)
        for j in np.flatnonzero(sel & (got != want))[:6]:
            bad.append(f"{name}({x64[j]!r}): got {got[j]}, want {want[j]}")
    # ldexp
    lx, lk = (H_LDEXP_X, H_LDEXP_K) if half else (LDEXP_X, LDEXP_K)
    xs, ks = (g.ravel() for g in np.meshgrid(np.array(lx), np.array(lk), indexing="ij"))
    pad = (-len(xs)) % 4
    xs = np.concatenate([xs, np.ones(pad)]).astype(np_t)
    ks = np.concatenate([ks, np.zeros(pad)]).astype(np.int32)
    got = runner.run(
        device, SRC[mode], f"svldexp_{T}", [xs, ks, np.zeros_like(xs)], (len(xs) // lanes,), (32,), options=OPTS[mode]
    )[2]
    xs64 = xs.astype(np.float64)
    with np.errstate(all="ignore"):
        ref = np.ldexp(xs64, ks)
    _compare("ldexp", [xs64, ks.astype(np.float64)], got, ref, np_t, check, bad, exact=True)
    assert not bad, "\n".join(bad)
