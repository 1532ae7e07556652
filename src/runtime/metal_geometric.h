// MSL geometric functions: dot, cross, length, normalize, ... on float/half vectors.
#pragma once
#include "metal_relational.h"

namespace metal {
namespace detail {
template <class X, class Y> using geo_t = float_t<X, Y>;
template <class V> METAL_FUNC typename vinfo<V>::elem dot_v(const V& a, const V& b) {
  float s = 0.0f;
  for (int i = 0; i < vinfo<V>::n; ++i) s += float(a.s[i]) * float(b.s[i]);
  return typename vinfo<V>::elem(s);
}
}  // namespace detail

template <class X, class Y, enable_if_t<detail::float_args<X, Y> && detail::is_vec_like<X>, int> = 0>
METAL_FUNC typename detail::vinfo<detail::geo_t<X, Y>>::elem dot(const X& x, const Y& y) {
  typedef detail::geo_t<X, Y> R;
  return detail::dot_v(R(x), R(y));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y> && detail::ncomp<X> == 3, int> = 0>
METAL_FUNC detail::geo_t<X, Y> cross(const X& x, const Y& y) {
  typedef detail::geo_t<X, Y> R;
  R a(x), b(y);
  return R(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
template <class X, enable_if_t<detail::float_args<X> && detail::is_vec_like<X>, int> = 0>
METAL_FUNC typename detail::vinfo<detail::float_t<X>>::elem length_squared(const X& x) {
  return dot(x, x);
}
template <class X, enable_if_t<detail::float_args<X>, int> = 0>
METAL_FUNC typename detail::vinfo<detail::float_t<X>>::elem length(const X& x) {
  typedef detail::float_t<X> R;
  typedef typename detail::vinfo<R>::elem E;
  if constexpr (detail::is_vec_like<X>)
    return E(METAL_RT_LIBM(sqrt)(float(dot(x, x))));
  else
    return E(METAL_RT_LIBM(fabs)(float(x)));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC auto distance(const X& x, const Y& y) {
  typedef detail::geo_t<X, Y> R;
  return length(R(x) - R(y));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y> && detail::is_vec_like<X>, int> = 0>
METAL_FUNC auto distance_squared(const X& x, const Y& y) {
  typedef detail::geo_t<X, Y> R;
  return length_squared(R(x) - R(y));
}
template <class X, enable_if_t<detail::float_args<X> && detail::is_vec_like<X>, int> = 0>
METAL_FUNC detail::float_t<X> normalize(const X& x) {
  typedef detail::float_t<X> R;
  R v(x);
  return v * typename detail::vinfo<R>::elem(1.0f / METAL_RT_LIBM(sqrt)(float(dot(v, v))));
}
template <class X, class Y, class Z, enable_if_t<detail::float_args<X, Y, Z>, int> = 0>
METAL_FUNC detail::float_t<X, Y, Z> faceforward(const X& n, const Y& i, const Z& nref) {
  typedef detail::float_t<X, Y, Z> R;
  return float(dot(R(nref), R(i))) < 0.0f ? R(n) : R(-R(n));
}
template <class X, class Y, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::geo_t<X, Y> reflect(const X& i, const Y& n) {
  typedef detail::geo_t<X, Y> R;
  R vi(i), vn(n);
  return vi - vn * typename detail::vinfo<R>::elem(2.0f * float(dot(vn, vi)));
}
template <class X, class Y, class E, enable_if_t<detail::float_args<X, Y>, int> = 0>
METAL_FUNC detail::geo_t<X, Y> refract(const X& i, const Y& n, E eta) {
  typedef detail::geo_t<X, Y> R;
  typedef typename detail::vinfo<R>::elem T;
  R vi(i), vn(n);
  float d = float(dot(vn, vi)), e = float(eta);
  float k = 1.0f - e * e * (1.0f - d * d);
  if (k < 0.0f) return R(T(0.0f));
  return vi * T(e) - vn * T(e * d + METAL_RT_LIBM(sqrt)(k));
}
namespace precise {
using metal::cross;
using metal::distance;
using metal::distance_squared;
using metal::dot;
using metal::faceforward;
using metal::length;
using metal::length_squared;
using metal::normalize;
using metal::reflect;
using metal::refract;
}  // namespace precise
namespace fast {
using metal::cross;
using metal::distance;
using metal::distance_squared;
using metal::dot;
using metal::faceforward;
using metal::length;
using metal::length_squared;
using metal::normalize;
using metal::reflect;
using metal::refract;
}  // namespace fast
}  // namespace metal
