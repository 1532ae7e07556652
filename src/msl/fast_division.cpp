#include "msl/fast_division.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "msl/structure.h"

namespace metallic::msl {
namespace {

bool is_kernel(const std::vector<Token>& t, const FunctionDef& f) {
  if (t[f.decl_begin].is_ident("template")) return false;
  for (size_t i = f.decl_begin; i < f.name_index; ++i)
    if (t[i].is_ident("kernel") || (t[i].is_punct("[[") && t[i + 1].is_ident("kernel"))) return true;
  return false;
}

// Calls fn(b, e, attr) for each parameter of f: its tokens [b, e) and the position of its first
// `[[` (npos without one), until fn returns false. Returns false when fn stopped the walk.
template <class Fn> bool for_each_param(const std::vector<Token>& t, const Structure& st, const FunctionDef& f, Fn fn) {
  size_t b = f.params_open + 1;
  while (b < f.params_close) {
    size_t e = b, attr = Structure::npos;
    while (e < f.params_close && !t[e].is_punct(",")) {
      if (t[e].is_punct("[[") && attr == Structure::npos) attr = e;
      if ((t[e].is_punct("(") || t[e].is_punct("[") || t[e].is_punct("{") || t[e].is_punct("[[")) &&
          st.match[e] != Structure::npos)
        e = st.match[e];
      ++e;
    }
    if (!fn(b, e, attr)) return false;
    b = e + 1;
  }
  return true;
}

// The names of the parameters bound to `constant T&` / `const device T&` (one value per
// dispatch: the CPU entry reads it once). False when a parameter has a function-constant
// attribute (the front end may remove it from the signature).
bool constant_reference_params(const std::vector<Token>& t, const Structure& st, const FunctionDef& f,
                               std::set<std::string>& names) {
  return for_each_param(t, st, f, [&](size_t b, size_t e, size_t attr) {
    if (attr != Structure::npos)
      for (size_t i = attr; i < e; ++i)
        if (t[i].is_ident("function_constant")) return false;  // stops the walk: false
    const size_t decl_end = attr == Structure::npos ? e : attr;
    bool constant = false, reference = false, other = false;
    std::string name;
    for (size_t i = b; i < decl_end; ++i) {
      if (t[i].is_ident("constant") || t[i].is_ident("const")) constant = true;
      if (t[i].is_punct("&")) reference = true;
      if (t[i].is_punct("*") || t[i].is_punct("&&") || t[i].is_punct("[") || t[i].is_punct("(")) other = true;
      if (t[i].kind == TokenKind::Identifier) name = t[i].text;
    }
    if (constant && reference && !other && !name.empty() && !is_keyword(name)) names.insert(name);
    return true;
  });
}

// Tokens after which an operand continues (a call, a subscript, a member, an increment): the
// divisor is then not just the parameter (or its member).
bool continues_operand(const Token& t) {
  return t.is_punct("(") || t.is_punct("[") || t.is_punct(".") || t.is_punct("->") || t.is_punct("::") ||
         t.is_punct("++") || t.is_punct("--") || t.is_punct("{") || t.is_punct(".*") || t.is_punct("->*");
}

// ---- Index-set splitting (fast_division.h, SplitSite) ----

// A token that ends an operand: a binary operator may follow it.
bool operand_end(const Token& t) {
  if (t.kind == TokenKind::Number || t.kind == TokenKind::Char || t.kind == TokenKind::String) return true;
  if (t.kind == TokenKind::Identifier) return !is_keyword(t.text) || t.text == "this";
  return t.is_punct(")") || t.is_punct("]");
}

bool statement_keyword(const Token& t) {
  return t.is_ident("return") || t.is_ident("case") || t.is_ident("else") || t.is_ident("do") || t.is_ident("sizeof") ||
         t.is_ident("throw");
}

// The bracket that encloses token i (scanning back no further than `from`): its index, or
// npos at statement level.
size_t enclosing_open(const std::vector<Token>& t, const Structure& st, size_t from, size_t i) {
  for (size_t j = i; j-- > from;) {
    if ((t[j].is_punct(")") || t[j].is_punct("]") || t[j].is_punct("}")) && st.match[j] != Structure::npos) {
      j = st.match[j];
      continue;
    }
    if (t[j].is_punct("(") || t[j].is_punct("[") || t[j].is_punct("{")) return j;
    if (t[j].is_punct(";")) return Structure::npos;
  }
  return Structure::npos;
}

// Whether `name` keeps its value in [from, to): never declared again, assigned, incremented,
// bound to a reference, passed whole to a function (which might take it by reference), or
// listed after a comma at statement level (`uint a, name;`).
bool stable(const std::vector<Token>& t, const Structure& st, const std::string& name, size_t from, size_t to,
            bool constant = false) {
  if (!constant) {
    // A reference bound to an initializer that names it, however written (`T& r{name}`,
    // `T& r = (name.x)`, `T& r = c ? name : o`): the name may change through the reference.
    // Subscripts (`T& o = out[name]`) only read it.
    for (size_t j = from + 1; j + 2 < to; ++j) {
      if (!(t[j].is_punct("&") || t[j].is_punct("&&")) || t[j + 1].kind != TokenKind::Identifier) continue;
      if (!(t[j - 1].kind == TokenKind::Identifier || t[j - 1].is_punct(">"))) continue;
      const Token& init = t[j + 2];
      size_t b = j + 3, e;
      if ((init.is_punct("{") || init.is_punct("(")) && st.match[j + 2] != Structure::npos) {
        e = st.match[j + 2];
      } else if (init.is_punct("=")) {
        for (e = b; e < to && !t[e].is_punct(";") && !t[e].is_punct(","); ++e)
          if ((t[e].is_punct("(") || t[e].is_punct("{")) && st.match[e] != Structure::npos) e = st.match[e];
      } else {
        continue;
      }
      for (size_t x = b; x < e && x < to; ++x) {
        if (t[x].is_punct("[") && st.match[x] != Structure::npos) {
          x = st.match[x];
          continue;
        }
        if (t[x].kind == TokenKind::Identifier && t[x].text == name &&
            !(t[x - 1].is_punct(".") || t[x - 1].is_punct("->") || t[x - 1].is_punct("::")))
          return false;
      }
    }
  }
  for (size_t i = from; i < to; ++i) {
    if (t[i].kind != TokenKind::Identifier || t[i].text != name || i == 0) continue;
    const Token& p = t[i - 1];
    if (p.is_punct(".") || p.is_punct("->") || p.is_punct("::")) continue;  // a member of something else
    if (p.kind == TokenKind::Identifier && !statement_keyword(p) && p.text != "return") return false;  // `T name`
    if (p.is_punct("++") || p.is_punct("--")) return false;
    // Declarations whose type ends in `)` or `>`: `decltype(x) name{...}`, `vec<T, 2> name(...)`.
    if (p.is_punct(")") && st.match[i - 1] != Structure::npos && st.match[i - 1] > 0 &&
        (t[st.match[i - 1] - 1].is_ident("decltype") || t[st.match[i - 1] - 1].is_ident("__typeof__") ||
         t[st.match[i - 1] - 1].is_ident("typeof")))
      return false;
    if (p.is_punct(">") && i + 1 < t.size()) {
      const Token& n = t[i + 1];
      if (n.is_punct("{") || n.is_punct("(") || n.is_punct(";") || n.is_punct("[") || n.is_punct("=")) return false;
      if (n.is_punct(",")) {
        const size_t open = enclosing_open(t, st, from, i);
        if (open == Structure::npos || t[open].is_punct("{")) return false;
      }
    }
    // A structured binding: `auto [a, name] = ...`, `auto& [name] = ...`.
    if (p.is_punct("[") || p.is_punct(",")) {
      const size_t open = p.is_punct("[") ? i - 1 : enclosing_open(t, st, from, i);
      if (open != Structure::npos && open > 0 && t[open].is_punct("[") &&
          (t[open - 1].is_ident("auto") ||
           ((t[open - 1].is_punct("&") || t[open - 1].is_punct("&&")) && open > 1 && t[open - 2].is_ident("auto"))))
        return false;
    }
    if ((p.is_punct("&") || p.is_punct("*")) && i >= 2 && !operand_end(t[i - 2])) return false;          // &name
    if (p.is_punct("=") && i >= 3 && (t[i - 3].is_punct("&") || t[i - 3].is_punct("&&"))) return false;  // T& r = name
    size_t k = i + 1;
    for (;;) {
      if (k + 1 < to && t[k].is_punct(".") && t[k + 1].kind == TokenKind::Identifier) {
        k += 2;
      } else if (k < to && t[k].is_punct("[") && st.match[k] != Structure::npos) {
        k = st.match[k] + 1;
      } else {
        break;
      }
    }
    if (k < t.size() && t[k].is_assignment()) return false;
    if (!constant) {
      // Inside parentheses that are assigned to, incremented or have their address taken:
      // `(name) *= 3`, `(c ? name : o) = v`, `++(name.x)`, `&(name)`; or a whole operand that
      // may be an argument of a call (perhaps by reference): `f((name))`, `f(c ? name : o)`.
      const bool whole = (p.is_punct("(") || p.is_punct(",") || p.is_punct("?") || p.is_punct(":")) && k < t.size() &&
                         (t[k].is_punct(")") || t[k].is_punct(",") || t[k].is_punct(":"));
      for (size_t open = enclosing_open(t, st, from, i); open != Structure::npos && t[open].is_punct("(");
           open = enclosing_open(t, st, from, open)) {
        const size_t close = st.match[open];
        if (close == Structure::npos) return false;
        if (whole && open > 0 && (t[open - 1].kind == TokenKind::Identifier || t[open - 1].is_punct(">")) &&
            !t[open - 1].is_ident("if") && !t[open - 1].is_ident("while") && !t[open - 1].is_ident("for") &&
            !t[open - 1].is_ident("switch") && !t[open - 1].is_ident("return"))
          return false;
        size_t after = close + 1;
        while (after + 1 < t.size() && t[after].is_punct(".") && t[after + 1].kind == TokenKind::Identifier) after += 2;
        if (after < t.size() && t[after].is_assignment()) return false;
        if (open > 0 && (t[open - 1].is_punct("++") || t[open - 1].is_punct("--"))) return false;
        if (open > 1 && (t[open - 1].is_punct("&") || t[open - 1].is_punct("*")) && !operand_end(t[open - 2]))
          return false;
      }
    }
    if (p.is_punct(",") || p.is_punct("(")) {
      const size_t open = enclosing_open(t, st, from, i);
      if (open == Structure::npos || t[open].is_punct("{")) {
        if (p.is_punct(",")) return false;  // a declaration list, or the comma operator
      } else if (!constant && t[open].is_punct("(") && open > 0 &&
                 (t[open - 1].kind == TokenKind::Identifier || t[open - 1].is_punct(">")) && k < t.size() &&
                 (t[k].is_punct(")") || t[k].is_punct(","))) {
        return false;  // f(name): perhaps by reference
      }
    }
  }
  return true;
}

// The end (exclusive) of the statement that starts at i; npos for one this does not follow.
size_t statement_end(const std::vector<Token>& t, const Structure& st, size_t i, size_t limit) {
  if (i >= limit) return Structure::npos;
  if (t[i].is_punct("{")) return st.match[i] == Structure::npos ? Structure::npos : st.match[i] + 1;
  if (t[i].is_ident("for") || t[i].is_ident("while")) {
    if (i + 1 >= limit || !t[i + 1].is_punct("(") || st.match[i + 1] == Structure::npos) return Structure::npos;
    return statement_end(t, st, st.match[i + 1] + 1, limit);
  }
  if (t[i].is_ident("if") || t[i].is_ident("do") || t[i].is_ident("switch")) return Structure::npos;
  for (size_t j = i; j < limit; ++j) {
    if ((t[j].is_punct("(") || t[j].is_punct("[") || t[j].is_punct("{")) && st.match[j] != Structure::npos) {
      j = st.match[j];
      continue;
    }
    if (t[j].is_punct(";")) return j + 1;
  }
  return Structure::npos;
}

// An integer literal that C++ types as int or unsigned int: its value.
bool literal_32(const Token& tok, long long& value) {
  if (tok.kind != TokenKind::Number) return false;
  std::string s = tok.text;
  bool is_unsigned = false;
  if (!s.empty() && (s.back() == 'u' || s.back() == 'U')) {
    is_unsigned = true;
    s.pop_back();
  }
  if (s.empty() || s.find_first_not_of("0123456789abcdefABCDEFxX") != std::string::npos) return false;
  const bool decimal = !(s.size() > 1 && s[0] == '0');
  if (decimal && s.find_first_not_of("0123456789") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  if (v > (decimal && !is_unsigned ? 0x7FFFFFFFull : 0xFFFFFFFFull)) return false;
  value = static_cast<long long>(v);
  return true;
}

// A counter `for (T name = A; name < B; ++name)` (or `<=`, `name++`; T a 32-bit integer) of a
// loop whose body holds token `at` and leaves the counter alone: its values' range.
bool loop_counter_range(const std::vector<Token>& t, const Structure& st, const FunctionDef& f, size_t at,
                        const std::string& name, long long& lo, long long& hi) {
  for (size_t fi = at; fi-- > f.body_open + 1;) {
    if (!t[fi].is_ident("for") || !t[fi + 1].is_punct("(") || st.match[fi + 1] == Structure::npos) continue;
    const size_t close = st.match[fi + 1];
    if (close >= at) continue;
    const size_t end = statement_end(t, st, close + 1, f.body_close);
    if (end == Structure::npos || at >= end) continue;
    size_t i = fi + 2;
    bool is_unsigned = false;
    if (t[i].is_ident("unsigned")) {
      is_unsigned = true;
      ++i;
      if (t[i].is_ident("int")) ++i;
    } else if (t[i].is_ident("int") || t[i].is_ident("int32_t")) {
      ++i;
    } else if (t[i].is_ident("uint") || t[i].is_ident("uint32_t")) {
      is_unsigned = true;
      ++i;
    } else {
      continue;
    }
    if (!t[i].is_ident(name.c_str())) continue;
    // From here on this loop declares the name: it is the counter or nothing.
    auto signed_literal = [&](size_t& j, long long& v) {
      const bool neg = t[j].is_punct("-");
      if (neg) ++j;
      if (!literal_32(t[j], v)) return false;
      if (neg) v = -v;
      ++j;
      return true;
    };
    long long a = 0, b = 0;
    size_t j = i + 1;
    if (!t[j].is_punct("=")) return false;
    ++j;
    if (!signed_literal(j, a) || !t[j].is_punct(";") || !t[j + 1].is_ident(name.c_str())) return false;
    j += 2;
    const bool inclusive = t[j].is_punct("<=");
    if (!inclusive && !t[j].is_punct("<")) return false;
    ++j;
    if (!signed_literal(j, b) || !t[j].is_punct(";")) return false;
    ++j;
    const bool inc = (t[j].is_punct("++") && t[j + 1].is_ident(name.c_str())) ||
                     (t[j].is_ident(name.c_str()) && t[j + 1].is_punct("++"));
    if (!inc || j + 2 != close) return false;
    if (!inclusive) --b;
    if (is_unsigned && (a < 0 || b < 0)) return false;
    if (!stable(t, st, name, close + 1, end)) return false;
    lo = a;
    hi = b < a ? a : b;  // an empty range: the division never runs
    return true;
  }
  return false;
}

// The [[thread_position_in_grid]] parameter when it is a `uint`, `uint2` or `uint3`: its name
// and whether it is a vector.
bool position_param(const std::vector<Token>& t, const Structure& st, const FunctionDef& f, std::string& name,
                    bool& vector) {
  bool found = false;
  for_each_param(t, st, f, [&](size_t b, size_t, size_t attr) {
    if (attr != Structure::npos && attr == b + 2 && t[attr + 1].is_ident("thread_position_in_grid") &&
        t[attr + 2].is_punct("]]") && t[b + 1].kind == TokenKind::Identifier) {
      if (t[b].is_ident("uint") || t[b].is_ident("uint32_t")) {
        vector = false;
      } else if (t[b].is_ident("uint2") || t[b].is_ident("uint3")) {
        vector = true;
      } else {
        return false;  // another type: no split
      }
      name = t[b + 1].text;
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

// Operators after which `(...) % d` starts a dividend of its own (binary + and - need an
// operand before them; `*`, `/`, `%` would take the operand before into the dividend). Not
// `>>`: it may close template arguments, `f<vec<int, 2>>(t + c) % d` divides f's result.
bool starts_operand(const std::vector<Token>& t, size_t i) {
  const Token& p = t[i];
  static const char* ok[] = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "(",  "[", ",",
                             "?", ":",  "{",  ";",  "==", "!=", "<",  "<=", ">=", "&&",  "||",  "<<", "|", "^"};
  for (const char* o : ok)
    if (p.is_punct(o)) return true;
  if (p.is_ident("return")) return true;
  if ((p.is_punct("+") || p.is_punct("-") || p.is_punct("&")) && i > 0 && operand_end(t[i - 1])) return true;
  return false;
}

struct SplitMatch {
  size_t begin = 0;  // the dividend's first token
  size_t pos = 0;    // the position's first token, and its length
  size_t pos_len = 0;
  SplitSite site;
};

// The dividend ending before the operator at `op`, when it is `(t + c)` (or `t` alone).
bool match_split(const std::vector<Token>& t, const Structure& st, const FunctionDef& f, size_t op,
                 const std::string& pos, bool vector, const std::set<std::string>& params, SplitMatch& m) {
  const size_t plen = vector ? 3 : 1;
  auto is_pos = [&](size_t i) {
    return t[i].is_ident(pos.c_str()) && (!vector || (t[i + 1].is_punct(".") && t[i + 2].is_ident("x")));
  };
  size_t b, e;  // atoms in [b, e)
  if (t[op - 1].is_punct(")")) {
    const size_t open = st.match[op - 1];
    if (open == Structure::npos || open <= f.body_open) return false;
    m.begin = open;
    b = open + 1;
    e = op - 1;
  } else if (op >= plen + 1 && is_pos(op - plen)) {
    m.begin = op - plen;
    b = m.begin;
    e = op;
  } else {
    return false;
  }
  if (m.begin <= f.body_open || !starts_operand(t, m.begin - 1)) return false;
  bool saw_pos = false, first = true;
  size_t i = b;
  while (i < e) {
    int sign = 1;
    if (t[i].is_punct("+") || t[i].is_punct("-")) {
      sign = t[i].is_punct("-") ? -1 : 1;
      ++i;
    } else if (!first) {
      return false;
    }
    first = false;
    if (i >= e) return false;
    size_t next;
    long long v = 0, lo = 0, hi = 0;
    if (is_pos(i)) {
      if (sign != 1 || saw_pos) return false;
      saw_pos = true;
      m.pos = i;
      m.pos_len = plen;
      next = i + plen;
    } else if (literal_32(t[i], v)) {
      m.site.cmin += sign * v;
      m.site.cmax += sign * v;
      next = i + 1;
    } else if (t[i].kind == TokenKind::Identifier && params.count(t[i].text) &&
               stable(t, st, t[i].text, f.body_open + 1, f.body_close, true)) {
      SplitTerm term{sign, t[i].text, ""};
      next = i + 1;
      while (next + 1 < e && t[next].is_punct(".") && t[next + 1].kind == TokenKind::Identifier) {
        term.member += "." + t[next + 1].text;
        next += 2;
      }
      m.site.params.push_back(term);
    } else if (t[i].kind == TokenKind::Identifier && loop_counter_range(t, st, f, op, t[i].text, lo, hi)) {
      m.site.cmin += sign > 0 ? lo : -hi;
      m.site.cmax += sign > 0 ? hi : -lo;
      next = i + 1;
    } else {
      return false;
    }
    if (next < e && !t[next].is_punct("+") && !t[next].is_punct("-")) return false;
    i = next;
  }
  return saw_pos;
}

}  // namespace

std::map<std::string, FastDivision> add_fast_division(std::vector<Token>& toks, const std::set<std::string>& skip) {
  std::map<std::string, FastDivision> out;
  Structure st = analyze(toks);
  std::map<size_t, std::vector<Token>> insert_after;
  // Kernels are found by C++ name later: a name two definitions share (overloads, or the same
  // name in two namespaces) gets no copy.
  std::map<std::string, int> defined;
  for (const FunctionDef& f : st.functions) ++defined[f.name];
  for (const FunctionDef& f : st.functions) {
    if (f.enclosing != Scope::Namespace || f.body_close == 0 || f.name.empty() || !is_kernel(toks, f) ||
        skip.count(f.name) || defined[f.name] != 1)
      continue;
    std::set<std::string> params;
    if (!constant_reference_params(toks, st, f, params) || params.empty()) continue;
    // Splitting needs the thread's x position as a parameter the body leaves alone.
    std::string pos;
    bool vector = false;
    const bool can_split =
        position_param(toks, st, f, pos, vector) && stable(toks, st, pos, f.body_open + 1, f.body_close);
    // Divisors: `/` or `%` followed by a parameter, optionally `.member` after `.member`.
    struct Site {
      size_t begin, divisor, end;  // [begin, end) is replaced; the divisor starts at `divisor`
      bool split;
      SplitMatch m;
    };
    std::vector<Site> sites;
    FastDivision fd;
    for (size_t i = f.body_open + 1; i + 1 < f.body_close; ++i) {
      if (!toks[i].is_punct("/") && !toks[i].is_punct("%")) continue;
      if (toks[i - 1].is_ident("operator")) continue;
      const size_t j = i + 1;
      if (toks[j].kind != TokenKind::Identifier || !params.count(toks[j].text)) continue;
      size_t k = j + 1;
      std::string member;
      while (k + 1 < f.body_close && toks[k].is_punct(".") && toks[k + 1].kind == TokenKind::Identifier) {
        member += "." + toks[k + 1].text;
        k += 2;
      }
      if (k >= f.body_close || continues_operand(toks[k])) continue;
      std::pair<std::string, std::string> d{toks[j].text, member};
      if (std::find(fd.divisors.begin(), fd.divisors.end(), d) == fd.divisors.end()) fd.divisors.push_back(d);
      Site site{j, j, k, false, {}};
      // The entry divides by the argument's value: no local may hide it at this division.
      if (can_split && stable(toks, st, d.first, f.body_open + 1, f.body_close, true) &&
          match_split(toks, st, f, i, pos, vector, params, site.m)) {
        site.split = true;
        site.begin = site.m.begin;
        site.m.site.divisor = d;
        fd.splits.push_back(site.m.site);
      }
      sites.push_back(std::move(site));
    }
    if (sites.empty()) continue;
    fd.function = f.name + "__pm_fastdiv";
    // The copy: the definition without `kernel` and attributes, renamed, divisors wrapped.
    std::vector<Token> copy;
    size_t next_site = 0;
    auto emit = [&](const char* text, const Token& at) {
      for (Token& w : lex_generated(text, at)) copy.push_back(std::move(w));
    };
    for (size_t i = f.decl_begin; i <= f.body_close; ++i) {
      if (i < f.body_open) {
        if (toks[i].is_punct("[[") && st.match[i] != Structure::npos) {
          i = st.match[i];
          continue;
        }
        if (i < f.name_index && toks[i].is_ident("kernel")) continue;
        if (i == f.params_close && !fd.splits.empty()) emit(", uint pm_split_lo", toks[i]);
      }
      if (next_site < sites.size() && i == sites[next_site].begin) {
        const Site& s = sites[next_site++];
        if (!s.split) {
          emit("::metal::detail::fast_divisor(", toks[i]);
          for (size_t x = s.divisor; x < s.end; ++x) copy.push_back(toks[x]);
          emit(")", toks[s.end - 1]);
        } else {
          // split_rem(dividend, dividend at the run's first thread, divisor)
          emit(toks[s.divisor - 1].is_punct("%") ? "::metal::detail::split_rem(" : "::metal::detail::split_quo(",
               toks[i]);
          for (size_t x = s.begin; x + 1 < s.divisor; ++x) copy.push_back(toks[x]);
          emit(",", toks[i]);
          for (size_t x = s.begin; x + 1 < s.divisor; ++x) {
            if (x == s.m.pos) {
              emit("pm_split_lo", toks[x]);
              x += s.m.pos_len - 1;
              continue;
            }
            copy.push_back(toks[x]);
          }
          emit(",", toks[i]);
          for (size_t x = s.divisor; x < s.end; ++x) copy.push_back(toks[x]);
          emit(")", toks[s.end - 1]);
        }
        i = s.end - 1;
        continue;
      }
      Token t = toks[i];
      if (i == f.name_index) t.text = fd.function;
      copy.push_back(std::move(t));
    }
    // The copy starts a new declaration on a line of its own.
    copy.front().at_line_start = true;
    copy.front().space_before = true;
    insert_after[f.body_close] = std::move(copy);
    out[f.name] = std::move(fd);
  }
  if (out.empty()) return out;
  std::vector<Token> result;
  result.reserve(toks.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    result.push_back(toks[i]);
    auto a = insert_after.find(i);
    if (a != insert_after.end())
      result.insert(result.end(), std::make_move_iterator(a->second.begin()), std::make_move_iterator(a->second.end()));
  }
  toks = std::move(result);
  return out;
}

}  // namespace metallic::msl
