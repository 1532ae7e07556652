#include "msl/barrier_fission.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <set>

#include "msl/call_graph.h"
#include "msl/kernel_params.h"
#include "msl/structure.h"

#define PM_FISSION_STR2(x) #x
#define PM_FISSION_STR(x) PM_FISSION_STR2(x)
#define PM_FISSION_WHERE "barrier_fission.cpp:" PM_FISSION_STR(__LINE__)

namespace metallic::msl {
namespace {

constexpr size_t npos = Structure::npos;

bool is_barrier_name(const std::string& w) { return w == "threadgroup_barrier" || w == "simdgroup_barrier"; }

// SIMD-group functions need their lanes side by side.
bool is_lane_function(const std::vector<Token>& t, size_t i) { return is_simd_function_use(t, i); }

// The SIMD-group functions a split kernel computes as loops over lanes (metal_simd_fission.h:
// `metal::detail::fission_<name>`), with their number of arguments. Everything else
// (simd_/quad_shuffle_and_fill_*, simd_/quad_is_first, *_active_threads_mask, quad_ballot/all/any,
// simdgroup matrices) keeps the fiber path.
int lane_function_arity(const std::string& w) {
  static const std::map<std::string, int> kArity = {{"quad_sum", 1},
                                                    {"quad_product", 1},
                                                    {"quad_min", 1},
                                                    {"quad_max", 1},
                                                    {"quad_and", 1},
                                                    {"quad_or", 1},
                                                    {"quad_xor", 1},
                                                    {"quad_prefix_inclusive_sum", 1},
                                                    {"quad_prefix_exclusive_sum", 1},
                                                    {"quad_prefix_inclusive_product", 1},
                                                    {"quad_prefix_exclusive_product", 1},
                                                    {"quad_shuffle", 2},
                                                    {"quad_broadcast", 2},
                                                    {"quad_shuffle_down", 2},
                                                    {"quad_shuffle_up", 2},
                                                    {"quad_shuffle_xor", 2},
                                                    {"quad_shuffle_rotate_down", 2},
                                                    {"quad_shuffle_rotate_up", 2},
                                                    {"quad_broadcast_first", 1},
                                                    {"simd_sum", 1},
                                                    {"simd_product", 1},
                                                    {"simd_min", 1},
                                                    {"simd_max", 1},
                                                    {"simd_and", 1},
                                                    {"simd_or", 1},
                                                    {"simd_xor", 1},
                                                    {"simd_prefix_inclusive_sum", 1},
                                                    {"simd_prefix_exclusive_sum", 1},
                                                    {"simd_prefix_inclusive_product", 1},
                                                    {"simd_prefix_exclusive_product", 1},
                                                    {"simd_shuffle", 2},
                                                    {"simd_broadcast", 2},
                                                    {"simd_shuffle_down", 2},
                                                    {"simd_shuffle_up", 2},
                                                    {"simd_shuffle_xor", 2},
                                                    {"simd_shuffle_rotate_down", 2},
                                                    {"simd_shuffle_rotate_up", 2},
                                                    {"simd_broadcast_first", 1},
                                                    {"simd_ballot", 1},
                                                    {"simd_all", 1},
                                                    {"simd_any", 1}};
  auto it = kArity.find(w);
  return it == kArity.end() ? -1 : it->second;
}

// Built-ins whose value differs between the threads of a group.
bool per_thread(BuiltinKind k) {
  switch (k) {
    case BuiltinKind::ThreadPositionInGrid:
    case BuiltinKind::ThreadPositionInThreadgroup:
    case BuiltinKind::ThreadIndexInThreadgroup:
    case BuiltinKind::ThreadIndexInSimdgroup:
    case BuiltinKind::SimdgroupIndexInThreadgroup:
    case BuiltinKind::ThreadIndexInQuadgroup:
    case BuiltinKind::QuadgroupIndexInThreadgroup:
      return true;
    default:
      return false;
  }
}

// Thrown inside the planner: keep the fiber path. `why` names the rule (for
// PYMETALLIC_DEBUG_FISSION=1, which prints it).
struct NotApplicable {
  const char* why;
  std::string detail = "";
};

struct Builtin {
  size_t position;  // among the kernel's parameters: the K of pm_at.get<K>()
  std::string name, type;
  bool per_thread;
  BuiltinKind kind;
};

// A local of a split block that lives across a barrier: one slot per thread.
struct Promoted {
  std::string name, storage;  // `sum`, `pm_ctx_sum_3`
};

class KernelFission {
 public:
  // `callees_sync`: a function the kernel reaches uses a barrier or a SIMD-group function.
  KernelFission(const std::vector<Token>& t, const Structure& st, const FunctionDef& f, bool callees_sync)
      : t_(t), st_(st), f_(f), callees_sync_(callees_sync) {}

  // The fission function's text, or "" when the kernel does not qualify.
  std::string build(const std::string& fission_name) {
    try {
      check_body();
      std::string params = parameters();
      collect_locals();
      std::string body = block(f_.body_open + 1, f_.body_close, {});
      if (no_sync_ && lane_loops_ == 0) throw NotApplicable{nullptr};
      std::string s = "template <class PM_Threads> void " + fission_name + "(PM_Threads& pm_threads" + params + ") {\n";
      for (const Builtin& b : builtins_)
        if (!b.per_thread)
          s += "const " + b.type + " " + b.name + " = " + b.type + "(pm_threads.first().template get<" +
               std::to_string(b.position) + ">());\n";
      if (const char* debug = std::getenv("PYMETALLIC_DEBUG_FISSION"); debug && *debug == '1')
        std::fprintf(stderr,
                     "pymetallic: kernel '%s' runs split (loop fission, %d SIMD-group calls over lanes, %d loops "
                     "stepped by the group)\n",
                     f_.name.c_str(), next_site_, lane_loops_);
      return s + body + "}\n";
    } catch (const NotApplicable& n) {
      if (const char* debug = std::getenv("PYMETALLIC_DEBUG_FISSION"); n.why && debug && *debug == '1')
        std::fprintf(stderr, "pymetallic: kernel '%s' keeps fibers (%s%s%s)\n", f_.name.c_str(), n.why,
                     n.detail.empty() ? "" : ": ", n.detail.c_str());
      return "";
    }
  }

  bool retires() const { return retires_; }

 private:
  void check_body() {
    bool barrier = false;
    for (size_t i = f_.body_open; i < f_.body_close; ++i) {
      const Token& t = t_[i];
      if (t.kind != TokenKind::Identifier) continue;
      if (is_barrier_name(t.text)) barrier = true;
      if (is_lane_function(t_, i)) {
        if (lane_function_arity(t.text) < 0)
          throw NotApplicable{PM_FISSION_WHERE, t.text + " has no loop form (only the fiber path runs it)"};
        barrier = true;  // a SIMD-group call splits the kernel like a barrier
      }
      if (t.text == "goto" || t.text == "asm") throw NotApplicable{PM_FISSION_WHERE};
    }
    if (callees_sync_) throw NotApplicable{PM_FISSION_WHERE};  // synchronises inside a callee
    if (barrier) return;
    // No barrier: the kernel is split only where that lets the compiler vectorise across
    // threads (a loop the group steps, below); else it keeps the plain loop over threads.
    const char* off = std::getenv("PYMETALLIC_CPU_LANE_LOOPS");
    const bool lane_loops = !(off && std::string(off) == "0");
    bool loop = false;
    for (size_t i = f_.body_open; i < f_.body_close; ++i)
      if (t_[i].is_ident("for") || t_[i].is_ident("while")) loop = true;
    if (!lane_loops || !loop) throw NotApplicable{nullptr};  // nothing to split
    no_sync_ = true;
  }

  // `, const device float* a, ...`: the parameters that are not built-ins, attributes dropped.
  std::string parameters() {
    std::string s;
    size_t position = 0;
    for (auto [b, e] : split_params(t_, st_, f_.params_open, f_.params_close)) {
      ParsedParam p = parse_kernel_param(t_, st_, b, e);
      if (!p.condition.empty()) throw NotApplicable{PM_FISSION_WHERE};
      if (p.arg.kind == ArgKind::Builtin) {
        if (!p.arg.name.empty())
          builtins_.push_back({position, p.arg.name, p.arg.type, per_thread(p.arg.builtin), p.arg.builtin});
      } else {
        s += ", ";
        for (size_t i = b; i < e; ++i) {
          if (t_[i].is_punct("[[")) {
            i = st_.match[i];
            continue;
          }
          s += t_[i].text + " ";
        }
        if (!p.arg.name.empty()) param_names_.insert(p.arg.name);
      }
      ++position;
    }
    return s;
  }

  // Every name the body declares (roughly: a name after a type or `,` and before = ; [ , { ( ).
  // Split-loop headers may not read them: their values could differ between threads.
  void collect_locals() {
    for (size_t i = f_.body_open + 1; i + 1 < f_.body_close; ++i) {
      const Token& t = t_[i];
      const Token& prev = t_[i - 1];
      const Token& next = t_[i + 1];
      if (t.kind != TokenKind::Identifier || is_keyword(t.text)) continue;
      bool after_type = prev.kind == TokenKind::Identifier || prev.is_punct(">") || prev.is_punct("*") ||
                        prev.is_punct("&") || prev.is_punct(",");
      if (param_names_.count(t.text)) continue;
      bool before_init = next.is_punct("=") || next.is_punct(";") || next.is_punct("[") || next.is_punct(",") ||
                         next.is_punct("{") || next.is_punct("(") || next.is_punct(":");
      if (after_type && before_init && !prev.is_ident("return")) locals_.insert(t.text);
    }
  }

  // The end of the statement that starts at i (exclusive).
  size_t statement_end(size_t i, size_t end) const {
    const Token& t = t_[i];
    if (t.kind == TokenKind::Pragma) return i + 1 < end ? statement_end(i + 1, end) : end;
    if (t.is_punct("{")) return st_.match[i] + 1;
    if (t.is_ident("if")) {
      size_t k = statement_end(st_.match[i + 1] + 1, end);
      return k < end && t_[k].is_ident("else") ? statement_end(k + 1, end) : k;
    }
    if (t.is_ident("for") || t.is_ident("while") || t.is_ident("switch"))
      return statement_end(st_.match[i + 1] + 1, end);
    if (t.is_ident("do")) {
      size_t k = statement_end(i + 1, end);  // the body; then `while (...) ;`
      return st_.match[k + 1] + 2;
    }
    for (size_t k = i; k < end; ++k) {
      if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("{") || t_[k].is_punct("[[")) &&
          st_.match[k] != npos) {
        k = st_.match[k];
        continue;
      }
      if (t_[k].is_punct(";")) return k + 1;
    }
    throw NotApplicable{PM_FISSION_WHERE};
  }

  bool contains_barrier(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i)
      if (t_[i].kind == TokenKind::Identifier && is_barrier_name(t_[i].text)) return true;
    return false;
  }

  // A barrier or a SIMD-group call: what splits a block.
  bool contains_sync(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i)
      if (t_[i].kind == TokenKind::Identifier && (is_barrier_name(t_[i].text) || is_lane_function(t_, i))) return true;
    return false;
  }

  // A SIMD-group call in a statement: `simd_sum(v)` (or `metal::simd_sum(v)`).
  struct LaneCall {
    std::string name;
    size_t begin, end;                            // the call's tokens
    std::vector<std::pair<size_t, size_t>> args;  // its arguments
    int site;                                     // pm_simd_<site>
  };

  // The SIMD-group calls of an expression statement or a declaration in uniform control flow.
  // Every thread of the group reaches the statement, so each call's active lanes are the
  // threads that have not returned, as on the fiber path; calls that only some threads
  // reach (inside ?:, && or ||, or a statement that is not plain) keep the fibers.
  std::vector<LaneCall> lane_calls(size_t b, size_t e) {
    const Token& head = t_[b];
    if (head.kind != TokenKind::Identifier || head.is_ident("if") || head.is_ident("while") || head.is_ident("do") ||
        head.is_ident("switch") || head.is_ident("return") || head.is_ident("else") || head.is_ident("for"))
      throw NotApplicable{PM_FISSION_WHERE, "a SIMD-group call inside `" + head.text +
                                                "` (its active lanes may be only some of the SIMD group)"};
    std::vector<LaneCall> calls;
    for (size_t i = b; i < e; ++i) {
      if (t_[i].kind != TokenKind::Identifier || !is_lane_function(t_, i)) continue;
      LaneCall c;
      c.name = t_[i].text;
      int arity = lane_function_arity(c.name);
      if (arity < 0 || !t_[i + 1].is_punct("(") || st_.match[i + 1] == npos)
        throw NotApplicable{PM_FISSION_WHERE, c.name + " has no loop form"};
      c.begin = i >= 2 && t_[i - 1].is_punct("::") && t_[i - 2].is_ident("metal") ? i - 2 : i;
      if (c.begin == i && i > 0 && (t_[i - 1].is_punct("::") || t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->")))
        throw NotApplicable{PM_FISSION_WHERE, c.name + " is qualified"};
      size_t close = st_.match[i + 1];
      c.end = close + 1;
      size_t a = i + 2;
      for (size_t k = i + 2; k <= close; ++k) {
        if (k < close && t_[k].kind == TokenKind::Identifier && is_lane_function(t_, k))
          throw NotApplicable{PM_FISSION_WHERE, "a SIMD-group call inside the arguments of " + c.name};
        if (k < close && (t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("{")) && st_.match[k] != npos) {
          k = st_.match[k];
          continue;
        }
        if (k == close || t_[k].is_punct(",")) {
          if (k > a) c.args.push_back({a, k});
          a = k + 1;
        }
      }
      if (static_cast<int>(c.args.size()) != arity)
        throw NotApplicable{PM_FISSION_WHERE, c.name + " with " + std::to_string(c.args.size()) + " arguments"};
      c.site = next_site_++;
      calls.push_back(c);
      i = close;
    }
    // Operands evaluated only on some threads: a call right of `?`, `&&` or `||` (what is left
    // of the last call's start; `simd_all(p) ? 1 : 0` evaluates the call on every thread).
    size_t c = 0;
    for (size_t i = b; i < calls.back().begin; ++i) {
      if (c < calls.size() && i == calls[c].begin) {
        i = calls[c++].end - 1;
        continue;
      }
      if (t_[i].is_punct("?") || t_[i].is_punct("&&") || t_[i].is_punct("||"))
        throw NotApplicable{PM_FISSION_WHERE, "a SIMD-group call in a statement with `" + t_[i].text +
                                                  "` (it may run on only some threads)"};
    }
    return calls;
  }

  bool mentions(size_t b, size_t e, const std::string& name) const {
    for (size_t i = b; i < e; ++i)
      if (t_[i].is_ident(name.c_str()) && !(i > 0 && (t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->"))))
        return true;
    return false;
  }

  // Token texts; pragmas are dropped (a pragma cannot sit inside generated lines; they are hints).
  std::string text(size_t b, size_t e) const {
    std::string s;
    for (size_t i = b; i < e; ++i)
      if (t_[i].kind != TokenKind::Pragma) s += t_[i].text + " ";
    return s;
  }

  struct Statement {
    size_t begin, end;
    enum Kind { Plain, Barrier, SplitLoop, GroupDeclaration, LaneArguments, LaneExchange, MaskedLoop, MaskedIf } kind;
    int region;                        // index of the stretch between barriers it belongs to
    std::vector<LaneCall> calls = {};  // LaneArguments: the SIMD-group calls whose arguments it stores;
                                       // LaneExchange: whose results it computes; Plain: whose results it reads
  };

  // The statements of a block that contains barriers, as group-level code.
  std::string block(size_t begin, size_t end, std::vector<Promoted> promoted) {
    std::vector<Statement> stmts;
    int region = 0;
    for (size_t i = begin; i < end;) {
      size_t e = statement_end(i, end);
      size_t first = t_[i].kind == TokenKind::Pragma ? i + 1 : i;
      Statement s{i, e, Statement::Plain, region};
      if (t_[first].kind == TokenKind::Identifier && is_barrier_name(t_[first].text)) {
        s.kind = Statement::Barrier;
        ++region;
      } else if (contains_sync(i, e) && t_[first].is_ident("for")) {
        s.kind = Statement::SplitLoop;
        s.region = ++region;  // its own; what follows starts another
        ++region;
      } else if (t_[first].is_ident("for") && !contains_sync(i, e) && steppable_for(first, e, promoted)) {
        // A loop of uniform, non-constant trip count with straight-line body: the group steps
        // it and each step runs every thread, a loop over lanes the compiler can vectorise
        // (the loop interchange PoCL's work-group vectoriser makes).
        s.kind = Statement::SplitLoop;
        s.region = ++region;
        ++region;
        ++lane_loops_;
      } else if (t_[first].is_ident("while") && !contains_sync(i, e) && maskable_while(first, e)) {
        // `while (cond) body` with a per-thread condition: the group runs it while any thread
        // still does, every step a loop over lanes with a mask (masked_loop below).
        s.kind = Statement::MaskedLoop;
        s.region = ++region;
        ++region;
        ++lane_loops_;
      } else if (t_[first].is_ident("if") && contains_sync(i, e) && !contains_barrier(i, e) && maskable_if(first, e)) {
        // `if (cond) { ... simd_sum(v) ... }`: the threads where cond holds are the active lanes
        // of the calls inside (masked_if below).
        s.kind = Statement::MaskedIf;
        s.region = ++region;
        ++region;
      } else if (contains_barrier(i, e)) {
        throw NotApplicable{PM_FISSION_WHERE};
      } else if (contains_sync(i, e)) {
        // `float s = simd_sum(v);`: the threads store v, the lanes of each SIMD group meet,
        // then the statement runs with the call's result.
        Statement args{i, e, Statement::LaneArguments, region};
        args.calls = lane_calls(first, e);
        for (const LaneCall& c : args.calls) {
          std::string type;  // of the first argument, to read the result (metal_simd_fission.h)
          type = "decltype((" + text(c.args[0].first, c.args[0].second) + "))";
          replacements_[c.begin] = {c.end, "pm_simd_" + std::to_string(c.site) +
                                               ".template get<metal::detail::fission_" + c.name + ", " + type +
                                               ">(pm_threads, pm_at.index())"};
        }
        stmts.push_back(args);
        Statement exchange{i, i, Statement::LaneExchange, region};
        exchange.calls = args.calls;
        stmts.push_back(exchange);
        s.region = ++region;
        s.calls = args.calls;  // the statement reads the calls' results (a plain load each)
      } else if ((t_[first].is_ident("threadgroup") && declares_storage(first, e)) || t_[first].is_ident("constexpr") ||
                 (t_[first].is_ident("static") && first + 1 < e && t_[first + 1].is_ident("constexpr"))) {
        s.kind = Statement::GroupDeclaration;  // one per group (threadgroup) or a compile-time constant
      }
      stmts.push_back(s);
      i = e;
    }
    std::string out;
    // Locals declared here and used in a later stretch get a slot per thread.
    std::map<size_t, std::vector<Promoted>> declared_here;  // statement index -> its promoted locals
    std::map<size_t, Declaration> declarations;
    for (size_t k = 0; k < stmts.size(); ++k) {
      if (stmts[k].kind != Statement::Plain) continue;
      auto used_later = [&](const std::string& name) {
        for (size_t j = k + 1; j < stmts.size(); ++j)
          if (stmts[j].region != stmts[k].region && mentions(stmts[j].begin, stmts[j].end, name)) return true;
        return false;
      };
      Declaration d;
      if (!parse_declaration(stmts[k], d)) {
        // Something that may declare names we cannot give slots: fine unless a later stretch uses them.
        for (const std::string& n : possible_declarations(stmts[k]))
          if (used_later(n)) throw NotApplicable{PM_FISSION_WHERE};
        continue;
      }
      for (const Declarator& item : d.items) {
        if (!used_later(t_[item.name].text)) continue;
        if (!item.bounds.empty() && item.init_end > item.init_begin)
          throw NotApplicable{PM_FISSION_WHERE};  // array initialiser
        Promoted p{t_[item.name].text, "pm_ctx_" + t_[item.name].text + "_" + std::to_string(next_id_++)};
        out += storage_type(d) + " " + p.storage + "[1024]" + item.bounds + ";\n";
        declared_here[k].push_back(p);
      }
      if (declared_here.count(k)) declarations[k] = d;
    }
    std::vector<size_t> pending;  // statements of the current stretch
    auto flush = [&]() {
      if (pending.empty()) return;
      out += stretch(stmts, pending, promoted, declared_here, declarations);
      for (size_t k : pending)
        for (const Promoted& p : declared_here[k]) promoted.push_back(p);
      pending.clear();
    };
    for (size_t k = 0; k < stmts.size(); ++k) {
      const Statement& s = stmts[k];
      switch (s.kind) {
        case Statement::Plain:
          pending.push_back(k);
          break;
        case Statement::GroupDeclaration:
          out += text(s.begin, s.end) + "\n";
          for (size_t i = s.begin; i + 1 < s.end; ++i)
            if (t_[i].kind == TokenKind::Identifier &&
                (t_[i + 1].is_punct("=") || t_[i + 1].is_punct("[") || t_[i + 1].is_punct(";")))
              group_names_.insert(t_[i].text);
          break;
        case Statement::Barrier:
          flush();
          break;
        case Statement::LaneExchange:
          flush();
          // Every thread has put its arguments: each SIMD group's results, once, at group level
          // (the first thread's names give the argument's type; nothing is evaluated).
          for (const LaneCall& c : s.calls) {
            std::string arg = text(c.args[0].first, c.args[0].second);
            out += "{\nconst auto pm_at = pm_threads.first();\n" +
                   thread_names(c.args[0].first, c.args[0].second, promoted) + "pm_simd_" + std::to_string(c.site) +
                   (masks_.empty() ? ".template run<metal::detail::fission_"
                                   : ".template run_masked<metal::detail::fission_") +
                   c.name + ", decltype((" + arg + "))>(pm_threads" +
                   (masks_.empty() ? std::string() : ", " + masks_.back()) + ");\n}\n";
          }
          break;
        case Statement::LaneArguments:
          for (const LaneCall& c : s.calls)
            out += "metal::detail::fission_simd_site pm_simd_" + std::to_string(c.site) + ";\n";
          pending.push_back(k);
          break;
        case Statement::SplitLoop:
          flush();
          out += split_loop(s, promoted);
          break;
        case Statement::MaskedLoop:
          flush();
          out += masked_loop(s, promoted);
          break;
        case Statement::MaskedIf:
          flush();
          out += masked_if(s, promoted);
          break;
      }
    }
    flush();
    return out;
  }

  // Whether [b, e) has a loop, a jump or a `return` (what a lane loop's body may not have).
  bool has_control(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i)
      if (t_[i].is_ident("for") || t_[i].is_ident("while") || t_[i].is_ident("do") || t_[i].is_ident("break") ||
          t_[i].is_ident("continue") || t_[i].is_ident("return") || t_[i].is_ident("goto") || t_[i].is_ident("switch"))
        return true;
    return false;
  }

  // Whether the header (open, close) reads only uniform values: kernel parameters, uniform
  // built-ins, the variables of enclosing group loops and the loop's own.
  bool uniform_header(size_t open, size_t close, const std::set<std::string>& declared,
                      const std::vector<Promoted>& promoted) const {
    for (size_t i = open + 1; i < close; ++i) {
      const Token& t = t_[i];
      if (t.kind != TokenKind::Identifier || declared.count(t.text) || loop_vars_.count(t.text) ||
          group_names_.count(t.text))
        continue;
      if (i > 0 && (t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->"))) continue;  // a member
      bool thread_value = locals_.count(t.text) > 0;
      for (const Builtin& b : builtins_) thread_value = thread_value || (b.per_thread && b.name == t.text);
      for (const Promoted& p : promoted) thread_value = thread_value || p.name == t.text;
      if (thread_value && !param_names_.count(t.text)) return false;
    }
    return true;
  }

  // `for (uint k = 0; k < n; ++k) acc += a[...] * b[...];`: a loop without barriers the group
  // can step (uniform header, the loop variables changed only by the header, a body without
  // loops, jumps or returns) and whose trip count is not a constant (small constant loops are
  // unrolled inside the thread loop and vectorise there as they are).
  bool steppable_for(size_t first, size_t e, const std::vector<Promoted>& promoted) const {
    size_t open = first + 1;
    if (!t_[open].is_punct("(") || st_.match[open] == npos) return false;
    size_t close = st_.match[open];
    std::set<std::string> declared;
    size_t semis = 0, cond_begin = npos, cond_end = npos;
    for (size_t i = open + 1; i < close; ++i) {
      if (t_[i].is_punct(";")) {
        if (++semis == 1) cond_begin = i + 1;
        if (semis == 2) cond_end = i;
      }
      if (semis == 0 && t_[i].kind == TokenKind::Identifier && i + 1 < close &&
          (t_[i + 1].is_punct("=") || t_[i + 1].is_punct(",")))
        declared.insert(t_[i].text);
      if (t_[i].is_punct(":")) return false;  // a range-based for
    }
    if (semis != 2 || declared.empty() || has_control(close + 1, e)) return false;
    if (!uniform_header(open, close, declared, promoted)) return false;
    bool variable_bound = false;
    for (size_t i = cond_begin; i < cond_end; ++i)
      if (t_[i].kind == TokenKind::Identifier && !declared.count(t_[i].text) && !is_keyword(t_[i].text))
        variable_bound = true;
    if (!variable_bound) return false;
    for (const std::string& v : declared)
      for (size_t i = close + 1; i < e; ++i)
        if (t_[i].is_ident(v.c_str()) && ((i + 1 < e && t_[i + 1].is_assignment()) || t_[i - 1].is_punct("++") ||
                                          t_[i - 1].is_punct("--") || t_[i - 1].is_punct("&")))
          return false;
    return true;
  }

  // `while (cond) body` without barriers, loops, jumps or returns in it, nor atomics: a thread
  // spinning on what another thread writes after the loop (a lock) would wait forever in a
  // masked loop, as in a SIMD group without independent forward progress; run thread by
  // thread, it ends.
  bool maskable_while(size_t first, size_t e) const {
    size_t open = first + 1;
    if (!t_[open].is_punct("(") || st_.match[open] == npos) return false;
    for (size_t i = open; i < e; ++i)
      if (t_[i].kind == TokenKind::Identifier && t_[i].text.rfind("atomic", 0) == 0) return false;
    return !has_control(open, e);
  }

  // Whether [b, e) reads a per-thread built-in (else a stretch over it needs only the slots).
  bool reads_position(size_t b, size_t e) const {
    for (const Builtin& bi : builtins_)
      if (bi.per_thread && mentions(b, e, bi.name)) return true;
    return false;
  }

  // Whether [b, e) reads the thread's index in its SIMD group or its SIMD group's index.
  bool reads_lane(size_t b, size_t e) const {
    for (const Builtin& bi : builtins_)
      if ((bi.kind == BuiltinKind::ThreadIndexInSimdgroup || bi.kind == BuiltinKind::SimdgroupIndexInThreadgroup) &&
          mentions(b, e, bi.name))
        return true;
    return false;
  }

  // The names a stretch over [b, e) needs per thread: its built-ins and promoted locals.
  std::string thread_names(size_t b, size_t e, const std::vector<Promoted>& promoted) const {
    std::string s;
    for (const Builtin& bi : builtins_)
      if (bi.per_thread && mentions(b, e, bi.name))
        s += "const " + bi.type + " " + bi.name + " = " + bi.type + "(pm_at.template get<" +
             std::to_string(bi.position) + ">());\n";
    for (const Promoted& p : promoted)
      if (mentions(b, e, p.name)) s += "auto& " + p.name + " = " + p.storage + "[pm_at.index()];\n";
    return s;
  }

  // `if (cond) body` without `else`, whose body has SIMD-group calls but no barriers, returns,
  // jumps, `while`/`do` or `switch`, and whose condition has no SIMD-group call.
  bool maskable_if(size_t first, size_t e) const {
    size_t open = first + 1;
    if (!t_[open].is_punct("(") || st_.match[open] == npos) return false;
    size_t close = st_.match[open];
    if (contains_sync(open, close) || statement_end(close + 1, e) != e) return false;  // an `else`
    for (size_t i = close + 1; i < e; ++i)
      if (t_[i].is_ident("return") || t_[i].is_ident("break") || t_[i].is_ident("continue") || t_[i].is_ident("goto") ||
          t_[i].is_ident("switch") || t_[i].is_ident("while") || t_[i].is_ident("do") || t_[i].is_ident("else"))
        return false;
    return true;
  }

  // `if (cond) body` with SIMD-group calls in the body: a flag per thread (cond, where the
  // enclosing such conditions hold), then the body split as usual, each stretch running only
  // the flagged threads and each SIMD-group call taking them as its active lanes, as a SIMD
  // group runs a divergent branch.
  std::string masked_if(const Statement& s, const std::vector<Promoted>& promoted) {
    size_t first = t_[s.begin].kind == TokenKind::Pragma ? s.begin + 1 : s.begin;
    size_t open = first + 1, close = st_.match[first + 1];
    bool braces = t_[close + 1].is_punct("{");
    size_t body_open = braces ? close + 1 : close, body_close = braces ? st_.match[body_open] : s.end;
    std::string mask = "pm_in_" + std::to_string(next_id_++);
    std::string out = "{\nbool " + mask + "[1024] = {};\n";
    out += "pm_threads.each([&](const auto& pm_at) {\n";
    if (!masks_.empty()) out += "if (!" + masks_.back() + "[pm_at.index()]) return;\n";
    out += thread_names(open, close, promoted) + mask + "[pm_at.index()] = bool(" + statement_text(open + 1, close) +
           ");\n});\n";
    masks_.push_back(mask);
    out += block(body_open + 1, body_close, promoted);
    masks_.pop_back();
    return out + "}\n";
  }

  // A `while` whose condition differs between threads: the group repeats a step while any
  // thread is still in the loop; each step runs the threads still in it (a mask per thread),
  // as a SIMD group runs a divergent loop. Every thread runs the same iterations as it would
  // alone, in a different interleaving with the others (Metal promises none).
  std::string masked_loop(const Statement& s, const std::vector<Promoted>& promoted) {
    size_t first = t_[s.begin].kind == TokenKind::Pragma ? s.begin + 1 : s.begin;
    size_t open = first + 1, close = st_.match[first + 1];
    std::string id = std::to_string(next_id_++);
    std::string active = "pm_active_" + id, any = "pm_any_" + id;
    std::string out = "{\nbool " + active + "[1024];\n";
    out += "pm_threads.each_flat([&](const auto& pm_at) { " + active + "[pm_at.index()] = true; });\n";
    out += "for (;;) {\nbool " + any + " = false;\n";
    out += "pm_threads." + std::string(reads_position(s.begin, s.end) ? "each" : "each_flat") +
           "([&](const auto& pm_at) {\n" + thread_names(s.begin, s.end, promoted);
    out += "bool& pm_in = " + active + "[pm_at.index()];\n";
    out += "if (pm_in) {\nif (" + statement_text(open + 1, close) + ") {\n" + statement_text(close + 1, s.end) +
           "\n} else pm_in = false;\n}\n";
    out += any + " = " + any + " | pm_in;\n});\n";
    out += "if (!" + any + ") break;\n}\n}\n";
    return out;
  }

  // `threadgroup float tile[16];`, not `threadgroup float* p = ...;`.
  bool declares_storage(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i) {
      if (t_[i].is_punct("*") || t_[i].is_punct("&")) return false;
      if (t_[i].is_punct("=") || t_[i].is_punct("[") || t_[i].is_punct(";")) return true;
    }
    return true;
  }

  // `for (header) { ... }` run by the group, its body split again.
  std::string split_loop(const Statement& s, const std::vector<Promoted>& promoted) {
    size_t first = t_[s.begin].kind == TokenKind::Pragma ? s.begin + 1 : s.begin;
    size_t open = first + 1, close = st_.match[first + 1];
    std::set<std::string> declared;  // the loop's own variables
    for (size_t i = open + 1; i < close && !t_[i].is_punct(";"); ++i)
      if (t_[i].kind == TokenKind::Identifier && i + 1 < close && (t_[i + 1].is_punct("=") || t_[i + 1].is_punct(",")))
        declared.insert(t_[i].text);
    if (!uniform_header(open, close, declared, promoted)) throw NotApplicable{PM_FISSION_WHERE};
    // `{ ... }`, or one statement (`for (...) x += simd_shuffle_down(x, d);`).
    bool braces = t_[close + 1].is_punct("{");
    size_t body_open = braces ? close + 1 : close, body_close = braces ? st_.match[body_open] : s.end;
    // The group steps the loop: a thread may not.
    for (const std::string& v : declared)
      for (size_t i = body_open; i < body_close; ++i)
        if (t_[i].is_ident(v.c_str()) &&
            ((i + 1 < body_close && t_[i + 1].is_assignment()) || t_[i - 1].is_punct("++") ||
             t_[i - 1].is_punct("--") || t_[i - 1].is_punct("&")))
          throw NotApplicable{PM_FISSION_WHERE};
    for (const std::string& v : declared) loop_vars_.insert(v);
    std::string pragma = first != s.begin ? text(s.begin, first) + "\n" : "";
    return pragma + text(first, close + 1) + "{\n" + block(body_open + 1, body_close, promoted) + "}\n";
  }

  // `T a = x, b[4];`: the type and each declarator, for a plain declaration statement.
  struct Declarator {
    size_t name = 0;
    size_t init_begin = 0, init_end = 0;  // after '=', up to ',' or ';' (empty: no initialiser)
    std::string bounds;                   // `[4][4]`
  };
  struct Declaration {
    size_t type_begin = 0, type_end = 0;
    std::vector<Declarator> items;
  };

  bool parse_declaration(const Statement& s, Declaration& d) const {
    size_t e = s.end - 1;  // the ';'
    if (!t_[e].is_punct(";") || t_[s.begin].kind != TokenKind::Identifier || is_keyword(t_[s.begin].text) ||
        t_[s.begin].is_ident("return") || t_[s.begin].is_ident("if") || t_[s.begin].is_ident("for") ||
        t_[s.begin].is_ident("while") || t_[s.begin].is_ident("do") || t_[s.begin].is_ident("switch") ||
        t_[s.begin].is_ident("else") || t_[s.begin].is_ident("break") || t_[s.begin].is_ident("continue"))
      return false;
    // The first name: the last identifier before the first = [ , ; of the statement.
    size_t name = npos, i = s.begin;
    for (; i < e; ++i) {
      const Token& t = t_[i];
      if (t.is_punct("=") || t.is_punct("[") || t.is_punct(",")) break;
      if (t.is_punct("(") || t.is_punct("{") || (t.is_punct("::") && i + 1 < e && t_[i + 1].is_punct("(")))
        return false;
      if (t.is_punct("<")) {  // template arguments of the type
        int depth = 0;
        for (; i < e; ++i) {
          if (t_[i].is_punct("<")) ++depth;
          if (t_[i].is_punct(">") && --depth == 0) break;
          if (t_[i].is_punct(">>") && (depth -= 2) <= 0) break;
        }
        continue;
      }
      if (t.kind == TokenKind::Identifier) name = i;
    }
    if (name == npos || name == s.begin) return false;
    const Token& prev = t_[name - 1];
    if (!(prev.kind == TokenKind::Identifier || prev.is_punct(">") || prev.is_punct("*") || prev.is_punct("&")))
      return false;
    if (is_keyword(t_[name].text)) return false;
    d.type_begin = s.begin;
    d.type_end = name;
    for (size_t k = s.begin; k < name; ++k)
      if (t_[k].is_ident("auto") || t_[k].is_punct("&") || t_[k].is_punct("&&") || t_[k].is_ident("static") ||
          t_[k].is_ident("extern") || t_[k].is_ident("typedef") || t_[k].is_ident("using"))
        return false;  // no type of its own, a reference, or not a local
    // Declarators: name [bounds] [= init] separated by top-level commas.
    for (size_t k = name; k < e;) {
      if (t_[k].kind != TokenKind::Identifier) return false;  // `*q`: a type of its own
      Declarator item;
      item.name = k++;
      size_t b = k;
      while (k < e && t_[k].is_punct("[")) k = st_.match[k] + 1;
      item.bounds = text(b, k);
      if (k < e && t_[k].is_punct("=")) {
        item.init_begin = ++k;
        for (; k < e && !t_[k].is_punct(","); ++k)
          if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("{")) && st_.match[k] != npos)
            k = st_.match[k];
        item.init_end = k;
      }
      if (k < e && !t_[k].is_punct(",")) return false;
      d.items.push_back(item);
      if (k < e) ++k;
    }
    return !d.items.empty();
  }

  // The slot's element type: the declared type without a top-level const (slots are written).
  std::string storage_type(const Declaration& d) const {
    bool pointer = false;
    for (size_t i = d.type_begin; i < d.type_end; ++i) {
      if (t_[i].is_punct("*")) pointer = true;
      if (pointer && t_[i].is_ident("const")) throw NotApplicable{PM_FISSION_WHERE};  // a const pointer
    }
    std::string type;
    for (size_t i = d.type_begin; i < d.type_end; ++i)
      if (pointer || !t_[i].is_ident("const")) type += t_[i].text + " ";
    return type;
  }

  // Names a statement might declare, for statements declared_name() does not understand:
  // an identifier after a type-like token and before = , ; ( { [.
  std::vector<std::string> possible_declarations(const Statement& s) const {
    std::vector<std::string> names;
    const Token& first = t_[s.begin];
    if (first.kind != TokenKind::Identifier || is_keyword(first.text) || first.is_ident("if") ||
        first.is_ident("for") || first.is_ident("while") || first.is_ident("do") || first.is_ident("switch") ||
        first.is_ident("else") || s.end - s.begin < 3)
      return names;
    const Token& second = t_[s.begin + 1];
    bool looks_declared =
        second.kind == TokenKind::Identifier || second.is_punct("<") || second.is_punct("::") ||
        ((second.is_punct("*") || second.is_punct("&")) && t_[s.begin + 2].kind == TokenKind::Identifier);
    if (!looks_declared) return names;
    for (size_t i = s.begin + 1; i + 1 < s.end; ++i) {
      const Token& prev = t_[i - 1];
      const Token& next = t_[i + 1];
      if (t_[i].kind != TokenKind::Identifier) continue;
      bool after_type = prev.kind == TokenKind::Identifier || prev.is_punct(">") || prev.is_punct("*") ||
                        prev.is_punct("&") || prev.is_punct(",");
      bool before = next.is_punct("=") || next.is_punct(",") || next.is_punct(";") || next.is_punct("(") ||
                    next.is_punct("{") || next.is_punct("[");
      if (after_type && before) names.push_back(t_[i].text);
    }
    return names;
  }

  // One stretch between barriers: every thread of the group runs it in turn.
  std::string stretch(const std::vector<Statement>& stmts, const std::vector<size_t>& pending,
                      const std::vector<Promoted>& promoted,
                      const std::map<size_t, std::vector<Promoted>>& declared_here,
                      const std::map<size_t, Declaration>& declarations) {
    size_t b = stmts[pending.front()].begin, e = stmts[pending.back()].end;
    std::string call = masks_.empty() ? each_call(stmts, pending, promoted, declared_here) : "each(";
    if (call == "each(" && reads_lane(b, e)) call = "each_lanes(";
    // Inside `if (cond)` with SIMD-group calls: only the threads where the conditions hold.
    const std::string skip = masks_.empty() ? "" : "if (!" + masks_.back() + "[pm_at.index()]) return;\n";
    std::string s = "pm_threads." + call + "[&](const auto& pm_at) {\n" + skip + thread_names(b, e, promoted) + "{\n";
    // each_below's second callable: the statement under the `if` (after the declarations of
    // SIMD-group results before it), for the threads the bound lets through, which all pass
    // the test (the vectoriser then needs no mask for it).
    std::string unguarded;
    if (call.rfind("each_below(", 0) == 0 || call.rfind("each_equal(", 0) == 0 ||
        call.rfind("each_lane_equal(", 0) == 0) {
      size_t cond = stmts[pending.back()].begin;
      unguarded = ", [&](const auto& pm_at) {\n" + thread_names(b, e, promoted) + "{\n";
      for (size_t k = 0; k + 1 < pending.size(); ++k)
        unguarded += statement_text(stmts[pending[k]].begin, stmts[pending[k]].end) + "\n";
      unguarded += statement_text(st_.match[cond + 1] + 1, e) + "\n}\n}";
    }
    for (size_t k : pending) {
      const Statement& st = stmts[k];
      if (st.kind == Statement::LaneArguments) {
        for (const LaneCall& c : st.calls) {
          s += "pm_simd_" + std::to_string(c.site) + ".template put<metal::detail::fission_" + c.name +
               ">(pm_at.index()";
          for (auto [ab, ae] : c.args) s += ", " + statement_text(ab, ae);
          s += ");\n";
        }
        continue;
      }
      check_jumps(st.begin, st.end);
      auto d = declarations.find(k);
      if (d == declarations.end()) {
        s += statement_text(st.begin, st.end) + "\n";
        continue;
      }
      // `T x = init, y;` -> per declarator: `auto& x = slot; x = init;` or `T y;`
      const std::vector<Promoted>& slots = declared_here.at(k);
      for (const Declarator& item : d->second.items) {
        const std::string& name = t_[item.name].text;
        const Promoted* slot = nullptr;
        for (const Promoted& p : slots) slot = p.name == name ? &p : slot;
        std::string init = item.init_end > item.init_begin ? statement_text(item.init_begin, item.init_end) : "";
        if (slot) {
          s += "auto& " + name + " = " + slot->storage + "[pm_at.index()];\n";
          if (!init.empty()) s += name + " = " + init + ";\n";
        } else {
          s += text(d->second.type_begin, d->second.type_end) + name + " " + item.bounds +
               (init.empty() ? "" : " = " + init) + ";\n";
        }
      }
    }
    return s + "}\n}" + unguarded + ");\n";
  }

  // `each`, or for a stretch that is one `if (lid < s) statement;` (lid: the thread's scalar
  // position or index in the group, s: a uniform expression) `each_below` with the bound,
  // which skips the threads that cannot pass: its first callable keeps the test (for when the
  // bound cannot be applied), its second (added by stretch()) is the statement alone, run
  // only below the bound. `if (lid == s)` (a group's result written by thread 0) likewise
  // becomes `each_equal`, which runs that one thread. Up to the first callable.
  std::string each_call(const std::vector<Statement>& stmts, const std::vector<size_t>& pending,
                        const std::vector<Promoted>& promoted,
                        const std::map<size_t, std::vector<Promoted>>& declared_here) {
    if (!reads_position(stmts[pending.front()].begin, stmts[pending.back()].end)) return "each_flat(";
    // Before the `if`, only declarations of SIMD-group results used nowhere else
    // (`float s = simd_sum(v); if (lane == 0) part[sg] = s;`): reading a result has no
    // effect, so the threads that fail the test may skip them.
    for (size_t k = 0; k + 1 < pending.size(); ++k)
      if (!lane_result_declaration(stmts[pending[k]]) || declared_here.count(pending[k])) return "each(";
    if (stmts[pending.back()].kind != Statement::Plain) return "each(";
    size_t b = stmts[pending.back()].begin, e = stmts[pending.back()].end;
    if (!t_[b].is_ident("if") || !t_[b + 1].is_punct("(") || st_.match[b + 1] == npos) return "each(";
    size_t open = b + 1, close = st_.match[open];
    if (statement_end(close + 1, e) != e) return "each(";  // an `else`
    if (close - open < 4 || !(t_[open + 2].is_punct("<") || t_[open + 2].is_punct("=="))) return "each(";
    const bool equal = t_[open + 2].is_punct("==");
    const Builtin* lid = nullptr;
    for (const Builtin& bi : builtins_)
      if (equal && t_[open + 1].is_ident(bi.name.c_str()) && bi.kind == BuiltinKind::ThreadIndexInSimdgroup &&
          uniform_header(open + 2, close, {}, promoted) && simple_bound(open + 3, close))
        return "each_lane_equal(" + text(open + 3, close) + ", true, ";  // one thread per SIMD group
    for (const Builtin& bi : builtins_)
      if (t_[open + 1].is_ident(bi.name.c_str()) &&
          (bi.kind == BuiltinKind::ThreadIndexInThreadgroup ||
           (bi.kind == BuiltinKind::ThreadPositionInThreadgroup &&
            (bi.type == "uint" || bi.type == "ushort" || bi.type == "unsigned int" || bi.type == "uint32_t" ||
             bi.type == "uint16_t"))))
        lid = &bi;
    if (!lid || !simple_bound(open + 3, close)) return "each(";
    if (!uniform_header(open + 2, close, {}, promoted)) return "each(";
    return std::string(equal ? "each_equal(" : "each_below(") + text(open + 3, close) + ", " +
           (lid->kind == BuiltinKind::ThreadIndexInThreadgroup ? "true" : "false") + ", ";
  }

  // The right side of `lid < s` / `lid == s`: arithmetic without comparisons or side effects.
  bool simple_bound(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i) {
      const Token& t = t_[i];
      if (t.kind == TokenKind::Punct &&
          !(t.is_punct("(") || t.is_punct(")") || t.is_punct("+") || t.is_punct("-") || t.is_punct("*") ||
            t.is_punct("/") || t.is_punct("%") || t.is_punct("&") || t.is_punct("|") || t.is_punct("^") ||
            t.is_punct(">>") || t.is_punct("<<") || t.is_punct(".") || t.is_punct("::")))
        return false;
    }
    return true;
  }

  // `T x = simd_sum(v);`: one declarator whose initialiser is exactly one SIMD-group call
  // (after the split, a load of the call's result).
  bool lane_result_declaration(const Statement& st) const {
    if (st.kind != Statement::Plain || st.calls.size() != 1) return false;
    const LaneCall& c = st.calls[0];
    if (c.end + 1 != st.end || !t_[c.end].is_punct(";") || c.begin < st.begin + 2) return false;
    if (!t_[c.begin - 1].is_punct("=") || t_[c.begin - 2].kind != TokenKind::Identifier) return false;
    for (size_t i = st.begin; i + 2 < c.begin; ++i)  // the type: names, `::`, template brackets
      if (!(t_[i].kind == TokenKind::Identifier || t_[i].is_punct("::") || t_[i].is_punct("<") || t_[i].is_punct(">")))
        return false;
    return c.begin - 2 > st.begin;
  }

  // `return;` ends the thread: it takes no part in later stretches.
  std::string statement_text(size_t b, size_t e) {
    std::string s;
    for (size_t i = b; i < e; ++i) {
      if (t_[i].kind == TokenKind::Pragma) continue;
      if (auto r = replacements_.find(i); r != replacements_.end() && r->second.first <= e) {
        s += r->second.second + " ";  // a SIMD-group call: its result
        i = r->second.first - 1;
        continue;
      }
      if (t_[i].is_ident("return") && i + 1 < e && t_[i + 1].is_punct(";")) {
        s += "{ pm_at.retire(); return; } ";
        retires_ = true;
        ++i;
        continue;
      }
      s += t_[i].text + " ";
    }
    return s;
  }

  // `break`/`continue` must stay inside the stretch: a loop or switch of its own.
  void check_jumps(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i) {
      if (!t_[i].is_ident("break") && !t_[i].is_ident("continue")) continue;
      bool enclosed = false;
      for (size_t q = b; q < i && !enclosed; ++q)
        if (t_[q].is_ident("for") || t_[q].is_ident("while") || t_[q].is_ident("do") || t_[q].is_ident("switch"))
          enclosed = statement_end(q, e) > i;
      if (!enclosed) throw NotApplicable{PM_FISSION_WHERE};
    }
  }

  const std::vector<Token>& t_;
  const Structure& st_;
  const FunctionDef& f_;
  bool callees_sync_ = false;
  std::vector<Builtin> builtins_;
  std::set<std::string> param_names_, locals_, loop_vars_, group_names_;
  int next_id_ = 0;
  int next_site_ = 0;
  bool retires_ = false;
  bool no_sync_ = false;  // a kernel without barriers, split only for its lane loops
  int lane_loops_ = 0;    // loops the group steps without a barrier in them
  std::map<size_t, std::pair<size_t, std::string>> replacements_;  // call begin -> (end, text)
  std::vector<std::string> masks_;  // the flags of the enclosing masked `if`s (innermost last)
};

bool is_kernel(const std::vector<Token>& t, const FunctionDef& f) {
  if (t[f.decl_begin].is_ident("template")) return false;  // template kernels: the fiber path
  for (size_t i = f.decl_begin; i < f.name_index; ++i)
    if (t[i].is_ident("kernel") || (t[i].is_punct("[[") && t[i + 1].is_ident("kernel"))) return true;
  return false;
}

}  // namespace

std::map<std::string, std::string> add_barrier_fission(std::vector<Token>& toks, std::set<std::string>* retiring) {
  Structure st = analyze(toks);
  CallGraph graph(toks, st);
  std::map<std::string, std::string> names;
  std::map<size_t, std::string> insert_after;
  for (size_t fi = 0; fi < st.functions.size(); ++fi) {
    const FunctionDef& f = st.functions[fi];
    if (f.enclosing != Scope::Namespace || f.body_close == 0 || !is_kernel(toks, f)) continue;
    KernelFission fission(toks, st, f, graph.callees(fi).any());
    std::string name = f.name + "__pm_fission";
    std::string code = fission.build(name);
    if (code.empty()) continue;
    names[f.name] = name;
    if (fission.retires() && retiring) retiring->insert(f.name);
    insert_after[f.body_close] = code;
  }
  if (names.empty()) return names;
  std::vector<Token> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    out.push_back(toks[i]);
    auto a = insert_after.find(i);
    if (a == insert_after.end()) continue;
    std::vector<Token> code = lex_generated(a->second, toks[i]);
    out.insert(out.end(), std::make_move_iterator(code.begin()), std::make_move_iterator(code.end()));
  }
  toks = std::move(out);
  return names;
}

}  // namespace metallic::msl
