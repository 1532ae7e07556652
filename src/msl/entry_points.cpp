#include "msl/entry_points.h"

#include "msl/call_graph.h"

#include <map>
#include <optional>
#include <set>

#include "msl/macros.h"

namespace metallic::msl {
namespace {

struct KernelMarks {
  bool kernel = false;
  int max_threads = 0;
  std::vector<Token> max_threads_args;  // when the translator cannot evaluate them
  std::string host_name;
};

// Looks through a declaration header for `kernel` and the function attributes MSL puts on kernels.
KernelMarks header_marks(const std::vector<Token>& toks, const Structure& st, size_t begin, size_t end) {
  KernelMarks m;
  for (size_t i = begin; i < end; ++i) {
    if (toks[i].is_ident("kernel")) m.kernel = true;
    if (!toks[i].is_punct("[[")) continue;
    for (const Attribute& a : parse_attributes(toks, i, st.match[i])) {
      if (a.name == "kernel")
        m.kernel = true;
      else if (a.name == "max_total_threads_per_threadgroup") {
        try {
          m.max_threads = attribute_int(a);
        } catch (const TranslationError&) {
          // `BM * BN * 32` with template parameters, or a constexpr only C++ knows: C++ evaluates it.
          if (a.args.empty()) throw;
          m.max_threads_args = a.args;
        }
      } else if (a.name == "host_name") {
        if (a.args.size() != 1 || a.args[0].kind != TokenKind::String)
          fail(a.where, "host_name expects a string literal");
        m.host_name = a.args[0].text.substr(1, a.args[0].text.size() - 2);
      }
    }
    i = st.match[i];
  }
  return m;
}

int max_index(ArgKind kind) {
  switch (kind) {
    case ArgKind::Texture:
      return 127;
    case ArgKind::Sampler:
      return 15;
    default:
      return 30;
  }
}

const char* kind_word(ArgKind kind) {
  switch (kind) {
    case ArgKind::Buffer:
      return "buffer";
    case ArgKind::Threadgroup:
      return "threadgroup";
    case ArgKind::Texture:
      return "texture";
    case ArgKind::Sampler:
      return "sampler";
    default:
      return "builtin";
  }
}

// The return type of a kernel: every identifier of the header except specifiers and attributes.
void check_returns_void(const std::vector<Token>& toks, const Structure& st, const FunctionDef& f) {
  std::string ret;
  for (size_t i = f.decl_begin; i < f.name_index; ++i) {
    const Token& t = toks[i];
    if (t.is_punct("[[") || t.is_punct("(")) {
      i = st.match[i];
      continue;
    }
    if (t.is_ident("kernel") || t.is_ident("static") || t.is_ident("inline") || t.is_ident("extern") ||
        t.is_ident("__attribute__") || t.kind == TokenKind::Pragma) {
      continue;
    }
    if (t.is_ident("template") && i + 1 < f.name_index && toks[i + 1].is_punct("<")) {
      int depth = 0;
      for (++i; i < f.name_index; ++i) {
        if (toks[i].is_punct("<")) ++depth;
        if (toks[i].is_punct(">") && --depth == 0) break;
        if (toks[i].is_punct(">>") && (depth -= 2) <= 0) break;
      }
      continue;
    }
    ret += (ret.empty() ? "" : " ") + t.text;
  }
  if (ret != "void") {
    fail(toks[f.name_index].location(),
         "kernel function '" + f.name + "' must return void, not '" + (ret.empty() ? "int" : ret) + "'");
  }
}

// The end (one past) of the statement starting at b, for the simple shapes: a block, or
// tokens up to their ';'. npos for anything else (a nested if/for/while/do/switch).
size_t statement_end(const std::vector<Token>& toks, const Structure& st, size_t b, size_t limit) {
  if (b >= limit) return Structure::npos;
  if (toks[b].is_punct("{")) return st.match[b] == Structure::npos ? Structure::npos : st.match[b] + 1;
  if (toks[b].is_ident("if") || toks[b].is_ident("for") || toks[b].is_ident("while") || toks[b].is_ident("do") ||
      toks[b].is_ident("switch")) {
    return Structure::npos;
  }
  for (size_t i = b; i < limit; ++i) {
    if (toks[i].is_punct(";")) return i + 1;
    if ((toks[i].is_punct("(") || toks[i].is_punct("[") || toks[i].is_punct("{") || toks[i].is_punct("[[")) &&
        st.match[i] != Structure::npos) {
      i = st.match[i];
    }
  }
  return Structure::npos;
}

// Marks the resource parameters the body never names outside branches that function
// constants make dead (`if (has_bias) { ... bias[i] ... }` with has_bias false) as unused.
// Conservative: any other mention, a call that passes it on included, is a use.
void mark_used(const std::vector<Token>& toks, const Structure& st, const FunctionDef& f,
               const FunctionConstants& constants, std::vector<ParsedParam*>& params) {
  if (f.body_close <= f.body_open) return;
  std::vector<bool> dead(f.body_close - f.body_open, false);
  auto kill = [&](size_t b, size_t e) {
    for (size_t k = b; k < e && k < f.body_close; ++k) dead[k - f.body_open] = true;
  };
  for (size_t i = f.body_open + 1; i < f.body_close; ++i) {
    if (!toks[i].is_ident("if") || dead[i - f.body_open]) continue;
    size_t open = i + 1;
    if (open < f.body_close && toks[open].is_ident("constexpr")) ++open;
    if (open >= f.body_close || !toks[open].is_punct("(") || st.match[open] == Structure::npos) continue;
    size_t close = st.match[open];
    std::optional<bool> value = constants.static_condition(toks, open + 1, close);
    if (!value) continue;
    size_t then_end = statement_end(toks, st, close + 1, f.body_close);
    if (then_end == Structure::npos) continue;
    if (!*value) kill(close + 1, then_end);
    if (*value && then_end < f.body_close && toks[then_end].is_ident("else")) {
      size_t else_end = statement_end(toks, st, then_end + 1, f.body_close);
      if (else_end != Structure::npos) kill(then_end + 1, else_end);
    }
  }
  for (ParsedParam* p : params) {
    const KernelArg& a = p->arg;
    if (a.kind == ArgKind::Builtin || a.name.empty()) continue;
    bool used = false;
    for (size_t i = f.body_open + 1; i < f.body_close && !used; ++i) {
      if (dead[i - f.body_open] || toks[i].kind != TokenKind::Identifier || toks[i].text != a.name) continue;
      const Token& prev = toks[i - 1];
      used = !(prev.is_punct(".") || prev.is_punct("->") || prev.is_punct("::"));
    }
    p->arg.used = used;
  }
}

}  // namespace

void assign_indices(std::vector<ParsedParam*>& params) {
  for (ArgKind kind : {ArgKind::Buffer, ArgKind::Threadgroup, ArgKind::Texture, ArgKind::Sampler}) {
    std::map<int, const ParsedParam*> used;
    for (ParsedParam* p : params) {
      if (p->arg.kind != kind || !p->explicit_index) continue;
      if (p->arg.index > max_index(kind)) {
        fail(p->where, std::string(kind_word(kind)) + " index " + std::to_string(p->arg.index) +
                           " is out of range (0-" + std::to_string(max_index(kind)) + ")");
      }
      auto [it, fresh] = used.emplace(p->arg.index, p);
      if (!fresh) {
        fail(p->where, std::string(kind_word(kind)) + " index " + std::to_string(p->arg.index) +
                           " is already used by parameter '" + it->second->arg.name + "' (line " +
                           std::to_string(it->second->arg.line) + ")");
      }
    }
    // Metal numbers a parameter without an index after the previous one of its kind, skipping
    // the indices other parameters name explicitly.
    int next = 0;
    for (ParsedParam* p : params) {
      if (p->arg.kind != kind) continue;
      if (!p->explicit_index) {
        while (used.count(next)) ++next;
        if (next > max_index(kind)) fail(p->where, std::string("too many ") + kind_word(kind) + " parameters");
        p->arg.index = next;
        used.emplace(next, p);
      }
      next = p->arg.index + 1;
    }
  }
}

namespace {
void fill_uses(const CallGraph& graph, size_t fn, KernelInfo* info) {
  SyncUse use = graph.own(fn);
  use |= graph.callees(fn);
  info->uses_threadgroup_barrier = use.threadgroup_barrier;
  info->uses_simdgroup_functions = use.simd_functions || use.simdgroup_barrier;
}
}  // namespace

void fill_uses(const std::vector<Token>& toks, const Structure& st, size_t fn, KernelInfo* info) {
  fill_uses(CallGraph(toks, st), fn, info);
}

// `template <typename T, int N = 4, class... Ts>` -> {"T", "N", "Ts"}.
std::vector<std::string> template_param_names(const std::vector<Token>& toks, size_t begin, size_t end) {
  std::vector<std::string> names;
  if (begin + 1 >= end || !toks[begin].is_ident("template") || !toks[begin + 1].is_punct("<")) return names;
  int depth = 0;
  bool in_default = false;
  for (size_t i = begin + 1; i < end; ++i) {
    const Token& t = toks[i];
    if (t.is_punct("<"))
      ++depth;
    else if (t.is_punct(">") || t.is_punct(">>")) {
      depth -= t.text.size();
      if (depth <= 0) {
        if (!in_default && toks[i - 1].kind == TokenKind::Identifier) names.push_back(toks[i - 1].text);
        break;
      }
    } else if (depth == 1 && (t.is_punct(",") || t.is_punct("="))) {
      if (!in_default && toks[i - 1].kind == TokenKind::Identifier) names.push_back(toks[i - 1].text);
      in_default = t.is_punct("=");
    }
  }
  return names;
}

std::vector<KernelDecl> find_kernels(const std::vector<Token>& toks, const Structure& st,
                                     const FunctionConstants& constants) {
  std::vector<KernelDecl> out;
  CallGraph graph(toks, st);
  for (size_t fi = 0; fi < st.functions.size(); ++fi) {
    const FunctionDef& f = st.functions[fi];
    if (f.enclosing != Scope::Namespace || f.name.empty()) continue;
    KernelMarks marks = header_marks(toks, st, f.decl_begin, f.params_open);
    if (!marks.kernel) continue;
    KernelDecl k;
    k.function = fi;
    k.is_template = toks[f.decl_begin].is_ident("template");
    check_returns_void(toks, st, f);
    KernelInfo& info = k.info;
    info.name = marks.host_name.empty() ? f.name : marks.host_name;
    info.call_name = f.name;
    info.max_total_threads_per_threadgroup = marks.max_threads;
    info.file = toks[f.name_index].file ? *toks[f.name_index].file : std::string();
    info.line = toks[f.name_index].line;
    if (marks.max_threads > 1024) {
      fail(toks[f.name_index].location(),
           "max_total_threads_per_threadgroup(" + std::to_string(marks.max_threads) + ") exceeds 1024");
    }
    if (k.is_template) k.template_params = template_param_names(toks, f.decl_begin, f.name_index);
    k.max_threads_args = marks.max_threads_args;
    if (!k.max_threads_args.empty() && !k.is_template)
      info.max_threads_expression = "(" + spell(k.max_threads_args) + ")";
    for (auto [b, e] : split_params(toks, st, f.params_open, f.params_close)) {
      k.params.push_back(parse_kernel_param(toks, st, b, e));
      ParsedParam& p = k.params.back();
      k.removed.push_back(!p.condition.empty() && !constants.enabled(p.condition, p.where));
      for (size_t t = b; t < e && !p.arg.dependent_type; ++t) {
        for (const std::string& name : k.template_params) {
          if (toks[t].kind == TokenKind::Identifier && toks[t].text == name) {
            p.arg.dependent_type = true;
          }
        }
      }
    }
    std::vector<ParsedParam*> ptrs;
    for (size_t i = 0; i < k.params.size(); ++i) {
      if (!k.removed[i]) ptrs.push_back(&k.params[i]);
    }
    assign_indices(ptrs);
    mark_used(toks, st, f, constants, ptrs);
    for (ParsedParam* p : ptrs) info.args.push_back(p->arg);
    fill_uses(graph, fi, &info);
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace metallic::msl
