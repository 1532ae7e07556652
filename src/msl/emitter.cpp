#include "msl/emitter.h"

#include <cctype>
#include <cstring>

namespace metallic::msl {
namespace {

// Beyond this many blank lines a `#line` is shorter than the newlines.
constexpr int kMaxBlankLines = 8;

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// Whether writing `a` and `b` side by side would lex differently (`+` `+` -> `++`).
bool needs_space(const Token& a, const Token& b) {
  if (a.text.empty() || b.text.empty()) return false;
  char x = a.text.back(), y = b.text.front();
  if (word_char(x) && (word_char(y) || y == '"' || y == '\'')) return true;
  if (a.kind == TokenKind::Number && (y == '.' || y == '+' || y == '-')) return true;
  if (x == '.' && std::isdigit(static_cast<unsigned char>(y))) return true;
  if (a.kind != TokenKind::Punct || b.kind != TokenKind::Punct) return false;
  static const char* const kPairs[] = {"++", "--", "->", "<<", ">>", "<=", ">=", "==", "!=", "&&",
                                       "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##",
                                       "::", ".*", "//", "/*", "..", "<:", "<%", "%:", "[[", "]]"};
  char pair[3] = {x, y, 0};
  for (const char* p : kPairs)
    if (std::strcmp(p, pair) == 0) return true;
  return false;
}

}  // namespace

std::string emit(const std::vector<Token>& toks, const std::string& main_file) {
  std::string out;
  const std::string* cur_file = nullptr;
  int line = 1;
  bool line_start = true;
  auto directive = [&](const Token& t) {
    if (!line_start) out += '\n';
    out += "#line " + std::to_string(t.line) + " " + quoted(t.file ? *t.file : main_file) + "\n";
    cur_file = t.file.get();
    line = t.line;
    line_start = true;
  };
  if (toks.empty()) return "#line 1 " + quoted(main_file) + "\n";
  const Token* prev = nullptr;
  for (const Token& t : toks) {
    bool same_file = cur_file == t.file.get() || (cur_file && t.file && *cur_file == *t.file);
    if (!same_file || t.line < line || t.line > line + kMaxBlankLines) {
      directive(t);
    } else {
      for (; line < t.line; ++line) out += '\n', line_start = true;
    }
    if (t.kind == TokenKind::Pragma) {
      // A pragma owns its line; the next token starts on the following one.
      if (!line_start) {
        Token moved = t;
        moved.line = line;
        directive(moved);
      }
      out += "#pragma " + t.text + "\n";
      ++line;
      line_start = true;
      prev = nullptr;
      continue;
    }
    if (line_start) {
      // Keep the first token's column, so compiler columns match too.
      out.append(t.column > 1 ? static_cast<size_t>(t.column - 1) : 0, ' ');
    } else if (t.space_before || (prev && needs_space(*prev, t))) {
      out += ' ';
    }
    out += t.text;
    line_start = false;
    prev = &t;
  }
  if (!line_start) out += '\n';
  return out;
}

}  // namespace metallic::msl
