#include "msl/kernel_signatures.h"

namespace metallic::msl {

void remove_conditional_params(const std::vector<Token>& toks, const Structure& st, const KernelDecl& k,
                               TokenEdits& edits) {
  const FunctionDef& f = st.functions[k.function];
  std::vector<std::string> locals;
  for (size_t i = 0; i < k.params.size(); ++i) {
    if (!k.removed[i]) continue;
    const ParsedParam& p = k.params[i];
    edits.drop_range(p.begin, p.end);
    if (p.arg.name.empty()) continue;
    const KernelArg& a = p.arg;
    std::string type = a.type;
    std::string init = "{}";
    if (!type.empty() && type.back() == '*') {
      init = "nullptr";
    } else if (!type.empty() && type.back() == '&') {
      // Never read (the code guards it with the same flag); it only has to bind.
      std::string pointee = type.substr(0, type.size() - 1);
      init = "*static_cast<" + pointee + "*>(nullptr)";
    }
    locals.push_back("[[maybe_unused]] " + type + " " + a.name + " = " + init + ";");
  }
  // The comma after parameter i stays only between two kept parameters.
  for (size_t i = 0; i + 1 < k.params.size(); ++i) {
    bool kept_after = false;
    for (size_t j = i + 1; j < k.params.size(); ++j) kept_after = kept_after || !k.removed[j];
    size_t comma = k.params[i].end;
    if ((k.removed[i] || !kept_after) && comma < toks.size() && toks[comma].is_punct(",")) edits.drop(comma);
  }
  if (locals.empty()) return;
  size_t at = f.body_open + 1;
  for (const std::string& l : locals) edits.insert_before(at, l);
}

}  // namespace metallic::msl
