#include "core/hash.h"

#include <cstdio>

#define XXH_INLINE_ALL  // header-only: nothing to link, in the library and the wheel alike
#include <xxhash.h>

namespace metallic::cache {

std::string hash_hex(const std::string& data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return out;
}

}  // namespace metallic::cache
