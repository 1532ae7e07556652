#include "msl/call_graph.h"

#include <set>

namespace metallic::msl {
namespace {

// The class whose body holds token `at`, or "".
std::string enclosing_class(const std::vector<Token>& toks, const Structure& st, size_t at) {
  size_t j = at < st.brace.size() ? st.brace[at] : Structure::npos;
  if (j == Structure::npos || j + 1 >= toks.size() || st.scope[j + 1] != Scope::Class) return std::string();
  // `struct Name`, `class Name final : Base`, `template <...> struct Name<T*>`.
  for (size_t k = st.decl_begin[j]; k < j; ++k)
    if ((toks[k].is_ident("struct") || toks[k].is_ident("class") || toks[k].is_ident("union")) && k + 1 < j &&
        toks[k + 1].kind == TokenKind::Identifier)
      return toks[k + 1].text;
  return std::string();
}

}  // namespace

bool is_simd_function_use(const std::vector<Token>& toks, size_t i) {
  const std::string& w = toks[i].text;
  if (w.rfind("simdgroup_", 0) == 0) return w != "simdgroup_barrier";  // matrices and their operations
  bool call = i + 1 < toks.size() && (toks[i + 1].is_punct("(") || toks[i + 1].is_punct("<"));
  // Only calls: `simd_size` is a common variable name in MLX-style code.
  return call && (w.rfind("simd_", 0) == 0 || w.rfind("quad_", 0) == 0);
}

CallGraph::CallGraph(const std::vector<Token>& toks, const Structure& st) : toks_(toks), st_(st) {
  for (size_t i = 0; i < st.functions.size(); ++i) {
    const FunctionDef& f = st.functions[i];
    by_name_.emplace(f.name, i);
    if (f.enclosing == Scope::Class) {
      std::string cls = enclosing_class(toks, st, f.decl_begin);
      if (!cls.empty()) by_name_.emplace(cls, i);
    } else if (f.name == "operator") {
      always_.push_back(i);
    }
  }
  // `using Alias = ...;` and `typedef ... Alias;` outside functions.
  for (size_t i = 0; i + 2 < toks.size(); ++i) {
    if (st.scope[i] == Scope::Function || st.scope[i] == Scope::Initializer || !st.statement_start[i]) continue;
    bool is_using = toks[i].is_ident("using") && toks[i + 1].kind == TokenKind::Identifier && toks[i + 2].is_punct("=");
    if (!is_using && !toks[i].is_ident("typedef")) continue;
    size_t end = i;
    while (end < toks.size() && !toks[end].is_punct(";") && !toks[end].is_punct("{")) ++end;
    if (end >= toks.size() || !toks[end].is_punct(";") || end == i + 1) continue;
    std::string alias = is_using ? toks[i + 1].text : toks[end - 1].text;
    if (!is_using && toks[end - 1].kind != TokenKind::Identifier) continue;
    for (size_t k = is_using ? i + 3 : i + 1; k < end; ++k)
      if (toks[k].kind == TokenKind::Identifier) aliases_.emplace(alias, toks[k].text);
  }
}

SyncUse CallGraph::own(size_t fn) const {
  SyncUse u;
  const FunctionDef& f = st_.functions[fn];
  for (size_t i = f.body_open; i < f.body_close; ++i) {
    if (toks_[i].kind != TokenKind::Identifier) continue;
    const std::string& w = toks_[i].text;
    if (w == "threadgroup_barrier")
      u.threadgroup_barrier = true;
    else if (w == "simdgroup_barrier")
      u.simdgroup_barrier = true;
    else if (is_simd_function_use(toks_, i))
      u.simd_functions = true;
  }
  return u;
}

SyncUse CallGraph::callees(size_t fn) const {
  std::set<size_t> seen = {fn};
  std::vector<size_t> work;
  for (size_t i : always_)
    if (seen.insert(i).second) work.push_back(i);
  std::set<std::string> names_seen;
  auto reach = [&](const std::string& w) {
    if (!names_seen.insert(w).second) return;
    std::vector<std::string> names = {w};
    while (!names.empty()) {
      std::string n = names.back();
      names.pop_back();
      auto range = by_name_.equal_range(n);
      for (auto it = range.first; it != range.second; ++it)
        if (seen.insert(it->second).second) work.push_back(it->second);
      auto ar = aliases_.equal_range(n);
      for (auto it = ar.first; it != ar.second; ++it)
        if (names_seen.insert(it->second).second) names.push_back(it->second);
    }
  };
  auto scan = [&](size_t g) {
    const FunctionDef& f = st_.functions[g];
    if (f.body_close <= f.body_open) return;
    for (size_t i = f.decl_begin; i < f.body_close; ++i)
      if (toks_[i].kind == TokenKind::Identifier) reach(toks_[i].text);
  };
  scan(fn);
  SyncUse u;
  while (!work.empty()) {
    size_t g = work.back();
    work.pop_back();
    u |= own(g);
    scan(g);
  }
  return u;
}

}  // namespace metallic::msl
