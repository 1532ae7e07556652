// The translation cache (core/translation_cache.h): what a translation records about the files
// it read, the encoding of a translation (every field survives; damaged bytes are refused), and
// that a changed or newly created include file makes a cached entry stale.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/disk_cache.h"
#include "core/translation_cache.h"

using namespace metallic;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("pm_tcache_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& rel, const std::string& text) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// A program exercising every field of the reflection the cache stores: buffers, a constant
// reference, a texture, a sampler, builtins, threadgroup memory, function constants, a barrier
// kernel that is split (fission), one with a thread limit and one whose division is split by
// runs of threads (fast_division.h).
const char* kProgram = R"(#include <metal_stdlib>
using namespace metal;
constant bool use_scale [[function_constant(0)]];
constant float scale_value [[function_constant(1)]];
struct P { uint n; float k; };
kernel void reduce(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                   constant P& p [[buffer(2)]], threadgroup float* tg [[threadgroup(0)]],
                   uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                   uint group [[threadgroup_position_in_grid]]) {
    tg[lid] = in[gid] * (use_scale ? scale_value : 1.0f);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lid == 0) out[group] = tg[0] + p.k;
}
[[max_total_threads_per_threadgroup(64)]]
kernel void shade(texture2d<float, access::read_write> t [[texture(0)]], sampler s [[sampler(0)]],
                  uint2 pos [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
    float4 v = t.read(pos);
    t.write(v + simd_sum(float(lane)), pos);
}
kernel void wrap(device float* out [[buffer(0)]], constant P& p [[buffer(1)]], uint gid [[thread_position_in_grid]]) {
    for (int k = -1; k <= 1; ++k) out[(gid + p.n + k) % p.n] += 1.0f;
}
)";

msl::Options options(const std::string& filename) {
  msl::Options o;
  o.filename = filename;
  o.function_constants["use_scale"] = "true";
  return o;
}

}  // namespace

TEST(TranslationCache, EncodingKeepsEveryField) {
  msl::TranslatedSource t = msl::translate(kProgram, options("p.metal"));
  ASSERT_EQ(t.kernels.size(), 3u);
  std::string bytes = translation_cache::encode(t);
  auto back = translation_cache::decode(bytes);
  ASSERT_TRUE(back.has_value());
  // Encoding the decoded translation gives the same bytes, and the fields read back equal.
  EXPECT_EQ(translation_cache::encode(*back), bytes);
  EXPECT_EQ(back->code, t.code);
  EXPECT_EQ(back->checks_address_spaces, t.checks_address_spaces);
  EXPECT_EQ(back->uses_logging, t.uses_logging);
  ASSERT_EQ(back->function_constants.size(), 2u);
  EXPECT_EQ(back->function_constants[0].name, "use_scale");
  EXPECT_TRUE(back->function_constants[0].defined);
  EXPECT_FALSE(back->function_constants[1].defined);
  EXPECT_EQ(back->function_constants[1].type, t.function_constants[1].type);
  for (size_t i = 0; i < t.kernels.size(); ++i) {
    const auto &a = t.kernels[i], &b = back->kernels[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.call_name, b.call_name);
    EXPECT_EQ(a.fission_call_name, b.fission_call_name);
    EXPECT_EQ(a.fast_division_call_name, b.fast_division_call_name);
    EXPECT_EQ(a.fast_divisors, b.fast_divisors);
    EXPECT_EQ(a.fast_division_splits, b.fast_division_splits);
    EXPECT_EQ(a.max_total_threads_per_threadgroup, b.max_total_threads_per_threadgroup);
    EXPECT_EQ(a.uses_threadgroup_barrier, b.uses_threadgroup_barrier);
    EXPECT_EQ(a.uses_simdgroup_functions, b.uses_simdgroup_functions);
    EXPECT_EQ(a.line, b.line);
    ASSERT_EQ(a.args.size(), b.args.size());
    for (size_t j = 0; j < a.args.size(); ++j) {
      EXPECT_EQ(a.args[j].name, b.args[j].name);
      EXPECT_EQ(a.args[j].type, b.args[j].type);
      EXPECT_EQ(a.args[j].kind, b.args[j].kind);
      EXPECT_EQ(a.args[j].space, b.args[j].space);
      EXPECT_EQ(a.args[j].index, b.args[j].index);
      EXPECT_EQ(a.args[j].builtin, b.args[j].builtin);
      EXPECT_EQ(a.args[j].is_reference, b.args[j].is_reference);
      EXPECT_EQ(a.args[j].is_const, b.args[j].is_const);
      EXPECT_EQ(a.args[j].used, b.args[j].used);
      EXPECT_EQ(a.args[j].texture.shape, b.args[j].texture.shape);
      EXPECT_EQ(a.args[j].texture.written, b.args[j].texture.written);
      EXPECT_EQ(a.args[j].texture.sample_type, b.args[j].texture.sample_type);
    }
  }
  // The fields the test program must have exercised.
  EXPECT_FALSE(t.kernels[0].fission_call_name.empty());
  EXPECT_EQ(t.kernels[1].max_total_threads_per_threadgroup, 64);
  EXPECT_EQ(t.kernels[1].args[0].kind, msl::ArgKind::Texture);
  EXPECT_TRUE(t.kernels[1].args[0].texture.written);
  ASSERT_EQ(t.kernels[2].fast_division_splits.size(), 1u);  // (gid + p.n + k) % p.n
  EXPECT_EQ(t.kernels[2].fast_division_splits[0].terms.size(), 1u);
}

TEST(TranslationCache, DamagedBytesAreRefused) {
  std::string bytes = translation_cache::encode(msl::translate(kProgram, options("p.metal")));
  // Every truncation, and an extra byte, decodes to nothing rather than to a partial result.
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 64) EXPECT_FALSE(translation_cache::decode(bytes.substr(0, n)));
  EXPECT_FALSE(translation_cache::decode(bytes + "x"));
  // A length field overwritten with a huge value is refused without allocating it.
  std::string bad = bytes;
  for (int i = 8; i < 16; ++i) bad[i] = '\xff';
  EXPECT_FALSE(translation_cache::decode(bad));
}

TEST(TranslationCache, IncludedFilesAreRecordedAndChecked) {
  TempDir dir;
  dir.write("inc/common.h", "#define SCALE 2.0f\n");
  std::string main = dir.write("src/main.metal", "");
  msl::Options o;
  o.filename = main;
  o.include_paths = {dir.path() + "/first", dir.path() + "/inc"};
  const char* src =
      "#include <common.h>\nkernel void k(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) "
      "{ a[i] *= SCALE; }\n";
  msl::TranslatedSource t = msl::translate(src, o);
  // <common.h> was looked for in first/ (absent) before inc/ (read).
  bool absent_first = false, read_inc = false;
  for (const auto& f : t.inputs) {
    if (f.path.find("first") != std::string::npos && f.hash.empty()) absent_first = true;
    if (f.path.find("inc") != std::string::npos && !f.hash.empty()) read_inc = true;
  }
  EXPECT_TRUE(absent_first);
  EXPECT_TRUE(read_inc);
  EXPECT_TRUE(translation_cache::inputs_unchanged(t));
  // Editing the included file makes the entry stale...
  dir.write("inc/common.h", "#define SCALE 3.0f\n");
  EXPECT_FALSE(translation_cache::inputs_unchanged(t));
  t = msl::translate(src, o);
  EXPECT_TRUE(translation_cache::inputs_unchanged(t));
  // ...and so does a file appearing where the search would now find it first.
  dir.write("first/common.h", "#define SCALE 4.0f\n");
  EXPECT_FALSE(translation_cache::inputs_unchanged(t));
}

TEST(TranslationCache, CachedTranslationFollowsItsInputs) {
  TempDir dir;
  ::setenv("PYMETALLIC_CACHE_DIR", (dir.path() + "/cache").c_str(), 1);
  dir.write("inc/common.h", "#define SCALE 2.0f\n");
  msl::Options o;
  o.filename = dir.write("src/main.metal", "");
  o.include_paths = {dir.path() + "/inc"};
  const char* src =
      "#include <common.h>\nkernel void k(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) "
      "{ a[i] *= SCALE; }\n";
  std::string first = translation_cache::translate(src, o).code;
  EXPECT_NE(first.find("2.0f"), std::string::npos);
  // A hit gives the same translation; a stored entry exists under the cache's msl/ folder
  // (the cache's root is fixed at its first use in the process: maybe not the folder above).
  EXPECT_EQ(translation_cache::translate(src, o).code, first);
  bool stored = false;
  for (const auto& e : fs::directory_iterator(cache::root() + "/msl")) stored |= e.path().extension() == ".bin";
  EXPECT_TRUE(stored);
  // After the header changes, the cached entry is not used.
  dir.write("inc/common.h", "#define SCALE 5.0f\n");
  std::string second = translation_cache::translate(src, o).code;
  EXPECT_NE(second.find("5.0f"), std::string::npos);
  EXPECT_EQ(second.find("2.0f"), std::string::npos);
  // Different options are different entries.
  o.macros = {{"EXTRA", "1"}};
  EXPECT_NE(translation_cache::translate(src, o).code.find("5.0f"), std::string::npos);
  ::unsetenv("PYMETALLIC_CACHE_DIR");
}
