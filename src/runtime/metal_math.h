// MSL math functions (spec "Math functions"): float, half and bfloat, scalars and
// vectors, each in metal::precise::, metal::fast:: and metal:: (the default set, which
// is precise unless METAL_FAST_MATH is defined: correctness first; fast-math is an
// option the backend can turn on). Half and bfloat compute in float and round once.
#pragma once
#include "metal_elementwise.h"

namespace metal {
namespace detail {
// Sign and class tests on the bits, so that fast-math compiler flags (-fno-signed-zeros)
// cannot fold the special cases away.
METAL_FUNC bool isnan_bits(float x) { return (f32_bits(x) & 0x7fffffffu) > 0x7f800000u; }
METAL_FUNC bool isinf_bits(float x) { return (f32_bits(x) & 0x7fffffffu) == 0x7f800000u; }
METAL_FUNC bool signbit_bits(float x) { return (f32_bits(x) >> 31) != 0; }
METAL_FUNC float signed_zero(bool negative) { return f32_from_bits(negative ? 0x80000000u : 0u); }

#if defined(METAL_TARGET_CUDA)
METAL_FUNC float sinpi_f(float x) { return ::sinpif(x); }
METAL_FUNC float cospi_f(float x) { return ::cospif(x); }
METAL_FUNC float exp10_f(float x) { return ::exp10f(x); }
METAL_FUNC float rsqrt_f(float x) { return ::rsqrtf(x); }
#else
// The reduction x - 2*rint(x/2) runs in double: every step is exact there for a float x
// (|x| < 2^24 spans at most 48 bits; larger floats are even integers, r = 0), in whatever
// order -fassociative-math (fast-math builds) evaluates it. In float, g++ turned
// 1 - (x - 2n) into (1 - x) + 2n and sinpi(-1.0000001f) into -0. The rest runs in double.
METAL_FUNC float sinpi_f(float x) {
  if (isinf_bits(x)) return __builtin_nanf("");
  double d = double(x), r = d - 2.0 * __builtin_rint(0.5 * d);  // in [-1, 1]
  if (r > 0.5) r = 1.0 - r;                                     // sin(pi r) = sin(pi (1 - r))
  if (r < -0.5) r = -1.0 - r;
  if (r == 0.0) return signed_zero(signbit_bits(x));  // sinpi(+-n) is +-0 (IEEE 754-2019 9.2.1)
  return float(__builtin_sin(3.14159265358979323846 * r));
}
METAL_FUNC float cospi_f(float x) {
  if (isinf_bits(x)) return __builtin_nanf("");
  double d = double(x), r = __builtin_fabs(d - 2.0 * __builtin_rint(0.5 * d));  // in [0, 1]
  if (r == 0.5) return 0.0f;                                                    // cospi(n + 1/2) is +0
  // cos(pi r) = sin(pi (1/2 - r)): exact arguments near the zero at 1/2
  return float(__builtin_sin(3.14159265358979323846 * (0.5 - r)));
}
METAL_FUNC float exp10_f(float x) { return float(__builtin_pow(10.0, double(x))); }
METAL_FUNC float rsqrt_f(float x) { return float(1.0 / __builtin_sqrt(double(x))); }
#endif
METAL_FUNC float tanpi_f(float x) {
  // tan(pi x) has period 1: reduce exactly, then tan(pi r) = sinpi(r) / cospi(r).
  float n = METAL_RT_LIBM(rint)(x), r = x - n;
  // At integers, IEEE 754-2019 9.2.1 (and C23) give the sign of sinpi(x) / cospi(x):
  // tanpi(+-n) = +-0 for even n, -+0 for odd n. (At n + 1/2 the quotient is already
  // +inf for even n and -inf for odd n.)
  if (r == 0.0f) {
    float h = 0.5f * n;
    return signed_zero(signbit_bits(x) != (METAL_RT_LIBM(rint)(h) != h));
  }
  return sinpi_f(r) / cospi_f(r);
}
// OpenCL C's fract (MSL gives the formula only): fract(+-0) = +-0, fract(+-inf) = +-0
// (x - floor(x) would be NaN, and clamping it would give 0x1.fffffep-1), NaN stays NaN.
METAL_FUNC float fract_f(float x) {
  if (isnan_bits(x)) return x;
  if (x == 0.0f || isinf_bits(x)) return signed_zero(signbit_bits(x));
  return METAL_RT_LIBM(fmin)(x - METAL_RT_LIBM(floor)(x), 0x1.fffffep-1f);
}
// powr is pow for x >= 0 (-0 counts as +0: powr(-0, -1) = +inf, not -inf); NaN for x < 0.
METAL_FUNC float powr_f(float x, float y) {
  return x < 0.0f ? METAL_RT_LIBM(nan)("") : METAL_RT_LIBM(pow)(METAL_RT_LIBM(fabs)(x), y);
}
METAL_FUNC float fmedian3_f(float a, float b, float c) {
  return METAL_RT_LIBM(fmax)(METAL_RT_LIBM(fmin)(a, b), METAL_RT_LIBM(fmin)(METAL_RT_LIBM(fmax)(a, b), c));
}
#if defined(METAL_TARGET_CUDA)
#define METAL_RT_FAST(cuda_name, cpu_name) cuda_name
#else
#define METAL_RT_FAST(cuda_name, cpu_name) cpu_name
#endif

// One functor per function and mode: the float body, applied to half/bfloat by
// converting in and out.
#define METAL_RT_FN1(NAME, P, F)                                                                                   \
  namespace detail {                                                                                               \
  struct NAME##_pfn {                                                                                              \
    template <class T> METAL_FUNC T operator()(T x) const { return T(P(float(x))); }                               \
  };                                                                                                               \
  struct NAME##_ffn {                                                                                              \
    template <class T> METAL_FUNC T operator()(T x) const { return T(F(float(x))); }                               \
  };                                                                                                               \
  }                                                                                                                \
  namespace precise {                                                                                              \
  template <class X, enable_if_t<detail::float_args<X>, int> = 0> METAL_FUNC detail::float_t<X> NAME(const X& x) { \
    return detail::apply(detail::NAME##_pfn{}, detail::float_t<X>(x));                                             \
  }                                                                                                                \
  }                                                                                                                \
  namespace fast {                                                                                                 \
  template <class X, enable_if_t<detail::float_args<X>, int> = 0> METAL_FUNC detail::float_t<X> NAME(const X& x) { \
    return detail::apply(detail::NAME##_ffn{}, detail::float_t<X>(x));                                             \
  }                                                                                                                \
  }                                                                                                                \
  using METAL_RT_DEFAULT_MATH::NAME;

#define METAL_RT_FN2(NAME, P, F)                                                                    \
  namespace detail {                                                                                \
  struct NAME##_pfn {                                                                               \
    template <class T> METAL_FUNC T operator()(T x, T y) const { return T(P(float(x), float(y))); } \
  };                                                                                                \
  struct NAME##_ffn {                                                                               \
    template <class T> METAL_FUNC T operator()(T x, T y) const { return T(F(float(x), float(y))); } \
  };                                                                                                \
  }                                                                                                 \
  namespace precise {                                                                               \
  template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>                       \
  METAL_FUNC detail::float_t<X, Y> NAME(const X& x, const Y& y) {                                   \
    typedef detail::float_t<X, Y> R;                                                                \
    return detail::apply(detail::NAME##_pfn{}, R(x), R(y));                                         \
  }                                                                                                 \
  }                                                                                                 \
  namespace fast {                                                                                  \
  template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>                       \
  METAL_FUNC detail::float_t<X, Y> NAME(const X& x, const Y& y) {                                   \
    typedef detail::float_t<X, Y> R;                                                                \
    return detail::apply(detail::NAME##_ffn{}, R(x), R(y));                                         \
  }                                                                                                 \
  }                                                                                                 \
  using METAL_RT_DEFAULT_MATH::NAME;

#define METAL_RT_FN3(NAME, P)                                                                                      \
  namespace detail {                                                                                               \
  struct NAME##_pfn {                                                                                              \
    template <class T> METAL_FUNC T operator()(T x, T y, T z) const { return T(P(float(x), float(y), float(z))); } \
  };                                                                                                               \
  }                                                                                                                \
  namespace precise {                                                                                              \
  template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0>                          \
  METAL_FUNC detail::float_t<X, Y, Z> NAME(const X& x, const Y& y, const Z& z) {                                   \
    typedef detail::float_t<X, Y, Z> R;                                                                            \
    return detail::apply(detail::NAME##_pfn{}, R(x), R(y), R(z));                                                  \
  }                                                                                                                \
  }                                                                                                                \
  namespace fast {                                                                                                 \
  using precise::NAME;                                                                                             \
  }                                                                                                                \
  using precise::NAME;
}  // namespace detail

#if defined(METAL_FAST_MATH)
#define METAL_RT_DEFAULT_MATH fast
#else
#define METAL_RT_DEFAULT_MATH precise
#endif
#define METAL_RT_L(name) METAL_RT_LIBM(name)

METAL_RT_FN1(acos, METAL_RT_L(acos), METAL_RT_L(acos))
METAL_RT_FN1(acosh, METAL_RT_L(acosh), METAL_RT_L(acosh))
METAL_RT_FN1(asin, METAL_RT_L(asin), METAL_RT_L(asin))
METAL_RT_FN1(asinh, METAL_RT_L(asinh), METAL_RT_L(asinh))
METAL_RT_FN1(atan, METAL_RT_L(atan), METAL_RT_L(atan))
METAL_RT_FN1(atanh, METAL_RT_L(atanh), METAL_RT_L(atanh))
METAL_RT_FN1(cbrt, METAL_RT_L(cbrt), METAL_RT_L(cbrt))
METAL_RT_FN1(ceil, METAL_RT_L(ceil), METAL_RT_L(ceil))
METAL_RT_FN1(cos, METAL_RT_L(cos), METAL_RT_FAST(__cosf, METAL_RT_L(cos)))
METAL_RT_FN1(cosh, METAL_RT_L(cosh), METAL_RT_L(cosh))
METAL_RT_FN1(cospi, detail::cospi_f, detail::cospi_f)
METAL_RT_FN1(exp, METAL_RT_L(exp), METAL_RT_FAST(__expf, METAL_RT_L(exp)))
METAL_RT_FN1(exp2, METAL_RT_L(exp2), METAL_RT_L(exp2))
METAL_RT_FN1(exp10, detail::exp10_f, METAL_RT_FAST(__exp10f, detail::exp10_f))
METAL_RT_FN1(fabs, METAL_RT_L(fabs), METAL_RT_L(fabs))
METAL_RT_FN1(floor, METAL_RT_L(floor), METAL_RT_L(floor))
METAL_RT_FN1(fract, detail::fract_f, detail::fract_f)
METAL_RT_FN1(log, METAL_RT_L(log), METAL_RT_FAST(__logf, METAL_RT_L(log)))
METAL_RT_FN1(log2, METAL_RT_L(log2), METAL_RT_FAST(__log2f, METAL_RT_L(log2)))
METAL_RT_FN1(log10, METAL_RT_L(log10), METAL_RT_FAST(__log10f, METAL_RT_L(log10)))
METAL_RT_FN1(rint, METAL_RT_L(rint), METAL_RT_L(rint))
METAL_RT_FN1(round, METAL_RT_L(round), METAL_RT_L(round))
METAL_RT_FN1(rsqrt, detail::rsqrt_f, detail::rsqrt_f)
METAL_RT_FN1(sin, METAL_RT_L(sin), METAL_RT_FAST(__sinf, METAL_RT_L(sin)))
METAL_RT_FN1(sinh, METAL_RT_L(sinh), METAL_RT_L(sinh))
METAL_RT_FN1(sinpi, detail::sinpi_f, detail::sinpi_f)
METAL_RT_FN1(sqrt, METAL_RT_L(sqrt), METAL_RT_L(sqrt))
METAL_RT_FN1(tan, METAL_RT_L(tan), METAL_RT_FAST(__tanf, METAL_RT_L(tan)))
METAL_RT_FN1(tanh, METAL_RT_L(tanh), METAL_RT_L(tanh))
METAL_RT_FN1(tanpi, detail::tanpi_f, detail::tanpi_f)
METAL_RT_FN1(trunc, METAL_RT_L(trunc), METAL_RT_L(trunc))

METAL_RT_FN2(atan2, METAL_RT_L(atan2), METAL_RT_L(atan2))
// copysign moves a sign bit. On half and bfloat it works on the bits: a conversion through
// float may drop a NaN's sign (CUDA's cvt.rn.f16.f32 returns the canonical NaN).
namespace detail {
struct copysign_bits_fn {
  template <class T> METAL_FUNC T operator()(T x, T y) const {
    if constexpr (is_same<T, float>::value) {
      return METAL_RT_L(copysign)
      (x, y);
    } else {
      T r = x;
      r.bits = ushort((x.bits & 0x7fffu) | (y.bits & 0x8000u));
      return r;
    }
  }
};
}  // namespace detail
namespace precise {
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::float_t<X, Y> copysign(const X& x, const Y& y) {
  typedef detail::float_t<X, Y> R;
  return detail::apply(detail::copysign_bits_fn{}, R(x), R(y));
}
}  // namespace precise
namespace fast {
using precise::copysign;  // exact either way
}  // namespace fast
using METAL_RT_DEFAULT_MATH::copysign;
METAL_RT_FN2(fdim, METAL_RT_L(fdim), METAL_RT_L(fdim))
METAL_RT_FN2(fmax, METAL_RT_L(fmax), METAL_RT_L(fmax))
METAL_RT_FN2(fmin, METAL_RT_L(fmin), METAL_RT_L(fmin))
METAL_RT_FN2(fmod, METAL_RT_L(fmod), METAL_RT_L(fmod))
METAL_RT_FN2(pow, METAL_RT_L(pow), METAL_RT_FAST(__powf, METAL_RT_L(pow)))
METAL_RT_FN2(powr, detail::powr_f, METAL_RT_FAST(__powf, detail::powr_f))

namespace detail {
METAL_FUNC float divide_p(float x, float y) { return x / y; }
METAL_FUNC float fmax3_f(float a, float b, float c) {
  return METAL_RT_L(fmax)
  (METAL_RT_L(fmax)(a, b), c);
}
METAL_FUNC float fmin3_f(float a, float b, float c) {
  return METAL_RT_L(fmin)
  (METAL_RT_L(fmin)(a, b), c);
}
}  // namespace detail
METAL_RT_FN2(divide, detail::divide_p, METAL_RT_FAST(__fdividef, detail::divide_p))
METAL_RT_FN3(fma, METAL_RT_L(fma))
METAL_RT_FN3(fmax3, detail::fmax3_f)
METAL_RT_FN3(fmin3, detail::fmin3_f)
METAL_RT_FN3(fmedian3, detail::fmedian3_f)

// nextafter steps one unit in the last place of the argument's own format.
namespace detail {
template <class H> METAL_FUNC H nextafter16(H x, H y) {
  float fx = float(x), fy = float(y);
  if (fx != fx || fy != fy) return H(fx + fy);
  if (fx == fy) return y;
  if (fx == 0.0f) return H::from_bits(ushort((fy > 0 ? 0x0000u : 0x8000u) | 1u));
  bool up = (fy > fx) == (fx > 0.0f);  // away from zero?
  return H::from_bits(ushort(up ? x.bits + 1 : x.bits - 1));
}
struct nextafter_fn {
  METAL_FUNC float operator()(float x, float y) const {
    return METAL_RT_L(nextafter)
    (x, y);
  }
  METAL_FUNC half operator()(half x, half y) const { return nextafter16(x, y); }
  METAL_FUNC bfloat operator()(bfloat x, bfloat y) const { return nextafter16(x, y); }
};
}  // namespace detail
namespace precise {
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::float_t<X, Y> nextafter(const X& x, const Y& y) {
  typedef detail::float_t<X, Y> R;
  return detail::apply(detail::nextafter_fn{}, R(x), R(y));
}
}  // namespace precise
namespace fast {
using precise::nextafter;
}
using precise::nextafter;

// Functions with an output argument (thread T& in MSL) or a non-float result.
namespace precise {
// frexp(+-inf or NaN) returns x and stores 0 (C leaves the exponent unspecified; glibc and
// CUDA store 0). Set here, so that every target agrees.
template <class T, enable_if_t<detail::scalar_floating_point<T>, int> = 0> METAL_FUNC T frexp(T x, int& e) {
  float f = float(x);
  if (detail::isnan_bits(f) || detail::isinf_bits(f)) {
    e = 0;
    return x;
  }
  return T(METAL_RT_L(frexp)(f, &e));
}
template <class T, int N> METAL_FUNC vec<T, N> frexp(const vec<T, N>& x, vec<int, N>& e) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = frexp(x.s[i], e.s[i]);
  return r;
}
template <class T, enable_if_t<detail::scalar_floating_point<T>, int> = 0> METAL_FUNC T ldexp(T x, int k) {
  return T(METAL_RT_L(ldexp)(float(x), k));
}
template <class T, int N> METAL_FUNC vec<T, N> ldexp(const vec<T, N>& x, const vec<int, N>& k) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = ldexp(x.s[i], k.s[i]);
  return r;
}
template <class T, int N> METAL_FUNC vec<T, N> ldexp(const vec<T, N>& x, int k) { return ldexp(x, vec<int, N>(k)); }
template <class T, enable_if_t<detail::scalar_floating_point<T>, int> = 0> METAL_FUNC T modf(T x, T& ip) {
  float i;
  float f = METAL_RT_L(modf)
  (float(x), &i);
  ip = T(i);
  return T(f);
}
template <class T, int N> METAL_FUNC vec<T, N> modf(const vec<T, N>& x, vec<T, N>& ip) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = modf(x.s[i], ip.s[i]);
  return r;
}
template <class T, enable_if_t<detail::scalar_floating_point<T>, int> = 0> METAL_FUNC T sincos(T x, T& c) {
  c = T(METAL_RT_L(cos)(float(x)));
  return T(METAL_RT_L(sin)(float(x)));
}
template <class T, int N> METAL_FUNC vec<T, N> sincos(const vec<T, N>& x, vec<T, N>& c) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = sincos(x.s[i], c.s[i]);
  return r;
}
// ilogb(+-0) = ilogb(NaN) = INT_MIN and ilogb(+-inf) = INT_MAX, on every target (C's
// FP_ILOGB0/FP_ILOGBNAN differ between libcs: INT_MIN on x86-64 glibc and CUDA,
// -INT_MAX/INT_MAX on aarch64 glibc).
template <class T, enable_if_t<detail::scalar_floating_point<T>, int> = 0> METAL_FUNC int ilogb(T x) {
  float f = float(x);
  if (f == 0.0f || detail::isnan_bits(f)) return -2147483647 - 1;
  if (detail::isinf_bits(f)) return 2147483647;
  return METAL_RT_L(ilogb)
  (f);
}
template <class T, int N> METAL_FUNC vec<int, N> ilogb(const vec<T, N>& x) {
  vec<int, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = ilogb(x.s[i]);
  return r;
}
}  // namespace precise
namespace fast {
using precise::frexp;
using precise::ilogb;
using precise::ldexp;
using precise::modf;
using precise::sincos;
}  // namespace fast
using precise::frexp;
using precise::ilogb;
using precise::ldexp;
using precise::modf;
using precise::sincos;

#undef METAL_RT_FN1
#undef METAL_RT_FN2
#undef METAL_RT_FN3
#undef METAL_RT_L
#undef METAL_RT_FAST
}  // namespace metal
