#include "backends/cuda/entry_wrapper.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/entry_codegen.h"
#include "metallic/metallic.h"

namespace metallic::cuda {

bool uniform_entries() {
  const char* v = std::getenv("PYMETALLIC_CUDA_UNIFORM_ENTRIES");
  return !(v && std::string(v) == "0");
}

// Off by default until a GPU run has checked it (tests/msl/test_tiered_entries.py and the
// suite with PYMETALLIC_CUDA_TIERED=1); turning it on is this constant.
constexpr bool kTieredByDefault = false;

bool tiered_entries() {
  const char* v = std::getenv("PYMETALLIC_CUDA_TIERED");
  const bool on = v && *v ? std::string(v) != "0" : kTieredByDefault;
  return on && uniform_entries();
}

std::string entry_symbol(size_t i) { return "metallic_entry_" + std::to_string(i); }
std::string layout_symbol(size_t i) { return "metallic_layout_" + std::to_string(i); }

bool has_constant_references(const msl::KernelInfo& k) {
  for (const auto& a : k.args)
    if (codegen::is_constant_reference(a) && a.used) return true;
  return false;
}

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
// What the slot of a `constant T&` holds: T itself up to 4 KB (the most set_bytes may pass,
// as on Metal), else only the address of a buffer (a larger T cannot come by set_bytes, and
// the launch parameters have 32 KB in all).
template <unsigned long N> constexpr unsigned pm_reference_slot = N <= 4096 ? unsigned(N) : 8u;
// The smaller of two sizes, as metal::min computes it (not spelled `min`: a program that
// names no library function gets none of the function headers, entry_wrapper.cpp).
__device__ __forceinline__ unsigned int pm_umin(unsigned int a, unsigned int b) { return b < a ? b : a; }
__device__ __forceinline__ void* pm_global(void* p) {
  __builtin_assume(__isGlobal(p));
  return p;
}
// Where one threadgroup sits: its position, and the grid's size in threadgroups and in
// threads. A body reads these rather than blockIdx and the parameters, so the same body
// serves direct launches (pm_launched_group) and indirect ones (pm_for_each_indirect_group).
struct pm_group {
  unsigned int gid_x, gid_y, gid_z, groups_x, groups_y, groups_z, grid_x, grid_y, grid_z;
};
template <class Params> __device__ __forceinline__ pm_group pm_launched_group(const Params& P) {
  return {blockIdx.x, blockIdx.y, blockIdx.z, P.dims[6], P.dims[7], P.dims[8], P.dims[0], P.dims[1], P.dims[2]};
}
)";

// Only in the translation unit of the indirect entries (built on first use).
const char* kIndirectSupport = R"(
// dispatch_threadgroups_with_indirect_buffer. CUDA takes a grid's size from the host only,
// and the counts are in device memory (written, perhaps, by the kernel before), so the host
// launches a fixed grid and block b runs the threadgroups b, b + gridDim.x, ... of the
// count (the host puts their address in dims[10..11]). All threads of a block walk the
// same groups, so the barrier between groups is uniform. Every group is whole: blockDim is
// the threadgroup, and the body runs as the `_uniform` entry's does.
template <class Body>
__device__ __forceinline__ void pm_for_each_indirect_group(unsigned int address_lo, unsigned int address_hi, Body body) {
  const unsigned int* counts = reinterpret_cast<const unsigned int*>((unsigned long long)address_hi << 32 | address_lo);
  const unsigned int nx = counts[0], ny = counts[1], nz = counts[2];
  const unsigned long long grid_x = (unsigned long long)nx * blockDim.x, grid_y = (unsigned long long)ny * blockDim.y,
                           grid_z = (unsigned long long)nz * blockDim.z;
  // Zero groups run nothing, as on Metal. A grid a direct dispatch could not have (over
  // 2^32 threads a side, 2^48 in all) runs nothing either: a kernel cannot raise an error.
  if (nx == 0 || ny == 0 || nz == 0 || (grid_x | grid_y | grid_z) >> 32) return;
  const unsigned long long grid_xy = grid_x * grid_y;
  if (__umul64hi(grid_xy, grid_z) || grid_xy * grid_z > (1ull << 48)) return;
  // This block's first group, and the step gridDim.x as digits of the same mixed radix: the
  // walk then needs additions and carries, no division per group. 64-bit sums cannot wrap.
  const unsigned int first = blockIdx.x, step = gridDim.x;
  unsigned long long x = first % nx, y = first / nx % ny, z = first / nx / ny;
  const unsigned long long step_x = step % nx, step_y = step / nx % ny, step_z = step / nx / ny;
  while (z < nz) {
    body(pm_group{(unsigned int)x, (unsigned int)y, (unsigned int)z, nx, ny, nz, (unsigned int)grid_x,
                  (unsigned int)grid_y, (unsigned int)grid_z});
    x += step_x;
    if (x >= nx) x -= nx, ++y;
    y += step_y;
    if (y >= ny) y -= ny, ++z;
    z += step_z;
    // The next group reuses this block's threadgroup memory: all threads must be done with it.
    if (z < nz) __syncthreads();
  }
}
)";

std::string slot_name(size_t k) { return "a" + std::to_string(k); }

// The parameter struct, by the layout rule of entry_wrapper.h.
void write_params_struct(std::ostringstream& out, const msl::KernelInfo& k, const std::string& params, bool diag) {
  out << "struct " << params << " {\n  unsigned int dims[" << std::to_string(kHeaderWords) << "];\n";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (arg.kind == msl::ArgKind::Buffer) {
      if (arg.is_reference)
        out << "  pm_inline_slot<pm_reference_slot<sizeof(typename pm_referee<" << codegen::parameter_type(k, a)
            << ">::type)>> " << slot_name(a) << ";\n";
      else
        out << "  pm_inline_slot<8> " << slot_name(a) << ";\n";
    } else if (arg.kind == msl::ArgKind::Threadgroup || arg.kind == msl::ArgKind::Sampler) {
      out << "  pm_inline_slot<8> " << slot_name(a) << ";\n";
    } else if (arg.kind == msl::ArgKind::Texture) {
      out << "  pm_inline_slot<sizeof(metal_texture_abi)> " << slot_name(a) << ";\n";
    }
  }
  // Validation and logging builds: the dispatch's metal_diag_dev, after the last slot.
  if (diag) out << "  pm_inline_slot<8> pm_diag;\n";
  out << "};\n";
}

// The host reads this table once per kernel and lays parameters out by the rule of
// entry_wrapper.h (NVRTC has no offsetof; sizes are all the host needs).
void write_layout_table(std::ostringstream& out, const msl::KernelInfo& k, size_t i, const std::string& params) {
  out << "extern \"C\" __device__ unsigned int " << layout_symbol(i) << "[] = {(unsigned int)sizeof(" << params << ")";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (arg.kind == msl::ArgKind::Buffer && arg.is_reference)
      out << ", pm_reference_slot<sizeof(typename pm_referee<" << codegen::parameter_type(k, a) << ">::type)>";
    else if (arg.kind == msl::ArgKind::Buffer || arg.kind == msl::ArgKind::Threadgroup ||
             arg.kind == msl::ArgKind::Sampler)
      out << ", 8u";
    else if (arg.kind == msl::ArgKind::Texture)
      out << ", (unsigned int)sizeof(metal_texture_abi)";
    else
      out << ", 0u";
  }
  // Then the bytes each `T&` argument reads (sizeof(T); 0 for the others).
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (arg.kind == msl::ArgKind::Buffer && arg.is_reference)
      out << ", (unsigned int)sizeof(typename pm_referee<" << codegen::parameter_type(k, a) << ">::type)";
    else
      out << ", 0u";
  }
  out << "};\n";
}

void write_body(std::ostringstream& out, const msl::KernelInfo& k, size_t i, const std::string& params, bool diag,
                bool validation) {
  // The body once, as a template: PM_UNIFORM when every threadgroup is whole (the host
  // knows at launch), so threads_per_threadgroup is blockDim itself and the compiler can
  // treat it as CUDA code treats blockDim.
  // PM_CONSTANTS: where the `constant T&` arguments' data is — 0 told per argument at launch
  // (the inline mask, P.dims[9]), 1 all inline (set_bytes), 2 all in buffers. A test of the
  // mask costs ~0.15 us per launch of a 4 us kernel on the H200 (bench/gpu_param_probe.py:
  // the loads it guards start the kernel's dependency chain), so the uniform entries are
  // made for the two common cases and a mix takes the general entry.
  out << "template <bool PM_UNIFORM, int PM_CONSTANTS = 0> __device__ __forceinline__ void metallic_body_"
      << std::to_string(i) << "(const " << params << "& P, const pm_group& G) {\n"
      << "  extern __shared__ __align__(16) unsigned char pm_dynamic_shared[];\n"
      << "  const unsigned int pm_grid_x = G.grid_x, pm_grid_y = G.grid_y, pm_grid_z = G.grid_z;\n"
      // blockDim rather than the parameter: the compiler knows its range (1..1024), which
      // lets it unroll loops bounded by threads_per_threadgroup as it does for CUDA code.
      << "  const unsigned int pm_tg_x = blockDim.x, pm_tg_y = blockDim.y, pm_tg_z = blockDim.z;\n"
      << "  const unsigned int pm_groups_x = G.groups_x, pm_groups_y = G.groups_y, pm_groups_z = G.groups_z;\n"
      << "  const unsigned int pm_gid_x = G.gid_x, pm_gid_y = G.gid_y, pm_gid_z = G.gid_z;\n"
      << "  const unsigned int pm_lid_x = threadIdx.x, pm_lid_y = threadIdx.y, pm_lid_z = threadIdx.z;\n"
      // Edge threadgroups of dispatch_threads are smaller; the extra threads leave at once
      // (sound on sm_70+: exited threads do not block later __syncthreads of the rest).
      << "  const unsigned int pm_ntg_x = PM_UNIFORM ? pm_tg_x : pm_umin(pm_tg_x, pm_grid_x - pm_gid_x * pm_tg_x);\n"
      << "  const unsigned int pm_ntg_y = PM_UNIFORM ? pm_tg_y : pm_umin(pm_tg_y, pm_grid_y - pm_gid_y * pm_tg_y);\n"
      << "  const unsigned int pm_ntg_z = PM_UNIFORM ? pm_tg_z : pm_umin(pm_tg_z, pm_grid_z - pm_gid_z * pm_tg_z);\n"
      << (diag ? "  metal::detail::cu_enter(P.pm_diag.ptr, pm_gid_x, pm_gid_y, pm_gid_z, pm_tg_x, pm_tg_y, pm_tg_z, "
                 "pm_ntg_x, pm_ntg_y, pm_ntg_z, pm_dynamic_shared);\n"
               : "")
      << "  if (!PM_UNIFORM && (pm_lid_x >= pm_ntg_x || pm_lid_y >= pm_ntg_y || pm_lid_z >= pm_ntg_z)) return;\n"
      << "  const unsigned int pm_ntotal = pm_ntg_x * pm_ntg_y * pm_ntg_z;\n"
      << "  const unsigned int pm_tidx = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x + pm_lid_x;\n"
      << "  const unsigned int pm_simd_tidx = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;\n"
      << "  (void)pm_groups_x; (void)pm_groups_y; (void)pm_groups_z; (void)pm_ntotal; (void)pm_tidx;\n"
      << "  (void)pm_simd_tidx; (void)pm_dynamic_shared;\n";
  for (size_t a = 0; a < k.args.size(); ++a)
    if (codegen::is_constant_reference(k.args[a]) && k.args[a].used) {
      std::string slot = "P." + slot_name(a);
      out << "  "
          << codegen::constant_reference_declaration(
                 k, a,
                 "PM_CONSTANTS == 1 || (PM_CONSTANTS == 0 && ((P.dims[9] >> " + std::to_string(a) + ") & 1u) != 0u)",
                 "(const void*)" + slot + ".bytes", "(const void*)" + slot + ".ptr")
          << "\n";
    }
  out << "  " << k.call_name << "(";
  for (size_t a = 0; a < k.args.size(); ++a) {
    const auto& arg = k.args[a];
    if (a) out << ", ";
    std::string slot = "P." + slot_name(a);
    if (!arg.used) {
      out << codegen::unused_expression(k, a);
      continue;
    }
    switch (arg.kind) {
      case msl::ArgKind::Buffer:
        if (codegen::is_constant_reference(arg))
          out << codegen::constant_reference_use(a);
        else if (arg.is_reference)
          out << codegen::resource_expression(
              k, a, "((P.dims[9] >> " + std::to_string(a) + ") & 1u ? (void*)" + slot + ".bytes : " + slot + ".ptr)");
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
  out << ");\n";
  if (validation) out << "  metal::detail::v_leave();\n";
  out << "}\n";
}

void write_entries(std::ostringstream& out, const msl::KernelInfo& k, size_t i, const std::string& params,
                   Entries entries, bool validation) {
  std::string bounds = k.max_total_threads_per_threadgroup > 0
                           ? "__launch_bounds__(" + std::to_string(k.max_total_threads_per_threadgroup) + ") "
                           : "";
  // A validation build keeps Metal's 1024 threads per threadgroup: its checks may spill
  // registers rather than lower the pipeline's limit below what the plain build allows.
  if (bounds.empty() && validation) bounds = "__launch_bounds__(1024) ";
  // A bound only C++ can evaluate (template parameters): the driver reports it as the
  // function's CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, which becomes the pipeline's limit.
  if (!k.max_threads_expression.empty()) bounds = "__launch_bounds__(" + k.max_threads_expression + ") ";
  const std::string body = "metallic_body_" + std::to_string(i);
  const std::string head = "extern \"C\" __global__ void " + bounds + entry_symbol(i);
  const std::string param = "(const PM_GRID_CONSTANT " + params + " P) { ";
  if (entries != Entries::Indirect) {
    if (entries != Entries::Uniform) out << head << param << body << "<false>(P, pm_launched_group(P)); }\n";
    if (entries == Entries::General) {
      // the uniform entries are in the Uniform unit
    } else if (uniform_entries() && has_constant_references(k)) {
      out << head << "_uniform_inline" << param << body << "<true, 1>(P, pm_launched_group(P)); }\n";
      out << head << "_uniform_buffers" << param << body << "<true, 2>(P, pm_launched_group(P)); }\n";
    } else if (uniform_entries()) {
      out << head << "_uniform" << param << body << "<true>(P, pm_launched_group(P)); }\n";
    }
  } else {
    out << head << "_indirect" << param
        << "pm_for_each_indirect_group(P.dims[10], P.dims[11], [&](const pm_group& G) { " << body
        << "<true>(P, G); }); }\n";
  }
}

void write_kernel(std::ostringstream& out, const msl::TranslatedSource& source, const msl::KernelInfo& k, size_t i,
                  Entries entries) {
  const std::string params = "pm_params_" + std::to_string(i);
  const bool diag = source.validation || source.uses_logging;
  write_params_struct(out, k, params, diag);
  // Read from the main module only (Direct or General).
  if (entries == Entries::Direct || entries == Entries::General) write_layout_table(out, k, i, params);
  write_body(out, k, i, params, diag, source.validation);
  write_entries(out, k, i, params, entries, source.validation);
}

// The optional groups of the runtime library (METAL_RT_OMIT_<GROUP> in metal_runtime.h)
// and, for each, the names whose appearance in a program needs it: the using-declarations
// of its section of metal_user_scope.h (a program reaches the library through those, or
// through the same names qualified), read from the file itself so that a name added there
// is detected here too.
struct RuntimeGroups {
  std::vector<std::string> groups;                  // "ATOMIC", "TEXTURE", ...
  std::unordered_map<std::string, size_t> trigger;  // name -> index in groups
};

RuntimeGroups read_runtime_groups(const std::string& dir) {
  RuntimeGroups g;
  auto group = [&](const std::string& name) {
    for (size_t i = 0; i < g.groups.size(); ++i)
      if (g.groups[i] == name) return i;
    g.groups.push_back(name);
    return g.groups.size() - 1;
  };
  std::ifstream in(dir + "/metal_user_scope.h");
  std::string line;
  long current = -1;
  const std::string guard = "#ifndef METAL_RT_OMIT_", decl = "using metal::";
  while (std::getline(in, line)) {
    if (line.rfind(guard, 0) == 0) {
      current = static_cast<long>(group(line.substr(guard.size())));
    } else if (line.rfind("#endif", 0) == 0) {
      current = -1;
    } else if (current >= 0 && line.rfind(decl, 0) == 0 && line.back() == ';') {
      g.trigger[line.substr(decl.size(), line.size() - decl.size() - 1)] = static_cast<size_t>(current);
    }
  }
  if (g.groups.empty()) return g;  // unreadable: nothing is ever omitted
  // Names the front end or this file write where the program spells none of the section's.
  g.trigger["fission_simd_site"] = group("SIMDGROUP");  // barrier fission's templates
  g.trigger["metal_texture_abi"] = group("TEXTURE");    // texture arguments' slots
  g.trigger["metal_sampler_abi"] = group("TEXTURE");
  group("VALIDATION");  // no names of its own: included for validation builds
  return g;
}

const RuntimeGroups& runtime_groups() {
  static std::mutex mutex;
  static std::map<std::string, RuntimeGroups> by_dir;  // the folder may be changed at run time
  std::lock_guard<std::mutex> lock(mutex);
  std::string dir = runtime_dir();
  auto it = by_dir.find(dir);
  if (it == by_dir.end()) it = by_dir.emplace(dir, read_runtime_groups(dir)).first;
  return it->second;
}

// "#define METAL_RT_OMIT_<GROUP> 1" for each optional group that `code` does not need.
std::string omitted_groups(const std::string& code, const msl::TranslatedSource& source) {
  const RuntimeGroups& g = runtime_groups();
  std::vector<bool> used(g.groups.size(), false);
  for (size_t i = 0; i < g.groups.size(); ++i)
    if ((g.groups[i] == "VALIDATION" && source.validation) || (g.groups[i] == "LOGGING" && source.uses_logging))
      used[i] = true;
  // The identifiers of the code, outside comments, string and character literals (a comment
  // of the entry points' support code says "address"; a format string may say anything).
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  const size_t n = code.size();
  for (size_t at = 0; at < n;) {
    const char c = code[at];
    if (c == '/' && at + 1 < n && code[at + 1] == '/') {
      at = code.find('\n', at);
      if (at == std::string::npos) break;
    } else if (c == '/' && at + 1 < n && code[at + 1] == '*') {
      at = code.find("*/", at + 2);
      if (at == std::string::npos) break;
      at += 2;
    } else if (c == '"' || c == '\'') {
      for (++at; at < n && code[at] != c && code[at] != '\n'; ++at)
        if (code[at] == '\\') ++at;
      ++at;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {  // a number: 1'000, 1e+5 and 0x1p-3 included
      for (++at; at < n; ++at) {
        const char d = code[at];
        const char before = static_cast<char>(code[at - 1] | 0x20);
        const bool sign = (d == '+' || d == '-') && (before == 'e' || before == 'p');
        if (!ident(d) && d != '.' && d != '\'' && !sign) break;
      }
    } else if (ident(c)) {
      size_t end = at;
      while (end < n && ident(code[end])) ++end;
      // A member's name (after . or ->) is never one of the library's: logger.log(...).
      size_t before = at;
      while (before > 0 && std::isspace(static_cast<unsigned char>(code[before - 1]))) --before;
      const bool member =
          before > 0 && (code[before - 1] == '.' || (before > 1 && code[before - 1] == '>' && code[before - 2] == '-'));
      auto it = member ? g.trigger.end() : g.trigger.find(code.substr(at, end - at));
      if (it != g.trigger.end()) used[it->second] = true;
      at = end;
    } else {
      ++at;
    }
  }
  std::string defines;
  for (size_t i = 0; i < g.groups.size(); ++i)
    if (!used[i]) defines += "#define METAL_RT_OMIT_" + g.groups[i] + " 1\n";
  return defines;
}

}  // namespace

std::string generate_translation_unit(const msl::TranslatedSource& source, Entries entries, KernelSet only,
                                      bool whole_runtime) {
  std::ostringstream body;
  body << source.code << "\n"
       << "#line 1 \"<pymetallic entry points>\"\n"
       << codegen::wrapper_support_code() << kSupport;
  if (entries == Entries::Indirect) body << kIndirectSupport;
  for (size_t i = 0; i < source.kernels.size(); ++i)
    if (only.has(i)) write_kernel(body, source, source.kernels[i], i, entries);
  body << "}  // namespace metal_user\n";
  const std::string code = body.str();

  std::ostringstream out;
  out << "// Generated by pymetallic's CUDA backend. Do not edit.\n"
      << (source.validation ? "#define PM_VALIDATION 1\n" : "")
      << "#define METAL_TARGET_CUDA 1\n"
      // A program that never reads thread_elements() cannot observe how SIMD-group matrix
      // elements are spread over the lanes: keep them in the tensor cores' own layout.
      << (source.code.find("thread_elements") == std::string::npos ? "#define METAL_SGM_NATIVE_LAYOUT 1\n" : "")
      // Only the parts of the runtime library the program names: parsing the rest would be
      // most of NVRTC's time (docs/performance.md).
      << (whole_runtime ? "" : omitted_groups(code, source)) << "#include \"metal_runtime.h\"\n"
      << "namespace metal_user {\n"
      << "#include \"metal_user_scope.h\"\n"
      << code;
  return out.str();
}

}  // namespace metallic::cuda
