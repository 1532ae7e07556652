// metal::numeric_limits for every MSL scalar type (including half and bfloat).
#pragma once
#include "metal_half.h"

namespace metal {
enum float_round_style {
  round_indeterminate = -1,
  round_toward_zero = 0,
  round_to_nearest = 1,
  round_toward_infinity = 2,
  round_toward_neg_infinity = 3
};
enum float_denorm_style { denorm_indeterminate = -1, denorm_absent = 0, denorm_present = 1 };

template <class T> struct numeric_limits {
  static constexpr bool is_specialized = false;
};
template <class T> struct numeric_limits<const T> : numeric_limits<T> {};
template <class T> struct numeric_limits<volatile T> : numeric_limits<T> {};
template <class T> struct numeric_limits<const volatile T> : numeric_limits<T> {};

namespace detail {
// Integer limits computed from the type (two's complement).
template <class T> struct int_limits {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = T(-1) < T(0);
  static constexpr bool is_integer = true;
  static constexpr bool is_exact = true;
  static constexpr bool has_infinity = false;
  static constexpr bool has_quiet_NaN = false;
  static constexpr bool has_signaling_NaN = false;
  static constexpr float_denorm_style has_denorm = denorm_absent;
  static constexpr float_round_style round_style = round_toward_zero;
  static constexpr bool is_iec559 = false;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = !is_signed;
  static constexpr int radix = 2;
  static constexpr int digits = int(sizeof(T) * 8) - (is_signed ? 1 : 0);
  static constexpr int digits10 = digits * 301 / 1000;
  static constexpr int max_digits10 = 0;
  static constexpr int min_exponent = 0, min_exponent10 = 0, max_exponent = 0, max_exponent10 = 0;
  static constexpr T max() {
    return is_signed ? T(((unsigned long)1 << (digits - 1)) - 1 + ((unsigned long)1 << (digits - 1))) : T(~T(0));
  }
  static constexpr T min() { return is_signed ? T(-max() - 1) : T(0); }
  static constexpr T lowest() { return min(); }
  static constexpr T epsilon() { return T(0); }
  static constexpr T round_error() { return T(0); }
  static constexpr T infinity() { return T(0); }
  static constexpr T quiet_NaN() { return T(0); }
  static constexpr T signaling_NaN() { return T(0); }
  static constexpr T denorm_min() { return T(0); }
};
// IEEE-style binary formats; values built from bit patterns so they are exact.
template <class T, int Digits, int MinExp, int MaxExp> struct fp_limits_base {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr float_denorm_style has_denorm = denorm_present;
  static constexpr float_round_style round_style = round_to_nearest;
  static constexpr bool is_iec559 = true;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int radix = 2;
  static constexpr int digits = Digits;
  static constexpr int digits10 = (Digits - 1) * 301 / 1000;
  static constexpr int max_digits10 = 2 + Digits * 301 / 1000;
  static constexpr int min_exponent = MinExp;
  static constexpr int max_exponent = MaxExp;
  static constexpr int min_exponent10 = (MinExp - 1) * 301 / 1000;
  static constexpr int max_exponent10 = MaxExp * 301 / 1000;
};
}  // namespace detail

template <> struct numeric_limits<bool> : detail::int_limits<bool> {
  static constexpr int digits = 1;
  static constexpr bool max() { return true; }
  static constexpr bool min() { return false; }
  static constexpr bool lowest() { return false; }
};
template <> struct numeric_limits<char> : detail::int_limits<char> {};
template <> struct numeric_limits<signed char> : detail::int_limits<signed char> {};
template <> struct numeric_limits<unsigned char> : detail::int_limits<unsigned char> {};
template <> struct numeric_limits<short> : detail::int_limits<short> {};
template <> struct numeric_limits<unsigned short> : detail::int_limits<unsigned short> {};
template <> struct numeric_limits<int> : detail::int_limits<int> {};
template <> struct numeric_limits<unsigned int> : detail::int_limits<unsigned int> {};
template <> struct numeric_limits<long> : detail::int_limits<long> {};
template <> struct numeric_limits<unsigned long> : detail::int_limits<unsigned long> {};
template <> struct numeric_limits<long long> : detail::int_limits<long long> {};
template <> struct numeric_limits<unsigned long long> : detail::int_limits<unsigned long long> {};

template <> struct numeric_limits<float> : detail::fp_limits_base<float, 24, -125, 128> {
  static constexpr float min() { return detail::f32_from_bits(0x00800000u); }
  static constexpr float max() { return detail::f32_from_bits(0x7f7fffffu); }
  static constexpr float lowest() { return detail::f32_from_bits(0xff7fffffu); }
  static constexpr float epsilon() { return detail::f32_from_bits(0x34000000u); }
  static constexpr float round_error() { return 0.5f; }
  static constexpr float infinity() { return detail::f32_from_bits(0x7f800000u); }
  static constexpr float quiet_NaN() { return detail::f32_from_bits(0x7fc00000u); }
  static constexpr float signaling_NaN() { return detail::f32_from_bits(0x7fa00000u); }
  static constexpr float denorm_min() { return detail::f32_from_bits(0x00000001u); }
};
template <> struct numeric_limits<half> : detail::fp_limits_base<half, 11, -13, 16> {
  static constexpr half min() { return half::from_bits(0x0400); }
  static constexpr half max() { return half::from_bits(0x7bff); }
  static constexpr half lowest() { return half::from_bits(0xfbff); }
  static constexpr half epsilon() { return half::from_bits(0x1400); }
  static constexpr half round_error() { return half::from_bits(0x3800); }
  static constexpr half infinity() { return half::from_bits(0x7c00); }
  static constexpr half quiet_NaN() { return half::from_bits(0x7e00); }
  static constexpr half signaling_NaN() { return half::from_bits(0x7d00); }
  static constexpr half denorm_min() { return half::from_bits(0x0001); }
};
template <> struct numeric_limits<bfloat> : detail::fp_limits_base<bfloat, 8, -125, 128> {
  static constexpr bfloat min() { return bfloat::from_bits(0x0080); }
  static constexpr bfloat max() { return bfloat::from_bits(0x7f7f); }
  static constexpr bfloat lowest() { return bfloat::from_bits(0xff7f); }
  static constexpr bfloat epsilon() { return bfloat::from_bits(0x3c00); }
  static constexpr bfloat round_error() { return bfloat::from_bits(0x3f00); }
  static constexpr bfloat infinity() { return bfloat::from_bits(0x7f80); }
  static constexpr bfloat quiet_NaN() { return bfloat::from_bits(0x7fc0); }
  static constexpr bfloat signaling_NaN() { return bfloat::from_bits(0x7fa0); }
  static constexpr bfloat denorm_min() { return bfloat::from_bits(0x0001); }
};
}  // namespace metal
