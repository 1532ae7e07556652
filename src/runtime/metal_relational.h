// MSL relational functions: all, any, isfinite, isinf, isnan, isnormal, isordered,
// isunordered, signbit, select. (MSL's not(v) is the C++ alternative token for !,
// which vec defines to give a bool vector.)
#pragma once
#include "metal_integer.h"

namespace metal {
namespace detail {
// Classification on the bit pattern of the value widened to float (exact for
// half/bfloat), so fast-math compiler flags cannot fold these away.
struct isnan_fn {
  template <class T> METAL_FUNC bool operator()(T x) const { return (f32_bits(float(x)) & 0x7fffffffu) > 0x7f800000u; }
};
struct isinf_fn {
  template <class T> METAL_FUNC bool operator()(T x) const { return (f32_bits(float(x)) & 0x7fffffffu) == 0x7f800000u; }
};
struct isfinite_fn {
  template <class T> METAL_FUNC bool operator()(T x) const { return (f32_bits(float(x)) & 0x7fffffffu) < 0x7f800000u; }
};
struct signbit_fn {
  template <class T> METAL_FUNC bool operator()(T x) const { return (f32_bits(float(x)) >> 31) != 0; }
};
struct isnormal_fn {
  template <class T> METAL_FUNC bool operator()(T x) const {
    // normal in T's own format: |x| >= T's smallest normal and finite
    float a = __builtin_bit_cast(float, f32_bits(float(x)) & 0x7fffffffu);
    return isfinite_fn{}(x) && a >= float(numeric_limits<T>::min());
  }
};
struct isordered_fn {
  template <class T> METAL_FUNC bool operator()(T x, T y) const { return !isnan_fn{}(x) && !isnan_fn{}(y); }
};
struct isunordered_fn {
  template <class T> METAL_FUNC bool operator()(T x, T y) const { return isnan_fn{}(x) || isnan_fn{}(y); }
};
template <class E, int N> struct bool_result {
  typedef vec<bool, N> type;
};
template <class E> struct bool_result<E, 0> {
  typedef bool type;
};
}  // namespace detail

#define METAL_RT_REL1(NAME)                                                                          \
  template <class X, enable_if_t<detail::float_args<X>, int> = 0> METAL_FUNC auto NAME(const X& x) { \
    return detail::apply(detail::NAME##_fn{}, detail::float_t<X>(x));                                \
  }
#define METAL_RT_REL2(NAME)                                                   \
  template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0> \
  METAL_FUNC auto NAME(const X& x, const Y& y) {                              \
    typedef detail::float_t<X, Y> R;                                          \
    return detail::apply(detail::NAME##_fn{}, R(x), R(y));                    \
  }
METAL_RT_REL1(isnan)
METAL_RT_REL1(isinf)
METAL_RT_REL1(isfinite)
METAL_RT_REL1(isnormal)
METAL_RT_REL1(signbit)
METAL_RT_REL2(isordered)
METAL_RT_REL2(isunordered)
#undef METAL_RT_REL1
#undef METAL_RT_REL2

// all/any over bool vectors (or any vector: a component counts as true when non-zero).
METAL_FUNC constexpr bool all(bool b) { return b; }
METAL_FUNC constexpr bool any(bool b) { return b; }
template <class V, enable_if_t<detail::is_vec_like<V>, int> = 0> METAL_FUNC bool all(const V& v) {
  typename detail::vinfo_t<V>::value x(v);
  for (int i = 0; i < detail::ncomp<V>; ++i)
    if (!bool(x.s[i])) return false;
  return true;
}
template <class V, enable_if_t<detail::is_vec_like<V>, int> = 0> METAL_FUNC bool any(const V& v) {
  typename detail::vinfo_t<V>::value x(v);
  for (int i = 0; i < detail::ncomp<V>; ++i)
    if (bool(x.s[i])) return true;
  return false;
}

// select(a, b, c): c ? b : a, per component; a scalar c picks whole values.
template <class A, class B, enable_if_t<detail::values<A, B>, int> = 0>
METAL_FUNC detail::common_t<A, B> select(const A& a, const B& b, bool c) {
  typedef detail::common_t<A, B> R;
  return c ? R(b) : R(a);
}
template <class A, class B, class C,
          enable_if_t<detail::values<A, B> && detail::is_vec_like<C> && detail::bool_arg<C>, int> = 0>
METAL_FUNC vec<detail::common_elem<A, B>, detail::ncomp<C>> select(const A& a, const B& b, const C& c) {
  typedef vec<detail::common_elem<A, B>, detail::ncomp<C>> R;  // elements of a/b, width of c
  R ra(a), rb(b), r;
  typename detail::vinfo_t<C>::value cc(c);
  for (int i = 0; i < detail::ncomp<C>; ++i) r.s[i] = cc.s[i] ? rb.s[i] : ra.s[i];
  return r;
}
}  // namespace metal
