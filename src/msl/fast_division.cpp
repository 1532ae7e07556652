#include "msl/fast_division.h"

#include <algorithm>

#include "msl/structure.h"

namespace metallic::msl {
namespace {

bool is_kernel(const std::vector<Token>& t, const FunctionDef& f) {
  if (t[f.decl_begin].is_ident("template")) return false;
  for (size_t i = f.decl_begin; i < f.name_index; ++i)
    if (t[i].is_ident("kernel") || (t[i].is_punct("[[") && t[i + 1].is_ident("kernel"))) return true;
  return false;
}

// The names of the parameters bound to `constant T&` / `const device T&` (one value per
// dispatch: the CPU entry reads it once). False when a parameter has a function-constant
// attribute (the front end may remove it from the signature).
bool constant_reference_params(const std::vector<Token>& t, const Structure& st, const FunctionDef& f,
                               std::set<std::string>& names) {
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
    if (attr != Structure::npos)
      for (size_t i = attr; i < e; ++i)
        if (t[i].is_ident("function_constant")) return false;
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
    b = e + 1;
  }
  return true;
}

// Tokens after which an operand continues (a call, a subscript, a member, an increment): the
// divisor is then not just the parameter (or its member).
bool continues_operand(const Token& t) {
  return t.is_punct("(") || t.is_punct("[") || t.is_punct(".") || t.is_punct("->") || t.is_punct("::") ||
         t.is_punct("++") || t.is_punct("--") || t.is_punct("{") || t.is_punct(".*") || t.is_punct("->*");
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
    // Divisors: `/` or `%` followed by a parameter, optionally `.member` after `.member`.
    std::vector<std::pair<size_t, size_t>> sites;  // [first, end) of each divisor operand
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
      sites.emplace_back(j, k);
      std::pair<std::string, std::string> d{toks[j].text, member};
      if (std::find(fd.divisors.begin(), fd.divisors.end(), d) == fd.divisors.end()) fd.divisors.push_back(d);
    }
    if (sites.empty()) continue;
    fd.function = f.name + "__pm_fastdiv";
    // The copy: the definition without `kernel` and attributes, renamed, divisors wrapped.
    std::vector<Token> copy;
    size_t next_site = 0;
    for (size_t i = f.decl_begin; i <= f.body_close; ++i) {
      if (i < f.body_open) {
        if (toks[i].is_punct("[[") && st.match[i] != Structure::npos) {
          i = st.match[i];
          continue;
        }
        if (i < f.name_index && toks[i].is_ident("kernel")) continue;
      }
      if (next_site < sites.size() && i == sites[next_site].first) {
        for (Token& w : lex_generated("::metal::detail::fast_divisor(", toks[i])) copy.push_back(std::move(w));
      }
      Token t = toks[i];
      if (i == f.name_index) t.text = fd.function;
      copy.push_back(std::move(t));
      if (next_site < sites.size() && i + 1 == sites[next_site].second) {
        for (Token& w : lex_generated(")", toks[i])) copy.push_back(std::move(w));
        ++next_site;
      }
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
