#include "metallic/metallic.h"

namespace metallic {

// METALLIC_VERSION comes from python/pymetallic/_version.py (CMakeLists.txt reads it).
const char* version() { return METALLIC_VERSION; }

}  // namespace metallic
