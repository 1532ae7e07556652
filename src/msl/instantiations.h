// Explicit instantiations of template kernels, MLX's way of naming library functions:
//   template [[host_name("add_float")]] [[kernel]] decltype(add<float>) add<float>;
//   template [[host_name("add_half")]] [[kernel]] void add<half>(device const half*, ...);
#pragma once

#include <vector>

#include "msl/entry_points.h"
#include "msl/structure.h"
#include "msl/token_edits.h"

namespace metallic::msl {

// One KernelInfo per instantiation of a template kernel in `kernels`: named by host_name (or
// the instantiation's C++ name), call_name `add<float>`, arguments from the template (types as
// written, `dependent_type` where they name template parameters). The instantiation statements
// are removed through `edits`: the entry wrapper's call instantiates the template instead.
std::vector<KernelInfo> instantiate_kernels(const std::vector<Token>& toks, const Structure& st,
                                            const std::vector<KernelDecl>& kernels, TokenEdits& edits);

}  // namespace metallic::msl
