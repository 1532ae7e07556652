// Designated initialisers (`S{.a = x, .c = y}`, `S s = {.a = x}`), which Apple's compiler takes
// in MSL (C++17) as an extension and Tint writes in every module: rewritten to positional
// initialisers in the order of the struct's members, so that both targets compile them as
// C++17 (NVRTC takes designators only with --std=c++20).
#pragma once

#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// Runs on the preprocessed user tokens. A skipped member becomes `{}` (value-initialised, as
// C++20 copy-initialises it from an empty list); designators out of declaration order are
// initialised in declaration order, as clang does (it only warns: -Wreorder-init-list).
// Refused at the user's line, naming the feature: a list whose struct cannot be told from the
// code around it (a template parameter, a function argument, an assignment), unknown members,
// a member designated twice, array (`[1] = x`) and nested (`.a.b = x`) designators, designated
// and positional clauses mixed, unions other than by their first member, structs that are not
// aggregates, and skipping a member that has a default member initialiser.
void rewrite_designated_initializers(std::vector<Token>& toks);

}  // namespace metallic::msl
