#include "msl/instantiations.h"

#include "msl/attributes.h"
#include "msl/kernel_params.h"
#include "msl/macros.h"

#include <cctype>
#include <set>

namespace metallic::msl {

namespace {

// Tokens as text, with a space wherever two words would otherwise run together.
std::string text_of(const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) {
    bool word = !t.text.empty() && (std::isalnum(static_cast<unsigned char>(t.text[0])) || t.text[0] == '_');
    bool after_word = !out.empty() && (std::isalnum(static_cast<unsigned char>(out.back())) || out.back() == '_');
    if (!out.empty() && (t.space_before || (word && after_word))) out += ' ';
    out += t.text;
  }
  return out;
}

// `template <typename T, int N>` of a declaration starting at `begin` (empty when none).
std::vector<Token> template_head(const std::vector<Token>& toks, size_t begin, size_t end) {
  if (begin + 1 >= end || !toks[begin].is_ident("template") || !toks[begin + 1].is_punct("<")) return {};
  int depth = 0;
  for (size_t i = begin + 1; i < end; ++i) {
    if (toks[i].is_punct("<"))
      ++depth;
    else if (toks[i].is_punct(">"))
      --depth;
    else if (toks[i].is_punct(">>"))
      depth -= 2;
    if (depth <= 0) return std::vector<Token>(toks.begin() + begin, toks.begin() + i + 1);
  }
  return {};
}

}  // namespace

std::vector<KernelInfo> instantiate_kernels(const std::vector<Token>& toks, const Structure& st,
                                            const std::vector<KernelDecl>& kernels, TokenEdits& edits) {
  std::vector<KernelInfo> out;
  std::set<std::string> helpers;
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
          if (a.name == "host_name") {
            if (a.args.size() != 1 || a.args[0].kind != TokenKind::String) {
              fail(a.where, "host_name expects a string literal");
            }
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
      if (toks[k].is_punct(">"))
        ++depth;
      else if (toks[k].is_punct(">>"))
        depth += 2;
      else if (toks[k].is_punct("<"))
        --depth;
      else if (toks[k].is_punct(")"))
        k = st.match[k];
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
    edits.drop_range(i, semi + 1);
    if (!tmpl->max_threads_args.empty()) {
      // The attribute's expression as a constexpr function template with the kernel's own
      // template head, so C++ evaluates it for these arguments (once per template).
      const FunctionDef& f = st.functions[tmpl->function];
      std::string helper = "pm_max_threads_" + f.name;
      if (helpers.insert(helper).second) {
        edits.insert_before(i, text_of(template_head(toks, f.decl_begin, f.name_index)) + " constexpr unsigned " +
                                   helper + "() { return static_cast<unsigned>(" + text_of(tmpl->max_threads_args) +
                                   "); }");
      }
      size_t lt = info.call_name.find('<');
      if (lt == std::string::npos) {
        fail(toks[name_at].location(), "max_total_threads_per_threadgroup of '" + f.name +
                                           "' depends on its template parameters: name them in the instantiation (" +
                                           f.name + "<...>)");
      }
      info.max_threads_expression = helper + info.call_name.substr(lt) + "()";
      edits.insert_before(i, "static_assert(" + info.max_threads_expression + " >= 1u && " +
                                 info.max_threads_expression + " <= 1024u, \"max_total_threads_per_threadgroup of " +
                                 info.name + " must be between 1 and 1024\");");
    }
    out.push_back(std::move(info));
    i = semi;
  }
  return out;
}

}  // namespace metallic::msl
