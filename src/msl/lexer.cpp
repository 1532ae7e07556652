#include "msl/lexer.h"

#include <cctype>
#include <cstring>

namespace metallic::msl {
namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }
bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Longest first: the lexer takes the first entry that matches.
const char* const kPunctuators[] = {
    "...", "<<=", ">>=", "->*", "::", "->", "++", "--", "<<", ">>", "<=", ">=", "==",
    "!=",  "&&",  "||",  "+=",  "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##", ".*",
};

class Lexer {
 public:
  Lexer(const std::string& src, const FileName& file) : s_(src), file_(file) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    bool space = false;
    bool line_start = true;
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == '\n') {
        advance();
        line_start = true;
        space = false;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        advance();
        space = true;
        continue;
      }
      if (c == '\\' && splice_length(p_) > 0) {  // a line continuation joins two lines
        size_t n = splice_length(p_);
        for (size_t i = 0; i < n; ++i) advance();
        space = true;
        continue;
      }
      if (c == '/' && peek(1) == '/') {
        while (p_ < s_.size() && s_[p_] != '\n') advance();
        space = true;
        continue;
      }
      if (c == '/' && peek(1) == '*') {
        SourceLocation start = here();
        advance();
        advance();
        while (p_ < s_.size() && !(s_[p_] == '*' && peek(1) == '/')) advance();
        if (p_ >= s_.size()) fail(start, "unterminated /* comment");
        advance();
        advance();
        space = true;
        continue;
      }
      Token t;
      t.file = file_;
      t.line = line_;
      t.column = col_;
      t.space_before = space;
      t.at_line_start = line_start;
      lex_one(t);
      out.push_back(std::move(t));
      space = false;
      line_start = false;
    }
    return out;
  }

 private:
  char peek(size_t k) const { return p_ + k < s_.size() ? s_[p_ + k] : '\0'; }
  SourceLocation here() const { return {file_, line_, col_}; }
  void advance() {
    if (s_[p_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++p_;
  }
  // Length of "\\\n" or "\\\r\n" at `at`, 0 when there is none.
  size_t splice_length(size_t at) const {
    if (at + 1 < s_.size() && s_[at + 1] == '\n') return 2;
    if (at + 2 < s_.size() && s_[at + 1] == '\r' && s_[at + 2] == '\n') return 3;
    return 0;
  }

  void lex_one(Token& t) {
    char c = s_[p_];
    size_t start = p_;
    if (ident_start(c)) {
      // String and character prefixes (u8"", L'x', R"(...)") belong to the literal.
      size_t q = p_;
      while (q < s_.size() && ident_char(s_[q])) ++q;
      std::string word = s_.substr(p_, q - p_);
      if (q < s_.size() && (s_[q] == '"' || s_[q] == '\'') &&
          (word == "u8" || word == "u" || word == "U" || word == "L" || word == "R" || word == "u8R" || word == "uR" ||
           word == "UR" || word == "LR")) {
        while (p_ < q) advance();
        lex_quoted(t, start, s_[q], word.back() == 'R');
        return;
      }
      while (p_ < q) advance();
      t.kind = TokenKind::Identifier;
      t.text = word;
      return;
    }
    if (digit(c) || (c == '.' && digit(peek(1)))) {
      lex_number(t);
      return;
    }
    if (c == '"' || c == '\'') {
      lex_quoted(t, start, c, false);
      return;
    }
    t.kind = TokenKind::Punct;
    if (c == '[' && peek(1) == '[') {
      brackets_.push_back('A');
      take(t, 2);
      return;
    }
    if (c == '[') {
      brackets_.push_back('[');
      take(t, 1);
      return;
    }
    if (c == ']') {
      if (!brackets_.empty() && brackets_.back() == 'A' && peek(1) == ']') {
        brackets_.pop_back();
        take(t, 2);
        return;
      }
      if (!brackets_.empty()) brackets_.pop_back();
      take(t, 1);
      return;
    }
    for (const char* p : kPunctuators) {
      size_t n = std::strlen(p);
      if (s_.compare(p_, n, p) == 0) {
        take(t, n);
        return;
      }
    }
    if (std::strchr("{}()<>;:,.?+-*/%&|^!~=#@\\`", c) == nullptr && !(c & 0x80)) {
      fail(here(), std::string("unexpected character '") + c + "'");
    }
    take(t, 1);
  }

  void take(Token& t, size_t n) {
    t.text = s_.substr(p_, n);
    for (size_t i = 0; i < n; ++i) advance();
  }

  // A pp-number: digits, letters, '.', digit separators and signs after an exponent letter.
  void lex_number(Token& t) {
    t.kind = TokenKind::Number;
    size_t start = p_;
    advance();
    while (p_ < s_.size()) {
      char c = s_[p_];
      char prev = s_[p_ - 1];
      if ((c == '+' || c == '-') && (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P') &&
          !is_hex_prefix(start, prev)) {
        advance();
      } else if (ident_char(c) || c == '.') {
        advance();
      } else if (c == '\'' && ident_char(peek(1))) {
        advance();
      } else {
        break;
      }
    }
    t.text = s_.substr(start, p_ - start);
  }
  // In 0x1e+2 the 'e' is a hex digit, not an exponent, so the '+' is an operator.
  bool is_hex_prefix(size_t start, char prev) const {
    bool hex = s_.size() > start + 1 && s_[start] == '0' && (s_[start + 1] == 'x' || s_[start + 1] == 'X');
    return hex && (prev == 'e' || prev == 'E');
  }

  void lex_quoted(Token& t, size_t start, char quote, bool raw) {
    t.kind = quote == '"' ? TokenKind::String : TokenKind::Char;
    if (raw) {  // R"delim( ... )delim"
      advance();
      std::string delim;
      while (p_ < s_.size() && s_[p_] != '(') delim += s_[p_], advance();
      std::string close = ")" + delim + "\"";
      while (p_ < s_.size() && s_.compare(p_, close.size(), close) != 0) advance();
      if (p_ >= s_.size()) fail({file_, t.line, t.column}, "unterminated raw string literal");
      for (size_t i = 0; i < close.size(); ++i) advance();
      t.text = s_.substr(start, p_ - start);
      return;
    }
    advance();
    while (p_ < s_.size() && s_[p_] != quote) {
      if (s_[p_] == '\n') break;
      if (s_[p_] == '\\' && p_ + 1 < s_.size()) advance();
      advance();
    }
    // An unterminated quote ends at the line's end without an error: `#error don't` and prose
    // in `#if 0` blocks are legal, and in live code the C++ compiler will point at it.
    if (p_ < s_.size() && s_[p_] == quote) advance();
    t.text = s_.substr(start, p_ - start);
  }

  const std::string& s_;
  FileName file_;
  size_t p_ = 0;
  int line_ = 1;
  int col_ = 1;
  std::vector<char> brackets_;  // '[' for subscripts, 'A' for attributes
};

}  // namespace

std::vector<Token> lex(const std::string& source, const FileName& file) { return Lexer(source, file).run(); }

std::vector<Token> lex_generated(const std::string& source, const Token& at) {
  std::vector<Token> toks = lex(source, at.file);
  for (Token& t : toks) {
    t.line = at.line;
    t.column = at.column;
    t.space_before = true;
    t.at_line_start = false;
  }
  return toks;
}

bool Token::is_assignment() const {
  static const char* const kOps[] = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--"};
  if (kind != TokenKind::Punct) return false;
  for (const char* op : kOps)
    if (text == op) return true;
  return false;
}

}  // namespace metallic::msl
