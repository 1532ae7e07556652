#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "metallic/metallic.h"
#include "runtime/metal_texture_abi.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {

struct Named {
  const char* name;
  uint32_t code;
};
const Named kFilters[] = {{"nearest", 0}, {"linear", 1}, {nullptr, 0}};
const Named kMipFilters[] = {{"none", 0}, {"not_mipmapped", 0}, {"nearest", 1}, {"linear", 2}, {nullptr, 0}};
const Named kAddressModes[] = {{"clamp_to_edge", 0},   {"mirror_clamp_to_edge", 1},  {"repeat", 2},
                               {"mirror_repeat", 3},   {"mirrored_repeat", 3},       {"clamp_to_zero", 4},
                               {"clamp_to_border", 5}, {"clamp_to_border_color", 5}, {nullptr, 0}};

// A sampler setting given as Metal's number or by name; `fallback` when None.
uint32_t sampler_code(nb::handle v, const Named* table, const char* what, uint32_t fallback) {
  if (v.is_none()) return fallback;
  if (nb::isinstance<nb::str>(v)) {
    std::string s = nb::cast<std::string>(v);
    for (const Named* n = table; n->name; ++n)
      if (s == n->name) return n->code;
    std::string names;
    for (const Named* n = table; n->name; ++n) names += std::string(names.empty() ? "" : ", ") + "'" + n->name + "'";
    throw ValidationError(std::string("SamplerState ") + what + " '" + s + "' is not one of " + names);
  }
  long long n = nb::cast<long long>(nb::int_(v));
  uint32_t max = 0;
  for (const Named* e = table; e->name; ++e) max = e->code > max ? e->code : max;
  if (n < 0 || n > max)
    throw ValidationError(std::string("SamplerState ") + what + " " + std::to_string(n) + " is out of range 0 to " +
                          std::to_string(max));
  return static_cast<uint32_t>(n);
}

// pymetallic.PixelFormat: a member per entry of METAL_PIXEL_FORMATS (the one list of
// supported formats), valued as MTLPixelFormat.
enum class PixelFormat : uint32_t {
#define BIND_PIXEL_FORMAT(name, number, channels, kind) name = number,
  METAL_PIXEL_FORMATS(BIND_PIXEL_FORMAT)
#undef BIND_PIXEL_FORMAT
};

}  // namespace

void init_texture(nb::module_& m) {
  // An IntEnum: a member passes wherever a pixel format number does (and compares equal to it).
  auto pixel_formats = nb::enum_<PixelFormat>(m, "PixelFormat", nb::is_arithmetic(),
                                              "MTLPixelFormat values of the formats textures support (Metal's names; "
                                              "pymetallic.texture adds UPPER_SNAKE aliases such as R32_FLOAT).");
#define BIND_PIXEL_FORMAT(name, number, channels, kind) pixel_formats.value(#name, PixelFormat::name);
  METAL_PIXEL_FORMATS(BIND_PIXEL_FORMAT)
#undef BIND_PIXEL_FORMAT

  nb::class_<Texture>(m, "Texture", "A texture for compute kernels (Metal's MTLTexture), over linear memory.")
      .def(nb::new_([](std::shared_ptr<Device> device, uint32_t type, uint32_t pixel_format, uint64_t width,
                       uint64_t height, uint64_t depth, uint64_t array_length, uint32_t usage) {
             if (!device) throw ValidationTypeError("Texture needs a Device");
             TextureDescriptor d;
             d.type = static_cast<TextureType>(type);
             d.pixel_format = pixel_format;
             d.width = width, d.height = height, d.depth = depth, d.array_length = array_length;
             d.usage = usage;
             return std::make_shared<Texture>(device, d);
           }),
           nb::arg("device"), nb::arg("texture_type"), nb::arg("pixel_format"), nb::arg("width"), nb::arg("height"),
           nb::arg("depth"), nb::arg("array_length"), nb::arg("usage"))
      .def_prop_ro("device", &Texture::device, "The device that holds the texture.")
      .def_prop_ro(
          "texture_type", [](const Texture& t) { return static_cast<uint32_t>(t.descriptor().type); },
          "The TextureType (1D, 2D, 2D array, 3D).")
      .def_prop_ro(
          "pixel_format", [](const Texture& t) { return t.descriptor().pixel_format; }, "The PixelFormat.")
      .def_prop_ro(
          "width", [](const Texture& t) { return t.descriptor().width; }, "Width in pixels.")
      .def_prop_ro(
          "height", [](const Texture& t) { return t.descriptor().height; }, "Height in pixels.")
      .def_prop_ro(
          "depth", [](const Texture& t) { return t.descriptor().depth; }, "Depth in pixels (1 unless 3D).")
      .def_prop_ro(
          "array_length", [](const Texture& t) { return t.descriptor().array_length; },
          "Slices of an array texture (1 otherwise).")
      .def_prop_ro(
          "usage", [](const Texture& t) { return t.descriptor().usage; }, "The TextureUsage flags.")
      .def_prop_ro("bytes_per_row", &Texture::bytesPerRow, "Bytes between rows of the storage.")
      .def_prop_ro("bytes_per_image", &Texture::bytesPerImage,
                   "Bytes between 2D images (slices, depth planes) of the storage.")
      .def_prop_ro("_slices", &Texture::slices)
      .def_prop_ro("_buffer", &Texture::buffer, "The linear storage behind the texture.");

  m.def("_pixel_format_info", [](uint32_t format) {
    return nb::make_tuple(pixel_format_channels(format), pixel_format_bytes(format),
                          std::string(pixel_format_sample_type(format)));
  });

  nb::class_<SamplerState>(m, "SamplerState", "How a kernel's sample() filters and addresses (MTLSamplerState).")
      .def(nb::new_([](std::shared_ptr<Device> device, nb::handle min_filter, nb::handle mag_filter,
                       nb::handle mip_filter, nb::handle address_mode, nb::handle s, nb::handle t, nb::handle r,
                       bool normalized) {
             if (!device) throw ValidationTypeError("SamplerState needs a Device");
             SamplerDescriptor d;
             d.min_filter = sampler_code(min_filter, kFilters, "min_filter", 0);
             d.mag_filter = sampler_code(mag_filter, kFilters, "mag_filter", 0);
             d.mip_filter = sampler_code(mip_filter, kMipFilters, "mip_filter", 0);
             uint32_t all = sampler_code(address_mode, kAddressModes, "address_mode", 0);
             d.s_address_mode = sampler_code(s, kAddressModes, "s_address_mode", all);
             d.t_address_mode = sampler_code(t, kAddressModes, "t_address_mode", all);
             d.r_address_mode = sampler_code(r, kAddressModes, "r_address_mode", all);
             d.normalized_coordinates = normalized;
             return std::make_shared<SamplerState>(device, d);
           }),
           nb::arg("device"), nb::arg("min_filter") = nb::none(), nb::arg("mag_filter") = nb::none(),
           nb::arg("mip_filter") = nb::none(), nb::arg("address_mode") = nb::none(),
           nb::arg("s_address_mode") = nb::none(), nb::arg("t_address_mode") = nb::none(),
           nb::arg("r_address_mode") = nb::none(), nb::arg("normalized_coordinates") = true,
           "Filters: 'nearest'/'linear' (or 0/1); mip_filter 'none'/'nearest'/'linear'; address modes "
           "'clamp_to_edge', 'mirror_clamp_to_edge', 'repeat', 'mirror_repeat' (or 'mirrored_repeat'), "
           "'clamp_to_zero', 'clamp_to_border' (or Metal's numbers). address_mode sets s, t and r at once.")
      .def_prop_ro("device", &SamplerState::device, "The device the sampler was made for.")
      .def_prop_ro(
          "min_filter", [](const SamplerState& s) { return s.descriptor().min_filter; },
          "Minification filter: 0 nearest, 1 linear.")
      .def_prop_ro(
          "mag_filter", [](const SamplerState& s) { return s.descriptor().mag_filter; },
          "Magnification filter: 0 nearest, 1 linear.")
      .def_prop_ro(
          "mip_filter", [](const SamplerState& s) { return s.descriptor().mip_filter; },
          "Mip filter: 0 none, 1 nearest, 2 linear.")
      .def_prop_ro(
          "s_address_mode", [](const SamplerState& s) { return s.descriptor().s_address_mode; },
          "Address mode along x (Metal's number).")
      .def_prop_ro(
          "t_address_mode", [](const SamplerState& s) { return s.descriptor().t_address_mode; },
          "Address mode along y (Metal's number).")
      .def_prop_ro(
          "r_address_mode", [](const SamplerState& s) { return s.descriptor().r_address_mode; },
          "Address mode along z (Metal's number).")
      .def_prop_ro(
          "normalized_coordinates", [](const SamplerState& s) { return s.descriptor().normalized_coordinates; },
          "Whether coordinates run over [0, 1] (else in pixels).");

  nb::class_<ComputeCommandEncoder> enc =
      nb::borrow<nb::class_<ComputeCommandEncoder>>(m.attr("ComputeCommandEncoder"));
  enc.def(
         "set_texture",
         [](ComputeCommandEncoder& e, std::shared_ptr<Texture> texture, long long index) {
           if (index < 0 || index > 127)
             throw ValidationError("texture index " + std::to_string(index) +
                                   " is out of range: Metal has 128 slots, 0 to 127");
           e.setTexture(texture, static_cast<uint32_t>(index));
         },
         nb::arg("texture").none(), nb::arg("index"),
         "Binds a texture to [[texture(index)]]. Raises ValidationError for an index past the texture slots.")
      .def(
          "set_sampler_state",
          [](ComputeCommandEncoder& e, std::shared_ptr<SamplerState> sampler, long long index) {
            if (index < 0 || index > 15)
              throw ValidationError("sampler index " + std::to_string(index) +
                                    " is out of range: Metal has 16 slots, 0 to 15");
            e.setSamplerState(sampler, static_cast<uint32_t>(index));
          },
          nb::arg("sampler").none(), nb::arg("index"),
          "Binds a sampler to [[sampler(index)]]. Raises ValidationError for an index past the sampler slots.");
}

}  // namespace pymetallic_bindings
