#include "core/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "metallic/error.h"
#include "metallic/metallic.h"

namespace metallic::cache {

namespace {

// Creates `path` and its parents; "" on success, else why not.
std::string make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
        return "cannot create '" + partial + "': " + std::strerror(errno);
    }
    if (i < path.size()) partial += path[i];
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "'" + path + "' is not a folder";
  if (::access(path.c_str(), W_OK | X_OK) != 0) return "'" + path + "' is not writable";
  return "";
}

std::string configured_root() {
  if (const char* env = std::getenv("PYMETALLIC_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/pymetallic";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/pymetallic";
  return "/tmp/pymetallic-cache";
}

std::mutex g_root_mutex;
std::string g_root;  // decided once per process (per configured folder)
std::string g_root_for;

// The configured folder when it is usable; else a private temporary one, with a warning.
std::string usable_root() {
  std::lock_guard<std::mutex> lock(g_root_mutex);
  std::string wanted = configured_root();
  if (!g_root.empty() && g_root_for == wanted) return g_root;
  std::string why = make_dirs(wanted);
  if (why.empty()) {
    g_root = wanted;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pymetallic-cache-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    if (!::mkdtemp(name.data()))
      throw Error("cannot use the kernel cache folder: " + why + ", nor create a temporary one (" +
                  std::strerror(errno) + "): set PYMETALLIC_CACHE_DIR to a writable folder");
    g_root = name.data();
    std::fprintf(stderr,
                 "pymetallic: warning: cannot use the kernel cache folder (%s); using the private temporary "
                 "folder %s for this process (set PYMETALLIC_CACHE_DIR to a writable folder)\n",
                 why.c_str(), g_root.c_str());
  }
  g_root_for = wanted;
  return g_root;
}

bool is_temporary_name(const std::string& name) { return name.find(".tmp") != std::string::npos; }

// "<final>.tmp<pid>_<n>": the process that writes it.
long temporary_owner(const std::string& name) {
  auto at = name.rfind(".tmp");
  if (at == std::string::npos) return -1;
  return std::strtol(name.c_str() + at + 4, nullptr, 10);
}

// Temporary files left by processes that were killed while compiling (or writing).
void remove_stale_temporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const time_t now = std::time(nullptr);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!is_temporary_name(name)) continue;
    std::string path = dir + "/" + name;
    long pid = temporary_owner(name);
    bool owner_alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    struct stat st;
    bool old = ::stat(path.c_str(), &st) == 0 && now - st.st_mtime > 24 * 3600;  // a reused pid
    if (!owner_alive || old) std::remove(path.c_str());
  }
  ::closedir(d);
}

struct Entry {
  int64_t used = 0;  // nanoseconds: entries of one run of a program differ by less than a second
  uint64_t bytes = 0;
  std::vector<std::string> files;
};

// Entries of one backend's folder: files grouped by key (the name up to its first '.').
std::map<std::string, Entry> entries_of(const std::string& dir, uint64_t* files = nullptr) {
  std::map<std::string, Entry> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || is_temporary_name(name)) continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    Entry& entry = out[name.substr(0, name.find('.'))];
    entry.used = std::max(entry.used, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    entry.bytes += static_cast<uint64_t>(st.st_size);
    entry.files.push_back(path);
    if (files) ++*files;
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> backend_dirs(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st;
    if (::stat((root + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

const char kMagic[] = "PYMETALLIC1 ";

}  // namespace

std::string root() { return usable_root(); }

uint64_t size_limit() {
  const char* env = std::getenv("PYMETALLIC_CACHE_SIZE_LIMIT");
  if (!env || !*env) return 2ull << 30;
  char* end = nullptr;
  double n = std::strtod(env, &end);
  if (end == env || n < 0) return 2ull << 30;
  switch (*end) {
    case 'k':
    case 'K':
      n *= 1024;
      break;
    case 'm':
    case 'M':
      n *= 1024.0 * 1024;
      break;
    case 'g':
    case 'G':
      n *= 1024.0 * 1024 * 1024;
      break;
    default:
      break;
  }
  return static_cast<uint64_t>(n);
}

Summary summarize() {
  Summary s;
  s.directory = root();
  s.limit = size_limit();
  for (const auto& backend : backend_dirs(s.directory)) {
    uint64_t bytes = 0;
    for (const auto& [key, entry] : entries_of(s.directory + "/" + backend, &s.files)) {
      ++s.entries;
      bytes += entry.bytes;
    }
    s.bytes += bytes;
    s.by_backend.emplace_back(backend, bytes);
  }
  return s;
}

uint64_t clear() {
  std::string r = root();
  uint64_t removed = 0;
  for (const auto& backend : backend_dirs(r)) {
    std::string dir = r + "/" + backend;
    remove_stale_temporaries(dir);
    for (const auto& [key, entry] : entries_of(dir))
      for (const auto& f : entry.files) removed += std::remove(f.c_str()) == 0;
  }
  return removed;
}

DiskCache::DiskCache(const std::string& subdir) : dir_(usable_root() + "/" + subdir) {
  std::string why = make_dirs(dir_);
  if (!why.empty())
    throw Error("cannot use the kernel cache folder: " + why + " (set PYMETALLIC_CACHE_DIR to a writable folder)");
  // Stale temporaries are removed before this process first writes here (temporary_path),
  // not now: listing a folder of thousands of entries cost a cache hit milliseconds.
}

std::string DiskCache::path(const std::string& key, const std::string& extension) const {
  // The version is part of every key: a new pymetallic never trusts an older one's entries
  // (a generated-code or ABI change need not show in the translated source).
  return dir_ + "/" + key + "-" + version() + extension;
}

std::string DiskCache::temporary_path(const std::string& final_path) const {
  {
    static std::mutex mutex;
    static std::set<std::string> cleaned;  // folders this process has cleaned of stale temporaries
    std::lock_guard<std::mutex> lock(mutex);
    if (cleaned.insert(dir_).second) remove_stale_temporaries(dir_);
  }
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
  touch(path(key, extension));
  return payload;
}

void DiskCache::touch(const std::string& file) const {
  ::utimensat(AT_FDCWD, file.c_str(), nullptr, 0);  // best effort
}

void DiskCache::enforce_limit() const {
  uint64_t limit = size_limit();
  if (limit == 0) return;
  std::string r = dir_.substr(0, dir_.rfind('/'));
  struct Item {
    int64_t used;
    uint64_t bytes;
    std::vector<std::string> files;
  };
  std::vector<Item> all;
  uint64_t total = 0;
  for (const auto& backend : backend_dirs(r))
    for (auto& [key, entry] : entries_of(r + "/" + backend)) {
      total += entry.bytes;
      all.push_back({entry.used, entry.bytes, std::move(entry.files)});
    }
  if (total <= limit) return;
  // Down to 80% of the limit, so that the next few entries do not each start a scan.
  std::sort(all.begin(), all.end(), [](const Item& a, const Item& b) { return a.used < b.used; });
  for (const auto& item : all) {
    if (total <= limit / 5 * 4) break;
    for (const auto& f : item.files) std::remove(f.c_str());
    total -= item.bytes;
  }
}

void DiskCache::write(const std::string& key, const std::string& extension, const std::string& payload) const {
  std::string final_path = path(key, extension);
  std::string tmp = temporary_path(final_path);
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write the kernel cache file '" + tmp + "': " + std::strerror(errno));
    out << kMagic << hash_hex(payload) << '\n' << payload;
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw Error("cannot write the kernel cache file '" + tmp + "' (disk full?)");
    }
  }
  publish(tmp, final_path);
  enforce_limit();
}

void DiskCache::remove(const std::string& key, const std::string& extension) const {
  std::remove(path(key, extension).c_str());
}

}  // namespace metallic::cache
