#include "core/disk_cache.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "metallic/error.h"
#include "metallic/metallic.h"

namespace metallic::cache {

namespace {

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    throw Error("cannot create the kernel cache folder '" + path + "': " + ec.message() +
                " (set PYMETALLIC_CACHE_DIR to a writable folder)");
}

std::string cache_root() {
  if (const char* env = std::getenv("PYMETALLIC_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/pymetallic";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/pymetallic";
  return "/tmp/pymetallic-cache";
}

const char kMagic[] = "PYMETALLIC1 ";

}  // namespace

DiskCache::DiskCache(const std::string& subdir) : dir_(cache_root() + "/" + subdir) { make_dirs(dir_); }

std::string DiskCache::path(const std::string& key, const std::string& extension) const {
  // The version is part of every key: a new pymetallic never trusts an older one's entries
  // (a generated-code or ABI change need not show in the translated source).
  return dir_ + "/" + key + "-" + version() + extension;
}

std::string DiskCache::temporary_path(const std::string& final_path) const {
  static std::atomic<unsigned> counter{0};
  return final_path + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

void DiskCache::publish(const std::string& temporary, const std::string& final_path) const {
  if (std::rename(temporary.c_str(), final_path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw Error("cannot write the kernel cache entry '" + final_path + "': " + std::strerror(errno));
  }
}

std::optional<std::string> DiskCache::read(const std::string& key, const std::string& extension) const {
  std::ifstream in(path(key, extension), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  // Layout: magic, 32-hex checksum, '\n', payload.
  size_t header = sizeof(kMagic) - 1 + 33;
  if (all.size() < header || all.compare(0, sizeof(kMagic) - 1, kMagic) != 0) return std::nullopt;
  std::string sum = all.substr(sizeof(kMagic) - 1, 32);
  std::string payload = all.substr(header);
  if (hash_hex(payload) != sum) return std::nullopt;
  return payload;
}

void DiskCache::write(const std::string& key, const std::string& extension, const std::string& payload) const {
  std::string final_path = path(key, extension);
  std::string tmp = temporary_path(final_path);
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write the kernel cache file '" + tmp + "': " + std::strerror(errno));
    out << kMagic << hash_hex(payload) << '\n' << payload;
    if (!out) throw Error("cannot write the kernel cache file '" + tmp + "'");
  }
  publish(tmp, final_path);
}

void DiskCache::remove(const std::string& key, const std::string& extension) const {
  std::remove(path(key, extension).c_str());
}

}  // namespace metallic::cache
