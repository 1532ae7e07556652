"""A seeded random differential test of the CPU's index-set splitting (test_index_splitting.py,
src/msl/fast_division.cpp): kernels of the shapes the split rewrites, `(gid.x + c) % n`,
`(gid.x + c) / n`, `gid % w`, with random dividends (literals of either sign and of any size,
`constant` arguments, loop counters with literal bounds, nested in larger expressions, as an
array index and as a value, int casts of the position), random divisors (1, small primes,
powers of two, larger than the grid, 0x7FFFFFFF, 0xFFFFFFFF, negative `int`), positions
`uint`, `uint2`, `uint3`, 1D/2D/3D grids whose threadgroups do or do not divide them.
Every result is checked against exact integer arithmetic in Python (uint wraps modulo 2^32,
int division truncates toward zero, usual arithmetic conversions), and on the CPU also
against the other scheduling paths (conftest.py: fibers run the kernel as written)."""

import random

import numpy as np
import pytest

M32 = 0xFFFFFFFF
N_KERNELS = 12
EXPRS = 10
CONFIGS = 24  # argument/grid configurations per kernel: 288 cases
LUT = 256

DIVISORS = [1, 2, 3, 7, 11, 13, 31, 97, 4, 8, 64, 1024, 5000, 65537, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 3 << 29]
NEG_DIVISORS = [-1, -2, -3, -7, -64, -(1 << 31), -0x7FFFFFFF]
LITERALS = [0, 1, 2, 3, 5, 17, 100, 0x7FFFFFF0, 0x7FFFFFFF]


def u32(v):
    return v & M32


def s32(v):
    v &= M32
    return v - (1 << 32) if v >= 1 << 31 else v


def div(a, at, b, bt, op):
    """MSL's a op b for 32-bit operands: types 'u' or 'i'; None where undefined."""
    if at == "i" and bt == "i":
        a, b = s32(a), s32(b)
        if b == 0 or (a == -(1 << 31) and b == -1):
            return None, "i"
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return (q if op == "/" else a - q * b), "i"
    a, b = u32(a), u32(b)
    if b == 0:
        return None, "u"
    return (a // b if op == "/" else a % b), "u"


class Kernel:
    def __init__(self, rnd, idx):
        self.name = f"rk{idx}"
        self.dims = rnd.choice([1, 1, 2, 3])
        self.scalar = self.dims == 1 and rnd.random() < 0.5
        self.px = "gid" if self.scalar else "gid.x"
        ptype = "uint" if self.scalar else f"uint{max(self.dims, 2)}"
        self.casts = rnd.random() < 0.25
        self.exprs = []  # (source, python evaluator(x, args, k) -> value or None, uses_k)
        for _ in range(EXPRS):
            self.exprs.append(self.make_expr(rnd))
        self.lo, self.hi = rnd.choice([(-2, 2), (0, 3), (-5, -1), (1, 1), (0, 0)])
        self.kunsigned = self.lo >= 0 and rnd.random() < 0.5
        kt = "uint" if self.kunsigned else "int"
        lines = []
        for j, (src, _, uses_k) in enumerate(self.exprs):
            if uses_k:
                lines.append(
                    f"  {{ uint acc = 0; for ({kt} k = {self.lo}{'u' if self.kunsigned else ''}; "
                    f"k <= {self.hi}{'u' if self.kunsigned else ''}; ++k) acc = acc * 31u + uint({src}); "
                    f"out[i * {EXPRS}u + {j}u] = acc; }}"
                )
            else:
                lines.append(f"  out[i * {EXPRS}u + {j}u] = uint({src});")
        size = "" if self.scalar else f", {ptype} size [[threads_per_grid]]"
        if self.scalar:
            index = "  const uint i = gid;"
        elif self.dims <= 2:
            index = "  const uint i = gid.y * size.x + gid.x;"
        else:
            index = "  const uint i = (gid.z * size.y + gid.y) * size.x + gid.x;"
        self.src = (
            f"kernel void {self.name}(device uint* out [[buffer(0)]], device const uint* lut [[buffer(1)]],\n"
            "    constant uint& mu [[buffer(2)]], constant int& mi [[buffer(3)]], constant uint& cu [[buffer(4)]],\n"
            "    constant int& ci [[buffer(5)]], constant short& cs [[buffer(6)]], constant ushort& mh [[buffer(7)]],\n"
            f"    {ptype} gid [[thread_position_in_grid]]{size}) {{\n" + index + "\n" + "\n".join(lines) + "\n}\n"
        )

    def make_expr(self, rnd):
        """One division (or two) of a dividend built from the position and invariant terms."""
        uses_k = False
        terms = []  # (source, type, evaluator(x, args, k))
        # `int(gid)` passes the position whole to a "function": the front end then splits nothing
        # in the kernel, so only a quarter of the kernels have such casts.
        cast_int = self.casts and rnd.random() < 0.3
        for _ in range(rnd.choice([0, 1, 1, 2, 3])):
            kind = rnd.choice(["lit", "lit", "cu", "ci", "cs", "k"])
            if kind == "lit":
                v = rnd.choice(LITERALS[:6] if cast_int else LITERALS)  # no signed overflow
                suffix = rnd.choice(["", "u"]) if v <= 0x7FFFFFFF else "u"
                t = "u" if suffix else "i"
                terms.append((f"{v}{suffix}", t, lambda x, a, k, v=v: v))
            elif kind == "cu":
                terms.append(("cu", "u", lambda x, a, k: a["cu"]))
            elif kind == "ci":
                terms.append(("ci", "i", lambda x, a, k: a["ci"]))
            elif kind == "cs":  # short: promoted to int
                terms.append(("cs", "i", lambda x, a, k: a["cs"]))
            else:
                uses_k = True
                terms.append(("k", "?", lambda x, a, k: k))
        signs = [rnd.choice(["+", "+", "-"]) for _ in terms]
        divisor, dt = rnd.choice([("mu", "u"), ("mu", "u"), ("mi", "i"), ("mh", "i")])  # ushort mh: int
        op = rnd.choice(["%", "/"])
        pos_src = f"int({self.px})" if cast_int else self.px
        if terms:
            body = pos_src + "".join(f" {s} {src}" for s, (src, _, _) in zip(signs, terms))
            dividend = f"({body})"
        else:
            dividend = pos_src if not cast_int else f"({pos_src})"

        def dividend_value(x, a, k):
            v = x
            t = "i" if cast_int else "u"
            for s, (_, tt, f) in zip(signs, terms):
                if tt == "?":
                    tt = "u" if self.kunsigned else "i"
                w = f(x, a, k)
                v = v + w if s == "+" else v - w
                if t == "i" and tt == "i" and not -(1 << 31) <= v < 1 << 31:
                    return None, "i"  # signed overflow: undefined; the config is skipped
                t = "u" if (t == "u" or tt == "u") else "i"
            return v, t

        def division(x, a, k):
            v, t = dividend_value(x, a, k)
            if v is None:
                return None, t
            return div(v, t, a[divisor], dt, op)

        shape = rnd.choice(["value", "index", "nested", "both", "plain", "scaled"])
        base = f"{dividend} {op} {divisor}"
        if shape == "scaled":  # `7u * (t + c) % n` divides 7 (t + c): no split may take (t + c) alone

            def scaled(x, a, k):
                v, t = dividend_value(x, a, k)
                return None if v is None else div(u32(7 * v), "u", a[divisor], dt, op)[0]

            return f"7u * {dividend} {op} {divisor}", scaled, uses_k
        if shape == "plain":
            return base, lambda x, a, k: division(x, a, k)[0], uses_k
        if shape == "value":
            return f"7u * ({base}) + 1u", lambda x, a, k: _lin(division(x, a, k)[0], 7, 1), uses_k
        if shape == "index":
            return f"lut[({base}) & {LUT - 1}]", lambda x, a, k: _lut(division(x, a, k)[0], a), uses_k
        other = "/" if op == "%" else "%"
        base2 = f"{dividend} {other} {divisor}"

        def both(x, a, k):
            r1 = division(x, a, k)[0]
            v, t = dividend_value(x, a, k)
            r2 = None if v is None else div(v, t, a[divisor], dt, other)[0]
            if r1 is None or r2 is None:
                return None
            return u32(u32(r1) * 1000 + u32(r2))

        if shape == "both":
            return f"uint({base}) * 1000u + uint({base2})", both, uses_k

        # nested: a subtraction of the division from a larger expression, then a division again
        def nested(x, a, k):
            r = division(x, a, k)[0]
            return None if r is None else u32(u32(x * 3) - u32(r))

        return f"{self.px} * 3u - {base}", nested, uses_k

    def reference(self, args, grid):
        w, h, d = grid
        n = w * h * d
        out = np.zeros(n * EXPRS, np.uint32)
        for j, (_, f, uses_k) in enumerate(self.exprs):
            col = []
            for x in range(w):
                if uses_k:
                    acc = 0
                    for k in range(self.lo, self.hi + 1):
                        r = f(x, args, k)
                        if r is None:
                            return None
                        acc = u32(acc * 31 + u32(r))
                    col.append(acc)
                else:
                    r = f(x, args, 0)
                    if r is None:
                        return None
                    col.append(u32(r))
            col = np.array(col, np.uint32)
            out.reshape(n, EXPRS)[:, j] = np.tile(col, h * d)
        return out


def _lin(r, m, c):
    return None if r is None else u32(u32(r) * m + c)


def _lut(r, a):
    return None if r is None else int(a["lut"][u32(r) & (LUT - 1)])


def _configs(rnd, kernel):
    out = []
    for _ in range(CONFIGS):
        dims = kernel.dims
        w = rnd.choice([1, 2, 3, 5, 7, 16, 31, 64, 100, 129, 257, 600])
        h = rnd.choice([1, 2, 3]) if dims >= 2 else 1
        d = rnd.choice([1, 2]) if dims == 3 else 1
        tg = (rnd.choice([1, 3, 8, 16, 32, 64, 100]), rnd.choice([1, 2]) if dims >= 2 else 1, 1)
        mu = rnd.choice(DIVISORS + [w, w + 1, max(w - 1, 1)])
        mi = rnd.choice(DIVISORS[:14] + NEG_DIVISORS + [w])
        cu = rnd.choice([0, 1, 5, 1000, 0x7FFFFFF0, 0xFFFFFFF0, 0xFFFFFFFF, 0x80000000])
        ci = rnd.choice([0, 1, -1, -3, 7, -100, 1000, -(1 << 30)])
        cs = rnd.choice([0, 1, -1, -7, 300, -32768, 32767])
        mh = rnd.choice([1, 2, 3, 7, 64, 100, 65535, w])
        out.append(((w, h, d), tg, dict(mu=mu, mi=s32(mi), cu=cu, ci=ci, cs=cs, mh=mh)))
    return out


_RND = random.Random(20261201)
KERNELS = [Kernel(_RND, i) for i in range(N_KERNELS)]
CONFIG_LISTS = [_configs(_RND, k) for k in KERNELS]
SRC = "#include <metal_stdlib>\nusing namespace metal;\n\n" + "\n".join(k.src for k in KERNELS)


@pytest.mark.parametrize("ki", range(N_KERNELS))
def test_random_split_kernels(runner, device, ki):
    kernel = KERNELS[ki]
    lut = np.random.default_rng(ki).integers(0, 1 << 32, LUT, dtype=np.uint64).astype(np.uint32)
    checked = 0
    for grid, tg, a in CONFIG_LISTS[ki]:
        args = dict(a, lut=lut)
        expect = kernel.reference(args, grid)
        if expect is None:
            continue  # undefined behaviour in some thread (signed overflow, INT_MIN / -1)
        n = grid[0] * grid[1] * grid[2]
        bufs = [
            np.zeros(n * EXPRS, np.uint32),
            lut,
            np.uint32(a["mu"]),
            np.int32(a["mi"]),
            np.uint32(a["cu"]),
            np.int32(a["ci"]),
            np.int16(a["cs"]),
            np.uint16(a["mh"]),
        ]
        out = runner.run(device, SRC, kernel.name, bufs, grid[: kernel.dims], tg[: kernel.dims])[0]
        if not np.array_equal(out, expect):
            bad = np.nonzero(out != expect)[0][0]
            t, j = divmod(int(bad), EXPRS)
            pytest.fail(
                f"{kernel.name} grid {grid} tg {tg} args {a}: thread {t}, expression {j} "
                f"`{kernel.exprs[j][0]}` gave {out[bad]}, expected {expect[bad]}\n{kernel.src}"
            )
        checked += 1
    assert checked >= CONFIGS // 2


# Hand-written kernels that change a term of the dividend, or hide the divisor, in ways a token
# scan can miss. Before the fixes (src/msl/fast_division.cpp, stable()) ten of them gave wrong
# results on the CPU's default path: call_paren, call_second, paren_position, brace_reference,
# paren_reference, the three *_hides_* and the two *_counter kernels (the split took the
# position, the counter or the `constant` argument as unchanged); template_call did not compile.
ADVERSARIAL = r"""
#include <metal_stdlib>
using namespace metal;
#define BUMP gid *= 3u
#define DIV(a) ((a) % m)
#define K(p) kernel void p(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]], \
                           constant uint& c [[buffer(2)]], uint gid [[thread_position_in_grid]])
template <class T> uint twice(uint v) { return 2u * v + uint(sizeof(T)); }
K(template_call) { out[gid] = twice<vec<int, 2>>(gid + c) % m; }  // `>>` ends the template arguments
static void triple(thread uint& v) { v *= 3u; }
static void scale(uint a, thread uint& v) { v *= a; }
K(call_paren) { const uint g = gid; triple((gid)); out[g] = (gid + c) % m; }
K(call_second) { const uint g = gid; scale(3u, (gid)); out[g] = (gid + c) % m; }
K(call_conditional) { const uint g = gid; uint z = 0; triple(g < 100000u ? gid : z); out[g] = (gid + c) % m; }
K(assign_conditional) { const uint g = gid; uint z = 0; (g < 100000u ? gid : z) = g * 3u; out[g] = (gid + c) % m; }
K(comma_reference) { const uint g = gid; uint z = 0; thread uint& r = (z, gid); r *= 3u; out[g] = (gid + c) % m; }
K(pointer_paren) { const uint g = gid; thread uint* p = &(gid); *p *= 3u; out[g] = (gid + c) % m; }
K(paren_position) { const uint g = gid; (gid) *= 3u; out[g] = (gid + c) % m; }
K(brace_reference) { const uint g = gid; thread uint& r{gid}; r *= 3u; out[g] = (gid + c) % m; }
kernel void paren_reference(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]],
                            constant uint& c [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
  const uint g = gid.x;
  thread uint& r = (gid.x);
  r *= 3u;
  out[g] = (gid.x + c) % m;
}
K(decltype_hides_divisor) { uint a = (gid + c) % m; { decltype(c) m{c + 2u}; a = a * 7u + (gid + 1u) % m; } out[gid] = a; }
K(template_type_hides_divisor) {
  uint a = (gid + c) % m;
  { make_unsigned_t<int> m(c + 2u); a = a * 7u + (gid + 1u) % m; }
  out[gid] = a;
}
K(decltype_hides_term) { uint a = 0; { decltype(m) c{gid & 7u}; a = (gid + c) % m; } out[gid] = a; }
K(macro_position) { const uint g = gid; BUMP; out[g] = (gid + c) % m; }
K(macro_division) { out[gid] = DIV(gid + c); }
K(local_copy) { uint p = gid; p += 5u; out[gid] = (p + c) % m * 1000u + (gid + c) / m; }
K(brace_counter) {
  uint a = 0;
  for (int k = 0; k < 4; ++k) { thread int& kk{k}; kk += int(gid & 1u) * 2; a = a * 7u + (gid + k) % m; }
  out[gid] = a;
}
K(paren_counter) {
  uint a = 0;
  for (int k = 0; k < 4; ++k) { (k) += int(gid & 1u) * 2; a = a * 7u + (gid + k) % m; }
  out[gid] = a;
}
K(wrapping_sum) { out[gid] = (gid + c + 0xFFFFFFF0u) % m * 1000u + (gid + c + 0xFFFFFFF0u) / m; }
K(shifts) { out[gid] = (gid + c) % m << 2 | (gid + c) / m >> 1; }
K(parity_select) { out[gid] = gid & 1u ? (gid + c) % m : (gid + c) / m; }
template <typename T>
kernel void templated(device T* out [[buffer(0)]], constant uint& m [[buffer(1)]], constant uint& c [[buffer(2)]],
                      uint gid [[thread_position_in_grid]]) {
  out[gid] = T((gid + c) % m);
}
template [[host_name("templated_uint")]] kernel void templated<uint>(device uint*, constant uint&, constant uint&, uint);
"""


def _counter_ref(g, m):
    out = []
    for t in g.tolist():
        a, k = 0, 0
        while k < 4:
            k += (t & 1) * 2
            a = (a * 7 + (t + k) % m) & M32
            k += 1
        out.append(a)
    return np.array(out, np.int64)


def _adversarial_ref(name, g, m, c):
    e = g + c
    if name in (
        "paren_position",
        "brace_reference",
        "paren_reference",
        "macro_position",
        "call_paren",
        "call_second",
        "call_conditional",
        "assign_conditional",
        "comma_reference",
        "pointer_paren",
    ):
        return (3 * g + c) % m
    if name in ("macro_division", "templated_uint"):
        return e % m
    if name in ("decltype_hides_divisor", "template_type_hides_divisor"):
        return (e % m) * 7 + (g + 1) % (c + 2) + 0 * g
    if name == "template_call":
        return (2 * e + 8) % m
    if name == "decltype_hides_term":
        return (g + (g & 7)) % m
    if name == "local_copy":
        return (g + 5 + c) % m * 1000 + e // m
    if name in ("brace_counter", "paren_counter"):
        return _counter_ref(g, m)
    if name == "wrapping_sum":
        w = (e + 0xFFFFFFF0) & M32
        return w % m * 1000 + w // m
    if name == "shifts":
        return ((e % m) << 2) | ((e // m) >> 1)
    assert name == "parity_select"
    return np.where(g & 1, e % m, e // m)


@pytest.mark.parametrize(
    "name",
    [
        "template_call",
        "call_paren",
        "call_second",
        "call_conditional",
        "assign_conditional",
        "comma_reference",
        "pointer_paren",
        "paren_position",
        "brace_reference",
        "paren_reference",
        "decltype_hides_divisor",
        "template_type_hides_divisor",
        "decltype_hides_term",
        "macro_position",
        "macro_division",
        "local_copy",
        "brace_counter",
        "paren_counter",
        "wrapping_sum",
        "shifts",
        "parity_select",
        "templated_uint",
    ],
)
def test_adversarial_terms(runner, device, name):
    n = 200
    g = np.arange(n, dtype=np.int64)
    for m, c in [(7, 3), (16, 5), (64, 9), (3, 0), (1, 0x7FFFFFF0)]:
        grid, tg = ((n, 1), (32, 1)) if name == "paren_reference" else ((n,), (32,))
        out = runner.run(device, ADVERSARIAL, name, [np.zeros(n, np.uint32), np.uint32(m), np.uint32(c)], grid, tg)[0]
        expect = (_adversarial_ref(name, g, m, c) & M32).astype(np.uint32)
        np.testing.assert_array_equal(out, expect, err_msg=f"{name}, m={m}, c={c}")
