#include "backends/cpu/entry_wrapper.h"

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <vector>

#include "backends/cpu/cpu_abi.h"
#include "core/entry_codegen.h"

namespace metallic::cpu {

std::string entry_symbol(size_t i) { return "metallic_entry_" + std::to_string(i); }
std::string max_threads_symbol(size_t i) { return "metallic_max_threads_" + std::to_string(i); }

bool uses_fission(const msl::KernelInfo& k) {
  // PYMETALLIC_CPU_FISSION=0 keeps every barrier kernel on fibers (for comparisons).
  static const bool enabled = [] {
    const char* v = std::getenv("PYMETALLIC_CPU_FISSION");
    return !(v && std::string(v) == "0");
  }();
  return enabled && !k.fission_call_name.empty();
}
std::string thread_entry_symbol(size_t i) { return "metallic_thread_" + std::to_string(i); }

namespace {

// The call of the user's kernel with every parameter bound; for a fission function
// (barrier_fission.h), the group's threads first and no built-ins (each thread asks for them).
// `restricted`: arguments passed from a parameter of the calling function instead (by index).
// `function`: the C++ function to call instead of the kernel itself (its fast-division copy).
// `extra`: one more argument after the kernel's own (the split copy's run start).
std::string kernel_call(const msl::KernelInfo& k, bool fission = false, const std::vector<size_t>& restricted = {},
                        const std::string& function = "", const std::string& extra = "") {
  std::string call = fission ? k.fission_call_name + "(pm_threads" : (function.empty() ? k.call_name : function) + "(";
  bool first = !fission;
  for (size_t i = 0; i < k.args.size(); ++i) {
    const auto& a = k.args[i];
    if (fission && a.kind == msl::ArgKind::Builtin) continue;
    if (!first) call += ", ";
    first = false;
    if (!a.used) {
      call += codegen::unused_expression(k, i);
      continue;
    }
    switch (a.kind) {
      case msl::ArgKind::Buffer:
        if (std::find(restricted.begin(), restricted.end(), i) != restricted.end()) {
          call += codegen::resource_expression(k, i, "pm_restrict_" + std::to_string(i));
          break;
        }
        call += codegen::is_constant_reference(a)
                    ? codegen::constant_reference_use(i)
                    : codegen::resource_expression(k, i, "L->buffers[" + std::to_string(a.index) + "]");
        break;
      case msl::ArgKind::Threadgroup:
        call +=
            codegen::resource_expression(k, i, "(pm_arena + L->threadgroup_offsets[" + std::to_string(a.index) + "])");
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
  if (!extra.empty()) call += std::string(first ? "" : ", ") + extra;
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
    if (codegen::is_constant_reference(k.args[i]) && k.args[i].used)
      out += "  " +
             codegen::constant_reference_declaration(k, i, "L->buffers[" + std::to_string(k.args[i].index) + "]") +
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

// Validation and logging (issue 12): who the running thread is, for findings and messages.
// Needs pm_group, pm_arena, pm_gid_*, pm_lid_*, pm_ntg_*, pm_tg_*, pm_tidx and L.
std::string thread_enter(const msl::TranslatedSource& source) {
  if (!source.validation && !source.uses_logging) return "";
  std::string out =
      "      { const unsigned pm_v_tg[3] = {pm_tg_x, pm_tg_y, pm_tg_z}, pm_v_ntg[3] = {pm_ntg_x, pm_ntg_y, pm_ntg_z},\n"
      "          pm_v_gid[3] = {pm_gid_x, pm_gid_y, pm_gid_z}, pm_v_lid[3] = {pm_lid_x, pm_lid_y, pm_lid_z};\n"
      "        (void)pm_v_ntg;\n";
  if (source.validation)
    out +=
        "        metal::detail::v_enter(L->diag, pm_group, pm_arena, L->threadgroup_offsets, "
        "L->threadgroup_arena_size,\n"
        "                               pm_v_tg, pm_v_ntg, pm_v_gid, pm_v_lid, pm_tidx);\n";
  if (source.uses_logging) out += "        metal::detail::lg_enter(L->diag, pm_v_tg, pm_v_gid, pm_v_lid);\n";
  return out + "      }\n";
}
std::string thread_leave(const msl::TranslatedSource& source) {
  return source.validation ? "      metal::detail::v_leave();\n" : "";
}
// Validation builds are not flattened: inlining every check into the thread loop only
// makes the compile slow.
const char* entry_attributes(const msl::TranslatedSource& source) {
  return source.validation ? "extern \"C\" void " : "extern \"C\" __attribute__((flatten)) void ";
}

// Programs that overload functions on address spaces check at run time where a pointer
// points (metal_address_space.h); the group's threadgroup arena is one of the answers.
std::string arena_note(const msl::TranslatedSource& source) {
  return source.checks_address_spaces ? "  metal::detail::set_threadgroup_arena(pm_arena, L->threadgroup_arena_size);\n"
                                      : "";
}

// Buffer arguments that may be passed as `__restrict` pointers when the executor has found the
// dispatch's buffers disjoint (metallic_cpu_launch::disjoint): pointers to scalars and vectors,
// which cannot hold pointers to other memory. Empty when fewer than two of them are used, at
// least one written (nothing to gain), or when the kernel takes textures (whose storage the
// executor does not compare).
std::vector<size_t> restrictable_arguments(const msl::TranslatedSource& source, const msl::KernelInfo& k) {
  static const std::regex plain(
      "^(const )?(packed_)?(float|half|bfloat|int|uint|short|ushort|char|uchar|long|ulong|"
      "bool|unsigned int|unsigned char|unsigned short|int8_t|uint8_t|int16_t|uint16_t|"
      "int32_t|uint32_t|int64_t|uint64_t)([234])?$");
  std::vector<size_t> out;
  if (source.validation || source.checks_address_spaces) return out;
  bool written = false;
  for (size_t i = 0; i < k.args.size(); ++i) {
    const auto& a = k.args[i];
    if (a.kind == msl::ArgKind::Texture && a.used) return {};
    if (a.kind != msl::ArgKind::Buffer || !a.used || a.is_reference || a.dependent_type) continue;
    if (a.type.empty() || a.type.back() != '*' || !std::regex_match(a.element_type, plain)) continue;
    out.push_back(i);
    written |= !a.is_const;
  }
  if (out.size() < 2 || !written) return {};
  return out;
}

// The test under which a group entry runs the kernel's fast-division copy (msl/fast_division.h,
// metal_fast_division.h): each divisor, read from the entry's copy of its `constant` argument,
// is one the copy divides by exactly without the hardware's division. "" when the kernel has
// no such copy (or PYMETALLIC_CPU_FAST_DIVISION=0, for comparisons).
std::string fast_division_test(const msl::KernelInfo& k) {
  static const bool enabled = [] {
    const char* v = std::getenv("PYMETALLIC_CPU_FAST_DIVISION");
    return !(v && std::string(v) == "0");
  }();
  if (!enabled || k.fast_division_call_name.empty() || k.fast_divisors.empty()) return "";
  std::string test;
  for (const auto& [a, member] : k.fast_divisors) {
    if (a >= k.args.size() || !codegen::is_constant_reference(k.args[a]) || !k.args[a].used) return "";
    if (!test.empty()) test += " && ";
    test += "::metal::detail::fast_divisor_ok(" + codegen::constant_reference_use(a) + member + ")";
  }
  return test;
}

// The split divisions' ranges (fast_division.h, SplitSite) as the entry reads them, once per
// call: `pm_split[i]` for each, from the entry's copies of the `constant` arguments.
// "" when PYMETALLIC_CPU_SPLIT=0 (the copy then gets each thread's own position: a run of one).
std::string split_sites(const msl::KernelInfo& k) {
  static const bool enabled = [] {
    const char* v = std::getenv("PYMETALLIC_CPU_SPLIT");
    return !(v && std::string(v) == "0");
  }();
  if (!enabled || k.fast_division_splits.empty()) return "";
  std::string out = "  ::metal::detail::split_site pm_split[" + std::to_string(k.fast_division_splits.size()) + "];\n";
  for (size_t i = 0; i < k.fast_division_splits.size(); ++i) {
    const auto& sp = k.fast_division_splits[i];
    const std::string site = "pm_split[" + std::to_string(i) + "]";
    auto arg_ok = [&](size_t a) {
      return a < k.args.size() && codegen::is_constant_reference(k.args[a]) && k.args[a].used;
    };
    if (!arg_ok(sp.divisor_arg)) return "";
    out += "  " + site + ".cmin = " + std::to_string(sp.cmin) + "LL; " + site + ".cmax = " + std::to_string(sp.cmax) +
           "LL;\n";
    out += "  ::metal::detail::split_divisor(" + site + ", " + codegen::constant_reference_use(sp.divisor_arg) +
           sp.divisor_member + ");\n";
    for (const auto& t : sp.terms) {
      if (!arg_ok(t.arg)) return "";
      out += "  ::metal::detail::split_add(" + site + ", " + codegen::constant_reference_use(t.arg) + t.member + ", " +
             std::to_string(t.sign) + ");\n";
    }
  }
  return out;
}

// Whether a kernel's threads cannot tell which threadgroup they are in: built-ins from the
// grid only (its position, sizes), no threadgroup memory, barriers or SIMD-group functions, no
// validation or logging (which name the group). The split loop then runs consecutive groups
// of one row as one x range.
bool whole_rows(const msl::TranslatedSource& source, const msl::KernelInfo& k) {
  if (source.validation || source.uses_logging || source.checks_address_spaces) return false;
  if (k.uses_threadgroup_barrier || k.uses_simdgroup_functions) return false;
  for (const auto& a : k.args) {
    if (a.kind == msl::ArgKind::Threadgroup) return false;
    if (a.kind != msl::ArgKind::Builtin || !a.used) continue;
    switch (a.builtin) {
      case msl::BuiltinKind::ThreadPositionInGrid:
      case msl::BuiltinKind::ThreadsPerGrid:
      case msl::BuiltinKind::GridSize:
      case msl::BuiltinKind::GridOrigin:
      case msl::BuiltinKind::DispatchThreadsPerThreadgroup:
      case msl::BuiltinKind::ThreadgroupsPerGrid:
      case msl::BuiltinKind::ThreadsPerSimdgroup:
      case msl::BuiltinKind::ThreadExecutionWidth:
      case msl::BuiltinKind::DispatchSimdgroupsPerThreadgroup:
      case msl::BuiltinKind::DispatchQuadgroupsPerThreadgroup:
        break;
      default:
        return false;
    }
  }
  return true;
}

void write_group_entry(std::ostringstream& out, const msl::TranslatedSource& source, const msl::KernelInfo& k, size_t i,
                       const std::string& arena_note) {
  // flatten: the kernel (and what it calls) is inlined into the thread loop, so the host
  // compiler can vectorise across threads as a GPU runs them side by side.
  // Where the executor found the buffers disjoint, the loop runs in a function whose buffer
  // parameters are `__restrict`: no run-time alias checks, and loops with gathers (whose
  // address ranges the compiler cannot bound) vectorise too. Metal lets a kernel's buffers
  // alias (`in` may be `out`), so the other copy runs otherwise.
  // Where the kernel divides by `constant` arguments, a dispatch whose divisors allow it runs
  // the copy that divides through reciprocals (its loop vectorises), else the kernel as written.
  const std::vector<size_t> restricted = restrictable_arguments(source, k);
  const std::string fast_test = fast_division_test(k);
  auto plain_loop = [&](const std::vector<size_t>& r, const std::string& function, const std::string& extra) {
    return std::string("  for (uint32_t pm_group = pm_first; pm_group < pm_end; ++pm_group) {\n") + kGroupPosition +
           // The innermost loop runs over the grid's x position itself: an induction variable
           // that cannot wrap, which the vectoriser needs to see the accesses as contiguous.
           "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x, pm_x_end = pm_x0 + pm_ntg_x;\n"
           "    for (uint32_t pm_lid_z = 0; pm_lid_z < pm_ntg_z; ++pm_lid_z)\n"
           "    for (uint32_t pm_lid_y = 0; pm_lid_y < pm_ntg_y; ++pm_lid_y)\n"
           "    for (uint32_t pm_px = pm_x0; pm_px < pm_x_end; ++pm_px) {\n"
           "      const uint32_t pm_lid_x = pm_px - pm_x0;\n"
           "      const uint32_t pm_tidx = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x + pm_lid_x;\n"
           "      const uint32_t pm_simd_tidx = pm_tidx;\n"
           "      (void)pm_tidx; (void)pm_simd_tidx;\n" +
           thread_enter(source) + "      " + kernel_call(k, false, r, function, extra) + ";\n" + thread_leave(source) +
           "    }\n  }\n";
  };
  // The split copy: the group's x positions in runs whose split divisions have one quotient
  // each (metal_fast_division.h, split_run); each run's rows in turn, the copy told the run's
  // first position. Threads of a group without barriers may run in any order.
  const bool split_copy = !k.fast_division_splits.empty();
  const std::string sites = split_sites(k);
  auto split_loop = [&](const std::vector<size_t>& r) {
    if (sites.empty()) return plain_loop(r, k.fast_division_call_name, "pm_px");
    // A kernel that cannot tell its threadgroups apart runs a row of consecutive groups as one
    // x range: longer runs, for vector loops wider than a group.
    const bool rows = whole_rows(source, k);
    const std::string x_range =
        rows ? "    uint32_t pm_row_end = pm_group + (pm_groups_x - pm_gid_x);\n"
               "    if (pm_row_end > pm_end) pm_row_end = pm_end;\n"
               "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x;\n"
               "    const uint32_t pm_x_end = (pm_gid_x + (pm_row_end - pm_group)) * pm_tg_x < pm_grid_x\n"
               "                                  ? (pm_gid_x + (pm_row_end - pm_group)) * pm_tg_x : pm_grid_x;\n"
               "    pm_group = pm_row_end - 1;\n"
             : "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x, pm_x_end = pm_x0 + pm_ntg_x;\n";
    return sites + "  for (uint32_t pm_group = pm_first; pm_group < pm_end; ++pm_group) {\n" + kGroupPosition +
           x_range +
           "    for (uint32_t pm_a = pm_x0, pm_b; pm_a < pm_x_end; pm_a = pm_b) {\n"
           "    pm_b = pm_a + ::metal::detail::split_run(pm_split, " +
           std::to_string(k.fast_division_splits.size()) +
           ", pm_a, pm_x_end - pm_a);\n"
           "    for (uint32_t pm_lid_z = 0; pm_lid_z < pm_ntg_z; ++pm_lid_z)\n"
           "    for (uint32_t pm_lid_y = 0; pm_lid_y < pm_ntg_y; ++pm_lid_y)\n"
           "    for (uint32_t pm_px = pm_a; pm_px < pm_b; ++pm_px) {\n"
           "      const uint32_t pm_lid_x = pm_px - pm_x0;\n"
           "      const uint32_t pm_tidx = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x + pm_lid_x;\n"
           "      const uint32_t pm_simd_tidx = pm_tidx;\n"
           "      (void)pm_tidx; (void)pm_simd_tidx;\n" +
           thread_enter(source) + "      " + kernel_call(k, false, r, k.fast_division_call_name, "pm_a") + ";\n" +
           thread_leave(source) + "    }\n    }\n  }\n";
  };
  auto loop = [&](const std::vector<size_t>& r) {
    if (fast_test.empty()) return plain_loop(r, "", "");
    // The branch is taken on an opaque copy of the test: the copy's loop may know that the
    // divisors pass it (and drops the copy's own checks for 0), but the kernel as written
    // must not learn that a divisor is 0 (a division by a known 0 is undefined behaviour
    // in C++, and the compiler would drop the division that traps).
    return "  {\n  const bool pm_fast_division = " + fast_test +
           ";\n  if (::metal::detail::fd_opaque(pm_fast_division)) {\n  if (!pm_fast_division) "
           "__builtin_unreachable();\n" +
           (split_copy ? split_loop(r) : plain_loop(r, k.fast_division_call_name, "")) + "  } else {\n" +
           plain_loop(r, "", "") + "  }\n  }\n";
  };
  std::string header = kDispatchSizes + constant_copies(k) + "  (void)pm_arena;\n" + arena_note;
  // A split loop's runs are grid rows: clang may legalise its vectors at 512 bits where the
  // CPU has them (it prefers 256 otherwise; on Life's loop of bytes widened to uint, 1.6x in a
  // one-thread measurement). Other kernels keep the compiler's default. GCC ignores it (-w).
  const std::string wide = (split_copy && !sites.empty() && !source.validation) ? ", min_vector_width(512)" : "";
  if (!restricted.empty()) {
    // flatten as well: the calls in this function are not the entry's own, so the entry's
    // flatten would leave the kernel to the inliner's size limits.
    out << "static inline __attribute__((always_inline, flatten" << wide << ")) void pm_disjoint_" << i
        << "(const metallic_cpu_launch* L, uint32_t pm_first, uint32_t pm_end, unsigned char* pm_arena";
    for (size_t a : restricted) out << ", void* __restrict pm_restrict_" << a;
    out << ") {\n" << header << loop(restricted) << "}\n";
  }
  out << (wide.empty() ? std::string(entry_attributes(source))
                       : "extern \"C\" __attribute__((flatten" + wide + ")) void ")
      << entry_symbol(i)
      << "(const metallic_cpu_launch* L, uint32_t pm_first, uint32_t pm_end, unsigned char* pm_arena) {\n";
  if (!restricted.empty()) {
    out << "  if (L->disjoint) {\n    pm_disjoint_" << i << "(L, pm_first, pm_end, pm_arena";
    for (size_t a : restricted) out << ", L->buffers[" << k.args[a].index << "]";
    out << ");\n    return;\n  }\n";
  }
  out << header << loop({}) << "}\n";
}

// Names every built-in expression may use (entry_codegen.h), inside a fission thread.
const char* kThreadNames =
    R"(      const uint32_t pm_grid_x = g->pm_grid_x, pm_grid_y = g->pm_grid_y, pm_grid_z = g->pm_grid_z;
      const uint32_t pm_tg_x = g->pm_tg_x, pm_tg_y = g->pm_tg_y, pm_tg_z = g->pm_tg_z;
      const uint32_t pm_groups_x = g->pm_groups_x, pm_groups_y = g->pm_groups_y, pm_groups_z = g->pm_groups_z;
      const uint32_t pm_gid_x = g->pm_gid_x, pm_gid_y = g->pm_gid_y, pm_gid_z = g->pm_gid_z;
      const uint32_t pm_ntg_x = g->pm_ntg_x, pm_ntg_y = g->pm_ntg_y, pm_ntg_z = g->pm_ntg_z;
      const uint32_t pm_ntotal = g->pm_ntotal, pm_simd_tidx = pm_tidx;
      (void)pm_grid_x; (void)pm_grid_y; (void)pm_grid_z; (void)pm_tg_x; (void)pm_tg_y; (void)pm_tg_z;
      (void)pm_groups_x; (void)pm_groups_y; (void)pm_groups_z; (void)pm_gid_x; (void)pm_gid_y; (void)pm_gid_z;
      (void)pm_ntg_x; (void)pm_ntg_y; (void)pm_ntg_z; (void)pm_ntotal; (void)pm_simd_tidx;
)";

// A built-in's expression inside a fission thread: the SIMD lane and group index from the
// thread's counters (each_lanes runs them as loop counters, which the vectoriser sees).
std::string lane_counters(std::string e) {
  for (auto [from, to] : {std::pair<std::string, std::string>{"(pm_simd_tidx % 32u)", "pm_lane"},
                          std::pair<std::string, std::string>{"(pm_simd_tidx / 32u)", "pm_sgi"}})
    for (size_t at = e.find(from); at != std::string::npos; at = e.find(from, at + to.size()))
      e.replace(at, from.size(), to);
  return e;
}

// each_lanes: per SIMD group of a one-row group, a loop over its lanes (a whole group: 32,
// a trip count the vectoriser needs no remainder for; the last, partial one: x positions).
std::string each_lanes_body(const msl::TranslatedSource& source, const msl::KernelInfo& k) {
  if (source.uses_logging) return "    each(f);\n";
  const std::string skip = k.fission_retires ? "        if (pm_retired[pm_tidx]) continue;\n" : "";
  return "    if (pm_ntg_y != 1 || pm_ntg_z != 1) {\n      each(f);\n      return;\n    }\n"
         "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x, pm_whole = pm_ntg_x / 32u;\n"
         "    for (uint32_t pm_sg = 0; pm_sg < pm_whole; ++pm_sg)\n"
         "      for (uint32_t pm_l = 0; pm_l < 32u; ++pm_l) {\n"
         "        const uint32_t pm_tidx = pm_sg * 32u + pm_l;\n" +
         skip +
         "        f(at{this, pm_tidx, 0, 0, pm_tidx, pm_l, pm_sg});\n"
         "      }\n"
         "    const uint32_t pm_b = pm_x0 + pm_whole * 32u, pm_e = pm_x0 + pm_ntg_x;\n"
         "    for (uint32_t pm_px = pm_b; pm_px < pm_e; ++pm_px) {\n"
         "      const uint32_t pm_l = pm_px - pm_b, pm_tidx = pm_whole * 32u + pm_l;\n" +
         skip +
         "      f(at{this, pm_tidx, 0, 0, pm_tidx, pm_l, pm_whole});\n"
         "    }\n";
}

// For a kernel split at its barriers (msl/barrier_fission.h): the group's threads. The
// fission function calls each() once per stretch between barriers; each thread of the group
// runs the stretch in turn, in a loop the compiler can vectorise, and asks get<K>() for the
// value of the built-in that is the kernel's K-th parameter.
void write_fission_threads(std::ostringstream& out, const msl::TranslatedSource& source, const msl::KernelInfo& k,
                           size_t i) {
  std::string cls = "pm_threads_" + std::to_string(i);
  out << "struct " << cls << " {\n"
      << "  uint32_t pm_grid_x, pm_grid_y, pm_grid_z, pm_tg_x, pm_tg_y, pm_tg_z;\n"
      << "  uint32_t pm_groups_x, pm_groups_y, pm_groups_z, pm_gid_x, pm_gid_y, pm_gid_z;\n"
      << "  uint32_t pm_ntg_x, pm_ntg_y, pm_ntg_z, pm_ntotal;\n"
      << "  void* pm_diag;\n"
      << (k.fission_retires ? "  bool pm_retired[1024];\n" : "") << "  struct at {\n"
      << "    " << cls
      << "* g;\n"
      // pm_lane, pm_sgi: the thread's index in its SIMD group and its SIMD group's index (the
      // loops over a SIMD group's lanes give them as their own counters).
      << "    uint32_t pm_lid_x, pm_lid_y, pm_lid_z, pm_tidx, pm_lane, pm_sgi;\n"
      << "    uint32_t index() const { return pm_tidx; }\n"
      << "    void retire() const { " << (k.fission_retires ? "g->pm_retired[pm_tidx] = true;" : "") << " }\n"
      << "    template <int K> auto get() const {\n"
      << kThreadNames;
  for (size_t a = 0; a < k.args.size(); ++a)
    if (k.args[a].kind == msl::ArgKind::Builtin)
      out << "      if constexpr (K == " << std::to_string(a) << ") return "
          << lane_counters(codegen::builtin_expression(k.args[a])) << "; else\n";
  out << "      return 0u;\n    }\n  };\n"
      << "  at first() { return at{this, 0, 0, 0, 0, 0, 0}; }\n"
      // For the SIMD-group calls of a split kernel (metal_simd_fission.h): the group's size and
      // whether a thread still runs (has not returned).
      << "  uint32_t pm_size() const { return pm_ntotal; }\n"
      << "  bool pm_live(uint32_t t) const { return " << (k.fission_retires ? "!pm_retired[t]" : "true") << "; }\n"
      << "  static constexpr bool pm_all_live() { return " << (k.fission_retires ? "false" : "true")
      << "; }\n"
      // The innermost loop runs over the grid's x position (as in the plain group entry): an
      // induction variable that cannot wrap, so the vectoriser sees buffer accesses at gid.x
      // and the per-thread slots at index() as contiguous.
      << "  template <class F> __attribute__((always_inline)) void each(F&& f) { each_x(pm_ntg_x, f); }\n"
      // A stretch that reads no per-thread position, only the threads' slots (a masked loop's
      // steps): one loop over the whole group, long enough to fill the vector units (a row of
      // a 16x16 group is one or two vectors). With logging, each thread's position is needed.
      << "  template <class F> __attribute__((always_inline)) void each_flat(F&& f) {\n"
      << (source.uses_logging ? "    each(f);\n"
                              : std::string("    for (uint32_t pm_tidx = 0; pm_tidx < pm_ntotal; ++pm_tidx) {\n") +
                                    (k.fission_retires ? "      if (pm_retired[pm_tidx]) continue;\n" : "") +
                                    "      f(at{this, 0, 0, 0, pm_tidx, pm_tidx % 32u, pm_tidx / 32u});\n    }\n")
      << "  }\n"
      // `if (lid < s) ...` as a whole stretch (a halving reduction): only the threads whose x
      // position (or index, in a one-row group) is below an unsigned `s` can pass, so the loop
      // stops there. `guarded` is the whole statement, `body` the part under the test: every
      // thread below the bound passes the test, so where the bound applies only `body` runs.
      << "  template <class U, class F, class G> __attribute__((always_inline)) void each_below(const U& u, bool "
         "by_index, F&& guarded, G&& body) {\n"
      << "    if constexpr (metal::is_unsigned<U>::value)\n"
      << "      if (!by_index || (pm_ntg_y == 1 && pm_ntg_z == 1)) {\n"
      << "        each_x(u < pm_ntg_x ? uint32_t(u) : pm_ntg_x, body);\n"
      << "        return;\n"
      << "      }\n"
      << "    each_x(pm_ntg_x, guarded);\n  }\n"
      // `if (lid == u) ...`: only the thread at x position (or one-row index) u passes, if any
      // (an integral u; a negative one matches no thread, as the comparison's conversions give).
      << "  template <class U, class F, class G> __attribute__((always_inline)) void each_equal(const U& u, bool "
         "by_index, F&& guarded, G&& body) {\n"
      << "    if constexpr (metal::is_integral<U>::value && metal::is_scalar<U>::value)\n"
      << "      if (!by_index || (pm_ntg_y == 1 && pm_ntg_z == 1)) {\n"
      << "        if (!(u < U(0)) && uint64_t(u) < pm_ntg_x)\n"
      << "          each_x(uint32_t(u) + 1, body, uint32_t(u));\n"
      << "        return;\n"
      << "      }\n"
      << "    each_x(pm_ntg_x, guarded);\n  }\n"
      // `if (lane == u) ...` (lane: the thread's index in its SIMD group, u uniform): only the
      // threads at index u of each SIMD group pass (the lanes are cut from the group's linear
      // index, 32 at a time), if any: a loop over the SIMD groups.
      << "  template <class U, class F, class G> __attribute__((always_inline)) void each_lane_equal(const U& u, "
         "bool, F&& guarded, G&& body) {\n"
      << (source.uses_logging
              ? std::string("    each_x(pm_ntg_x, guarded);\n")
              : std::string("    if constexpr (metal::is_integral<U>::value && metal::is_scalar<U>::value) {\n"
                            "      if (u < U(0) || uint64_t(u) >= 32u) return;\n"
                            "      for (uint32_t pm_tidx = uint32_t(u); pm_tidx < pm_ntotal; pm_tidx += 32u) {\n") +
                    (k.fission_retires ? "        if (pm_retired[pm_tidx]) continue;\n" : "") +
                    "        const uint32_t pm_lid_x = pm_tidx % pm_ntg_x, pm_lid_y = (pm_tidx / pm_ntg_x) % "
                    "pm_ntg_y;\n"
                    "        body(at{this, pm_lid_x, pm_lid_y, pm_tidx / (pm_ntg_x * pm_ntg_y), pm_tidx, uint32_t(u), "
                    "pm_tidx / 32u});\n"
                    "      }\n"
                    "    } else {\n"
                    "      each_x(pm_ntg_x, guarded);\n"
                    "    }\n")
      << "  }\n"
      // Every thread, for a stretch that reads the SIMD lane or group index (`sums[lane]`): in a
      // one-row group, a loop over its SIMD groups and in each over its lanes (x positions, as
      // in each_x), so that the lane is the inner loop's counter and `sums[lane]` a contiguous
      // load the vectoriser sees.
      << "  template <class F> __attribute__((always_inline)) void each_lanes(F&& f) {\n"
      << each_lanes_body(source, k)
      << "  }\n"
      // The threads at x positions [pm_from, pm_lim) of each row of the group.
      << "  template <class F> __attribute__((always_inline)) void each_x(uint32_t pm_lim, F&& f, uint32_t pm_from = "
         "0) {\n"
      << "    const uint32_t pm_x0 = pm_gid_x * pm_tg_x, pm_x_end = pm_x0 + pm_lim;\n"
      << "    for (uint32_t pm_lid_z = 0; pm_lid_z < pm_ntg_z; ++pm_lid_z)\n"
      << "    for (uint32_t pm_lid_y = 0; pm_lid_y < pm_ntg_y; ++pm_lid_y) {\n"
      << "    const uint32_t pm_row = (pm_lid_z * pm_ntg_y + pm_lid_y) * pm_ntg_x;\n"
      << "    for (uint32_t pm_px = pm_x0 + pm_from; pm_px < pm_x_end; ++pm_px) {\n"
      << "      const uint32_t pm_lid_x = pm_px - pm_x0;\n"
      << "      const uint32_t pm_tidx = pm_row + pm_lid_x;\n"
      << (k.fission_retires ? "      if (pm_retired[pm_tidx]) continue;\n" : "")
      << (source.uses_logging ? "      { const unsigned pm_v_tg[3] = {pm_tg_x, pm_tg_y, pm_tg_z}, pm_v_gid[3] = "
                                "{pm_gid_x, pm_gid_y, pm_gid_z},\n"
                                "          pm_v_lid[3] = {pm_lid_x, pm_lid_y, pm_lid_z};\n"
                                "        metal::detail::lg_enter(pm_diag, pm_v_tg, pm_v_gid, pm_v_lid); }\n"
                              : "")
      << "      f(at{this, pm_lid_x, pm_lid_y, pm_lid_z, pm_tidx, pm_tidx % 32u, pm_tidx / 32u});\n"
      << "    }\n    }\n  }\n};\n";
}

void write_fission_group_entry(std::ostringstream& out, const msl::TranslatedSource& source, const msl::KernelInfo& k,
                               size_t i, const std::string& arena_note) {
  (void)source;
  std::string cls = "pm_threads_" + std::to_string(i);
  out << "extern \"C\" __attribute__((flatten)) void " << entry_symbol(i)
      << "(const metallic_cpu_launch* L, uint32_t pm_first, uint32_t pm_end, unsigned char* pm_arena) {\n"
      << kDispatchSizes << constant_copies(k) << "  (void)pm_arena;\n"
      << arena_note << "  " << cls << " pm_threads;\n"
      << "  pm_threads.pm_grid_x = pm_grid_x; pm_threads.pm_grid_y = pm_grid_y; pm_threads.pm_grid_z = pm_grid_z;\n"
      << "  pm_threads.pm_tg_x = pm_tg_x; pm_threads.pm_tg_y = pm_tg_y; pm_threads.pm_tg_z = pm_tg_z;\n"
      << "  pm_threads.pm_groups_x = pm_groups_x; pm_threads.pm_groups_y = pm_groups_y; pm_threads.pm_groups_z = "
         "pm_groups_z;\n"
      << "  pm_threads.pm_diag = L->diag;\n"
      << "  for (uint32_t pm_group = pm_first; pm_group < pm_end; ++pm_group) {\n"
      << kGroupPosition
      << "    pm_threads.pm_gid_x = pm_gid_x; pm_threads.pm_gid_y = pm_gid_y; pm_threads.pm_gid_z = pm_gid_z;\n"
      << "    pm_threads.pm_ntg_x = pm_ntg_x; pm_threads.pm_ntg_y = pm_ntg_y; pm_threads.pm_ntg_z = pm_ntg_z;\n"
      << "    pm_threads.pm_ntotal = pm_ntotal;\n"
      << (k.fission_retires ? "    for (uint32_t t = 0; t < pm_ntotal; ++t) pm_threads.pm_retired[t] = false;\n" : "")
      << "    " << kernel_call(k, true) << ";\n"
      << "  }\n}\n";
}

// One thread of one group: the executor runs these as fibers when the kernel has barriers.
void write_thread_entry(std::ostringstream& out, const msl::TranslatedSource& source, const msl::KernelInfo& k,
                        size_t i, const std::string& arena_note) {
  out << entry_attributes(source) << thread_entry_symbol(i)
      << "(const metallic_cpu_launch* L, uint32_t pm_group, uint32_t pm_tidx, unsigned char* pm_arena) {\n"
      << kDispatchSizes << constant_copies(k) << arena_note << "  {\n"
      << kGroupPosition << "    const uint32_t pm_lid_x = pm_tidx % pm_ntg_x;\n"
      << "    const uint32_t pm_lid_y = (pm_tidx / pm_ntg_x) % pm_ntg_y;\n"
      << "    const uint32_t pm_lid_z = pm_tidx / (pm_ntg_x * pm_ntg_y);\n"
      << "    const uint32_t pm_simd_tidx = pm_tidx;\n"
      << "    (void)pm_lid_x; (void)pm_lid_y; (void)pm_lid_z; (void)pm_simd_tidx;\n"
      << thread_enter(source) << "    " << kernel_call(k) << ";\n"
      << thread_leave(source) << "  }\n}\n";
}

// sizeof the referee of each `T&` buffer argument (0 for the others), after the count: the
// encoder refuses set_bytes data (or a buffer range) shorter than what the kernel reads.
void write_argument_sizes(std::ostringstream& out, const msl::KernelInfo& k, size_t i) {
  out << "extern \"C\" const unsigned long long " << argument_sizes_symbol(i) << "[] = {" << k.args.size() << "ull";
  for (size_t a = 0; a < k.args.size(); ++a) {
    if (k.args[a].kind == msl::ArgKind::Buffer && k.args[a].is_reference)
      out << ", (unsigned long long)sizeof(typename pm_referee<" << codegen::parameter_type(k, a) << ">::type)";
    else
      out << ", 0ull";
  }
  out << "};\n";
}

}  // namespace

std::string argument_sizes_symbol(size_t i) { return "metallic_arg_sizes_" + std::to_string(i); }

std::string generate_translation_unit(const msl::TranslatedSource& source, long only) {
  std::ostringstream out;
  const bool track = source.validation || source.uses_logging;
  // Fibers switch threads at barriers and SIMD-group exchanges: each thread's identity for
  // validation and logging is saved on its own stack around them.
  std::string save =
      std::string(source.validation ? "  metal::detail::v_thread pm_sv = metal::detail::v_me();\n" : "") +
      (source.uses_logging ? "  metal::detail::lg_thread pm_sl = metal::detail::lg_me();\n" : "");
  std::string restore = std::string(source.validation ? "  metal::detail::v_me() = pm_sv;\n" : "") +
                        (source.uses_logging ? "  metal::detail::lg_me() = pm_sl;\n" : "");
  out << "// Generated by pymetallic's CPU backend. Do not edit.\n"
      << (source.validation ? "#define PM_VALIDATION 1\n" : "") << "#define METAL_TARGET_CPU 1\n"
      << "#include <cstdint>\n"
      << "#include \"metal_runtime.h\"\n"
      << launch_struct_text()
      << "\n"
      // Barrier hooks: the executor stores its scheduler's functions here after loading.
      << "extern \"C\" { void (*metallic_cpu_threadgroup_barrier_hook)() = nullptr;\n"
      << "             void (*metallic_cpu_simdgroup_barrier_hook)(unsigned) = nullptr;\n"
      << "             unsigned (*metallic_cpu_simd_exchange_hook)(const void*, void*, unsigned, unsigned*, unsigned) "
         "= nullptr;\n"
      << "             void (*metallic_cpu_stack_bounds_hook)(const char**, const char**) = nullptr; }\n"
      << "namespace metal { namespace detail {\n"
      << (!track ? "void cpu_threadgroup_barrier() { metallic_cpu_threadgroup_barrier_hook(); }\n"
                   "void cpu_simdgroup_barrier(unsigned site) { metallic_cpu_simdgroup_barrier_hook(site); }\n"
                   "unsigned cpu_simd_exchange(const void* v, void* lanes, unsigned bytes, unsigned* lane, unsigned "
                   "site) {\n"
                   "  return metallic_cpu_simd_exchange_hook(v, lanes, bytes, lane, site); }\n"
                 : "void cpu_threadgroup_barrier() {\n" +
                       std::string(source.validation ? "  metal::detail::v_barrier_arrive();\n" : "") + save +
                       "  metallic_cpu_threadgroup_barrier_hook();\n" + restore +
                       (source.validation ? "  metal::detail::v_barrier_passed();\n" : "") +
                       "}\nvoid cpu_simdgroup_barrier(unsigned site) {\n" + save +
                       "  metallic_cpu_simdgroup_barrier_hook(site);\n" + restore +
                       (source.validation ? "  metal::detail::v_simd_barrier_passed();\n" : "") +
                       "}\nunsigned cpu_simd_exchange(const void* v, void* lanes, unsigned bytes, unsigned* lane, "
                       "unsigned site) {\n" +
                       save + "  unsigned pm_r = metallic_cpu_simd_exchange_hook(v, lanes, bytes, lane, site);\n" +
                       restore + "  return pm_r;\n}\n")
      << "void cpu_stack_bounds(const char** low, const char** high) { metallic_cpu_stack_bounds_hook(low, high); }\n"
      << "} }\n"
      << "namespace metal_user {\n"
      << "#include \"metal_user_scope.h\"\n"
      << source.code << "\n"
      << "#line 1 \"<pymetallic entry points>\"\n"
      << codegen::wrapper_support_code();
  for (size_t i = 0; i < source.kernels.size(); ++i) {
    if (only >= 0 && i != static_cast<size_t>(only)) continue;
    if (uses_fission(source.kernels[i])) {
      write_fission_threads(out, source, source.kernels[i], i);
      write_fission_group_entry(out, source, source.kernels[i], i, arena_note(source));
    } else {
      write_group_entry(out, source, source.kernels[i], i, arena_note(source));
    }
    write_thread_entry(out, source, source.kernels[i], i, arena_note(source));
    // A max_total_threads_per_threadgroup only C++ can evaluate (template parameters).
    if (!source.kernels[i].max_threads_expression.empty())
      out << "extern \"C\" unsigned " << max_threads_symbol(i) << "() { return "
          << source.kernels[i].max_threads_expression << "; }\n";
    write_argument_sizes(out, source.kernels[i], i);
  }
  out << "}  // namespace metal_user\n";
  return out.str();
}

}  // namespace metallic::cpu
