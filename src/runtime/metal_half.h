// half (IEEE binary16) and bfloat (bfloat16) as 2-byte structs whose arithmetic runs in
// float and rounds back, which gives correctly rounded + - * / for both formats.
// A struct (not _Float16 or CUDA's __half) so that both compilers see the same type,
// with the same conversions: half + float is float, half + int is half, and float or
// integers convert to half implicitly, as in MSL.
#pragma once
#include "metal_type_traits.h"

namespace metal {
namespace detail {
constexpr uint f32_bits(float f) { return __builtin_bit_cast(uint, f); }
constexpr float f32_from_bits(uint u) { return __builtin_bit_cast(float, u); }

// float -> binary16, round to nearest even; NaN stays NaN (quiet), overflow gives inf.
constexpr ushort f32_to_f16_soft(float f) {
  uint u = f32_bits(f);
  uint sign = (u >> 16) & 0x8000u;
  uint a = u & 0x7fffffffu;
  if (a >= 0x7f800000u)  // inf or NaN
    return ushort(sign | (a > 0x7f800000u ? 0x7e00u | ((a >> 13) & 0x3ffu) : 0x7c00u));
  if (a >= 0x477ff000u) return ushort(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {                                // below 2^-14: half subnormal
    if (a <= 0x33000000u) return ushort(sign);          // <= 2^-25 rounds to zero
    uint e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    uint shift = 126u - e;  // value = m * 2^(e-150); units of 2^-24
    uint r = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
    return ushort(sign | r);
  }
  uint r = (a - 0x38000000u) >> 13, rem = a & 0x1fffu;     // rebias 127 -> 15
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry moves the exponent
  return ushort(sign | r);
}

constexpr float f16_to_f32(ushort h) {
  uint sign = uint(h & 0x8000u) << 16;
  uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return f32_from_bits(sign | 0x7f800000u | (m << 13));
  if (e == 0) {  // zero or subnormal: m * 2^-24 is exact in float
    float v = float(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

#if defined(METAL_TARGET_CUDA)
// The hardware conversions (not constexpr, so only used outside constant evaluation).
inline ushort f32_to_f16_hw(float f) {
  ushort r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
inline float f16_to_f32_hw(ushort h) {
  float r;
  asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(h));
  return r;
}
#endif

constexpr ushort f32_to_f16(float f) {
#if defined(METAL_TARGET_CUDA)
  if (!__builtin_is_constant_evaluated()) return f32_to_f16_hw(f);
#endif
  return f32_to_f16_soft(f);
}
constexpr float f16_to_f32_fast(ushort h) {
#if defined(METAL_TARGET_CUDA)
  if (!__builtin_is_constant_evaluated()) return f16_to_f32_hw(h);
#endif
  return f16_to_f32(h);
}

// float -> bfloat16, round to nearest even; NaN is kept quiet.
constexpr ushort f32_to_bf16(float f) {
  uint u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ushort((u >> 16) | 0x40u);
  return ushort((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
constexpr float bf16_to_f32(ushort b) { return f32_from_bits(uint(b) << 16); }

// Built-in arithmetic types other than the 16-bit structs (for mixed operators).
template <class U> constexpr bool is_builtin_arith = is_arithmetic<U>::value && !__is_class(U);
}  // namespace detail

struct half {
  ushort bits;
  half() = default;
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0> constexpr half(U v)
      : bits(detail::f32_to_f16(float(v))) {}
  explicit constexpr half(bfloat v);
  constexpr operator float() const { return detail::f16_to_f32_fast(bits); }
  static constexpr half from_bits(ushort b) {
    half h{};
    h.bits = b;
    return h;
  }
};

struct bfloat {
  ushort bits;
  bfloat() = default;
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0> constexpr bfloat(U v)
      : bits(detail::f32_to_bf16(float(v))) {}
  explicit constexpr bfloat(half v) : bits(detail::f32_to_bf16(float(v))) {}
  constexpr operator float() const { return detail::bf16_to_f32(bits); }
  static constexpr bfloat from_bits(ushort b) {
    bfloat h{};
    h.bits = b;
    return h;
  }
};
constexpr half::half(bfloat v) : bits(detail::f32_to_f16(float(v))) {}

typedef bfloat bfloat16_t;

static_assert(sizeof(half) == 2 && alignof(half) == 2, "half is 2 bytes");
static_assert(sizeof(bfloat) == 2 && alignof(bfloat) == 2, "bfloat is 2 bytes");
static_assert(__is_trivially_copyable(half) && __is_trivial(half), "half must be trivial");

// Operators, written once for both 16-bit types. H op H stays H; H op integer is H;
// H op float (or double) is float, MSL's usual arithmetic conversions.
#define METAL_RT_F16_OPS(H)                                                                \
  METAL_FUNC constexpr H operator+(H a) { return a; }                                      \
  METAL_FUNC constexpr H operator-(H a) { return H::from_bits(ushort(a.bits ^ 0x8000u)); } \
  METAL_RT_F16_BINOP(H, +)                                                                 \
  METAL_RT_F16_BINOP(H, -)                                                                 \
  METAL_RT_F16_BINOP(H, *)                                                                 \
  METAL_RT_F16_BINOP(H, /)                                                                 \
  METAL_RT_F16_CMP(H, ==)                                                                  \
  METAL_RT_F16_CMP(H, !=)                                                                  \
  METAL_RT_F16_CMP(H, <)                                                                   \
  METAL_RT_F16_CMP(H, >)                                                                   \
  METAL_RT_F16_CMP(H, <=)                                                                  \
  METAL_RT_F16_CMP(H, >=)                                                                  \
  METAL_FUNC H& operator++(H& a) { return a = H(float(a) + 1.0f); }                        \
  METAL_FUNC H& operator--(H& a) { return a = H(float(a) - 1.0f); }                        \
  METAL_FUNC H operator++(H& a, int) {                                                     \
    H o = a;                                                                               \
    a = H(float(a) + 1.0f);                                                                \
    return o;                                                                              \
  }                                                                                        \
  METAL_FUNC H operator--(H& a, int) {                                                     \
    H o = a;                                                                               \
    a = H(float(a) - 1.0f);                                                                \
    return o;                                                                              \
  }

#define METAL_RT_F16_BINOP(H, OP)                                                                  \
  METAL_FUNC constexpr H operator OP(H a, H b) { return H(float(a) OP float(b)); }                 \
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0>                            \
  METAL_FUNC constexpr conditional_t<detail::scalar_integral<U>, H, float> operator OP(H a, U b) { \
    return conditional_t<detail::scalar_integral<U>, H, float>(float(a) OP float(b));              \
  }                                                                                                \
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0>                            \
  METAL_FUNC constexpr conditional_t<detail::scalar_integral<U>, H, float> operator OP(U a, H b) { \
    return conditional_t<detail::scalar_integral<U>, H, float>(float(a) OP float(b));              \
  }                                                                                                \
  template <class U, enable_if_t<detail::is_builtin_arith<U> || is_same<U, H>::value, int> = 0>    \
  METAL_FUNC H& operator OP##=(H & a, U b) {                                                       \
    return a = H(float(a) OP float(b));                                                            \
  }

#define METAL_RT_F16_CMP(H, OP)                                                    \
  METAL_FUNC constexpr bool operator OP(H a, H b) { return float(a) OP float(b); } \
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0>            \
  METAL_FUNC constexpr bool operator OP(H a, U b) {                                \
    return float(a) OP float(b);                                                   \
  }                                                                                \
  template <class U, enable_if_t<detail::is_builtin_arith<U>, int> = 0>            \
  METAL_FUNC constexpr bool operator OP(U a, H b) {                                \
    return float(a) OP float(b);                                                   \
  }

METAL_RT_F16_OPS(half)
METAL_RT_F16_OPS(bfloat)
#undef METAL_RT_F16_OPS
#undef METAL_RT_F16_BINOP
#undef METAL_RT_F16_CMP
}  // namespace metal
