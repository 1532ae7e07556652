// pymetallic's C++ API: Metal compute, everywhere. Names mirror Metal's (metal-cpp), so
// Apple's documentation reads as ours.
#pragma once

#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "metallic/event.h"
#include "metallic/indirect.h"
#include "metallic/library.h"
#include "metallic/texture.h"
#include "metallic/types.h"

namespace metallic {
// Where the runtime library (src/runtime) lives: $PYMETALLIC_RUNTIME_DIR, else the path
// set by set_runtime_dir (the Python package sets its own), else the source tree's.
std::string runtime_dir();
void set_runtime_dir(const std::string& path);
// pymetallic's version ("0.2.0"), the same as the Python package's __version__; compiled
// kernels cached on disk are kept per version.
const char* version();
}  // namespace metallic
