"""MSL types (MSL.md §1): 64-bit scalars and size_t, half and bfloat arithmetic and
conversions, unsuffixed float literals, packed vectors in buffers, matrices, metal::array,
C arrays, numeric_limits. (Vectors: tests/python/test_vector_types.py.)"""

import numpy as np

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void int64_ops(device const long* a [[buffer(0)]], device const ulong* b [[buffer(1)]],
                      device long* out [[buffer(2)]], device ulong* uout [[buffer(3)]],
                      constant size_t& n [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  if (size_t(i) >= n) return;
  long x = a[i];
  ulong y = b[i];
  out[4 * i + 0] = x * 3 + (x >> 7);
  out[4 * i + 1] = x / 1000003;
  out[4 * i + 2] = x % 1000003;
  out[4 * i + 3] = long(int(x));             // truncation to 32 bits, sign-extended
  uout[3 * i + 0] = y * 0x9E3779B97F4A7C15ul;  // wraps mod 2^64
  uout[3 * i + 1] = (y >> 33) ^ (y << 11);
  uout[3 * i + 2] = y / 7u;
}

kernel void small_ints(device const char* c [[buffer(0)]], device const uchar* uc [[buffer(1)]],
                       device const short* s [[buffer(2)]], device const ushort* us [[buffer(3)]],
                       device int* out [[buffer(4)]], device char* cout [[buffer(5)]],
                       device bool* bout [[buffer(6)]], uint i [[thread_position_in_grid]]) {
  out[4 * i + 0] = c[i] + uc[i];                 // promotions to int
  out[4 * i + 1] = s[i] * us[i];
  out[4 * i + 2] = int(uint(s[i]));              // sign-extension then reinterpretation
  out[4 * i + 3] = c[i] >> 2;                    // char is signed
  cout[i] = char(c[i] + uc[i]);                  // wraps
  bout[i] = bool(s[i] & 1);
}

kernel void half_ops(device const half* a [[buffer(0)]], device const half* b [[buffer(1)]],
                     device half* out [[buffer(2)]], device float* fout [[buffer(3)]],
                     device const float* f [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  half x = a[i], y = b[i];
  out[5 * i + 0] = x + y;
  out[5 * i + 1] = x * y;
  out[5 * i + 2] = x - y;
  out[5 * i + 3] = x / y;
  out[5 * i + 4] = half(f[i]);                   // float -> half, round to nearest even
  fout[2 * i + 0] = float(x);                    // exact
  auto mixed = x + 1.5f;                         // half + float is float
  fout[2 * i + 1] = is_same<decltype(mixed), float>::value ? mixed : -1.0f;
}

kernel void half_literals(device half* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  if (i) return;
  out[0] = 1.5h;
  out[1] = half(65504.0f);
  out[2] = half(1e-7f);         // subnormal
  out[3] = half(70000.0f);      // overflow -> inf
  out[4] = -0.0h;
  out[5] = half(2.0h * 3.0h);
}

kernel void bfloat_ops(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                       device bfloat* out [[buffer(2)]], device float* fout [[buffer(3)]],
                       device const float* f [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  bfloat x = a[i], y = b[i];
  out[4 * i + 0] = x + y;
  out[4 * i + 1] = x * y;
  out[4 * i + 2] = bfloat(f[i]);
  out[4 * i + 3] = bfloat(float(x) / float(y));
  fout[i] = float(x);
}

kernel void literal_is_float(device float* out [[buffer(0)]], device uint* bits [[buffer(1)]],
                             uint i [[thread_position_in_grid]]) {
  if (i) return;
  float s = 0.1 + 0.6;          // float arithmetic in MSL (float literals), not double
  out[0] = s;
  bits[0] = as_type<uint>(s);
  bits[1] = sizeof(1.0);
  bits[2] = as_type<uint>(1.0 / 3.0);
  out[1] = 16777216.0 + 1.0;    // float: 16777216
}

struct __attribute__((packed)) Dummy {};
struct Rec { packed_float3 p; float w; };      // 16 bytes
struct Rec2 { float3 p; float w; };            // 32 bytes

kernel void packed(device const packed_float3* p [[buffer(0)]], device const Rec* recs [[buffer(1)]],
                   device float* out [[buffer(2)]], device packed_half4* hout [[buffer(3)]],
                   device int* sizes [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  float3 v = float3(p[i]);
  Rec r = recs[i];
  out[3 * i + 0] = v.x + v.y * 10.0f + v[2] * 100.0f;
  out[3 * i + 1] = dot(float3(r.p), float3(1.0f)) * r.w;
  out[3 * i + 2] = p[i][1];
  hout[i] = packed_half4(half4(v.x, v.y, v.z, r.w));
  if (i == 0) {
    sizes[0] = sizeof(packed_float3); sizes[1] = alignof(packed_float3);
    sizes[2] = sizeof(Rec); sizes[3] = sizeof(Rec2);
    sizes[4] = sizeof(packed_half3); sizes[5] = sizeof(packed_char4);
    sizes[6] = sizeof(float3); sizes[7] = alignof(float3);
  }
}

kernel void matrices(device const float4x4* m4 [[buffer(0)]], device const float4* v4 [[buffer(1)]],
                     device float4* out [[buffer(2)]], device float* det [[buffer(3)]],
                     device const float3x3* m3 [[buffer(4)]], device float3* out3 [[buffer(5)]],
                     device const float2x2* m2 [[buffer(6)]], device float2* out2 [[buffer(7)]],
                     uint i [[thread_position_in_grid]]) {
  float4x4 m = m4[i];
  float4 v = v4[i];
  out[6 * i + 0] = m * v;
  out[6 * i + 1] = v * m;
  float4x4 mm = m * transpose(m);
  out[6 * i + 2] = mm[0];
  out[6 * i + 3] = mm[3];
  out[6 * i + 4] = m[1];
  out[6 * i + 5] = (m * 2.0f + m)[2];
  float3x3 a = m3[i];
  out3[3 * i + 0] = a * float3(v.xyz);
  out3[3 * i + 1] = (a * transpose(a))[1];
  out3[3 * i + 2] = float3(determinant(a), determinant(m), determinant(m2[i]));
  out2[i] = m2[i] * v.xy;
  det[i] = determinant(m);
}

kernel void matrix_misc(device int* sizes [[buffer(0)]], device float* out [[buffer(1)]],
                        device const half4x4* hm [[buffer(2)]], device half4* hout [[buffer(3)]],
                        device const float2x3* m23 [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  if (i) return;
  sizes[0] = sizeof(float2x2); sizes[1] = alignof(float2x2);
  sizes[2] = sizeof(float3x3); sizes[3] = alignof(float3x3);
  sizes[4] = sizeof(float4x4); sizes[5] = sizeof(half3x3); sizes[6] = alignof(half3x3);
  sizes[7] = sizeof(float2x3); sizes[8] = sizeof(float3x2); sizes[9] = sizeof(half4x4);
  float3x3 d = float3x3(2.0f);                 // diagonal
  float2x2 c = float2x2(float2(1, 2), float2(3, 4));  // columns
  out[0] = d[0][0] + d[1][1] * 10.0f + d[0][1] * 100.0f;
  out[1] = c[1][0];                            // column 1, row 0
  float3 r = m23[0] * float2(1.0f, 2.0f);      // 2 columns, 3 rows
  out[2] = r.x; out[3] = r.y; out[4] = r.z;
  float2 l = float3(1.0f, 2.0f, 3.0f) * m23[0];
  out[5] = l.x; out[6] = l.y;
  hout[0] = hm[0] * half4(1.0h, 2.0h, 3.0h, 4.0h);
  hout[1] = transpose(hm[0])[0];
}

kernel void arrays(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                   device int* sizes [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  array<float, 4> a;
  float c[4][2];
  for (uint k = 0; k < a.size(); ++k) { a[k] = x[4 * i + k]; c[k][0] = a[k] * 2.0f; c[k][1] = -a[k]; }
  float s = 0.0f;
  for (auto v : a) s += v;
  float t = 0.0f;
  for (int k = 0; k < 4; ++k) t += c[k][0] + c[k][1];
  out[2 * i] = s;
  out[2 * i + 1] = t;
  if (i == 0) { sizes[0] = sizeof(a); sizes[1] = sizeof(c); sizes[2] = int(a.size()); }
}

kernel void limits(device float* f [[buffer(0)]], device int* n [[buffer(1)]], device half* h [[buffer(2)]],
                   device uint* u [[buffer(3)]], device long* l [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  if (i) return;
  f[0] = numeric_limits<float>::max();
  f[1] = numeric_limits<float>::min();
  f[2] = numeric_limits<float>::lowest();
  f[3] = numeric_limits<float>::epsilon();
  f[4] = numeric_limits<float>::infinity();
  f[5] = numeric_limits<float>::quiet_NaN();
  f[6] = FLT_MAX; f[7] = FLT_MIN; f[8] = FLT_EPSILON; f[9] = MAXFLOAT;
  n[0] = numeric_limits<int>::max(); n[1] = numeric_limits<int>::min();
  n[2] = numeric_limits<short>::max(); n[3] = numeric_limits<char>::min();
  n[4] = numeric_limits<uchar>::max(); n[5] = numeric_limits<float>::digits;
  n[6] = numeric_limits<int>::is_signed; n[7] = numeric_limits<half>::is_specialized;
  h[0] = numeric_limits<half>::max(); h[1] = numeric_limits<half>::min();
  h[2] = numeric_limits<half>::epsilon(); h[3] = numeric_limits<half>::lowest();
  h[4] = HALF_MAX; h[5] = numeric_limits<half>::infinity();
  u[0] = numeric_limits<uint>::max(); u[1] = numeric_limits<ushort>::max();
  l[0] = numeric_limits<long>::max(); l[1] = numeric_limits<long>::min();
  l[2] = long(numeric_limits<ulong>::max() >> 1);
}
"""


def bf16_round(x):
    """float32 -> bfloat16 bits, round to nearest even (no NaN inputs)."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_int64_and_size_t(device, runner):
    rng = np.random.default_rng()
    n = 200
    a = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    b = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    _, _, out, uout, _ = runner.run(
        device,
        SRC,
        "int64_ops",
        [a, b, np.zeros(4 * n, np.int64), np.zeros(3 * n, np.uint64), np.uint64(n)],
        (256,),
        (64,),
    )
    out, uout = out.reshape(n, 4), uout.reshape(n, 3)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out[:, 0], a * 3 + (a >> 7))
        q = np.array([int(x / 1000003) if False else (abs(int(x)) // 1000003) * (1 if x >= 0 else -1) for x in a])
        np.testing.assert_array_equal(out[:, 1], q)
        np.testing.assert_array_equal(out[:, 2], a - q * 1000003)
        np.testing.assert_array_equal(out[:, 3], a.astype(np.int32).astype(np.int64))
        np.testing.assert_array_equal(uout[:, 0], b * np.uint64(0x9E3779B97F4A7C15))
        np.testing.assert_array_equal(uout[:, 1], (b >> np.uint64(33)) ^ (b << np.uint64(11)))
        np.testing.assert_array_equal(uout[:, 2], b // np.uint64(7))


def test_char_short_bool(device, runner):
    rng = np.random.default_rng()
    n = 128
    c = rng.integers(-128, 128, n).astype(np.int8)
    uc = rng.integers(0, 256, n).astype(np.uint8)
    s = rng.integers(-32768, 32768, n).astype(np.int16)
    us = rng.integers(0, 65536, n).astype(np.uint16)
    out, cout, bout = runner.run(
        device,
        SRC,
        "small_ints",
        [c, uc, s, us, np.zeros(4 * n, np.int32), np.zeros(n, np.int8), np.zeros(n, np.bool_)],
        (n,),
        (32,),
    )[4:]
    out = out.reshape(n, 4)
    np.testing.assert_array_equal(out[:, 0], c.astype(np.int32) + uc)
    np.testing.assert_array_equal(out[:, 1], (s.astype(np.int64) * us).astype(np.int32))
    np.testing.assert_array_equal(out[:, 2], s.astype(np.int32))
    np.testing.assert_array_equal(out[:, 3], c.astype(np.int32) >> 2)
    np.testing.assert_array_equal(cout, (c.astype(np.int32) + uc).astype(np.int8))
    np.testing.assert_array_equal(bout, (s & 1).astype(bool))


def test_half_arithmetic_and_conversions(device, runner):
    rng = np.random.default_rng()
    n = 256
    a = (rng.standard_normal(n) * 10).astype(np.float16)
    b = (rng.standard_normal(n) * 10).astype(np.float16)
    b[b == 0] = 1
    f = (rng.standard_normal(n) * 1000).astype(np.float32)
    out, fout = runner.run(
        device, SRC, "half_ops", [a, b, np.zeros(5 * n, np.float16), np.zeros(2 * n, np.float32), f], (n,), (64,)
    )[2:4]
    out, fout = out.reshape(n, 5), fout.reshape(n, 2)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    # arithmetic in float then one rounding to half == correctly rounded half (float has > 2*11+2 bits)
    np.testing.assert_array_equal(out[:, 0], (a64 + b64).astype(np.float16))
    np.testing.assert_array_equal(out[:, 1], (a64 * b64).astype(np.float16))
    np.testing.assert_array_equal(out[:, 2], (a64 - b64).astype(np.float16))
    np.testing.assert_array_equal(out[:, 3], (a64 / b64).astype(np.float32).astype(np.float16))
    np.testing.assert_array_equal(out[:, 4], f.astype(np.float16))
    np.testing.assert_array_equal(fout[:, 0], a.astype(np.float32))
    np.testing.assert_array_equal(fout[:, 1], a.astype(np.float32) + np.float32(1.5))


def test_half_literals_and_special_values(device, runner):
    (out,) = runner.run(device, SRC, "half_literals", [np.zeros(6, np.float16)], (1,), (1,))
    assert out[0] == 1.5 and out[1] == 65504 and out[2] == np.float16(1e-7) and out[2] != 0
    assert np.isposinf(out[3]) and out[4] == 0 and np.signbit(out[4]) and out[5] == 6


def test_bfloat_arithmetic_and_conversions(device, runner):
    rng = np.random.default_rng()
    n = 256
    af = rng.standard_normal(n).astype(np.float32) * 100
    bf = rng.standard_normal(n).astype(np.float32) + 3
    a, b = bf16_round(af), bf16_round(bf)
    f = (rng.standard_normal(n) * 1e5).astype(np.float32)
    out, fout = runner.run(
        device, SRC, "bfloat_ops", [a, b, np.zeros(4 * n, np.uint16), np.zeros(n, np.float32), f], (n,), (64,)
    )[2:4]
    out = out.reshape(n, 4)
    fa, fb = bf16_to_f32(a), bf16_to_f32(b)
    np.testing.assert_array_equal(out[:, 0], bf16_round(fa + fb))
    np.testing.assert_array_equal(out[:, 1], bf16_round(fa * fb))
    np.testing.assert_array_equal(out[:, 2], bf16_round(f))
    np.testing.assert_array_equal(out[:, 3], bf16_round(fa / fb))
    np.testing.assert_array_equal(fout, fa)


def test_unsuffixed_literals_are_float(device, runner):
    out, bits = runner.run(
        device, SRC, "literal_is_float", [np.zeros(2, np.float32), np.zeros(3, np.uint32)], (1,), (1,)
    )
    f = np.float32(0.1) + np.float32(0.6)
    assert bits[0] == np.array([f], np.float32).view(np.uint32)[0]
    assert np.float32(0.1 + 0.6) != f  # the double sum rounds differently: the test can tell them apart
    assert bits[1] == 4
    assert bits[2] == np.array([np.float32(1.0) / np.float32(3.0)], np.float32).view(np.uint32)[0]
    assert out[1] == 16777216.0


def test_packed_vectors_in_buffers(device, runner):
    rng = np.random.default_rng()
    n = 64
    p = rng.standard_normal((n, 3)).astype(np.float32)
    recs = rng.standard_normal((n, 4)).astype(np.float32)  # Rec = packed_float3 + float = 16 B
    out, hout, sizes = runner.run(
        device,
        SRC,
        "packed",
        [p, recs, np.zeros(3 * n, np.float32), np.zeros((n, 4), np.float16), np.zeros(8, np.int32)],
        (n,),
        (32,),
    )[2:5]
    out = out.reshape(n, 3)
    np.testing.assert_allclose(out[:, 0], p[:, 0] + p[:, 1] * 10.0 + p[:, 2] * 100.0, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out[:, 1], recs[:, :3].astype(np.float64).sum(1) * recs[:, 3], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out[:, 2], p[:, 1])
    np.testing.assert_array_equal(hout, np.concatenate([p, recs[:, 3:]], 1).astype(np.float16))
    assert sizes.tolist() == [12, 4, 16, 32, 6, 4, 16, 16]


def test_matrix_products_transpose_determinant(device, runner):
    rng = np.random.default_rng()
    n = 32
    m4 = rng.standard_normal((n, 4, 4)).astype(np.float32)  # [i, column, row]
    v4 = rng.standard_normal((n, 4)).astype(np.float32)
    m3 = np.zeros((n, 3, 4), np.float32)  # float3x3: 3 columns of float3 (16 B)
    m3[:, :, :3] = rng.standard_normal((n, 3, 3))
    m2 = rng.standard_normal((n, 2, 2)).astype(np.float32)
    out, det, _, out3, _, out2 = runner.run(
        device,
        SRC,
        "matrices",
        [
            m4,
            v4,
            np.zeros((n, 6, 4), np.float32),
            np.zeros(n, np.float32),
            m3,
            np.zeros((n, 3, 4), np.float32),
            m2,
            np.zeros((n, 2), np.float32),
        ],
        (n,),
        (32,),
    )[0:8][2:8]
    M = np.transpose(m4.astype(np.float64), (0, 2, 1))  # M[i, row, col]
    A = np.transpose(m3[:, :, :3].astype(np.float64), (0, 2, 1))
    B = np.transpose(m2.astype(np.float64), (0, 2, 1))
    tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[:, 0], np.einsum("irc,ic->ir", M, v4), **tol)
    np.testing.assert_allclose(out[:, 1], np.einsum("r,irc->ic", np.ones(4), M * v4[:, :, None]), **tol)
    MM = M @ np.transpose(M, (0, 2, 1))
    np.testing.assert_allclose(out[:, 2], MM[:, :, 0], **tol)
    np.testing.assert_allclose(out[:, 3], MM[:, :, 3], **tol)
    np.testing.assert_array_equal(out[:, 4], m4[:, 1])
    np.testing.assert_allclose(out[:, 5], 3 * M[:, :, 2], **tol)
    np.testing.assert_allclose(out3[:, 0, :3], np.einsum("irc,ic->ir", A, v4[:, :3]), **tol)
    np.testing.assert_allclose(out3[:, 1, :3], (A @ np.transpose(A, (0, 2, 1)))[:, :, 1], **tol)
    np.testing.assert_allclose(out3[:, 2, 0], np.linalg.det(A), **tol)
    np.testing.assert_allclose(out3[:, 2, 1], np.linalg.det(M), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out3[:, 2, 2], np.linalg.det(B), **tol)
    np.testing.assert_allclose(det, np.linalg.det(M), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out2, np.einsum("irc,ic->ir", B, v4[:, :2]), **tol)


def test_matrix_layout_constructors_half_and_nonsquare(device, runner):
    rng = np.random.default_rng()
    hm = rng.standard_normal((4, 4)).astype(np.float16)
    m23 = np.zeros((2, 4), np.float32)  # float2x3: 2 columns of float3
    m23[:, :3] = rng.standard_normal((2, 3))
    sizes, out, _, hout, _ = runner.run(
        device,
        SRC,
        "matrix_misc",
        [np.zeros(10, np.int32), np.zeros(7, np.float32), hm, np.zeros((2, 4), np.float16), m23],
        (1,),
        (1,),
    )
    assert sizes.tolist() == [16, 8, 48, 16, 64, 24, 8, 32, 24, 32]
    assert out[0] == 2 + 20 and out[1] == 3
    A = m23[:, :3].T.astype(np.float64)  # 3 rows x 2 cols
    np.testing.assert_allclose(out[2:5], A @ [1, 2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[5:7], np.array([1, 2, 3]) @ A, rtol=1e-6, atol=1e-6)
    H = hm.T.astype(np.float64)
    np.testing.assert_allclose(hout[0].astype(np.float64), H @ [1, 2, 3, 4], rtol=2e-3, atol=2e-2)
    np.testing.assert_array_equal(hout[1], hm[:, 0])  # row 0 of M = element 0 of each column


def test_metal_array_and_c_arrays(device, runner):
    rng = np.random.default_rng()
    x = rng.standard_normal((40, 4)).astype(np.float32)
    out, sizes = runner.run(device, SRC, "arrays", [x, np.zeros(80, np.float32), np.zeros(3, np.int32)], (40,), (8,))[
        1:
    ]
    out = out.reshape(40, 2)
    np.testing.assert_allclose(out[:, 0], x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)
    assert sizes.tolist() == [16, 32, 4]


def test_numeric_limits(device, runner):
    f, n, h, u, l = runner.run(
        device,
        SRC,
        "limits",
        [
            np.zeros(10, np.float32),
            np.zeros(8, np.int32),
            np.zeros(6, np.float16),
            np.zeros(2, np.uint32),
            np.zeros(3, np.int64),
        ],
        (1,),
        (1,),
    )
    fi = np.finfo(np.float32)
    assert f[0] == fi.max and f[1] == fi.tiny and f[2] == -fi.max and f[3] == fi.eps
    assert np.isposinf(f[4]) and np.isnan(f[5])
    assert f[6] == fi.max and f[7] == fi.tiny and f[8] == fi.eps and f[9] == fi.max
    assert n.tolist() == [2**31 - 1, -(2**31), 32767, -128, 255, 24, 1, 1]
    hi = np.finfo(np.float16)
    assert h[0] == hi.max and h[1] == hi.tiny and h[2] == hi.eps and h[3] == -hi.max and h[4] == hi.max
    assert np.isposinf(h[5])
    assert u.tolist() == [2**32 - 1, 65535]
    assert l.tolist() == [2**63 - 1, -(2**63), 2**63 - 1]
