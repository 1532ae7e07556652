// The macro table and macro expansion of the C preprocessor (C11 6.10.3), on tokens.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

struct Macro {
  std::string name;
  bool function_like = false;
  bool variadic = false;  // the last parameter is __VA_ARGS__
  std::vector<std::string> params;
  std::vector<Token> body;
};

class MacroTable {
 public:
  void define(Macro macro);
  void undefine(const std::string& name) { macros_.erase(name); }
  // True for user macros and the dynamic ones (__FILE__, __LINE__).
  bool is_defined(const std::string& name) const;

  // Expands every macro in `tokens`, rescanning results. Expansion stops where a token's hide
  // set names the macro (no recursive self-expansion). Tokens an expansion produces take the
  // position of the macro name they came from, so later diagnostics name the user's line.
  std::vector<Token> expand(const std::vector<Token>& tokens) const;

 private:
  std::vector<Token> substitute(const Macro& m, const std::vector<std::vector<Token>>& args, const Token& name) const;
  std::map<std::string, Macro> macros_;
  // Arguments are expanded before substitution, recursively: nesting is bounded so a
  // pathological F(F(F(...))) is an error, not a stack overflow or a memory blow-up.
  mutable int depth_ = 0;
  static constexpr int kMaxDepth = 64;
  // Tokens all expansions may produce (nested macros that double at each level reach
  // billions): past it, a CompileError instead of minutes of work and gigabytes.
  static constexpr size_t kMaxExpansionTokens = size_t(1) << 18;
  mutable size_t produced_ = 0;
};

// Tokens written back as text, one space where the source had whitespace.
std::string spell(const std::vector<Token>& tokens);

}  // namespace metallic::msl
