// The on-disk cache of compiled artifacts, shared by the backends.
// Location: $PYMETALLIC_CACHE_DIR, default ~/.cache/pymetallic. Entries are written to a
// temporary name and renamed into place, so a reader never sees a half-written file;
// a damaged entry is detected by its reader and simply rebuilt.
#pragma once

#include <optional>
#include <string>

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

 private:
  std::string dir_;
};

}  // namespace metallic::cache
