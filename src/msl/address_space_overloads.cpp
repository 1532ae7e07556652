#include "msl/address_space_overloads.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "msl/kernel_params.h"
#include "msl/structure.h"

namespace metallic::msl {
namespace {

constexpr size_t npos = Structure::npos;

void append(std::vector<Token>& out, std::vector<Token> more) {
  out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

// Where a parameter points. Values (not pointers or references) point nowhere.
enum class Space { Value, Thread, Threadgroup, Device, Constant };

char letter(Space s) {
  switch (s) {
    case Space::Value:
      return 'x';
    case Space::Thread:
      return 't';
    case Space::Threadgroup:
      return 'g';
    case Space::Device:
      return 'd';
    case Space::Constant:
      return 'c';
  }
  return 'x';
}

// What the runtime can tell apart: device and constant buffers look alike.
int runtime_class(Space s) { return s == Space::Constant ? static_cast<int>(Space::Device) : static_cast<int>(s); }

const char* runtime_check(Space s) {
  switch (s) {
    case Space::Thread:
      return "::metal::detail::in_thread_memory";
    case Space::Threadgroup:
      return "::metal::detail::in_threadgroup_memory";
    default:
      return "::metal::detail::in_device_memory";
  }
}

bool is_type_word(const std::string& w) {
  static const std::set<std::string> kWords = {"int",    "uint",   "float",  "half", "bool",  "char",
                                               "uchar",  "short",  "ushort", "long", "ulong", "unsigned",
                                               "signed", "size_t", "bfloat", "void", "auto"};
  return kWords.count(w) > 0;
}

struct Param {
  size_t begin = 0, end = 0;  // its tokens, the default argument excluded
  size_t default_end = 0;     // end of the default argument (== end when there is none)
  size_t name = npos;         // its name, when it has one
  size_t name_at = 0;         // where a name goes when it has none
  Space space = Space::Value;
  bool is_reference = false;
  std::string erased_type;  // the C++ type after erasure, for comparing signatures
};

struct Overload {
  const FunctionDef* def = nullptr;
  std::vector<Param> params;
  std::vector<std::string> template_params;  // names to forward (`T`, `N`, `Ts...`)
  size_t header_begin = 0;                   // first token after the template head
  std::string key;                           // equal for overloads that collide once erased
  std::string renamed;
};

class OverloadResolver {
 public:
  explicit OverloadResolver(std::vector<Token>& t) : t_(t), st_(analyze(t)) {}

  bool run() {
    std::map<std::string, std::vector<Overload>> groups;
    std::vector<std::string> order;
    for (const FunctionDef& f : st_.functions) {
      Overload o;
      if (!describe(f, o)) continue;
      auto& g = groups[o.key];
      if (g.empty()) order.push_back(o.key);
      g.push_back(std::move(o));
    }
    std::map<size_t, std::string> rename;        // name token -> new name
    std::map<size_t, std::string> insert_after;  // token -> text after it
    std::map<size_t, std::string> insert_before;
    for (const std::string& key : order) {
      std::vector<Overload>& g = groups[key];
      if (g.size() < 2 || !distinct_signatures(g)) continue;
      check_distinguishable(g);
      for (Overload& o : g) {
        o.renamed = o.def->name + "__pm_as_";
        for (const Param& p : o.params) o.renamed += letter(p.space);
        rename[o.def->name_index] = o.renamed;
      }
      const Overload& last = g.back();
      if (last.def->enclosing == Scope::Namespace)  // callers between the overloads need a declaration
        insert_before[g.front().def->decl_begin] += dispatcher_head(last, true) + ";\n";
      insert_after[last.def->body_close] += dispatcher_head(last, false) + dispatcher_body(g);
    }
    if (rename.empty()) return false;
    std::vector<Token> out;
    out.reserve(t_.size() + 256);
    for (size_t i = 0; i < t_.size(); ++i) {
      if (auto b = insert_before.find(i); b != insert_before.end()) append(out, lex_generated(b->second, t_[i]));
      out.push_back(t_[i]);
      if (auto r = rename.find(i); r != rename.end()) out.back().text = r->second;
      if (auto a = insert_after.find(i); a != insert_after.end()) append(out, lex_generated(a->second, t_[i]));
    }
    t_ = std::move(out);
    return true;
  }

 private:
  // Fills `o` for a function that could be overloaded on address spaces.
  bool describe(const FunctionDef& f, Overload& o) {
    if (f.name.empty() || f.name == "operator" || f.body_close == 0) return false;
    size_t n = f.name_index;
    if (n > 0 && (t_[n - 1].is_punct("::") || t_[n - 1].is_punct("~"))) return false;
    o.def = &f;
    o.header_begin = template_head(f, o.template_params);
    if (o.header_begin == npos) return false;
    for (size_t i = o.header_begin; i < n; ++i)
      if (t_[i].is_ident("kernel") || (t_[i].is_punct("[[") && i + 1 < n && t_[i + 1].is_ident("kernel")))
        return false;  // kernels are not called, so never overloaded
    std::string key = std::to_string(enclosing_brace(f.decl_begin)) + "|" + f.name + "|";
    for (size_t i = f.decl_begin; i < o.header_begin; ++i) key += t_[i].text + " ";
    key += "(";
    bool any_pointer = false;
    for (auto [b, e] : split_params(t_, st_, f.params_open, f.params_close)) {
      Param p = parse_param(b, e);
      if (p.name == npos && p.name_at == npos) return false;  // `...` packs and the like: leave alone
      any_pointer = any_pointer || p.space != Space::Value;
      key += p.erased_type + ",";
      o.params.push_back(p);
    }
    key += ")";
    for (size_t i = f.params_close + 1; i < f.body_open; ++i) {
      if (t_[i].is_punct(":")) return false;  // a constructor's initialisers
      if (!is_address_space(t_[i])) key += " " + t_[i].text;
    }
    o.key = key;
    return any_pointer;
  }

  // The names of the template parameters of `f`, and the index after its template head;
  // npos when they cannot be forwarded (an unnamed parameter, several heads).
  size_t template_head(const FunctionDef& f, std::vector<std::string>& names) const {
    size_t i = f.decl_begin;
    if (!(t_[i].is_ident("template") && i + 1 < t_.size() && t_[i + 1].is_punct("<"))) return i;
    int depth = 0;
    size_t start = i + 2;
    for (size_t j = i + 1; j < f.name_index; ++j) {
      const Token& t = t_[j];
      if ((t.is_punct("(") || t.is_punct("[") || t.is_punct("{")) && st_.match[j] != npos) {
        j = st_.match[j];
        continue;
      }
      if (t.is_punct("<")) ++depth;
      bool close = t.is_punct(">") && depth == 1;
      if (t.is_punct(">")) --depth;
      if (t.is_punct(">>")) return npos;
      if ((t.is_punct(",") && depth == 1) || close) {
        if (j > start) {
          std::string name = template_param_name(start, j);
          if (name.empty()) return npos;
          names.push_back(name);
        }
        start = j + 1;
      }
      if (close) return t_[j + 1].is_ident("template") ? npos : j + 1;
    }
    return npos;
  }

  // `typename T = float` -> "T"; `int N` -> "N"; `typename... Ts` -> "Ts...".
  std::string template_param_name(size_t b, size_t e) const {
    size_t end = e;
    for (size_t k = b; k < e; ++k)
      if (t_[k].is_punct("=")) {
        end = k;
        break;
      }
    if (end - b < 2 || t_[end - 1].kind != TokenKind::Identifier) return "";
    bool pack = t_[end - 2].is_punct("...");
    return t_[end - 1].text + (pack ? "..." : "");
  }

  Param parse_param(size_t b, size_t e) const {
    Param p;
    p.begin = b;
    p.end = e;
    p.default_end = e;
    for (size_t k = b; k < e; ++k) {
      if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("[[")) && st_.match[k] != npos) {
        k = st_.match[k];
        continue;
      }
      if (t_[k].is_punct("=")) {
        p.end = k;
        break;
      }
    }
    const char* space_word = nullptr;
    bool indirect = false;
    for (size_t k = b; k < p.end; ++k) {
      const Token& t = t_[k];
      if (t.is_punct("...")) {
        p.name = p.name_at = npos;
        return p;
      }
      if ((t.is_punct("(") || t.is_punct("[")) && st_.match[k] != npos) {
        k = st_.match[k];
        continue;
      }
      if (t.is_punct("*") || t.is_punct("&") || t.is_punct("&&")) indirect = true;
      if (t.is_punct("&") || t.is_punct("&&")) p.is_reference = true;
      if (is_address_space(t) && !space_word && !(k > b && t_[k - 1].is_punct("::"))) space_word = t.text.c_str();
    }
    if (indirect) {
      std::string w = space_word ? space_word : "thread";
      p.space = w == "device"        ? Space::Device
                : w == "constant"    ? Space::Constant
                : w == "threadgroup" ? Space::Threadgroup
                                     : Space::Thread;
    }
    // The name: the last identifier before any array bounds, when something precedes it.
    size_t k = p.end;
    while (k > b && t_[k - 1].is_punct("]") && st_.match[k - 1] != npos) k = st_.match[k - 1];
    p.name_at = k;
    if (k > b + 1 && t_[k - 1].kind == TokenKind::Identifier && !is_type_word(t_[k - 1].text) &&
        !is_keyword(t_[k - 1].text) && !t_[k - 2].is_punct("::"))
      p.name = k - 1;
    std::vector<Token> type;
    for (size_t j = b; j < p.end; ++j)
      if (j != p.name) type.push_back(t_[j]);
    p.erased_type = cxx_type_text(type);
    return p;
  }

  // The '{' that opens the scope around token i (npos at file scope).
  size_t enclosing_brace(size_t i) const { return i < st_.brace.size() ? st_.brace[i] : npos; }

  static bool distinct_signatures(const std::vector<Overload>& g) {
    std::set<std::string> seen;
    for (const Overload& o : g) {
      std::string s;
      for (const Param& p : o.params) s += letter(p.space);
      if (!seen.insert(s).second) return false;  // a plain redefinition: the compiler says so
    }
    return true;
  }

  void check_distinguishable(const std::vector<Overload>& g) const {
    for (size_t a = 0; a < g.size(); ++a)
      for (size_t b = a + 1; b < g.size(); ++b) {
        bool differ = false;
        for (size_t p = 0; p < g[a].params.size(); ++p)
          differ = differ || runtime_class(g[a].params[p].space) != runtime_class(g[b].params[p].space);
        if (!differ)
          fail(t_[g[b].def->name_index].location(),
               "'" + g[b].def->name + "' here and at line " + std::to_string(t_[g[a].def->name_index].line) +
                   " are overloads that differ only between the device and constant address spaces; pymetallic "
                   "cannot tell those apart (both are GPU buffers): give them different names");
      }
  }

  std::string text(size_t b, size_t e) const {
    std::string s;
    for (size_t i = b; i < e; ++i) s += t_[i].text + " ";
    return s;
  }

  static std::string arg_name(size_t k) { return "pm_as_arg" + std::to_string(k); }

  // `template <...> static inline R name(params) const` of the dispatcher, from one overload.
  std::string dispatcher_head(const Overload& o, bool with_defaults) const {
    const FunctionDef& f = *o.def;
    std::string s = text(f.decl_begin, f.name_index) + f.name + "(";
    for (size_t k = 0; k < o.params.size(); ++k) {
      const Param& p = o.params[k];
      if (k) s += ", ";
      if (p.name != npos)
        s += text(p.begin, p.name) + arg_name(k) + " " + text(p.name + 1, p.end);
      else
        s += text(p.begin, p.name_at) + arg_name(k) + " " + text(p.name_at, p.end);
      if (with_defaults || f.enclosing != Scope::Namespace) s += text(p.end, p.default_end);
    }
    return s + ")" + text(f.params_close + 1, f.body_open);
  }

  std::string call(const Overload& o) const {
    std::string s = o.renamed;
    if (!o.template_params.empty()) {
      s += "<";
      for (size_t i = 0; i < o.template_params.size(); ++i) s += (i ? ", " : "") + o.template_params[i];
      s += ">";
    }
    s += "(";
    for (size_t k = 0; k < o.params.size(); ++k) s += (k ? ", " : "") + arg_name(k);
    return s + ")";
  }

  // Tries each overload but the last by where its pointer arguments point; the last one is
  // what remains.
  std::string dispatcher_body(const std::vector<Overload>& g) const {
    std::string s = " {\n";
    for (size_t i = 0; i + 1 < g.size(); ++i) {
      std::string cond;
      for (size_t k = 0; k < g[i].params.size(); ++k) {
        const Param& p = g[i].params[k];
        bool discriminating = false;
        for (const Overload& other : g)
          discriminating = discriminating || runtime_class(other.params[k].space) != runtime_class(p.space);
        if (!discriminating || p.space == Space::Value) continue;
        std::string where = p.is_reference ? "::metal::detail::address_of(" + arg_name(k) + ")" : arg_name(k);
        cond += std::string(cond.empty() ? "" : " && ") + runtime_check(p.space) + "(" + where + ")";
      }
      s += "  if (" + cond + ") return " + call(g[i]) + ";\n";
    }
    return s + "  return " + call(g.back()) + ";\n}\n";
  }

  std::vector<Token>& t_;
  Structure st_;
};

// Definitions that become one function once address spaces are erased: the same scope, name,
// parameter types and qualifiers, `this` included (the `thread`, `device` and `threadgroup`
// versions of an array wrapper's operator[] or constructor; an index helper written once for
// `device` and once for `constant` pointers). When their bodies are the same too they are one
// function, and all but the first are removed. Member functions that differ only in the address
// space of `this` but have different bodies cannot be kept apart, and are refused.
class ErasedDuplicates {
 public:
  explicit ErasedDuplicates(std::vector<Token>& t) : t_(t), st_(analyze(t)) {}

  void run() {
    struct Def {
      size_t index;
      size_t end;  // the body's '}'
      std::string body;
      std::string this_spaces;
    };
    std::map<std::string, std::vector<Def>> groups;
    for (size_t fi = 0; fi < st_.functions.size(); ++fi) {
      const FunctionDef& f = st_.functions[fi];
      if (f.name.empty() || f.body_close == 0 || f.params_close == 0 || is_kernel(f)) continue;
      std::map<size_t, std::string> names;
      size_t k = 0;
      for (auto [b, e] : split_params(t_, st_, f.params_open, f.params_close)) {
        size_t n = param_name(b, e);
        if (n != npos) names[n] = "@" + std::to_string(k);
        ++k;
      }
      size_t header_end = f.body_open;  // a constructor's initialisers belong to its body
      std::string this_spaces;
      for (size_t i = f.params_close + 1; i < f.body_open; ++i) {
        if (t_[i].is_punct(":")) {
          header_end = i;
          break;
        }
        if (is_address_space(t_[i])) this_spaces += t_[i].text + " ";
      }
      size_t end = header_end == f.body_open ? f.body_close : constructor_end(f);
      // After the parameters, the qualifiers of `this` lose their address spaces, as the emitted
      // code does (`S(...) constant {` is the constructor `S(...) thread {` is).
      std::string sig = std::to_string(enclosing_brace(f.decl_begin)) + "|" +
                        canonical(f.decl_begin, f.params_close + 1, names, false);
      for (size_t q = f.params_close + 1; q < header_end; ++q)
        if (!is_address_space(t_[q])) sig += t_[q].text + " ";
      groups[sig].push_back({fi, end, canonical(header_end, end + 1, names, true), this_spaces});
    }
    std::vector<std::pair<size_t, size_t>> removed;  // token ranges [first, last]
    defaulted_members(removed);
    for (auto& [sig, defs] : groups) {
      if (defs.size() < 2) continue;
      std::vector<const Def*> kept;
      for (const Def& d : defs) {
        bool same = false;
        for (const Def* k : kept) same = same || k->body == d.body;
        const FunctionDef& f = st_.functions[d.index];
        if (same)
          removed.push_back({f.decl_begin, d.end});
        else
          kept.push_back(&d);
      }
      for (size_t a = 1; a < kept.size(); ++a) {
        if (kept[a]->this_spaces == kept[0]->this_spaces) continue;
        const FunctionDef& f0 = st_.functions[kept[0]->index];
        const FunctionDef& f = st_.functions[kept[a]->index];
        std::string name = f.name == "operator" ? "this operator" : "'" + f.name + "'";
        fail(t_[f.name_index].location(),
             name + " here and at line " + std::to_string(t_[f0.name_index].line) +
                 " differ only in the address space of 'this' but have different bodies; pymetallic erases "
                 "address spaces, so overloads on the address space of 'this' must have the same body");
      }
    }
    if (removed.empty()) return;
    std::sort(removed.begin(), removed.end());
    std::vector<Token> out;
    out.reserve(t_.size());
    size_t r = 0;
    for (size_t i = 0; i < t_.size(); ++i) {
      while (r < removed.size() && removed[r].second < i) ++r;
      if (r < removed.size() && i >= removed[r].first && i <= removed[r].second) continue;
      out.push_back(t_[i]);
    }
    t_ = std::move(out);
  }

 private:
  // Member declarations without a body, `= default;` or `= delete;` (`S(const thread S&) thread =
  // default;` next to its `constant` and `device` twins): those that are the same once address
  // spaces are erased are one declaration; all but the first are removed.
  void defaulted_members(std::vector<std::pair<size_t, size_t>>& removed) const {
    std::set<std::string> seen;
    for (size_t end = 2; end < t_.size(); ++end) {
      if (!t_[end].is_punct(";") || st_.scope[end] != Scope::Class) continue;
      if (!(t_[end - 2].is_punct("=") && (t_[end - 1].is_ident("default") || t_[end - 1].is_ident("delete")))) continue;
      // Back to the declaration's first token: after the previous `;`, `{`, `}` or access label.
      size_t i = end - 2;
      while (i > 0) {
        const Token& p = t_[i - 1];
        if ((p.is_punct(")") || p.is_punct("]") || p.is_punct("]]")) && st_.match[i - 1] != npos) {
          i = st_.match[i - 1];
          continue;
        }
        if (p.is_punct(";") || p.is_punct("{") || p.is_punct("}")) break;
        if (p.is_punct(":") && i >= 2 &&
            (t_[i - 2].is_ident("public") || t_[i - 2].is_ident("private") || t_[i - 2].is_ident("protected")))
          break;
        --i;
      }
      // The parameter list: the last ( ) before the qualifiers of `this`.
      size_t close = end - 2;
      while (close > i && !t_[close].is_punct(")")) --close;
      std::map<size_t, std::string> names;
      if (t_[close].is_punct(")") && st_.match[close] != npos) {
        size_t k = 0;
        for (auto [b, e] : split_params(t_, st_, st_.match[close], close)) {
          size_t n = param_name(b, e);
          if (n != npos) names[n] = "@" + std::to_string(k);
          ++k;
        }
      }
      // The qualifiers of `this` lose their address space (`S() constant = default;` is the
      // constructor `S() thread = default;` is: `constant` there is no const).
      size_t quals = t_[close].is_punct(")") ? close + 1 : end - 2;
      std::string key = std::to_string(enclosing_brace(i)) + "|" + canonical(i, quals, names, false);
      for (size_t q = quals; q <= end; ++q)
        if (!is_address_space(t_[q])) key += t_[q].text + " ";
      if (!seen.insert(key).second) removed.push_back({i, end});
    }
  }

  bool is_kernel(const FunctionDef& f) const {
    for (size_t i = f.decl_begin; i < f.name_index; ++i)
      if (t_[i].is_ident("kernel") || (t_[i].is_punct("[[") && i + 1 < f.name_index && t_[i + 1].is_ident("kernel")))
        return true;
    return false;
  }

  // The '}' closing a constructor's body. The structure analysis takes the first '{' after the
  // parameters for the body, which is a member's braced initialiser in `A() : v{} {}`.
  size_t constructor_end(const FunctionDef& f) const {
    size_t end = f.body_close;
    for (size_t k = f.body_close + 1; k < t_.size();) {
      if (t_[k].is_punct("{") && st_.match[k] != npos) return st_.match[k];
      if (!t_[k].is_punct(",")) return end;
      ++k;  // the next initialiser: a name, then its ( ) or { }
      while (k < t_.size() && !t_[k].is_punct("(") && !t_[k].is_punct("{")) ++k;
      if (k >= t_.size() || st_.match[k] == npos) return end;
      end = st_.match[k];
      k = end + 1;
    }
    return end;
  }

  // The name of the parameter [b, e), or npos.
  size_t param_name(size_t b, size_t e) const {
    size_t end = e;
    for (size_t k = b; k < e; ++k) {
      if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("[[")) && st_.match[k] != npos) {
        k = st_.match[k];
        continue;
      }
      if (t_[k].is_punct("=")) {
        end = k;
        break;
      }
    }
    while (end > b && t_[end - 1].is_punct("]") && st_.match[end - 1] != npos) end = st_.match[end - 1];
    if (end > b + 1 && t_[end - 1].kind == TokenKind::Identifier && !is_type_word(t_[end - 1].text) &&
        !is_keyword(t_[end - 1].text) && !is_address_space(t_[end - 1]) && !t_[end - 2].is_punct("::"))
      return end - 1;
    return npos;
  }

  bool erasable(size_t i, bool in_body) const {
    if (!is_address_space(t_[i])) return false;
    if (i > 0 && (t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->") || t_[i - 1].is_punct("::"))) return false;
    if (i + 1 < t_.size() && t_[i + 1].is_punct("::")) return false;
    return !(in_body && t_[i].text == "threadgroup" && st_.statement_start[i]);  // storage, not a type
  }

  // The tokens [b, e) as text with address spaces erased: each run of cv-qualifiers and address
  // spaces becomes its const/volatile (`constant` counting as const); parameter names become @k.
  std::string canonical(size_t b, size_t e, const std::map<size_t, std::string>& names, bool in_body) const {
    std::string s;
    for (size_t i = b; i < e; ++i) {
      if (erasable(i, in_body) || t_[i].is_ident("const") || t_[i].is_ident("volatile")) {
        bool c = false, v = false;
        size_t j = i;
        for (; j < e && (erasable(j, in_body) || t_[j].is_ident("const") || t_[j].is_ident("volatile")); ++j) {
          c = c || t_[j].is_ident("const") || t_[j].is_ident("constant");
          v = v || t_[j].is_ident("volatile");
        }
        s += std::string(c ? "const " : "") + (v ? "volatile " : "");
        i = j - 1;
        continue;
      }
      auto n = names.find(i);
      s += (n != names.end() ? n->second : t_[i].text) + " ";
    }
    return s;
  }

  size_t enclosing_brace(size_t i) const { return i < st_.brace.size() ? st_.brace[i] : npos; }

  std::vector<Token>& t_;
  Structure st_;
};

}  // namespace

bool resolve_address_space_overloads(std::vector<Token>& toks) {
  ErasedDuplicates(toks).run();
  return OverloadResolver(toks).run();
}

}  // namespace metallic::msl
