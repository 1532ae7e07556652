"""MSL standard library beyond math: common (§5.2), integer (§5.3), relational (§5.4),
geometric (§5.5), as_type and conversions (§5.6), against NumPy."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T>
METAL_FUNC void common_fns(device const T* x, device const T* y, device const T* t, device T* out, uint i, uint n) {
  out[0 * n + i] = clamp(x[i], T(-0.5), T(0.75));
  out[1 * n + i] = mix(x[i], y[i], t[i]);
  out[2 * n + i] = saturate(x[i]);
  out[3 * n + i] = sign(x[i]);
  out[4 * n + i] = smoothstep(T(-0.5), T(0.5), x[i]);
  out[5 * n + i] = step(y[i], x[i]);
  out[6 * n + i] = min(x[i], y[i]);
  out[7 * n + i] = max(x[i], y[i]);
  out[8 * n + i] = clamp(x[i], y[i] - T(0.25), y[i] + T(0.25));
}
kernel void common_float(device const float* x [[buffer(0)]], device const float* y [[buffer(1)]],
                         device const float* t [[buffer(2)]], device float* out [[buffer(3)]],
                         uint i [[thread_position_in_grid]]) { common_fns(x, y, t, out, i, 128); }
kernel void common_float3(device const packed_float3* x [[buffer(0)]], device const packed_float3* y [[buffer(1)]],
                          device const packed_float3* t [[buffer(2)]], device packed_float3* out [[buffer(3)]],
                          uint i [[thread_position_in_grid]]) {
  const uint n = 32;
  float3 a = x[i], b = y[i], c = t[i];
  out[0 * n + i] = clamp(a, -0.5f, 0.75f);
  out[1 * n + i] = mix(a, b, c);
  out[2 * n + i] = saturate(a);
  out[3 * n + i] = sign(a);
  out[4 * n + i] = smoothstep(-0.5f, 0.5f, a);
  out[5 * n + i] = step(b, a);
  out[6 * n + i] = min(a, b);
  out[7 * n + i] = max(a, b);
  out[8 * n + i] = clamp(a, b - 0.25f, b + 0.25f);
}
kernel void common_half(device const half* x [[buffer(0)]], device const half* y [[buffer(1)]],
                        device const half* t [[buffer(2)]], device half* out [[buffer(3)]],
                        uint i [[thread_position_in_grid]]) { common_fns(x, y, t, out, i, 128); }
kernel void common_half4(device const half4* x [[buffer(0)]], device const half4* y [[buffer(1)]],
                         device const half4* t [[buffer(2)]], device half4* out [[buffer(3)]],
                         uint i [[thread_position_in_grid]]) { common_fns(x, y, t, out, i, 32); }

template <typename T, typename U>
METAL_FUNC void int_fns(device const T* a, device const T* b, device const T* c, device T* out, uint i, uint n) {
  T x = a[i], y = b[i], z = c[i];
  int k = 0;
  out[k++ * n + i] = abs(x);
  out[k++ * n + i] = T(absdiff(x, y));
  out[k++ * n + i] = addsat(x, y);
  out[k++ * n + i] = subsat(x, y);
  out[k++ * n + i] = clamp(x, min(y, z), max(y, z));
  out[k++ * n + i] = T(clz(x));
  out[k++ * n + i] = T(ctz(x));
  out[k++ * n + i] = T(popcount(x));
  out[k++ * n + i] = extract_bits(x, 3u, 9u);
  out[k++ * n + i] = insert_bits(x, y, 5u, 7u);
  out[k++ * n + i] = reverse_bits(x);
  out[k++ * n + i] = hadd(x, y);
  out[k++ * n + i] = rhadd(x, y);
  out[k++ * n + i] = mad24(x, y, z);
  out[k++ * n + i] = mul24(x, y);
  out[k++ * n + i] = madhi(x, y, z);
  out[k++ * n + i] = mulhi(x, y);
  out[k++ * n + i] = madsat(x, y, z);
  out[k++ * n + i] = max(x, y);
  out[k++ * n + i] = min(x, y);
  out[k++ * n + i] = max3(x, y, z);
  out[k++ * n + i] = min3(x, y, z);
  out[k++ * n + i] = median3(x, y, z);
  out[k++ * n + i] = rotate(x, T(U(y) & 31u));
}
kernel void int_int(device const int* a [[buffer(0)]], device const int* b [[buffer(1)]], device const int* c [[buffer(2)]],
                    device int* out [[buffer(3)]], uint i [[thread_position_in_grid]]) { int_fns<int, uint>(a, b, c, out, i, 128); }
kernel void int_uint(device const uint* a [[buffer(0)]], device const uint* b [[buffer(1)]], device const uint* c [[buffer(2)]],
                     device uint* out [[buffer(3)]], uint i [[thread_position_in_grid]]) { int_fns<uint, uint>(a, b, c, out, i, 128); }
kernel void int_int4(device const int4* a [[buffer(0)]], device const int4* b [[buffer(1)]], device const int4* c [[buffer(2)]],
                     device int4* out [[buffer(3)]], uint i [[thread_position_in_grid]]) { int_fns<int4, uint4>(a, b, c, out, i, 32); }
kernel void int_small(device const uchar* a [[buffer(0)]], device const short* s [[buffer(1)]],
                      device int* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[6 * i + 0] = clz(a[i]);
  out[6 * i + 1] = popcount(a[i]);
  out[6 * i + 2] = addsat(a[i], uchar(200));
  out[6 * i + 3] = subsat(s[i], short(30000));
  out[6 * i + 4] = ctz(s[i]);
  out[6 * i + 5] = reverse_bits(a[i]);
}

kernel void relational(device const float4* x [[buffer(0)]], device const float4* y [[buffer(1)]],
                       device int* out [[buffer(2)]], device float4* sel [[buffer(3)]], device half* hsel [[buffer(4)]],
                       uint i [[thread_position_in_grid]]) {
  float4 a = x[i], b = y[i];
  device int* o = out + 40 * i;
  bool4 r[9] = {isnan(a), isinf(a), isfinite(a), isnormal(a), isordered(a, b), isunordered(a, b),
                signbit(a), !(a < b), a >= b};
  for (int k = 0; k < 9; ++k) for (int c = 0; c < 4; ++c) o[4 * k + c] = r[k][c];
  o[36] = all(a < b); o[37] = any(a < b); o[38] = isnan(a.x) + 2 * signbit(a.y);
  o[39] = all(bool2(a.x == a.x, true)) + 2 * any(isinf(a.zw));
  sel[2 * i] = select(a, b, a < b);
  sel[2 * i + 1] = select(a, b, a.x < b.x);
  hsel[i] = select(half(a.x), half(b.x), bool(i & 1));
}

kernel void geometric(device const float4* a [[buffer(0)]], device const float4* b [[buffer(1)]],
                      device float* out [[buffer(2)]], device half* hout [[buffer(3)]],
                      uint i [[thread_position_in_grid]]) {
  float3 x = a[i].xyz, y = b[i].xyz;
  float4 p = a[i], q = b[i];
  device float* o = out + 24 * i;
  float3 c = cross(x, y);
  o[0] = c.x; o[1] = c.y; o[2] = c.z;
  o[3] = distance(p, q); o[4] = distance_squared(x, y); o[5] = dot(p, q); o[6] = length(x);
  o[7] = length_squared(p);
  float3 nrm = normalize(x);
  o[8] = nrm.x; o[9] = nrm.y; o[10] = nrm.z;
  float3 ff = faceforward(x, y, c + y);
  o[11] = ff.x; o[12] = ff.y; o[13] = ff.z;
  float3 ny = normalize(y);
  float3 rf = reflect(x, ny);
  o[14] = rf.x; o[15] = rf.y; o[16] = rf.z;
  float3 rr = refract(nrm, ny, 0.7f);
  o[17] = rr.x; o[18] = rr.y; o[19] = rr.z;
  o[20] = dot(float2(p.xy), float2(q.xy)); o[21] = length(float2(p.zw));
  o[22] = precise::length(p); o[23] = fast::distance(x, y);
  hout[2 * i] = dot(half4(p), half4(q));
  hout[2 * i + 1] = length(half2(p.xy));
}

kernel void as_type_conv(device const float* f [[buffer(0)]], device uint* u [[buffer(1)]],
                         device const half4* h [[buffer(2)]], device float2* hf [[buffer(3)]],
                         device const ulong* l [[buffer(4)]], device uint2* lu [[buffer(5)]],
                         device int* iconv [[buffer(6)]], device float* fconv [[buffer(7)]],
                         device const int* iv [[buffer(8)]], device half* hconv [[buffer(9)]],
                         device uchar4* bytes [[buffer(10)]], uint i [[thread_position_in_grid]]) {
  u[i] = as_type<uint>(f[i]);
  hf[i] = as_type<float2>(h[i]);
  lu[i] = as_type<uint2>(l[i]);
  bytes[i] = as_type<uchar4>(f[i]);
  iconv[3 * i + 0] = int(f[i]);                        // truncation toward zero
  iconv[3 * i + 1] = static_cast<int>(f[i] * 4.0f);
  int4 v = int4(float4(f[i], -f[i], f[i] * 0.5f, 2.5f));
  iconv[3 * i + 2] = v.x + v.y * 3 + v.z * 7 + v.w * 11;
  fconv[2 * i + 0] = float(iv[i]);                     // int -> float, round to nearest even
  fconv[2 * i + 1] = float4(int4(iv[i], 1, 2, 3)).x;
  hconv[i] = half(float(iv[i] & 0xFFFF));
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def _smooth(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


@pytest.mark.parametrize("kind", ["float", "float3", "half", "half4"])
def test_common(device, runner, kind):
    rng = np.random.default_rng()
    np_t = np.float16 if kind.startswith("half") else np.float32
    x = rng.uniform(-1.5, 1.5, 128).astype(np_t)
    y = rng.uniform(-1.5, 1.5, 128).astype(np_t)
    x[:4] = [0, -0.0, 0.75, -0.5]
    t = rng.uniform(0, 1, 128).astype(np_t)
    grid = {"float": 128, "float3": 32, "half": 128, "half4": 32}[kind]
    if kind == "float3":
        x, y, t = x[:96], y[:96], t[:96]
    n = x.size
    out = runner.run(device, SRC, f"common_{kind}", [x, y, t, np.zeros(9 * n, np_t)], (grid,), (32,))[3]
    out = out.reshape(9, n).astype(np.float64)
    a, b, c = (v.astype(np.float64) for v in (x, y, t))
    tol = dict(rtol=2e-3, atol=2e-3) if np_t is np.float16 else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[0], np.clip(a, -0.5, 0.75))
    np.testing.assert_allclose(out[1], a + (b - a) * c, **tol)
    np.testing.assert_array_equal(out[2], np.clip(a, 0, 1))
    np.testing.assert_array_equal(out[3], np.sign(a))
    np.testing.assert_allclose(out[4], _smooth(-0.5, 0.5, a), **tol)
    np.testing.assert_array_equal(out[5], (a >= b).astype(np.float64))
    np.testing.assert_array_equal(out[6], np.minimum(a, b))
    np.testing.assert_array_equal(out[7], np.maximum(a, b))
    np.testing.assert_array_equal(out[8], np.clip(a, (b - 0.25).astype(np_t), (b + 0.25).astype(np_t)))


def _int_ref(x, y, z, bits, signed):
    m = (1 << bits) - 1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, m)
    x, y, z = (np.asarray(v, dtype=object) for v in (x, y, z))
    wrap = (lambda v: ((v + (1 << (bits - 1))) & m) - (1 << (bits - 1))) if signed else (lambda v: v & m)
    u = lambda v: v & m  # noqa: E731
    sx = lambda v: ((v & m) ^ (1 << (bits - 1))) - (1 << (bits - 1)) if signed else v & m  # noqa: E731

    def per(f, *args):
        return np.array([f(*t) for t in zip(*args)], dtype=object)

    def clz(v):
        v = u(v)
        return bits - v.bit_length()

    def ctz(v):
        v = u(v)
        return bits if v == 0 else (v & -v).bit_length() - 1

    def rev(v):
        return sx(int(format(u(v), f"0{bits}b")[::-1], 2))

    def extract(v):
        f = (u(v) >> 3) & 0x1FF
        return sx(f | (-(1 << 9) & m if signed and f & 0x100 else 0))

    def insert(v, w):
        mask = ((1 << 7) - 1) << 5
        return sx((u(v) & ~mask & m) | ((u(w) << 5) & mask))

    def s24(v):
        v = u(v) & 0xFFFFFF
        return v - (1 << 24) if signed and v & 0x800000 else v

    def rot(v, r):
        r = u(r) & 31 & (bits - 1)
        v = u(v)
        return sx(((v << r) | (v >> (bits - r))) & m) if r else sx(v)

    sat = lambda v: min(max(v, lo), hi)  # noqa: E731
    return [
        per(lambda a: wrap(abs(a)), x),
        per(lambda a, b: sx(abs(a - b)), x, y),
        per(lambda a, b: sat(a + b), x, y),
        per(lambda a, b: sat(a - b), x, y),
        per(lambda a, b, c: min(max(a, min(b, c)), max(b, c)), x, y, z),
        per(clz, x),
        per(ctz, x),
        per(lambda a: bin(u(a)).count("1"), x),
        per(extract, x),
        per(insert, x, y),
        per(rev, x),
        per(lambda a, b: (a + b) >> 1, x, y),
        per(lambda a, b: (a + b + 1) >> 1, x, y),
        per(lambda a, b, c: wrap(s24(a) * s24(b) + c), x, y, z),
        per(lambda a, b: wrap(s24(a) * s24(b)), x, y),
        per(lambda a, b, c: wrap(((a * b) >> bits) + c), x, y, z),
        per(lambda a, b: (a * b) >> bits, x, y),
        per(lambda a, b, c: sat(a * b + c), x, y, z),
        per(max, x, y),
        per(min, x, y),
        per(lambda a, b, c: max(a, b, c), x, y, z),
        per(lambda a, b, c: min(a, b, c), x, y, z),
        per(lambda a, b, c: sorted([a, b, c])[1], x, y, z),
        per(rot, x, y),
    ]


INT_NAMES = [
    "abs",
    "absdiff",
    "addsat",
    "subsat",
    "clamp",
    "clz",
    "ctz",
    "popcount",
    "extract_bits",
    "insert_bits",
    "reverse_bits",
    "hadd",
    "rhadd",
    "mad24",
    "mul24",
    "madhi",
    "mulhi",
    "madsat",
    "max",
    "min",
    "max3",
    "min3",
    "median3",
    "rotate",
]


@pytest.mark.parametrize("kind", ["int", "uint", "int4"])
def test_integer(device, runner, kind):
    rng = np.random.default_rng()
    signed = kind != "uint"
    dt = np.int32 if signed else np.uint32
    n = 128

    def draw():
        v = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
        small = rng.integers(0, 2**12, n, dtype=np.uint64).astype(np.uint32)
        v = np.where(rng.random(n) < 0.3, small, v)
        v[:3] = [0, 0xFFFFFFFF, 0x80000000]
        return v.view(dt)

    x, y, z = draw(), draw(), draw()
    grid = 32 if kind == "int4" else 128
    out = runner.run(device, SRC, f"int_{kind}", [x, y, z, np.zeros(len(INT_NAMES) * n, dt)], (grid,), (32,))[3]
    out = out.reshape(len(INT_NAMES), n)
    refs = _int_ref([int(v) for v in x], [int(v) for v in y], [int(v) for v in z], 32, signed)
    bad = []
    for k, name in enumerate(INT_NAMES):
        want = np.array([int(v) for v in refs[k]], dtype=np.int64)
        got = out[k].astype(np.int64)
        if name == "absdiff":  # the result is |x - y| as an unsigned value: compare the bits
            want, got = want & 0xFFFFFFFF, got & 0xFFFFFFFF
        if not np.array_equal(got, want):
            j = np.flatnonzero(got != want)[0]
            bad.append(
                f"{name}: {np.count_nonzero(got != want)} bad, e.g. x={x[j]} y={y[j]} z={z[j]} got {got[j]} want {want[j]}"
            )
    assert not bad, "\n".join(bad)


def test_integer_small_types(device, runner):
    rng = np.random.default_rng()
    a = rng.integers(0, 256, 64).astype(np.uint8)
    s = rng.integers(-32768, 32768, 64).astype(np.int16)
    a[0], s[0] = 0, 0
    out = runner.run(device, SRC, "int_small", [a, s, np.zeros(6 * 64, np.int32)], (64,), (32,))[2].reshape(64, 6)
    np.testing.assert_array_equal(out[:, 0], [8 - int(v).bit_length() for v in a])
    np.testing.assert_array_equal(out[:, 1], [bin(int(v)).count("1") for v in a])
    np.testing.assert_array_equal(out[:, 2], np.minimum(a.astype(int) + 200, 255))
    np.testing.assert_array_equal(out[:, 3], np.maximum(s.astype(int) - 30000, -32768))
    np.testing.assert_array_equal(
        out[:, 4], [16 if v == 0 else ((int(v) & 0xFFFF) & -(int(v) & 0xFFFF)).bit_length() - 1 for v in s]
    )
    np.testing.assert_array_equal(out[:, 5], [int(format(int(v), "08b")[::-1], 2) for v in a])


def test_relational_and_select(device, runner):
    rng = np.random.default_rng()
    n = 64
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.standard_normal((n, 4)).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, np.finfo(np.float32).tiny], np.float32)
    x.ravel()[rng.choice(4 * n, 60, replace=False)] = rng.choice(specials, 60)
    y.ravel()[rng.choice(4 * n, 30, replace=False)] = rng.choice(specials, 30)
    out, sel, hsel = runner.run(
        device,
        SRC,
        "relational",
        [x, y, np.zeros(40 * n, np.int32), np.zeros((n, 2, 4), np.float32), np.zeros(n, np.float16)],
        (n,),
        (32,),
    )[2:]
    out = out.reshape(n, 40)
    with np.errstate(invalid="ignore"):
        refs = [
            np.isnan(x),
            np.isinf(x),
            np.isfinite(x),
            np.isfinite(x) & (np.abs(x) >= np.finfo(np.float32).tiny),
            ~np.isnan(x) & ~np.isnan(y),
            np.isnan(x) | np.isnan(y),
            np.signbit(x),
            ~(x < y),
            x >= y,
        ]
        for k, r in enumerate(refs):
            np.testing.assert_array_equal(out[:, 4 * k : 4 * k + 4], r.astype(np.int32), err_msg=str(k))
        np.testing.assert_array_equal(out[:, 36], np.all(x < y, 1))
        np.testing.assert_array_equal(out[:, 37], np.any(x < y, 1))
        np.testing.assert_array_equal(out[:, 38], np.isnan(x[:, 0]) + 2 * np.signbit(x[:, 1]))
        np.testing.assert_array_equal(out[:, 39], (x[:, 0] == x[:, 0]) + 2 * np.any(np.isinf(x[:, 2:]), 1))
        np.testing.assert_array_equal(sel[:, 0], np.where(x < y, y, x))
        np.testing.assert_array_equal(sel[:, 1], np.where((x[:, 0] < y[:, 0])[:, None], y, x))
    np.testing.assert_array_equal(hsel, np.where(np.arange(n) & 1, y[:, 0], x[:, 0]).astype(np.float16))


def test_geometric(device, runner):
    rng = np.random.default_rng()
    n = 64
    a = rng.standard_normal((n, 4)).astype(np.float32)
    b = rng.standard_normal((n, 4)).astype(np.float32)
    out, hout = runner.run(
        device, SRC, "geometric", [a, b, np.zeros(24 * n, np.float32), np.zeros(2 * n, np.float16)], (n,), (32,)
    )[2:]
    out = out.reshape(n, 24)
    A, B = a.astype(np.float64), b.astype(np.float64)
    x, y = A[:, :3], B[:, :3]
    tol = dict(rtol=1e-5, atol=1e-5)
    c = np.cross(x, y)
    np.testing.assert_allclose(out[:, 0:3], c, **tol)
    np.testing.assert_allclose(out[:, 3], np.linalg.norm(A - B, axis=1), **tol)
    np.testing.assert_allclose(out[:, 4], ((x - y) ** 2).sum(1), **tol)
    np.testing.assert_allclose(out[:, 5], (A * B).sum(1), **tol)
    np.testing.assert_allclose(out[:, 6], np.linalg.norm(x, axis=1), **tol)
    np.testing.assert_allclose(out[:, 7], (A * A).sum(1), **tol)
    nrm = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(out[:, 8:11], nrm, **tol)
    nref = c + y
    ff = np.where(((nref * y).sum(1) < 0)[:, None], x, -x)
    np.testing.assert_allclose(out[:, 11:14], ff, **tol)
    ny = y / np.linalg.norm(y, axis=1, keepdims=True)
    np.testing.assert_allclose(out[:, 14:17], x - 2 * (ny * x).sum(1, keepdims=True) * ny, **tol)
    d = (ny * nrm).sum(1, keepdims=True)
    k = 1 - 0.49 * (1 - d * d)
    rr = np.where(k < 0, 0.0, 0.7 * nrm - (0.7 * d + np.sqrt(np.maximum(k, 0))) * ny)
    np.testing.assert_allclose(out[:, 17:20], rr, **tol)
    np.testing.assert_allclose(out[:, 20], (A[:, :2] * B[:, :2]).sum(1), **tol)
    np.testing.assert_allclose(out[:, 21], np.linalg.norm(A[:, 2:], axis=1), **tol)
    np.testing.assert_allclose(out[:, 22], np.linalg.norm(A, axis=1), **tol)
    np.testing.assert_allclose(out[:, 23], np.linalg.norm(x - y, axis=1), rtol=1e-3, atol=1e-3)
    hout = hout.reshape(n, 2).astype(np.float64)
    Ah, Bh = a.astype(np.float16).astype(np.float64), b.astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(hout[:, 0], (Ah * Bh).sum(1), rtol=5e-3, atol=1e-2)
    np.testing.assert_allclose(hout[:, 1], np.linalg.norm(Ah[:, :2], axis=1), rtol=3e-3, atol=3e-3)


def test_as_type_and_conversions(device, runner):
    rng = np.random.default_rng()
    n = 64
    f = (rng.standard_normal(n) * 100).astype(np.float32)
    h = rng.standard_normal((n, 4)).astype(np.float16)
    l = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    iv = rng.integers(-(2**31), 2**31 - 1, n).astype(np.int32)
    iv[:2] = [16777217, -16777219]  # not representable in float: rounding to nearest even
    out = runner.run(
        device,
        SRC,
        "as_type_conv",
        [
            f,
            np.zeros(n, np.uint32),
            h,
            np.zeros((n, 2), np.float32),
            l,
            np.zeros((n, 2), np.uint32),
            np.zeros(3 * n, np.int32),
            np.zeros(2 * n, np.float32),
            iv,
            np.zeros(n, np.float16),
            np.zeros((n, 4), np.uint8),
        ],
        (n,),
        (32,),
    )
    np.testing.assert_array_equal(out[1], f.view(np.uint32))
    np.testing.assert_array_equal(out[3].view(np.uint16), h.view(np.uint16).reshape(n, 4))
    np.testing.assert_array_equal(out[5], l.view(np.uint32).reshape(n, 2))
    np.testing.assert_array_equal(out[10], f.view(np.uint8).reshape(n, 4))
    ic = out[6].reshape(n, 3)
    np.testing.assert_array_equal(ic[:, 0], np.trunc(f).astype(np.int32))
    np.testing.assert_array_equal(ic[:, 1], np.trunc(f * np.float32(4)).astype(np.int32))
    np.testing.assert_array_equal(
        ic[:, 2],
        np.trunc(f).astype(np.int64)
        + 3 * np.trunc(-f).astype(np.int64)
        + 7 * np.trunc(f * np.float32(0.5)).astype(np.int64)
        + 22,
    )
    fc = out[7].reshape(n, 2)
    np.testing.assert_array_equal(fc[:, 0], iv.astype(np.float32))
    np.testing.assert_array_equal(fc[:, 1], iv.astype(np.float32))
    with np.errstate(over="ignore"):  # values above 65520 round to inf, as in MSL
        np.testing.assert_array_equal(out[9], (iv & 0xFFFF).astype(np.float32).astype(np.float16))
