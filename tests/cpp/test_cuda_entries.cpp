// The CUDA translation units (no GPU or NVRTC needed): which entry points each set holds,
// and the parameter header both sets share.
#include <gtest/gtest.h>

#include "backends/cuda/entry_wrapper.h"
#include "msl/translation.h"

using namespace metallic;

namespace {

msl::TranslatedSource two_kernels() {
  msl::Options o;
  o.filename = "k.metal";
  return msl::translate(R"(#include <metal_stdlib>
using namespace metal;
kernel void first(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) { a[i] = 1; }
kernel void second(device float* a [[buffer(0)]], constant float& v [[buffer(1)]],
                   uint2 g [[threadgroup_position_in_grid]]) { a[g.x] = v; }
)",
                        o);
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST(CudaEntries, DirectSetHasTheGeneralAndUniformEntriesAndTheLayout) {
  std::string tu = cuda::generate_translation_unit(two_kernels(), cuda::Entries::Direct);
  for (std::string i : {"0", "1"}) {
    EXPECT_TRUE(has(tu, "void metallic_entry_" + i + "(")) << i;
    EXPECT_TRUE(has(tu, cuda::layout_symbol(std::stoul(i)) + "[]")) << i;
  }
  // `first` has no `constant T&` argument: one uniform entry. `second` reads `constant float&`:
  // a uniform entry for its data inline (set_bytes) and one for it in a buffer, each without
  // the per-launch test of the inline mask; the general entry tests it.
  EXPECT_TRUE(has(tu, "void metallic_entry_0_uniform("));
  EXPECT_FALSE(has(tu, "void metallic_entry_0_uniform_inline("));
  EXPECT_FALSE(has(tu, "void metallic_entry_1_uniform("));
  EXPECT_TRUE(
      has(tu, "void metallic_entry_1_uniform_inline(const PM_GRID_CONSTANT pm_params_1 P) { metallic_body_1<true, 1>"));
  EXPECT_TRUE(has(
      tu, "void metallic_entry_1_uniform_buffers(const PM_GRID_CONSTANT pm_params_1 P) { metallic_body_1<true, 2>"));
  EXPECT_TRUE(has(tu, "void metallic_entry_1(const PM_GRID_CONSTANT pm_params_1 P) { metallic_body_1<false>"));
  // Indirect entries would add ~40% to every cold compile: they are a module of their own.
  EXPECT_FALSE(has(tu, "_indirect("));
  EXPECT_FALSE(has(tu, "void pm_for_each_indirect_group("));
}

TEST(CudaEntries, IndirectSetHasOnlyTheIndirectEntries) {
  std::string tu = cuda::generate_translation_unit(two_kernels(), cuda::Entries::Indirect);
  for (std::string i : {"0", "1"}) {
    EXPECT_TRUE(has(tu, "void metallic_entry_" + i + "_indirect(")) << i;
    EXPECT_FALSE(has(tu, "void metallic_entry_" + i + "(")) << i;
    EXPECT_FALSE(has(tu, "void metallic_entry_" + i + "_uniform")) << i;
  }
  // The counts' address travels in header words 10 and 11; the layout is read from the
  // direct module only.
  EXPECT_TRUE(has(tu, "pm_for_each_indirect_group(P.dims[10], P.dims[11]"));
  EXPECT_FALSE(has(tu, "metallic_layout_"));
}

TEST(CudaEntries, BothSetsShareTheParameterStructs) {
  auto source = two_kernels();
  auto structs = [](const std::string& tu) {
    std::string out;
    for (size_t at = tu.find("struct pm_params_"); at != std::string::npos; at = tu.find("struct pm_params_", at + 1))
      out += tu.substr(at, tu.find("};", at) - at) + "\n";
    return out;
  };
  std::string direct = structs(cuda::generate_translation_unit(source, cuda::Entries::Direct));
  EXPECT_TRUE(has(direct, "unsigned int dims[12];"));
  EXPECT_EQ(direct, structs(cuda::generate_translation_unit(source, cuda::Entries::Indirect)));
}

TEST(CudaEntries, HeaderKeepsTheFirstSlotAt48Bytes) {
  unsigned sizes[] = {8, 0, 4}, offsets[3], total = 0;
  cuda::slot_offsets(sizes, 3, offsets, &total);
  EXPECT_EQ(offsets[0], 48u);
  EXPECT_EQ(offsets[1], 0u);
  EXPECT_EQ(offsets[2], 64u);
  EXPECT_EQ(total, 80u);
}
