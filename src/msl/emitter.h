// Tokens back to text, keeping every token on its source line where possible and writing
// `#line` where it cannot, so C++ compiler diagnostics name the user's file and line.
#pragma once

#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// `main_file` names the first `#line` when there are no tokens to take it from.
std::string emit(const std::vector<Token>& toks, const std::string& main_file);

}  // namespace metallic::msl
