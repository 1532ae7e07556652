#include "msl/preprocessor.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/hash.h"
#include "msl/metal_rules.h"
#include "msl/pp_expression.h"

namespace fs = std::filesystem;

namespace metallic::msl {
namespace {

bool read_file(const std::string& path, std::string* text) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

std::string unquote(const std::string& s) {
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

// `_Pragma("text")` (C99 6.10.9) is `#pragma text` made by a macro: MLX's STEEL_PRAGMA_UNROLL.
void append_with_pragma_operators(const std::vector<Token>& in, std::vector<Token>* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].is_ident("_Pragma") && i + 3 < in.size() && in[i + 1].is_punct("(") &&
        in[i + 2].kind == TokenKind::String && in[i + 3].is_punct(")")) {
      Token p = in[i];
      p.kind = TokenKind::Pragma;
      p.text = unquote(in[i + 2].text);
      out->push_back(p);
      i += 3;
      continue;
    }
    out->push_back(in[i]);
  }
}

// The <metal_*> headers of Apple's SDK (macOS 26 / MSL 4.0). All resolve to the runtime,
// which is always there; what a header declares that the runtime lacks fails where it is used.
bool is_metal_sdk_header(const std::string& name) {
  static const char* const kHeaders[] = {"metal_stdlib",
                                         "metal_array",
                                         "metal_atomic",
                                         "metal_common",
                                         "metal_compute",
                                         "metal_config",
                                         "metal_extended_vector",
                                         "metal_functional",
                                         "metal_geometric",
                                         "metal_graphics",
                                         "metal_imageblocks",
                                         "metal_initializer_list",
                                         "metal_integer",
                                         "metal_interpolate",
                                         "metal_limits",
                                         "metal_logging",
                                         "metal_math",
                                         "metal_matrix",
                                         "metal_mesh",
                                         "metal_numeric",
                                         "metal_pack",
                                         "metal_packed_vector",
                                         "metal_quadgroup",
                                         "metal_raytracing",
                                         "metal_relational",
                                         "metal_sampler",
                                         "metal_simdgroup",
                                         "metal_simdgroup_event",
                                         "metal_simdgroup_future",
                                         "metal_simdgroup_matrix",
                                         "metal_tensor",
                                         "metal_texture",
                                         "metal_type_traits",
                                         "metal_types",
                                         "metal_uniform",
                                         "metal_utility",
                                         "metal_variant",
                                         "metal_vector",
                                         "metal_visible_function_table",
                                         "metal_cooperative_tensor"};
  for (const char* h : kHeaders)
    if (name == h) return true;
  return false;
}

// The headers of the SDK's simd library (<simd/simd.h> includes the others).
bool is_simd_sdk_header(const std::string& name) {
  static const char* const kHeaders[] = {
      "simd/simd.h",        "simd/base.h",        "simd/common.h", "simd/conversion.h", "simd/extern.h",
      "simd/geometry.h",    "simd/logic.h",       "simd/math.h",   "simd/matrix.h",     "simd/matrix_types.h",
      "simd/packed.h",      "simd/quaternion.h",  "simd/types.h",  "simd/utility.h",    "simd/vector.h",
      "simd/vector_make.h", "simd/vector_types.h"};
  for (const char* h : kHeaders)
    if (name == h) return true;
  return false;
}

}  // namespace

Preprocessor::Preprocessor(const Options& options) : options_(options) {
  // The macros Apple's compiler predefines for a macOS target (before any #include).
  int version = options.language_version;
  std::vector<std::string> lines = {
      "#define __METAL_VERSION__ " + std::to_string(version),
      "#define __METAL_MACOS__ 1",
      // Arguments Apple's own headers pass to their math builtins: whether the unqualified
      // function is the fast one, and the fixed choices of metal::fast and metal::precise.
      std::string("#define __METAL_MAYBE_FAST_MATH__ ") + (options.fast_math ? "true" : "false"),
      "#define __METAL_FAST_MATH__ true",
      "#define __METAL_PRECISE_MATH__ false",
  };
  if (options.fast_math) lines.push_back("#define __FAST_MATH__ 1");
  if (version >= 310) lines.push_back("#define __HAVE_BFLOAT__ 1");  // bfloat is MSL 3.1
  for (const auto& [name, value] : options.macros) {
    lines.push_back("#define " + name + " " + (value.empty() ? std::string("1") : value));
  }
  FileState state;
  state.presumed = make_file_name("<command line>");
  for (const std::string& l : lines) {
    std::vector<Token> toks = lex(l, state.presumed);
    directive(toks, state, 0, nullptr);
  }
}

std::vector<Token> Preprocessor::run(const std::string& source) {
  FileState file;
  file.path = options_.filename;
  file.presumed = make_file_name(options_.filename);
  std::vector<Token> out;
  process(lex(source, file.presumed), file, 0, &out);
  return out;
}

void Preprocessor::process(const std::vector<Token>& tokens, FileState& file, int depth, std::vector<Token>* out) {
  size_t i = 0;
  while (i < tokens.size()) {
    size_t end = i + 1;
    if (tokens[i].at_line_start && tokens[i].is_punct("#")) {
      while (end < tokens.size() && !tokens[end].at_line_start) ++end;
      std::vector<Token> line(tokens.begin() + i, tokens.begin() + end);
      if (file.line_delta != 0 || file.presumed != line[0].file) {
        for (Token& t : line) t.line += file.line_delta, t.file = file.presumed;
      }
      directive(line, file, depth, out);
      i = end;
      continue;
    }
    // Text up to the next directive is expanded as one run: a macro call may span lines.
    while (end < tokens.size() && !(tokens[end].at_line_start && tokens[end].is_punct("#"))) ++end;
    if (file.active()) {
      std::vector<Token> text(tokens.begin() + i, tokens.begin() + end);
      if (file.line_delta != 0 || file.presumed != text[0].file) {
        for (Token& t : text) t.line += file.line_delta, t.file = file.presumed;
      }
      std::vector<Token> expanded = macros_.expand(text);
      if (out) append_with_pragma_operators(expanded, out);
    }
    i = end;
  }
  if (!file.conditionals.empty()) fail(file.conditionals.back().where, "unterminated conditional directive");
}

void Preprocessor::directive(const std::vector<Token>& line, FileState& file, int depth, std::vector<Token>* out) {
  const Token& hash = line[0];
  if (line.size() == 1) return;  // the null directive
  const Token& name_tok = line[1];
  const std::string& name = name_tok.text;
  SourceLocation where = hash.location();
  auto& conds = file.conditionals;

  if (name == "if" || name == "ifdef" || name == "ifndef") {
    bool parent = file.active();
    bool value = false;
    if (parent) {
      if (name == "if") {
        value = condition(line, 2);
      } else {
        if (line.size() < 3 || line[2].kind != TokenKind::Identifier) fail(where, "#" + name + " expects a macro name");
        value = macros_.is_defined(line[2].text) == (name == "ifdef");
      }
    }
    conds.push_back({parent, parent && value, parent && value, false, where});
    return;
  }
  if (name == "elif") {
    if (conds.empty()) fail(where, "#elif without #if");
    Conditional& c = conds.back();
    if (c.seen_else) fail(where, "#elif after #else");
    c.active = c.parent_active && !c.taken && condition(line, 2);
    c.taken = c.taken || c.active;
    return;
  }
  if (name == "else") {
    if (conds.empty()) fail(where, "#else without #if");
    Conditional& c = conds.back();
    if (c.seen_else) fail(where, "#else after #else");
    c.seen_else = true;
    c.active = c.parent_active && !c.taken;
    c.taken = true;
    return;
  }
  if (name == "endif") {
    if (conds.empty()) fail(where, "#endif without #if");
    conds.pop_back();
    return;
  }
  if (!file.active()) return;  // other directives in skipped groups are not even checked

  if (name == "define") {
    define(line);
  } else if (name == "undef") {
    if (line.size() < 3 || line[2].kind != TokenKind::Identifier) fail(where, "#undef expects a macro name");
    macros_.undefine(line[2].text);
  } else if (name == "include" || name == "import") {
    include(line, file, depth, out);
  } else if (name == "error") {
    fail(where, "#error " + spell(std::vector<Token>(line.begin() + 2, line.end())));
  } else if (name == "warning") {
    // A warning does not stop a translation.
  } else if (name == "pragma") {
    if (line.size() >= 3 && line[2].is_ident("once")) {
      once_.insert(canonical(file.path));
      return;
    }
    Token p = hash;
    p.kind = TokenKind::Pragma;
    p.text = spell(std::vector<Token>(line.begin() + 2, line.end()));
    if (out) out->push_back(p);
  } else if (name == "line" || name_tok.kind == TokenKind::Number) {
    // `#line N "file"` and the GNU line marker `# N "file"`.
    size_t first = name == "line" ? 2 : 1;
    std::vector<Token> args = macros_.expand(std::vector<Token>(line.begin() + first, line.end()));
    if (args.empty() || args[0].kind != TokenKind::Number) fail(where, "#line expects a line number");
    int n = std::atoi(args[0].text.c_str());
    int physical_next = line.back().line - file.line_delta + 1;
    file.line_delta = n - physical_next;
    if (args.size() > 1 && args[1].kind == TokenKind::String) file.presumed = make_file_name(unquote(args[1].text));
  } else {
    fail(name_tok.location(), "invalid preprocessing directive #" + name);
  }
}

bool Preprocessor::condition(const std::vector<Token>& line, size_t first) {
  SourceLocation where = line[0].location();
  // `defined X` is resolved before expansion (and again after, for macros that produce it).
  auto resolve_defined = [&](const std::vector<Token>& in) {
    std::vector<Token> out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_ident("defined")) {
        out.push_back(in[i]);
        continue;
      }
      size_t j = i + 1;
      bool paren = j < in.size() && in[j].is_punct("(");
      if (paren) ++j;
      if (j >= in.size() || in[j].kind != TokenKind::Identifier)
        fail(where, "operator 'defined' requires an identifier");
      Token v = in[i];
      v.kind = TokenKind::Number;
      v.text = macros_.is_defined(in[j].text) ? "1" : "0";
      if (paren && (j + 1 >= in.size() || !in[j + 1].is_punct(")"))) fail(where, "missing ')' after 'defined'");
      i = paren ? j + 1 : j;
      out.push_back(v);
    }
    return out;
  };
  std::vector<Token> expr = resolve_defined(std::vector<Token>(line.begin() + first, line.end()));
  expr = resolve_defined(macros_.expand(expr));
  return evaluate_condition(expr, where);
}

void Preprocessor::define(const std::vector<Token>& line) {
  SourceLocation where = line[0].location();
  if (line.size() < 3 || line[2].kind != TokenKind::Identifier) fail(where, "macro name must be an identifier");
  Macro m;
  m.name = line[2].text;
  if (m.name == "defined") fail(line[2].location(), "'defined' cannot be used as a macro name");
  size_t i = 3;
  // Function-like only when '(' touches the name: `#define F(x)` versus `#define V (x)`.
  if (i < line.size() && line[i].is_punct("(") && !line[i].space_before) {
    m.function_like = true;
    ++i;
    bool expect_param = true;
    for (;; ++i) {
      if (i >= line.size()) fail(where, "missing ')' in macro parameter list");
      const Token& t = line[i];
      if (t.is_punct(")")) break;
      if (expect_param && t.kind == TokenKind::Identifier) {
        m.params.push_back(t.text);
        expect_param = false;
      } else if (expect_param && t.is_punct("...")) {
        m.params.push_back("__VA_ARGS__");
        m.variadic = true;
        expect_param = false;
      } else if (!expect_param && t.is_punct(",") && !m.variadic) {
        expect_param = true;
      } else {
        fail(t.location(), "invalid token '" + t.text + "' in macro parameter list");
      }
    }
    if (expect_param && !m.params.empty()) fail(where, "expected a parameter name in macro parameter list");
    ++i;
  }
  m.body.assign(line.begin() + std::min(i, line.size()), line.end());
  if (!m.body.empty() && (m.body.front().is_punct("##") || m.body.back().is_punct("##"))) {
    fail(m.body.front().location(), "'##' cannot appear at either end of a macro expansion");
  }
  if (!m.body.empty()) m.body.front().space_before = false;
  for (Token& t : m.body) t.at_line_start = false;
  macros_.define(std::move(m));
}

void Preprocessor::include(const std::vector<Token>& line, FileState& file, int depth, std::vector<Token>* out) {
  SourceLocation where = line[0].location();
  std::vector<Token> args(line.begin() + 2, line.end());
  if (!args.empty() && args[0].kind == TokenKind::Identifier) args = macros_.expand(args);  // #include MACRO
  std::string name;
  bool angled = false;
  if (!args.empty() && args[0].kind == TokenKind::String) {
    name = unquote(args[0].text);
  } else if (!args.empty() && args[0].is_punct("<")) {
    angled = true;
    size_t i = 1;
    for (; i < args.size() && !args[i].is_punct(">"); ++i) name += args[i].text;
    if (i == args.size()) fail(where, "missing '>' in #include");
  } else {
    fail(where, "#include expects \"FILENAME\" or <FILENAME>");
  }
  // Metal's own headers: the runtime is compiled in front of user code, so only its macros
  // (METAL_FUNC, M_PI_F, ...) must become visible here.
  if (angled && is_metal_sdk_header(name)) {
    include_metal_header();
    return;
  }
  // The SDK's <simd/...> headers: the simd_float4 / vector_float4 / matrix_float4x4 names.
  if (angled && name.rfind("simd/", 0) == 0 && is_simd_sdk_header(name)) {
    include_metal_header();
    if (simd_types_loaded_ || options_.runtime_dir.empty()) return;
    simd_types_loaded_ = true;
    include_file((fs::path(options_.runtime_dir) / "metal_simd_types.h").string(), where, depth + 1, out);
    return;
  }
  // Only files in the source's folder and the include paths (metal_rules.h).
  std::vector<std::string> roots = options_.include_paths;
  roots.push_back(fs::path(options_.filename).parent_path().string());
  if (fs::path(name).is_absolute()) check_include_allowed(name, name, roots, where);
  std::vector<std::string> candidates;
  if (!angled) {
    fs::path dir = fs::path(file.path).parent_path();
    candidates.push_back((dir / name).string());
  }
  for (const std::string& p : options_.include_paths) candidates.push_back((fs::path(p) / name).string());
  for (const std::string& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) {
      check_include_allowed(name, c, roots, where);
      include_file(c, where, depth + 1, out);
      return;
    }
    inputs_.push_back({c, ""});  // looked for and absent: one there later would be included
  }
  if (angled && (name.rfind("metal_", 0) == 0 || name.rfind("simd/", 0) == 0)) {
    fail(where, "<" + name + "> is not a header of the Metal SDK");
  }
  fail(where, angled ? "<" + name + "> is not a header of the Metal SDK and was not found in the include paths"
                     : "'" + name + "' file not found");
}

void Preprocessor::include_file(const std::string& path, const SourceLocation& where, int depth,
                                std::vector<Token>* out) {
  if (depth > kMaxIncludeDepth) fail(where, "#include nested too deeply");
  if (once_.count(canonical(path))) return;
  std::string text;
  if (!read_file(path, &text)) fail(where, "cannot read '" + path + "'");
  inputs_.push_back({path, cache::hash_hex(text)});
  FileState state;
  state.path = path;
  std::string shown = path;
  if (shown.rfind("./", 0) == 0) shown = shown.substr(2);
  state.presumed = make_file_name(shown);
  process(lex(text, state.presumed), state, depth, out);
}

void Preprocessor::include_metal_header() {
  if (metal_macros_loaded_) return;
  metal_macros_loaded_ = true;
  if (options_.runtime_dir.empty()) return;
  std::string path = (fs::path(options_.runtime_dir) / "metal_macros.h").string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return;
  // Only its #defines matter; any text it holds is already part of the runtime's prelude.
  include_file(path, SourceLocation{}, 1, nullptr);
}

}  // namespace metallic::msl
