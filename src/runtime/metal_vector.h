// vec<T,N> (N = 2, 3, 4) with MSL's sizes and alignments, swizzles, operators and
// constructors; packed_vec<T,N>. The named aliases (float4, packed_half3...) are in
// metal_vector_types.h.
//
// Layout: an anonymous union of the storage array, the single-letter members (real T
// lvalues, so `thread float& r = v.x;` works) and one proxy member per multi-letter
// swizzle (metal_swizzle_members.h). A 3-component vector stores 4 elements, which
// gives it the size and alignment of the 4-component one, as MSL requires.
//
// Operators are hidden friends of vec<T,N>. A swizzle proxy names its result vector
// type as a template argument, so argument-dependent lookup finds those friends for
// `v.xy * 2.0f` too, and the proxy converts implicitly.
#pragma once
#include "metal_limits.h"

namespace metal {
template <class T, int N> struct vec;
template <class T, int N, class V = vec<T, N>> struct packed_vec;

template <class T, int K, int S, unsigned Code, class R = vec<T, K>> struct swizzle;

namespace detail {
#if defined(METAL_TARGET_CUDA)
// CUDA's own vector types, whose copies are single aligned accesses (ld/st.v2, .v4): NVVM
// copies our vec component by component otherwise, and leaves the accesses scalar where it
// cannot prove the alignment (device pointers).
template <unsigned long Size, unsigned long Align> struct cuda_word {
  typedef void type;
};
template <> struct cuda_word<4, 4> {
  typedef unsigned int type;
};
template <> struct cuda_word<8, 8> {
  typedef ::uint2 type;
};
template <> struct cuda_word<16, 16> {
  typedef ::uint4 type;
};
#endif
template <class T> struct bool_for {  // bool, as a type that depends on T
  typedef bool type;
};
constexpr int swz_idx(unsigned code, int i) { return int((code >> (2 * i)) & 3u); }
constexpr bool swz_writable(unsigned code, int k) {
  for (int i = 0; i < k; ++i)
    for (int j = i + 1; j < k; ++j)
      if (swz_idx(code, i) == swz_idx(code, j)) return false;
  return true;
}
}  // namespace detail

namespace detail {
// What a value looks like to the elementwise machinery: number of components n
// (1 for scalars, 0 for anything that is not an MSL value), element type, and the
// plain value type (a swizzle or packed vector reads as a vec).
template <class X, class = void> struct vinfo {
  static constexpr int n = 0;
  static constexpr bool is_vector = false;
};
template <class X> struct vinfo<X, enable_if_t<is_arithmetic<X>::value>> {
  static constexpr int n = 1;
  static constexpr bool is_vector = false;
  typedef X elem;
  typedef X value;
};
template <class T, int N> struct vinfo<vec<T, N>> {
  static constexpr int n = N;
  static constexpr bool is_vector = true;
  typedef T elem;
  typedef vec<T, N> value;
};
template <class T, int K, int S, unsigned C, class R> struct vinfo<swizzle<T, K, S, C, R>> : vinfo<R> {};
template <class T, int N, class V> struct vinfo<packed_vec<T, N, V>> : vinfo<V> {};
template <class X> using vinfo_t = vinfo<remove_cvref_t<X>>;
template <class X> constexpr int ncomp = vinfo_t<X>::n;
template <class X> constexpr bool is_vec_like = vinfo_t<X>::is_vector;
template <class X> constexpr bool is_scalar_arg = vinfo_t<X>::n == 1 && !vinfo_t<X>::is_vector;

// Component i of a scalar (the scalar itself) or of a vector-like value.
template <class X, enable_if_t<is_scalar_arg<X>, int> = 0> METAL_FUNC constexpr X comp(const X& x, int) { return x; }
template <class T, int N> METAL_FUNC constexpr T comp(const vec<T, N>& v, int i) { return v.s[i]; }
template <class T, int N, class V> METAL_FUNC constexpr T comp(const packed_vec<T, N, V>& v, int i) { return v.s[i]; }
template <class T, int K, int S, unsigned C, class R>
METAL_FUNC constexpr T comp(const swizzle<T, K, S, C, R>& v, int i) {
  return v.s[swz_idx(C, i)];
}

// `v.x` in the initialiser of a program-scope constant: a constant expression must not read
// the union's letter members, so the front end writes component_x(v) there (component K of a
// vector, or the member `x` of anything else).
#define METAL_RT_COMPONENT(L, K)                                           \
  template <class V> METAL_FUNC constexpr auto component_##L(const V& v) { \
    if constexpr (is_vec_like<V>)                                          \
      return comp(v, K);                                                   \
    else                                                                   \
      return v.L;                                                          \
  }
METAL_RT_COMPONENT(x, 0)
METAL_RT_COMPONENT(y, 1)
METAL_RT_COMPONENT(z, 2)
METAL_RT_COMPONENT(w, 3)
METAL_RT_COMPONENT(r, 0)
METAL_RT_COMPONENT(g, 1)
METAL_RT_COMPONENT(b, 2)
METAL_RT_COMPONENT(a, 3)
#undef METAL_RT_COMPONENT

// Component I of the concatenation of the arguments, converted to T: the engine of
// the "any mix of scalars and vectors" constructors.
template <int I, class T, class A, class... R> METAL_FUNC constexpr T flat(const A& a, const R&... r) {
  if constexpr (I < ncomp<A>) {
    return T(comp(a, I));
  } else {
    return flat<I - ncomp<A>, T>(r...);
  }
}
template <class... A> constexpr int total_comps = (0 + ... + ncomp<A>);
template <class... A> constexpr bool all_values = (true && ... && (ncomp<A> > 0));
}  // namespace detail

// The proxy of a multi-letter swizzle: a view of the owning vector's S storage elements
// selecting K of them (2 bits each in Code, component 0 lowest). Every vector type
// instantiates one proxy type per swizzle name, so the class is kept as small as
// possible (that is most of the header's compile time); compound assignment lives
// outside as function templates.

template <class T, int K, int S, unsigned Code, class R> struct swizzle {
  T s[S];
  METAL_FUNC operator R() const { return __pm_value(); }
  // A read of the swizzle as the value MSL gives it (the front end writes `v.xy.__pm_value()`
  // for every read): const, so that `++v.xy` cannot silently change a copy.
  METAL_FUNC const R __pm_value() const {
    R r;
    for (int i = 0; i < K; ++i) r.s[i] = s[detail::swz_idx(Code, i)];
    return r;
  }
  METAL_FUNC T operator[](int i) const { return s[detail::swz_idx(Code, i)]; }
  METAL_FUNC swizzle& operator=(const R& v) {
    static_assert(detail::swz_writable(Code, K), "a swizzle that repeats a component cannot be assigned to");
    for (int i = 0; i < K; ++i) s[detail::swz_idx(Code, i)] = v.s[i];
    return *this;
  }
  // Copying between two proxies of the same selection writes only the selected
  // components (a defaulted copy would copy the whole owner).
  METAL_FUNC swizzle& operator=(const swizzle& o) { return *this = R(o); }
};

namespace detail {
// `p.xy` where the program also declares a member `xy`: a swizzle reads as its vector,
// anything else passes through as it is (the front end writes swizzle_read(p.xy)).
template <class X> struct is_swizzle_proxy : false_type {};
template <class T, int K, int S, unsigned C, class R> struct is_swizzle_proxy<swizzle<T, K, S, C, R>> : true_type {};
template <class X, enable_if_t<!is_swizzle_proxy<remove_cvref_t<X>>::value, int> = 0>
METAL_FUNC constexpr X&& swizzle_read(X&& x) {
  return static_cast<X&&>(x);
}
template <class T, int K, int S, unsigned C, class R> METAL_FUNC const R swizzle_read(const swizzle<T, K, S, C, R>& p) {
  return p.__pm_value();
}
}  // namespace detail

#define METAL_RT_SWZ_COMPOUND(OP)                                                             \
  template <class T, int K, int S, unsigned C, class R, class U>                              \
  METAL_FUNC swizzle<T, K, S, C, R>& operator OP##=(swizzle<T, K, S, C, R>& p, const U & u) { \
    return p = R(R(p) OP u);                                                                  \
  }
METAL_RT_SWZ_COMPOUND(+)
METAL_RT_SWZ_COMPOUND(-)
METAL_RT_SWZ_COMPOUND(*)
METAL_RT_SWZ_COMPOUND(/)
METAL_RT_SWZ_COMPOUND(%)
METAL_RT_SWZ_COMPOUND(&)
METAL_RT_SWZ_COMPOUND(|)
METAL_RT_SWZ_COMPOUND(^)
METAL_RT_SWZ_COMPOUND(<<)
METAL_RT_SWZ_COMPOUND(>>)
#undef METAL_RT_SWZ_COMPOUND

// ---- the parts common to vec<T,2>, vec<T,3>, vec<T,4> --------------------------------
#define METAL_RT_VEC_BINOP_AS(OP, W)                                \
  friend METAL_FUNC V operator OP(const V& a, const V& b) {         \
    V r;                                                            \
    for (int i = 0; i < N; ++i) r.s[i] = T(W(a.s[i]) OP W(b.s[i])); \
    return r;                                                       \
  }                                                                 \
  friend METAL_FUNC V operator OP(const V& a, T b) {                \
    V r;                                                            \
    for (int i = 0; i < N; ++i) r.s[i] = T(W(a.s[i]) OP W(b));      \
    return r;                                                       \
  }                                                                 \
  friend METAL_FUNC V operator OP(T a, const V& b) {                \
    V r;                                                            \
    for (int i = 0; i < N; ++i) r.s[i] = T(W(a) OP W(b.s[i]));      \
    return r;                                                       \
  }                                                                 \
  template <class U> METAL_FUNC V& operator OP##=(const U & u) {    \
    V& self = static_cast<V&>(*this);                               \
    return self = self OP u;                                        \
  }
/* + - * << wrap like MSL's integers (computed unsigned: detail::wrap_t); / % >> & | ^ as is. */
#define METAL_RT_VEC_BINOP(OP) METAL_RT_VEC_BINOP_AS(OP, T)
#define METAL_RT_VEC_BINOP_WRAP(OP) METAL_RT_VEC_BINOP_AS(OP, detail::wrap_t<T>)

#define METAL_RT_VEC_BOOLOP(OP)                                       \
  friend METAL_FUNC pm_bool_vec operator OP(const V& a, const V& b) { \
    pm_bool_vec r;                                                    \
    for (int i = 0; i < N; ++i) r.s[i] = bool(a.s[i] OP b.s[i]);      \
    return r;                                                         \
  }                                                                   \
  friend METAL_FUNC pm_bool_vec operator OP(const V& a, T b) {        \
    pm_bool_vec r;                                                    \
    for (int i = 0; i < N; ++i) r.s[i] = bool(a.s[i] OP b);           \
    return r;                                                         \
  }                                                                   \
  friend METAL_FUNC pm_bool_vec operator OP(T a, const V& b) {        \
    pm_bool_vec r;                                                    \
    for (int i = 0; i < N; ++i) r.s[i] = bool(a OP b.s[i]);           \
    return r;                                                         \
  }

// The operators of vec<T, N> (V), written once for the three widths: friends of this base,
// which argument-dependent lookup searches as it searches vec itself (a base of an argument's
// class, or of a template argument's: swizzle proxies and packed vectors find them too).
template <class V, class T, int N> struct vec_ops {
  /* vec<bool, N>, spelled so that it depends on T: the class is then instantiated when a */
  /* comparison is used, not when any vector type is (that cost every compile ~10% of its */
  /* time: three bool vectors and their swizzle proxies). */
  typedef vec<typename detail::bool_for<T>::type, N> pm_bool_vec;
  METAL_RT_VEC_BINOP_WRAP(+)
  METAL_RT_VEC_BINOP_WRAP(-)
  METAL_RT_VEC_BINOP_WRAP(*)
  METAL_RT_VEC_BINOP(/)
  METAL_RT_VEC_BINOP(%)
  METAL_RT_VEC_BINOP(&)
  METAL_RT_VEC_BINOP(|)
  METAL_RT_VEC_BINOP(^)
  METAL_RT_VEC_BINOP_WRAP(<<)
  METAL_RT_VEC_BINOP(>>)
  METAL_RT_VEC_BOOLOP(==)
  METAL_RT_VEC_BOOLOP(!=)
  METAL_RT_VEC_BOOLOP(<)
  METAL_RT_VEC_BOOLOP(>)
  METAL_RT_VEC_BOOLOP(<=)
  METAL_RT_VEC_BOOLOP(>=)
  METAL_RT_VEC_BOOLOP(&&)
  METAL_RT_VEC_BOOLOP(||)
  friend METAL_FUNC V operator+(const V& a) { return a; }
  friend METAL_FUNC V operator-(const V& a) {
    V r;
    for (int i = 0; i < N; ++i) r.s[i] = T(-detail::wrap_t<T>(a.s[i]));
    return r;
  }
  friend METAL_FUNC V operator~(const V& a) {
    V r;
    for (int i = 0; i < N; ++i) r.s[i] = T(~a.s[i]);
    return r;
  }
  /* ! gives a bool vector (so MSL's not(v), spelled !v in C++, works). */
  friend METAL_FUNC pm_bool_vec operator!(const V& a) {
    pm_bool_vec r;
    for (int i = 0; i < N; ++i) r.s[i] = !a.s[i];
    return r;
  }
};

#if defined(METAL_TARGET_CUDA)
#define METAL_RT_VEC_COPY_WHOLE                                                \
  typedef typename detail::cuda_word<sizeof(vec), alignof(vec)>::type pm_word; \
  if constexpr (!is_same<pm_word, void>::value) {                              \
    *reinterpret_cast<pm_word*>(this) = *reinterpret_cast<const pm_word*>(&o); \
    return *this;                                                              \
  }
#else
#define METAL_RT_VEC_COPY_WHOLE
#endif
#define METAL_RT_VEC_BODY(N_)                                                                                      \
  static constexpr int N = N_;                                                                                     \
  typedef T value_type;                                                                                            \
  vec() = default;                                                                                                 \
  vec(const vec&) = default;                                                                                       \
  /* The swizzle proxies make the implicit copy assignment deleted; this one copies the */                         \
  /* components. */                                                                                                \
  METAL_FUNC vec& operator=(const vec& o) {                                                                        \
    METAL_RT_VEC_COPY_WHOLE                                                                                        \
    for (int i = 0; i < N; ++i) s[i] = o.s[i];                                                                     \
    return *this;                                                                                                  \
  }                                                                                                                \
  /* A volatile vector (a member of `volatile device S&`) is written and read like any */                          \
  /* other: component by component. The read is a template so that it is not a copy */                             \
  /* constructor (the type stays trivially copy-constructible). */                                                 \
  METAL_FUNC volatile vec& operator=(const vec& o) volatile {                                                      \
    for (int i = 0; i < N; ++i) s[i] = o.s[i];                                                                     \
    return *this;                                                                                                  \
  }                                                                                                                \
  template <class V, enable_if_t<is_same<V, vec>::value, int> = 0> METAL_FUNC vec(const volatile V& o) {           \
    for (int i = 0; i < N; ++i) s[i] = o.s[i];                                                                     \
  }                                                                                                                \
  /* Any mix of scalars and vectors adding up to N components (float4(v.xy, 0, 1)). */                             \
  template <class A, class B, class... C,                                                                          \
            enable_if_t<detail::all_values<A, B, C...> && detail::total_comps<A, B, C...> == N, int> = 0>          \
  METAL_FUNC constexpr vec(const A& a, const B& b, const C&... c) : METAL_RT_VEC_INIT_FLAT(N_)                     \
  {                                                                                                                \
  }                                                                                                                \
  /* A scalar of another type broadcasts too, but only explicitly: float4(1), half4(x). */                         \
  template <class U, enable_if_t<detail::is_scalar_arg<U>, int> = 0> METAL_FUNC constexpr explicit vec(const U& x) \
      : METAL_RT_VEC_INIT_SPLAT(N_)                                                                                \
  {                                                                                                                \
  }                                                                                                                \
  /* Element type conversion is explicit only: float4(int4), static_cast<half2>(v.xy). */                          \
  template <class V,                                                                                               \
            enable_if_t<detail::is_vec_like<V> && detail::ncomp<V> == N_ && !is_same<V, vec>::value, int> = 0>     \
  METAL_FUNC constexpr explicit vec(const V& v) : METAL_RT_VEC_INIT_CONV(N_)                                       \
  {                                                                                                                \
  }                                                                                                                \
  METAL_FUNC constexpr T& operator[](int i) { return s[i]; }                                                       \
  METAL_FUNC constexpr const T& operator[](int i) const { return s[i]; }                                           \
  METAL_FUNC vec& operator++() { return *this = *this + T(1); }                                                    \
  METAL_FUNC vec& operator--() { return *this = *this - T(1); }                                                    \
  METAL_FUNC vec operator++(int) {                                                                                 \
    vec o = *this;                                                                                                 \
    ++*this;                                                                                                       \
    return o;                                                                                                      \
  }                                                                                                                \
  METAL_FUNC vec operator--(int) {                                                                                 \
    vec o = *this;                                                                                                 \
    --*this;                                                                                                       \
    return o;                                                                                                      \
  }

#define METAL_RT_VEC_INIT_FLAT(N_) METAL_RT_VEC_INIT_FLAT_##N_
#define METAL_RT_VEC_INIT_FLAT_2 \
  s { detail::flat<0, T>(a, b, c...), detail::flat<1, T>(a, b, c...) }
#define METAL_RT_VEC_INIT_FLAT_3 \
  s { detail::flat<0, T>(a, b, c...), detail::flat<1, T>(a, b, c...), detail::flat<2, T>(a, b, c...), T() }
#define METAL_RT_VEC_INIT_FLAT_4                                                                    \
  s {                                                                                               \
    detail::flat<0, T>(a, b, c...), detail::flat<1, T>(a, b, c...), detail::flat<2, T>(a, b, c...), \
        detail::flat<3, T>(a, b, c...)                                                              \
  }
#define METAL_RT_VEC_INIT_SPLAT(N_) METAL_RT_VEC_INIT_SPLAT_##N_
#define METAL_RT_VEC_INIT_SPLAT_2 \
  s { T(x), T(x) }
#define METAL_RT_VEC_INIT_SPLAT_3 \
  s { T(x), T(x), T(x), T() }
#define METAL_RT_VEC_INIT_SPLAT_4 \
  s { T(x), T(x), T(x), T(x) }
#define METAL_RT_VEC_INIT_CONV(N_) METAL_RT_VEC_INIT_CONV_##N_
#define METAL_RT_VEC_INIT_CONV_2 \
  s { T(detail::comp(v, 0)), T(detail::comp(v, 1)) }
#define METAL_RT_VEC_INIT_CONV_3 \
  s { T(detail::comp(v, 0)), T(detail::comp(v, 1)), T(detail::comp(v, 2)), T() }
#define METAL_RT_VEC_INIT_CONV_4 \
  s { T(detail::comp(v, 0)), T(detail::comp(v, 1)), T(detail::comp(v, 2)), T(detail::comp(v, 3)) }

template <class T> struct alignas(2 * sizeof(T)) vec<T, 2> : vec_ops<vec<T, 2>, T, 2> {
  union {
    T s[2];
    struct {
      T x, y;
    };
    struct {
      T r, g;
    };
#define METAL_RT_SWZ_N 2
#define METAL_RT_SWZ_S 2
#include "metal_swizzle_members.h"
#undef METAL_RT_SWZ_N
#undef METAL_RT_SWZ_S
  };
  // The broadcast constructor for T itself is implicit (float4 v = 0; v = 1.0f;).
  METAL_FUNC constexpr vec(T v) : s{v, v} {}
  METAL_RT_VEC_BODY(2)
};

template <class T> struct alignas(4 * sizeof(T)) vec<T, 3> : vec_ops<vec<T, 3>, T, 3> {
  union {
    T s[4];  // s[3] is padding
    struct {
      T x, y, z;
    };
    struct {
      T r, g, b;
    };
#define METAL_RT_SWZ_N 3
#define METAL_RT_SWZ_S 4
#include "metal_swizzle_members.h"
#undef METAL_RT_SWZ_N
#undef METAL_RT_SWZ_S
  };
  METAL_FUNC constexpr vec(T v) : s{v, v, v, T()} {}
  METAL_RT_VEC_BODY(3)
};

template <class T> struct alignas(4 * sizeof(T)) vec<T, 4> : vec_ops<vec<T, 4>, T, 4> {
  union {
    T s[4];
    struct {
      T x, y, z, w;
    };
    struct {
      T r, g, b, a;
    };
#define METAL_RT_SWZ_N 4
#define METAL_RT_SWZ_S 4
#include "metal_swizzle_members.h"
#undef METAL_RT_SWZ_N
#undef METAL_RT_SWZ_S
  };
  METAL_FUNC constexpr vec(T v) : s{v, v, v, v} {}
  METAL_RT_VEC_BODY(4)
};

// ---- packed vectors: element alignment, no padding ----------------------------------
namespace detail {
template <class T, int N> struct packed_storage;
template <class T> struct packed_storage<T, 2> {
  union {
    T s[2];
    struct {
      T x, y;
    };
    struct {
      T r, g;
    };
  };
  packed_storage() = default;
  METAL_FUNC constexpr packed_storage(T a, T b) : s{a, b} {}
};
template <class T> struct packed_storage<T, 3> {
  union {
    T s[3];
    struct {
      T x, y, z;
    };
    struct {
      T r, g, b;
    };
  };
  packed_storage() = default;
  METAL_FUNC constexpr packed_storage(T a, T b, T c) : s{a, b, c} {}
};
template <class T> struct packed_storage<T, 4> {
  union {
    T s[4];
    struct {
      T x, y, z, w;
    };
    struct {
      T r, g, b, a;
    };
  };
  packed_storage() = default;
  METAL_FUNC constexpr packed_storage(T a, T b, T c, T d) : s{a, b, c, d} {}
};
}  // namespace detail

// V (defaulted to vec<T,N>) is a template argument so that argument-dependent lookup
// finds vec's operators for packed operands; they convert implicitly to V.
template <class T, int N, class V> struct packed_vec : detail::packed_storage<T, N> {
  typedef T value_type;
  typedef detail::packed_storage<T, N> base;
  using base::s;
  packed_vec() = default;
  METAL_FUNC constexpr packed_vec(const V& v) : packed_vec(v, make_index_sequence<N>{}) {}
  template <class A, class... B,
            enable_if_t<detail::all_values<A, B...> && detail::total_comps<A, B...> == N &&
                            !is_same<remove_cvref_t<A>, V>::value,
                        int> = 0>
  METAL_FUNC constexpr packed_vec(const A& a, const B&... b) : packed_vec(V(a, b...)) {}
  METAL_FUNC constexpr operator V() const { return to_vec(make_index_sequence<N>{}); }
  METAL_FUNC constexpr T& operator[](int i) { return s[i]; }
  METAL_FUNC constexpr const T& operator[](int i) const { return s[i]; }
  template <class U> METAL_FUNC packed_vec& operator+=(const U& u) { return *this = V(*this) + u; }
  template <class U> METAL_FUNC packed_vec& operator-=(const U& u) { return *this = V(*this) - u; }
  template <class U> METAL_FUNC packed_vec& operator*=(const U& u) { return *this = V(*this) * u; }
  template <class U> METAL_FUNC packed_vec& operator/=(const U& u) { return *this = V(*this) / u; }

 private:
  template <unsigned long... I> METAL_FUNC constexpr packed_vec(const V& v, index_sequence<I...>) : base(v.s[I]...) {}
  template <unsigned long... I> METAL_FUNC constexpr V to_vec(index_sequence<I...>) const { return V(s[I]...); }
};

#undef METAL_RT_VEC_BINOP
#undef METAL_RT_VEC_BINOP_AS
#undef METAL_RT_VEC_BINOP_WRAP
#undef METAL_RT_VEC_BOOLOP
#undef METAL_RT_VEC_BODY
#undef METAL_RT_VEC_INIT_FLAT
#undef METAL_RT_VEC_INIT_FLAT_2
#undef METAL_RT_VEC_INIT_FLAT_3
#undef METAL_RT_VEC_INIT_FLAT_4
#undef METAL_RT_VEC_INIT_SPLAT
#undef METAL_RT_VEC_INIT_SPLAT_2
#undef METAL_RT_VEC_INIT_SPLAT_3
#undef METAL_RT_VEC_INIT_SPLAT_4
#undef METAL_RT_VEC_INIT_CONV
#undef METAL_RT_VEC_INIT_CONV_2
#undef METAL_RT_VEC_INIT_CONV_3
#undef METAL_RT_VEC_INIT_CONV_4
}  // namespace metal
