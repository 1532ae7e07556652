// Builds generated C++ into a shared object with the system compiler ($CXX, else clang++,
// c++ or g++, else zig's clang from the `ziglang` wheel named in $PYMETALLIC_ZIG),
// through the disk cache: the same source, flags, compiler and runtime library give the
// same cached .so, in this process or any later one.
#pragma once

#include <map>
#include <memory>
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

  // Checks that the code compiles (-fsyntax-only: templates are instantiated, nothing is
  // generated), remembering success in the disk cache. Throws CompileError as build() does.
  void check(const std::string& translation_unit, const std::string& display_name, bool fast_math);

  const std::string& compiler() const { return compiler_; }        // "clang++", "/path/to/zig c++"
  const std::string& fingerprint() const { return fingerprint_; }  // "c++ (Debian 12.2.0...) 12.2.0"

 private:
  std::string compile_flags(bool fast_math, bool debug = false) const;

  std::string compiler_;  // the command's words, space-separated, for people
  std::string fingerprint_;
  std::mutex mutex_;  // guards key_mutexes_
  std::map<std::string, std::shared_ptr<std::mutex>> key_mutexes_;
};

}  // namespace metallic::cpu
