// Function constants: `constant T name [[function_constant(n)]];` become ordinary program-scope
// constants with the pipeline's values, `is_function_constant_defined(name)` a literal.
#pragma once

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

  // Rewrites the declarations and every `is_function_constant_defined(name)`.
  void rewrite(const std::vector<Token>& toks, TokenEdits& edits) const;

  std::vector<FunctionConstantInfo> infos() const;

 private:
  std::vector<FunctionConstant> list_;
};

}  // namespace metallic::msl
