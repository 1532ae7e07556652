// MSL common functions (clamp, mix, saturate, sign, smoothstep, step, min, max) and
// abs, for float/half/bfloat and, where MSL has them (min, max, clamp, abs), integers.
#pragma once
#include "metal_math.h"

namespace metal {
namespace detail {
template <class T> constexpr bool is_fp_elem = detail::scalar_floating_point<T>;
struct min_fn {
  template <class T> METAL_FUNC T operator()(T a, T b) const {
    if constexpr (is_fp_elem<T>)
      return T(METAL_RT_LIBM(fmin)(float(a), float(b)));
    else
      return b < a ? b : a;
  }
};
struct max_fn {
  template <class T> METAL_FUNC T operator()(T a, T b) const {
    if constexpr (is_fp_elem<T>)
      return T(METAL_RT_LIBM(fmax)(float(a), float(b)));
    else
      return a < b ? b : a;
  }
};
struct clamp_fn {
  template <class T> METAL_FUNC T operator()(T x, T lo, T hi) const { return min_fn{}(max_fn{}(x, lo), hi); }
};
struct abs_fn {
  template <class T> METAL_FUNC T operator()(T x) const {
    if constexpr (is_fp_elem<T>)
      return T(METAL_RT_LIBM(fabs)(float(x)));
    else if constexpr (is_signed<T>::value)
      return x < T(0) ? T(-wrap_t<T>(x)) : x;  // abs(INT_MIN) == INT_MIN
    else
      return x;
  }
};
struct mix_fn {
  template <class T> METAL_FUNC T operator()(T x, T y, T a) const {
    float fx = float(x);
    return T(fx + (float(y) - fx) * float(a));
  }
};
struct saturate_fn {
  template <class T> METAL_FUNC T operator()(T x) const {
    return T(METAL_RT_LIBM(fmin)(METAL_RT_LIBM(fmax)(float(x), 0.0f), 1.0f));
  }
};
struct sign_fn {
  template <class T> METAL_FUNC T operator()(T x) const {
    float f = float(x);
    if (f > 0.0f) return T(1.0f);
    if (f < 0.0f) return T(-1.0f);
    return x == x ? x : T(0.0f);  // +-0 keep their sign; NaN gives 0
  }
};
struct smoothstep_fn {
  template <class T> METAL_FUNC T operator()(T e0, T e1, T x) const {
    float t = (float(x) - float(e0)) / (float(e1) - float(e0));
    t = METAL_RT_LIBM(fmin)(METAL_RT_LIBM(fmax)(t, 0.0f), 1.0f);
    return T(t * t * (3.0f - 2.0f * t));
  }
};
struct step_fn {
  template <class T> METAL_FUNC T operator()(T edge, T x) const { return float(x) < float(edge) ? T(0.0f) : T(1.0f); }
};
}  // namespace detail

template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::common_t<X, Y> min(const X& x, const Y& y) {
  typedef detail::common_t<X, Y> R;
  return detail::apply(detail::min_fn{}, R(x), R(y));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::common_t<X, Y> max(const X& x, const Y& y) {
  typedef detail::common_t<X, Y> R;
  return detail::apply(detail::max_fn{}, R(x), R(y));
}
template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0>
METAL_FUNC detail::common_t<X, Y, Z> clamp(const X& x, const Y& lo, const Z& hi) {
  typedef detail::common_t<X, Y, Z> R;
  return detail::apply(detail::clamp_fn{}, R(x), R(lo), R(hi));
}
template <class X, enable_if_t<detail::float_args<X>, int> = 0> METAL_FUNC detail::common_t<X> abs(const X& x) {
  return detail::apply(detail::abs_fn{}, detail::common_t<X>(x));
}
// The float-only ones (integers convert to float, as for the math functions).
template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0>
METAL_FUNC detail::float_t<X, Y, Z> mix(const X& x, const Y& y, const Z& a) {
  typedef detail::float_t<X, Y, Z> R;
  return detail::apply(detail::mix_fn{}, R(x), R(y), R(a));
}
template <class X, enable_if_t<detail::float_args<X>, int> = 0> METAL_FUNC detail::float_t<X> saturate(const X& x) {
  return detail::apply(detail::saturate_fn{}, detail::float_t<X>(x));
}
// sign is for floating-point values, as Metal declares it: a program's own sign() for integers
// (SPIRV-Cross writes one for GLSL's sign(ivec4), enabled by is_integral<T>) is the exact match
// for integer arguments; without one, an integer scalar converts to float.
template <
    class X,
    enable_if_t<detail::float_args<X> && detail::scalar_floating_point<typename detail::vinfo_t<X>::elem>, int> = 0>
METAL_FUNC detail::float_t<X> sign(const X& x) {
  return detail::apply(detail::sign_fn{}, detail::float_t<X>(x));
}
METAL_FUNC float sign(float x) { return detail::sign_fn{}(x); }
template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0>
METAL_FUNC detail::float_t<X, Y, Z> smoothstep(const X& e0, const Y& e1, const Z& x) {
  typedef detail::float_t<X, Y, Z> R;
  return detail::apply(detail::smoothstep_fn{}, R(e0), R(e1), R(x));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::float_t<X, Y> step(const X& edge, const Y& x) {
  typedef detail::float_t<X, Y> R;
  return detail::apply(detail::step_fn{}, R(edge), R(x));
}
namespace precise {
using metal::abs;
using metal::clamp;
using metal::max;
using metal::min;
using metal::mix;
using metal::saturate;
using metal::sign;
using metal::smoothstep;
using metal::step;
}  // namespace precise
namespace fast {
using metal::abs;
using metal::clamp;
using metal::max;
using metal::min;
using metal::mix;
using metal::saturate;
using metal::sign;
using metal::smoothstep;
using metal::step;
}  // namespace fast
}  // namespace metal
