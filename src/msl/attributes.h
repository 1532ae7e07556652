// `[[a, b(args), ns::c]]` attribute lists, as the entry-point parser and rewriter need them.
#pragma once

#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

struct Attribute {
  std::string name;         // "buffer", "kernel", "gnu::always_inline"
  std::vector<Token> args;  // tokens between the parentheses; empty when there are none
  bool has_args = false;
  SourceLocation where;
};

// The attributes of the `[[` at `open` up to its `]]` at `close`.
std::vector<Attribute> parse_attributes(const std::vector<Token>& toks, size_t open, size_t close);

// Standard C++ attributes the C++ compiler understands; every other attribute is MSL's and is removed.
bool is_standard_attribute(const std::string& name);

// The integer argument of `buffer(n)`-style attributes; errors point at the attribute.
int attribute_int(const Attribute& a);

}  // namespace metallic::msl
