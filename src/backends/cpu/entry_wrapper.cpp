#include "backends/cpu/entry_wrapper.h"

#include <sstream>

#include "backends/cpu/cpu_abi.h"
#include "core/entry_codegen.h"

namespace metallic::cpu {

std::string entry_symbol(size_t i) { return "metallic_entry_" + std::to_string(i); }
std::string thread_entry_symbol(size_t i) { return "metallic_thread_" + std::to_string(i); }

namespace {

// The call of the user's kernel with every parameter bound.
std::string kernel_call(const msl::KernelInfo& k) {
  std::string call = k.call_name + "(";
  for (size_t i = 0; i < k.args.size(); ++i) {
    const auto& a = k.args[i];
    if (i) call += ", ";
    switch (a.kind) {
      case msl::ArgKind::Buffer:
        call += codegen::is_constant_reference(a)
                    ? codegen::constant_reference_use(i)
                    : codegen::resource_expression(k, i, "L->buffers[" + std::to_string(a.index) + "]");
        break;
      case msl::ArgKind::Threadgroup:
        call += codegen::resource_expression(
            k, i, "(pm_arena + L->threadgroup_offsets[" + std::to_string(a.index) + "])");
        break;
      case msl::ArgKind::Builtin:
        call += codegen::builtin_expression(a);
        break;
      case msl::ArgKind::Texture:
        call += codegen::texture_expression(
            k, i, "static_cast<const metal_texture_abi*>(L->textures) + " + std::to_string(a.index));
        break;
      case msl::ArgKind::Sampler:
        call += codegen::sampler_expression("static_cast<const metal_sampler_abi*>(L->samplers) + " +
                                            std::to_string(a.index));
        break;
    }
  }
  return call + ")";
}

const char* kDispatchSizes = R"(  const uint32_t pm_grid_x = L->grid[0], pm_grid_y = L->grid[1], pm_grid_z = L->grid[2];
  const uint32_t pm_tg_x = L->threads_per_threadgroup[0], pm_tg_y = L->threads_per_threadgroup[1],
                 pm_tg_z = L->threads_per_threadgroup[2];
  const uint32_t pm_groups_x = L->threadgroups[0], pm_groups_y = L->threadgroups[1], pm_groups_z = L->threadgroups[2];
  (void)pm_groups_z;
)";

// Copies of the small `constant T&` arguments, made once per call of an entry point.
std::string constant_copies(const msl::KernelInfo& k) {
  std::string out;
  for (size_t i = 0; i < k.args.size(); ++i)
    if (codegen::is_constant_reference(k.args[i]))
      out += "  " + codegen::constant_reference_declaration(k, i, "L->buffers[" + std::to_string(k.args[i].index) + "]") +
             "\n";
  return out;
}

// Position and real size of threadgroup `pm_group` (edge groups of dispatch_threads are smaller).
const char* kGroupPosition = R"(    const uint32_t pm_gid_x = pm_group % pm_groups_x;
    const uint32_t pm_gid_y = (pm_group / pm_groups_x) % pm_groups_y;
    const uint32_t pm_gid_z = pm_group / (pm_groups_x * pm_groups_y);
    const uint32_t pm_ntg_x = pm_grid_x - pm_gid_x * pm_tg_x < pm_tg_x ? pm_grid_x - pm_gid_x * pm_tg_x : pm_tg_x;
    const uint32_t pm_ntg_y = pm_grid_y - pm_gid_y * pm_tg_y < pm_tg_y ? pm_grid_y - pm_gid_y * pm_tg_y : pm_tg_y;
    const uint32_t pm_ntg_z = pm_grid_z - pm_gid_z * pm_tg_z < pm_tg_z ? pm_grid_z - pm_gid_z * pm_tg_z : pm_tg_z;
    const uint32_t pm_ntotal = pm_ntg_x * pm_ntg_y * pm_ntg_z;
    (void)pm_ntotal;
)";

// Programs that overload functions on address spaces check at run time where a pointer
// points (metal_address_space.h); the group's threadgroup arena is one of the answers.
std::string arena_note(const msl::TranslatedSource& source) {
  return source.checks_address_spaces ? "  metal::detail::set_threadgroup_arena(pm_arena, L->threadgroup_arena_size);\n"
                                      : "";
}

void write_group_entry(std::ostringstream& out, const msl::KernelInfo& k, size_t i, const std::string& arena_note) {
  // flatten: the kernel (and what it calls) is inlined into the thread loop, so the host
  // compiler can vectorise across threads as a GPU runs them side by side.
  out << "extern \"C\" __attribute__((flatten)) void " << entry_symbol(i)
      << "(const metallic_cpu_launch* L, uint32_t pm_first, uint32_t pm_end, unsigned char* pm_arena) {\n"
      << kDispatchSizes << constant_copies(k) << "  (void)pm_arena;\n" << arena_note
      << "  for (uint32_t pm_group = pm_first; pm_group < pm_end; ++pm_group) {\n"
      << kGroupPosition
      // The innermost loop runs over the grid's x position itself: an induction variable
      // that cannot wrap, which the vectoriser needs to see the accesses as contiguous.
      << "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x, pm_x_end = pm_x0 + pm_ntg_x;\n"
      << "    for (uint32_t pm_lid_z = 0; pm_lid_z < pm_ntg_z; ++pm_lid_z)\n"
      << "    for (uint32_t pm_lid_y = 0; pm_lid_y < pm_ntg_y; ++pm_lid_y)\n"
      << "    for (uint32_t pm_px = pm_x0; pm_px < pm_x_end; ++pm_px) {\n"
      << "      const uint32_t pm_lid_x = pm_px - pm_x0;\n"
      << "      const uint32_t pm_tidx = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x + pm_lid_x;\n"
      << "      const uint32_t pm_simd_tidx = pm_tidx;\n"
      << "      (void)pm_tidx; (void)pm_simd_tidx;\n"
      << "      " << kernel_call(k) << ";\n"
      << "    }\n  }\n}\n";
}

// One thread of one group: the executor runs these as fibers when the kernel has barriers.
void write_thread_entry(std::ostringstream& out, const msl::KernelInfo& k, size_t i, const std::string& arena_note) {
  out << "extern \"C\" __attribute__((flatten)) void " << thread_entry_symbol(i)
      << "(const metallic_cpu_launch* L, uint32_t pm_group, uint32_t pm_tidx, unsigned char* pm_arena) {\n"
      << kDispatchSizes << constant_copies(k) << arena_note << "  {\n"
      << kGroupPosition
      << "    const uint32_t pm_lid_x = pm_tidx % pm_ntg_x;\n"
      << "    const uint32_t pm_lid_y = (pm_tidx / pm_ntg_x) % pm_ntg_y;\n"
      << "    const uint32_t pm_lid_z = pm_tidx / (pm_ntg_x * pm_ntg_y);\n"
      << "    const uint32_t pm_simd_tidx = pm_tidx;\n"
      << "    (void)pm_lid_x; (void)pm_lid_y; (void)pm_lid_z; (void)pm_simd_tidx;\n"
      << "    " << kernel_call(k) << ";\n"
      << "  }\n}\n";
}

}  // namespace

std::string generate_translation_unit(const msl::TranslatedSource& source) {
  std::ostringstream out;
  out << "// Generated by pymetallic's CPU backend. Do not edit.\n"
      << "#define METAL_TARGET_CPU 1\n"
      << "#include <cstdint>\n"
      << "#include \"metal_runtime.h\"\n"
      << launch_struct_text() << "\n"
      // Barrier hooks: the executor stores its scheduler's functions here after loading.
      << "extern \"C\" { void (*metallic_cpu_threadgroup_barrier_hook)() = nullptr;\n"
      << "             void (*metallic_cpu_simdgroup_barrier_hook)() = nullptr;\n"
      << "             unsigned (*metallic_cpu_simd_exchange_hook)(const void*, void*, unsigned, unsigned*) = nullptr;\n"
      << "             void (*metallic_cpu_stack_bounds_hook)(const char**, const char**) = nullptr; }\n"
      << "namespace metal { namespace detail {\n"
      << "void cpu_threadgroup_barrier() { metallic_cpu_threadgroup_barrier_hook(); }\n"
      << "void cpu_simdgroup_barrier() { metallic_cpu_simdgroup_barrier_hook(); }\n"
      << "unsigned cpu_simd_exchange(const void* v, void* lanes, unsigned bytes, unsigned* lane) {\n"
      << "  return metallic_cpu_simd_exchange_hook(v, lanes, bytes, lane); }\n"
      << "void cpu_stack_bounds(const char** low, const char** high) { metallic_cpu_stack_bounds_hook(low, high); }\n"
      << "} }\n"
      << "namespace metal_user {\n"
      << "#include \"metal_user_scope.h\"\n"
      << source.code << "\n"
      << "#line 1 \"<pymetallic entry points>\"\n"
      << codegen::wrapper_support_code();
  for (size_t i = 0; i < source.kernels.size(); ++i) {
    write_group_entry(out, source.kernels[i], i, arena_note(source));
    write_thread_entry(out, source.kernels[i], i, arena_note(source));
  }
  out << "}  // namespace metal_user\n";
  return out.str();
}

}  // namespace metallic::cpu
