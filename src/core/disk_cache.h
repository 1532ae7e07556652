// The on-disk cache of compiled artifacts, shared by the backends.
// Location: $PYMETALLIC_CACHE_DIR, default ~/.cache/pymetallic; when that folder cannot be
// created or written, a private temporary folder (with a warning on stderr). Entries are
// written to a temporary name and renamed into place, so a reader never sees a half-written
// file; every payload is checksummed and a damaged entry is detected by its reader and
// rebuilt. Temporary files of killed processes are removed, and the whole cache is kept
// under a size limit ($PYMETALLIC_CACHE_SIZE_LIMIT, default 2G) by removing the entries
// used least recently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"

namespace metallic::cache {

class DiskCache {
 public:
  explicit DiskCache(const std::string& subdir);  // e.g. "cpu", "cuda"

  const std::string& directory() const { return dir_; }
  // <directory>/<key>-<pymetallic version><extension>
  std::string path(const std::string& key, const std::string& extension) const;
  // A fresh path next to `final_path` for writing; publish() renames it into place.
  std::string temporary_path(const std::string& final_path) const;
  void publish(const std::string& temporary, const std::string& final_path) const;

  // Payload files carry a checksum header; read() returns nothing for missing or damaged ones.
  std::optional<std::string> read(const std::string& key, const std::string& extension) const;
  void write(const std::string& key, const std::string& extension, const std::string& payload) const;
  void remove(const std::string& key, const std::string& extension) const;
  // Marks an entry used now (least-recently-used eviction goes by modification time).
  void touch(const std::string& path) const;
  // After a new entry: removes the least recently used entries while over the size limit.
  void enforce_limit() const;

 private:
  std::string dir_;
};

// The folder every backend's cache lives under (after the fallback described above).
std::string root();
// The size limit in bytes ($PYMETALLIC_CACHE_SIZE_LIMIT: bytes, or with K/M/G; 0: none).
uint64_t size_limit();

struct Summary {
  std::string directory;
  uint64_t entries = 0, files = 0, bytes = 0, limit = 0;
  std::vector<std::pair<std::string, uint64_t>> by_backend;  // ("cpu", bytes), ...
};
Summary summarize();
// Removes every entry (and stale temporary file); returns the number of files removed.
uint64_t clear();
}  // namespace metallic::cache
