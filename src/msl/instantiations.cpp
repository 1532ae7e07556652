#include "msl/instantiations.h"

#include "msl/attributes.h"
#include "msl/kernel_params.h"

namespace metallic::msl {

std::vector<KernelInfo> instantiate_kernels(const std::vector<Token>& toks, const Structure& st,
                                            const std::vector<KernelDecl>& kernels, TokenEdits& edits) {
  std::vector<KernelInfo> out;
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    // `template` not followed by '<', at the start of a namespace-scope declaration.
    if (!toks[i].is_ident("template") || toks[i + 1].is_punct("<") || st.scope[i] != Scope::Namespace ||
        !st.statement_start[i]) {
      continue;
    }
    size_t semi = i + 1;
    std::string host_name;
    bool kernel = false;
    for (; semi < toks.size() && !toks[semi].is_punct(";"); ++semi) {
      if (toks[semi].is_punct("[[")) {
        for (const Attribute& a : parse_attributes(toks, semi, st.match[semi])) {
          if (a.name == "kernel") kernel = true;
          if (a.name == "host_name" && a.args.size() == 1 && a.args[0].kind == TokenKind::String) {
            host_name = a.args[0].text.substr(1, a.args[0].text.size() - 2);
          }
        }
        semi = st.match[semi];
      } else if (toks[semi].is_ident("kernel")) {
        kernel = true;
      } else if (toks[semi].is_punct("(") || toks[semi].is_punct("[") || toks[semi].is_punct("{")) {
        semi = st.match[semi];
      }
    }
    if (semi >= toks.size()) fail(toks[i].location(), "explicit instantiation without ';'");
    // The instantiated name: `name <...>` right before ';' (decltype form) or before '(' (signature form).
    size_t stop = semi;
    if (toks[stop - 1].is_punct(")") && !toks[st.match[stop - 1] - 1].is_ident("decltype")) stop = st.match[stop - 1];
    size_t name_at = Structure::npos;
    int depth = 0;
    for (size_t k = stop; k-- > i;) {
      if (toks[k].is_punct(">")) ++depth;
      else if (toks[k].is_punct(">>")) depth += 2;
      else if (toks[k].is_punct("<")) --depth;
      else if (toks[k].is_punct(")")) k = st.match[k];
      if (depth == 0 && toks[k].kind == TokenKind::Identifier) {
        name_at = k;
        break;
      }
    }
    if (name_at == Structure::npos) continue;
    const KernelDecl* tmpl = nullptr;
    for (const KernelDecl& k : kernels) {
      if (k.is_template && st.functions[k.function].name == toks[name_at].text) tmpl = &k;
    }
    if (!tmpl) {
      if (!kernel) continue;  // an ordinary explicit instantiation: C++ handles it
      fail(toks[name_at].location(), "'" + toks[name_at].text + "' is not a template kernel defined before here");
    }
    std::vector<Token> name_tokens(toks.begin() + name_at, toks.begin() + stop);
    KernelInfo info = tmpl->info;
    info.call_name = cxx_type_text(name_tokens);
    info.name = host_name.empty() ? info.call_name : host_name;
    info.file = toks[i].file ? *toks[i].file : std::string();
    info.line = toks[i].line;
    out.push_back(std::move(info));
    edits.drop_range(i, semi + 1);
    i = semi;
  }
  return out;
}

}  // namespace metallic::msl
