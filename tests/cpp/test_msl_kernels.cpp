// Kernel discovery and reflection: declaration forms, parameter kinds, implicit indices,
// builtins, validation errors with their lines, barrier / SIMD use through the call graph.
#include <gtest/gtest.h>

#include "msl/translation.h"

using namespace metallic::msl;

namespace {

TranslatedSource T(const std::string& src) {
  Options o;
  o.filename = "k.metal";
  return translate(src, o);
}

std::string error_of(const std::string& src) {
  try {
    T(src);
  } catch (const TranslationError& e) {
    return e.what();
  }
  return "";
}

const KernelInfo& only(const TranslatedSource& t) {
  EXPECT_EQ(t.kernels.size(), 1u);
  return t.kernels.at(0);
}

}  // namespace

TEST(MslKernels, VectorAdd) {
  auto t = T(R"(#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device const float* a [[buffer(0)]],
                       device const float* b [[buffer(1)]],
                       device float* result [[buffer(2)]],
                       uint index [[thread_position_in_grid]]) {
    result[index] = a[index] + b[index];
}
)");
  const KernelInfo& k = only(t);
  EXPECT_EQ(k.name, "vector_add");
  EXPECT_EQ(k.call_name, "vector_add");
  EXPECT_EQ(k.file, "k.metal");
  EXPECT_EQ(k.line, 4);
  EXPECT_EQ(k.max_total_threads_per_threadgroup, 0);
  EXPECT_FALSE(k.uses_threadgroup_barrier);
  EXPECT_FALSE(k.uses_simdgroup_functions);
  ASSERT_EQ(k.args.size(), 4u);
  const KernelArg& a = k.args[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.type, "const float*");
  EXPECT_EQ(a.element_type, "float");
  EXPECT_EQ(a.kind, ArgKind::Buffer);
  EXPECT_EQ(a.space, AddressSpace::Device);
  EXPECT_TRUE(a.is_const);
  EXPECT_FALSE(a.is_reference);
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.line, 4);
  EXPECT_EQ(k.args[2].type, "float*");
  EXPECT_FALSE(k.args[2].is_const);
  EXPECT_EQ(k.args[2].index, 2);
  EXPECT_EQ(k.args[2].line, 6);
  const KernelArg& id = k.args[3];
  EXPECT_EQ(id.kind, ArgKind::Builtin);
  EXPECT_EQ(id.builtin, BuiltinKind::ThreadPositionInGrid);
  EXPECT_EQ(id.type, "uint");
  EXPECT_EQ(id.element_type, "uint");
  EXPECT_EQ(id.components, 1);
}

TEST(MslKernels, DeclarationForms) {
  auto t = T(R"(
[[kernel]] void a(device float* x [[buffer(0)]]) {}
[[kernel, max_total_threads_per_threadgroup(256)]] void b(device float* x [[buffer(0)]]) {}
[[max_total_threads_per_threadgroup(2 * 64)]] kernel void c(device float* x [[buffer(0)]]) {}
kernel void __attribute__((unused)) d() {}
void not_a_kernel(device float* x) {}
kernel void proto(device float* x);
namespace ns { kernel void in_ns(device int* y) {} }
)");
  ASSERT_EQ(t.kernels.size(), 5u);
  EXPECT_EQ(t.kernels[0].name, "a");
  EXPECT_EQ(t.kernels[0].max_total_threads_per_threadgroup, 0);
  EXPECT_EQ(t.kernels[1].name, "b");
  EXPECT_EQ(t.kernels[1].max_total_threads_per_threadgroup, 256);
  EXPECT_EQ(t.kernels[2].max_total_threads_per_threadgroup, 128);
  EXPECT_EQ(t.kernels[3].name, "d");
  EXPECT_TRUE(t.kernels[3].args.empty());
  EXPECT_EQ(t.kernels[4].name, "in_ns");
  EXPECT_EQ(t.kernels[4].line, 8);
}

TEST(MslKernels, ImplicitBufferNumberingGgmlStyle) {
  auto t = T(R"(
struct Args { int ne00; float eps; };
kernel void k(constant Args & args, device const char * src0, device char * dst,
              uint3 tgpig [[threadgroup_position_in_grid]], ushort3 tpitg [[thread_position_in_threadgroup]],
              ushort sgitg [[simdgroup_index_in_threadgroup]]) {}
)");
  const KernelInfo& k = only(t);
  ASSERT_EQ(k.args.size(), 6u);
  EXPECT_EQ(k.args[0].index, 0);
  EXPECT_EQ(k.args[0].type, "const Args&");
  EXPECT_EQ(k.args[0].element_type, "Args");
  EXPECT_TRUE(k.args[0].is_reference);
  EXPECT_TRUE(k.args[0].is_const);
  EXPECT_EQ(k.args[0].space, AddressSpace::Constant);
  EXPECT_EQ(k.args[1].index, 1);
  EXPECT_EQ(k.args[1].type, "const char*");
  EXPECT_EQ(k.args[2].index, 2);
  EXPECT_EQ(k.args[3].builtin, BuiltinKind::ThreadgroupPositionInGrid);
  EXPECT_EQ(k.args[3].components, 3);
  EXPECT_EQ(k.args[3].element_type, "uint");
  EXPECT_EQ(k.args[4].element_type, "ushort");
  EXPECT_EQ(k.args[4].components, 3);
  EXPECT_EQ(k.args[5].element_type, "ushort");
  EXPECT_EQ(k.args[5].components, 1);
}

TEST(MslKernels, MixedExplicitAndImplicitIndices) {
  // An implicit index follows the previous buffer and skips indices named explicitly anywhere.
  auto t = T(R"(
kernel void k(device float* a [[buffer(1)]], device float* b, device float* c [[buffer(0)]],
              device float* d, device float* e [[buffer(5)]], device float* f) {}
)");
  const KernelInfo& k = only(t);
  std::vector<int> idx;
  for (const KernelArg& a : k.args) idx.push_back(a.index);
  EXPECT_EQ(idx, (std::vector<int>{1, 2, 0, 3, 5, 6}));
}

TEST(MslKernels, ResourcesOfEveryKind) {
  auto t = T(R"(
kernel void k(texture2d<float, access::read> src [[texture(0)]],
              texture2d<float, access::write> dst,
              sampler s [[sampler(3)]],
              threadgroup float* scratch [[threadgroup(0)]],
              threadgroup int* more,
              const device packed_float3* pts,
              device atomic_uint* counter [[buffer(4)]],
              constant float& scale [[buffer(7)]]) {}
)");
  const KernelInfo& k = only(t);
  ASSERT_EQ(k.args.size(), 8u);
  EXPECT_EQ(k.args[0].kind, ArgKind::Texture);
  EXPECT_EQ(k.args[0].index, 0);
  EXPECT_EQ(k.args[0].type, "texture2d<float, access::read>");
  EXPECT_EQ(k.args[1].kind, ArgKind::Texture);
  EXPECT_EQ(k.args[1].index, 1);
  EXPECT_EQ(k.args[2].kind, ArgKind::Sampler);
  EXPECT_EQ(k.args[2].index, 3);
  EXPECT_EQ(k.args[3].kind, ArgKind::Threadgroup);
  EXPECT_EQ(k.args[3].type, "float*");
  EXPECT_EQ(k.args[3].space, AddressSpace::Threadgroup);
  EXPECT_EQ(k.args[3].index, 0);
  EXPECT_EQ(k.args[4].kind, ArgKind::Threadgroup);
  EXPECT_EQ(k.args[4].index, 1);
  EXPECT_EQ(k.args[5].kind, ArgKind::Buffer);
  EXPECT_EQ(k.args[5].index, 0);
  EXPECT_EQ(k.args[5].element_type, "packed_float3");
  EXPECT_EQ(k.args[6].element_type, "atomic_uint");
  EXPECT_EQ(k.args[6].index, 4);
  EXPECT_EQ(k.args[7].type, "const float&");
  EXPECT_EQ(k.args[7].index, 7);
}

TEST(MslKernels, EveryBuiltin) {
  const std::vector<std::pair<std::string, BuiltinKind>> all = {
      {"thread_position_in_grid", BuiltinKind::ThreadPositionInGrid},
      {"threads_per_grid", BuiltinKind::ThreadsPerGrid},
      {"thread_position_in_threadgroup", BuiltinKind::ThreadPositionInThreadgroup},
      {"threads_per_threadgroup", BuiltinKind::ThreadsPerThreadgroup},
      {"dispatch_threads_per_threadgroup", BuiltinKind::DispatchThreadsPerThreadgroup},
      {"thread_index_in_threadgroup", BuiltinKind::ThreadIndexInThreadgroup},
      {"threadgroup_position_in_grid", BuiltinKind::ThreadgroupPositionInGrid},
      {"threadgroups_per_grid", BuiltinKind::ThreadgroupsPerGrid},
      {"thread_index_in_simdgroup", BuiltinKind::ThreadIndexInSimdgroup},
      {"simdgroup_index_in_threadgroup", BuiltinKind::SimdgroupIndexInThreadgroup},
      {"simdgroups_per_threadgroup", BuiltinKind::SimdgroupsPerThreadgroup},
      {"dispatch_simdgroups_per_threadgroup", BuiltinKind::DispatchSimdgroupsPerThreadgroup},
      {"threads_per_simdgroup", BuiltinKind::ThreadsPerSimdgroup},
      {"thread_execution_width", BuiltinKind::ThreadExecutionWidth},
      {"thread_index_in_quadgroup", BuiltinKind::ThreadIndexInQuadgroup},
      {"quadgroup_index_in_threadgroup", BuiltinKind::QuadgroupIndexInThreadgroup},
      {"quadgroups_per_threadgroup", BuiltinKind::QuadgroupsPerThreadgroup},
      {"dispatch_quadgroups_per_threadgroup", BuiltinKind::DispatchQuadgroupsPerThreadgroup},
      {"grid_origin", BuiltinKind::GridOrigin},
      {"grid_size", BuiltinKind::GridSize},
  };
  for (const auto& [name, kind] : all) {
    EXPECT_EQ(builtin_name(kind), name);
    for (const char* type : {"uint", "ushort", "const uint"}) {
      auto t = T(std::string("kernel void k(") + type + " v [[" + name + "]]) {}");
      const KernelArg& a = only(t).args.at(0);
      EXPECT_EQ(a.kind, ArgKind::Builtin) << name;
      EXPECT_EQ(a.builtin, kind) << name;
      EXPECT_EQ(a.components, 1);
      EXPECT_EQ(a.element_type, std::string(type).find("short") != std::string::npos ? "ushort" : "uint");
      EXPECT_EQ(a.index, -1);
    }
  }
  auto t =
      T("kernel void k(uint2 a [[threads_per_grid]], ushort2 b [[thread_position_in_threadgroup]],"
        " uint3 c [[grid_size]], uint32_t d [[thread_index_in_simdgroup]]) {}");
  const KernelInfo& k = only(t);
  EXPECT_EQ(k.args[0].components, 2);
  EXPECT_EQ(k.args[1].element_type, "ushort");
  EXPECT_EQ(k.args[1].components, 2);
  EXPECT_EQ(k.args[2].components, 3);
  EXPECT_EQ(k.args[3].type, "uint32_t");
  EXPECT_EQ(k.args[3].element_type, "uint");
}

TEST(MslKernels, ValidationErrorsNameTheLine) {
  EXPECT_NE(error_of("\nkernel void k(device float* a [[bufer(0)]]) {}")
                .find("k.metal:2:33: error: unknown attribute 'bufer' on kernel parameter 'a'"),
            std::string::npos)
      << error_of("\nkernel void k(device float* a [[bufer(0)]]) {}");
  EXPECT_NE(error_of("kernel void k(\n  float id [[thread_position_in_grid]]) {}")
                .find("k.metal:2:9: error: type 'float' is not valid for attribute 'thread_position_in_grid'"),
            std::string::npos);
  EXPECT_NE(error_of("kernel void k(uint3 i [[thread_index_in_threadgroup]]) {}").find("expected uint or ushort"),
            std::string::npos);
  std::string dup = error_of("kernel void k(device float* a [[buffer(1)]],\n\n device float* b [[buffer(1)]]) {}");
  EXPECT_NE(dup.find("k.metal:3:16: error: buffer index 1 is already used by parameter 'a' (line 1)"),
            std::string::npos)
      << dup;
  EXPECT_NE(error_of("\n\nkernel void k(device float* a [[buffer(31)]]) {}").find("k.metal:3:"), std::string::npos);
  EXPECT_NE(error_of("kernel void k(device float* a [[buffer(31)]]) {}").find("buffer index 31 is out of range (0-30)"),
            std::string::npos);
  std::string ret = error_of("\nkernel float k(device float* a) { return 0; }");
  EXPECT_NE(ret.find("k.metal:2:14: error: kernel function 'k' must return void, not 'float'"), std::string::npos)
      << ret;
  std::string scalar = error_of("kernel void k(device float* a,\n              float scale) {}");
  EXPECT_NE(scalar.find("k.metal:2:21: error: kernel parameter 'scale' of type 'float' needs an attribute"),
            std::string::npos)
      << scalar;
  EXPECT_NE(error_of("kernel void k(thread float* a) {}").find("must point to the device, constant or threadgroup"),
            std::string::npos);
  EXPECT_NE(error_of("kernel void k(device float* a [[threadgroup(0)]]) {}").find("needs a 'threadgroup T*'"),
            std::string::npos);
  EXPECT_NE(error_of("kernel void k(device float* a [[buffer(0), thread_position_in_grid]]) {}").find("conflict"),
            std::string::npos);
  EXPECT_NE(error_of("[[kernel, max_total_threads_per_threadgroup(2048)]] void k() {}").find("exceeds 1024"),
            std::string::npos);
  EXPECT_NE(
      error_of("kernel void k(device float* a) {\n  a[0] = 1;\n").find("k.metal:1:32: error: '{' is never closed"),
      std::string::npos)
      << error_of("kernel void k(device float* a) {\n  a[0] = 1;\n");
}

TEST(MslKernels, BarrierAndSimdUseFollowCalls) {
  auto t = T(R"(
constant int simd_size = 32;
inline float leaf(float x) { return simd_sum(x); }
inline float middle(float x) { return leaf(x) * 2; }
template <typename T> struct Reducer {
  void sync() const thread { threadgroup_barrier(mem_flags::mem_threadgroup); }
};
inline void plain() {}

kernel void uses_simd(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) { a[i] = middle(a[i]); }
kernel void uses_barrier(device float* a [[buffer(0)]]) { Reducer<float> r; r.sync(); }
kernel void uses_none(device float* a [[buffer(0)]]) { plain(); a[0] = simd_size; }
kernel void uses_matrix(device float* a [[buffer(0)]]) { simdgroup_float8x8 m; }
kernel void uses_quad(device float* a [[buffer(0)]]) { a[0] = quad_shuffle(a[0], 1); }
)");
  ASSERT_EQ(t.kernels.size(), 5u);
  EXPECT_TRUE(t.kernels[0].uses_simdgroup_functions);
  EXPECT_FALSE(t.kernels[0].uses_threadgroup_barrier);
  EXPECT_TRUE(t.kernels[1].uses_threadgroup_barrier);
  EXPECT_FALSE(t.kernels[1].uses_simdgroup_functions);
  EXPECT_FALSE(t.kernels[2].uses_threadgroup_barrier);
  EXPECT_FALSE(t.kernels[2].uses_simdgroup_functions);
  EXPECT_TRUE(t.kernels[3].uses_simdgroup_functions);
  EXPECT_TRUE(t.kernels[4].uses_simdgroup_functions);
}

TEST(MslKernels, KernelsFromMacros) {
  // ggml-style: kernels declared through a macro still report the user's line.
  auto t = T(R"(#define UNARY(name, op) \
  kernel void name(device const float* src, device float* dst, uint i [[thread_position_in_grid]]) { \
    dst[i] = op(src[i]); \
  }
inline float neg(float x) { return -x; }
UNARY(k_neg, neg)
UNARY(k_id, )
)");
  ASSERT_EQ(t.kernels.size(), 2u);
  EXPECT_EQ(t.kernels[0].name, "k_neg");
  EXPECT_EQ(t.kernels[0].line, 6);
  EXPECT_EQ(t.kernels[1].line, 7);
  EXPECT_EQ(t.kernels[1].args[1].index, 1);
}

// Divisions by `constant` arguments (and their members) get a CPU copy with fast divisors
// (msl/fast_division.h); other divisors, other kernels and overloaded names do not.
TEST(MslKernels, FastDivisionCopyForConstantDivisors) {
  TranslatedSource t = T(R"(#include <metal_stdlib>
using namespace metal;
struct P { uint w; int h; };
kernel void k(device uint* o [[buffer(0)]], constant uint& n [[buffer(1)]], constant P& p [[buffer(2)]],
              device const uint* v [[buffer(3)]], uint i [[thread_position_in_grid]]) {
  o[i] = i % n + i / p.w + i / v[0] + (i % n) * n / p.h;
}
kernel void plain(device uint* o [[buffer(0)]], constant uint& n [[buffer(1)]], uint i [[thread_position_in_grid]]) {
  o[i] = i + n;
}
)");
  ASSERT_EQ(t.kernels.size(), 2u);
  const KernelInfo& k = t.kernels[0];
  const std::string suffix = "k__pm_fastdiv";
  ASSERT_GE(k.fast_division_call_name.size(), suffix.size());
  EXPECT_EQ(k.fast_division_call_name.substr(k.fast_division_call_name.size() - suffix.size()), suffix);
  std::vector<std::pair<size_t, std::string>> want = {{1, ""}, {2, ".w"}, {2, ".h"}};
  EXPECT_EQ(k.fast_divisors, want);
  size_t wrapped = 0;
  for (size_t at = t.code.find("fast_divisor"); at != std::string::npos; at = t.code.find("fast_divisor", at + 1))
    ++wrapped;
  // i % n twice and i / p.w divide the thread's position: split by runs (SplitSite), not
  // wrapped; / p.h divides `(i % n) * n`; / v[0] is no `constant` argument.
  EXPECT_EQ(wrapped, 1u);
  ASSERT_EQ(k.fast_division_splits.size(), 3u);
  EXPECT_EQ(k.fast_division_splits[0].divisor_arg, 1u);
  EXPECT_EQ(k.fast_division_splits[1].divisor_arg, 2u);
  EXPECT_EQ(k.fast_division_splits[1].divisor_member, ".w");
  for (const auto& s : k.fast_division_splits) {
    EXPECT_EQ(s.cmin, 0);
    EXPECT_EQ(s.cmax, 0);
    EXPECT_TRUE(s.terms.empty());
  }
  EXPECT_TRUE(t.kernels[1].fast_division_call_name.empty());
  EXPECT_TRUE(t.kernels[1].fast_divisors.empty());
}

// Index-set splitting (msl/fast_division.h, SplitSite): `(gid.x + n + dx) % n` with a loop
// counter of literal bounds and a `constant` argument is split; a counter the loop body
// changes, a `constant` argument a local hides, a cast or a product around the dividend, and
// the y position are not.
TEST(MslKernels, FastDivisionSplitSites) {
  TranslatedSource t = T(R"(#include <metal_stdlib>
using namespace metal;
struct P { uint w; int off; };
kernel void k(device uint* o [[buffer(0)]], constant uint& n [[buffer(1)]], constant P& p [[buffer(2)]],
              uint2 gid [[thread_position_in_grid]]) {
  uint s = 0;
  for (int dx = -1; dx <= 1; ++dx) s += (gid.x + n + dx) % n + (gid.y + dx) % n;
  for (uint k = 0; k < 4u; ++k) s += (gid.x - 3 + k + p.off) / p.w;
  for (int j = 0; j < 4; ++j) { s += (gid.x + j) % n; j += 1; }
  s += 2 * (gid.x + 1) % n + uint(gid.x + 1) % n;
  { uint w = 5; s += (gid.x + w) % n; }
  o[gid.y * n + gid.x] = s;
}
)");
  ASSERT_EQ(t.kernels.size(), 1u);
  const KernelInfo& k = t.kernels[0];
  ASSERT_EQ(k.fast_division_splits.size(), 2u);
  const auto& a = k.fast_division_splits[0];
  EXPECT_EQ(a.divisor_arg, 1u);
  EXPECT_EQ(a.cmin, -1);
  EXPECT_EQ(a.cmax, 1);
  ASSERT_EQ(a.terms.size(), 1u);
  EXPECT_EQ(a.terms[0].arg, 1u);
  EXPECT_EQ(a.terms[0].sign, 1);
  const auto& b = k.fast_division_splits[1];
  EXPECT_EQ(b.divisor_arg, 2u);
  EXPECT_EQ(b.divisor_member, ".w");
  EXPECT_EQ(b.cmin, -3);
  EXPECT_EQ(b.cmax, 0);
  ASSERT_EQ(b.terms.size(), 1u);
  EXPECT_EQ(b.terms[0].arg, 2u);
  EXPECT_EQ(b.terms[0].member, ".off");
  EXPECT_NE(t.code.find("pm_split_lo + n + dx"), std::string::npos);
}
