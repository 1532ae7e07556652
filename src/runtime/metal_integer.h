// MSL integer functions (spec "Integer functions") for char..ulong scalars and vectors.
// abs, min, max and clamp are in metal_common.h (shared with floats).
#pragma once
#include "metal_common.h"

namespace metal {
namespace detail {
template <class T> using uns_t = make_unsigned_t<T>;
template <class T> constexpr int bits_of = int(sizeof(T) * 8);

template <class T> METAL_FUNC int clz_u(T x) {  // x unsigned
  if (x == 0) return bits_of<T>;
#if defined(METAL_TARGET_CUDA)
  if constexpr (sizeof(T) == 8)
    return __clzll((long long)x);
  else
    return __clz(int(uint(x))) - (32 - bits_of<T>);
#else
  if constexpr (sizeof(T) == 8)
    return __builtin_clzl((unsigned long)x);
  else
    return __builtin_clz(uint(x)) - (32 - bits_of<T>);
#endif
}
template <class T> METAL_FUNC int ctz_u(T x) {
  if (x == 0) return bits_of<T>;
#if defined(METAL_TARGET_CUDA)
  if constexpr (sizeof(T) == 8)
    return __ffsll((long long)x) - 1;
  else
    return __ffs(int(uint(x))) - 1;
#else
  if constexpr (sizeof(T) == 8)
    return __builtin_ctzl((unsigned long)x);
  else
    return __builtin_ctz(uint(x));
#endif
}
template <class T> METAL_FUNC int popcount_u(T x) {
#if defined(METAL_TARGET_CUDA)
  if constexpr (sizeof(T) == 8)
    return __popcll((unsigned long long)x);
  else
    return __popc(uint(x));
#else
  if constexpr (sizeof(T) == 8)
    return __builtin_popcountl((unsigned long)x);
  else
    return __builtin_popcount(uint(x));
#endif
}
template <class T> METAL_FUNC T reverse_u(T x) {
#if defined(METAL_TARGET_CUDA)
  if constexpr (sizeof(T) == 8)
    return T(__brevll((unsigned long long)x));
  else
    return T(__brev(uint(x)) >> (32 - bits_of<T>));
#else
  T r = 0;
  for (int i = 0; i < bits_of<T>; ++i) r = T((r << 1) | ((x >> i) & 1u));
  return r;
#endif
}
// High half of the full product, via a wider type (or the 128-bit product for 64-bit).
template <class T> METAL_FUNC T mulhi_s(T a, T b) {
  if constexpr (sizeof(T) < 8) {
    typedef conditional_t<is_signed<T>::value, long, ulong> W;
    return T((W(a) * W(b)) >> bits_of<T>);
  } else {
#if defined(METAL_TARGET_CUDA)
    if constexpr (is_signed<T>::value)
      return T(__mul64hi((long long)a, (long long)b));
    else
      return T(__umul64hi((unsigned long long)a, (unsigned long long)b));
#else
    if constexpr (is_signed<T>::value)
      return T((__int128(a) * __int128(b)) >> 64);
    else
      return T((unsigned __int128)(a) * (unsigned __int128)(b) >> 64);
#endif
  }
}
// Saturating arithmetic. Narrow types compute exactly in 64 bits and clamp; 64-bit
// types detect overflow from the wrapped result (no __builtin_*_overflow in NVRTC).
template <class T> METAL_FUNC T clamp_to(long v) {
  return v < long(numeric_limits<T>::min())   ? numeric_limits<T>::min()
         : v > long(numeric_limits<T>::max()) ? numeric_limits<T>::max()
                                              : T(v);
}
template <class T> METAL_FUNC T addsat_s(T a, T b) {
  if constexpr (sizeof(T) < 8)
    return clamp_to<T>(long(a) + long(b));
  else {
    T r = T(uns_t<T>(a) + uns_t<T>(b));
    if constexpr (is_signed<T>::value) {
      if (((a ^ r) & (b ^ r)) < 0) return a < 0 ? numeric_limits<T>::min() : numeric_limits<T>::max();
      return r;
    } else {
      return r < a ? numeric_limits<T>::max() : r;
    }
  }
}
template <class T> METAL_FUNC T subsat_s(T a, T b) {
  if constexpr (sizeof(T) < 8)
    return clamp_to<T>(long(a) - long(b));
  else {
    T r = T(uns_t<T>(a) - uns_t<T>(b));
    if constexpr (is_signed<T>::value) {
      if (((a ^ b) & (a ^ r)) < 0) return a < 0 ? numeric_limits<T>::min() : numeric_limits<T>::max();
      return r;
    } else {
      return a < b ? T(0) : r;
    }
  }
}
template <class T> METAL_FUNC T madsat_s(T a, T b, T c) {
  if constexpr (sizeof(T) < 4)
    return clamp_to<T>(long(a) * long(b) + long(c));
  else if constexpr (sizeof(T) == 4 && is_signed<T>::value) {
    long p = long(a) * long(b) + long(c);  // |a*b| <= 2^62: no overflow
    return clamp_to<T>(p);
  } else if constexpr (sizeof(T) == 4) {
    ulong p = ulong(a) * ulong(b) + ulong(c);  // <= 2^64 - 2^33 + 2: fits
    return p > ulong(numeric_limits<T>::max()) ? numeric_limits<T>::max() : T(p);
  } else {
    T lo = T(uns_t<T>(a) * uns_t<T>(b)), hi = mulhi_s(a, b);
    bool ovf = is_signed<T>::value ? (hi != (lo < 0 ? T(-1) : T(0))) : (hi != 0);
    if (ovf) {
      bool neg = is_signed<T>::value && ((a < T(0)) != (b < T(0)));
      return neg ? numeric_limits<T>::min() : numeric_limits<T>::max();
    }
    return addsat_s(lo, c);
  }
}

// The low 24 bits of x, sign-extended (the shift right of a negative int is arithmetic on
// every compiler we target; the shift left is done unsigned).
template <class T> METAL_FUNC int sext24(T x) { return int(uint(x) << 8) >> 8; }

#define METAL_RT_IFN(NAME, ARGS, BODY)                         \
  struct NAME##_ifn {                                          \
    template <class T> METAL_FUNC auto operator() ARGS const { \
      typedef uns_t<T> U;                                      \
      (void)sizeof(U);                                         \
      BODY                                                     \
    }                                                          \
  };
METAL_RT_IFN(absdiff, (T a, T b), return a > b ? T(U(a) - U(b)) : T(U(b) - U(a));)
METAL_RT_IFN(addsat, (T a, T b), return addsat_s(a, b);)
METAL_RT_IFN(subsat, (T a, T b), return subsat_s(a, b);)
METAL_RT_IFN(clz, (T x), return T(clz_u(U(x)));)
METAL_RT_IFN(ctz, (T x), return T(ctz_u(U(x)));)
METAL_RT_IFN(popcount, (T x), return T(popcount_u(U(x)));)
METAL_RT_IFN(reverse_bits, (T x), return T(reverse_u(U(x)));)
// (a + b) >> 1 and (a + b + 1) >> 1 without overflow.
METAL_RT_IFN(hadd, (T a, T b), return T((a >> 1) + (b >> 1) + (a & b & T(1)));)
METAL_RT_IFN(rhadd, (T a, T b), return T((a >> 1) + (b >> 1) + ((a | b) & T(1)));)
// 24-bit operands: the low 24 bits (sign-extended for signed types).
// Products and sums wrap (computed unsigned, MSL integer semantics).
METAL_RT_IFN(mul24, (T a, T b), if constexpr (is_signed<T>::value) return T(uint(sext24(a)) * uint(sext24(b)));
             else return T((uint(a) & 0xffffffu) * (uint(b) & 0xffffffu));)
METAL_RT_IFN(mad24, (T a, T b, T c), return T(wrap_t<T>(mul24_ifn{}(a, b)) + wrap_t<T>(c));)
METAL_RT_IFN(mulhi, (T a, T b), return mulhi_s(a, b);)
METAL_RT_IFN(madhi, (T a, T b, T c), return T(wrap_t<T>(mulhi_s(a, b)) + wrap_t<T>(c));)
METAL_RT_IFN(madsat, (T a, T b, T c), return madsat_s(a, b, c);)
METAL_RT_IFN(max3, (T a, T b, T c), return max_fn{}(max_fn{}(a, b), c);)
METAL_RT_IFN(min3, (T a, T b, T c), return min_fn{}(min_fn{}(a, b), c);)
METAL_RT_IFN(median3, (T a, T b, T c), return max_fn{}(min_fn{}(a, b), min_fn{}(max_fn{}(a, b), c));)
// rotate left by b (modulo the width).
METAL_RT_IFN(rotate, (T v, T b), int s = int(U(b) % U(bits_of<T>));
             return s == 0 ? v : T(U(wrap_t<U>(v) << s) | U(U(v) >> (bits_of<T> - s)));)
#undef METAL_RT_IFN
}  // namespace detail

#define METAL_RT_INT1(NAME)                                                                                       \
  template <class X, enable_if_t<detail::int_args<X>, int> = 0> METAL_FUNC detail::common_t<X> NAME(const X& x) { \
    return detail::apply(detail::NAME##_ifn{}, detail::common_t<X>(x));                                           \
  }
#define METAL_RT_INT2(NAME)                                                 \
  template <class X, class Y, enable_if_t<detail::int_args<X, Y>, int> = 0> \
  METAL_FUNC detail::common_t<X, Y> NAME(const X& x, const Y& y) {          \
    typedef detail::common_t<X, Y> R;                                       \
    return detail::apply(detail::NAME##_ifn{}, R(x), R(y));                 \
  }
#define METAL_RT_INT3(NAME)                                                             \
  template <class X, class Y, class Z, enable_if_t<detail::int_args<X, Y, Z>, int> = 0> \
  METAL_FUNC detail::common_t<X, Y, Z> NAME(const X& x, const Y& y, const Z& z) {       \
    typedef detail::common_t<X, Y, Z> R;                                                \
    return detail::apply(detail::NAME##_ifn{}, R(x), R(y), R(z));                       \
  }
METAL_RT_INT2(absdiff)
METAL_RT_INT2(addsat)
METAL_RT_INT2(subsat)
METAL_RT_INT1(clz)
METAL_RT_INT1(ctz)
METAL_RT_INT1(popcount)
METAL_RT_INT1(reverse_bits)
METAL_RT_INT2(hadd)
METAL_RT_INT2(rhadd)
METAL_RT_INT2(mul24)
METAL_RT_INT3(mad24)
METAL_RT_INT2(mulhi)
METAL_RT_INT3(madhi)
METAL_RT_INT3(madsat)
METAL_RT_INT2(rotate)
// max3/min3/median3 take floating types too (with fmin/fmax semantics).
#define METAL_RT_ANY3(NAME)                                                               \
  template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0> \
  METAL_FUNC detail::common_t<X, Y, Z> NAME(const X& x, const Y& y, const Z& z) {         \
    typedef detail::common_t<X, Y, Z> R;                                                  \
    return detail::apply(detail::NAME##_ifn{}, R(x), R(y), R(z));                         \
  }
METAL_RT_ANY3(max3)
METAL_RT_ANY3(min3)
METAL_RT_ANY3(median3)
#undef METAL_RT_ANY3
#undef METAL_RT_INT1
#undef METAL_RT_INT2
#undef METAL_RT_INT3

// extract_bits(x, offset, bits): the field, zero- or sign-extended by x's signedness.
namespace detail {
template <class T> METAL_FUNC T extract_bits_s(T x, uint offset, uint bits) {
  if (bits == 0) return T(0);
  typedef uns_t<T> U;
  U f = U(U(x) >> offset);
  if (bits < uint(bits_of<T>)) f = U(f & U((U(1) << bits) - 1u));
  if constexpr (is_signed<T>::value) {
    if (bits < uint(bits_of<T>) && ((f >> (bits - 1)) & 1u)) f = U(f | U(wrap_t<U>(~U(0)) << bits));
  }
  return T(f);
}
template <class T> METAL_FUNC T insert_bits_s(T base, T ins, uint offset, uint bits) {
  if (bits == 0) return base;
  typedef uns_t<T> U;
  U mask = bits >= uint(bits_of<T>) ? U(~U(0)) : U((U(1) << bits) - 1u);
  mask = U(wrap_t<U>(mask) << offset);
  return T(U((U(base) & U(~mask)) | (U(wrap_t<U>(ins) << offset) & mask)));
}
}  // namespace detail
template <class T, enable_if_t<detail::scalar_integral<T>, int> = 0>
METAL_FUNC T extract_bits(T x, uint offset, uint bits) {
  return detail::extract_bits_s(x, offset, bits);
}
template <class T, int N> METAL_FUNC vec<T, N> extract_bits(const vec<T, N>& x, uint offset, uint bits) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = detail::extract_bits_s(x.s[i], offset, bits);
  return r;
}
template <class T, enable_if_t<detail::scalar_integral<T>, int> = 0>
METAL_FUNC T insert_bits(T base, T ins, uint offset, uint bits) {
  return detail::insert_bits_s(base, ins, offset, bits);
}
template <class T, int N>
METAL_FUNC vec<T, N> insert_bits(const vec<T, N>& base, const vec<T, N>& ins, uint offset, uint bits) {
  vec<T, N> r;
  for (int i = 0; i < N; ++i) r.s[i] = detail::insert_bits_s(base.s[i], ins.s[i], offset, bits);
  return r;
}
}  // namespace metal
