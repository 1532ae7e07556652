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
