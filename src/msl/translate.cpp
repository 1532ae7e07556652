// The front end's pipeline: preprocess, find structure, function constants and kernels,
// rewrite, emit.
#include <map>

#include "msl/address_space_overloads.h"
#include "msl/emitter.h"
#include "msl/entry_points.h"
#include "msl/function_constants.h"
#include "msl/instantiations.h"
#include "msl/kernel_signatures.h"
#include "msl/preprocessor.h"
#include "msl/rewrite.h"
#include "msl/structure.h"
#include "msl/translation.h"

namespace metallic::msl {
namespace {

void check_unique_names(const std::vector<KernelInfo>& kernels) {
  std::map<std::string, const KernelInfo*> seen;
  for (const KernelInfo& k : kernels) {
    auto [it, fresh] = seen.emplace(k.name, &k);
    if (!fresh) {
      fail({make_file_name(k.file), k.line, 0}, "kernel name '" + k.name + "' is already used at line " +
                                                      std::to_string(it->second->line));
    }
  }
}

// Metal has no 64-bit floating point: a kernel that names `double` would compile here as C++
// and compute in double precision, then fail on a Mac. Say so now, as Metal's compiler does.
void reject_double(const std::vector<Token>& toks) {
  for (const Token& t : toks)
    if (t.kind == TokenKind::Identifier && t.text == "double")
      fail(t.location(), "'double' is not supported in Metal (there is no 64-bit floating point): use float");
}

}  // namespace

TranslatedSource translate(const std::string& source, const Options& options) {
  Preprocessor pp(options);
  std::vector<Token> toks = pp.run(source);
  reject_double(toks);
  TranslatedSource out;
  out.checks_address_spaces = resolve_address_space_overloads(toks);
  Structure st = analyze(toks);
  FunctionConstants constants(toks, st, options);
  std::vector<KernelDecl> kernels = find_kernels(toks, st, constants);

  TokenEdits edits(toks);
  constants.rewrite(toks, edits);
  for (const KernelDecl& k : kernels) {
    remove_conditional_params(toks, st, k, edits);
    if (!k.is_template) out.kernels.push_back(k.info);
  }
  for (KernelInfo& k : instantiate_kernels(toks, st, kernels, edits)) out.kernels.push_back(std::move(k));
  check_unique_names(out.kernels);
  rewrite_msl(toks, st, edits, out.checks_address_spaces);
  out.code = emit(edits.apply(), options.filename);
  out.function_constants = constants.infos();
  return out;
}

}  // namespace metallic::msl
