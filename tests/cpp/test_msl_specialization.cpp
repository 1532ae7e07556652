// Issue 3: function constants (values, undefined ones, conditional parameters) and template
// kernels named by [[host_name]] explicit instantiations.
#include <gtest/gtest.h>

#include <regex>

#include "msl/translation.h"

using namespace metallic::msl;

namespace {

TranslatedSource T(const std::string& src, std::map<std::string, std::string> constants = {}) {
  Options o;
  o.filename = "s.metal";
  o.function_constants = std::move(constants);
  return translate(src, o);
}

std::string squeeze(const std::string& code) {
  std::string no_lines = std::regex_replace(code, std::regex("#line [^\n]*\n"), "");
  return std::regex_replace(std::regex_replace(no_lines, std::regex("\\s+"), " "), std::regex("^ | $"), "");
}

std::string error_of(const std::string& src, std::map<std::string, std::string> constants = {}) {
  try {
    T(src, std::move(constants));
  } catch (const TranslationError& e) {
    return e.what();
  }
  return "";
}

const char* kGemv = R"(
#define FC_BASE 10
constant bool has_bias [[function_constant(0)]];
constant int block [[function_constant(FC_BASE + 1)]];
constant float alpha [[function_constant(2)]];
constant bool use_alpha = is_function_constant_defined(alpha);

kernel void gemv(device const float* x [[buffer(0)]],
                 device float* y [[buffer(1)]],
                 const device float* bias [[buffer(2), function_constant(has_bias)]],
                 uint i [[thread_position_in_grid]]) {
  float v = x[i] * (use_alpha ? alpha : 1.0);
  if (has_bias) v += bias[i];
  y[i] = v * block;
}
)";

}  // namespace

TEST(MslFunctionConstants, ValuesByNameAndIndex) {
  auto t = T(kGemv, {{"has_bias", "true"}, {"#11", "4"}, {"alpha", "0.5f"}});
  ASSERT_EQ(t.function_constants.size(), 3u);
  EXPECT_EQ(t.function_constants[0].name, "has_bias");
  EXPECT_EQ(t.function_constants[0].type, "bool");
  EXPECT_EQ(t.function_constants[0].index, 0);
  EXPECT_TRUE(t.function_constants[0].defined);
  EXPECT_EQ(t.function_constants[1].index, 11);
  EXPECT_EQ(t.function_constants[1].type, "int");
  EXPECT_TRUE(t.function_constants[1].defined);
  EXPECT_EQ(t.function_constants[2].type, "float");
  std::string code = squeeze(t.code);
  EXPECT_NE(code.find("METAL_PROGRAM_SCOPE_CONSTANT bool has_bias = true;"), std::string::npos) << code;
  EXPECT_NE(code.find("METAL_PROGRAM_SCOPE_CONSTANT int block = 4;"), std::string::npos) << code;
  EXPECT_NE(code.find("METAL_PROGRAM_SCOPE_CONSTANT float alpha = 0.5f;"), std::string::npos) << code;
  EXPECT_NE(code.find("METAL_PROGRAM_SCOPE_CONSTANT bool use_alpha = true;"), std::string::npos) << code;
  EXPECT_EQ(code.find("function_constant"), std::string::npos) << code;
  // The conditional parameter exists.
  ASSERT_EQ(t.kernels.size(), 1u);
  ASSERT_EQ(t.kernels[0].args.size(), 4u);
  EXPECT_EQ(t.kernels[0].args[2].name, "bias");
  EXPECT_EQ(t.kernels[0].args[2].index, 2);
  EXPECT_NE(code.find("void gemv( const float* x, float* y, const float* bias, uint i)"), std::string::npos) << code;
}

TEST(MslFunctionConstants, UndefinedAndFalseRemoveConditionalParameters) {
  for (auto constants :
       {std::map<std::string, std::string>{}, std::map<std::string, std::string>{{"has_bias", "false"}}}) {
    auto t = T(kGemv, constants);
    std::string code = squeeze(t.code);
    ASSERT_EQ(t.kernels.size(), 1u);
    ASSERT_EQ(t.kernels[0].args.size(), 3u);
    EXPECT_EQ(t.kernels[0].args[2].builtin, BuiltinKind::ThreadPositionInGrid);
    EXPECT_NE(code.find("void gemv( const float* x, float* y, uint i) { [[maybe_unused]] const float* bias = nullptr;"),
              std::string::npos)
        << code;
    EXPECT_NE(code.find("METAL_PROGRAM_SCOPE_CONSTANT int block = int();"), std::string::npos) << code;
    EXPECT_NE(code.find("use_alpha = false;"), std::string::npos) << code;
  }
  auto t = T(kGemv);
  EXPECT_FALSE(t.function_constants[0].defined);
}

TEST(MslFunctionConstants, ConditionalReferenceAndFirstParameter) {
  auto t = T(R"(
constant bool has_params [[function_constant(0)]];
struct P { float a; };
kernel void k(constant P& p [[buffer(0), function_constant(has_params)]], device float* out) { out[0] = 1; }
)");
  std::string code = squeeze(t.code);
  ASSERT_EQ(t.kernels[0].args.size(), 1u);
  EXPECT_EQ(t.kernels[0].args[0].index, 0);  // implicit numbering skips the removed parameter
  EXPECT_NE(code.find("void k( float* out) { [[maybe_unused]] const P& p = *static_cast<const P*>(nullptr);"),
            std::string::npos)
      << code;
}

TEST(MslFunctionConstants, Errors) {
  EXPECT_NE(error_of("kernel void k(device float* b [[buffer(0), function_constant(nope)]]) {}")
                .find("'nope' is not a function constant"),
            std::string::npos);
  EXPECT_NE(error_of("constant bool a [[function_constant(0)]];\nconstant bool x = is_function_constant_defined(b);")
                .find("s.metal:2:48: error: 'b' is not a function constant"),
            std::string::npos)
      << error_of("constant bool a [[function_constant(0)]];\nconstant bool x = is_function_constant_defined(b);");
}

TEST(MslTemplates, HostNameInstantiations) {
  auto t = T(R"(
template <typename T, int N = 4>
[[kernel, max_total_threads_per_threadgroup(128)]] void scale(device const T* in [[buffer(0)]],
                  device T* out [[buffer(1)]],
                  constant float& s [[buffer(2)]],
                  uint i [[thread_position_in_grid]]) {
  threadgroup_barrier(mem_flags::mem_none);
  out[i] = in[i] * T(s) * N;
}

#define instantiate_kernel(name, func, ...) \
  template [[host_name(name)]] [[kernel]] decltype(func<__VA_ARGS__>) func<__VA_ARGS__>;

instantiate_kernel("scale_float", scale, float)
instantiate_kernel("scale_half_2", scale, half, 2)
template [[host_name("scale_int")]] [[kernel]] void scale<int>(device const int*, device int*, constant float&, uint);
)");
  ASSERT_EQ(t.kernels.size(), 3u);
  const KernelInfo& f = t.kernels[0];
  EXPECT_EQ(f.name, "scale_float");
  EXPECT_EQ(f.call_name, "scale<float>");
  EXPECT_EQ(f.line, 14);
  EXPECT_EQ(f.max_total_threads_per_threadgroup, 128);
  EXPECT_TRUE(f.uses_threadgroup_barrier);
  ASSERT_EQ(f.args.size(), 4u);
  EXPECT_EQ(f.args[0].type, "const T*");
  EXPECT_EQ(f.args[0].element_type, "T");
  EXPECT_TRUE(f.args[0].dependent_type);
  EXPECT_TRUE(f.args[1].dependent_type);
  EXPECT_FALSE(f.args[2].dependent_type);
  EXPECT_EQ(f.args[2].type, "const float&");
  EXPECT_FALSE(f.args[3].dependent_type);
  EXPECT_EQ(t.kernels[1].name, "scale_half_2");
  EXPECT_EQ(t.kernels[1].call_name, "scale<half, 2>");
  EXPECT_EQ(t.kernels[2].name, "scale_int");
  EXPECT_EQ(t.kernels[2].call_name, "scale<int>");
  std::string code = squeeze(t.code);
  EXPECT_EQ(code.find("host_name"), std::string::npos) << code;
  EXPECT_EQ(code.find("decltype"), std::string::npos) << code;
  EXPECT_NE(code.find("template <typename T, int N = 4> void scale( const T* in,"), std::string::npos) << code;
}

TEST(MslTemplates, ErrorsAndPlainInstantiations) {
  EXPECT_NE(error_of("template [[host_name(\"x\")]] [[kernel]] decltype(nope<float>) nope<float>;")
                .find("'nope' is not a template kernel"),
            std::string::npos);
  // Duplicate library names.
  std::string dup = error_of(
      "template <typename T> kernel void k(device T* a) {}\n"
      "template [[host_name(\"k\")]] [[kernel]] decltype(k<float>) k<float>;\n"
      "template [[host_name(\"k\")]] [[kernel]] decltype(k<int>) k<int>;\n");
  EXPECT_NE(dup.find("s.metal:3: error: kernel name 'k' is already used at line 2"), std::string::npos) << dup;
  // A non-kernel explicit instantiation is plain C++ and stays.
  auto t = T("template <typename T> T twice(T x) { return x * 2; }\ntemplate float twice<float>(float);\n");
  EXPECT_TRUE(t.kernels.empty());
  EXPECT_NE(squeeze(t.code).find("template float twice<float>(float);"), std::string::npos);
}

TEST(MslFunctionConstants, SeveralRemovedParametersLeaveValidCommas) {
  const char* src = R"(
constant bool a [[function_constant(0)]];
constant bool b [[function_constant(1)]];
kernel void k(device float* x [[function_constant(a)]], device float* y,
              device float* z [[function_constant(a)]], device float* w [[function_constant(b)]]) {}
)";
  EXPECT_NE(squeeze(T(src).code).find("void k( float* y ) {"), std::string::npos) << T(src).code;
  EXPECT_NE(squeeze(T(src, {{"b", "1"}}).code).find("void k( float* y, float* w) {"), std::string::npos);
  EXPECT_NE(squeeze(T(src, {{"a", "true"}}).code).find("void k( float* x, float* y, float* z) {"), std::string::npos)
      << T(src, {{"a", "true"}}).code;
  auto t = T(src, {{"b", "1"}});
  ASSERT_EQ(t.kernels[0].args.size(), 2u);
  EXPECT_EQ(t.kernels[0].args[0].index, 0);
  EXPECT_EQ(t.kernels[0].args[1].index, 1);
}

TEST(MslTemplates, TemplateDependentMaxThreadsAndJoinedHostNames) {
  auto t = T(R"(
template <typename T, int BM, int BN>
[[kernel, max_total_threads_per_threadgroup(BM * BN * 32)]] void k(device T* a [[buffer(0)]]) { a[0] = T(BM); }
#define inst(tname, type, bm, bn) \
  template [[host_name("k_" #tname "_" #bm)]] [[kernel]] void k<type, bm, bn>(device type*);
inst(f32, float, 2, 4)
inst(f16, half, 1, 1)
)");
  ASSERT_EQ(t.kernels.size(), 2u);
  EXPECT_EQ(t.kernels[0].name, "k_f32_2");
  EXPECT_EQ(t.kernels[0].max_total_threads_per_threadgroup, 0);
  EXPECT_EQ(t.kernels[0].max_threads_expression, "pm_max_threads_k<float, 2, 4>()");
  EXPECT_EQ(t.kernels[1].name, "k_f16_1");
  EXPECT_EQ(t.kernels[1].max_threads_expression, "pm_max_threads_k<half, 1, 1>()");
  std::string code = squeeze(t.code);
  // One helper per template, evaluated by C++, and a range check per instantiation.
  EXPECT_NE(code.find("template <typename T, int BM, int BN> constexpr unsigned pm_max_threads_k() { return "
                      "static_cast<unsigned>(BM * BN * 32); }"),
            std::string::npos)
      << code;
  EXPECT_NE(code.find("static_assert(pm_max_threads_k<half, 1, 1>() >= 1u"), std::string::npos) << code;
  // A plain kernel's attribute is still evaluated here.
  EXPECT_EQ(T("[[kernel, max_total_threads_per_threadgroup(2 * 64)]] void p(device float* a) {}")
                .kernels[0]
                .max_total_threads_per_threadgroup,
            128);
}

TEST(MslKernelParams, ArraysAndRestrict) {
  auto t =
      T("kernel void k(device float* out, constant const int strides[2], device float m[4][3] [[buffer(5)]],\n"
        "              device float& __restrict r, const device float* __restrict__ p) {}");
  const auto& a = t.kernels[0].args;
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[1].name, "strides");
  EXPECT_EQ(a[1].type, "const int*");
  EXPECT_EQ(a[1].index, 1);
  EXPECT_TRUE(a[1].is_const);
  EXPECT_EQ(a[1].space, AddressSpace::Constant);
  EXPECT_EQ(a[2].name, "m");
  EXPECT_EQ(a[2].type, "float(*)[3]");
  EXPECT_EQ(a[2].index, 5);
  EXPECT_EQ(a[3].type, "float&");
  EXPECT_TRUE(a[3].is_reference);
  EXPECT_EQ(a[3].index, 6);
  EXPECT_EQ(a[4].type, "const float*");
}

TEST(MslFunctionConstants, RepeatedDeclarations) {
  const char* src =
      "constant bool b [[function_constant(0)]];\nconstant bool b [[function_constant(0)]];\n"
      "kernel void k(device int* a) { a[0] = b; }";
  auto t = T(src, {{"b", "true"}});
  ASSERT_EQ(t.function_constants.size(), 1u);
  std::string code = squeeze(t.code);
  EXPECT_EQ(code.find("static const bool b"), code.rfind("static const bool b")) << code;
  EXPECT_NE(
      error_of("constant bool b [[function_constant(0)]];\nconstant int b [[function_constant(0)]];")
          .find("s.metal:2:14: error: function constant 'b' declared again with a different type ('int', was 'bool')"),
      std::string::npos);
}

TEST(MslFunctionConstants, ArgumentsUsedOnlyInDeadBranchesAreInactive) {
  const char* src = R"(
constant bool has_bias [[function_constant(0)]];
constant int mode [[function_constant(1)]];
kernel void k(device float* x, device const float* bias, device float* extra, device float* other,
              device float* never, device float* live, uint i [[thread_position_in_grid]]) {
  if (has_bias) { x[i] += bias[i]; }
  if (mode == 2 && !has_bias) x[i] += extra[i]; else x[i] -= other[0];
  if (i > 3) live[0] = 1;
}
)";
  auto used = [&](std::map<std::string, std::string> c) {
    std::string s;
    auto translated = T(src, c);  // kept: a range-for over a temporary's member reads freed memory
    for (const KernelArg& a : translated.kernels[0].args) s += a.used ? '1' : '0';
    return s;
  };
  // x bias extra other never live i
  EXPECT_EQ(used({{"has_bias", "false"}, {"mode", "2"}}), "1010011");
  EXPECT_EQ(used({{"has_bias", "true"}, {"mode", "2"}}), "1101011");
  EXPECT_EQ(used({}), "1001011");  // undefined constants read as false / 0
}
