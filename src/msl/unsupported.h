// What pymetallic refuses with a message naming it, rather than letting the C++ compiler
// fail (or worse, succeed) on it later.
#pragma once

#include <vector>

#include "msl/lexer.h"
#include "msl/structure.h"

namespace metallic::msl {

// `double` (Metal has no 64-bit floating point), OpenCL's convert_T[_sat][_rtX]() (not MSL),
// Metal 4 tensors (tensor<...>, mpp::). Names the user declares are left alone.
void reject_unsupported(const std::vector<Token>& toks, const Structure& st);

}  // namespace metallic::msl
