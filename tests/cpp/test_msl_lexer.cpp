// The lexer: token kinds, positions, spacing flags, numbers, attributes brackets.
#include <gtest/gtest.h>

#include "msl/lexer.h"

using namespace metallic::msl;

namespace {

std::vector<Token> L(const std::string& s) { return lex(s, make_file_name("t.metal")); }

std::vector<std::string> texts(const std::vector<Token>& toks) {
  std::vector<std::string> out;
  for (const Token& t : toks) out.push_back(t.text);
  return out;
}

}  // namespace

TEST(MslLexer, KindsAndText) {
  auto t = L("kernel void f(device float* a) { a[0] = 1.5f; }");
  ASSERT_EQ(t.size(), 18u);
  EXPECT_EQ(t[0].kind, TokenKind::Identifier);
  EXPECT_EQ(t[0].text, "kernel");
  EXPECT_EQ(t[6].text, "*");
  EXPECT_EQ(t[6].kind, TokenKind::Punct);
  EXPECT_EQ(t[15].kind, TokenKind::Number);
  EXPECT_EQ(t[15].text, "1.5f");
}

TEST(MslLexer, PositionsAndFlags) {
  auto t = L("int a;\n  // comment\n  float  b; /* multi\nline */ c\n");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0].line, 1);
  EXPECT_EQ(t[0].column, 1);
  EXPECT_TRUE(t[0].at_line_start);
  EXPECT_TRUE(t[1].space_before);
  EXPECT_FALSE(t[2].space_before);  // ';' touches 'a'
  EXPECT_EQ(t[3].text, "float");
  EXPECT_EQ(t[3].line, 3);
  EXPECT_EQ(t[3].column, 3);
  EXPECT_TRUE(t[3].at_line_start);
  EXPECT_EQ(t[4].column, 10);
  EXPECT_TRUE(t[4].space_before);
  EXPECT_EQ(t[6].text, "c");
  EXPECT_EQ(t[6].line, 4);  // newline inside the block comment counted
  EXPECT_FALSE(t[6].at_line_start);
  EXPECT_EQ(*t[6].file, "t.metal");
}

TEST(MslLexer, Numbers) {
  auto t = L("1 1.0 .5 1e-3 2.f 0x1F 0x1p-3 1.5h 3u 4UL 7L 1'000 0x1e+2");
  EXPECT_EQ(texts(t), (std::vector<std::string>{"1", "1.0", ".5", "1e-3", "2.f", "0x1F", "0x1p-3", "1.5h", "3u", "4UL",
                                                "7L", "1'000", "0x1e", "+", "2"}));
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(t[i].kind, TokenKind::Number) << t[i].text;
}

TEST(MslLexer, StringsAndChars) {
  auto t = L(R"(a = "x\"y" 'c' '\'' u8"z" L'w')");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[2].kind, TokenKind::String);
  EXPECT_EQ(t[2].text, R"("x\"y")");
  EXPECT_EQ(t[3].kind, TokenKind::Char);
  EXPECT_EQ(t[4].text, R"('\'')");
  EXPECT_EQ(t[5].text, "u8\"z\"");
  EXPECT_EQ(t[6].kind, TokenKind::Char);
}

TEST(MslLexer, Punctuators) {
  auto t = L("a->b::c ++ -- <<= >>= ... ## # != && || .* ->*");
  EXPECT_EQ(texts(t), (std::vector<std::string>{"a", "->", "b", "::", "c", "++", "--", "<<=", ">>=", "...", "##", "#",
                                                "!=", "&&", "||", ".*", "->*"}));
}

TEST(MslLexer, AttributeBrackets) {
  EXPECT_EQ(texts(L("x [[buffer(0)]]")), (std::vector<std::string>{"x", "[[", "buffer", "(", "0", ")", "]]"}));
  // Nested subscripts close one at a time.
  EXPECT_EQ(texts(L("a[b[0]]")), (std::vector<std::string>{"a", "[", "b", "[", "0", "]", "]"}));
  // A subscript inside an attribute argument, then the attribute's own ]].
  EXPECT_EQ(texts(L("[[f(a[1])]]")), (std::vector<std::string>{"[[", "f", "(", "a", "[", "1", "]", ")", "]]"}));
  EXPECT_EQ(texts(L("m[i][j]")), (std::vector<std::string>{"m", "[", "i", "]", "[", "j", "]"}));
}

TEST(MslLexer, LineContinuation) {
  auto t = L("#define X \\\n  1\nY");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[3].text, "1");
  EXPECT_FALSE(t[3].at_line_start);  // still part of the directive line
  EXPECT_EQ(t[3].line, 2);
  EXPECT_TRUE(t[4].at_line_start);
  EXPECT_EQ(t[4].line, 3);
}

TEST(MslLexer, UnterminatedCommentIsAnError) {
  try {
    L("int a;\n/* never closed");
    FAIL() << "expected an error";
  } catch (const TranslationError& e) {
    EXPECT_EQ(e.diagnostic.line, 2);
    EXPECT_NE(std::string(e.what()).find("t.metal:2:1: error: unterminated"), std::string::npos) << e.what();
  }
}

TEST(MslDiagnostics, Format) {
  Diagnostic d{"k.metal", 3, 7, "bad"};
  EXPECT_EQ(d.format(), "k.metal:3:7: error: bad");
  d.column = 0;
  EXPECT_EQ(d.format(), "k.metal:3: error: bad");
  EXPECT_STREQ(builtin_name(BuiltinKind::ThreadPositionInGrid), "thread_position_in_grid");
  EXPECT_STREQ(builtin_name(BuiltinKind::DispatchQuadgroupsPerThreadgroup), "dispatch_quadgroups_per_threadgroup");
}
