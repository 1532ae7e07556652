// Content hashes for cache keys and checksums: xxHash's XXH3 128-bit (the Debian package
// libxxhash-dev, used header-only), behind this one function. Keys, not security.
#pragma once

#include <string>

namespace metallic::cache {

// 128 bits as 32 lowercase hex digits.
std::string hash_hex(const std::string& data);

}  // namespace metallic::cache
