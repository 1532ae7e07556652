// MSL pack/unpack functions (MSL.md §5.6): normalized integers <-> float/half vectors.
// Component 0 is in the lowest bits. Rules (MSL's normalized-integer conversions):
//   unorm N bits -> float: c / (2^N - 1)
//   snorm N bits -> float: max(c / (2^(N-1) - 1), -1)       (so -128 and -127 both give -1)
//   float -> unorm: round-to-nearest-even(clamp(x, 0, 1) * (2^N - 1))
//   float -> snorm: round-to-nearest-even(clamp(x, -1, 1) * (2^(N-1) - 1))
// NaN packs to 0. The half variants
// convert through float, which is exact.
#pragma once
#include "metal_vector_types.h"

namespace metal {
namespace detail {
METAL_FUNC float pack_clampf(float x, float lo, float hi) {
  return METAL_RT_LIBM(fmin)(METAL_RT_LIBM(fmax)(x, lo), hi);
}
METAL_FUNC uint pack_unorm(float x, float scale) {
  return uint(METAL_RT_LIBM(rint)(pack_clampf(x, 0.0f, 1.0f) * scale));
}
METAL_FUNC uint pack_snorm(float x, float scale, uint bits_mask) {
  if (x != x) x = 0.0f;  // NaN -> 0, not -1
  int v = int(METAL_RT_LIBM(rint)(pack_clampf(x, -1.0f, 1.0f) * scale));
  return uint(v) & bits_mask;
}
METAL_FUNC float unpack_unorm(uint c, float scale) { return float(c) / scale; }
METAL_FUNC float unpack_snorm(int c, float scale) { return METAL_RT_LIBM(fmax)(float(c) / scale, -1.0f); }
}  // namespace detail

// ---- unpack ----------------------------------------------------------------------------
METAL_FUNC float4 unpack_unorm4x8_to_float(uint x) {
  return float4(detail::unpack_unorm(x & 0xffu, 255.0f), detail::unpack_unorm((x >> 8) & 0xffu, 255.0f),
                detail::unpack_unorm((x >> 16) & 0xffu, 255.0f), detail::unpack_unorm(x >> 24, 255.0f));
}
METAL_FUNC float4 unpack_snorm4x8_to_float(uint x) {
  return float4(detail::unpack_snorm(int(static_cast<signed char>(x & 0xffu)), 127.0f),
                detail::unpack_snorm(int(static_cast<signed char>((x >> 8) & 0xffu)), 127.0f),
                detail::unpack_snorm(int(static_cast<signed char>((x >> 16) & 0xffu)), 127.0f),
                detail::unpack_snorm(int(static_cast<signed char>(x >> 24)), 127.0f));
}
METAL_FUNC float2 unpack_unorm2x16_to_float(uint x) {
  return float2(detail::unpack_unorm(x & 0xffffu, 65535.0f), detail::unpack_unorm(x >> 16, 65535.0f));
}
METAL_FUNC float2 unpack_snorm2x16_to_float(uint x) {
  return float2(detail::unpack_snorm(int(short(x & 0xffffu)), 32767.0f),
                detail::unpack_snorm(int(short(x >> 16)), 32767.0f));
}
// 10-10-10-2: r in bits 0-9, g 10-19, b 20-29, a 30-31.
METAL_FUNC float4 unpack_unorm10a2_to_float(uint x) {
  return float4(detail::unpack_unorm(x & 0x3ffu, 1023.0f), detail::unpack_unorm((x >> 10) & 0x3ffu, 1023.0f),
                detail::unpack_unorm((x >> 20) & 0x3ffu, 1023.0f), detail::unpack_unorm(x >> 30, 3.0f));
}
// 5-6-5: r in bits 0-4, g 5-10, b 11-15.
METAL_FUNC float3 unpack_unorm565_to_float(ushort x) {
  return float3(detail::unpack_unorm(x & 0x1fu, 31.0f), detail::unpack_unorm((x >> 5) & 0x3fu, 63.0f),
                detail::unpack_unorm((uint(x) >> 11) & 0x1fu, 31.0f));
}
METAL_FUNC half4 unpack_unorm4x8_to_half(uint x) { return half4(unpack_unorm4x8_to_float(x)); }
METAL_FUNC half4 unpack_snorm4x8_to_half(uint x) { return half4(unpack_snorm4x8_to_float(x)); }
METAL_FUNC half2 unpack_unorm2x16_to_half(uint x) { return half2(unpack_unorm2x16_to_float(x)); }
METAL_FUNC half2 unpack_snorm2x16_to_half(uint x) { return half2(unpack_snorm2x16_to_float(x)); }
METAL_FUNC half4 unpack_unorm10a2_to_half(uint x) { return half4(unpack_unorm10a2_to_float(x)); }
METAL_FUNC half3 unpack_unorm565_to_half(ushort x) { return half3(unpack_unorm565_to_float(x)); }

// ---- pack ------------------------------------------------------------------------------
METAL_FUNC uint pack_float_to_unorm4x8(float4 v) {
  return detail::pack_unorm(v.x, 255.0f) | (detail::pack_unorm(v.y, 255.0f) << 8) |
         (detail::pack_unorm(v.z, 255.0f) << 16) | (detail::pack_unorm(v.w, 255.0f) << 24);
}
METAL_FUNC uint pack_float_to_snorm4x8(float4 v) {
  return detail::pack_snorm(v.x, 127.0f, 0xffu) | (detail::pack_snorm(v.y, 127.0f, 0xffu) << 8) |
         (detail::pack_snorm(v.z, 127.0f, 0xffu) << 16) | (detail::pack_snorm(v.w, 127.0f, 0xffu) << 24);
}
METAL_FUNC uint pack_float_to_unorm2x16(float2 v) {
  return detail::pack_unorm(v.x, 65535.0f) | (detail::pack_unorm(v.y, 65535.0f) << 16);
}
METAL_FUNC uint pack_float_to_snorm2x16(float2 v) {
  return detail::pack_snorm(v.x, 32767.0f, 0xffffu) | (detail::pack_snorm(v.y, 32767.0f, 0xffffu) << 16);
}
METAL_FUNC uint pack_float_to_unorm10a2(float4 v) {
  return detail::pack_unorm(v.x, 1023.0f) | (detail::pack_unorm(v.y, 1023.0f) << 10) |
         (detail::pack_unorm(v.z, 1023.0f) << 20) | (detail::pack_unorm(v.w, 3.0f) << 30);
}
METAL_FUNC ushort pack_float_to_unorm565(float3 v) {
  return ushort(detail::pack_unorm(v.x, 31.0f) | (detail::pack_unorm(v.y, 63.0f) << 5) |
                (detail::pack_unorm(v.z, 31.0f) << 11));
}
METAL_FUNC uint pack_half_to_unorm4x8(half4 v) { return pack_float_to_unorm4x8(float4(v)); }
METAL_FUNC uint pack_half_to_snorm4x8(half4 v) { return pack_float_to_snorm4x8(float4(v)); }
METAL_FUNC uint pack_half_to_unorm2x16(half2 v) { return pack_float_to_unorm2x16(float2(v)); }
METAL_FUNC uint pack_half_to_snorm2x16(half2 v) { return pack_float_to_snorm2x16(float2(v)); }
METAL_FUNC uint pack_half_to_unorm10a2(half4 v) { return pack_float_to_unorm10a2(float4(v)); }
METAL_FUNC ushort pack_half_to_unorm565(half3 v) { return pack_float_to_unorm565(float3(v)); }
}  // namespace metal
