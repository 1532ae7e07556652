// The runtime library's functions against independent references: double-precision
// <cmath> for math, plain wide-integer arithmetic for the integer functions (CPU target).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <type_traits>
#include <vector>

#define METAL_TARGET_CPU 1
#include "runtime/metal_runtime.h"

namespace {
using metal::float2;
using metal::float3;
using metal::float4;
using metal::half;
using metal::half4;

// Distance in units of float's last place near the reference.
double ulps(float got, double ref) {
  if (std::isnan(ref)) return std::isnan(got) ? 0 : 1e9;
  if (std::isinf(ref)) return (std::isinf(got) && (got > 0) == (ref > 0)) ? 0 : 1e9;
  double ulp = std::ldexp(1.0, std::max(std::ilogb(ref), -126) - 23);
  return std::fabs(double(got) - ref) / ulp;
}

std::vector<float> samples(float lo, float hi, int n = 2000) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(d(rng));
  return v;
}

struct Unary {
  const char* name;
  std::function<float(float)> precise, fast;
  std::function<half(half)> h;
  std::function<float4(float4)> v;
  double (*ref)(double);
  float lo, hi, max_ulps;
};
#define UNARY(NAME, REF, LO, HI, ULPS)                                                                    \
  Unary {                                                                                                 \
    #NAME, [](float x) { return metal::precise::NAME(x); }, [](float x) { return metal::fast::NAME(x); }, \
        [](half x) { return metal::NAME(x); }, [](float4 x) { return metal::NAME(x); }, REF, LO, HI, ULPS \
  }

double ref_fract(double x) { return std::fmin(x - std::floor(x), 0x1.fffffep-1); }
double ref_rsqrt(double x) { return 1.0 / std::sqrt(x); }
double ref_sinpi(double x) { return std::sin(M_PI * x); }
double ref_cospi(double x) { return std::cos(M_PI * x); }
double ref_tanpi(double x) { return std::tan(M_PI * x); }
double ref_exp10(double x) { return std::pow(10.0, x); }
double ref_fabs(double x) { return std::fabs(x); }

TEST(RuntimeMath, UnaryFunctionsMatchDoubleReference) {
  const Unary fns[] = {
      UNARY(acos, std::acos, -1, 1, 4),         UNARY(acosh, std::acosh, 1, 100, 4),
      UNARY(asin, std::asin, -1, 1, 4),         UNARY(asinh, std::asinh, -100, 100, 4),
      UNARY(atan, std::atan, -100, 100, 4),     UNARY(atanh, std::atanh, -0.99f, 0.99f, 4),
      UNARY(cbrt, std::cbrt, -100, 100, 4),     UNARY(ceil, std::ceil, -100, 100, 0),
      UNARY(cos, std::cos, -10, 10, 4),         UNARY(cosh, std::cosh, -10, 10, 4),
      UNARY(cospi, ref_cospi, -10, 10, 4),      UNARY(exp, std::exp, -20, 20, 4),
      UNARY(exp2, std::exp2, -20, 20, 4),       UNARY(exp10, ref_exp10, -10, 10, 4),
      UNARY(fabs, ref_fabs, -100, 100, 0),      UNARY(floor, std::floor, -100, 100, 0),
      UNARY(fract, ref_fract, -100, 100, 0),    UNARY(log, std::log, 0.001f, 1000, 4),
      UNARY(log2, std::log2, 0.001f, 1000, 4),  UNARY(log10, std::log10, 0.001f, 1000, 4),
      UNARY(rint, std::rint, -100, 100, 0),     UNARY(round, std::round, -100, 100, 0),
      UNARY(rsqrt, ref_rsqrt, 0.001f, 1000, 2), UNARY(sin, std::sin, -10, 10, 4),
      UNARY(sinh, std::sinh, -10, 10, 4),       UNARY(sinpi, ref_sinpi, -10, 10, 4),
      UNARY(sqrt, std::sqrt, 0, 1000, 1),       UNARY(tan, std::tan, -1.5f, 1.5f, 4),
      UNARY(tanh, std::tanh, -10, 10, 4),       UNARY(tanpi, ref_tanpi, -0.49f, 0.49f, 4),
      UNARY(trunc, std::trunc, -100, 100, 0),
  };
  for (const Unary& f : fns) {
    for (float x : samples(f.lo, f.hi)) {
      double ref = f.ref(double(x));
      ASSERT_LE(ulps(f.precise(x), ref), f.max_ulps) << f.name << "(" << x << ") = " << f.precise(x) << " vs " << ref;
      // fast:: on the CPU is the same library; on CUDA it may use intrinsics
      ASSERT_LE(ulps(f.fast(x), ref), f.max_ulps + 4) << "fast::" << f.name << "(" << x << ")";
      // vectors apply the scalar function per component
      float4 v = f.v(float4(x, -x, x * 0.5f, x));
      ASSERT_TRUE(v.x == f.precise(x) || (std::isnan(v.x) && std::isnan(f.precise(x)))) << f.name;
      ASSERT_TRUE(v.z == f.precise(x * 0.5f) || std::isnan(v.z)) << f.name;
      // half: the float result rounded to half
      half hx(x);
      half hr = f.h(hx);
      double href = f.ref(double(float(hx)));
      if (std::isfinite(href) && std::fabs(href) < 60000 && std::fabs(href) > 1e-4) {
        ASSERT_LE(std::fabs(float(hr) - href), std::fabs(href) * std::ldexp(1.0, -10) + 1e-6)
            << "half " << f.name << "(" << float(hx) << ")";
      }
    }
  }
}

TEST(RuntimeMath, SpecialValues) {
  EXPECT_TRUE(std::isnan(metal::sqrt(-1.0f)));
  EXPECT_TRUE(std::isinf(metal::exp(1000.0f)));
  EXPECT_EQ(metal::sinpi(1.0f), 0.0f);
  EXPECT_EQ(metal::cospi(0.5f), 0.0f);
  EXPECT_EQ(metal::sinpi(0.5f), 1.0f);
  EXPECT_EQ(metal::fract(-0.0f), 0.0f);
  EXPECT_LT(metal::fract(-1e-10f), 1.0f);  // clamped below 1
  EXPECT_TRUE(std::isnan(metal::powr(-2.0f, 2.0f)));
  EXPECT_EQ(metal::powr(2.0f, 10.0f), 1024.0f);
  EXPECT_EQ(metal::sqrt(2), metal::sqrt(2.0f));  // integers convert to float
  EXPECT_EQ(metal::round(2.5f), 3.0f);
  EXPECT_EQ(metal::rint(2.5f), 2.0f);
}

TEST(RuntimeMath, BinaryAndTernaryFunctions) {
  auto xs = samples(-50, 50, 500), ys = samples(0.5f, 40, 500);
  for (size_t i = 0; i < xs.size(); ++i) {
    float x = xs[i], y = ys[i], z = xs[(i + 7) % xs.size()];
    double X = x, Y = y, Z = z;
    EXPECT_LE(ulps(metal::atan2(x, y), std::atan2(X, Y)), 4);
    EXPECT_LE(ulps(metal::pow(y, x * 0.1f), std::pow(Y, double(x * 0.1f))), 4);
    EXPECT_LE(ulps(metal::powr(y, x * 0.1f), std::pow(Y, double(x * 0.1f))), 4);
    EXPECT_EQ(metal::fmod(x, y), float(std::fmod(X, Y)));
    EXPECT_EQ(metal::fmin(x, z), float(std::fmin(X, Z)));
    EXPECT_EQ(metal::fmax(x, z), float(std::fmax(X, Z)));
    EXPECT_EQ(metal::fdim(x, z), float(std::fdim(X, Z)));
    EXPECT_EQ(metal::copysign(y, x), float(std::copysign(Y, X)));
    EXPECT_EQ(metal::fma(x, y, z), float(std::fma(X, Y, Z)));  // single rounding
    EXPECT_LE(ulps(metal::divide(x, y), X / Y), 0.5);
    EXPECT_EQ(metal::fmax3(x, y, z), std::max({x, y, z}));
    EXPECT_EQ(metal::fmin3(x, y, z), std::min({x, y, z}));
    float med = std::max(std::min(x, y), std::min(std::max(x, y), z));
    EXPECT_EQ(metal::fmedian3(x, y, z), med);
    EXPECT_EQ(metal::nextafter(x, y), std::nextafter(x, y));
  }
  EXPECT_TRUE(std::isnan(metal::fmax3(NAN, NAN, NAN)));
  EXPECT_EQ(metal::fmax(NAN, 1.0f), 1.0f);  // IEEE maxNum
  // vector forms with scalar broadcast
  float4 p = metal::pow(float4(1, 2, 3, 4), 2.0f);
  EXPECT_EQ(p.w, 16.0f);
  float3 f = metal::fma(float3(1, 2, 3), float3(2), 1.0f);
  EXPECT_EQ(f.z, 7.0f);
  // half nextafter steps one half ulp
  EXPECT_EQ(float(metal::nextafter(half(1.0f), half(2.0f))), 1.0f + std::ldexp(1.0f, -10));
  EXPECT_EQ(float(metal::nextafter(half(1.0f), half(0.0f))), 1.0f - std::ldexp(1.0f, -11));
  EXPECT_EQ(metal::nextafter(half(0.0f), half(-1.0f)).bits, 0x8001);
}

TEST(RuntimeMath, OutputArgumentFunctions) {
  for (float x : samples(-1000, 1000, 300)) {
    int e = 0, re = 0;
    float m = metal::frexp(x, e);
    EXPECT_EQ(m, float(std::frexp(double(x), &re)));
    EXPECT_EQ(e, re);
    EXPECT_EQ(metal::ldexp(m, e), x);
    float ip = 0;
    double rip = 0;
    EXPECT_EQ(metal::modf(x, ip), float(std::modf(double(x), &rip)));
    EXPECT_EQ(ip, float(rip));
    float c = 0;
    float s = metal::sincos(x, c);
    EXPECT_LE(ulps(s, std::sin(double(x))), 4);
    EXPECT_LE(ulps(c, std::cos(double(x))), 4);
    if (x != 0) {
      EXPECT_EQ(metal::ilogb(x), std::ilogb(double(x)));
    }
  }
  metal::int2 e2;
  float2 m2 = metal::frexp(float2(8.0f, 0.75f), e2);
  EXPECT_EQ(m2.x, 0.5f);
  EXPECT_EQ(e2.x, 4);
  EXPECT_EQ(m2.y, 0.75f);
  EXPECT_EQ(e2.y, 0);
  float2 l2 = metal::ldexp(float2(1.0f, 3.0f), metal::int2(2, -1));
  EXPECT_EQ(l2.x, 4.0f);
  EXPECT_EQ(l2.y, 1.5f);
  half hi;
  EXPECT_EQ(float(metal::modf(half(2.75f), hi)), 0.75f);
  EXPECT_EQ(float(hi), 2.0f);
}

TEST(RuntimeCommon, MatchDefinitions) {
  for (float x : samples(-3, 3, 500)) {
    EXPECT_EQ(metal::clamp(x, -1.0f, 1.0f), std::min(std::max(x, -1.0f), 1.0f));
    EXPECT_EQ(metal::saturate(x), std::min(std::max(x, 0.0f), 1.0f));
    EXPECT_EQ(metal::sign(x), x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f));
    EXPECT_EQ(metal::step(0.5f, x), x < 0.5f ? 0.0f : 1.0f);
    double t = std::min(std::max((double(x) + 1.0) / 2.0, 0.0), 1.0);
    EXPECT_NEAR(metal::smoothstep(-1.0f, 1.0f, x), t * t * (3 - 2 * t), 1e-6);
    EXPECT_NEAR(metal::mix(2.0f, 6.0f, x), 2.0 + 4.0 * x, 1e-5);
    EXPECT_EQ(metal::abs(x), std::fabs(x));
    EXPECT_EQ(metal::min(x, 0.5f), std::min(x, 0.5f));
    EXPECT_EQ(metal::max(x, 0.5f), std::max(x, 0.5f));
  }
  EXPECT_TRUE(std::signbit(metal::sign(-0.0f)));
  EXPECT_EQ(metal::sign(NAN), 0.0f);
  float4 c = metal::clamp(float4(-2, 0.5f, 2, 7), 0.0f, 1.0f);
  EXPECT_EQ(c.x, 0);
  EXPECT_EQ(c.y, 0.5f);
  EXPECT_EQ(c.z, 1);
  float3 m = metal::mix(float3(0), float3(10), float3(0.1f, 0.5f, 1.0f));
  EXPECT_NEAR(m.x, 1, 1e-6);
  EXPECT_EQ(m.z, 10);
  half4 h = metal::clamp(half4(-1.0f, 0.25f, 3.0f, 0.5f), 0.0f, 1.0f);  // stays half4
  static_assert(std::is_same<decltype(h), half4>::value, "");
  EXPECT_EQ(float(h.x), 0);
  EXPECT_EQ(float(h.z), 1);
  EXPECT_EQ(metal::min(3, -4), -4);
  EXPECT_EQ(metal::max(3u, 4u), 4u);
  EXPECT_EQ(metal::clamp(17, 0, 10), 10);
  EXPECT_EQ(metal::abs(-7), 7);
  metal::int3 ai = metal::abs(metal::int3(-1, 2, -3));
  EXPECT_EQ(ai.z, 3);
  metal::uint2 mx = metal::max(metal::uint2(1, 9), 5u);
  EXPECT_EQ(mx.x, 5u);
  EXPECT_EQ(mx.y, 9u);
  float2 sw = metal::max(float4(1, 5, 2, 0).xy, float4(3, 1, 0, 0).xy);  // swizzle arguments
  EXPECT_EQ(sw.x, 3);
  EXPECT_EQ(sw.y, 5);
}

// ---- integer functions against reference formulas in 128-bit arithmetic -------------
template <class T> T ref_sat(__int128 v) {
  __int128 lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  return T(v < lo ? lo : v > hi ? hi : v);
}
template <class T> int ref_clz(T x) {
  int n = 0;
  for (int b = int(sizeof(T) * 8) - 1; b >= 0 && !((std::make_unsigned_t<T>(x) >> b) & 1); --b) ++n;
  return n;
}
template <class T> int ref_ctz(T x) {
  int n = 0;
  for (int b = 0; b < int(sizeof(T) * 8) && !((std::make_unsigned_t<T>(x) >> b) & 1); ++b) ++n;
  return n;
}
template <class T> int ref_pop(T x) {
  int n = 0;
  for (int b = 0; b < int(sizeof(T) * 8); ++b) n += (std::make_unsigned_t<T>(x) >> b) & 1;
  return n;
}

template <class T> void check_integer_functions() {
  typedef std::make_unsigned_t<T> U;
  const int W = sizeof(T) * 8;
  std::mt19937_64 rng(7);
  std::vector<T> vals = {T(0), T(1), T(-1), std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), T(2), T(3)};
  for (int i = 0; i < 300; ++i) vals.push_back(T(rng()));
  for (T a : vals) {
    for (int k = 0; k < 8; ++k) {
      T b = vals[(size_t(a) + k * 13) % vals.size()], c = vals[(size_t(a) * 7 + k) % vals.size()];
      __int128 A = a, B = b, C = c;
      // The product computed unsigned (which wraps, where a signed __int128 would overflow for
      // ulong's largest values: undefined); back to signed it is exact for every other type.
      unsigned __int128 UP = static_cast<unsigned __int128>(A) * static_cast<unsigned __int128>(B);
      __int128 P = static_cast<__int128>(UP);
      T hi = std::is_signed<T>::value ? T(P >> W) : T(UP >> W);
      ASSERT_EQ(metal::addsat(a, b), ref_sat<T>(A + B)) << +a << " " << +b;
      ASSERT_EQ(metal::subsat(a, b), ref_sat<T>(A - B)) << +a << " " << +b;
      if (W < 64) {
        ASSERT_EQ(metal::madsat(a, b, c), ref_sat<T>(P + C)) << +a << " " << +b << " " << +c;
      } else if ((P >> 63) == 0 || (P >> 63) == -1) {
        ASSERT_EQ(metal::madsat(a, b, c), ref_sat<T>(P + C));
      }
      ASSERT_EQ(metal::mulhi(a, b), hi) << +a << " " << +b;
      ASSERT_EQ(metal::madhi(a, b, c), T(U(U(hi) + U(c))));
      ASSERT_EQ(metal::hadd(a, b), T((A + B) >> 1));
      ASSERT_EQ(metal::rhadd(a, b), T((A + B + 1) >> 1));
      ASSERT_EQ(metal::absdiff(a, b), T(U(A > B ? A - B : B - A)));
      ASSERT_EQ(metal::max3(a, b, c), std::max({a, b, c}));
      ASSERT_EQ(metal::min3(a, b, c), std::min({a, b, c}));
      ASSERT_EQ(metal::median3(a, b, c), std::max(std::min(a, b), std::min(std::max(a, b), c)));
      int r = int(U(b) % U(W));
      ASSERT_EQ(metal::rotate(a, b), T(r == 0 ? U(a) : U(U(U(a) << r) | U(U(a) >> (W - r)))));
    }
    ASSERT_EQ(int(metal::clz(a)), ref_clz(a)) << +a;
    ASSERT_EQ(int(metal::ctz(a)), ref_ctz(a)) << +a;
    ASSERT_EQ(int(metal::popcount(a)), ref_pop(a)) << +a;
    U rev = 0;
    for (int bit = 0; bit < W; ++bit) rev = U(rev | U(((U(a) >> bit) & 1u) << (W - 1 - bit)));
    ASSERT_EQ(metal::reverse_bits(a), T(rev));
    ASSERT_EQ(metal::abs(a), T(a < 0 ? T(U(0) - U(a)) : a));  // -INT_MIN: undefined; wraps to itself
    for (uint32_t off = 0; off < uint32_t(W); off += 3) {
      for (uint32_t bits = 0; off + bits <= uint32_t(W); bits += 5) {
        U field = bits == 0 ? 0 : U(U(a) >> off) & U(bits >= uint32_t(W) ? ~U(0) : U((U(1) << bits) - 1));
        __int128 expect = field;
        if (std::is_signed<T>::value && bits > 0 && bits < uint32_t(W) && ((field >> (bits - 1)) & 1))
          expect = __int128(field) - (__int128(1) << bits);
        ASSERT_EQ(metal::extract_bits(a, off, bits), T(expect)) << +a << " " << off << " " << bits;
        T base = vals[(off + bits) % vals.size()];
        U mask = bits == 0 ? 0 : U((bits >= uint32_t(W) ? ~U(0) : U((U(1) << bits) - 1)) << off);
        ASSERT_EQ(metal::insert_bits(base, a, off, bits), T(U((U(base) & U(~mask)) | (U(U(a) << off) & mask))));
      }
    }
  }
}

TEST(RuntimeInteger, Char) { check_integer_functions<signed char>(); }
TEST(RuntimeInteger, UChar) { check_integer_functions<unsigned char>(); }
TEST(RuntimeInteger, Short) { check_integer_functions<short>(); }
TEST(RuntimeInteger, UShort) { check_integer_functions<unsigned short>(); }
TEST(RuntimeInteger, Int) { check_integer_functions<int>(); }
TEST(RuntimeInteger, UInt) { check_integer_functions<unsigned int>(); }
TEST(RuntimeInteger, Long) { check_integer_functions<long>(); }
TEST(RuntimeInteger, ULong) { check_integer_functions<unsigned long>(); }

TEST(RuntimeInteger, TwentyFourBitAndVectors) {
  EXPECT_EQ(metal::mul24(0x1000001, 3), 3);  // high bits ignored
  EXPECT_EQ(metal::mul24(-2, 3), -6);
  EXPECT_EQ(metal::mad24(4u, 5u, 6u), 26u);
  metal::uint4 v(1, 0x80000000u, 0xffu, 0);
  metal::uint4 c = metal::clz(v), p = metal::popcount(v);
  EXPECT_EQ(c.x, 31u);
  EXPECT_EQ(c.y, 0u);
  EXPECT_EQ(c.w, 32u);
  EXPECT_EQ(p.z, 8u);
  metal::int2 sat = metal::addsat(metal::int2(INT32_MAX, -5), metal::int2(1, 2));
  EXPECT_EQ(sat.x, INT32_MAX);
  EXPECT_EQ(sat.y, -3);
  metal::uint2 eb = metal::extract_bits(metal::uint2(0xf0u, 0x0fu), 4u, 4u);
  EXPECT_EQ(eb.x, 0xfu);
  EXPECT_EQ(eb.y, 0u);
}

TEST(RuntimeRelational, Classification) {
  const float vals[] = {0.0f, -0.0f, 1.0f, -2.5f, 1e-40f, INFINITY, -INFINITY, NAN, 3.4e38f};
  for (float x : vals) {
    EXPECT_EQ(metal::isnan(x), std::isnan(x)) << x;
    EXPECT_EQ(metal::isinf(x), std::isinf(x)) << x;
    EXPECT_EQ(metal::isfinite(x), std::isfinite(x)) << x;
    EXPECT_EQ(metal::isnormal(x), std::isnormal(x)) << x;
    EXPECT_EQ(metal::signbit(x), std::signbit(x)) << x;
    EXPECT_EQ(metal::isunordered(x, 1.0f), std::isunordered(x, 1.0f));
    EXPECT_EQ(metal::isordered(x, 1.0f), !std::isunordered(x, 1.0f));
  }
  EXPECT_FALSE(metal::isnormal(half(1e-6f)));  // subnormal in half, normal in float
  EXPECT_TRUE(metal::isnormal(half(1e-4f)));
  EXPECT_TRUE(metal::isinf(half(1e5f)));
  metal::bool4 n = metal::isnan(float4(0, NAN, 1, NAN));
  EXPECT_TRUE(!n.x && n.y && !n.z && n.w);
  EXPECT_TRUE(metal::any(metal::isnan(float4(0, NAN, 1, 2))));
  EXPECT_FALSE(metal::all(metal::isfinite(float4(0, INFINITY, 1, 2))));
  metal::bool2 nn = !metal::bool2(true, false);  // MSL's not()
  EXPECT_TRUE(!nn.x && nn.y);
}

TEST(RuntimeGeometric, MatchDoubleReference) {
  auto s = samples(-10, 10, 600);
  for (size_t i = 0; i + 6 < s.size(); i += 6) {
    float3 a(s[i], s[i + 1], s[i + 2]), b(s[i + 3], s[i + 4], s[i + 5]);
    double A[3] = {a.x, a.y, a.z}, B[3] = {b.x, b.y, b.z};
    double d = A[0] * B[0] + A[1] * B[1] + A[2] * B[2];
    double la = std::sqrt(A[0] * A[0] + A[1] * A[1] + A[2] * A[2]);
    EXPECT_NEAR(metal::dot(a, b), d, 1e-4 * (1 + std::fabs(d)));
    EXPECT_NEAR(metal::length(a), la, 1e-5 * la);
    EXPECT_NEAR(metal::length_squared(a), la * la, 1e-5 * la * la);
    double dd =
        std::sqrt((A[0] - B[0]) * (A[0] - B[0]) + (A[1] - B[1]) * (A[1] - B[1]) + (A[2] - B[2]) * (A[2] - B[2]));
    EXPECT_NEAR(metal::distance(a, b), dd, 1e-5 * (1 + dd));
    EXPECT_NEAR(metal::distance_squared(a, b), dd * dd, 1e-4 * (1 + dd * dd));
    float3 c = metal::cross(a, b);
    EXPECT_NEAR(c.x, A[1] * B[2] - A[2] * B[1], 1e-4);
    EXPECT_NEAR(c.y, A[2] * B[0] - A[0] * B[2], 1e-4);
    EXPECT_NEAR(c.z, A[0] * B[1] - A[1] * B[0], 1e-4);
    float3 n = metal::normalize(a);
    EXPECT_NEAR(n.x, A[0] / la, 1e-6);
    EXPECT_NEAR(n.z, A[2] / la, 1e-6);
    float3 nb = metal::normalize(b);
    float3 r = metal::reflect(a, nb);
    double dn = A[0] * nb.x + A[1] * nb.y + A[2] * nb.z;
    EXPECT_NEAR(r.y, A[1] - 2 * dn * nb.y, 1e-4);
    float3 ff = metal::faceforward(b, a, nb);
    double sgn = (double(nb.x) * A[0] + double(nb.y) * A[1] + double(nb.z) * A[2]) < 0 ? 1 : -1;
    EXPECT_EQ(ff.x, float(sgn * b.x));
    float3 ia = metal::normalize(a);
    float eta = 0.7f;
    float3 rf = metal::refract(ia, nb, eta);
    double di = double(nb.x) * ia.x + double(nb.y) * ia.y + double(nb.z) * ia.z;
    double k = 1 - eta * eta * (1 - di * di);
    if (k < 0) {
      EXPECT_EQ(rf.x, 0.0f);
    } else {
      EXPECT_NEAR(rf.x, eta * ia.x - (eta * di + std::sqrt(k)) * nb.x, 1e-5);
    }
  }
  EXPECT_EQ(metal::dot(float2(1, 2), float2(3, 4)), 11.0f);
  EXPECT_EQ(metal::length(float4(2, 0, 0, 0).xy), 2.0f);  // swizzle argument
  EXPECT_EQ(float(metal::dot(metal::half2(1.0f, 2.0f), metal::half2(3.0f, 4.0f))), 11.0f);
  EXPECT_EQ(metal::fast::length(float2(3, 4)), 5.0f);
  EXPECT_EQ(metal::precise::distance(float2(0, 0), float2(3, 4)), 5.0f);
}
}  // namespace
