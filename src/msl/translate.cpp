// The front end's pipeline: preprocess, find structure, function constants and kernels,
// rewrite, emit.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "msl/address_space_overloads.h"
#include "msl/barrier_fission.h"
#include "msl/conditionals.h"
#include "msl/designated_initializers.h"
#include "msl/emitter.h"
#include "msl/entry_points.h"
#include "msl/fast_division.h"
#include "msl/function_constants.h"
#include "msl/instantiations.h"
#include "msl/kernel_signatures.h"
#include "msl/metal_rules.h"
#include "msl/preprocessor.h"
#include "msl/rewrite.h"
#include "msl/simdgroup_pairing.h"
#include "msl/structure.h"
#include "msl/translation.h"
#include "msl/unsupported.h"
#include "msl/validation.h"

namespace metallic::msl {
namespace {

void check_unique_names(const std::vector<KernelInfo>& kernels) {
  std::map<std::string, const KernelInfo*> seen;
  for (const KernelInfo& k : kernels) {
    auto [it, fresh] = seen.emplace(k.name, &k);
    if (!fresh) {
      fail({make_file_name(k.file), k.line, 0},
           "kernel name '" + k.name + "' is already used at line " + std::to_string(it->second->line));
    }
  }
}

// PYMETALLIC_FRONT_END_TIMES=1: the seconds each pass took, on stderr (to find a pass that
// stops being linear: tests/python/test_front_end_limits.py).
class PassTimes {
 public:
  PassTimes() : on_(std::getenv("PYMETALLIC_FRONT_END_TIMES") && *std::getenv("PYMETALLIC_FRONT_END_TIMES") == '1') {}
  ~PassTimes() {
    if (on_) std::fprintf(stderr, "front end: %-28s %8.3f s\n", "total", seconds(start_));
  }
  void operator()(const char* pass) {
    if (!on_) return;
    std::fprintf(stderr, "front end: %-28s %8.3f s\n", pass, seconds(last_));
    last_ = clock::now();
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::time_point since) { return std::chrono::duration<double>(clock::now() - since).count(); }
  bool on_;
  clock::time_point start_ = clock::now(), last_ = start_;
};

// The copy with fast divisions (fast_division.h), when each divisor is a `constant` argument
// the entry reads once per dispatch (a used, const, by-reference buffer argument).
void attach_fast_division(KernelInfo& k, const std::string& function, const FastDivision& fd) {
  if (k.call_name.size() < function.size() ||
      k.call_name.compare(k.call_name.size() - function.size(), function.size(), function) != 0)
    return;
  auto constant_arg = [&](const std::string& name, size_t& a) {
    a = 0;
    while (a < k.args.size() && k.args[a].name != name) ++a;
    if (a == k.args.size()) return false;
    const KernelArg& arg = k.args[a];
    return arg.kind == ArgKind::Buffer && arg.is_reference && arg.is_const && arg.used;
  };
  std::vector<std::pair<size_t, std::string>> divisors;
  for (const auto& [name, member] : fd.divisors) {
    size_t a = 0;
    if (!constant_arg(name, a)) return;
    divisors.emplace_back(a, member);
  }
  // The copy takes the run's first position when it splits: every split must be readable.
  std::vector<FastDivisionSplit> splits;
  for (const SplitSite& s : fd.splits) {
    FastDivisionSplit out;
    if (!constant_arg(s.divisor.first, out.divisor_arg)) return;
    out.divisor_member = s.divisor.second;
    out.cmin = s.cmin;
    out.cmax = s.cmax;
    for (const SplitTerm& t : s.params) {
      FastDivisionSplitTerm term;
      term.sign = t.sign;
      term.member = t.member;
      if (!constant_arg(t.param, term.arg)) return;
      out.terms.push_back(std::move(term));
    }
    splits.push_back(std::move(out));
  }
  k.fast_division_splits = std::move(splits);
  k.fast_division_call_name = k.call_name.substr(0, k.call_name.size() - function.size()) + fd.function;
  k.fast_divisors = std::move(divisors);
}

}  // namespace

TranslatedSource translate(const std::string& source, const Options& options) {
  PassTimes time;
  Preprocessor pp(options);
  std::vector<Token> toks = pp.run(source);
  time("preprocess");
  enforce_metal_rules(toks, analyze(toks), options.runtime_dir);  // on user tokens only
  time("metal rules");
  rewrite_designated_initializers(toks);
  time("designated initializers");
  rewrite_conditionals(toks);
  widen_vec_size_parameters(toks);
  time("conditionals");
  TranslatedSource out;
  out.checks_address_spaces = resolve_address_space_overloads(toks);
  time("address-space overloads");
  std::set<std::string> retiring;
  // Validation keeps every barrier where the user wrote it (fibers run the threads), so
  // barrier divergence and races are seen as written.
  std::map<std::string, std::string> fission;
  if (!options.validation) fission = add_barrier_fission(toks, &retiring);
  time("barrier fission");
  std::map<std::string, FastDivision> fast_division;
  if (!options.validation) {
    std::set<std::string> split;
    for (const auto& f : fission) split.insert(f.first);
    fast_division = add_fast_division(toks, split);
  }
  time("fast division");
  if (!options.validation) pair_simdgroup_products(toks);  // after the copies above: they pair too
  time("simdgroup pairing");
  out.validation = options.validation;
  out.uses_logging = uses_logging(toks);
  Structure st = analyze(toks);
  time("structure");
  reject_unsupported(toks, st);
  FunctionConstants constants(toks, st, options);
  time("unsupported, constants");
  std::vector<KernelDecl> kernels = find_kernels(toks, st, constants);
  time("kernels (call graph)");

  TokenEdits edits(toks);
  mark_loops(toks, st, edits);  // first: its text wraps what later passes insert
  time("loops");
  constants.rewrite(toks, edits);
  for (const KernelDecl& k : kernels) {
    remove_conditional_params(toks, st, k, edits);
    if (k.is_template) continue;
    out.kernels.push_back(k.info);
    auto f = fission.find(st.functions[k.function].name);
    if (f != fission.end()) {
      out.kernels.back().fission_call_name = f->second;
      out.kernels.back().fission_retires = retiring.count(f->first) > 0;
    }
    auto d = fast_division.find(st.functions[k.function].name);
    if (d != fast_division.end()) attach_fast_division(out.kernels.back(), st.functions[k.function].name, d->second);
  }
  for (KernelInfo& k : instantiate_kernels(toks, st, kernels, edits)) out.kernels.push_back(std::move(k));
  check_unique_names(out.kernels);
  time("parameters, instantiations");
  if (options.validation) instrument_for_validation(toks, st, kernels, options.filename, edits);
  rewrite_msl(toks, st, edits, out.checks_address_spaces);
  time("rewrite");
  out.code = emit(edits.apply(), options.filename);
  out.function_constants = constants.infos();
  time("emit");
  out.inputs = pp.inputs();
  return out;
}

}  // namespace metallic::msl
