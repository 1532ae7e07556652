#include "msl/simdgroup_pairing.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "msl/structure.h"

namespace metallic::msl {
namespace {

constexpr size_t npos = Structure::npos;

std::optional<long long> integer_literal(const Token& tok) {
  if (tok.kind != TokenKind::Number) return std::nullopt;
  std::string s = tok.text;
  while (!s.empty() && (s.back() == 'u' || s.back() == 'U' || s.back() == 'l' || s.back() == 'L')) s.pop_back();
  if (s.empty() || s.find_first_of(".pP") != std::string::npos) return std::nullopt;
  bool hex = s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (!hex && s.find_first_of("eE") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (*end != '\0') return std::nullopt;
  return v;
}

struct Range {
  size_t b = 0, e = 0;  // [b, e)
};

struct Loop {
  size_t for_tok = 0, close = 0;
  std::string var;
  Range bound, step;
};

struct Call {
  bool load = false;  // simdgroup_load(D, src[, elements_per_row[, origin[, transpose]]]), else a product
  int n = 0;          // arguments
  Range args[5];
};

struct Nest {
  std::vector<Loop> loops;
  std::vector<Call> calls;
  Range body;  // the statements (inside the braces when braced)
  size_t end = 0;
};

// Constant names of one function: template non-type parameters and constexpr variables (value
// known when their initialiser evaluates), and the program's constexpr/constant variables.
struct Constants {
  const Constants* program = nullptr;  // seen unless a parameter of the function shadows it
  std::map<std::string, std::optional<long long>> own;
  std::set<std::string> shadowed;
  // nullptr: not a constant name; else its value where known.
  const std::optional<long long>* find(const std::string& name) const {
    auto it = own.find(name);
    if (it != own.end()) return &it->second;
    if (program && !shadowed.count(name)) return program->find(name);
    return nullptr;
  }
};

class Pairer {
 public:
  Pairer(const std::vector<Token>& toks, const Structure& st) : t_(toks), st_(st) {}

  std::vector<std::tuple<size_t, size_t, std::vector<Token>>> run() {
    for (const FunctionDef& f : st_.functions)
      if (f.name == "simdgroup_multiply_accumulate" || f.name == "simdgroup_load") return {};  // the program's own
    Constants program;
    for (size_t k = 0; k < t_.size(); ++k)
      if (st_.scope[k] == Scope::Namespace && st_.statement_start[k]) declarations(k, program, true);
    for (const FunctionDef& f : st_.functions) {
      if (f.body_open == 0 || f.body_close <= f.body_open) continue;
      Constants names;
      names.program = &program;
      for (size_t k = f.params_open; k < f.params_close; ++k) names.shadowed.insert(t_[k].text);
      template_parameters(f.decl_begin, f.name_index, names);
      bool class_names = false;
      for (size_t k = f.body_open + 1; k < f.body_close; ++k) {
        if (t_[k].is_ident("constexpr") && !t_[k - 1].is_ident("if")) declarations(k, names, false);
        if (!t_[k].is_ident("for")) continue;
        Nest n;
        if (!parse_nest(k, n) || n.end > f.body_close) continue;
        if (!class_names) class_names = (class_constants(f, program, names), true);
        if (rewrite(n, names)) k = n.end - 1;
      }
    }
    return std::move(out_);
  }

 private:
  const Token& at(size_t k) const {
    static const Token none;
    return k < t_.size() ? t_[k] : none;
  }
  std::string text(Range r) const {
    std::string s;
    for (size_t k = r.b; k < r.e; ++k) s += (s.empty() ? "" : " ") + t_[k].text;
    return s;
  }
  bool same(Range x, Range y) const {
    if (x.e - x.b != y.e - y.b) return false;
    for (size_t k = 0; k < x.e - x.b; ++k)
      if (t_[x.b + k].text != t_[y.b + k].text || t_[x.b + k].kind != t_[y.b + k].kind) return false;
    return true;
  }
  bool names(Range r, const std::string& name) const {
    for (size_t k = r.b; k < r.e; ++k)
      if (t_[k].kind == TokenKind::Identifier && t_[k].text == name) return true;
    return false;
  }
  // Past a bracket group starting at k (k itself otherwise).
  size_t skip_group(size_t k) const {
    const Token& tok = t_[k];
    if ((tok.is_punct("(") || tok.is_punct("[") || tok.is_punct("{") || tok.is_punct("[[")) && st_.match[k] != npos)
      return st_.match[k];
    return k;
  }

  // `constexpr T a = 4, b = a * 2;` (from the `constexpr`, or a program-scope statement led by
  // `constant`/`constexpr`/`static`/`const`): each declarator's name, value when it evaluates.
  void declarations(size_t k, Constants& names, bool program_scope) const {
    if (program_scope) {
      size_t j = k;
      bool constant = false;
      while (j < t_.size() && (t_[j].is_ident("static") || t_[j].is_ident("const") || t_[j].is_ident("constant") ||
                               t_[j].is_ident("constexpr"))) {
        constant = constant || !t_[j].is_ident("static");
        ++j;
      }
      if (!constant) return;
    }
    size_t piece = k + 1, eq = npos;
    for (size_t j = k + 1; j < t_.size(); ++j) {
      j = skip_group(j);
      const Token& tok = t_[j];
      if (tok.is_punct("{") || tok.is_punct("}")) return;  // a function or an initializer list
      if (tok.is_punct("=") && eq == npos) eq = j;
      if (tok.is_punct(",") || tok.is_punct(";")) {
        if (eq != npos && eq > piece && t_[eq - 1].kind == TokenKind::Identifier) {
          names.own[t_[eq - 1].text] = evaluate({eq + 1, j}, names);
        }
        piece = j + 1;
        eq = npos;
        if (tok.is_punct(";")) return;
      }
    }
  }

  // A member function defined in its class: the class's template parameters and constexpr members
  // (the function's own names win; the innermost class's over the outer ones). Read at the
  // function's first fragment loop only.
  void class_constants(const FunctionDef& f, const Constants& program, Constants& names) const {
    if (f.enclosing != Scope::Class) return;
    Constants found;
    found.program = &program;
    for (const ClassDef& c : st_.classes) {
      if (!(c.body_open < f.body_open && f.body_close < c.body_close)) continue;
      template_parameters(c.decl_begin, c.keyword, found);
      for (size_t k = c.body_open + 1; k < c.body_close; ++k)
        if (st_.brace[k] == c.body_open && t_[k].is_ident("constexpr")) declarations(k, found, false);
    }
    for (auto& [name, value] : found.own) names.own.emplace(name, value);
  }

  // The non-type parameters of `template <...>` at k (a function's or a class's), before `limit`.
  void template_parameters(size_t k, size_t limit, Constants& names) const {
    if (!at(k).is_ident("template") || !at(k + 1).is_punct("<")) return;
    int depth = 0;
    size_t piece = k + 2;
    for (size_t j = k + 1; j < limit; ++j) {
      j = skip_group(j);
      const Token& tok = t_[j];
      if (tok.is_punct("<")) ++depth;
      bool close = tok.is_punct(">") && --depth == 0;
      if ((tok.is_punct(",") && depth == 1) || close) {
        const Token& first = at(piece);
        if (!(first.is_ident("typename") || first.is_ident("class") || first.is_ident("template"))) {
          size_t last = npos;
          for (size_t q = piece; q < j && !t_[q].is_punct("="); ++q)
            if (t_[q].kind == TokenKind::Identifier) last = q;
          if (last != npos) names.own[t_[last].text] = std::nullopt;
        }
        piece = j + 1;
        if (close) return;
      }
    }
  }

  // Integer arithmetic of literals and known constants (+ - * / % parentheses), or nullopt.
  std::optional<long long> evaluate(Range r, const Constants& names) const {
    size_t k = r.b;
    auto v = sum(k, r.e, names);
    if (!v || k != r.e) return std::nullopt;
    return v;
  }
  std::optional<long long> sum(size_t& k, size_t e, const Constants& names) const {
    auto v = product(k, e, names);
    while (v && k < e && (t_[k].is_punct("+") || t_[k].is_punct("-"))) {
      bool plus = t_[k++].is_punct("+");
      auto w = product(k, e, names);
      if (!w) return std::nullopt;
      v = plus ? *v + *w : *v - *w;
    }
    return v;
  }
  std::optional<long long> product(size_t& k, size_t e, const Constants& names) const {
    auto v = unary(k, e, names);
    while (v && k < e && (t_[k].is_punct("*") || t_[k].is_punct("/") || t_[k].is_punct("%"))) {
      std::string op = t_[k++].text;
      auto w = unary(k, e, names);
      if (!w || (op != "*" && *w == 0)) return std::nullopt;
      v = op == "*" ? *v * *w : op == "/" ? *v / *w : *v % *w;
    }
    return v;
  }
  std::optional<long long> unary(size_t& k, size_t e, const Constants& names) const {
    if (k >= e) return std::nullopt;
    const Token& tok = t_[k];
    if (tok.is_punct("-") || tok.is_punct("+")) {
      ++k;
      auto v = unary(k, e, names);
      if (v && tok.is_punct("-")) *v = -*v;
      return v;
    }
    if (tok.is_punct("(")) {
      size_t close = st_.match[k];
      if (close == npos || close >= e) return std::nullopt;
      ++k;
      auto v = sum(k, close, names);
      if (!v || k != close) return std::nullopt;
      k = close + 1;
      return v;
    }
    ++k;
    if (tok.kind == TokenKind::Number) return integer_literal(tok);
    if (tok.kind == TokenKind::Identifier) {
      if (const std::optional<long long>* v = names.find(tok.text)) return *v;
    }
    return std::nullopt;
  }
  // Made only of literals, constant names and arithmetic.
  bool constant(Range r, const Constants& names) const {
    static const std::set<std::string> ops = {"+", "-", "*", "/", "%", "(", ")", "<<", ">>", "&", "|", "^", "~"};
    if (r.b == r.e) return false;
    for (size_t k = r.b; k < r.e; ++k) {
      const Token& tok = t_[k];
      if (tok.kind == TokenKind::Number) {
        if (!integer_literal(tok)) return false;
      } else if (tok.kind == TokenKind::Identifier) {
        if (!names.find(tok.text)) return false;
      } else if (!(tok.kind == TokenKind::Punct && ops.count(tok.text))) {
        return false;
      }
    }
    return true;
  }

  // for ( T v = 0 ; v < bound ; ++v | v++ | v += 1 )
  bool parse_loop(size_t f, Loop& l) const {
    static const std::set<std::string> types = {"int",      "uint",    "unsigned", "signed",  "short",
                                                "ushort",   "long",    "ulong",    "size_t",  "int32_t",
                                                "uint32_t", "int16_t", "uint16_t", "int64_t", "uint64_t"};
    if (!at(f).is_ident("for") || !at(f + 1).is_punct("(")) return false;
    size_t close = st_.match[f + 1];
    if (close == npos) return false;
    auto tok = [&](size_t k) -> const Token& {
      static const Token none;
      return k < close ? t_[k] : none;
    };
    size_t k = f + 2, n = 0;
    while (tok(k).kind == TokenKind::Identifier && types.count(tok(k).text)) ++k, ++n;
    if (n == 0 || n > 3 || tok(k).kind != TokenKind::Identifier || is_keyword(tok(k).text)) return false;
    l.var = tok(k).text;
    auto zero = integer_literal(tok(k + 2));
    if (!tok(k + 1).is_punct("=") || !zero || *zero != 0 || !tok(k + 3).is_punct(";")) return false;
    k += 4;
    if (!tok(k).is_ident(l.var.c_str()) || !tok(k + 1).is_punct("<")) return false;
    l.bound.b = k + 2;
    for (k = l.bound.b; k < close && !t_[k].is_punct(";"); ++k) k = skip_group(k);
    if (k >= close || k == l.bound.b) return false;
    l.bound.e = k;
    l.step = {k + 1, close};
    size_t s = k + 1, len = close - s;
    auto one = integer_literal(tok(s + 2));
    bool step = (len == 2 && tok(s).is_punct("++") && tok(s + 1).is_ident(l.var.c_str())) ||
                (len == 2 && tok(s).is_ident(l.var.c_str()) && tok(s + 1).is_punct("++")) ||
                (len == 3 && tok(s).is_ident(l.var.c_str()) && tok(s + 1).is_punct("+=") && one && *one == 1);
    if (!step) return false;
    l.for_tok = f;
    l.close = close;
    return true;
  }

  // [::][metal::]simdgroup_multiply_accumulate(C, A, B, C); or simdgroup_load(D, src, ...); at k:
  // its end, or npos.
  size_t parse_call(size_t k, Call& c) const {
    if (at(k).is_punct("::")) ++k;
    if (at(k).is_ident("metal") && at(k + 1).is_punct("::")) k += 2;
    c.load = at(k).is_ident("simdgroup_load");
    if (!(c.load || at(k).is_ident("simdgroup_multiply_accumulate")) || !at(k + 1).is_punct("(")) return npos;
    size_t open = k + 1, close = st_.match[open];
    if (close == npos || !at(close + 1).is_punct(";")) return npos;
    const int most = c.load ? 5 : 4;
    c.n = 0;
    size_t b = open + 1;
    for (size_t j = open + 1; j <= close; ++j) {
      j = skip_group(j);
      if (j == close || t_[j].is_punct(",")) {
        if (c.n == most || j == b) return npos;
        c.args[c.n++] = {b, j};
        b = j + 1;
      }
    }
    if (c.load ? c.n < 2 : c.n != 4) return npos;
    for (int a = 0; a < c.n; ++a) {
      for (size_t j = c.args[a].b; j < c.args[a].e; ++j) {
        const Token& tok = t_[j];
        // No side effects, calls or template argument lists (whose commas the split above ignores);
        // `T(x)` casts and ulong2(x, y) are calls too.
        bool call = tok.is_punct("(") && j > c.args[a].b && t_[j - 1].kind == TokenKind::Identifier;
        if (call && c.load && a == 3 && j == c.args[a].b + 1 && t_[j - 1].is_ident("ulong2")) call = false;
        if (tok.is_assignment() || tok.kind == TokenKind::Pragma || tok.is_punct("<") || tok.is_punct(">") ||
            tok.is_punct("<<") || tok.is_punct(">>") || tok.is_punct("{") || tok.is_punct("?") || call)
          return npos;
      }
    }
    if (!c.load && !same(c.args[0], c.args[3])) return npos;
    return close + 2;
  }

  size_t skip_pragmas(size_t k) const {
    while (k < t_.size() && t_[k].kind == TokenKind::Pragma) ++k;
    return k;
  }

  // The loop at f, the loops nested in it and the statements of the innermost one.
  bool parse_nest(size_t f, Nest& n) const {
    Loop l;
    if (!parse_loop(f, l)) return false;
    n.loops.push_back(l);
    size_t b = skip_pragmas(l.close + 1);
    if (at(b).is_ident("for")) return parse_nest(b, n);
    if (at(b).is_punct("{")) {
      size_t close = st_.match[b];
      if (close == npos) return false;
      size_t inner = skip_pragmas(b + 1);
      if (at(inner).is_ident("for")) {
        if (!parse_nest(inner, n) || n.end != close) return false;
        n.end = close + 1;
        return true;
      }
      n.body = {b + 1, close};
      for (size_t k = b + 1; k < close;) {
        Call c;
        size_t e = parse_call(k, c);
        if (e == npos || e > close) return false;
        n.calls.push_back(c);
        k = e;
      }
      n.end = close + 1;
      return !n.calls.empty();
    }
    Call c;
    size_t e = parse_call(b, c);
    if (e == npos) return false;
    n.calls.push_back(c);
    n.body = {b, e};
    n.end = e;
    return true;
  }

  // X in `v * X + w`: nothing that binds looser than `*` or changes the product's value.
  bool simple(Range r) const {
    for (size_t k = r.b; k < r.e; ++k) {
      if (t_[k].is_punct("(")) {
        k = skip_group(k);
      } else if (t_[k].kind == TokenKind::Punct && !t_[k].is_punct("*") && !t_[k].is_punct(".") &&
                 !t_[k].is_punct("::")) {
        return false;
      }
    }
    return true;
  }
  // C names v as a whole subscript, or as `v * X + w` with w a loop of the nest bounded by X.
  bool rows_differ(Range c, const std::string& v, const Nest& n) const {
    if (at(c.b).kind != TokenKind::Identifier) return false;
    size_t k = c.b + 1;
    bool found = false;
    while (k < c.e) {
      if (!t_[k].is_punct("[") || st_.match[k] == npos || st_.match[k] >= c.e) return false;
      size_t close = st_.match[k];
      Range in{k + 1, close};
      if (in.e - in.b == 1 && t_[in.b].is_ident(v.c_str())) found = true;
      if (in.e - in.b >= 5 && t_[in.b].is_ident(v.c_str()) && t_[in.b + 1].is_punct("*") &&
          t_[in.e - 2].is_punct("+") && t_[in.e - 1].kind == TokenKind::Identifier) {
        Range x{in.b + 2, in.e - 2};
        for (const Loop& l : n.loops)
          if (l.var == t_[in.e - 1].text && l.var != v && same(l.bound, x) && simple(x)) found = true;
      }
      k = close + 1;
    }
    return found;
  }

  std::vector<Token> gen(const std::string& s, size_t at_tok) const { return lex_generated(s, t_[at_tok]); }
  void append(std::vector<Token>& out, const std::vector<Token>& more) const {
    out.insert(out.end(), more.begin(), more.end());
  }
  // The tokens of r, v replaced by (v + 1).
  void copy(std::vector<Token>& out, Range r, const std::string& v) const {
    for (size_t k = r.b; k < r.e; ++k) {
      if (!v.empty() && t_[k].is_ident(v.c_str()))
        append(out, gen("(" + v + " + 1)", k));
      else
        out.push_back(t_[k]);
    }
  }

  bool rewrite(const Nest& n, const Constants& consts) {
    std::set<std::string> vars;
    for (const Loop& l : n.loops)
      if (!vars.insert(l.var).second) return false;
    for (const Loop& l : n.loops)
      for (const std::string& v : vars)
        if (names(l.bound, v)) return false;
    const bool load = n.calls[0].load;
    const Range c0 = n.calls[0].args[0];
    std::set<std::string> bases;  // the arrays written: no argument but the first names one
    for (const Call& c : n.calls) {
      if (c.load != load || (!load && !same(c.args[0], c0))) return false;
      bases.insert(t_[c.args[0].b].text);
    }
    for (const Call& c : n.calls)
      for (int a = 1; a < c.n; ++a)
        for (const std::string& b : bases)
          if ((load || a < 3) && names(c.args[a], b)) return false;
    for (const Loop& l : n.loops) {
      bool ok = true;
      for (const Call& c : n.calls) {
        ok = ok && rows_differ(c.args[0], l.var, n);
        if (!load) ok = ok && !names(c.args[2], l.var);  // B shared by the two rows
      }
      if (!ok) continue;
      bool literal = true;
      for (size_t k = l.bound.b; k < l.bound.e; ++k) literal = literal && t_[k].kind != TokenKind::Identifier;
      auto value = evaluate(l.bound, consts);
      if (value && *value % 2 != 0) continue;                           // odd: nothing to pair
      if (!(literal && value) && !constant(l.bound, consts)) continue;  // not a visible constant
      const bool guarded = !literal;  // a name may hide anything: the pairs under a test that folds
      const std::string even = "((" + text(l.bound) + ") % 2 == 0)";
      out_.emplace_back(l.step.b, l.step.e, gen(l.var + (guarded ? " += (" + even + " ? 2 : 1)" : " += 2"), l.step.b));
      std::vector<Token> body = gen(guarded ? "{ if (" + even + ") {" : "{", n.body.b);
      // Consecutive statements two by two (products: both into the same accumulators): one call each.
      for (size_t q = 0; q < n.calls.size(); q += 2) {
        const Call& c = n.calls[q];
        const Call* c2 = q + 1 < n.calls.size() ? &n.calls[q + 1] : nullptr;
        size_t at_tok = c.args[0].b;
        std::string name = load ? "simdgroup_load__pm_rows2" : "simdgroup_multiply_accumulate__pm_rows2";
        append(body, gen("::metal::" + name + (c2 ? "_k2(" : "("), at_tok));
        copy(body, c.args[0], "");
        append(body, gen(",", at_tok));
        copy(body, c.args[0], l.var);
        if (load) {  // the matrices, then their loads' other arguments
          if (c2) {
            append(body, gen(",", at_tok));
            copy(body, c2->args[0], "");
            append(body, gen(",", at_tok));
            copy(body, c2->args[0], l.var);
          }
          for (const Call* p : {&c, c2}) {
            if (!p) continue;
            for (const char* v : {"", "+"}) {
              append(body, gen(", ::metal::detail::sgm_load_args(", at_tok));
              for (int a = 1; a < p->n; ++a) {
                if (a > 1) append(body, gen(",", at_tok));
                copy(body, p->args[a], *v ? l.var : "");
              }
              append(body, gen(")", at_tok));
            }
          }
        } else {
          for (const Call* p : {&c, c2}) {
            if (!p) continue;
            append(body, gen(",", at_tok));
            copy(body, p->args[1], "");
            append(body, gen(",", at_tok));
            copy(body, p->args[1], l.var);
            append(body, gen(",", at_tok));
            copy(body, p->args[2], "");
          }
        }
        append(body, gen(");", at_tok));
      }
      if (guarded) {
        append(body, gen("} else {", n.body.b));
        copy(body, n.body, "");
        append(body, gen("}", n.body.b));
      }
      append(body, gen("}", n.body.b));
      out_.emplace_back(n.body.b, n.body.e, std::move(body));
      return true;
    }
    return false;
  }

  const std::vector<Token>& t_;
  const Structure& st_;
  std::vector<std::tuple<size_t, size_t, std::vector<Token>>> out_;
};

}  // namespace

int pair_simdgroup_products(std::vector<Token>& toks) {
  bool any = false;
  for (const Token& tok : toks)
    any = any || tok.is_ident("simdgroup_multiply_accumulate") || tok.is_ident("simdgroup_load");
  if (!any) return 0;
  Structure st = analyze(toks);
  auto edits = Pairer(toks, st).run();
  if (edits.empty()) return 0;
  std::sort(edits.begin(), edits.end(), [](const auto& x, const auto& y) { return std::get<0>(x) < std::get<0>(y); });
  std::vector<Token> out;
  out.reserve(toks.size() + 64 * edits.size());
  size_t k = 0;
  for (auto& [b, e, repl] : edits) {
    out.insert(out.end(), toks.begin() + k, toks.begin() + b);
    out.insert(out.end(), repl.begin(), repl.end());
    k = e;
  }
  out.insert(out.end(), toks.begin() + k, toks.end());
  toks = std::move(out);
  return int(edits.size() / 2);
}

}  // namespace metallic::msl
