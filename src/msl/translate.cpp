// The front end's pipeline: preprocess, find structure, function constants and kernels,
// rewrite, emit.
#include <map>
#include <set>

#include "msl/address_space_overloads.h"
#include "msl/barrier_fission.h"
#include "msl/conditionals.h"
#include "msl/emitter.h"
#include "msl/entry_points.h"
#include "msl/function_constants.h"
#include "msl/instantiations.h"
#include "msl/kernel_signatures.h"
#include "msl/metal_rules.h"
#include "msl/preprocessor.h"
#include "msl/rewrite.h"
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

}  // namespace

TranslatedSource translate(const std::string& source, const Options& options) {
  Preprocessor pp(options);
  std::vector<Token> toks = pp.run(source);
  enforce_metal_rules(toks, analyze(toks), options.runtime_dir);  // on user tokens only
  rewrite_conditionals(toks);
  widen_vec_size_parameters(toks);
  TranslatedSource out;
  out.checks_address_spaces = resolve_address_space_overloads(toks);
  std::set<std::string> retiring;
  // Validation keeps every barrier where the user wrote it (fibers run the threads), so
  // barrier divergence and races are seen as written.
  std::map<std::string, std::string> fission;
  if (!options.validation) fission = add_barrier_fission(toks, &retiring);
  out.validation = options.validation;
  out.uses_logging = uses_logging(toks);
  Structure st = analyze(toks);
  reject_unsupported(toks, st);
  FunctionConstants constants(toks, st, options);
  std::vector<KernelDecl> kernels = find_kernels(toks, st, constants);

  TokenEdits edits(toks);
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
  }
  for (KernelInfo& k : instantiate_kernels(toks, st, kernels, edits)) out.kernels.push_back(std::move(k));
  check_unique_names(out.kernels);
  if (options.validation) instrument_for_validation(toks, st, kernels, options.filename, edits);
  rewrite_msl(toks, st, edits, out.checks_address_spaces);
  out.code = emit(edits.apply(), options.filename);
  out.function_constants = constants.infos();
  return out;
}

}  // namespace metallic::msl
