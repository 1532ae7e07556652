// Rewriting MSL into C++17: address spaces by position, literals, attributes, pragmas, #line;
// and the translated code compiles (against a stub prelude always, the real runtime when present).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "msl/literals.h"
#include "msl/translation.h"

using namespace metallic::msl;
namespace fs = std::filesystem;

namespace {

std::string code_of(const std::string& src, Options o = {}) { return translate(src, o).code; }

// Code with runs of whitespace squeezed and #line lines removed, for readable expectations.
std::string squeeze(const std::string& code) {
  std::string no_lines = std::regex_replace(code, std::regex("#line [^\n]*\n"), "");
  return std::regex_replace(std::regex_replace(no_lines, std::regex("\\s+"), " "), std::regex("^ | $"), "");
}

std::string C(const std::string& src) { return squeeze(code_of(src)); }

// Line `n` (1-based) of text.
std::string line_of(const std::string& text, int n) {
  size_t start = 0;
  for (int i = 1; i < n; ++i) start = text.find('\n', start) + 1;
  return text.substr(start, text.find('\n', start) - start);
}

bool have_compiler() { return std::system("c++ --version > /dev/null 2>&1") == 0; }

// Compiles `text` with `c++ -std=c++17 -fsyntax-only`; returns the compiler's output ("" on success).
std::string syntax_check(const std::string& text, const std::string& include_dir = "") {
  fs::path dir = fs::temp_directory_path() /
                 ("msl_rw_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  fs::create_directories(dir);
  std::ofstream(dir / "t.cpp") << text;
  std::string cmd = "c++ -std=c++17 -fsyntax-only " + (include_dir.empty() ? "" : "-I" + include_dir + " ") +
                    (dir / "t.cpp").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream log(dir / "log.txt");
  std::string out((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  return rc == 0 ? "" : (out.empty() ? "compiler failed" : out);
}

// The bare minimum of the runtime the test kernels use, so their translation is checked as C++
// even before the real runtime library is complete.
const char* kStubPrelude = R"(
#define METAL_PROGRAM_SCOPE_CONSTANT static const
#define METAL_THREADGROUP_STORAGE static thread_local
#define METAL_THREADGROUP_GROUP_STORAGE alignas(64)
namespace metal {
using uint = unsigned int; using ushort = unsigned short;
struct half { constexpr half(float f) : v(f) {} operator float() const { return v; } float v; };
struct uint3 { uint x, y, z; }; struct ushort3 { ushort x, y, z; };
enum class mem_flags { mem_none, mem_threadgroup, mem_device };
inline void threadgroup_barrier(mem_flags) {}
inline float simd_sum(float x) { return x; }
namespace detail { template <class T> constexpr bool loop_progress(const T& c) { return static_cast<bool>(c); } }
}
namespace metal_user {
using metal::uint; using metal::ushort; using metal::half; using metal::uint3; using metal::ushort3;
using metal::mem_flags; using metal::threadgroup_barrier; using metal::simd_sum;
)";

const char* kKernels = R"(#include <metal_stdlib>
using namespace metal;

#define TILE 16
constant float kScale = 0.5;
static constant constexpr int kCount = 4;
constant float kTable[] = {1.0, 2.0, 3.0, 4.0};
struct Params { uint n; float alpha; };

struct Accum {
  float sum;
  METAL_FUNC float get() const thread { return sum; }
  void add(float v) thread { sum += v; }
};

template <typename T>
METAL_FUNC T scale(thread const T& x, constant Params& p) { return x * T(p.alpha) * kScale; }

inline float load(const device float* p, uint i) { return p[i]; }
inline float load(const threadgroup float* p, ushort i) { return p[i] * 1.0; }

kernel void vector_add(device const float* a [[buffer(0)]],
                       device const float* b [[buffer(1)]],
                       device float* result [[buffer(2)]],
                       uint index [[thread_position_in_grid]]) {
    result[index] = a[index] + b[index];
}

[[kernel, max_total_threads_per_threadgroup(256)]]
void tiled(constant Params& p [[buffer(0)]], device float* out [[buffer(1)]],
           threadgroup float* scratch [[threadgroup(0)]],
           ushort3 lid [[thread_position_in_threadgroup]], uint3 gid [[threadgroup_position_in_grid]]) {
  threadgroup float tile[TILE][TILE];
  threadgroup float* row = tile[lid.y];
  Accum acc{0.0};
  #pragma clang loop unroll(full)
  for (int i = 0; i < kCount; ++i) {
    acc.add(scale(row[i], p) + kTable[i] + 1e-3 + .5h);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  scratch[lid.x] = acc.get();
  out[gid.x] = load(scratch, lid.x);
}
)";

}  // namespace

TEST(MslRewrite, NumberLiterals) {
  EXPECT_EQ(rewrite_number("1.0"), "1.0f");
  EXPECT_EQ(rewrite_number(".5"), ".5f");
  EXPECT_EQ(rewrite_number("1e-3"), "1e-3f");
  EXPECT_EQ(rewrite_number("1.E5"), "1.E5f");
  EXPECT_EQ(rewrite_number("0x1p-3"), "0x1p-3f");
  EXPECT_EQ(rewrite_number("2.f"), std::nullopt);
  EXPECT_EQ(rewrite_number("2.5F"), std::nullopt);
  EXPECT_EQ(rewrite_number("1.5h"), "::metal::half(1.5f)");
  EXPECT_EQ(rewrite_number("2H"), "::metal::half(2.0f)");
  EXPECT_EQ(rewrite_number("1e2h"), "::metal::half(1e2f)");
  EXPECT_EQ(rewrite_number("1.5bf"), "::metal::bfloat(1.5f)");
  EXPECT_EQ(rewrite_number("2BF"), "::metal::bfloat(2.0f)");
  EXPECT_EQ(rewrite_number("0x1bf"), std::nullopt);  // a hex integer
  for (const char* i : {"1", "0x1F", "0xE", "0x1e", "3u", "4UL", "7l", "0", "010"}) {
    EXPECT_EQ(rewrite_number(i), std::nullopt) << i;
  }
}

TEST(MslRewrite, KernelsAndAttributesDisappear) {
  EXPECT_EQ(C("kernel void k(device float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) { a[i] = 1.0; }"),
            "void k( float* a, uint i) { a[i] = 1.0f; }");
  EXPECT_EQ(C("[[kernel, max_total_threads_per_threadgroup(64)]] void k() {}"), "void k() {}");
  EXPECT_EQ(C("[[max_total_threads_per_threadgroup(64)]] kernel void k() {}"), "void k() {}");
  // Standard attributes stay.
  EXPECT_EQ(C("[[maybe_unused]] static constexpr int x = 1; void f() { switch (1) { case 1: [[fallthrough]]; default: "
              "break; } }"),
            "[[maybe_unused]] static constexpr int x = 1; void f() { switch (1) { case 1: [[fallthrough]]; default: "
            "break; } }");
  EXPECT_EQ(C("struct S { float4 p [[id(0)]]; };"), "struct S { float4 p; };");
}

TEST(MslRewrite, GlobalQualifiedNamesReachTheUserNamespace) {
  // User code lives in namespace metal_user: a leading `::` must reach the user's namespaces.
  EXPECT_EQ(C("float f(float x) { return ::acc::step(x) + ::g(x) + acc::h(x); }"),
            "float f(float x) { return ::metal_user::acc::step(x) + ::metal_user::g(x) + acc::h(x); }");
  // The runtime's namespace, and `::` continuing a name, stay as written.
  EXPECT_EQ(C("float f(float x) { return ::metal::max(x, T<int>::y) + decltype(x)::z + a::b::c; }"),
            "float f(float x) { return ::metal::max(x, T<int>::y) + decltype(x)::z + a::b::c; }");
  EXPECT_EQ(C("void f(device ::acc::S* p) { const ::acc::S s = ::acc::S(); }"),
            "void f( ::metal_user::acc::S* p) { const ::metal_user::acc::S s = ::metal_user::acc::S(); }");
}

TEST(MslRewrite, RestrictQualifiers) {
  EXPECT_EQ(C("void f(device float* restrict a, device float& __restrict b) {}"),
            "void f( float* __restrict a, float& __restrict b) {}");
}

TEST(MslRewrite, AddressSpacesInTypes) {
  EXPECT_EQ(C("void f(device float* a, constant float* b, thread float& c, threadgroup int* d) {}"),
            "void f( float* a, const float* b, float& c, int* d) {}");
  // No `const const`.
  EXPECT_EQ(C("void f(const constant float* a, constant const float* b, constant float const* c) {}"),
            "void f(const float* a, const float* b, float const* c) {}");
  EXPECT_EQ(C("void f(device const float* p) { auto q = (const device float*)p; "
              "auto r = static_cast<device const float*>(p); }"),
            "void f( const float* p) { auto q = (const float*)p; auto r = static_cast< const float*>(p); }");
  // Members and qualified names that merely look like address spaces are left alone.
  EXPECT_EQ(C("void f() { x.device = ns::constant; }"), "void f() { x.device = ns::constant; }");
}

TEST(MslRewrite, ProgramScopeConstants) {
  EXPECT_EQ(C("constant float k = 1.0;"), "METAL_PROGRAM_SCOPE_CONSTANT float k = 1.0f;");
  EXPECT_EQ(C("constant float t[] = {1, 2};"), "METAL_PROGRAM_SCOPE_CONSTANT float t[] = {1, 2};");
  // Already constexpr: `static constexpr` itself (the CUDA macro is `static constexpr`, and
  // constexpr must not appear twice).
  EXPECT_EQ(C("static constant constexpr const int n = 4;"), "static constexpr int n = 4;");
  EXPECT_EQ(C("constant const half h = 1.0h;"), "METAL_PROGRAM_SCOPE_CONSTANT half h = ::metal::half(1.0f);");
  EXPECT_EQ(C("namespace a { constant int z = 3; }"), "namespace a { METAL_PROGRAM_SCOPE_CONSTANT int z = 3; }");
  // Inside a class, constant is just const.
  EXPECT_EQ(C("struct S { static constant constexpr int n = 2; };"), "struct S { static const constexpr int n = 2; };");
  // A pointer parameter of a function at namespace scope is not a program-scope constant.
  EXPECT_EQ(C("float f(constant float* p) { return *p; }"), "float f(const float* p) { return *p; }");
}

TEST(MslRewrite, ThreadgroupStorageByPosition) {
  EXPECT_EQ(C("void f() { threadgroup float tile[16][16]; threadgroup atomic_uint counter; "
              "threadgroup float* p = &tile[0][0]; threadgroup vec<float, 4> v[2]; }"),
            "void f() { METAL_THREADGROUP_STORAGE float tile[16][16]; METAL_THREADGROUP_STORAGE atomic_uint counter; "
            "float* p = &tile[0][0]; METAL_THREADGROUP_STORAGE vec<float, 4> v[2]; }");
  EXPECT_EQ(C("void f() { if (true) { threadgroup int x[2]; } threadgroup int& r = y; }"),
            "void f() { if (true) { METAL_THREADGROUP_STORAGE int x[2]; } int& r = y; }");
}

TEST(MslRewrite, MemberFunctionQualifiers) {
  EXPECT_EQ(C("struct A { int get() const thread { return 1; } void set(int v) device; "
              "void g() const constant {} void h() constant {} };"),
            "struct A { int get() const { return 1; } void set(int v); void g() const {} void h() {} };");
}

TEST(MslRewrite, Pragmas) {
  std::string code = code_of(
      "void f() {\n  #pragma clang loop unroll(full)\n  for (;;) {}\n"
      "#pragma clang loop unroll_count(4)\n  for (;;) {}\n#pragma METAL internals : enable\n}\n");
  EXPECT_NE(code.find("#pragma unroll\n"), std::string::npos) << code;
  EXPECT_NE(code.find("#pragma unroll 4\n"), std::string::npos) << code;
  EXPECT_EQ(code.find("METAL internals"), std::string::npos) << code;
  // The loops stay on their lines (their empty conditions marked: LoopsAreMarked).
  EXPECT_EQ(line_of(code, 4), "  for (; ::metal::detail::loop_progress(true) ;) {}") << code;
  EXPECT_EQ(line_of(code, 6), "  for (; ::metal::detail::loop_progress(true) ;) {}") << code;
}

TEST(MslRewrite, LoopsAreMarked) {
  // Every loop condition passes through loop_progress (NVRTC would delete loops without side
  // effects); range-based loops have none, and a declaration is marked inside the body.
  std::string code = code_of(
      "void f(int n, thread int* a) {\n"
      "  for (int i = 0, j = n; i < j; ++i) {}\n"
      "  while (n) n--;\n"
      "  do { n++; } while (n < 3);\n"
      "  for (int x : {1, 2}) n += x;\n"
      "  while (int m = a[n]) { n = m; }\n"
      "}\n");
  EXPECT_EQ(line_of(code, 3), "  for (int i = 0, j = n; ::metal::detail::loop_progress( i < j ) ; ++i) {}") << code;
  EXPECT_EQ(line_of(code, 4), "  while ( ::metal::detail::loop_progress( n ) ) n--;") << code;
  EXPECT_EQ(line_of(code, 5), "  do { n++; } while ( ::metal::detail::loop_progress( n < 3 ) );") << code;
  EXPECT_EQ(line_of(code, 6), "  for (int x : {1, 2}) n += x;") << code;
  EXPECT_EQ(line_of(code, 7), "  while (int m = a[n]) { (void)::metal::detail::loop_progress(true); n = m; }") << code;
}

TEST(MslRewrite, LineDirectivesKeepSourceLines) {
  Options o;
  o.filename = "user.metal";
  std::string code = code_of(
      "#include <metal_stdlib>\n#define N 3\n\nkernel void k(device float* a) {\n"
      "  a[0] = N;\n\n\n\n\n\n\n\n\n\n\n\n\n  a[1] = 2.0;\n}\n",
      o);
  // Every line of output names the user's line: output line L+2 carries source line L+...
  ASSERT_EQ(line_of(code, 1), "#line 4 \"user.metal\"") << code;
  EXPECT_EQ(line_of(code, 2), "       void k( float* a) {");
  EXPECT_EQ(line_of(code, 3), "  a[0] = 3;");
  EXPECT_EQ(line_of(code, 4), "#line 18 \"user.metal\"") << code;
  EXPECT_EQ(line_of(code, 5), "  a[1] = 2.0f;");
}

TEST(MslRewrite, LineDirectivesForIncludes) {
  fs::path dir = fs::temp_directory_path() / "msl_rw_includes";
  fs::create_directories(dir);
  std::ofstream(dir / "helpers.h") << "inline float twice(float x) {\n  return 2.0 * x;\n}\n";
  Options o;
  o.filename = (dir / "main.metal").string();
  std::string code = code_of("#include \"helpers.h\"\nkernel void k(device float* a) { a[0] = twice(a[0]); }\n", o);
  fs::remove_all(dir);
  EXPECT_NE(code.find("#line 1 \"" + (dir / "helpers.h").string() + "\"\ninline float twice"), std::string::npos)
      << code;
  EXPECT_NE(code.find("#line 2 \"" + o.filename + "\"\n       void k("), std::string::npos) << code;
}

TEST(MslRewrite, TranslatedKernelsCompileAgainstStubPrelude) {
  if (!have_compiler()) GTEST_SKIP() << "no c++ compiler";
  fs::path rt = fs::temp_directory_path() / "msl_rw_stub_runtime";
  fs::create_directories(rt);
  std::ofstream(rt / "metal_macros.h") << "#define METAL_FUNC inline\n";
  Options o;
  o.filename = "kernels.metal";
  o.runtime_dir = rt.string();
  TranslatedSource t = translate(kKernels, o);
  fs::remove_all(rt);
  ASSERT_EQ(t.kernels.size(), 2u);
  std::string program = std::string(kStubPrelude) + t.code + "\n}\n";
  // The stub lacks vec/atomic types, which only the tests above use; these kernels need none.
  EXPECT_EQ(syntax_check(program), "") << t.code;
}

TEST(MslRewrite, TranslatedKernelsCompileAgainstRuntime) {
  fs::path runtime = METALLIC_TEST_RUNTIME_DIR;
  if (!fs::exists(runtime / "metal_runtime.h") || !fs::exists(runtime / "metal_user_scope.h")) {
    GTEST_SKIP() << "runtime umbrella header not there yet";
  }
  if (!have_compiler()) GTEST_SKIP() << "no c++ compiler";
  Options o;
  o.filename = "kernels.metal";
  o.runtime_dir = runtime.string();
  TranslatedSource t = translate(kKernels, o);
  std::string prelude =
      "#define METAL_TARGET_CPU 1\n#include \"metal_runtime.h\"\nnamespace metal_user {\n"
      "#include \"metal_user_scope.h\"\n";
  // The runtime is written alongside; only blame the translation when the runtime alone compiles.
  std::string alone = syntax_check(prelude + "}\n", runtime.string());
  if (!alone.empty()) GTEST_SKIP() << "the runtime library does not compile by itself:\n" << alone.substr(0, 600);
  EXPECT_EQ(syntax_check(prelude + t.code + "\n}\n", runtime.string()), "") << t.code;
}

TEST(MslRewrite, ConditionalArmsAreCastToMslTypes) {
  EXPECT_EQ(C("void f(bool c, half h) { float x = c ? h : 0.5; }"),
            "void f(bool c, half h) { float x = c ? static_cast < :: metal :: detail :: cond_t < decltype ( ( h ) ) , "
            "decltype ( ( 0.5f ) ) > > ( h ) : static_cast < :: metal :: detail :: cond_t < decltype ( ( 0.5f ) ) , "
            "decltype ( ( h ) ) > > ( 0.5f ); }");
  // Template arguments and attributes are left alone; a template-id in the third arm is one operand.
  EXPECT_EQ(C("void f() { Foo<N ? 1 : 2> x; }"), "void f() { Foo<N ? 1 : 2> x; }");
  std::string nested = C("void f(bool a, bool b) { int x = a ? 1 : b ? 2 : vec<int, 2>(3).x; }");
  EXPECT_NE(nested.find("decltype ( ( b ?"), std::string::npos) << nested;
  EXPECT_NE(nested.find("decltype ( ( vec<int, 2>(3).x ) )"), std::string::npos) << nested;
}

TEST(MslRewrite, SwizzleReadsAreValues) {
  EXPECT_EQ(C("void f(float4 v) { auto s = v.yx; v.xy = s; v.zw += v.xy; float x = v.x; }"),
            "void f(float4 v) { auto s = v.yx.__pm_value(); v.xy = s; v.zw += v.xy.__pm_value(); float x = v.x; }");
  // A member the program declares with a swizzle's name may not be a swizzle: a wrapper that
  // passes anything but a swizzle through.
  EXPECT_EQ(C("struct P { float2 xy; }; float2 g(P p) { return p.xy; }"),
            "struct P { float2 xy; }; float2 g(P p) { return ::metal::detail::swizzle_read( p.xy); }");
}

TEST(MslRewrite, DefinitionsEqualAfterErasureAreMerged) {
  std::string code =
      C("struct A { float v[4]; thread float& operator[](int i) thread { return v[i]; } "
        "device float& operator[](int i) device { return v[i]; } A() thread : v{} {} A() threadgroup : v{} {} };");
  EXPECT_EQ(code, "struct A { float v[4]; float& operator[](int i) { return v[i]; } A() : v{} {} };");
}
