// The C preprocessor, on tokens: directives, conditional inclusion, #include, macro expansion.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "msl/lexer.h"
#include "msl/macros.h"
#include "msl/translation.h"

namespace metallic::msl {

class Preprocessor {
 public:
  // Predefines Apple's macros (__METAL_VERSION__ from options.language_version, __METAL_MACOS__,
  // __HAVE_BFLOAT__ from MSL 3.1, __FAST_MATH__ with fast math ...) and the -D macros of `options` (an empty value means 1,
  // as `-DNAME` does; a key like "F(x)" defines a function-like macro).
  explicit Preprocessor(const Options& options);

  // The main source, named options.filename. Output tokens carry the file and line they came
  // from (after `#line`); tokens made by macros carry the position of the macro's use.
  // `#pragma` lines survive as TokenKind::Pragma tokens.
  std::vector<Token> run(const std::string& source);

  static constexpr int kMaxIncludeDepth = 64;

  // The files run() read and the include candidates it found absent (TranslatedSource::inputs).
  const std::vector<InputFile>& inputs() const { return inputs_; }

 private:
  struct Conditional {
    bool parent_active;  // the enclosing group is being kept
    bool active;         // this group is being kept
    bool taken;          // some branch of this #if chain has been kept
    bool seen_else;
    SourceLocation where;
  };
  struct FileState {
    std::string path;    // where it was read from (relative includes start here)
    FileName presumed;   // the name diagnostics use (#line may change it)
    int line_delta = 0;  // presumed line minus physical line (#line)
    std::vector<Conditional> conditionals;
    bool active() const { return conditionals.empty() || conditionals.back().active; }
  };

  void process(const std::vector<Token>& tokens, FileState& file, int depth, std::vector<Token>* out);
  void directive(const std::vector<Token>& line, FileState& file, int depth, std::vector<Token>* out);
  void define(const std::vector<Token>& line);
  void include(const std::vector<Token>& line, FileState& file, int depth, std::vector<Token>* out);
  void include_metal_header();
  bool condition(const std::vector<Token>& line, size_t first);
  void include_file(const std::string& path, const SourceLocation& where, int depth, std::vector<Token>* out);

  Options options_;  // a copy: callers may pass a temporary
  MacroTable macros_;
  std::set<std::string> once_;  // files with #pragma once, by canonical path
  bool metal_macros_loaded_ = false;
  bool simd_types_loaded_ = false;
  std::vector<InputFile> inputs_;
};

}  // namespace metallic::msl
