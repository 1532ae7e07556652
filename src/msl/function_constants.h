// Function constants: `constant T name [[function_constant(n)]];` become ordinary program-scope
// constants with the pipeline's values, `is_function_constant_defined(name)` a literal.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "msl/structure.h"
#include "msl/token_edits.h"
#include "msl/translation.h"

namespace metallic::msl {

struct FunctionConstant {
  FunctionConstantInfo info;
  std::string value;          // C++ text of the value; empty when undefined
  size_t begin = 0, end = 0;  // the declaration's tokens [begin, end], `end` at its ';'
};

class FunctionConstants {
 public:
  // Finds the declarations at namespace scope and looks their values up in `options`.
  FunctionConstants(const std::vector<Token>& toks, const Structure& st, const Options& options);

  const FunctionConstant* find(const std::string& name) const;
  // Whether a parameter conditional on `name` exists: the constant is defined and non-zero.
  bool enabled(const std::string& name, const SourceLocation& where) const;

  // The value of the condition toks[begin, end) when it is made only of literals, function
  // constants and is_function_constant_defined(): `has_bias`, `!use_mask && n > 2`. nullopt
  // when it names anything else, which only run time knows.
  std::optional<bool> static_condition(const std::vector<Token>& toks, size_t begin, size_t end) const;

  // Rewrites the declarations and every `is_function_constant_defined(name)`.
  void rewrite(const std::vector<Token>& toks, TokenEdits& edits) const;

  std::vector<FunctionConstantInfo> infos() const;

 private:
  std::vector<FunctionConstant> list_;
  // Repeated declarations (same name, type and index: a header shared by several files), by
  // their token ranges [begin, end]; the first declaration stands for them.
  std::vector<std::pair<size_t, size_t>> repeats_;
};

}  // namespace metallic::msl
