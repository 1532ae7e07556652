#include <cstdlib>
#include <mutex>
#include <string>

#include "metallic/metallic.h"

namespace metallic {

namespace {
std::mutex& dir_mutex() {
  static std::mutex m;
  return m;
}
std::string& configured_dir() {
  static std::string dir;
  return dir;
}
}  // namespace

std::string runtime_dir() {
  if (const char* env = std::getenv("PYMETALLIC_RUNTIME_DIR"); env && *env) return env;
  std::lock_guard<std::mutex> lock(dir_mutex());
  if (!configured_dir().empty()) return configured_dir();
  return METALLIC_SOURCE_RUNTIME_DIR;
}

void set_runtime_dir(const std::string& path) {
  std::lock_guard<std::mutex> lock(dir_mutex());
  configured_dir() = path;
}

}  // namespace metallic

// ---- runtime_files_hash (core/runtime_files.h)

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/disk_cache.h"
#include "core/runtime_files.h"

namespace metallic {

const std::string& runtime_files_hash() {
  static std::once_flag once;
  static std::string hash;
  std::call_once(once, [] {
    std::string dir = runtime_dir(), all;
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name[0] != '.') names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
      std::ifstream in(dir + "/" + n, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all += n + "\n" + ss.str();
    }
    hash = cache::hash_hex(all);
  });
  return hash;
}

}  // namespace metallic
