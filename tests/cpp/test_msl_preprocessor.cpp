// The C preprocessor: macros (#, ##, variadic, rescanning, hide sets), #if, #include, errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "msl/preprocessor.h"

using namespace metallic::msl;
namespace fs = std::filesystem;

namespace {

std::string pp(const std::string& src, Options o = {}) {
  Preprocessor p(o);
  std::string out;
  for (const Token& t : p.run(src)) {
    if (!out.empty()) out += ' ';
    out += t.kind == TokenKind::Pragma ? "#pragma " + t.text : t.text;
  }
  return out;
}

// The error a translation throws, or "" when it succeeds.
std::string pp_error(const std::string& src, Options o = {}) {
  try {
    pp(src, o);
  } catch (const TranslationError& e) {
    return e.what();
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("msl_pp_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
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

}  // namespace

TEST(MslPreprocessor, ObjectMacros) {
  EXPECT_EQ(pp("#define N 16\nfloat a[N];"), "float a [ 16 ] ;");
  EXPECT_EQ(pp("#define A B\n#define B 3\nint x = A;"), "int x = 3 ;");
  EXPECT_EQ(pp("#define N 1\n#undef N\nN"), "N");
  EXPECT_EQ(pp("#define EMPTY\nint EMPTY x;"), "int x ;");
}

TEST(MslPreprocessor, FunctionMacros) {
  EXPECT_EQ(pp("#define SQ(x) ((x) * (x))\nSQ(a + 1)"), "( ( a + 1 ) * ( a + 1 ) )");
  EXPECT_EQ(pp("#define MAX(a, b) ((a) > (b) ? (a) : (b))\nMAX(f(1, 2), y)"),
            "( ( f ( 1 , 2 ) ) > ( y ) ? ( f ( 1 , 2 ) ) : ( y ) )");
  // A function-like macro name without '(' is left alone.
  EXPECT_EQ(pp("#define F(x) x\nint F;"), "int F ;");
  // `#define V (x)` is object-like: the space matters.
  EXPECT_EQ(pp("#define V (x)\nV"), "( x )");
  // Arguments spanning lines.
  EXPECT_EQ(pp("#define ADD(a, b) a + b\nADD(1,\n    2)"), "1 + 2");
  EXPECT_EQ(pp("#define Z() 0\nZ()"), "0");
}

TEST(MslPreprocessor, NestedAndRescanned) {
  EXPECT_EQ(pp("#define TWICE(x) (2 * (x))\n#define QUAD(x) TWICE(TWICE(x))\nQUAD(y)"), "( 2 * ( ( 2 * ( y ) ) ) )");
  EXPECT_EQ(pp("#define f(x) g(x)\n#define g(x) x + 1\nf(f(1))"), "1 + 1 + 1");
  // The result of one macro may be the name of a function-like one.
  EXPECT_EQ(pp("#define ID(x) x\n#define CALL ID\nCALL(5)"), "5");
}

TEST(MslPreprocessor, NoRecursiveSelfExpansion) {
  EXPECT_EQ(pp("#define foo foo + 1\nfoo"), "foo + 1");
  EXPECT_EQ(pp("#define a b\n#define b a\na b"), "a b");
  EXPECT_EQ(pp("#define f(x) x + f(x)\nf(2)"), "2 + f ( 2 )");
  // C11 6.10.3.5 example: g's own name reappears through an argument.
  EXPECT_EQ(pp("#define x 3\n#define f(a) f(x * (a))\n#undef x\n#define x 2\n#define g f\nf(y+1)"),
            "f ( 2 * ( y + 1 ) )");
}

TEST(MslPreprocessor, StringizeAndPaste) {
  EXPECT_EQ(pp("#define S(x) #x\nS(a + \"b\")"), "\"a + \\\"b\\\"\"");
  EXPECT_EQ(pp("#define CAT(a, b) a ## b\nCAT(foo, bar) CAT(1, 5f) CAT(, x) CAT(y, )"), "foobar 15f x y");
  // Operands of ## are not expanded first; the result is rescanned.
  EXPECT_EQ(pp("#define N 4\n#define CAT(a, b) a ## b\n#define vec4 float4\nCAT(vec, N)"), "vecN");
  EXPECT_EQ(pp("#define CAT(a, b) a ## b\n#define XCAT(a, b) CAT(a, b)\n#define N 4\nXCAT(float, N)"), "float4");
  // MLX-style kernel name generation.
  EXPECT_EQ(pp("#define NAME(op, t) #op \"_\" #t\nNAME(add, float)"), "\"add\" \"_\" \"float\"");
  EXPECT_NE(pp_error("#define P(a, b) a ## b\nP(+, /)"), "");
}

TEST(MslPreprocessor, Variadic) {
  EXPECT_EQ(pp("#define CALL(f, ...) f(__VA_ARGS__)\nCALL(g, 1, 2, 3) CALL(h)"), "g ( 1 , 2 , 3 ) h ( )");
  EXPECT_EQ(pp("#define LOG(fmt, ...) printf(fmt, ## __VA_ARGS__)\nLOG(\"a\") LOG(\"b\", 1)"),
            "printf ( \"a\" ) printf ( \"b\" , 1 )");
  EXPECT_EQ(pp("#define STR(...) #__VA_ARGS__\nSTR(a, b)"), "\"a, b\"");
  EXPECT_NE(pp_error("#define F(a, b) a\nF(1)").find("requires 2 arguments, but 1 given"), std::string::npos);
  EXPECT_NE(pp_error("#define F(a) a\nF(1, 2)").find("requires 1 arguments"), std::string::npos);
}

TEST(MslPreprocessor, Conditionals) {
  EXPECT_EQ(pp("#if 1 + 1 == 2\nyes\n#else\nno\n#endif"), "yes");
  EXPECT_EQ(pp("#define A 3\n#if A > 2 && defined(A) && !defined B\nyes\n#endif"), "yes");
  EXPECT_EQ(pp("#if UNKNOWN\na\n#elif 0\nb\n#elif (1 ? 2 : 3) == 2\nc\n#else\nd\n#endif"), "c");
  EXPECT_EQ(pp("#ifdef X\na\n#endif\n#ifndef X\nb\n#endif"), "b");
  EXPECT_EQ(pp("#if 0\n#if 1\na\n#else\nb\n#endif\n#else\nc\n#endif"), "c");
  EXPECT_EQ(pp("#if -1 < 0u\na\n#else\nb\n#endif"), "b");  // -1 converts to unsigned
  EXPECT_EQ(pp("#if (7 / 2 == 3) && (7 % 4 == 3) && (1 << 4 == 16) && (0xF & 6) == 6 && ~0 == -1\nok\n#endif"), "ok");
  EXPECT_EQ(pp("#if 0 && (1 / 0)\na\n#else\nb\n#endif"), "b");  // no error in the dead operand
  EXPECT_EQ(pp("#define F(x) (x * 2)\n#if F(3) == 6 && 'a' == 97\nok\n#endif"), "ok");
  EXPECT_EQ(pp("#if 0\n#error not here\n#bogus\n#endif\nx"), "x");
  EXPECT_EQ(pp("#if __METAL_VERSION__ >= 310\nbf16\n#endif"), "bf16");
}

TEST(MslPreprocessor, ConditionalErrors) {
  EXPECT_NE(pp_error("a\n#if 1\nb\n").find("program.metal:2:1: error: unterminated conditional"), std::string::npos)
      << pp_error("a\n#if 1\nb\n");
  EXPECT_NE(pp_error("#else\n").find("program.metal:1:1: error: #else without #if"), std::string::npos);
  EXPECT_NE(pp_error("#if 1\n#else\n#else\n#endif").find(":3:1: error: #else after #else"), std::string::npos);
  EXPECT_NE(pp_error("#endif").find("#endif without #if"), std::string::npos);
  EXPECT_NE(pp_error("\n#if 1 +\n#endif").find(":2:"), std::string::npos);
  EXPECT_NE(pp_error("#if 1 / 0\n#endif").find("division by zero"), std::string::npos);
  EXPECT_NE(pp_error("\n\n#frobnicate\n").find("program.metal:3:2: error: invalid preprocessing directive #frobnicate"),
            std::string::npos);
  EXPECT_NE(pp_error("#error stop here\n").find("program.metal:1:1: error: #error stop here"), std::string::npos);
}

TEST(MslPreprocessor, FileAndLine) {
  Options o;
  o.filename = "k.metal";
  EXPECT_EQ(pp("a\n__LINE__ __FILE__", o), "a 2 \"k.metal\"");
  EXPECT_EQ(pp("#define HERE __LINE__\n\n\nHERE", o), "4");
  Preprocessor p(o);
  auto toks = p.run("a\n#line 100 \"other.metal\"\nb\nc");
  ASSERT_EQ(toks.size(), 3u);
  EXPECT_EQ(toks[1].line, 100);
  EXPECT_EQ(*toks[1].file, "other.metal");
  EXPECT_EQ(toks[2].line, 101);
}

TEST(MslPreprocessor, MacroTokensTakeTheUseSite) {
  Preprocessor p(Options{});
  auto toks = p.run("#define BODY x = \\\n  y\n\n\n  BODY;");
  ASSERT_EQ(toks.size(), 4u);
  for (const Token& t : toks) EXPECT_EQ(t.line, 5) << t.text;
}

TEST(MslPreprocessor, CommandLineMacros) {
  Options o;
  o.macros = {{"BLOCK", "32"}, {"FLAG", ""}, {"TWICE(x)", "((x) * 2)"}};
  EXPECT_EQ(pp("BLOCK FLAG TWICE(3)", o), "32 1 ( ( 3 ) * 2 )");
}

TEST(MslPreprocessor, Pragmas) {
  EXPECT_EQ(pp("#pragma clang loop unroll(full)\nfor"), "#pragma clang loop unroll(full) for");
  EXPECT_EQ(pp("#if 0\n#pragma x\n#endif\n"), "");
  EXPECT_EQ(pp("#define UNROLL _Pragma(\"clang loop unroll(full)\")\nUNROLL for"),
            "#pragma clang loop unroll(full) for");
}

TEST(MslPreprocessor, Includes) {
  TempDir dir;
  dir.write("inc/common.h", "#pragma once\n#define COMMON 7\nint common_fn();\n");
  dir.write("inc/sub/relative.h", "#include \"../common.h\"\n#define REL COMMON\n");
  std::string main = dir.write("src/main.metal", "#include \"../inc/sub/relative.h\"\n#include <common.h>\nREL\n");
  Options o;
  o.filename = main;
  o.include_paths = {dir.path() + "/inc"};
  Preprocessor p(o);
  auto toks = p.run("#include \"../inc/sub/relative.h\"\n#include <common.h>\nREL\n");
  ASSERT_EQ(toks.size(), 6u);  // common.h's declaration once (pragma once), then 7
  EXPECT_EQ(toks[0].text, "int");
  EXPECT_NE(toks[0].file->find("common.h"), std::string::npos);
  EXPECT_EQ(toks[0].line, 3);
  EXPECT_EQ(toks[5].text, "7");
  EXPECT_EQ(*toks[5].file, main);
}

TEST(MslPreprocessor, IncludeErrors) {
  TempDir dir;
  dir.write("self.h", "#include \"self.h\"\n");
  Options o;
  o.filename = dir.path() + "/main.metal";
  std::string e = pp_error("\n#include \"missing.h\"\n", o);
  EXPECT_NE(e.find("main.metal:2:1: error: 'missing.h' file not found"), std::string::npos) << e;
  e = pp_error("#include <missing.h>\n", o);
  EXPECT_NE(e.find("main.metal:1:1: error: <missing.h> is not a header of the Metal SDK and was not found in the "
                   "include paths"),
            std::string::npos)
      << e;
  e = pp_error("\n\n#include <metal_stdlib_extra>\n", o);
  EXPECT_NE(e.find("main.metal:3:1: error: <metal_stdlib_extra> is not a header of the Metal SDK"), std::string::npos)
      << e;
  e = pp_error("#include <simd/simd_extra.h>\n", o);
  EXPECT_NE(e.find("<simd/simd_extra.h> is not a header of the Metal SDK"), std::string::npos) << e;
  e = pp_error("#include \"self.h\"\n", o);
  EXPECT_NE(e.find("nested too deeply"), std::string::npos) << e;
  e = pp_error("#include nothing\n", o);
  EXPECT_NE(e.find("expects \"FILENAME\" or <FILENAME>"), std::string::npos) << e;
}

TEST(MslPreprocessor, MetalHeadersBringRuntimeMacros) {
  TempDir dir;
  dir.write("metal_macros.h", "#pragma once\n#define M_PI_F 3.14159265f\n#define METAL_FUNC inline\n");
  Options o;
  o.runtime_dir = dir.path();
  EXPECT_EQ(pp("#include <metal_stdlib>\n#include <metal_simdgroup>\nMETAL_FUNC float f() { return M_PI_F; }", o),
            "inline float f ( ) { return 3.14159265f ; }");
  // Without a runtime directory the include is still accepted.
  EXPECT_EQ(pp("#include <metal_stdlib>\nx"), "x");
}

TEST(MslPreprocessor, PredefinedMacrosFollowTheOptions) {
  const char* probe =
      "__METAL_VERSION__ __METAL_MACOS__ __METAL_MAYBE_FAST_MATH__ __METAL_FAST_MATH__ "
      "__METAL_PRECISE_MATH__\n#ifdef __HAVE_BFLOAT__\nbf\n#endif\n#ifdef __FAST_MATH__\nfast\n#endif\n"
      "#ifdef __METAL_IOS__\nios\n#endif";
  EXPECT_EQ(pp(probe), "320 1 true true false bf fast");
  Options o;
  o.language_version = 300;
  o.fast_math = false;
  EXPECT_EQ(pp(probe, o), "300 1 false true false");
  o.language_version = 310;
  EXPECT_EQ(pp(probe, o), "310 1 false true false bf");
  // Including <metal_stdlib> (the runtime's macros) keeps the options' version.
  TempDir dir;
  dir.write("metal_macros.h", "#define METAL_FUNC inline\n");
  o.runtime_dir = dir.path();
  EXPECT_EQ(pp("#include <metal_stdlib>\n__METAL_VERSION__", o), "310");
}

TEST(MslPreprocessor, SimdHeadersBringTheSimdTypeNames) {
  TempDir dir;
  dir.write("metal_macros.h", "#define METAL_FUNC inline\n");
  dir.write("metal_simd_types.h", "typedef float4 vector_float4;\n");
  Options o;
  o.runtime_dir = dir.path();
  // Once, whichever <simd/...> headers are included.
  EXPECT_EQ(pp("#include <simd/simd.h>\n#include <simd/vector_types.h>\nx", o), "typedef float4 vector_float4 ; x");
}
