#include "msl/kernel_signatures.h"

namespace metallic::msl {

void remove_conditional_params(const std::vector<Token>& toks, const Structure& st, const KernelDecl& k,
                               TokenEdits& edits) {
  const FunctionDef& f = st.functions[k.function];
  std::vector<std::string> locals;
  for (size_t i = 0; i < k.params.size(); ++i) {
    if (!k.removed[i]) continue;
    const ParsedParam& p = k.params[i];
    // Drop the parameter with one adjacent comma: the one before it, or after it for the first.
    size_t begin = p.begin, end = p.end;
    if (begin > f.params_open + 1 && toks[begin - 1].is_punct(",")) --begin;
    else if (end < f.params_close && toks[end].is_punct(",")) ++end;
    edits.drop_range(begin, end);
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
  if (locals.empty()) return;
  size_t at = f.body_open + 1;
  for (const std::string& l : locals) edits.insert_before(at, l);
}

}  // namespace metallic::msl
