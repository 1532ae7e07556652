// Textures and samplers for compute kernels (MSL.md §5.10), emulated over linear memory so
// that both targets run one piece of code. A texture argument is its descriptor
// (metal_texture_abi.h) by value; reads and writes outside the texture are ignored (reads
// give zero), where Metal leaves them undefined.
#pragma once

#include "metal_atomic.h"
#include "metal_texture_abi.h"
#include "metal_validation.h"

namespace metal {

enum class access { sample, read, write, read_write };

// ---------------------------------------------------------------- sampler
// Enum values are Metal's MTLSampler* values, as the host's SamplerState stores them.
enum class coord { normalized = 0, pixel = 1 };
namespace detail {
// Metal's address modes, one distinct enum per Axis: 0 for address (every axis), 1..3 for
// s_address, t_address and r_address (one axis each).
template <int Axis> struct address_modes {
  enum class mode {
    clamp_to_edge = 0,
    mirrored_clamp_to_edge = 1,
    repeat = 2,
    mirrored_repeat = 3,
    clamp_to_zero = 4,
    clamp_to_border = 5
  };
};
}  // namespace detail
using address = detail::address_modes<0>::mode;
using s_address = detail::address_modes<1>::mode;
using t_address = detail::address_modes<2>::mode;
using r_address = detail::address_modes<3>::mode;
enum class filter { nearest = 0, linear = 1 };
enum class mag_filter { nearest = 0, linear = 1 };
enum class min_filter { nearest = 0, linear = 1 };
enum class mip_filter { none = 0, nearest = 1, linear = 2 };
enum class compare_func { none, less, less_equal, greater, greater_equal, equal, not_equal, always, never };
enum class border_color { transparent_black, opaque_black, opaque_white };

namespace detail {
// Whether T is one of Ts (the option types a sampler or a sample() call takes).
template <class T, class... Ts> struct is_one_of {
  static constexpr bool value = (is_same<T, Ts>::value || ...);
};
template <class E> using is_sampler_option = is_one_of<E, coord, address, s_address, t_address, r_address, filter,
                                                       mag_filter, min_filter, mip_filter, compare_func, border_color>;
template <bool... B> struct all_true {
  static constexpr bool value = (B && ...);
};
}  // namespace detail

// Same bytes as metal_sampler_abi. Default: normalized, clamp_to_edge, nearest (as Metal).
struct sampler {
  unsigned char normalized = 1, s_address_ = 0, t_address_ = 0, r_address_ = 0;
  unsigned char mag_filter_ = 0, min_filter_ = 0, mip_filter_ = 0, pad_ = 0;

  constexpr sampler() = default;
  template <class... E,
            class = typename enable_if<(sizeof...(E) > 0) &&
                                       detail::all_true<detail::is_sampler_option<E>::value...>::value>::type>
  constexpr sampler(E... options) {
    (set(options), ...);
  }
  constexpr void set(coord c) { normalized = c == coord::normalized ? 1 : 0; }
  constexpr void set(address a) { s_address_ = t_address_ = r_address_ = static_cast<unsigned char>(a); }
  constexpr void set(s_address a) { s_address_ = static_cast<unsigned char>(a); }
  constexpr void set(t_address a) { t_address_ = static_cast<unsigned char>(a); }
  constexpr void set(r_address a) { r_address_ = static_cast<unsigned char>(a); }
  constexpr void set(filter f) { mag_filter_ = min_filter_ = static_cast<unsigned char>(f); }
  constexpr void set(mag_filter f) { mag_filter_ = static_cast<unsigned char>(f); }
  constexpr void set(min_filter f) { min_filter_ = static_cast<unsigned char>(f); }
  constexpr void set(mip_filter f) { mip_filter_ = static_cast<unsigned char>(f); }
  constexpr void set(compare_func) {}
  constexpr void set(border_color) {}
};

// sample() options; with one mip level they change nothing.
struct level {
  float lod;
  constexpr explicit level(float l) : lod(l) {}
};
struct bias {
  float value;
  constexpr explicit bias(float b) : value(b) {}
};
struct min_lod_clamp {
  float value;
  constexpr explicit min_lod_clamp(float b) : value(b) {}
};

namespace detail {

template <class T> using tex_is_float = is_one_of<T, float, half, bfloat>;

METAL_FUNC const unsigned char* texel_at(const metal_texture_abi& d, uint x, uint y, uint z) {
  return static_cast<const unsigned char*>(d.data) + z * d.slice_pitch + y * (unsigned long long)d.row_pitch +
         x * (unsigned long long)d.texel_bytes;
}

// Texel as float4, missing channels (0, 0, 0, 1).
METAL_FUNC float4 load_float(const metal_texture_abi& d, const unsigned char* p) {
  float c[4] = {0.0f, 0.0f, 0.0f, 1.0f};
  const unsigned n = metal_pixel_format_channels(d.format), kind = metal_pixel_format_kind(d.format);
  for (unsigned i = 0; i < n; ++i) {
    switch (kind) {
      case metal_texel_unorm8:
        c[i] = float(p[i]) / 255.0f;
        break;
      case metal_texel_unorm16:
        c[i] = float(reinterpret_cast<const unsigned short*>(p)[i]) / 65535.0f;
        break;
      case metal_texel_float16:
        c[i] = f16_to_f32_fast(reinterpret_cast<const unsigned short*>(p)[i]);
        break;
      case metal_texel_float32:
        c[i] = reinterpret_cast<const float*>(p)[i];
        break;
      default:
        c[i] = 0.0f;
        break;
    }
  }
  if (d.format == 80) {
    float t = c[0];
    c[0] = c[2];
    c[2] = t;
  }  // bgra8Unorm
  return float4(c[0], c[1], c[2], c[3]);
}

METAL_FUNC void store_float(const metal_texture_abi& d, unsigned char* p, float4 v) {
  float c[4] = {v.x, v.y, v.z, v.w};
  if (d.format == 80) {
    float t = c[0];
    c[0] = c[2];
    c[2] = t;
  }
  const unsigned n = metal_pixel_format_channels(d.format), kind = metal_pixel_format_kind(d.format);
  for (unsigned i = 0; i < n; ++i) {
    float x = c[i];
    switch (kind) {
      case metal_texel_unorm8:
        x = x != x ? 0.0f : x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
        p[i] = static_cast<unsigned char>(METAL_RT_LIBM(rint)(x * 255.0f));
        break;
      case metal_texel_unorm16:
        x = x != x ? 0.0f : x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
        reinterpret_cast<unsigned short*>(p)[i] = static_cast<unsigned short>(METAL_RT_LIBM(rint)(x * 65535.0f));
        break;
      case metal_texel_float16:
        reinterpret_cast<unsigned short*>(p)[i] = f32_to_f16(x);
        break;
      case metal_texel_float32:
        reinterpret_cast<float*>(p)[i] = x;
        break;
      default:
        break;
    }
  }
}

// Integer texel, sign-extended for signed formats; missing channels (0, 0, 0, 1).
METAL_FUNC uint4 load_int(const metal_texture_abi& d, const unsigned char* p) {
  uint c[4] = {0u, 0u, 0u, 1u};
  const unsigned n = metal_pixel_format_channels(d.format), kind = metal_pixel_format_kind(d.format);
  for (unsigned i = 0; i < n; ++i) {
    switch (kind) {
      case metal_texel_uint8:
        c[i] = p[i];
        break;
      case metal_texel_sint8:
        c[i] = uint(int(static_cast<signed char>(p[i])));
        break;
      case metal_texel_uint16:
        c[i] = reinterpret_cast<const unsigned short*>(p)[i];
        break;
      case metal_texel_sint16:
        c[i] = uint(int(reinterpret_cast<const short*>(p)[i]));
        break;
      case metal_texel_uint32:
      case metal_texel_sint32:
        c[i] = reinterpret_cast<const uint*>(p)[i];
        break;
      default:
        c[i] = 0u;
        break;
    }
  }
  return uint4(c[0], c[1], c[2], c[3]);
}

METAL_FUNC void store_int(const metal_texture_abi& d, unsigned char* p, uint4 v) {
  uint c[4] = {v.x, v.y, v.z, v.w};
  const unsigned n = metal_pixel_format_channels(d.format), kind = metal_pixel_format_kind(d.format);
  for (unsigned i = 0; i < n; ++i) {
    switch (kind) {
      case metal_texel_uint8:
      case metal_texel_sint8:
        p[i] = static_cast<unsigned char>(c[i]);
        break;
      case metal_texel_uint16:
      case metal_texel_sint16:
        reinterpret_cast<unsigned short*>(p)[i] = static_cast<unsigned short>(c[i]);
        break;
      case metal_texel_uint32:
      case metal_texel_sint32:
        reinterpret_cast<uint*>(p)[i] = c[i];
        break;
      default:
        break;
    }
  }
}

template <class T> METAL_FUNC vec<T, 4> texel_read(const metal_texture_abi& d, uint x, uint y, uint z) {
  if (x >= d.width || y >= d.height || z >= d.depth) {
    METAL_V_TEXTURE_OOB(x, y, z, d, false);
    return vec<T, 4>(T(0), T(0), T(0), T(0));
  }
  const unsigned char* p = texel_at(d, x, y, z);
  if constexpr (tex_is_float<T>::value) {
    float4 f = load_float(d, p);
    return vec<T, 4>(T(f.x), T(f.y), T(f.z), T(f.w));
  } else {
    uint4 u = load_int(d, p);
    return vec<T, 4>(static_cast<T>(u.x), static_cast<T>(u.y), static_cast<T>(u.z), static_cast<T>(u.w));
  }
}

template <class T> METAL_FUNC void texel_write(const metal_texture_abi& d, vec<T, 4> v, uint x, uint y, uint z) {
  if (x >= d.width || y >= d.height || z >= d.depth) {
    METAL_V_TEXTURE_OOB(x, y, z, d, true);
    return;
  }
  unsigned char* p = const_cast<unsigned char*>(texel_at(d, x, y, z));
  if constexpr (tex_is_float<T>::value)
    store_float(d, p, float4(float(v.x), float(v.y), float(v.z), float(v.w)));
  else
    store_int(d, p, uint4(uint(v.x), uint(v.y), uint(v.z), uint(v.w)));
}

// Integer texel coordinate i wrapped into [0, n) by an address mode; false: outside (zero).
METAL_FUNC bool wrap_texel(int& i, int n, unsigned mode) {
  switch (mode) {
    case 2:
      i %= n;
      if (i < 0) i += n;
      return true;  // repeat
    case 3: {       // mirrored_repeat
      int m = 2 * n;
      i %= m;
      if (i < 0) i += m;
      if (i >= n) i = m - 1 - i;
      return true;
    }
    case 4:
    case 5:
      return i >= 0 && i < n;  // clamp_to_zero, clamp_to_border (transparent black)
    case 1:
      if (i < 0) i = -1 - i;
      [[fallthrough]];  // mirrored_clamp_to_edge
    default:
      i = i < 0 ? 0 : i >= n ? n - 1 : i;
      return true;  // clamp_to_edge
  }
}

METAL_FUNC int floor_to_int(float x) {
  float f = METAL_RT_LIBM(floor)(x);
  f = f != f ? 0.0f : f < -1073741824.0f ? -1073741824.0f : f > 1073741824.0f ? 1073741824.0f : f;
  return static_cast<int>(f);
}

// Filtered sample of a texture of `dims` dimensions (1..3) at (u, v, w); `layer` selects an
// array layer (then dims <= 2). Offsets are in texels, as Metal's offset argument.
template <class T> METAL_FUNC vec<T, 4> texel_sample(const metal_texture_abi& d, sampler s, int dims, float u, float v,
                                                     float w, uint layer, int ou, int ov, int ow) {
  const int size[3] = {int(d.width), int(d.height), int(d.depth)};
  const unsigned modes[3] = {s.s_address_, s.t_address_, s.r_address_};
  float c[3] = {u, v, w};
  const int off[3] = {ou, ov, ow};
  const bool linear = s.mag_filter_ == 1 && tex_is_float<T>::value;
  int i0[3] = {0, 0, 0};
  float frac[3] = {0.0f, 0.0f, 0.0f};
  for (int k = 0; k < dims; ++k) {
    float x = s.normalized ? c[k] * float(size[k]) : c[k];
    if (linear) x -= 0.5f;
    i0[k] = floor_to_int(x);
    frac[k] = x - METAL_RT_LIBM(floor)(x);
    i0[k] += off[k];
  }
  const bool alpha = metal_pixel_format_channels(d.format) == 4;
  const uint z_fixed = dims == 3 ? 0u : layer;
  if (!linear) {
    int idx[3] = {i0[0], i0[1], i0[2]};
    for (int k = 0; k < dims; ++k)
      if (!wrap_texel(idx[k], size[k], modes[k])) return vec<T, 4>(T(0), T(0), T(0), T(alpha ? 0 : 1));
    return texel_read<T>(d, uint(idx[0]), uint(idx[1]), dims == 3 ? uint(idx[2]) : z_fixed);
  }
  float4 acc = float4(0.0f);
  const int corners = 1 << dims;
  for (int corner = 0; corner < corners; ++corner) {
    int idx[3] = {0, 0, 0};
    float weight = 1.0f;
    bool inside = true;
    for (int k = 0; k < dims; ++k) {
      const int hi = (corner >> k) & 1;
      idx[k] = i0[k] + hi;
      weight *= hi ? frac[k] : 1.0f - frac[k];
      inside = wrap_texel(idx[k], size[k], modes[k]) && inside;
    }
    if (weight == 0.0f) continue;
    float4 t = inside ? load_float(d, texel_at(d, uint(idx[0]), uint(idx[1]), dims == 3 ? uint(idx[2]) : z_fixed))
                      : float4(0.0f, 0.0f, 0.0f, alpha ? 0.0f : 1.0f);
    acc += t * weight;
  }
  return vec<T, 4>(T(acc.x), T(acc.y), T(acc.z), T(acc.w));
}

template <class... O> struct all_sample_options {
  static constexpr bool value = all_true<is_one_of<O, level, bias, min_lod_clamp>::value...>::value;
};

// Texture atomics (MSL 3.1) act on the red channel of a 32-bit integer texel (R32Uint,
// R32Sint); the vector they return holds the old value in x, as a read of that texel would.
template <class T> METAL_FUNC volatile atomic<T>* texel_atomic(const metal_texture_abi& d, uint x, uint y, uint z) {
  static_assert(is_same<T, uint>::value || is_same<T, int>::value, "texture atomics are on int and uint textures");
  if (x >= d.width || y >= d.height || z >= d.depth || d.texel_bytes != 4) return nullptr;
  return reinterpret_cast<volatile atomic<T>*>(const_cast<unsigned char*>(texel_at(d, x, y, z)));
}
template <class T> METAL_FUNC vec<T, 4> texel_atomic_result(T v) { return vec<T, 4>(v, T(0), T(0), T(1)); }
}  // namespace detail

// The atomic member functions of a texture whose coordinate parameters are __VA_ARGS__ and
// locate texel (X, Y, Z).
#define METAL_TEXTURE_ATOMIC_FETCH(OP, X, Y, Z, ...)                                                              \
  METAL_FUNC vec<T, 4> atomic_fetch_##OP(__VA_ARGS__, vec<T, 4> v) const {                                        \
    volatile atomic<T>* a = detail::texel_atomic<T>(pm_d, X, Y, Z);                                               \
    return detail::texel_atomic_result<T>(a ? atomic_fetch_##OP##_explicit(a, v.x, memory_order_relaxed) : T(0)); \
  }
#define METAL_TEXTURE_ATOMICS(X, Y, Z, ...)                                                                        \
  METAL_TEXTURE_ATOMIC_FETCH(add, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_TEXTURE_ATOMIC_FETCH(sub, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_TEXTURE_ATOMIC_FETCH(and, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_TEXTURE_ATOMIC_FETCH(or, X, Y, Z, __VA_ARGS__)                                                             \
  METAL_TEXTURE_ATOMIC_FETCH(xor, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_TEXTURE_ATOMIC_FETCH(min, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_TEXTURE_ATOMIC_FETCH(max, X, Y, Z, __VA_ARGS__)                                                            \
  METAL_FUNC vec<T, 4> atomic_load(__VA_ARGS__) const {                                                            \
    volatile atomic<T>* a = detail::texel_atomic<T>(pm_d, X, Y, Z);                                                \
    return detail::texel_atomic_result<T>(a ? atomic_load_explicit(a, memory_order_relaxed) : T(0));               \
  }                                                                                                                \
  METAL_FUNC void atomic_store(__VA_ARGS__, vec<T, 4> v) const {                                                   \
    if (volatile atomic<T>* a = detail::texel_atomic<T>(pm_d, X, Y, Z))                                            \
      atomic_store_explicit(a, v.x, memory_order_relaxed);                                                         \
  }                                                                                                                \
  METAL_FUNC vec<T, 4> atomic_exchange(__VA_ARGS__, vec<T, 4> v) const {                                           \
    volatile atomic<T>* a = detail::texel_atomic<T>(pm_d, X, Y, Z);                                                \
    return detail::texel_atomic_result<T>(a ? atomic_exchange_explicit(a, v.x, memory_order_relaxed) : T(0));      \
  }                                                                                                                \
  METAL_FUNC bool atomic_compare_exchange_weak(__VA_ARGS__, vec<T, 4>* expected, vec<T, 4> desired) const {        \
    volatile atomic<T>* a = detail::texel_atomic<T>(pm_d, X, Y, Z);                                                \
    if (!a) return false;                                                                                          \
    T e = expected->x;                                                                                             \
    bool ok = atomic_compare_exchange_weak_explicit(a, &e, desired.x, memory_order_relaxed, memory_order_relaxed); \
    if (!ok) *expected = detail::texel_atomic_result<T>(e);                                                        \
    return ok;                                                                                                     \
  }

// read() and write() of a texture whose coordinate parameters are __VA_ARGS__ and locate
// texel (X, Y, Z); one mip level, so lod changes nothing.
#define METAL_TEXTURE_READ_WRITE(X, Y, Z, ...)                          \
  METAL_FUNC vec<T, 4> read(__VA_ARGS__, uint lod = 0) const {          \
    (void)lod;                                                          \
    return detail::texel_read<T>(pm_d, X, Y, Z);                        \
  }                                                                     \
  METAL_FUNC void write(vec<T, 4> v, __VA_ARGS__, uint lod = 0) const { \
    (void)lod;                                                          \
    detail::texel_write<T>(pm_d, v, X, Y, Z);                           \
  }
// The template head of sample(): any of Metal's sample options (level, bias, min_lod_clamp).
#define METAL_TEXTURE_SAMPLE_OPTIONS \
  template <class... O, class = typename enable_if<detail::all_sample_options<O...>::value>::type>

#define METAL_TEXTURE_COMMON                                                                               \
  metal_texture_abi pm_d;                                                                                  \
  METAL_FUNC uint get_width(uint lod = 0) const { return (pm_d.width >> lod) ? (pm_d.width >> lod) : 1u; } \
  METAL_FUNC uint get_num_mip_levels() const { return 1u; }                                                \
  METAL_FUNC void fence() const {}

#define METAL_TEXTURE_HEIGHT \
  METAL_FUNC uint get_height(uint lod = 0) const { return (pm_d.height >> lod) ? (pm_d.height >> lod) : 1u; }

// The third template argument of every texture is MSL 3.2's memory_coherence
// (`texture2d<float, access::read_write, memory_coherence_device>`): every store here is
// seen device-wide once fenced, so both values behave alike.
template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup> struct texture1d {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_READ_WRITE(x, 0, 0, uint x)
  METAL_TEXTURE_ATOMICS(x, 0u, 0u, uint x)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float x, O...) const {
    return detail::texel_sample<T>(pm_d, s, 1, x, 0.0f, 0.0f, 0u, 0, 0, 0);
  }
};

template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup>
struct texture1d_array {
  METAL_TEXTURE_COMMON
  METAL_FUNC uint get_array_size() const { return pm_d.depth; }
  METAL_TEXTURE_READ_WRITE(x, 0, layer, uint x, uint layer)
  METAL_TEXTURE_ATOMICS(x, 0u, layer, uint x, uint layer)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float x, uint layer, O...) const {
    return detail::texel_sample<T>(pm_d, s, 1, x, 0.0f, 0.0f, layer, 0, 0, 0);
  }
};

template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup> struct texture2d {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_TEXTURE_READ_WRITE(c.x, c.y, 0, uint2 c)
  METAL_TEXTURE_READ_WRITE(c.x, c.y, 0, ushort2 c)
  METAL_TEXTURE_ATOMICS(c.x, c.y, 0u, uint2 c)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float2 c, O...) const {
    return detail::texel_sample<T>(pm_d, s, 2, c.x, c.y, 0.0f, 0u, 0, 0, 0);
  }
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float2 c, int2 offset, O...) const {
    return detail::texel_sample<T>(pm_d, s, 2, c.x, c.y, 0.0f, 0u, offset.x, offset.y, 0);
  }
};

template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup>
struct texture2d_array {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_FUNC uint get_array_size() const { return pm_d.depth; }
  METAL_TEXTURE_READ_WRITE(c.x, c.y, layer, uint2 c, uint layer)
  METAL_TEXTURE_ATOMICS(c.x, c.y, layer, uint2 c, uint layer)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float2 c, uint layer, O...) const {
    return detail::texel_sample<T>(pm_d, s, 2, c.x, c.y, 0.0f, layer, 0, 0, 0);
  }
};

template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup> struct texture3d {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_FUNC uint get_depth(uint lod = 0) const { return (pm_d.depth >> lod) ? (pm_d.depth >> lod) : 1u; }
  METAL_TEXTURE_READ_WRITE(c.x, c.y, c.z, uint3 c)
  METAL_TEXTURE_READ_WRITE(c.x, c.y, c.z, ushort3 c)
  METAL_TEXTURE_ATOMICS(c.x, c.y, c.z, uint3 c)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float3 c, O...) const {
    return detail::texel_sample<T>(pm_d, s, 3, c.x, c.y, c.z, 0u, 0, 0, 0);
  }
};

namespace detail {
// The face a direction points at (+x, -x, +y, -y, +z, -z: 0..5) and the normalized
// coordinates on it, by the major axis (the table of OpenGL/Vulkan, which Metal shares).
METAL_FUNC void cube_face(float3 d, uint& face, float& s, float& t) {
  float ax = METAL_RT_LIBM(fabs)(d.x), ay = METAL_RT_LIBM(fabs)(d.y), az = METAL_RT_LIBM(fabs)(d.z);
  float sc, tc, ma;
  if (ax >= ay && ax >= az) {
    face = d.x >= 0.0f ? 0u : 1u, ma = ax, sc = d.x >= 0.0f ? -d.z : d.z, tc = -d.y;
  } else if (ay >= az) {
    face = d.y >= 0.0f ? 2u : 3u, ma = ay, sc = d.x, tc = d.y >= 0.0f ? d.z : -d.z;
  } else {
    face = d.z >= 0.0f ? 4u : 5u, ma = az, sc = d.z >= 0.0f ? d.x : -d.x, tc = -d.y;
  }
  ma = ma > 0.0f ? ma : 1.0f;
  s = 0.5f * (sc / ma + 1.0f), t = 0.5f * (tc / ma + 1.0f);
}
template <class T> METAL_FUNC vec<T, 4> cube_sample(const metal_texture_abi& d, sampler smp, float3 dir, uint first) {
  uint face;
  float s, t;
  cube_face(dir, face, s, t);
  smp.normalized = 1, smp.s_address_ = smp.t_address_ = 0;  // cube coordinates clamp to the face's edge
  return texel_sample<T>(d, smp, 2, s, t, 0.0f, first + face, 0, 0, 0);
}
}  // namespace detail

// A cube texture: six square faces (slices 0..5); a cube array: six per cube.
template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup> struct texturecube {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_TEXTURE_READ_WRITE(c.x, c.y, face < 6u ? face : 6u, uint2 c, uint face)
  METAL_TEXTURE_ATOMICS(c.x, c.y, face < 6u ? face : 6u, uint2 c, uint face)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float3 dir, O...) const { return detail::cube_sample<T>(pm_d, s, dir, 0u); }
};

template <class T, access A = access::sample, memory_coherence C = memory_coherence_threadgroup>
struct texturecube_array {
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_FUNC uint get_array_size() const { return pm_d.depth / 6u; }
  METAL_TEXTURE_READ_WRITE(c.x, c.y, face < 6u ? array * 6u + face : pm_d.depth, uint2 c, uint face, uint array)
  METAL_TEXTURE_ATOMICS(c.x, c.y, face < 6u ? array * 6u + face : pm_d.depth, uint2 c, uint face, uint array)
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC vec<T, 4> sample(sampler s, float3 dir, uint array, O...) const {
    if (array >= get_array_size()) return vec<T, 4>(T(0));
    return detail::cube_sample<T>(pm_d, s, dir, array * 6u);
  }
};

// A texture over a buffer's texels: 1-D, read and written by index, no sampling.
template <class T, access A = access::read, memory_coherence C = memory_coherence_threadgroup> struct texture_buffer {
  metal_texture_abi pm_d;
  METAL_FUNC uint get_width() const { return pm_d.width; }
  METAL_FUNC vec<T, 4> read(uint x) const { return detail::texel_read<T>(pm_d, x, 0, 0); }
  METAL_FUNC void write(vec<T, 4> v, uint x) const { detail::texel_write<T>(pm_d, v, x, 0, 0); }
  METAL_TEXTURE_ATOMICS(x, 0u, 0u, uint x)
  METAL_FUNC void fence() const {}
};

// Depth textures: one float channel; read, write and sample give or take a scalar. They
// compile; binding one to a dispatch is refused until depth pixel formats exist
// (docs/msl-support.md §5.10).
template <class T, access A = access::sample> struct depth2d {
  static_assert(is_same<T, float>::value || is_same<T, half>::value, "depth textures hold float or half");
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_FUNC T read(uint2 c, uint lod = 0) const {
    (void)lod;
    return detail::texel_read<T>(pm_d, c.x, c.y, 0).x;
  }
  METAL_FUNC void write(T v, uint2 c, uint lod = 0) const {
    (void)lod;
    detail::texel_write<T>(pm_d, vec<T, 4>(v), c.x, c.y, 0);
  }
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC T sample(sampler s, float2 c, O...) const {
    return detail::texel_sample<T>(pm_d, s, 2, c.x, c.y, 0.0f, 0u, 0, 0, 0).x;
  }
};
template <class T, access A = access::sample> struct depth2d_array {
  static_assert(is_same<T, float>::value || is_same<T, half>::value, "depth textures hold float or half");
  METAL_TEXTURE_COMMON
  METAL_TEXTURE_HEIGHT
  METAL_FUNC uint get_array_size() const { return pm_d.depth; }
  METAL_FUNC T read(uint2 c, uint layer, uint lod = 0) const {
    (void)lod;
    return detail::texel_read<T>(pm_d, c.x, c.y, layer).x;
  }
  METAL_FUNC void write(T v, uint2 c, uint layer, uint lod = 0) const {
    (void)lod;
    detail::texel_write<T>(pm_d, vec<T, 4>(v), c.x, c.y, layer);
  }
  METAL_TEXTURE_SAMPLE_OPTIONS
  METAL_FUNC T sample(sampler s, float2 c, uint layer, O...) const {
    return detail::texel_sample<T>(pm_d, s, 2, c.x, c.y, 0.0f, layer, 0, 0, 0).x;
  }
};

#undef METAL_TEXTURE_COMMON
#undef METAL_TEXTURE_HEIGHT
#undef METAL_TEXTURE_ATOMICS
#undef METAL_TEXTURE_ATOMIC_FETCH
#undef METAL_TEXTURE_READ_WRITE
#undef METAL_TEXTURE_SAMPLE_OPTIONS

namespace detail {
// Entry wrappers build arguments from descriptors the host packed.
template <class Tex> METAL_FUNC Tex make_texture_arg(const void* abi) {
  Tex t;
  t.pm_d = *static_cast<const metal_texture_abi*>(abi);
  return t;
}
METAL_FUNC sampler make_sampler_arg(const void* abi) {
  sampler s;
  const unsigned char* b = static_cast<const unsigned char*>(abi);
  s.normalized = b[0], s.s_address_ = b[1], s.t_address_ = b[2], s.r_address_ = b[3];
  s.mag_filter_ = b[4], s.min_filter_ = b[5], s.mip_filter_ = b[6];
  return s;
}
}  // namespace detail

}  // namespace metal
