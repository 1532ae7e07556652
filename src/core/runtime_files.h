// The runtime library's files, as part of every compile cache key.
#pragma once

#include <string>

namespace metallic {

// Hash of every file in runtime_dir(): editing the runtime rebuilds every kernel.
const std::string& runtime_files_hash();

}  // namespace metallic
