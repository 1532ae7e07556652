// Texture and SamplerState: Metal's MTLTexture / MTLSamplerState for compute kernels.
// A texture here is linear memory (a Buffer) plus a descriptor: rows of texels without
// padding, slices (3-D depth or array layers) one after another.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metallic/types.h"

namespace metallic {

class Device;
class Buffer;

// MTLTextureType values.
enum class TextureType : uint32_t {
  Type1D = 0,
  Type1DArray = 1,
  Type2D = 2,
  Type2DArray = 3,
  TypeCube = 5,
  TypeCubeArray = 6,
  Type3D = 7,
  TypeTextureBuffer = 9
};

// Channels (1, 2 or 4), bytes per texel; 0 for an unsupported format.
uint32_t pixel_format_channels(uint32_t format);
uint32_t pixel_format_bytes(uint32_t format);
// "float" (float/half/unorm formats), "int" or "uint": the kernel types that may read it.
const char* pixel_format_sample_type(uint32_t format);

// MTLTextureUsage bits.
enum : uint32_t { TextureUsageShaderRead = 1, TextureUsageShaderWrite = 2 };

struct TextureDescriptor {
  TextureType type = TextureType::Type2D;
  // An MTLPixelFormat value; the supported ones are listed once, in METAL_PIXEL_FORMATS
  // (src/runtime/metal_texture_abi.h).
  uint32_t pixel_format = 70;  // RGBA8Unorm
  uint64_t width = 1, height = 1, depth = 1, array_length = 1;
  uint32_t usage = TextureUsageShaderRead | TextureUsageShaderWrite;
};

class Texture : public std::enable_shared_from_this<Texture> {  // (see Buffer)
 public:
  // Raises ValidationError for a bad descriptor (zero size, unsupported format...).
  Texture(std::shared_ptr<Device> device, const TextureDescriptor& descriptor);

  const TextureDescriptor& descriptor() const { return descriptor_; }
  const std::shared_ptr<Device>& device() const { return device_; }
  // The texel storage: bytesPerRow() * height * slices(), slice after slice.
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  uint64_t bytesPerRow() const;
  uint64_t bytesPerImage() const { return bytesPerRow() * descriptor_.height; }
  uint64_t slices() const;  // depth of a 3-D texture, layers of an array, 6 faces per cube, else 1

 private:
  std::shared_ptr<Device> device_;
  TextureDescriptor descriptor_;
  std::shared_ptr<Buffer> buffer_;
};

// MTLSamplerMinMagFilter / MTLSamplerMipFilter / MTLSamplerAddressMode values.
struct SamplerDescriptor {
  uint32_t min_filter = 0, mag_filter = 0, mip_filter = 0;  // 0 nearest, 1 linear
  uint32_t
      s_address_mode = 0,
      t_address_mode = 0,
      r_address_mode =
          0;  // 0 clamp_to_edge, 1 mirror_clamp_to_edge, 2 repeat, 3 mirror_repeat, 4 clamp_to_zero, 5 clamp_to_border
  bool normalized_coordinates = true;
};

class SamplerState : public std::enable_shared_from_this<SamplerState> {  // (see Buffer)
 public:
  SamplerState(std::shared_ptr<Device> device, const SamplerDescriptor& descriptor);
  const SamplerDescriptor& descriptor() const { return descriptor_; }
  const std::shared_ptr<Device>& device() const { return device_; }
  // The 8 bytes a kernel's `sampler` argument is made of (metal_sampler_abi).
  const uint8_t* bytes() const { return bytes_; }

 private:
  std::shared_ptr<Device> device_;
  SamplerDescriptor descriptor_;
  uint8_t bytes_[8] = {};
};

}  // namespace metallic
