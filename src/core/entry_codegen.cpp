#include "core/entry_codegen.h"

namespace metallic::codegen {

using msl::BuiltinKind;

const char* wrapper_support_code() {
  return R"(
template <class T> struct pm_referee { using type = T; };
template <class T> struct pm_referee<T&> { using type = T; };
// Parameter types of a function, for template kernels whose types name template parameters.
template <unsigned I, class... A> struct pm_nth;
template <class H, class... T> struct pm_nth<0, H, T...> { using type = H; };
template <unsigned I, class H, class... T> struct pm_nth<I, H, T...> { using type = typename pm_nth<I - 1, T...>::type; };
template <class F> struct pm_params;
template <class R, class... A> struct pm_params<R (*)(A...)> {
  template <unsigned I> using arg = typename pm_nth<I, A...>::type;
};
// Storage behind the arguments a kernel never touches (unused_expression).
template <class T> alignas(alignof(T) > 16 ? alignof(T) : 16) unsigned char pm_unused_bytes[sizeof(T)] = {};
template <class T> struct pm_unconst { using type = T; };
template <class T> struct pm_unconst<const T> { using type = T; };
// A `constant T&` argument: a private copy when small, else the data in place.
template <class T, bool Copy = (sizeof(T) <= 64)> struct pm_const_arg {
  const T* p;
  explicit pm_const_arg(const void* q) : p(static_cast<const T*>(q)) {}
  pm_const_arg(bool in_params, const void* bytes, const void* q) : p(static_cast<const T*>(in_params ? bytes : q)) {}
  const T& get() const { return *p; }
};
// The bytes of a `constant T&` the kernel may read: all of T, but of a 3-component vector
// (padded to 4) only the three elements, which is all the host requires to be bound.
template <class T> struct pm_const_bytes { static constexpr unsigned value = sizeof(T); };
template <class E> struct pm_const_bytes<metal::vec<E, 3>> { static constexpr unsigned value = 3 * sizeof(E); };
template <class T> struct pm_const_arg<T, true> {
  union Storage { T value; unsigned int words[(sizeof(T) + 3) / 4]; unsigned char raw[sizeof(T)]; Storage() {} ~Storage() {} } s;
  explicit pm_const_arg(const void* q) { copy(q); }
  // Each branch reads from one address space (the launch parameters, or global memory).
  pm_const_arg(bool in_params, const void* bytes, const void* q) {
    if (in_params)
      copy(bytes);
    else
      copy(q);
  }
  void copy(const void* q) {
    // (NVRTC has no memcpy.) Constant data is at least 4-byte aligned in Metal. Only the
    // meaningful bytes are read: a uint3 bound as 12 bytes ends where the buffer ends.
    constexpr unsigned n = pm_const_bytes<T>::value;
    if (n % 4 == 0) {
      for (unsigned i = 0; i < n / 4; ++i) s.words[i] = static_cast<const unsigned int*>(q)[i];
      for (unsigned i = n / 4; i < (sizeof(T) + 3) / 4; ++i) s.words[i] = 0u;
    } else {
      for (unsigned i = 0; i < n; ++i) s.raw[i] = static_cast<const unsigned char*>(q)[i];
      for (unsigned i = n; i < sizeof(T); ++i) s.raw[i] = 0;
    }
  }
  const T& get() const { return s.value; }
};
)";
}

namespace {

struct Xyz {
  std::string x, y, z;
};

Xyz triple(const std::string& prefix) { return {prefix + "x", prefix + "y", prefix + "z"}; }
Xyz scalar(const std::string& value) { return {value, "0u", "0u"}; }

Xyz builtin_components(BuiltinKind kind) {
  switch (kind) {
    case BuiltinKind::ThreadPositionInGrid:
      return {"(pm_gid_x * pm_tg_x + pm_lid_x)", "(pm_gid_y * pm_tg_y + pm_lid_y)", "(pm_gid_z * pm_tg_z + pm_lid_z)"};
    case BuiltinKind::ThreadsPerGrid:
    case BuiltinKind::GridSize:
      return triple("pm_grid_");
    case BuiltinKind::ThreadPositionInThreadgroup:
      return triple("pm_lid_");
    case BuiltinKind::ThreadsPerThreadgroup:
      return triple("pm_ntg_");
    case BuiltinKind::DispatchThreadsPerThreadgroup:
      return triple("pm_tg_");
    case BuiltinKind::ThreadgroupPositionInGrid:
      return triple("pm_gid_");
    case BuiltinKind::ThreadgroupsPerGrid:
      return triple("pm_groups_");
    case BuiltinKind::ThreadIndexInThreadgroup:
      return scalar("pm_tidx");
    case BuiltinKind::ThreadIndexInSimdgroup:
      return scalar("(pm_simd_tidx % 32u)");
    case BuiltinKind::SimdgroupIndexInThreadgroup:
      return scalar("(pm_simd_tidx / 32u)");
    case BuiltinKind::SimdgroupsPerThreadgroup:
      return scalar("((pm_ntotal + 31u) / 32u)");
    case BuiltinKind::DispatchSimdgroupsPerThreadgroup:
      return scalar("((pm_tg_x * pm_tg_y * pm_tg_z + 31u) / 32u)");
    case BuiltinKind::ThreadsPerSimdgroup:
    case BuiltinKind::ThreadExecutionWidth:
      return scalar("32u");
    case BuiltinKind::ThreadIndexInQuadgroup:
      return scalar("(pm_simd_tidx % 4u)");
    case BuiltinKind::QuadgroupIndexInThreadgroup:
      return scalar("(pm_simd_tidx / 4u)");
    case BuiltinKind::QuadgroupsPerThreadgroup:
      return scalar("((pm_ntotal + 3u) / 4u)");
    case BuiltinKind::DispatchQuadgroupsPerThreadgroup:
      return scalar("((pm_tg_x * pm_tg_y * pm_tg_z + 3u) / 4u)");
    case BuiltinKind::GridOrigin:
      return {"0u", "0u", "0u"};
    case BuiltinKind::None:
      break;
  }
  return {"0u", "0u", "0u"};
}

}  // namespace

std::string builtin_expression(const msl::KernelArg& arg) {
  Xyz c = builtin_components(arg.builtin);
  const std::string scalar_type = arg.element_type == "ushort" ? "unsigned short" : "unsigned int";
  if (arg.components <= 1) return "static_cast<" + scalar_type + ">(" + c.x + ")";
  std::string type = "metal::" + arg.element_type + std::to_string(arg.components);
  std::string out =
      type + "(static_cast<" + scalar_type + ">(" + c.x + "), static_cast<" + scalar_type + ">(" + c.y + ")";
  if (arg.components == 3) out += ", static_cast<" + scalar_type + ">(" + c.z + ")";
  return out + ")";
}

std::string parameter_type(const msl::KernelInfo& kernel, size_t a) {
  const auto& arg = kernel.args[a];
  if (!arg.dependent_type) return arg.type;
  return "typename pm_params<decltype(&" + kernel.call_name + ")>::template arg<" + std::to_string(a) + ">";
}

std::string resource_expression(const msl::KernelInfo& kernel, size_t a, const std::string& pointer) {
  std::string type = parameter_type(kernel, a);
  if (kernel.args[a].is_reference)
    return "*reinterpret_cast<typename pm_referee<" + type + ">::type*>(" + pointer + ")";
  return "reinterpret_cast<" + type + ">(" + pointer + ")";
}

std::string texture_expression(const msl::KernelInfo& kernel, size_t a, const std::string& pointer) {
  return "metal::detail::make_texture_arg<typename pm_unconst<typename pm_referee<" + parameter_type(kernel, a) +
         ">::type>::type>(" + pointer + ")";
}

std::string sampler_expression(const std::string& pointer) {
  return "metal::detail::make_sampler_arg(" + pointer + ")";
}

std::string unused_expression(const msl::KernelInfo& kernel, size_t a) {
  const auto& arg = kernel.args[a];
  switch (arg.kind) {
    case msl::ArgKind::Texture:
      return texture_expression(kernel, a,
                                "reinterpret_cast<const metal_texture_abi*>(pm_unused_bytes<metal_texture_abi>)");
    case msl::ArgKind::Sampler:
      return sampler_expression("reinterpret_cast<const metal_sampler_abi*>(pm_unused_bytes<metal_sampler_abi>)");
    case msl::ArgKind::Builtin:
      return builtin_expression(arg);
    default:
      break;
  }
  std::string type = parameter_type(kernel, a);
  if (arg.is_reference) {
    std::string referee = "typename pm_referee<" + type + ">::type";
    return "*reinterpret_cast<" + referee + "*>(pm_unused_bytes<" + referee + ">)";
  }
  return "static_cast<" + type + ">(nullptr)";
}

bool is_constant_reference(const msl::KernelArg& arg) {
  return arg.kind == msl::ArgKind::Buffer && arg.is_reference && arg.is_const;
}

std::string constant_reference_declaration(const msl::KernelInfo& kernel, size_t a, const std::string& pointer) {
  return "const pm_const_arg<typename pm_unconst<typename pm_referee<" + parameter_type(kernel, a) +
         ">::type>::type> pm_arg" + std::to_string(a) + "(" + pointer + ");";
}

std::string constant_reference_declaration(const msl::KernelInfo& kernel, size_t a, const std::string& in_params,
                                           const std::string& bytes, const std::string& pointer) {
  return constant_reference_declaration(kernel, a, in_params + ", " + bytes + ", " + pointer);
}

std::string constant_reference_use(size_t a) { return "pm_arg" + std::to_string(a) + ".get()"; }

bool uses_builtin(const msl::KernelInfo& kernel, msl::BuiltinKind kind) {
  for (const auto& a : kernel.args)
    if (a.kind == msl::ArgKind::Builtin && a.builtin == kind) return true;
  return false;
}

}  // namespace metallic::codegen
