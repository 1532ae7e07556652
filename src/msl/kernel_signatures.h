// Kernel parameter lists after function constants are known.
#pragma once

#include <vector>

#include "msl/entry_points.h"
#include "msl/token_edits.h"

namespace metallic::msl {

// A parameter conditional on a false or undefined function constant leaves the signature (the
// entry wrapper has nothing to pass for it). Its name stays usable in the body, which in Metal
// code only touches it under `if (flag)`: a local of the same type is declared at the top of the
// body, null for pointers and references alike.
void remove_conditional_params(const std::vector<Token>& toks, const Structure& st, const KernelDecl& k,
                               TokenEdits& edits);

}  // namespace metallic::msl
