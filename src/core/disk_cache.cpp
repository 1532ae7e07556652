#include "core/disk_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "metallic/error.h"
#include "metallic/metallic.h"

namespace metallic::cache {

std::string hash_hex(const std::string& data) {
  // Two independent 64-bit lanes over 8-byte words (multiply, rotate, xor: the mixing of
  // the well-known non-cryptographic hashes), then a final avalanche. Keys, not security;
  // fast, because command-buffer signatures are hashed at every commit.
  const uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xc2b2ae3d27d4eb4full, k3 = 0x165667b19e3779f9ull;
  uint64_t a = 0x243f6a8885a308d3ull ^ data.size(), b = 0x13198a2e03707344ull;
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  size_t i = 0, n = data.size();
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    a = rotl(a ^ (w * k1), 31) * k2;
    b = rotl(b + (w * k3), 27) * k1 ^ a;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, n - i);
  a = rotl(a ^ (tail * k1), 31) * k2;
  b = rotl(b + (tail * k3), 27) * k1 ^ a;
  auto avalanche = [](uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdull, x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ull, x ^= x >> 33;
    return x;
  };
  a = avalanche(a + b), b = avalanche(b ^ rotl(a, 17));
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return out;
}

namespace {

void make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error("cannot create the kernel cache folder '" + partial + "': " + std::strerror(errno) +
                    " (set PYMETALLIC_CACHE_DIR to a writable folder)");
    }
    if (i < path.size()) partial += path[i];
  }
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
