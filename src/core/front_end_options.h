// What a compile passes to the front end, from the user's CompileOptions: shared by
// libraries (src/core/library.cpp) and offline compilation (src/core/offline.cpp).
#pragma once

#include "metallic/library.h"
#include "msl/translation.h"

namespace metallic {

// File name, include paths, macros, language version, math mode, function constants and the
// runtime's folder; validation and specialisation constants are the caller's to add.
msl::Options front_end_options(const CompileOptions& options);

}  // namespace metallic
