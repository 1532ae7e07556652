// The runtime library's types: layouts, half/bfloat conversions, vector constructors,
// swizzles, operators, as_type, numeric_limits, type traits (CPU target).
// System headers first: the runtime then replaces their INFINITY, FLT_MAX, ... with
// MSL's definitions, which the Macros test checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <type_traits>

#define METAL_TARGET_CPU 1
#define METAL_RUNTIME_SELF_CHECK 1
#include "runtime/metal_runtime.h"

using namespace metal;

// MSL spec table of sizes/alignments (MSL.md §1.2, §1.3), written out by hand.
static_assert(sizeof(bool2) == 2 && alignof(bool2) == 2, "");
static_assert(sizeof(bool3) == 4 && alignof(bool3) == 4, "");
static_assert(sizeof(char3) == 4 && alignof(char3) == 4, "");
static_assert(sizeof(uchar4) == 4 && alignof(uchar4) == 4, "");
static_assert(sizeof(short2) == 4 && alignof(short2) == 4, "");
static_assert(sizeof(short3) == 8 && alignof(short3) == 8, "");
static_assert(sizeof(int2) == 8 && alignof(int2) == 8, "");
static_assert(sizeof(int3) == 16 && alignof(int3) == 16, "");
static_assert(sizeof(uint3) == 16 && alignof(uint3) == 16, "");
static_assert(sizeof(long2) == 16 && sizeof(long3) == 32 && alignof(long3) == 32, "");
static_assert(sizeof(half2) == 4 && alignof(half2) == 4, "");
static_assert(sizeof(half3) == 8 && alignof(half3) == 8, "");
static_assert(sizeof(half4) == 8 && alignof(half4) == 8, "");
static_assert(sizeof(bfloat3) == 8 && alignof(bfloat3) == 8, "");
static_assert(sizeof(float2) == 8 && alignof(float2) == 8, "");
static_assert(sizeof(float3) == 16 && alignof(float3) == 16, "");
static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "");
static_assert(sizeof(packed_float3) == 12 && alignof(packed_float3) == 4, "");
static_assert(sizeof(packed_float4) == 16 && alignof(packed_float4) == 4, "");
static_assert(sizeof(packed_half3) == 6 && alignof(packed_half3) == 2, "");
static_assert(sizeof(packed_char3) == 3 && alignof(packed_char3) == 1, "");
static_assert(sizeof(half) == 2 && sizeof(bfloat) == 2, "");
static_assert(std::is_same<vec<float, 4>, float4>::value, "vec<T,N> is the named type");
static_assert(std::is_standard_layout<float3>::value, "");
static_assert(std::is_trivially_copyable<half>::value, "");
static_assert(std::is_trivially_copy_constructible<float4>::value, "");
static_assert(std::is_trivially_destructible<float4>::value, "");

// Conversions: implicit from a scalar (broadcast) and between same-typed values only.
static_assert(std::is_convertible<float, float4>::value, "");
static_assert(!std::is_convertible<int4, float4>::value, "no implicit element conversion");
static_assert(std::is_constructible<float4, int4>::value, "explicit element conversion");
static_assert(!std::is_convertible<float4, float3>::value, "");

// Constexpr construction (CUDA forbids dynamic init of program-scope constants).
constexpr float3 kUp(0, 1, 0);
constexpr float4 kMix(float2(1, 2), 3, 4);
constexpr half kHalfOne(1.0f);
static_assert(kHalfOne.bits == 0x3c00, "");
static_assert(kMix[2] == 3.0f && kUp[1] == 1.0f, "");
static_assert(half(65504.0f).bits == 0x7bff && half(65520.0f).bits == 0x7c00, "");
static_assert(bfloat(1.0f).bits == 0x3f80, "");

// Result types.
static_assert(std::is_same<decltype(half(1) + 1.0f), float>::value, "half + float is float");
static_assert(std::is_same<decltype(half(1) + 1), half>::value, "half + int is half");
static_assert(std::is_same<decltype(half(1) * half(2)), half>::value, "");
static_assert(std::is_same<decltype(float4(1) < float4(2)), bool4>::value, "comparisons give bool vectors");
static_assert(std::is_same<decltype(float4(1) * 2), float4>::value, "");
static_assert(std::is_same<decltype(2.0f * float4(1)), float4>::value, "");
static_assert(std::is_same<decltype(float4(1).xy + 1.0f), float2>::value, "");
static_assert(std::is_same<decltype(half4(1) * 2.0f), half4>::value, "");

namespace {
uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(RuntimeHalf, RoundTripsEveryHalf) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    half h = half::from_bits(uint16_t(b));
    float f = float(h);
    bool is_nan = ((b >> 10) & 0x1f) == 0x1f && (b & 0x3ff);
    if (is_nan) {
      EXPECT_TRUE(std::isnan(f));
      EXPECT_TRUE(((half(f).bits >> 10) & 0x1f) == 0x1f && (half(f).bits & 0x3ff));
    } else {
      ASSERT_EQ(half(f).bits, b) << "bits " << b;
    }
  }
}

TEST(RuntimeHalf, DecodesKnownValues) {
  EXPECT_EQ(float(half::from_bits(0x3c00)), 1.0f);
  EXPECT_EQ(float(half::from_bits(0xc000)), -2.0f);
  EXPECT_EQ(float(half::from_bits(0x7bff)), 65504.0f);
  EXPECT_EQ(float(half::from_bits(0x0001)), std::ldexp(1.0f, -24));
  EXPECT_EQ(float(half::from_bits(0x0400)), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(float(half::from_bits(0x7c00))));
  EXPECT_EQ(fbits(float(half::from_bits(0x8000))), 0x80000000u);
}

// Rounding: the encoded half must be a nearest half to f, ties to even.
TEST(RuntimeHalf, RoundsToNearestEven) {
  EXPECT_EQ(half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);      // tie -> even
  EXPECT_EQ(half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);  // tie -> even (up)
  EXPECT_EQ(half(std::ldexp(1.0f, -25)).bits, 0x0000);             // tie -> 0
  EXPECT_EQ(half(std::ldexp(1.5f, -25)).bits, 0x0001);
  EXPECT_EQ(half(std::ldexp(3.0f, -25)).bits, 0x0002);  // 1.5 ulp tie -> even
  EXPECT_EQ(half(65519.0f).bits, 0x7bff);
  EXPECT_EQ(half(-1e6f).bits, 0xfc00);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> mag(-30.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) {
    float f = std::ldexp(1.0f, 0) * std::exp2(mag(rng)) * ((i & 1) ? -1.0f : 1.0f);
    half h(f);
    double v = float(h);
    ASSERT_FALSE(std::isnan(v));
    if (std::isinf(v)) {
      ASSERT_GE(std::fabs(f), 65520.0f);
      continue;
    }
    // neighbours one unit away (same sign)
    double up = float(half::from_bits(uint16_t(h.bits + 1)));
    double dn = (h.bits & 0x7fff) ? double(float(half::from_bits(uint16_t(h.bits - 1)))) : -v;
    double err = std::fabs(v - f);
    if (!std::isinf(up)) {
      ASSERT_LE(err, std::fabs(up - f)) << f;
    }
    ASSERT_LE(err, std::fabs(dn - f)) << f;
    if (!std::isinf(up) && err == std::fabs(up - f)) {
      ASSERT_EQ(h.bits & 1, 0) << f;
    }
  }
}

TEST(RuntimeHalf, Arithmetic) {
  half a(1.5f), b(0.25f);
  EXPECT_EQ(float(a + b), 1.75f);
  EXPECT_EQ(float(a * b), 0.375f);
  EXPECT_EQ(float(a - b), 1.25f);
  EXPECT_EQ(float(a / b), 6.0f);
  EXPECT_EQ(float(-a), -1.5f);
  EXPECT_TRUE(a > b && b < 1.0f && a == 1.5f && a != b);
  half c(2048.0f);
  EXPECT_EQ(float(c + half(1.0f)), 2048.0f);  // rounded to half: 2049 is not representable
  a += 1;
  EXPECT_EQ(float(a), 2.5f);
  ++a;
  EXPECT_EQ(float(a), 3.5f);
  float f = a;  // implicit widening
  EXPECT_EQ(f, 3.5f);
}

TEST(RuntimeBfloat, ConvertsWithNearestEven) {
  EXPECT_EQ(bfloat(1.0f).bits, 0x3f80);
  EXPECT_EQ(bfloat(-2.0f).bits, 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0)
  EXPECT_EQ(bfloat(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  EXPECT_EQ(bfloat(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(float(bfloat(NAN))));
  EXPECT_EQ(float(bfloat(3.0f) * bfloat(0.5f)), 1.5f);
}

TEST(RuntimeVector, Constructors) {
  float4 a(float2(1, 2), 3, 4);
  EXPECT_EQ(a.x, 1);
  EXPECT_EQ(a.y, 2);
  EXPECT_EQ(a.z, 3);
  EXPECT_EQ(a.w, 4);
  float4 b(1, float2(2, 3), 4);
  EXPECT_EQ(b.y, 2);
  EXPECT_EQ(b.z, 3);
  EXPECT_EQ(b.w, 4);
  float3 c(float2(5, 6), 7);
  EXPECT_EQ(c.z, 7);
  float4 d(c, 8);
  EXPECT_EQ(d.w, 8);
  EXPECT_EQ(d.x, 5);
  float4 e = 2.5f;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e[i], 2.5f);
  int4 iv(1, -2, 3, -4);
  float4 fv(iv);
  EXPECT_EQ(fv.y, -2.0f);
  half4 hv(fv);
  EXPECT_EQ(float(hv.w), -4.0f);
  uchar4 u(uint4(255, 256, 1, 2));  // conversion wraps like a C++ cast
  EXPECT_EQ(u.x, 255);
  EXPECT_EQ(u.y, 0);
  float2 l = {1, 2};
  EXPECT_EQ(l.y, 2);
  float4 f(a.xy, a.zw);
  EXPECT_EQ(f.w, 4);
  float4 g = float4(a.wzyx);
  EXPECT_EQ(g.x, 4);
  packed_float3 p(1, 2, 3);
  float3 pv = p;
  EXPECT_EQ(pv.z, 3);
  EXPECT_EQ(p[1], 2);
  EXPECT_EQ(p.x, 1);
  float3 zero = float3();
  EXPECT_EQ(zero.x + zero.y + zero.z, 0);
}

TEST(RuntimeVector, SwizzleReads) {
  float4 v(1, 2, 3, 4);
  float3 zyx = v.zyx;
  EXPECT_EQ(zyx.x, 3);
  EXPECT_EQ(zyx.y, 2);
  EXPECT_EQ(zyx.z, 1);
  float4 xxxx = v.xxxx;
  EXPECT_EQ(xxxx.w, 1);
  float4 bgra = v.bgra;
  EXPECT_EQ(bgra.x, 3);
  EXPECT_EQ(bgra.w, 4);
  float2 wy = v.wy;
  EXPECT_EQ(wy.x, 4);
  EXPECT_EQ(wy.y, 2);
  float3 c(7, 8, 9);
  float4 cc = c.zzyx;
  EXPECT_EQ(cc.x, 9);
  EXPECT_EQ(cc.w, 7);
  float2 two(5, 6);
  float4 t = two.yxyx;
  EXPECT_EQ(t.x, 6);
  EXPECT_EQ(t.y, 5);
  EXPECT_EQ(t.z, 6);
  EXPECT_EQ(v.zw[1], 4);
  EXPECT_EQ(v.r + v.g + v.b + v.a, 10);
}

TEST(RuntimeVector, SwizzleWrites) {
  float4 v(1, 2, 3, 4);
  v.xy = float2(10, 20);
  EXPECT_EQ(v.x, 10);
  EXPECT_EQ(v.y, 20);
  EXPECT_EQ(v.z, 3);
  v.zx += float2(1, 2);  // z += 1, x += 2
  EXPECT_EQ(v.z, 4);
  EXPECT_EQ(v.x, 12);
  v.wz = v.zw;  // swap through a temporary
  EXPECT_EQ(v.w, 4);
  EXPECT_EQ(v.z, 4);
  v.yw = 0.0f;
  EXPECT_EQ(v.y, 0);
  EXPECT_EQ(v.w, 0);
  float4 a(1, 2, 3, 4), b(5, 6, 7, 8);
  a.xy = b.xy;  // same proxy type: only x and y change
  EXPECT_EQ(a.x, 5);
  EXPECT_EQ(a.y, 6);
  EXPECT_EQ(a.z, 3);
  EXPECT_EQ(a.w, 4);
  a.rgb *= 2.0f;
  EXPECT_EQ(a.r, 10);
  EXPECT_EQ(a.b, 6);
  EXPECT_EQ(a.a, 4);
  float& ref = a.y;
  ref = 99;
  EXPECT_EQ(a[1], 99);
  a[3] = 7;
  EXPECT_EQ(a.w, 7);
  int3 iv(1, 2, 3);
  iv.zy <<= 1;
  EXPECT_EQ(iv.z, 6);
  EXPECT_EQ(iv.y, 4);
}

TEST(RuntimeVector, Operators) {
  float4 a(1, 2, 3, 4), b(4, 3, 2, 1);
  float4 s = a + b, p = a * b, q = a / 2.0f, r = 8.0f / a, m = -a;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s[i], 5);
    EXPECT_EQ(p[i], a[i] * b[i]);
    EXPECT_EQ(q[i], a[i] / 2);
    EXPECT_EQ(r[i], 8 / a[i]);
    EXPECT_EQ(m[i], -a[i]);
  }
  float4 k = a * 2;  // integer scalar converts to the element type
  EXPECT_EQ(k.w, 8);
  int4 i(7, -7, 9, 12), j(2, 3, 4, 5);
  int4 md = i % j, an = i & j, o = i | 1, x = i ^ j, sh = i << 1, sr = i >> 1, nt = ~i;
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(md[c], i[c] % j[c]);
    EXPECT_EQ(an[c], i[c] & j[c]);
    EXPECT_EQ(o[c], i[c] | 1);
    EXPECT_EQ(x[c], i[c] ^ j[c]);
    EXPECT_EQ(sh[c], int(unsigned(i[c]) << 1));  // a negative value shifted: undefined in C++17
    EXPECT_EQ(sr[c], i[c] >> 1);
    EXPECT_EQ(nt[c], ~i[c]);
  }
  uchar2 u(250, 3);
  u += uchar2(10, 1);  // element arithmetic wraps in the element type
  EXPECT_EQ(u.x, 4);
  EXPECT_EQ(u.y, 4);
  float3 c(1, 2, 3);
  c += 1.0f;
  c *= float3(2);
  c -= 1;
  c /= 2;
  EXPECT_EQ(c.x, 1.5f);
  EXPECT_EQ(c.z, 3.5f);
  int2 inc(1, 2);
  int2 old = inc++;
  ++inc;
  EXPECT_EQ(old.x, 1);
  EXPECT_EQ(inc.x, 3);
  EXPECT_EQ(inc.y, 4);
  half4 h(1.0f, 2.0f, 3.0f, 4.0f);
  half4 h2 = h * 2.0f + h;
  EXPECT_EQ(float(h2.z), 9.0f);
  packed_float3 pk(1, 2, 3);
  float3 pm = pk * 2.0f;
  EXPECT_EQ(pm.y, 4);
  pk += float3(1);
  EXPECT_EQ(pk[2], 4);
}

TEST(RuntimeVector, ComparisonsAndSelection) {
  float4 a(1, 5, 3, 7), b(2, 4, 3, 8);
  bool4 lt = a < b, eq = a == b, ge = a >= 3.0f;
  EXPECT_TRUE(lt.x && !lt.y && !lt.z && lt.w);
  EXPECT_TRUE(!eq.x && eq.z);
  EXPECT_TRUE(!ge.x && ge.y && ge.z && ge.w);
  bool4 both = lt && ge, either = lt || eq, neg = !lt;
  EXPECT_TRUE(both.w && !both.x);
  EXPECT_TRUE(either.x && either.z && !either.y);
  EXPECT_TRUE(neg.y && !neg.x);
  EXPECT_TRUE(any(lt));
  EXPECT_FALSE(all(lt));
  EXPECT_TRUE(all(a == a));
  EXPECT_FALSE(any(a != a));
  EXPECT_TRUE(all(true) && !any(false));
  float4 sel = select(a, b, lt);  // lt ? b : a
  EXPECT_EQ(sel.x, 2);
  EXPECT_EQ(sel.y, 5);
  EXPECT_EQ(sel.w, 8);
  EXPECT_EQ(select(1.0f, 2.0f, true), 2.0f);
  EXPECT_EQ(select(1.0f, 2.0f, false), 1.0f);
  float4 sb = select(a, 0.0f, a > 4.0f);
  EXPECT_EQ(sb.y, 0);
  EXPECT_EQ(sb.x, 1);
  int2 is = select(int2(1, 2), int2(3, 4), bool2(false, true));
  EXPECT_EQ(is.x, 1);
  EXPECT_EQ(is.y, 4);
}

TEST(RuntimeVector, AsType) {
  EXPECT_EQ(as_type<uint>(1.0f), 0x3f800000u);
  EXPECT_EQ(as_type<float>(0x40000000u), 2.0f);
  uint4 u = as_type<uint4>(float4(1, -2, 0, 0.5f));
  EXPECT_EQ(u.x, 0x3f800000u);
  EXPECT_EQ(u.y, 0xc0000000u);
  EXPECT_EQ(u.w, 0x3f000000u);
  half2 h = as_type<half2>(0x40003c00u);  // little endian: x = 0x3c00 (1), y = 0x4000 (2)
  EXPECT_EQ(float(h.x), 1.0f);
  EXPECT_EQ(float(h.y), 2.0f);
  float4 v(1, 2, 3, 4);
  uint2 zw = as_type<uint2>(v.zw);
  EXPECT_EQ(zw.x, fbits(3.0f));
  EXPECT_EQ(as_type<ushort>(half(1.0f)), 0x3c00);
  EXPECT_EQ(as_type<int>(uchar4(1, 0, 0, 0)), 1);
}

TEST(RuntimeLimits, MatchTheFormats) {
  EXPECT_EQ(numeric_limits<float>::max(), std::numeric_limits<float>::max());
  EXPECT_EQ(numeric_limits<float>::min(), std::numeric_limits<float>::min());
  EXPECT_EQ(numeric_limits<float>::epsilon(), std::numeric_limits<float>::epsilon());
  EXPECT_EQ(numeric_limits<float>::lowest(), std::numeric_limits<float>::lowest());
  EXPECT_TRUE(std::isinf(numeric_limits<float>::infinity()));
  EXPECT_TRUE(std::isnan(numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(numeric_limits<float>::digits, 24);
  EXPECT_EQ(float(numeric_limits<half>::max()), 65504.0f);
  EXPECT_EQ(float(numeric_limits<half>::min()), std::ldexp(1.0f, -14));
  EXPECT_EQ(float(numeric_limits<half>::epsilon()), std::ldexp(1.0f, -10));
  EXPECT_EQ(float(numeric_limits<half>::lowest()), -65504.0f);
  EXPECT_EQ(float(numeric_limits<half>::denorm_min()), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(float(numeric_limits<half>::infinity())));
  EXPECT_TRUE(std::isnan(float(numeric_limits<half>::quiet_NaN())));
  EXPECT_EQ(numeric_limits<half>::digits, 11);
  EXPECT_EQ(float(numeric_limits<bfloat>::epsilon()), std::ldexp(1.0f, -7));
  EXPECT_EQ(numeric_limits<int>::max(), INT32_MAX);
  EXPECT_EQ(numeric_limits<int>::min(), INT32_MIN);
  EXPECT_EQ(numeric_limits<uint>::max(), UINT32_MAX);
  EXPECT_EQ(numeric_limits<short>::min(), INT16_MIN);
  EXPECT_EQ(numeric_limits<uchar>::max(), 255);
  EXPECT_EQ(numeric_limits<long>::max(), INT64_MAX);
  EXPECT_EQ(numeric_limits<ulong>::max(), UINT64_MAX);
  EXPECT_EQ(numeric_limits<int>::digits, 31);
  EXPECT_EQ(numeric_limits<bool>::max(), true);
  static_assert(numeric_limits<char>::is_signed || !std::is_signed<char>::value, "");
}

TEST(RuntimeMacros, Values) {
  EXPECT_EQ(FLT_MAX, std::numeric_limits<float>::max());
  EXPECT_EQ(FLT_MIN, std::numeric_limits<float>::min());
  EXPECT_EQ(FLT_EPSILON, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(MAXFLOAT, std::numeric_limits<float>::max());
  EXPECT_TRUE(std::isinf(INFINITY) && std::isinf(HUGE_VALF));
  EXPECT_TRUE(std::isnan(NAN));
  EXPECT_EQ(M_PI_F, float(3.14159265358979323846));
  EXPECT_EQ(M_SQRT2_F, float(std::sqrt(2.0)));
  EXPECT_EQ(M_LOG2E_F, float(1.0 / std::log(2.0)));
  EXPECT_EQ(float(M_PI_H), float(half(float(M_PI))));
  EXPECT_EQ(float(HALF_MAX), 65504.0f);
  EXPECT_EQ(float(HALF_EPSILON), std::ldexp(1.0f, -10));
  EXPECT_EQ(INT_MAX, 2147483647);
  EXPECT_EQ(UINT_MAX, 4294967295u);
#if INT_MAX != 2147483647 || SHRT_MAX != 32767
#error "integer limit macros must work in #if"
#endif
}

TEST(RuntimeTraits, Basics) {
  static_assert(is_same<int, int>::value && !is_same<int, uint>::value, "");
  static_assert(is_floating_point<half>::value && is_floating_point<float>::value, "");
  static_assert(is_floating_point<bfloat>::value && !is_floating_point<int>::value, "");
  static_assert(is_integral<ushort>::value && !is_integral<half>::value, "");
  static_assert(is_signed<int>::value && !is_signed<uint>::value && is_signed<half>::value, "");
  static_assert(is_unsigned<ulong>::value && !is_unsigned<float>::value, "");
  static_assert(is_same<make_unsigned_t<int>, uint>::value, "");
  static_assert(is_same<make_signed_t<ushort>, short>::value, "");
  static_assert(is_same<remove_cv_t<const volatile int>, int>::value, "");
  static_assert(is_same<decay_t<const float(&)[3]>, const float*>::value, "");
  static_assert(is_same<conditional_t<true, int, float>, int>::value, "");
  static_assert(is_same<enable_if_t<true, half>, half>::value, "");
  static_assert(is_scalar<half>::value && is_scalar<int*>::value && !is_scalar<float4>::value, "");
  static_assert(is_arithmetic<half>::value, "");
  static_assert(integral_constant<int, 3>::value == 3 && true_type::value, "");
  static_assert(is_same<make_index_sequence<3>, index_sequence<0, 1, 2>>::value, "");
  static_assert(is_convertible<float, half>::value, "");
  SUCCEED();
}

TEST(RuntimeArray, Works) {
  metal::array<float, 3> a = {{1, 2, 3}};
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a[1], 2);
  float s = 0;
  for (float x : a) s += x;
  EXPECT_EQ(s, 6);
  static_assert(sizeof(metal::array<float, 3>) == 12, "");
}
}  // namespace
