#include "msl/call_graph.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

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

namespace {

SyncUse body_use(const std::vector<Token>& toks, const FunctionDef& f) {
  SyncUse u;
  for (size_t i = f.body_open; i < f.body_close; ++i) {
    if (toks[i].kind != TokenKind::Identifier) continue;
    const std::string& w = toks[i].text;
    if (w == "threadgroup_barrier")
      u.threadgroup_barrier = true;
    else if (w == "simdgroup_barrier")
      u.simdgroup_barrier = true;
    else if (is_simd_function_use(toks, i))
      u.simd_functions = true;
  }
  return u;
}

}  // namespace

// The graph: a node per function, per name that leads somewhere (a function, class or alias
// name) and one for "every namespace-scope operator". A function points to the names its
// declaration and body mention and to the operator node; a name to the functions it names
// (and the members of the class it names) and to the names its alias stands for. A function
// reaches what it reaches in this graph. Within a strongly connected component every member
// reaches every other, so callees(fn) is the use of the other members of fn's component
// together with everything the component reaches outside itself.
CallGraph::CallGraph(const std::vector<Token>& toks, const Structure& st) {
  const size_t functions = st.functions.size();
  std::unordered_map<std::string, std::vector<size_t>> by_name;       // -> functions
  std::unordered_map<std::string, std::vector<std::string>> aliases;  // alias -> names in it
  std::vector<size_t> always;                                         // namespace-scope operators
  for (size_t i = 0; i < functions; ++i) {
    const FunctionDef& f = st.functions[i];
    by_name[f.name].push_back(i);
    if (f.enclosing == Scope::Class) {
      std::string cls = enclosing_class(toks, st, f.decl_begin);
      if (!cls.empty()) by_name[cls].push_back(i);
    } else if (f.name == "operator") {
      always.push_back(i);
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
      if (toks[k].kind == TokenKind::Identifier) aliases[alias].push_back(toks[k].text);
  }

  const size_t operators = functions;  // the operator node
  std::vector<std::vector<size_t>> next(functions + 1);
  std::unordered_map<std::string, size_t> name_node;
  std::vector<std::string> names(functions + 1);           // of the name nodes
  auto node_of = [&](const std::string& name) -> size_t {  // npos: the name leads nowhere
    auto it = name_node.find(name);
    if (it != name_node.end()) return it->second;
    if (!by_name.count(name) && !aliases.count(name)) return Structure::npos;
    size_t n = next.size();
    name_node.emplace(name, n);
    next.emplace_back();
    names.push_back(name);
    return n;
  };
  next[operators] = always;
  for (size_t g = 0; g < functions; ++g) {
    next[g].push_back(operators);
    const FunctionDef& f = st.functions[g];
    if (f.body_close <= f.body_open) continue;
    std::unordered_set<size_t> mentioned;
    for (size_t i = f.decl_begin; i < f.body_close; ++i) {
      if (toks[i].kind != TokenKind::Identifier) continue;
      size_t n = node_of(toks[i].text);
      if (n != Structure::npos && mentioned.insert(n).second) next[g].push_back(n);
    }
  }
  // Name nodes, including those that aliases add while this runs.
  for (size_t n = functions + 1; n < next.size(); ++n) {
    const std::string name = names[n];
    if (auto it = by_name.find(name); it != by_name.end()) next[n] = it->second;
    if (auto it = aliases.find(name); it != aliases.end())
      for (const std::string& target : it->second)
        if (size_t t = node_of(target); t != Structure::npos) next[n].push_back(t);
  }

  own_.resize(functions);
  for (size_t g = 0; g < functions; ++g) own_[g] = body_use(toks, st.functions[g]);

  // Tarjan's strongly connected components, without recursion; a component is complete only
  // after every component it reaches, so one pass in that order sums up what each reaches.
  const size_t nodes = next.size(), none = Structure::npos;
  std::vector<size_t> index(nodes, none), low(nodes, 0), component(nodes, none), stack, edge(nodes, 0);
  std::vector<bool> on_stack(nodes, false);
  std::vector<SyncUse> reach;                // by component: its members' use and all it reaches
  std::vector<std::array<size_t, 3>> count;  // by component: members using each kind
  std::vector<SyncUse> outside;              // by component: what it reaches outside itself
  size_t counter = 0;
  std::vector<size_t> path;
  for (size_t root = 0; root < nodes; ++root) {
    if (index[root] != none) continue;
    path.push_back(root);
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!path.empty()) {
      size_t v = path.back();
      if (edge[v] < next[v].size()) {
        size_t w = next[v][edge[v]++];
        if (index[w] == none) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = true;
          path.push_back(w);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      path.pop_back();
      if (!path.empty()) low[path.back()] = std::min(low[path.back()], low[v]);
      if (low[v] != index[v]) continue;
      size_t c = reach.size();
      reach.emplace_back();
      count.push_back({0, 0, 0});
      outside.emplace_back();
      size_t w;
      std::vector<size_t> members;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component[w] = c;
        members.push_back(w);
      } while (w != v);
      for (size_t m : members) {
        if (m < functions) {
          reach[c] |= own_[m];
          count[c][0] += own_[m].threadgroup_barrier;
          count[c][1] += own_[m].simdgroup_barrier;
          count[c][2] += own_[m].simd_functions;
        }
        for (size_t t : next[m])
          if (component[t] != c) outside[c] |= reach[component[t]];
      }
      reach[c] |= outside[c];
    }
  }
  callees_.resize(functions);
  for (size_t g = 0; g < functions; ++g) {
    size_t c = component[g];
    SyncUse u = outside[c];
    const SyncUse& mine = own_[g];
    u.threadgroup_barrier |= count[c][0] > size_t(mine.threadgroup_barrier);
    u.simdgroup_barrier |= count[c][1] > size_t(mine.simdgroup_barrier);
    u.simd_functions |= count[c][2] > size_t(mine.simd_functions);
    callees_[g] = u;
  }
}

}  // namespace metallic::msl
