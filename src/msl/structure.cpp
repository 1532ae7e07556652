#include "msl/structure.h"

#include <set>

namespace metallic::msl {
namespace {

const char* closer_of(const std::string& open) {
  if (open == "(") return ")";
  if (open == "[") return "]";
  if (open == "{") return "}";
  if (open == "[[") return "]]";
  return nullptr;
}

std::vector<size_t> match_brackets(const std::vector<Token>& toks) {
  std::vector<size_t> match(toks.size(), Structure::npos);
  std::vector<size_t> stack;
  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (t.kind != TokenKind::Punct) continue;
    if (closer_of(t.text)) {
      stack.push_back(i);
    } else if (t.text == ")" || t.text == "]" || t.text == "}" || t.text == "]]") {
      if (stack.empty()) fail(t.location(), "unbalanced '" + t.text + "'");
      size_t o = stack.back();
      if (t.text != closer_of(toks[o].text)) {
        // `a[b[0]]` written at the end of an attribute's argument would close both at once.
        fail(t.location(), "expected '" + std::string(closer_of(toks[o].text)) + "' to match '" + toks[o].text +
                               "' at line " + std::to_string(toks[o].line) + ", found '" + t.text + "'");
      }
      stack.pop_back();
      match[o] = i;
      match[i] = o;
    }
  }
  if (!stack.empty()) {
    const Token& t = toks[stack.back()];
    fail(t.location(), "'" + t.text + "' is never closed");
  }
  return match;
}

// The innermost '{' open before each token, in one pass (walking back from each token that
// needs it made passes quadratic in the number of functions). A brace counts as inside its
// outer scope.
std::vector<size_t> innermost_braces(const std::vector<Token>& toks, const std::vector<size_t>& match) {
  std::vector<size_t> brace(toks.size(), Structure::npos);
  std::vector<size_t> open;
  for (size_t i = 0; i < toks.size(); ++i) {
    brace[i] = open.empty() ? Structure::npos : open.back();
    if (toks[i].kind != TokenKind::Punct) continue;
    if (toks[i].text == "{") {
      open.push_back(i);
    } else if (toks[i].text == "}" && match[i] != Structure::npos && !open.empty()) {
      open.pop_back();  // brackets are balanced (match_brackets fails otherwise)
    }
  }
  return brace;
}

// Index after a leading `template <...>` (possibly several), or `i` when there is none.
size_t skip_template_heads(const std::vector<Token>& toks, const std::vector<size_t>& match, size_t i, size_t end) {
  while (i + 1 < end && toks[i].is_ident("template") && toks[i + 1].is_punct("<")) {
    int depth = 0;
    size_t j = i + 1;
    for (; j < end; ++j) {
      const Token& t = toks[j];
      if ((t.is_punct("(") || t.is_punct("[") || t.is_punct("{")) && match[j] != Structure::npos) {
        j = match[j];
        continue;
      }
      if (t.is_punct("<")) ++depth;
      if (t.is_punct(">")) --depth;
      if (t.is_punct(">>")) depth -= 2;
      if (depth <= 0) break;
    }
    i = j + 1;
  }
  return i;
}

class Analyzer {
 public:
  explicit Analyzer(const std::vector<Token>& t) : t_(t) {}

  Structure run() {
    Structure s;
    s.match = match_brackets(t_);
    s.brace = innermost_braces(t_, s.match);
    s.scope.assign(t_.size(), Scope::Namespace);
    s.statement_start.assign(t_.size(), false);
    s.decl_begin.assign(t_.size(), 0);
    std::vector<Scope> scopes = {Scope::Namespace};
    std::vector<size_t> open_function;  // FunctionDef index per open brace (npos for others)
    std::vector<size_t> open_class;     // ClassDef index per open brace (npos for others)
    size_t decl = 0;
    bool at_start = true;
    for (size_t i = 0; i < t_.size(); ++i) {
      const Token& tok = t_[i];
      Scope cur = scopes.back();
      s.scope[i] = cur;
      s.decl_begin[i] = decl;
      if (tok.kind == TokenKind::Pragma) {
        if (at_start) decl = i + 1;
        continue;
      }
      s.statement_start[i] = at_start && cur != Scope::Initializer;
      at_start = false;
      if (tok.kind != TokenKind::Punct) continue;
      const std::string& p = tok.text;
      if (p == "(" || p == "[" || p == "[[") {
        // Groups are skipped whole: nothing inside them starts a statement we rewrite.
        for (size_t k = i + 1; k <= s.match[i]; ++k) s.scope[k] = cur, s.decl_begin[k] = decl;
        i = s.match[i];
        continue;
      }
      if (p == "{") {
        Scope kind = classify(s, decl, i, cur);
        size_t fn = Structure::npos;
        if (kind == Scope::Function && (cur == Scope::Namespace || cur == Scope::Class)) {
          fn = s.functions.size();
          s.functions.push_back(function_def(s, decl, i, cur));
        }
        size_t cls = Structure::npos;
        if (kind == Scope::Class) {
          cls = s.classes.size();
          s.classes.push_back(class_def(s, decl, i, cur));
        }
        scopes.push_back(kind);
        open_function.push_back(fn);
        open_class.push_back(cls);
        at_start = true;
        decl = i + 1;
      } else if (p == "}") {
        if (scopes.size() > 1) scopes.pop_back();
        if (!open_function.empty()) {
          if (open_function.back() != Structure::npos) s.functions[open_function.back()].body_close = i;
          open_function.pop_back();
        }
        if (!open_class.empty()) {
          if (open_class.back() != Structure::npos) close_class(s, s.classes[open_class.back()], i);
          open_class.pop_back();
        }
        s.scope[i] = scopes.back();
        at_start = scopes.back() != Scope::Initializer;
        decl = i + 1;
      } else if (p == ";") {
        at_start = true;
        decl = i + 1;
      } else if (p == ":" && cur == Scope::Class && i > 0 &&
                 (t_[i - 1].is_ident("public") || t_[i - 1].is_ident("private") || t_[i - 1].is_ident("protected"))) {
        at_start = true;
        decl = i + 1;
      }
    }
    return s;
  }

 private:
  // What the '{' at `brace` opens, from the declaration header [decl, brace).
  Scope classify(const Structure& s, size_t decl, size_t brace, Scope outer) const {
    if (outer == Scope::Function || outer == Scope::Initializer) return outer;
    size_t i = skip_template_heads(t_, s.match, decl, brace);
    bool paren = false;
    bool first = true;
    for (; i < brace; ++i) {
      const Token& t = t_[i];
      if (t.kind == TokenKind::Pragma) continue;
      if (t.is_punct("[[")) {
        i = s.match[i];
        continue;
      }
      if (t.is_ident("namespace")) return Scope::Namespace;
      if (t.is_ident("extern") && i + 1 < brace && t_[i + 1].kind == TokenKind::String) return Scope::Namespace;
      if (first && (t.is_ident("typedef") || t.is_ident("static") || t.is_ident("const") || t.is_ident("constant") ||
                    t.is_ident("constexpr"))) {
        continue;
      }
      if (first && (t.is_ident("struct") || t.is_ident("class") || t.is_ident("union"))) return Scope::Class;
      if (first && t.is_ident("enum")) return Scope::Initializer;
      first = false;
      if (t.is_punct("=") && !(i > 0 && t_[i - 1].is_ident("operator"))) return Scope::Initializer;
      if (t.is_punct("(")) {
        paren = true;
        i = s.match[i];
      }
    }
    return paren ? Scope::Function : Scope::Initializer;
  }

  ClassDef class_def(const Structure& s, size_t decl, size_t brace, Scope outer) const {
    ClassDef c;
    c.decl_begin = decl;
    c.body_open = brace;
    c.enclosing = outer;
    size_t i = skip_template_heads(t_, s.match, decl, brace);
    while (i < brace && !(t_[i].is_ident("struct") || t_[i].is_ident("class") || t_[i].is_ident("union"))) ++i;
    c.keyword = i;
    c.is_union = i < brace && t_[i].is_ident("union");
    for (++i; i < brace; ++i) {
      const Token& t = t_[i];
      if (t.is_punct("[[") ||
          ((t.is_ident("alignas") || t.is_ident("__attribute__")) && i + 1 < brace && t_[i + 1].is_punct("("))) {
        i = s.match[t.is_punct("[[") ? i : i + 1];
        continue;
      }
      if (t.kind == TokenKind::Identifier && c.name.empty() && !t.is_ident("final")) {
        if (i + 1 < brace && t_[i + 1].is_punct("::")) continue;  // `struct A::B { ... }`
        c.name = t.text;
        c.specialization = i + 1 < brace && t_[i + 1].is_punct("<");
        continue;
      }
      if (t.is_punct(":")) c.has_bases = true;
    }
    return c;
  }

  // The body's '}' at `close`; `typedef struct { ... } S;` names the class S.
  void close_class(const Structure& s, ClassDef& c, size_t close) const {
    c.body_close = close;
    bool is_typedef = false;
    for (size_t k = c.decl_begin; k < c.keyword; ++k) is_typedef |= t_[k].is_ident("typedef");
    if (!is_typedef) return;
    for (size_t k = close + 1; k < t_.size() && !t_[k].is_punct(";"); ++k) {
      if (t_[k].is_punct("(") || t_[k].is_punct("[")) k = s.match[k];
      if (k < t_.size() && t_[k].kind == TokenKind::Identifier && !t_[k].is_ident("const")) {
        c.typedef_name = t_[k].text;
        return;
      }
    }
  }

  FunctionDef function_def(const Structure& s, size_t decl, size_t brace, Scope outer) const {
    FunctionDef f;
    f.decl_begin = decl;
    f.body_open = brace;
    f.enclosing = outer;
    size_t i = skip_template_heads(t_, s.match, decl, brace);
    for (; i < brace; ++i) {
      const Token& t = t_[i];
      if (t.is_punct("[[")) {
        i = s.match[i];
        continue;
      }
      if (!t.is_punct("(")) continue;
      size_t prev = i - 1;
      if (i > decl && t_[prev].kind == TokenKind::Identifier && !is_keyword(t_[prev].text)) {
        f.name = t_[prev].text;
        f.name_index = prev;
        f.params_open = i;
        f.params_close = s.match[i];
        return f;
      }
      // operator[](...): '[' ']' precede the parameter list.
      if (prev > decl + 1 && t_[prev].is_punct("]") && t_[prev - 1].is_punct("[") &&
          t_[prev - 2].is_ident("operator")) {
        f.name = "operator";
        f.name_index = prev;
        f.params_open = i;
        f.params_close = s.match[i];
        return f;
      }
      if (i > decl && (t_[prev].is_ident("operator") || (prev > decl && t_[prev - 1].is_ident("operator")))) {
        // operator()(...) / operator+(...): the parameter list is the next group.
        size_t open = t_[prev].is_ident("operator") ? s.match[i] + 1 : i;
        if (open < brace && t_[open].is_punct("(")) {
          f.name = "operator";
          f.name_index = prev;
          f.params_open = open;
          f.params_close = s.match[open];
          return f;
        }
      }
      // `operator matrix<T, C, R>() const thread`, `operator float()`: a conversion function.
      for (size_t k = prev + 1; k-- > decl && !t_[k].is_punct("(") && !t_[k].is_punct(")") && !t_[k].is_punct(";");) {
        if (t_[k].is_ident("operator")) {
          f.name = "operator";
          f.name_index = k;
          f.params_open = i;
          f.params_close = s.match[i];
          return f;
        }
      }
      i = s.match[i];
    }
    return f;
  }

  const std::vector<Token>& t_;
};

}  // namespace

bool is_keyword(const std::string& w) {
  static const std::set<std::string> kWords = {
      "alignas",    "alignof",      "decltype", "sizeof",   "__attribute__", "if",
      "for",        "while",        "switch",   "return",   "static_assert", "noexcept",
      "operator",   "throw",        "catch",    "typeid",   "static_cast",   "reinterpret_cast",
      "const_cast", "dynamic_cast", "template", "typename", "using",         "__declspec",
  };
  return kWords.count(w) > 0;
}

Structure analyze(const std::vector<Token>& toks) { return Analyzer(toks).run(); }

}  // namespace metallic::msl
