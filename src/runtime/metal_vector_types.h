// The named vector types (float4, packed_half3, ...) and their sizes and alignments
// (MSL spec table 2.3/2.4: a 3-component vector is laid out as the 4-component one;
// a packed vector has the alignment of its element).
#pragma once
#include "metal_vector.h"

namespace metal {
typedef vec<bool, 2> bool2;
typedef vec<bool, 3> bool3;
typedef vec<bool, 4> bool4;
typedef vec<char, 2> char2;
typedef vec<char, 3> char3;
typedef vec<char, 4> char4;
typedef vec<uchar, 2> uchar2;
typedef vec<uchar, 3> uchar3;
typedef vec<uchar, 4> uchar4;
typedef vec<short, 2> short2;
typedef vec<short, 3> short3;
typedef vec<short, 4> short4;
typedef vec<ushort, 2> ushort2;
typedef vec<ushort, 3> ushort3;
typedef vec<ushort, 4> ushort4;
typedef vec<int, 2> int2;
typedef vec<int, 3> int3;
typedef vec<int, 4> int4;
typedef vec<uint, 2> uint2;
typedef vec<uint, 3> uint3;
typedef vec<uint, 4> uint4;
typedef vec<long, 2> long2;
typedef vec<long, 3> long3;
typedef vec<long, 4> long4;
typedef vec<ulong, 2> ulong2;
typedef vec<ulong, 3> ulong3;
typedef vec<ulong, 4> ulong4;
typedef vec<half, 2> half2;
typedef vec<half, 3> half3;
typedef vec<half, 4> half4;
typedef vec<bfloat, 2> bfloat2;
typedef vec<bfloat, 3> bfloat3;
typedef vec<bfloat, 4> bfloat4;
typedef vec<float, 2> float2;
typedef vec<float, 3> float3;
typedef vec<float, 4> float4;
typedef packed_vec<char, 2> packed_char2;
typedef packed_vec<char, 3> packed_char3;
typedef packed_vec<char, 4> packed_char4;
typedef packed_vec<uchar, 2> packed_uchar2;
typedef packed_vec<uchar, 3> packed_uchar3;
typedef packed_vec<uchar, 4> packed_uchar4;
typedef packed_vec<short, 2> packed_short2;
typedef packed_vec<short, 3> packed_short3;
typedef packed_vec<short, 4> packed_short4;
typedef packed_vec<ushort, 2> packed_ushort2;
typedef packed_vec<ushort, 3> packed_ushort3;
typedef packed_vec<ushort, 4> packed_ushort4;
typedef packed_vec<int, 2> packed_int2;
typedef packed_vec<int, 3> packed_int3;
typedef packed_vec<int, 4> packed_int4;
typedef packed_vec<uint, 2> packed_uint2;
typedef packed_vec<uint, 3> packed_uint3;
typedef packed_vec<uint, 4> packed_uint4;
typedef packed_vec<long, 2> packed_long2;
typedef packed_vec<long, 3> packed_long3;
typedef packed_vec<long, 4> packed_long4;
typedef packed_vec<ulong, 2> packed_ulong2;
typedef packed_vec<ulong, 3> packed_ulong3;
typedef packed_vec<ulong, 4> packed_ulong4;
typedef packed_vec<half, 2> packed_half2;
typedef packed_vec<half, 3> packed_half3;
typedef packed_vec<half, 4> packed_half4;
typedef packed_vec<bfloat, 2> packed_bfloat2;
typedef packed_vec<bfloat, 3> packed_bfloat3;
typedef packed_vec<bfloat, 4> packed_bfloat4;
typedef packed_vec<float, 2> packed_float2;
typedef packed_vec<float, 3> packed_float3;
typedef packed_vec<float, 4> packed_float4;

// Checking a layout instantiates the type and its ~300 swizzle proxies (most of the
// cost of a compile), so the full table is checked only when METAL_RUNTIME_SELF_CHECK
// is defined (the runtime's tests do); the layout rule itself is fixed by vec's alignas
// and storage, identical for every element type.
#if defined(METAL_RUNTIME_SELF_CHECK)
#define METAL_RT_CHECK_VEC(T, E)                                                     \
  static_assert(sizeof(T##2) == 2 * (E) && alignof(T##2) == 2 * (E), #T "2 layout"); \
  static_assert(sizeof(T##3) == 4 * (E) && alignof(T##3) == 4 * (E), #T "3 layout"); \
  static_assert(sizeof(T##4) == 4 * (E) && alignof(T##4) == 4 * (E), #T "4 layout");
#define METAL_RT_CHECK_PACKED(T, E)                                                           \
  static_assert(sizeof(packed_##T##2) == 2 * (E) && alignof(packed_##T##2) == (E), "packed"); \
  static_assert(sizeof(packed_##T##3) == 3 * (E) && alignof(packed_##T##3) == (E), "packed"); \
  static_assert(sizeof(packed_##T##4) == 4 * (E) && alignof(packed_##T##4) == (E), "packed");
METAL_RT_CHECK_VEC(bool, 1)
METAL_RT_CHECK_VEC(char, 1)
METAL_RT_CHECK_VEC(uchar, 1)
METAL_RT_CHECK_VEC(short, 2)
METAL_RT_CHECK_VEC(ushort, 2)
METAL_RT_CHECK_VEC(int, 4)
METAL_RT_CHECK_VEC(uint, 4)
METAL_RT_CHECK_VEC(long, 8)
METAL_RT_CHECK_VEC(ulong, 8)
METAL_RT_CHECK_VEC(half, 2)
METAL_RT_CHECK_VEC(bfloat, 2)
METAL_RT_CHECK_VEC(float, 4)
METAL_RT_CHECK_PACKED(char, 1)
METAL_RT_CHECK_PACKED(uchar, 1)
METAL_RT_CHECK_PACKED(short, 2)
METAL_RT_CHECK_PACKED(ushort, 2)
METAL_RT_CHECK_PACKED(int, 4)
METAL_RT_CHECK_PACKED(uint, 4)
METAL_RT_CHECK_PACKED(long, 8)
METAL_RT_CHECK_PACKED(ulong, 8)
METAL_RT_CHECK_PACKED(half, 2)
METAL_RT_CHECK_PACKED(bfloat, 2)
METAL_RT_CHECK_PACKED(float, 4)
#undef METAL_RT_CHECK_VEC
#undef METAL_RT_CHECK_PACKED
static_assert(__is_standard_layout(float3) && __is_standard_layout(packed_float3), "layout");
#endif

// vec_elements<T>::value: the number of components of a vector type (1 for a scalar).
template <class T> struct vec_elements : integral_constant<int, detail::vinfo_t<T>::n> {};
template <class T> constexpr int vec_elements_v = vec_elements<T>::value;

// numeric_limits of a vector type: the scalar's properties, its values broadcast.
template <class T, int N> struct numeric_limits<vec<T, N>> : numeric_limits<T> {
  typedef numeric_limits<T> S;
  static constexpr vec<T, N> min() { return vec<T, N>(S::min()); }
  static constexpr vec<T, N> max() { return vec<T, N>(S::max()); }
  static constexpr vec<T, N> lowest() { return vec<T, N>(S::lowest()); }
  static constexpr vec<T, N> epsilon() { return vec<T, N>(S::epsilon()); }
  static constexpr vec<T, N> round_error() { return vec<T, N>(S::round_error()); }
  static constexpr vec<T, N> infinity() { return vec<T, N>(S::infinity()); }
  static constexpr vec<T, N> quiet_NaN() { return vec<T, N>(S::quiet_NaN()); }
  static constexpr vec<T, N> signaling_NaN() { return vec<T, N>(S::signaling_NaN()); }
  static constexpr vec<T, N> denorm_min() { return vec<T, N>(S::denorm_min()); }
};
}  // namespace metal
