// Builds generated C++ into a shared object with the system compiler ($CXX, else c++),
// through the disk cache: the same source, flags, compiler and runtime library give the
// same cached .so, in this process or any later one.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace metallic::cpu {

class Toolchain {
 public:
  Toolchain();

  // Returns the path of a loadable shared object. Throws CompileError with the compiler's
  // diagnostics (they name the user's file and line) when the code does not compile.
  std::string build(const std::string& translation_unit, const std::string& display_name, bool fast_math,
                    bool debug = false);

  const std::string& compiler() const { return compiler_; }
  const std::string& fingerprint() const { return fingerprint_; }  // "c++ (Debian 12.2.0...) 12.2.0"

 private:
  std::string compile_flags(bool fast_math, bool debug = false) const;

  std::string compiler_;
  std::string fingerprint_;
  std::mutex mutex_;
};

}  // namespace metallic::cpu
