// The front end's pipeline: preprocess, find structure and kernels, rewrite, emit.
#include "msl/emitter.h"
#include "msl/entry_points.h"
#include "msl/preprocessor.h"
#include "msl/rewrite.h"
#include "msl/structure.h"
#include "msl/translation.h"

namespace metallic::msl {

TranslatedSource translate(const std::string& source, const Options& options) {
  Preprocessor pp(options);
  std::vector<Token> toks = pp.run(source);
  Structure st = analyze(toks);
  std::vector<KernelDecl> kernels = find_kernels(toks, st);

  TranslatedSource out;
  TokenEdits edits(toks);
  for (KernelDecl& k : kernels) {
    if (!k.is_template) out.kernels.push_back(k.info);
  }
  rewrite_msl(toks, st, edits);
  out.code = emit(edits.apply(), options.filename);
  return out;
}

}  // namespace metallic::msl
