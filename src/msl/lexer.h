// C++ tokens with their source positions: the unit every later stage works on.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "msl/diagnostics.h"

namespace metallic::msl {

enum class TokenKind {
  Identifier,  // also keywords: the front end tells them apart by position, not by lexing
  Number,      // a C preprocessing number: 1, 1.5f, 0x1p-3, 2u, 1e+5h
  String,      // "..." with any prefix
  Char,        // '...'
  Punct,       // operators and punctuators, including `[[` and `]]` of attributes
  Pragma,      // a `#pragma` line kept by the preprocessor; text is everything after `pragma`
};

// Macros a token was produced by (the preprocessor's "hide set"): none of them may expand it again.
using HideSet = std::shared_ptr<const std::set<std::string>>;

struct Token {
  TokenKind kind = TokenKind::Punct;
  std::string text;
  FileName file;
  int line = 0;
  int column = 0;
  bool space_before = false;   // whitespace (or a comment) separated it from the previous token
  bool at_line_start = false;  // first token of its line: directives are recognised by it
  HideSet hide;

  bool is(TokenKind k, const char* t) const { return kind == k && text == t; }
  bool is_punct(const char* t) const { return is(TokenKind::Punct, t); }
  bool is_ident(const char* t) const { return is(TokenKind::Identifier, t); }
  // An operator that writes its left operand: =, the compound assignments, ++ and --.
  bool is_assignment() const;
  SourceLocation location() const { return {file, line, column}; }
};

// Lexes a whole file. Comments are skipped (newlines inside them still count), backslash-newline
// joins lines. `[[` always opens an attribute (C++ forbids it elsewhere) and the `]]` that closes
// one is one token, while `a[b[0]]` stays `[` ... `]` `]`.
std::vector<Token> lex(const std::string& source, const FileName& file);

// Tokens of code the front end writes itself, all placed at `at` (a user token), so that
// diagnostics in generated code point at the user's line.
std::vector<Token> lex_generated(const std::string& source, const Token& at);

}  // namespace metallic::msl
