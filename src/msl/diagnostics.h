// Source positions and the one way the front end reports invalid input.
#pragma once

#include <memory>
#include <string>

#include "msl/translation.h"

namespace metallic::msl {

// File names are shared by every token of a file, so a token stays small.
using FileName = std::shared_ptr<const std::string>;

FileName make_file_name(const std::string& name);

struct SourceLocation {
  FileName file;
  int line = 0;
  int column = 0;
};

// Throws TranslationError pointing at `where`.
[[noreturn]] void fail(const SourceLocation& where, const std::string& message);

}  // namespace metallic::msl
