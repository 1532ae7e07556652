// Validation mode (issue 12): instruments function bodies so the generated code checks its
// accesses at run time (src/runtime/metal_validation.h says what each rewrite does).
#pragma once

#include <string>
#include <vector>

#include "msl/entry_points.h"
#include "msl/structure.h"
#include "msl/token_edits.h"

namespace metallic::msl {

void instrument_for_validation(const std::vector<Token>& toks, const Structure& st,
                               const std::vector<KernelDecl>& kernels, const std::string& main_file, TokenEdits& edits);

// Whether the program calls the logging API (os_log, os_log_default, printf): the entry
// wrappers then tell each thread where its messages go.
bool uses_logging(const std::vector<Token>& toks);

}  // namespace metallic::msl
