// The plain descriptor a texture argument travels as, shared by the runtime library (device
// side) and the host (src/core, the backends). Textures are emulated over linear memory:
// texel (x, y, z) of a texture lives at data + z * slice_pitch + y * row_pitch + x * texel_bytes,
// z being the depth of a 3-D texture or the layer of an array. Plain C: no includes.
#pragma once

struct metal_texture_abi {
  void* data;                         // texel storage (device address on a GPU)
  unsigned long long slice_pitch;     // bytes between slices or array layers
  unsigned int width, height, depth;  // depth: 3-D depth or array length; 1 otherwise
  unsigned int row_pitch;             // bytes between rows
  unsigned int format;                // MTLPixelFormat value (metal_texture.h lists those supported)
  unsigned int texel_bytes;
};

// A sampler as Metal's MTLSamplerDescriptor says it; the values are MTLSampler* enum values.
struct metal_sampler_abi {
  unsigned char normalized;                       // 1: coordinates in [0, 1]; 0: pixel coordinates
  unsigned char s_address, t_address, r_address;  // 0 clamp_to_edge, 2 repeat, 3 mirrored_repeat, 4 clamp_to_zero
  unsigned char mag_filter, min_filter;           // 0 nearest, 1 linear
  unsigned char mip_filter;                       // 0 none
  unsigned char pad;
};

// What a pixel format stores: channel count and component kind, or 0 if not supported.
enum metal_texel_kind {
  metal_texel_unorm8 = 1,
  metal_texel_float16 = 2,
  metal_texel_float32 = 3,
  metal_texel_uint8 = 4,
  metal_texel_sint8 = 5,
  metal_texel_uint16 = 6,
  metal_texel_sint16 = 7,
  metal_texel_uint32 = 8,
  metal_texel_sint32 = 9,
  metal_texel_unorm16 = 10
};
// Every supported pixel format, once: X(name, MTLPixelFormat value, channels, texel kind).
// The lookups below, the host's checks (src/core/texture.cpp) and the Python enum
// (pymetallic.PixelFormat, bound in python/src/bind_texture.cpp) all come from this list.
// clang-format off
#define METAL_PIXEL_FORMATS(X)                                                                     \
  X(R8Unorm, 10, 1, metal_texel_unorm8)     X(R8Uint, 13, 1, metal_texel_uint8)                   \
  X(R8Sint, 14, 1, metal_texel_sint8)       X(R16Unorm, 20, 1, metal_texel_unorm16)               \
  X(R16Uint, 23, 1, metal_texel_uint16)     X(R16Sint, 24, 1, metal_texel_sint16)                 \
  X(R16Float, 25, 1, metal_texel_float16)   X(RG8Unorm, 30, 2, metal_texel_unorm8)                \
  X(RG8Uint, 33, 2, metal_texel_uint8)      X(RG8Sint, 34, 2, metal_texel_sint8)                  \
  X(R32Uint, 53, 1, metal_texel_uint32)     X(R32Sint, 54, 1, metal_texel_sint32)                 \
  X(R32Float, 55, 1, metal_texel_float32)   X(RG16Unorm, 60, 2, metal_texel_unorm16)              \
  X(RG16Uint, 63, 2, metal_texel_uint16)    X(RG16Sint, 64, 2, metal_texel_sint16)                \
  X(RG16Float, 65, 2, metal_texel_float16)  X(RGBA8Unorm, 70, 4, metal_texel_unorm8)              \
  X(RGBA8Uint, 73, 4, metal_texel_uint8)    X(RGBA8Sint, 74, 4, metal_texel_sint8)                \
  X(BGRA8Unorm, 80, 4, metal_texel_unorm8)  X(RG32Uint, 103, 2, metal_texel_uint32)               \
  X(RG32Sint, 104, 2, metal_texel_sint32)   X(RG32Float, 105, 2, metal_texel_float32)             \
  X(RGBA16Unorm, 110, 4, metal_texel_unorm16) X(RGBA16Uint, 113, 4, metal_texel_uint16)           \
  X(RGBA16Sint, 114, 4, metal_texel_sint16) X(RGBA16Float, 115, 4, metal_texel_float16)           \
  X(RGBA32Uint, 123, 4, metal_texel_uint32) X(RGBA32Sint, 124, 4, metal_texel_sint32)             \
  X(RGBA32Float, 125, 4, metal_texel_float32)

#define METAL_PIXEL_FORMAT_CHANNELS_CASE(name, value, channels, kind) case value: return channels;
#define METAL_PIXEL_FORMAT_KIND_CASE(name, value, channels, kind) case value: return kind;
static inline unsigned metal_pixel_format_channels(unsigned format) {
  switch (format) {
    METAL_PIXEL_FORMATS(METAL_PIXEL_FORMAT_CHANNELS_CASE)
    default: return 0;
  }
}
static inline unsigned metal_pixel_format_kind(unsigned format) {
  switch (format) {
    METAL_PIXEL_FORMATS(METAL_PIXEL_FORMAT_KIND_CASE)
    default: return 0;
  }
}
#undef METAL_PIXEL_FORMAT_CHANNELS_CASE
#undef METAL_PIXEL_FORMAT_KIND_CASE
// clang-format on
static inline unsigned metal_texel_kind_bytes(unsigned kind) {
  return kind == metal_texel_unorm8 || kind == metal_texel_uint8 || kind == metal_texel_sint8      ? 1u
         : kind == metal_texel_float32 || kind == metal_texel_uint32 || kind == metal_texel_sint32 ? 4u
                                                                                                   : 2u;
}
