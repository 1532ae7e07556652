#include "msl/metal_rules.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

namespace metallic::msl {
namespace {

namespace fs = std::filesystem;
constexpr size_t npos = Structure::npos;

// GNU attributes Metal's compiler accepts that change nothing outside the kernel's own code.
const std::set<std::string>& metal_gnu_attributes() {
  static const std::set<std::string> names = {
      "always_inline",      "noinline", "aligned",      "packed",   "unused",
      "maybe_unused",       "pure",     "const",        "flatten",  "deprecated",
      "warn_unused_result", "nodebug",  "overloadable", "noreturn",
  };
  return names;
}

// Compiler builtins that compute a value and nothing else (clang's, which Metal's compiler
// shares): the rest (__builtin_trap, __builtin_frame_address, __builtin_alloca, ...) are refused.
bool allowed_builtin(const std::string& name) {
  static const char* const families[] = {
      "expect",  "assume", "offsetof",   "unreachable", "constant_p",  "popcount", "clz",   "ctz",      "ffs",
      "parity",  "bswap",  "bitreverse", "rotateleft",  "rotateright", "isnan",    "isinf", "isfinite", "isnormal",
      "signbit", "fabs",   "copysign",   "fmin",        "fmax",        "sqrt",     "nan",   "inf",      "huge_val",
  };
  for (const char* f : families)
    if (name.compare(10, std::string(f).size(), f) == 0) return true;  // after "__builtin_"
  return false;
}

std::string attribute_name(std::string s) {  // __always_inline__ -> always_inline
  if (s.size() > 4 && s.compare(0, 2, "__") == 0 && s.compare(s.size() - 2, 2, "__") == 0)
    s = s.substr(2, s.size() - 4);
  return s;
}

// Words after which `name [` or `name (` is an expression, not a declarator.
bool is_statement_keyword(const std::string& w) {
  static const std::set<std::string> words = {
      "return",    "case",          "else",     "do",        "throw",
      "sizeof",    "alignof",       "new",      "delete",    "goto",
      "co_return", "co_yield",      "co_await", "typename",  "template",
      "operator",  "decltype",      "noexcept", "if",        "while",
      "for",       "switch",        "using",    "namespace", "static_assert",
      "alignas",   "__attribute__", "this",
  };
  return words.count(w) > 0;
}

// The last token of a type in a declaration: `float tmp[n]`, `vec<T, 2> v[n]`.
bool ends_type(const Token& t) {
  if (t.kind == TokenKind::Identifier) return !is_statement_keyword(t.text);
  return t.is_punct(">") || t.is_punct(">>");
}

class Rules {
 public:
  Rules(const std::vector<Token>& toks, const Structure& st, const std::set<std::string>& library)
      : t_(toks), st_(st), library_(library) {}

  void run() {
    count_definitions();
    for (size_t i = 0; i < t_.size(); ++i) {
      const Token& t = t_[i];
      if (t.kind == TokenKind::Identifier) keyword(i);
      if (t.is_punct("[[")) cxx11_attribute(i);
      if (t.is_punct("(")) function_pointer_declarator(i);
      if (st_.statement_start[i] && st_.scope[i] == Scope::Namespace) program_scope_declaration(i);
      if (st_.statement_start[i] && st_.scope[i] == Scope::Function) static_local(i);
    }
    for (size_t f = 0; f < st_.functions.size(); ++f) variable_length_arrays(st_.functions[f]);
    recursion();
  }

 private:
  const Token* at(size_t i) const { return i < t_.size() ? &t_[i] : nullptr; }
  bool prev_is(size_t i, const char* punct) const { return i > 0 && t_[i - 1].is_punct(punct); }
  bool prev_ident(size_t i, const char* word) const { return i > 0 && t_[i - 1].is_ident(word); }

  // ---- keywords and names that are not MSL ------------------------------------------
  void keyword(size_t i) {
    const Token& t = t_[i];
    const std::string& w = t.text;
    const Token* next = at(i + 1);
    if (w == "goto") fail(t.location(), "'goto' is not supported in Metal");
    if (w == "try" || w == "catch" || w == "throw")
      fail(t.location(), "exception handling ('" + w + "') is not supported in Metal");
    if (w == "new" && !prev_ident(i, "operator"))
      fail(t.location(), "'new' is not supported in Metal (there is no dynamic memory allocation)");
    if (w == "delete" && !prev_ident(i, "operator") && !prev_is(i, "="))
      fail(t.location(), "'delete' is not supported in Metal (there is no dynamic memory allocation)");
    if (w == "virtual") fail(t.location(), "virtual functions are not supported in Metal");
    if (w == "dynamic_cast" || w == "typeid")
      fail(t.location(), "'" + w + "' is not supported in Metal (there is no run-time type information)");
    if (w == "thread_local" || w == "__thread") fail(t.location(), "'" + w + "' is not supported in Metal");
    if (w == "asm" || w == "__asm__" || w == "__asm")
      fail(t.location(), "inline assembly ('" + w + "') is not supported in Metal");
    if (w == "__declspec") fail(t.location(), "'__declspec' is not supported in Metal");
    if (w == "extern" && next && next->kind == TokenKind::String)
      fail(t.location(), "'extern " + next->text + "' is not supported in Metal (functions have C++ linkage)");
    if ((w.compare(0, 10, "__builtin_") == 0 && !allowed_builtin(w)) || w.compare(0, 7, "__sync_") == 0)
      fail(t.location(), "'" + w + "' is a host compiler builtin, not a Metal function");
    if ((w == "__attribute__" || w == "__attribute") && next && next->is_punct("(")) gnu_attribute(i + 1);
  }

  // __attribute__((a, b(1), c)): every name must be one Metal accepts.
  void gnu_attribute(size_t open) {
    size_t close = st_.match[open];
    if (close == npos || !t_[open + 1].is_punct("(")) return;
    size_t inner_close = st_.match[open + 1];
    bool expect_name = true;
    for (size_t j = open + 2; j < inner_close; ++j) {
      const Token& t = t_[j];
      if (t.is_punct("(")) {
        j = st_.match[j];
        continue;
      }
      if (t.is_punct(",")) {
        expect_name = true;
        continue;
      }
      if (expect_name && t.kind == TokenKind::Identifier) {
        check_attribute_name(t, attribute_name(t.text), "__attribute__((" + t.text + "))");
        expect_name = false;
      }
    }
  }

  // [[gnu::name]] is the same GNU attribute in C++11 spelling.
  void cxx11_attribute(size_t open) {
    size_t close = st_.match[open];
    for (size_t j = open + 1; j + 2 < close; ++j) {
      if (t_[j].is_ident("using")) fail(t_[j].location(), "'[[using ...]]' attributes are not supported in Metal");
      if ((t_[j].is_ident("gnu") || t_[j].is_ident("__gnu__")) && t_[j + 1].is_punct("::") &&
          t_[j + 2].kind == TokenKind::Identifier)
        check_attribute_name(t_[j + 2], attribute_name(t_[j + 2].text), "[[gnu::" + t_[j + 2].text + "]]");
    }
  }

  void check_attribute_name(const Token& t, const std::string& name, const std::string& spelled) {
    if (metal_gnu_attributes().count(name)) return;
    fail(t.location(), "attribute '" + spelled +
                           "' is not supported in Metal (GNU attributes allowed: always_inline, noinline, "
                           "aligned, packed, unused, pure, const, flatten, deprecated, ...)");
  }

  // ---- function pointers ---------------------------------------------------------------
  // A declarator `T (*name)(...)`, `T (&name)(...)` or the abstract `T (*)(...)`.
  void function_pointer_declarator(size_t open) {
    size_t close = st_.match[open];
    if (close == npos || close < open + 2 || open == 0) return;
    const Token* star = at(open + 1);
    if (!(star->is_punct("*") || star->is_punct("&") || star->is_punct("^"))) return;
    bool named = close == open + 3 && t_[open + 2].kind == TokenKind::Identifier;
    if (!(named || close == open + 2)) return;
    const Token* after = at(close + 1);
    if (!after || !after->is_punct("(")) return;
    const Token& before = t_[open - 1];
    if (!(ends_type(before) || before.is_punct("*") || before.is_punct("&"))) return;
    if (named && t_[open + 2].is_ident("this")) return;
    // Function-pointer *types* are compile-time: a template parameter (`template <void (*f)(...)>`,
    // as llama.cpp's kernels take their dequantizers) or an alias. Variables are refused.
    size_t decl = st_.decl_begin[open];
    if (skip_heads(decl) > open) return;
    if (t_[decl].is_ident("typedef") || t_[decl].is_ident("using")) return;
    fail(t_[open].location(),
         std::string("function pointers are not supported in Metal") + (named ? " ('" + t_[open + 2].text + "')" : ""));
  }

  // ---- program scope -------------------------------------------------------------------
  // The first token after leading `template <...>` heads and `[[...]]` attributes.
  size_t skip_heads(size_t i) const {
    for (;;) {
      if (i < t_.size() && t_[i].is_punct("[[") && st_.match[i] != npos) {
        i = st_.match[i] + 1;
        continue;
      }
      if (i + 1 < t_.size() && t_[i].is_ident("template") && t_[i + 1].is_punct("<")) {
        int depth = 0;
        size_t j = i + 1;
        for (; j < t_.size(); ++j) {
          if ((t_[j].is_punct("(") || t_[j].is_punct("[") || t_[j].is_punct("{")) && st_.match[j] != npos) {
            j = st_.match[j];
            continue;
          }
          if (t_[j].is_punct("<")) ++depth;
          if (t_[j].is_punct(">")) --depth;
          if (t_[j].is_punct(">>")) depth -= 2;
          if (depth <= 0) break;
        }
        i = j + 1;
        continue;
      }
      return i;
    }
  }

  void program_scope_declaration(size_t begin) {
    size_t i = skip_heads(begin);
    if (i >= t_.size() || t_[i].kind != TokenKind::Identifier) return;  // `;`, `}`, pragmas
    static const std::set<std::string> not_variables = {
        "typedef",  "using",  "namespace", "static_assert", "struct", "class",    "union",  "enum",
        "template", "friend", "operator",  "kernel",        "vertex", "fragment", "extern",
    };
    // `struct S {...} s;`: the declarators after a class body.
    bool after_class_body = begin > 0 && t_[begin - 1].is_punct("}") && st_.match[begin - 1] != npos &&
                            st_.scope[st_.match[begin - 1] + 1] == Scope::Class;
    if (after_class_body) {  // `typedef struct {...} S;`, `constant struct {...} s = ...;`
      for (size_t k = st_.decl_begin[st_.match[begin - 1]]; k < st_.match[begin - 1]; ++k)
        if (t_[k].is_ident("typedef") || t_[k].is_ident("using") || t_[k].is_ident("constant") ||
            t_[k].is_ident("constexpr"))
          return;
    }
    if (!after_class_body && not_variables.count(t_[i].text) && !t_[i].is_ident("extern")) return;
    if (t_[i].is_ident("extern") && at(i + 1) && at(i + 1)->kind == TokenKind::String) return;  // keyword()
    bool constant = false;
    size_t name = npos;
    int angle = 0;  // depth in the type's template arguments
    for (size_t j = i; j < t_.size(); ++j) {
      const Token& t = t_[j];
      if (t.kind == TokenKind::Identifier) {
        if (t.text == "constant" || t.text == "constexpr") constant = true;
        if (angle > 0) continue;
        if (t.text == "operator") return;
        if (!is_statement_keyword(t.text)) name = j;
        continue;
      }
      if (t.is_punct("[[") && st_.match[j] != npos) {
        j = st_.match[j];
        continue;
      }
      if (t.is_punct("(")) {
        if (j > 0 && (t_[j - 1].is_ident("decltype") || t_[j - 1].is_ident("alignas") ||
                      t_[j - 1].is_ident("__attribute__") || t_[j - 1].is_ident("sizeof"))) {
          j = st_.match[j];
          continue;
        }
        // `T name(params)`: a function declaration (its definition is a FunctionDef).
        if (name == j - 1) return;
        j = st_.match[j];
        continue;
      }
      if (t.is_punct("<") || t.is_punct(">") || t.is_punct(">>")) {
        angle = std::max(0, angle + (t.is_punct("<") ? 1 : t.is_punct(">") ? -1 : -2));
        continue;
      }
      if (angle > 0) continue;
      if (t.is_punct("=") || t.is_punct(";") || t.is_punct(",") || t.is_punct("[") || t.is_punct("{")) break;
    }
    if (constant || name == npos) return;
    if (after_class_body && t_[begin].is_punct(";")) return;
    fail(t_[name].location(), "program scope variable must reside in constant address space ('" + t_[name].text +
                                  "'): declare it 'constant' (or constexpr), or make it a kernel argument");
  }

  // ---- static locals -------------------------------------------------------------------
  void static_local(size_t begin) {
    size_t i = skip_heads(begin);
    bool is_static = false, constant = false;
    for (size_t j = i; j < t_.size(); ++j) {
      const Token& t = t_[j];
      if (t.kind == TokenKind::Identifier) {
        if (t.text == "static") is_static = true;
        if (t.text == "constant" || t.text == "constexpr") constant = true;
        continue;
      }
      if (t.is_punct("(")) {
        if (j > 0 && t_[j - 1].kind == TokenKind::Identifier && !is_static_ident(t_[j - 1])) return;  // function
        j = st_.match[j];
        continue;
      }
      if (t.is_punct("<") || t.is_punct(">") || t.is_punct("::") || t.is_punct("*") || t.is_punct("&")) continue;
      break;
    }
    if (is_static && !constant)
      fail(t_[i].location(),
           "static local variable must reside in constant address space in Metal "
           "(declare it 'static constant' or 'static constexpr')");
  }
  static bool is_static_ident(const Token& t) { return t.text == "decltype" || t.text == "alignas"; }

  // ---- variable-length arrays ----------------------------------------------------------
  // Names in a function whose value is known only at run time: parameters, and locals that
  // are neither constexpr nor constant (a const local counts when its initializer uses one).
  void variable_length_arrays(const FunctionDef& f) {
    if (f.body_open == 0 || f.body_close <= f.body_open) return;
    std::set<std::string> runtime_names;
    for (size_t j = f.params_open + 1; j < f.params_close; ++j) {
      const Token& t = t_[j];
      if (t.is_punct("(") || t.is_punct("[[") || t.is_punct("[")) {
        if (st_.match[j] != npos) j = st_.match[j];
        continue;
      }
      const Token* n = at(j + 1);
      if (t.kind == TokenKind::Identifier && n &&
          (n->is_punct(",") || n->is_punct(")") || n->is_punct("[[") || n->is_punct("=") || n->is_punct("[")))
        runtime_names.insert(t.text);
    }
    for (size_t j = f.body_open + 1; j < f.body_close; ++j) {
      const Token& t = t_[j];
      if (t.kind != TokenKind::Identifier || j == 0) continue;
      const Token* n = at(j + 1);
      if (!n) break;
      const Token& before = t_[j - 1];
      bool declared =
          (ends_type(before) || before.is_punct("*") || before.is_punct("&")) && !before.is_ident("const") &&
          !before.is_ident("constexpr") &&
          (n->is_punct("=") || n->is_punct(";") || n->is_punct(",") || n->is_punct("{") || n->is_punct("["));
      if (before.kind == TokenKind::Identifier && (before.text == "constant" || before.text == "threadgroup" ||
                                                   before.text == "device" || before.text == "thread"))
        declared = false;  // an address space alone is not a type
      if (!declared) continue;
      if (n->is_punct("[")) {
        if (!ends_type(before)) continue;  // `x * y[n]` is an expression
        check_array_bounds(t, j + 1, runtime_names);
      }
      // A declaration of a local: constexpr/constant make it a constant, const does when its
      // initializer is one.
      // The specifiers in front of the name (a bounded look back: declarations inside call
      // arguments share their statement's start, and the pass must stay linear).
      size_t decl = st_.decl_begin[j];
      bool is_constexpr = false, is_const = false;
      for (size_t k = j, seen = 0; k > decl && seen < 32; ++seen) {
        --k;
        if (t_[k].is_punct(";") || t_[k].is_punct("{") || t_[k].is_punct("}") || t_[k].is_punct("(")) break;
        if (t_[k].is_ident("constexpr") || t_[k].is_ident("constant")) is_constexpr = true;
        if (t_[k].is_ident("const")) is_const = true;
      }
      if (is_constexpr) {
        runtime_names.erase(t.text);
        continue;
      }
      bool runtime = !is_const || !n->is_punct("=");
      if (!runtime) {
        for (size_t k = j + 2; k < f.body_close && !t_[k].is_punct(";") && !t_[k].is_punct(","); ++k) {
          if (t_[k].is_punct("(") && st_.match[k] != npos) {
            for (size_t m = k + 1; m < st_.match[k]; ++m)
              if (t_[m].kind == TokenKind::Identifier && runtime_names.count(t_[m].text)) runtime = true;
            k = st_.match[k];
            continue;
          }
          if (t_[k].kind == TokenKind::Identifier && runtime_names.count(t_[k].text)) runtime = true;
        }
      }
      if (runtime)
        runtime_names.insert(t.text);
      else
        runtime_names.erase(t.text);
    }
  }

  // `name[bound][bound]...`: each bound must be a constant expression.
  void check_array_bounds(const Token& name, size_t open, const std::set<std::string>& runtime_names) {
    while (open < t_.size() && t_[open].is_punct("[") && st_.match[open] != npos) {
      size_t close = st_.match[open];
      for (size_t k = open + 1; k < close; ++k) {
        const Token& b = t_[k];
        if ((b.is_ident("sizeof") || b.is_ident("alignof") || b.is_ident("decltype")) && at(k + 1) &&
            at(k + 1)->is_punct("(")) {
          k = st_.match[k + 1];
          continue;
        }
        if (b.kind != TokenKind::Identifier || !runtime_names.count(b.text)) continue;
        if (prev_is(k, ".") || prev_is(k, "->") || prev_is(k, "::")) continue;
        fail(name.location(), "variable length arrays are not supported in Metal: the size of '" + name.text +
                                  "' uses '" + b.text + "', which is not a constant expression");
      }
      open = close + 1;
    }
  }

  // ---- recursion -----------------------------------------------------------------------
  void count_definitions() {
    for (const FunctionDef& f : st_.functions) ++definitions_[f.name];
    for (size_t i = 0; i + 1 < t_.size(); ++i)
      if (t_[i].is_ident("struct") || t_[i].is_ident("class") || t_[i].is_ident("union"))
        class_names_.insert(t_[i + 1].text);
  }

  bool is_template(const FunctionDef& f) const { return t_[f.decl_begin].is_ident("template"); }

  // Calls by name between functions that have one definition each (overloads and templates
  // are left out: calling another overload or instantiation is not recursion).
  void recursion() {
    std::map<std::string, size_t> unique;
    for (size_t f = 0; f < st_.functions.size(); ++f) {
      const FunctionDef& d = st_.functions[f];
      if (!d.name.empty() && d.name != "operator" && definitions_[d.name] == 1 && !is_template(d) &&
          !class_names_.count(d.name) && !library_.count(d.name))
        unique[d.name] = f;
    }
    if (unique.empty()) return;
    calls_.assign(st_.functions.size(), {});
    for (size_t f = 0; f < st_.functions.size(); ++f) {
      const FunctionDef& d = st_.functions[f];
      if (d.body_close <= d.body_open) continue;
      for (size_t j = d.body_open + 1; j < d.body_close; ++j) {
        const Token& t = t_[j];
        if (t.kind != TokenKind::Identifier || !at(j + 1) || !at(j + 1)->is_punct("(")) continue;
        if (prev_is(j, ".") || prev_is(j, "->")) continue;
        auto u = unique.find(t.text);
        if (u != unique.end()) calls_[f].push_back({u->second, j});
      }
    }
    state_.assign(st_.functions.size(), 0);
    for (const auto& [name, f] : unique)
      if (state_[f] == 0) visit(f);
  }

  // Depth-first search; a call to a function still on the stack closes a cycle.
  void visit(size_t f) {
    state_[f] = 1;
    stack_.push_back(f);
    for (const auto& [callee, site] : calls_[f]) {
      if (state_[callee] == 1) report_cycle(callee, site);
      if (state_[callee] == 0) visit(callee);
    }
    stack_.pop_back();
    state_[f] = 2;
  }

  [[noreturn]] void report_cycle(size_t callee, size_t site) {
    const std::string& name = st_.functions[callee].name;
    std::string chain;
    bool on = false;
    for (size_t f : stack_) {
      if (f == callee) on = true;
      if (on && f != callee) chain += "'" + st_.functions[f].name + "', which calls ";
    }
    std::string what =
        chain.empty() ? "'" + name + "' calls itself" : "'" + name + "' calls " + chain + "'" + name + "'";
    fail(t_[site].location(), "recursive function calls are not supported in Metal: " + what);
  }

  const std::vector<Token>& t_;
  const Structure& st_;
  const std::set<std::string>& library_;
  std::map<std::string, int> definitions_;
  std::set<std::string> class_names_;
  std::vector<std::vector<std::pair<size_t, size_t>>> calls_;  // (callee, call token) per function
  std::vector<int> state_;                                     // 0 new, 1 on the stack, 2 done
  std::vector<size_t> stack_;
};

bool inside(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

// Names the runtime library calls or defines as functions (identifiers before '(' in its
// headers): a user function with such a name may be an overload of a Metal function, and a
// call to that name in its body then is not known to be recursion.
const std::set<std::string>& library_names(const std::string& runtime_dir) {
  static std::mutex mutex;
  static std::map<std::string, std::set<std::string>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(runtime_dir);
  if (found != cache.end()) return found->second;
  std::set<std::string>& names = cache[runtime_dir];
  std::error_code ec;
  if (runtime_dir.empty()) return names;
  for (const auto& entry : fs::directory_iterator(runtime_dir, ec)) {
    if (entry.path().extension() != ".h") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (size_t i = 0; i < text.size();) {
      if (!word(text[i]) || std::isdigit(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      size_t b = i;
      while (i < text.size() && word(text[i])) ++i;
      size_t k = i;
      while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
      bool qualified = b >= 2 && text.compare(b - 2, 2, "::") == 0;  // using metal::addsat;
      if ((k < text.size() && text[k] == '(') || qualified) names.insert(text.substr(b, i - b));
    }
  }
  return names;
}

}  // namespace

void enforce_metal_rules(const std::vector<Token>& toks, const Structure& st, const std::string& runtime_dir) {
  Rules(toks, st, library_names(runtime_dir)).run();
}

void check_include_allowed(const std::string& name, const std::string& resolved, const std::vector<std::string>& roots,
                           const SourceLocation& where) {
  if (fs::path(name).is_absolute())
    fail(where, "#include of an absolute path ('" + name +
                    "') is not allowed: name the file relative to the source or an include path");
  std::error_code ec;
  fs::path file = fs::weakly_canonical(fs::absolute(resolved, ec), ec);
  for (const std::string& root : roots) {
    std::error_code rec;
    fs::path r = fs::weakly_canonical(fs::absolute(root.empty() ? "." : root, rec), rec);
    if (!rec && !ec && inside(file, r)) return;
  }
  fail(where, "#include '" + name +
                  "' resolves outside the source's folder and the include paths: only files there can be included");
}

}  // namespace metallic::msl
