// What Metal's compiler rejects, pymetallic rejects too: at the user's line, in Metal's words.
// C++ that the host compiler (or NVRTC) would accept but Apple's refuses, and C++ that is not
// MSL and would reach the host process on the CPU device (inline asm, GNU attributes, host
// builtins, extern "C", includes outside the source's folders). docs/msl-support.md lists them.
#pragma once

#include <string>
#include <vector>

#include "msl/lexer.h"
#include "msl/structure.h"

namespace metallic::msl {

// Runs on the preprocessed user tokens (before the front end adds code of its own):
// variable-length arrays, program-scope variables outside `constant`, `static` locals outside
// `constant`, recursion, function pointers, goto, exceptions, new/delete, virtual,
// dynamic_cast/typeid, thread_local, asm, non-Metal GNU attributes, __builtin_* host builtins,
// extern "C". Throws TranslationError naming the first offending token. `runtime_dir` holds the
// runtime headers (their function names are Metal's: calling one is not recursion).
void enforce_metal_rules(const std::vector<Token>& toks, const Structure& st, const std::string& runtime_dir);

// #include "name" may read only files inside `roots` (the main source's folder and the include
// paths): absolute names and names that resolve outside them (.., symlinks) are refused
// before the file is opened. `resolved` is the candidate path the preprocessor found.
void check_include_allowed(const std::string& name, const std::string& resolved, const std::vector<std::string>& roots,
                           const SourceLocation& where);

}  // namespace metallic::msl
