#include "backends/cuda/entry_wrapper.h"

#include <sstream>

#include "core/entry_codegen.h"

namespace metallic::cuda {

std::string entry_symbol(size_t i) { return "metallic_entry_" + std::to_string(i); }
std::string layout_symbol(size_t i) { return "metallic_layout_" + std::to_string(i); }

namespace {

const char* kSupport = R"(
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
#define PM_GRID_CONSTANT __grid_constant__
#else
#define PM_GRID_CONSTANT
#endif
// A slot for a `constant T&` argument: the bound buffer's address, or T's bytes inline
// (set_bytes data travels in the launch parameters, as Metal puts it in the command stream).
template <unsigned N> union alignas(16) pm_inline_slot { void* ptr; unsigned char bytes[N < 8 ? 8 : N]; };
__device__ __forceinline__ void* pm_global(void* p) {
  __builtin_assume(__isGlobal(p));
  return p;
}
)";

std::string slot_name(size_t k) { return "a" + std::to_string(k); }

void write_kernel(std::ostringstream& out, const msl::KernelInfo& k, size_t i) {
  std::string params = "pm_params_" + std::to_string(i);
  out << "struct " << params << " {\n  unsigned int dims[" << std::to_string(kHeaderWords) << "];\n";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (arg.kind == msl::ArgKind::Buffer) {
      if (arg.is_reference)
        out << "  pm_inline_slot<sizeof(typename pm_referee<" << codegen::parameter_type(k, a) << ">::type)> "
            << slot_name(a) << ";\n";
      else
        out << "  pm_inline_slot<8> " << slot_name(a) << ";\n";
    } else if (arg.kind == msl::ArgKind::Threadgroup || arg.kind == msl::ArgKind::Sampler) {
      out << "  pm_inline_slot<8> " << slot_name(a) << ";\n";
    } else if (arg.kind == msl::ArgKind::Texture) {
      out << "  pm_inline_slot<sizeof(metal_texture_abi)> " << slot_name(a) << ";\n";
    }
  }
  out << "};\n";
  // The host reads this table once per kernel and lays parameters out by the rule of
  // entry_wrapper.h (NVRTC has no offsetof; sizes are all the host needs).
  out << "extern \"C\" __device__ unsigned int " << layout_symbol(i) << "[] = {(unsigned int)sizeof(" << params << ")";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (arg.kind == msl::ArgKind::Buffer && arg.is_reference)
      out << ", (unsigned int)sizeof(typename pm_referee<" << codegen::parameter_type(k, a) << ">::type)";
    else if (arg.kind == msl::ArgKind::Buffer || arg.kind == msl::ArgKind::Threadgroup ||
             arg.kind == msl::ArgKind::Sampler)
      out << ", 8u";
    else if (arg.kind == msl::ArgKind::Texture)
      out << ", (unsigned int)sizeof(metal_texture_abi)";
    else
      out << ", 0u";
  }
  out << "};\n";

  // The body once, as a template: PM_UNIFORM when every threadgroup is whole (the host
  // knows at launch), so threads_per_threadgroup is blockDim itself and the compiler can
  // treat it as CUDA code treats blockDim.
  out << "template <bool PM_UNIFORM> __device__ __forceinline__ void metallic_body_" << std::to_string(i) << "(const "
      << params << "& P) {\n"
      << "  extern __shared__ __align__(16) unsigned char pm_dynamic_shared[];\n"
      << "  const unsigned int pm_grid_x = P.dims[0], pm_grid_y = P.dims[1], pm_grid_z = P.dims[2];\n"
      // blockDim rather than the parameter: the compiler knows its range (1..1024), which
      // lets it unroll loops bounded by threads_per_threadgroup as it does for CUDA code.
      << "  const unsigned int pm_tg_x = blockDim.x, pm_tg_y = blockDim.y, pm_tg_z = blockDim.z;\n"
      << "  const unsigned int pm_groups_x = P.dims[6], pm_groups_y = P.dims[7], pm_groups_z = P.dims[8];\n"
      << "  const unsigned int pm_gid_x = blockIdx.x, pm_gid_y = blockIdx.y, pm_gid_z = blockIdx.z;\n"
      << "  const unsigned int pm_lid_x = threadIdx.x, pm_lid_y = threadIdx.y, pm_lid_z = threadIdx.z;\n"
      // Edge threadgroups of dispatch_threads are smaller; the extra threads leave at once
      // (sound on sm_70+: exited threads do not block later __syncthreads of the rest).
      << "  const unsigned int pm_ntg_x = PM_UNIFORM ? pm_tg_x : min(pm_tg_x, pm_grid_x - pm_gid_x * pm_tg_x);\n"
      << "  const unsigned int pm_ntg_y = PM_UNIFORM ? pm_tg_y : min(pm_tg_y, pm_grid_y - pm_gid_y * pm_tg_y);\n"
      << "  const unsigned int pm_ntg_z = PM_UNIFORM ? pm_tg_z : min(pm_tg_z, pm_grid_z - pm_gid_z * pm_tg_z);\n"
      << "  if (!PM_UNIFORM && (pm_lid_x >= pm_ntg_x || pm_lid_y >= pm_ntg_y || pm_lid_z >= pm_ntg_z)) return;\n"
      << "  const unsigned int pm_ntotal = pm_ntg_x * pm_ntg_y * pm_ntg_z;\n"
      << "  const unsigned int pm_tidx = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x + pm_lid_x;\n"
      << "  const unsigned int pm_simd_tidx = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;\n"
      << "  (void)pm_groups_x; (void)pm_groups_y; (void)pm_groups_z; (void)pm_ntotal; (void)pm_tidx;\n"
      << "  (void)pm_simd_tidx; (void)pm_dynamic_shared;\n";
  for (size_t a = 0; a < k.args.size(); ++a)
    if (codegen::is_constant_reference(k.args[a])) {
      std::string slot = "P." + slot_name(a);
      out << "  " << codegen::constant_reference_declaration(
                         k, a, "((P.dims[9] >> " + std::to_string(a) + ") & 1u ? (const void*)" + slot + ".bytes : " +
                                   slot + ".ptr)")
          << "\n";
    }
  out << "  " << k.call_name << "(";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (a) out << ", ";
    std::string slot = "P." + slot_name(a);
    switch (arg.kind) {
      case msl::ArgKind::Buffer:
        if (codegen::is_constant_reference(arg))
          out << codegen::constant_reference_use(a);
        else if (arg.is_reference)
          out << codegen::resource_expression(k, a, "((P.dims[9] >> " + std::to_string(a) + ") & 1u ? (void*)" + slot +
                                                        ".bytes : " + slot + ".ptr)");
        else
          // Buffers live in global memory: saying so lets the compiler use global loads and
          // stores instead of generic ones, as it does for a plain CUDA pointer parameter.
          out << codegen::resource_expression(k, a, "pm_global(" + slot + ".ptr)");
        break;
      case msl::ArgKind::Threadgroup:
        out << codegen::resource_expression(
            k, a, "(pm_dynamic_shared + *reinterpret_cast<const unsigned int*>(" + slot + ".bytes))");
        break;
      case msl::ArgKind::Builtin:
        out << codegen::builtin_expression(arg);
        break;
      case msl::ArgKind::Texture:  // the descriptor travels inline in the slot
        out << codegen::texture_expression(k, a, slot + ".bytes");
        break;
      case msl::ArgKind::Sampler:
        out << codegen::sampler_expression(slot + ".bytes");
        break;
    }
  }
  out << ");\n}\n";
  std::string bounds = k.max_total_threads_per_threadgroup > 0
                           ? "__launch_bounds__(" + std::to_string(k.max_total_threads_per_threadgroup) + ") "
                           : "";
  for (bool uniform : {false, true})
    out << "extern \"C\" __global__ void " << bounds << entry_symbol(i) << (uniform ? "_uniform" : "")
        << "(const PM_GRID_CONSTANT " << params << " P) { metallic_body_" << std::to_string(i) << "<"
        << (uniform ? "true" : "false") << ">(P); }\n";
}

}  // namespace

std::string generate_translation_unit(const msl::TranslatedSource& source) {
  std::ostringstream out;
  out << "// Generated by pymetallic's CUDA backend. Do not edit.\n"
      << "#define METAL_TARGET_CUDA 1\n"
      << "#include \"metal_runtime.h\"\n"
      << "namespace metal_user {\n"
      << "#include \"metal_user_scope.h\"\n"
      << source.code << "\n"
      << "#line 1 \"<pymetallic entry points>\"\n"
      << codegen::wrapper_support_code() << kSupport;
  for (size_t i = 0; i < source.kernels.size(); ++i) write_kernel(out, source.kernels[i], i);
  out << "}  // namespace metal_user\n";
  return out.str();
}

}  // namespace metallic::cuda
