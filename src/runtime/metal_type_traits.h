// MSL's <metal_type_traits>: the C++ type traits under metal:: names. Written here
// (not taken from <type_traits>) because NVRTC has no standard library and because MSL
// code expects metal::is_same, metal::enable_if_t, ... and half/bfloat to count as
// floating-point types.
#pragma once
#include "metal_config.h"

#if !defined(METAL_TARGET_CUDA) && !defined(_INITIALIZER_LIST) && !defined(_LIBCPP_INITIALIZER_LIST)
#define _INITIALIZER_LIST 1  // as libstdc++'s <initializer_list>, which then adds nothing
// std::initializer_list, which braced lists need (NVRTC declares its own; no system header
// is included on the CPU). The compiler requires this layout: a pointer and a length.
namespace std {
template <class E> class initializer_list {
  const E* array_;
  decltype(sizeof(0)) len_;
  constexpr initializer_list(const E* a, decltype(sizeof(0)) n) : array_(a), len_(n) {}

 public:
  typedef E value_type;
  typedef const E& reference;
  typedef const E& const_reference;
  typedef decltype(sizeof(0)) size_type;
  typedef const E* iterator;
  typedef const E* const_iterator;
  constexpr initializer_list() noexcept : array_(nullptr), len_(0) {}
  constexpr size_type size() const noexcept { return len_; }
  constexpr const_iterator begin() const noexcept { return array_; }
  constexpr const_iterator end() const noexcept { return array_ + len_; }
};
template <class E> constexpr const E* begin(initializer_list<E> l) noexcept { return l.begin(); }
template <class E> constexpr const E* end(initializer_list<E> l) noexcept { return l.end(); }
}  // namespace std
#endif

namespace metal {
struct half;
struct bfloat;
using std::initializer_list;
typedef decltype(nullptr) nullptr_t;

template <class T, T v> struct integral_constant {
  static constexpr T value = v;
  typedef T value_type;
  typedef integral_constant type;
  constexpr operator value_type() const { return value; }
  constexpr value_type operator()() const { return value; }
};
template <bool B> using bool_constant = integral_constant<bool, B>;
typedef bool_constant<true> true_type;
typedef bool_constant<false> false_type;

template <bool B, class T = void> struct enable_if {};
template <class T> struct enable_if<true, T> {
  typedef T type;
};
template <bool B, class T = void> using enable_if_t = typename enable_if<B, T>::type;

template <bool B, class T, class F> struct conditional {
  typedef T type;
};
template <class T, class F> struct conditional<false, T, F> {
  typedef F type;
};
template <bool B, class T, class F> using conditional_t = typename conditional<B, T, F>::type;

template <class A, class B> struct is_same : false_type {};
template <class A> struct is_same<A, A> : true_type {};
template <class A, class B> constexpr bool is_same_v = is_same<A, B>::value;

template <class T> struct remove_const {
  typedef T type;
};
template <class T> struct remove_const<const T> {
  typedef T type;
};
template <class T> struct remove_volatile {
  typedef T type;
};
template <class T> struct remove_volatile<volatile T> {
  typedef T type;
};
template <class T> struct remove_cv {
  typedef typename remove_volatile<typename remove_const<T>::type>::type type;
};
template <class T> struct remove_reference {
  typedef T type;
};
template <class T> struct remove_reference<T&> {
  typedef T type;
};
template <class T> struct remove_reference<T&&> {
  typedef T type;
};
template <class T> struct remove_pointer {
  typedef T type;
};
template <class T> struct remove_pointer<T*> {
  typedef T type;
};
template <class T> struct remove_pointer<T* const> {
  typedef T type;
};
template <class T> struct remove_extent {
  typedef T type;
};
template <class T> struct remove_extent<T[]> {
  typedef T type;
};
template <class T, unsigned long N> struct remove_extent<T[N]> {
  typedef T type;
};
template <class T> struct add_const {
  typedef const T type;
};
template <class T> struct add_volatile {
  typedef volatile T type;
};
template <class T> struct add_cv {
  typedef const volatile T type;
};
template <class T> struct add_pointer {
  typedef typename remove_reference<T>::type* type;
};
template <class T> struct add_lvalue_reference {
  typedef T& type;
};
template <> struct add_lvalue_reference<void> {
  typedef void type;
};
template <class T> struct add_rvalue_reference {
  typedef T&& type;
};
template <> struct add_rvalue_reference<void> {
  typedef void type;
};
template <class T> struct type_identity {
  typedef T type;
};
template <class T> using remove_cv_t = typename remove_cv<T>::type;
template <class T> using remove_const_t = typename remove_const<T>::type;
template <class T> using remove_volatile_t = typename remove_volatile<T>::type;
template <class T> using remove_reference_t = typename remove_reference<T>::type;
template <class T> using remove_pointer_t = typename remove_pointer<T>::type;
template <class T> using remove_extent_t = typename remove_extent<T>::type;
template <class T> using remove_cvref_t = remove_cv_t<remove_reference_t<T>>;
template <class T> using type_identity_t = typename type_identity<T>::type;
template <class T> struct remove_cvref {
  typedef remove_cvref_t<T> type;
};

template <class T> typename add_rvalue_reference<T>::type declval() noexcept;

template <class T> struct is_void : is_same<remove_cv_t<T>, void> {};
template <class T> struct is_const : false_type {};
template <class T> struct is_const<const T> : true_type {};
template <class T> struct is_volatile : false_type {};
template <class T> struct is_volatile<volatile T> : true_type {};
template <class T> struct is_pointer_impl : false_type {};
template <class T> struct is_pointer_impl<T*> : true_type {};
template <class T> struct is_pointer : is_pointer_impl<remove_cv_t<T>> {};
template <class T> struct is_reference : false_type {};
template <class T> struct is_reference<T&> : true_type {};
template <class T> struct is_reference<T&&> : true_type {};
template <class T> struct is_lvalue_reference : false_type {};
template <class T> struct is_lvalue_reference<T&> : true_type {};
template <class T> struct is_rvalue_reference : false_type {};
template <class T> struct is_rvalue_reference<T&&> : true_type {};
template <class T> struct is_array : false_type {};
template <class T> struct is_array<T[]> : true_type {};
template <class T, unsigned long N> struct is_array<T[N]> : true_type {};

namespace detail {
template <class T> struct is_integral_impl : false_type {};
template <> struct is_integral_impl<bool> : true_type {};
template <> struct is_integral_impl<char> : true_type {};
template <> struct is_integral_impl<signed char> : true_type {};
template <> struct is_integral_impl<unsigned char> : true_type {};
template <> struct is_integral_impl<short> : true_type {};
template <> struct is_integral_impl<unsigned short> : true_type {};
template <> struct is_integral_impl<int> : true_type {};
template <> struct is_integral_impl<unsigned int> : true_type {};
template <> struct is_integral_impl<long> : true_type {};
template <> struct is_integral_impl<unsigned long> : true_type {};
template <> struct is_integral_impl<long long> : true_type {};
template <> struct is_integral_impl<unsigned long long> : true_type {};
template <class T> struct is_fp_impl : false_type {};
template <> struct is_fp_impl<half> : true_type {};
template <> struct is_fp_impl<bfloat> : true_type {};
template <> struct is_fp_impl<float> : true_type {};
template <> struct is_fp_impl<double> : true_type {};
}  // namespace detail

template <class T, int N> struct vec;
namespace detail {
// Metal's is_integral and is_floating_point hold for vectors of such elements too
// (`is_integral<int4>` is true: library code enables integer overloads of vectors with it).
// The runtime's own overloads test scalars: scalar_integral / scalar_floating_point.
template <class T> struct integral_or_vector : is_integral_impl<T> {};
template <class T, int N> struct integral_or_vector<vec<T, N>> : is_integral_impl<remove_cv_t<T>> {};
template <class T> struct fp_or_vector : is_fp_impl<T> {};
template <class T, int N> struct fp_or_vector<vec<T, N>> : is_fp_impl<remove_cv_t<T>> {};
template <class T> constexpr bool scalar_integral = is_integral_impl<remove_cv_t<T>>::value;
template <class T> constexpr bool scalar_floating_point = is_fp_impl<remove_cv_t<T>>::value;
}  // namespace detail

template <class T> struct is_integral : detail::integral_or_vector<remove_cv_t<T>> {};
template <class T> struct is_floating_point : detail::fp_or_vector<remove_cv_t<T>> {};
// Scalars only (the runtime's value machinery tells scalars from vectors with it).
template <class T> struct is_arithmetic
    : bool_constant<detail::scalar_integral<T> || detail::scalar_floating_point<T>> {};
template <class T> struct is_enum : bool_constant<__is_enum(T)> {};
template <class T> struct is_class : bool_constant<__is_class(T)> {};
template <class T> struct is_union : bool_constant<__is_union(T)> {};
template <class T> struct is_empty : bool_constant<__is_empty(T)> {};
template <class T> struct is_trivial : bool_constant<__is_trivial(T)> {};
template <class T> struct is_standard_layout : bool_constant<__is_standard_layout(T)> {};
template <class T> struct is_trivially_copyable : bool_constant<__is_trivially_copyable(T)> {};
template <class B, class D> struct is_base_of : bool_constant<__is_base_of(B, D)> {};
template <class T> struct is_member_pointer_impl : false_type {};
template <class T, class C> struct is_member_pointer_impl<T C::*> : true_type {};
template <class T> struct is_member_pointer : is_member_pointer_impl<remove_cv_t<T>> {};
template <class T> struct is_null_pointer : is_same<remove_cv_t<T>, decltype(nullptr)> {};
template <class T> struct is_scalar
    : bool_constant<is_arithmetic<T>::value || is_enum<T>::value || is_pointer<T>::value ||
                    is_member_pointer<T>::value || is_null_pointer<T>::value> {};

namespace detail {
template <class T, bool = is_arithmetic<T>::value> struct is_signed_impl : bool_constant<T(-1) < T(0)> {};
template <class T> struct is_signed_impl<T, false> : false_type {};
}  // namespace detail
// half and bfloat are structs (T(-1) < T(0) is not a constant expression for them).
template <class T> struct is_signed
    : bool_constant<detail::scalar_floating_point<T> || detail::is_signed_impl<remove_cv_t<T>>::value> {};
template <class T, int N> struct is_signed<vec<T, N>> : is_signed<T> {};
template <class T> struct is_unsigned : bool_constant<is_integral<T>::value && !is_signed<T>::value> {};

template <class From, class To> struct is_convertible {
 private:
  template <class T> static void take(T);
  template <class F, class T, class = decltype(take<T>(declval<F>()))> static true_type test(int);
  template <class, class> static false_type test(...);

 public:
  static constexpr bool value = decltype(test<From, To>(0))::value;
};

namespace detail {
template <unsigned long Size, bool Signed> struct int_of_size;
template <> struct int_of_size<1, true> {
  typedef signed char type;
};
template <> struct int_of_size<1, false> {
  typedef unsigned char type;
};
template <> struct int_of_size<2, true> {
  typedef short type;
};
template <> struct int_of_size<2, false> {
  typedef unsigned short type;
};
template <> struct int_of_size<4, true> {
  typedef int type;
};
template <> struct int_of_size<4, false> {
  typedef unsigned int type;
};
template <> struct int_of_size<8, true> {
  typedef long type;
};
template <> struct int_of_size<8, false> {
  typedef unsigned long type;
};
template <class From, class To> struct copy_cv {
  typedef To type;
};
template <class From, class To> struct copy_cv<const From, To> {
  typedef const To type;
};
template <class From, class To> struct copy_cv<volatile From, To> {
  typedef volatile To type;
};
template <class From, class To> struct copy_cv<const volatile From, To> {
  typedef const volatile To type;
};
}  // namespace detail
template <class T> struct make_signed {
  typedef typename detail::copy_cv<T, typename detail::int_of_size<sizeof(T), true>::type>::type type;
};
template <class T> struct make_unsigned {
  typedef typename detail::copy_cv<T, typename detail::int_of_size<sizeof(T), false>::type>::type type;
};
template <class T> using make_signed_t = typename make_signed<T>::type;
template <class T> using make_unsigned_t = typename make_unsigned<T>::type;

namespace detail {
// MSL integer arithmetic wraps (two's complement); C++ calls signed overflow and left shifts
// of negative values undefined. The runtime computes + - * << and negation in the unsigned
// type of the promoted operand (same bits, defined on both backends: NVRTC has no -fwrapv).
// wrap_t<T> is that type for integers other than bool, T itself for everything else.
template <class T, bool = is_integral<T>::value && !is_same<remove_cv_t<T>, bool>::value> struct wrap_type {
  typedef T type;
};
template <class T> struct wrap_type<T, true> {
  typedef make_unsigned_t<decltype(T() + T())> type;
};
template <class T> using wrap_t = typename wrap_type<T>::type;
}  // namespace detail

template <class T> struct decay {
 private:
  typedef remove_reference_t<T> U;

 public:
  typedef conditional_t<is_array<U>::value, remove_extent_t<U>*, remove_cv_t<U>> type;
};
template <class T> using decay_t = typename decay<T>::type;

template <class... T> struct conjunction : true_type {};
template <class T, class... R> struct conjunction<T, R...> : bool_constant<T::value && conjunction<R...>::value> {};
template <class... T> struct disjunction : false_type {};
template <class T, class... R> struct disjunction<T, R...> : bool_constant<T::value || disjunction<R...>::value> {};
template <class T> struct negation : bool_constant<!T::value> {};
template <class...> using void_t = void;

template <class T> constexpr bool is_integral_v = is_integral<T>::value;
template <class T> constexpr bool is_floating_point_v = is_floating_point<T>::value;
template <class T> constexpr bool is_arithmetic_v = is_arithmetic<T>::value;
template <class T> constexpr bool is_signed_v = is_signed<T>::value;
template <class T> constexpr bool is_unsigned_v = is_unsigned<T>::value;
template <class T> constexpr bool is_scalar_v = is_scalar<T>::value;
template <class T> constexpr bool is_pointer_v = is_pointer<T>::value;
template <class T> constexpr bool is_const_v = is_const<T>::value;
template <class T> constexpr bool is_void_v = is_void<T>::value;
template <class B, class D> constexpr bool is_base_of_v = is_base_of<B, D>::value;
template <class F, class T> constexpr bool is_convertible_v = is_convertible<F, T>::value;

// Compile-time sequences (used by templates in user code and by the runtime).
template <class T, T... I> struct integer_sequence {
  static constexpr unsigned long size() { return sizeof...(I); }
};
template <unsigned long... I> using index_sequence = integer_sequence<unsigned long, I...>;
namespace detail {
// Built on unsigned long (a partial specialisation cannot fix a value of a dependent
// type), then converted to T.
template <unsigned long N, unsigned long... I> struct make_seq : make_seq<N - 1, N - 1, I...> {};
template <unsigned long... I> struct make_seq<0, I...> {
  typedef index_sequence<I...> type;
};
template <class T, class S> struct seq_as;
template <class T, unsigned long... I> struct seq_as<T, index_sequence<I...>> {
  typedef integer_sequence<T, T(I)...> type;
};
}  // namespace detail
template <class T, T N> using make_integer_sequence =
    typename detail::seq_as<T, typename detail::make_seq<(unsigned long)N>::type>::type;
template <unsigned long N> using make_index_sequence = typename detail::make_seq<N>::type;

template <class T> constexpr T&& forward(remove_reference_t<T>& t) noexcept { return static_cast<T&&>(t); }
template <class T> constexpr T&& forward(remove_reference_t<T>&& t) noexcept { return static_cast<T&&>(t); }
template <class T> constexpr remove_reference_t<T>&& move(T&& t) noexcept {
  return static_cast<remove_reference_t<T>&&>(t);
}
}  // namespace metal
