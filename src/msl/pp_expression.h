// Evaluation of `#if` / `#elif` constant expressions (C11 6.10.1).
#pragma once

#include <cstdint>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// `tokens` are already macro-expanded, with `defined X` replaced by 0 or 1. Remaining identifiers
// count as 0 (`true` as 1). Arithmetic is intmax_t/uintmax_t as in C; errors point at `where`.
bool evaluate_condition(const std::vector<Token>& tokens, const SourceLocation& where);

// An integer constant expression outside #if (attribute arguments such as buffer(1 + 2)):
// identifiers are an error here, since only the C++ compiler could know their values.
int64_t evaluate_integer(const std::vector<Token>& tokens, const SourceLocation& where);

}  // namespace metallic::msl
