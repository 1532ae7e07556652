#include "msl/rewrite.h"

#include <set>

#include "msl/kernel_params.h"
#include "msl/literals.h"

namespace metallic::msl {
namespace {

bool is_one_of(const Token& t, std::initializer_list<const char*> words) {
  if (t.kind != TokenKind::Identifier) return false;
  for (const char* w : words)
    if (t.text == w) return true;
  return false;
}

class MslRewriter {
 public:
  MslRewriter(const std::vector<Token>& t, const Structure& st, TokenEdits& e, bool note_threadgroup_variables)
      : t_(t), st_(st), e_(e), note_threadgroup_variables_(note_threadgroup_variables) {}

  void run() {
    // Names the program declares itself (`struct P { float2 xy; }`): `.xy` on them is no swizzle.
    for (size_t i = 0; i < t_.size(); ++i)
      if (t_[i].kind == TokenKind::Identifier && is_swizzle_name(t_[i].text) &&
          !(i > 0 && (t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->"))))
        user_names_.insert(t_[i].text);
    for (size_t i = 0; i < t_.size(); ++i) {
      const Token& tok = t_[i];
      if (e_.touched(i)) continue;
      if (tok.is_punct(".") && i > const_init_begin_ && i < const_init_end_ && component_read(i + 1)) {
        // `size.x` in a program-scope constant's initialiser: a constant expression (CUDA
        // needs one) cannot read the vector's letter members, which are not its active member.
        if (size_t start = postfix_start(i); start != Structure::npos) {
          e_.insert_before(start, "::metal::detail::component_" + t_[i + 1].text + "(");
          e_.drop(i);
          e_.replace(i + 1, ")");
          ++i;
          continue;
        }
      }
      if ((tok.is_punct(".") || tok.is_punct("->")) && i + 1 < t_.size() && swizzle_read(i + 1)) {
        if (!user_names_.count(t_[i + 1].text)) {
          e_.replace(i + 1, t_[i + 1].text + ".__pm_value()");
        } else if (size_t start = postfix_start(i); start != Structure::npos) {
          // The program also has a member of that name: a wrapper that reads a swizzle as
          // its vector and passes anything else through.
          e_.insert_before(start, "::metal::detail::swizzle_read(");
          e_.replace(i + 1, t_[i + 1].text + ")");
        }
        ++i;
        continue;
      }
      if (tok.kind == TokenKind::Pragma) {
        if (auto p = translate_pragma(tok.text))
          e_.replace(i, *p);
        else
          e_.drop(i);
      } else if (tok.is_punct("[[")) {
        attribute(i);
      } else if (tok.kind == TokenKind::Number) {
        if (auto n = rewrite_number(tok.text)) e_.replace(i, *n);
      } else if (tok.is_ident("kernel")) {
        if (i + 1 < t_.size() && (t_[i + 1].kind == TokenKind::Identifier || t_[i + 1].is_punct("[[")) &&
            st_.scope[i] != Scope::Function) {
          e_.drop(i);
        }
      } else if (tok.is_punct("::") && global_qualifier(i)) {
        // User code lives in `namespace metal_user` (translation.h): `::acc::step` means the
        // user's namespace `acc`, which is `::metal_user::acc` there. `::metal::` stays the runtime.
        if (i + 1 < t_.size() && !t_[i + 1].is_ident("metal")) e_.replace(i, "::metal_user::");
      } else if (tok.is_ident("restrict") && i > 0 && (t_[i - 1].is_punct("*") || t_[i - 1].is_punct("&")) &&
                 i + 1 < t_.size() && t_[i + 1].kind == TokenKind::Identifier) {
        e_.replace(i, "__restrict");  // C99's spelling after `*` / `&`: C++ compilers know `__restrict`
      } else if (tok.is_ident("coherent") && i + 1 < t_.size() && is_address_space(t_[i + 1])) {
        // MSL 3.2 `coherent device T*` (the spelling without a scope; `coherent(device)` is a
        // macro): every store here is seen device-wide once fenced, so it changes nothing.
        e_.drop(i);
      } else if (is_address_space(tok) && !qualified_name(i)) {
        address_space(i);
      }
    }
  }

 private:
  // A single-letter component read: `x`..`w`, `r`..`a`, not called, indexed or assigned.
  bool component_read(size_t i) const {
    if (i >= t_.size() || t_[i].kind != TokenKind::Identifier || t_[i].text.size() != 1 ||
        std::string("xyzwrgba").find(t_[i].text[0]) == std::string::npos)
      return false;
    return !(i + 1 < t_.size() && (t_[i + 1].is_punct("(") || t_[i + 1].is_punct(".") || t_[i + 1].is_punct("->")));
  }

  // `xy`, `zyx`, `rgba`: two to four letters, all of xyzw or all of rgba.
  static bool is_swizzle_name(const std::string& w) {
    if (w.size() < 2 || w.size() > 4) return false;
    bool xyzw = true, rgba = true;
    for (char c : w) {
      xyzw = xyzw && (c == 'x' || c == 'y' || c == 'z' || c == 'w');
      rgba = rgba && (c == 'r' || c == 'g' || c == 'b' || c == 'a');
    }
    return xyzw || rgba;
  }

  // The first token of the postfix expression whose member access `.` is at `dot`
  // (`a[i].b`, `f(x)`, `(p + q)`, `ns::v`), or npos when it cannot be told.
  size_t postfix_start(size_t dot) const {
    if (dot == 0) return Structure::npos;
    size_t j = dot - 1;
    for (;;) {
      const Token& t = t_[j];
      if ((t.is_punct(")") || t.is_punct("]")) && st_.match[j] != Structure::npos) {
        j = st_.match[j];
        if (j > 0 && ((t_[j - 1].kind == TokenKind::Identifier && !is_keyword(t_[j - 1].text)) ||
                      t_[j - 1].is_punct(")") || t_[j - 1].is_punct("]"))) {
          --j;
          continue;
        }
        return j;
      }
      if (t.kind != TokenKind::Identifier) return Structure::npos;
      if (j >= 2 && (t_[j - 1].is_punct(".") || t_[j - 1].is_punct("->") || t_[j - 1].is_punct("::"))) {
        j -= 2;
        continue;
      }
      return j;
    }
  }

  // A multi-letter swizzle at i that is read, not written: in MSL it is a value of the vector
  // type (`auto s = v.yx;` copies, `twice(v.zw)` deduces uint2), so reads become
  // `v.yx.__pm_value()` (a const vector: `++v.xy` and the like fail to compile instead of
  // changing a copy). Assignments (`v.xy = ...`, `v.xy += ...`) keep the proxy.
  bool swizzle_read(size_t i) const {
    const Token& t = t_[i];
    if (t.kind != TokenKind::Identifier || !is_swizzle_name(t.text)) return false;
    if (i + 1 >= t_.size()) return true;
    const Token& n = t_[i + 1];
    if (n.kind != TokenKind::Punct) return true;
    static const char* kWrites[] = {
        "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--", "(", "["};
    for (const char* w : kWrites)
      if (n.text == w) return false;
    return true;
  }

  // A `::` that starts a name (`::acc::f`, `return ::f(x)`) rather than continuing one (`a::b`,
  // `T<int>::x`, `decltype(e)::type`).
  bool global_qualifier(size_t i) const {
    if (i + 1 >= t_.size() || t_[i + 1].kind != TokenKind::Identifier) return false;
    if (i == 0) return true;
    const Token& p = t_[i - 1];
    if (p.is_punct(">") || p.is_punct(">>") || p.is_punct(")")) return false;
    if (p.kind != TokenKind::Identifier) return true;
    // Words after which a name starts: keywords, specifiers, MSL's address spaces.
    return is_one_of(
        p, {"return",   "case",        "new",       "delete",   "typename", "const",       "volatile",
            "static",   "inline",      "constexpr", "extern",   "auto",     "void",        "using",
            "else",     "do",          "throw",     "sizeof",   "alignof",  "struct",      "class",
            "enum",     "union",       "friend",    "typedef",  "virtual",  "explicit",    "co_return",
            "co_yield", "co_await",    "device",    "constant", "thread",   "threadgroup", "threadgroup_imageblock",
            "ray_data", "object_data", "kernel",    "unsigned", "signed",   "bool",        "char",
            "short",    "int",         "long",      "float",    "double",   "half"});
  }

  // `x.device`, `ns::constant`, `thread::` are names, not address spaces.
  bool qualified_name(size_t i) const {
    if (i > 0 && (t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->") || t_[i - 1].is_punct("::"))) return true;
    // `device ::acc::S*` is the address space before a global name (MSL reserves the words).
    return i + 1 < t_.size() && t_[i + 1].is_punct("::") && !t_[i + 1].space_before;
  }

  void attribute(size_t i) {
    size_t close = st_.match[i];
    // A standard attribute (`[[maybe_unused]]`) means the same to the C++ compiler: keep it.
    bool standard = i + 1 < close && t_[i + 1].kind == TokenKind::Identifier &&
                    (is_one_of(t_[i + 1], {"maybe_unused", "nodiscard", "noreturn", "fallthrough", "likely", "unlikely",
                                           "deprecated", "carries_dependency", "no_unique_address"}) ||
                     (t_[i + 1].is_ident("gnu") && i + 2 < close && t_[i + 2].is_punct("::")));
    if (!standard) e_.drop_range(i, close + 1);
  }

  bool in_fission_function(size_t i) const {
    static const std::string suffix = "__pm_fission";
    for (const FunctionDef& f : st_.functions)
      if (f.body_open < i && i < f.body_close)
        return f.name.size() > suffix.size() &&
               f.name.compare(f.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    return false;
  }

  void address_space(size_t i) {
    const Token& tok = t_[i];
    Scope scope = st_.scope[i];
    if (tok.text == "constant" && scope == Scope::Namespace && program_scope_constant(i)) return;
    if (tok.text == "threadgroup" && scope == Scope::Function && st_.statement_start[i] && declares_storage(i)) {
      // In a kernel's split version (barrier_fission.h) one call runs the whole group: its
      // threadgroup variables can be the call's own locals, which the compiler knows alias no
      // buffer (no run-time alias checks in the vectorised thread loops) and addresses without
      // thread-local storage. Not where address spaces are checked at run time: those checks
      // tell threadgroup memory by addresses noted once per worker.
      if (!note_threadgroup_variables_ && in_fission_function(i)) {
        e_.replace(i, "METAL_THREADGROUP_GROUP_STORAGE");
        return;
      }
      e_.replace(i, "METAL_THREADGROUP_STORAGE");
      if (note_threadgroup_variables_) note_threadgroup_variables(i);
      return;
    }
    // `int get() const thread {`: an address space after the parameter list qualifies `this`.
    size_t k = i;
    while (k > 0 && (is_address_space(t_[k - 1]) || is_one_of(t_[k - 1], {"const", "volatile"}))) --k;
    if (k > 0 && t_[k - 1].is_punct(")")) {
      e_.drop(i);
      return;
    }
    if (tok.text == "constant" && !already_const(i)) {
      e_.replace(i, "const");
      return;
    }
    e_.drop(i);
  }

  // `constant T name = ...;` at namespace scope, possibly after static/constexpr/const/inline.
  bool program_scope_constant(size_t i) {
    size_t s = st_.decl_begin[i];
    for (size_t k = s; k < i; ++k) {
      if (!is_one_of(t_[k], {"static", "const", "constexpr", "inline"})) return false;
    }
    // The hook brings its own storage class and const: a second one would not compile. A
    // constant the program declares constexpr stays so on both targets (CUDA's hook is
    // `static constexpr` already).
    bool is_constexpr = false;
    for (size_t k = s; k < t_.size() && is_one_of(t_[k], {"static", "const", "constexpr", "inline", "constant"}); ++k) {
      is_constexpr = is_constexpr || t_[k].is_ident("constexpr");
      if (!t_[k].is_ident("inline")) e_.drop(k);
    }
    e_.insert_before(s, is_constexpr ? "static constexpr" : "METAL_PROGRAM_SCOPE_CONSTANT");
    // Its initialiser, where `v.x` needs the constant-expression spelling.
    for (size_t k = i; k < t_.size() && !t_[k].is_punct(";"); ++k) {
      if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("{")) && st_.match[k] != Structure::npos) {
        k = st_.match[k];
        continue;
      }
      if (t_[k].is_punct("=") && const_init_end_ <= k) {
        const_init_begin_ = k;
        size_t e = k;
        while (e < t_.size() && !t_[e].is_punct(";")) {
          if ((t_[e].is_punct("(") || t_[e].is_punct("[") || t_[e].is_punct("{")) && st_.match[e] != Structure::npos)
            e = st_.match[e];
          ++e;
        }
        const_init_end_ = e;
        break;
      }
    }
    return true;
  }

  // A threadgroup variable (`threadgroup float tile[16][16];`), not a pointer or reference to one.
  bool declares_storage(size_t i) const {
    int angle = 0;
    for (size_t j = i + 1; j < t_.size(); ++j) {
      const Token& t = t_[j];
      if (t.is_punct("<")) ++angle;
      if (t.is_punct(">")) --angle;
      if (t.is_punct(">>")) angle -= 2;
      if (t.is_punct("(") && angle > 0) {
        j = st_.match[j];
        continue;
      }
      if (angle > 0) continue;
      if (t.is_punct("*") || t.is_punct("&") || t.is_punct("&&")) return false;
      if (t.is_punct("[") || t.is_punct("=") || t.is_punct(";") || t.is_punct("(") || t.is_punct("{") ||
          t.is_punct(",") || t.is_punct("[[")) {
        return true;
      }
    }
    return true;
  }

  // After `threadgroup float a[8], b[8];` at i: METAL_NOTE_THREADGROUP_VARIABLE(a); ... (b);
  void note_threadgroup_variables(size_t i) {
    std::vector<std::string> names;
    size_t last_identifier = 0;
    bool in_declarator_name = true;  // before the first '[' / '=' / '{' of the declarator
    int angle = 0;
    for (size_t j = i + 1; j < t_.size(); ++j) {
      const Token& t = t_[j];
      if (t.is_punct("<")) ++angle;
      if (t.is_punct(">")) --angle;
      if (angle > 0) continue;
      bool ends_name = t.is_punct("[") || t.is_punct("=") || t.is_punct("{") || t.is_punct(",") || t.is_punct(";");
      if (in_declarator_name && ends_name && last_identifier) names.push_back(t_[last_identifier].text);
      if (ends_name) in_declarator_name = false;
      if (t.kind == TokenKind::Identifier) last_identifier = j;
      if (t.is_punct(",")) in_declarator_name = true, last_identifier = 0;
      if ((t.is_punct("(") || t.is_punct("[") || t.is_punct("{")) && st_.match[j] != Structure::npos) j = st_.match[j];
      if (t.is_punct(";")) {
        threadgroup_variables_ += names.size();
        if (threadgroup_variables_ > kMaxThreadgroupVariables)
          fail(t_[i].location(), "more than " + std::to_string(kMaxThreadgroupVariables) +
                                     " threadgroup variables in a program that overloads functions on address spaces");
        std::string notes;
        for (const std::string& n : names) notes += "METAL_NOTE_THREADGROUP_VARIABLE(" + n + ");";
        if (j + 1 < t_.size()) e_.insert_before(j + 1, notes);
        return;
      }
    }
  }
  static constexpr size_t kMaxThreadgroupVariables = 32;  // metal::detail::threadgroup_bounds

  // Whether the type around `constant` at i already says const (`const constant T*`, `constant T const*`).
  bool already_const(size_t i) const {
    for (size_t k = i; k > 0 && (is_address_space(t_[k - 1]) || is_one_of(t_[k - 1], {"const", "volatile"})); --k) {
      if (t_[k - 1].is_ident("const")) return true;
    }
    int angle = 0;
    for (size_t j = i + 1; j < t_.size(); ++j) {
      const Token& t = t_[j];
      if (t.is_punct("<"))
        ++angle;
      else if (t.is_punct(">"))
        --angle;
      else if (t.is_punct(">>"))
        angle -= 2;
      else if (angle <= 0 && t.is_ident("const"))
        return true;
      else if (angle <= 0 && t.kind == TokenKind::Punct && !t.is_punct("::"))
        return false;
      if (angle < 0) return false;
    }
    return false;
  }

  const std::vector<Token>& t_;
  const Structure& st_;
  TokenEdits& e_;
  bool note_threadgroup_variables_;
  size_t const_init_begin_ = 0, const_init_end_ = 0;  // the initialiser of a program-scope constant
  size_t threadgroup_variables_ = 0;
  std::set<std::string> user_names_;
};

}  // namespace

void widen_vec_size_parameters(std::vector<Token>& t) {
  static const std::set<std::string> kUnsigned = {"uint",     "unsigned", "ushort", "size_t", "uint32_t",
                                                  "uint16_t", "int",      "short",  "char",   "uchar"};
  std::vector<bool> erase(t.size(), false);
  bool any = false;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!t[i].is_ident("template") || !t[i + 1].is_punct("<")) continue;
    // The template head: parameters split at depth-1 commas, up to its closing '>'.
    std::vector<std::pair<size_t, size_t>> params;
    int depth = 0, parens = 0;
    size_t start = i + 2, close = 0;
    for (size_t j = i + 1; j < t.size(); ++j) {
      const Token& x = t[j];
      if (x.is_punct("(") || x.is_punct("[")) ++parens;
      if (x.is_punct(")") || x.is_punct("]")) --parens;
      if (parens > 0) continue;
      if (x.is_punct("<")) ++depth;
      if (x.is_punct(">>")) depth -= 2;
      if (x.is_punct(">")) --depth;
      if ((x.is_punct(",") && depth == 1) || depth <= 0) {
        if (j > start) params.push_back({start, j});
        start = j + 1;
      }
      if (depth <= 0) {
        close = depth == 0 ? j : 0;
        break;
      }
      if (x.is_punct(";") || x.is_punct("{")) break;
    }
    if (close == 0) continue;
    // The declaration after the head, up to its body or ';'.
    size_t end = close + 1;
    for (int d = 0; end < t.size(); ++end) {
      if (t[end].is_punct("(") || t[end].is_punct("[")) ++d;
      if (t[end].is_punct(")") || t[end].is_punct("]")) --d;
      if (d == 0 && (t[end].is_punct("{") || t[end].is_punct(";"))) break;
    }
    for (auto [b, e] : params) {
      size_t name = e - 1;
      if (name <= b || t[name].kind != TokenKind::Identifier) continue;
      bool is_unsigned = false, all_words = true;
      for (size_t k = b; k < name; ++k) {
        all_words = all_words && t[k].kind == TokenKind::Identifier && kUnsigned.count(t[k].text);
        is_unsigned = is_unsigned || t[k].is_ident("uint") || t[k].is_ident("unsigned") || t[k].is_ident("ushort") ||
                      t[k].is_ident("size_t") || t[k].is_ident("uint32_t") || t[k].is_ident("uint16_t") ||
                      t[k].is_ident("uchar");
      }
      if (!all_words || !is_unsigned) continue;
      // `vec < ... , NAME >` in the declaration.
      bool sized = false;
      for (size_t k = close + 1; k + 3 < end && !sized; ++k)
        sized = t[k].is_ident("vec") && t[k + 1].is_punct("<") && [&] {
          int d = 0;
          for (size_t m = k + 1; m < end; ++m) {
            if (t[m].is_punct("<")) ++d;
            if (t[m].is_punct(">") || t[m].is_punct(">>")) return false;
            if (d == 1 && t[m].is_punct(","))
              return m + 2 < end && t[m + 1].text == t[name].text &&
                     (t[m + 2].is_punct(">") || t[m + 2].is_punct(">>"));
          }
          return false;
        }();
      if (!sized) continue;
      t[b].text = "int";
      for (size_t k = b + 1; k < name; ++k) erase[k] = true;
      any = true;
    }
  }
  if (!any) return;
  std::vector<Token> out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i)
    if (!erase[i]) out.push_back(std::move(t[i]));
  t = std::move(out);
}

namespace {

// `T x = ...` or `T x{...}` as a loop's condition: a declaration, which cannot be wrapped.
bool declares(const std::vector<Token>& t, const Structure& st, size_t b, size_t e) {
  for (size_t k = b; k < e; ++k) {
    if ((t[k].is_punct("(") || t[k].is_punct("[") || t[k].is_punct("[[")) && st.match[k] != Structure::npos) {
      k = st.match[k];
      continue;
    }
    if (!(t[k].is_punct("=") || t[k].is_punct("{")) || k < b + 2) continue;
    const Token& name = t[k - 1];
    const Token& before = t[k - 2];
    if (name.kind == TokenKind::Identifier &&
        (before.kind == TokenKind::Identifier || before.is_punct(">") || before.is_punct("*") || before.is_punct("&")))
      return true;
  }
  return false;
}

}  // namespace

void mark_loops(const std::vector<Token>& t, const Structure& st, TokenEdits& edits) {
  constexpr size_t npos = Structure::npos;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!(t[i].is_ident("for") || t[i].is_ident("while")) || !t[i + 1].is_punct("(")) continue;
    size_t open = i + 1, close = st.match[open];
    if (close == npos) continue;
    size_t b = open + 1, e = close;
    if (t[i].is_ident("for")) {  // the condition lies between the two `;` (range-based loops have none)
      size_t s1 = npos, s2 = npos;
      for (size_t k = open + 1; k < close && s2 == npos; ++k) {
        if ((t[k].is_punct("(") || t[k].is_punct("[") || t[k].is_punct("{") || t[k].is_punct("[[")) &&
            st.match[k] != npos) {
          k = st.match[k];
          continue;
        }
        if (t[k].is_punct(";")) (s1 == npos ? s1 : s2) = k;
      }
      if (s2 == npos) continue;
      b = s1 + 1;
      e = s2;
    }
    if (b == e) {
      edits.insert_before(e, "::metal::detail::loop_progress(true)");
    } else if (!declares(t, st, b, e)) {
      edits.insert_before(b, "::metal::detail::loop_progress(");
      edits.insert_before(e, ")");
    } else if (close + 1 < t.size() && t[close + 1].is_punct("{")) {
      edits.insert_before(close + 2, "(void)::metal::detail::loop_progress(true);");
    }
  }
}

std::optional<std::string> translate_pragma(const std::string& text) {
  std::string t;
  for (char c : text)
    if (c != ' ') t += c;
  if (t == "clangloopunroll(full)" || t == "clangloopunroll(enable)") return std::string("unroll");
  if (t == "clangloopunroll(disable)") return std::string("unroll 1");
  if (t.rfind("clangloopunroll_count(", 0) == 0 && t.back() == ')') {
    return "unroll " + t.substr(22, t.size() - 23);
  }
  if (t.rfind("unroll", 0) == 0) return text;  // already the CUDA spelling
  return std::nullopt;                         // clang diagnostics, METAL internals...: meaningless to g++ and NVRTC
}

void rewrite_msl(const std::vector<Token>& toks, const Structure& st, TokenEdits& edits,
                 bool note_threadgroup_variables) {
  MslRewriter(toks, st, edits, note_threadgroup_variables).run();
}

}  // namespace metallic::msl
