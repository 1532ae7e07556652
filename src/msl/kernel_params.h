// One kernel parameter: its type, name and attributes, classified as a KernelArg.
#pragma once

#include <string>
#include <vector>

#include "msl/attributes.h"
#include "msl/lexer.h"
#include "msl/structure.h"
#include "msl/translation.h"

namespace metallic::msl {

struct ParsedParam {
  KernelArg arg;
  size_t begin = 0, end = 0;  // the parameter's tokens [begin, end) in the token stream
  bool explicit_index = false;
  // `[[function_constant(name)]]`: the parameter exists only when that bool constant is true.
  std::string condition;
  SourceLocation where;
};

// Parses the tokens [begin, end) of one parameter of a kernel. Index numbering and duplicate
// checks need the whole list and are left to the caller (implicit indices stay -1).
ParsedParam parse_kernel_param(const std::vector<Token>& toks, const Structure& st, size_t begin, size_t end);

// Splits the parameter list between '(' at `open` and its ')' into [begin, end) ranges.
std::vector<std::pair<size_t, size_t>> split_params(const std::vector<Token>& toks, const Structure& st, size_t open,
                                                    size_t close);

// Type tokens as C++ text, address spaces erased (`constant` becomes `const` unless already const).
std::string cxx_type_text(const std::vector<Token>& type_tokens);

bool is_address_space(const Token& t);

}  // namespace metallic::msl
