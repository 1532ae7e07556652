// The conditional operator with MSL's arithmetic conversions. In MSL, half and bfloat are
// built-in types: `c ? h : 0.5f` is a float and `c ? h : 2` a half. In the C++ the runtime
// compiles to they are classes that convert both ways, which C++ calls ambiguous. This pass
// casts each arm of `c ? a : b` to the type MSL gives it:
//   c ? static_cast<::metal::detail::cond_t<decltype((a)), decltype((b))>>(a) : ...(b)
// where cond_t is the identity unless the arms mix half/bfloat with another arithmetic type
// (their usual arithmetic conversion), or an integer with a pointer (`p ? p : 0`).
// Conditionals inside attributes and template argument lists, or with a lambda or a throw in
// an arm, are left alone.
#pragma once

#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

void rewrite_conditionals(std::vector<Token>& toks);

}  // namespace metallic::msl
