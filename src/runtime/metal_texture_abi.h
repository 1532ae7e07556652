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
static inline unsigned metal_pixel_format_channels(unsigned format) {
  switch (format) {
    case 10:
    case 13:
    case 14:
    case 20:
    case 23:
    case 24:
    case 25:
    case 53:
    case 54:
    case 55:
      return 1;
    case 30:
    case 33:
    case 34:
    case 60:
    case 63:
    case 64:
    case 65:
    case 103:
    case 104:
    case 105:
      return 2;
    case 70:
    case 73:
    case 74:
    case 80:
    case 110:
    case 113:
    case 114:
    case 115:
    case 123:
    case 124:
    case 125:
      return 4;
    default:
      return 0;
  }
}
static inline unsigned metal_pixel_format_kind(unsigned format) {
  switch (format) {
    case 10:
    case 30:
    case 70:
    case 80:
      return metal_texel_unorm8;
    case 20:
    case 60:
    case 110:
      return metal_texel_unorm16;
    case 25:
    case 65:
    case 115:
      return metal_texel_float16;
    case 55:
    case 105:
    case 125:
      return metal_texel_float32;
    case 13:
    case 33:
    case 73:
      return metal_texel_uint8;
    case 14:
    case 34:
    case 74:
      return metal_texel_sint8;
    case 23:
    case 63:
    case 113:
      return metal_texel_uint16;
    case 24:
    case 64:
    case 114:
      return metal_texel_sint16;
    case 53:
    case 103:
    case 123:
      return metal_texel_uint32;
    case 54:
    case 104:
    case 124:
      return metal_texel_sint32;
    default:
      return 0;
  }
}
static inline unsigned metal_texel_kind_bytes(unsigned kind) {
  return kind == metal_texel_unorm8 || kind == metal_texel_uint8 || kind == metal_texel_sint8      ? 1u
         : kind == metal_texel_float32 || kind == metal_texel_uint32 || kind == metal_texel_sint32 ? 4u
                                                                                                   : 2u;
}
