// The machinery shared by the function libraries: result types of mixed
// scalar/vector arguments, and applying a scalar function component by component.
//
// Every public function is a template taking "MSL values" (scalars, vectors, swizzle
// proxies, packed vectors), so `length(v.xy)` and `clamp(v, 0.0f, 1.0f)` work without
// an overload per concrete type.
#pragma once
#include "metal_vector_types.h"

namespace metal {
namespace detail {
// Usual arithmetic conversions between element types, MSL style: half with an integer
// stays half; anything with float is float.
template <class A, class B> struct promote2 {
  static constexpr bool any_float =
      is_same<A, float>::value || is_same<B, float>::value || is_same<A, double>::value || is_same<B, double>::value;
  static constexpr bool any_half = is_same<A, half>::value || is_same<B, half>::value;
  static constexpr bool any_bf = is_same<A, bfloat>::value || is_same<B, bfloat>::value;
  typedef conditional_t<
      is_same<A, B>::value, A,
      conditional_t<
          any_float || (any_half && any_bf), float,
          conditional_t<any_half, half, conditional_t<any_bf, bfloat, decltype(declval<A>() + declval<B>())>>>>
      type;
};
template <class... E> struct promote;
template <class A> struct promote<A> {
  typedef A type;
};
template <class A, class B, class... R> struct promote<A, B, R...> : promote<typename promote2<A, B>::type, R...> {};

// The type the front end casts each arm of `c ? a : b` to (src/msl/conditionals.h), from the
// arms' decltype((a)) and decltype((b)): itself, except where MSL's built-in half and bfloat
// take part in the usual arithmetic conversions (c ? h : 0.5f is float, c ? h : 2 is half),
// and where an integer meets a pointer (c ? p : 0).
template <class X> constexpr bool is_cond_arith = is_arithmetic<remove_cvref_t<X>>::value;
template <class X> constexpr bool is_cond_f16 =
    is_same<remove_cvref_t<X>, half>::value || is_same<remove_cvref_t<X>, bfloat>::value;
template <class A, class B, class = void> struct cond_arm {
  typedef A type;
};
template <class A, class B>
struct cond_arm<A, B,
                enable_if_t<(is_cond_f16<A> || is_cond_f16<B>) && is_cond_arith<A> && is_cond_arith<B> &&
                            !is_same<remove_cvref_t<A>, remove_cvref_t<B>>::value>> {
  typedef typename promote2<remove_cvref_t<A>, remove_cvref_t<B>>::type type;
};
template <class A, class B>
struct cond_arm<A, B, enable_if_t<detail::scalar_integral<remove_cvref_t<A>> && is_pointer<decay_t<B>>::value>> {
  typedef decay_t<B> type;
};
template <class A, class B> using cond_t = typename cond_arm<A, B>::type;

// Vector width of a set of arguments (0 when all are scalars).
template <class... X> constexpr int vec_width = 0;
template <class X, class... R> constexpr int vec_width<X, R...> = is_vec_like<X> ? ncomp<X> : vec_width<R...>;

// The element type: promoted over the vector arguments when there are any (a scalar
// argument broadcasts into the vector's type: clamp(half4, 0.0f, 1.0f) is half4).
template <bool AnyVec, class... X> struct elem_of_impl {
  typedef typename promote<typename vinfo_t<X>::elem...>::type type;
};
template <class... X> struct pick_vec_elems;
template <> struct pick_vec_elems<> {
  typedef void type;
};
template <class X, class... R> struct pick_vec_elems<X, R...> {
  typedef typename pick_vec_elems<R...>::type rest;
  typedef conditional_t<!is_vec_like<X>, rest,
                        conditional_t<is_same<rest, void>::value, typename vinfo_t<X>::elem,
                                      typename promote2<typename vinfo_t<X>::elem,
                                                        conditional_t<is_same<rest, void>::value, float, rest>>::type>>
      type;
};
template <class... X> struct elem_of_impl<true, X...> {
  typedef typename pick_vec_elems<X...>::type type;
};
template <class... X> using common_elem = typename elem_of_impl<(vec_width<X...> > 0), X...>::type;

template <class E, int N> struct vec_or_scalar {
  typedef vec<E, N> type;
};
template <class E> struct vec_or_scalar<E, 0> {
  typedef E type;
};
template <class E, int N> using vec_or_scalar_t = typename vec_or_scalar<E, N>::type;

// Common type of the arguments; the floating variant turns integers into float (sqrt(2)).
template <class... X> using common_t = vec_or_scalar_t<common_elem<X...>, vec_width<X...>>;
template <class E> using float_elem =
    conditional_t<detail::scalar_floating_point<E> && !is_same<E, double>::value, E, float>;
template <class... X> using float_t = vec_or_scalar_t<float_elem<common_elem<X...>>, vec_width<X...>>;

template <class... X> constexpr bool values = (true && ... && (ncomp<X> > 0));
template <class... X> constexpr bool same_widths = (true && ... && (!is_vec_like<X> || ncomp<X> == vec_width<X...>));
template <class... X> constexpr bool float_args = values<X...> && same_widths<X...>;
template <class... X> constexpr bool int_args =
    values<X...> && same_widths<X...> && (true && ... && detail::scalar_integral<typename vinfo_t<X>::elem>);
template <class X> constexpr bool bool_arg = values<X> && is_same<typename vinfo_t<X>::elem, bool>::value;

// Component-wise application. Scalar overloads call f directly; the vec overloads are
// more specialised and loop (fully unrolled by both compilers at these sizes).
template <class F, class A> METAL_FUNC auto apply(F f, const A& a) { return f(a); }
template <class F, class A, class B> METAL_FUNC auto apply(F f, const A& a, const B& b) { return f(a, b); }
template <class F, class A, class B, class C> METAL_FUNC auto apply(F f, const A& a, const B& b, const C& c) {
  return f(a, b, c);
}
template <class F, class T, int N> METAL_FUNC auto apply(F f, const vec<T, N>& a) {
  vec<decltype(f(a.s[0])), N> r;
  for (int i = 0; i < N; ++i) r.s[i] = f(a.s[i]);
  return r;
}
template <class F, class T, class U, int N> METAL_FUNC auto apply(F f, const vec<T, N>& a, const vec<U, N>& b) {
  vec<decltype(f(a.s[0], b.s[0])), N> r;
  for (int i = 0; i < N; ++i) r.s[i] = f(a.s[i], b.s[i]);
  return r;
}
template <class F, class T, class U, class V, int N>
METAL_FUNC auto apply(F f, const vec<T, N>& a, const vec<U, N>& b, const vec<V, N>& c) {
  vec<decltype(f(a.s[0], b.s[0], c.s[0])), N> r;
  for (int i = 0; i < N; ++i) r.s[i] = f(a.s[i], b.s[i], c.s[i]);
  return r;
}
}  // namespace detail
}  // namespace metal
