#include "metallic/texture.h"

#include "metallic/buffer.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "runtime/metal_texture_abi.h"

namespace metallic {

uint32_t pixel_format_channels(uint32_t format) { return metal_pixel_format_channels(format); }

uint32_t pixel_format_bytes(uint32_t format) {
  unsigned kind = metal_pixel_format_kind(format);
  return kind ? metal_pixel_format_channels(format) * metal_texel_kind_bytes(kind) : 0;
}

const char* pixel_format_sample_type(uint32_t format) {
  switch (metal_pixel_format_kind(format)) {
    case metal_texel_unorm8:
    case metal_texel_unorm16:
    case metal_texel_float16:
    case metal_texel_float32:
      return "float";
    case metal_texel_sint8:
    case metal_texel_sint16:
    case metal_texel_sint32:
      return "int";
    case metal_texel_uint8:
    case metal_texel_uint16:
    case metal_texel_uint32:
      return "uint";
    default:
      return "";
  }
}

Texture::Texture(std::shared_ptr<Device> device, const TextureDescriptor& d)
    : device_(std::move(device)), descriptor_(d) {
  if (!device_) throw ValidationError("a texture needs a device");
  if (!pixel_format_bytes(d.pixel_format))
    throw ValidationError("pixel format " + std::to_string(d.pixel_format) +
                          " is not supported for textures (supported: r/rg/rgba in 8-bit unorm/uint/sint, "
                          "16-bit unorm/uint/sint/float, 32-bit uint/sint/float, bgra8Unorm)");
  switch (d.type) {
    case TextureType::Type1D:
    case TextureType::Type1DArray:
    case TextureType::Type2D:
    case TextureType::Type2DArray:
    case TextureType::Type3D:
    case TextureType::TypeCube:
    case TextureType::TypeCubeArray:
    case TextureType::TypeTextureBuffer:
      break;
    default:
      throw ValidationError("texture type " + std::to_string(static_cast<uint32_t>(d.type)) +
                            " is not supported (1d, 1d_array, 2d, 2d_array, 3d, cube, cube_array and "
                            "texture_buffer are)");
  }
  const bool buffer = d.type == TextureType::TypeTextureBuffer;
  if (d.type == TextureType::Type1D || d.type == TextureType::Type1DArray || buffer) descriptor_.height = 1;
  if (d.type != TextureType::Type3D) descriptor_.depth = 1;
  if (d.type != TextureType::Type1DArray && d.type != TextureType::Type2DArray && d.type != TextureType::TypeCubeArray)
    descriptor_.array_length = 1;
  const auto& t = descriptor_;
  if (t.width == 0 || t.height == 0 || t.depth == 0 || t.array_length == 0)
    throw ValidationError("a texture needs a nonzero width, height, depth and array length");
  if ((d.type == TextureType::TypeCube || d.type == TextureType::TypeCubeArray) && t.width != t.height)
    throw ValidationError("a cube texture's faces are square: width " + std::to_string(t.width) + " and height " +
                          std::to_string(t.height) + " differ");
  const uint64_t limit = 16384;
  if (buffer ? t.width > (uint64_t(1) << 28)
             : (t.width > limit || t.height > limit || t.depth > 2048 || t.array_length > 2048))
    throw ValidationError("texture size " + std::to_string(t.width) + "x" + std::to_string(t.height) + "x" +
                          std::to_string(t.depth) + " (array length " + std::to_string(t.array_length) +
                          ") exceeds Metal's limits (16384 per side; 2048 depth or layers)");
  buffer_ = device_->newBuffer(bytesPerImage() * slices());
}

uint64_t Texture::bytesPerRow() const { return descriptor_.width * pixel_format_bytes(descriptor_.pixel_format); }

uint64_t Texture::slices() const {
  if (descriptor_.type == TextureType::Type3D) return descriptor_.depth;
  if (descriptor_.type == TextureType::Type1DArray || descriptor_.type == TextureType::Type2DArray)
    return descriptor_.array_length;
  if (descriptor_.type == TextureType::TypeCube) return 6;
  if (descriptor_.type == TextureType::TypeCubeArray) return 6 * descriptor_.array_length;
  return 1;
}

SamplerState::SamplerState(std::shared_ptr<Device> device, const SamplerDescriptor& d)
    : device_(std::move(device)), descriptor_(d) {
  auto check = [](uint32_t v, uint32_t max, const char* what) {
    if (v > max) throw ValidationError(std::string("sampler ") + what + " " + std::to_string(v) + " is not valid");
  };
  check(d.min_filter, 1, "min_filter");
  check(d.mag_filter, 1, "mag_filter");
  check(d.mip_filter, 2, "mip_filter");
  check(d.s_address_mode, 5, "address mode");
  check(d.t_address_mode, 5, "address mode");
  check(d.r_address_mode, 5, "address mode");
  bytes_[0] = d.normalized_coordinates ? 1 : 0;
  bytes_[1] = static_cast<uint8_t>(d.s_address_mode);
  bytes_[2] = static_cast<uint8_t>(d.t_address_mode);
  bytes_[3] = static_cast<uint8_t>(d.r_address_mode);
  bytes_[4] = static_cast<uint8_t>(d.mag_filter);
  bytes_[5] = static_cast<uint8_t>(d.min_filter);
  bytes_[6] = static_cast<uint8_t>(d.mip_filter);
}

}  // namespace metallic
