#include "msl/unsupported.h"

#include <set>
#include <string>

namespace metallic::msl {
namespace {

// Names the program defines itself: a function, or a type after struct/class/union/using/typedef.
std::set<std::string> user_names(const std::vector<Token>& toks, const Structure& st) {
  std::set<std::string> names;
  for (const FunctionDef& f : st.functions) names.insert(f.name);
  for (size_t i = 0; i + 1 < toks.size(); ++i)
    if (toks[i].is_ident("struct") || toks[i].is_ident("class") || toks[i].is_ident("union") ||
        toks[i].is_ident("using") || toks[i].is_ident("typedef"))
      names.insert(toks[i + 1].text);
  return names;
}

// convert_<type>[n][_sat][_rt(e|n|z|p)], matched by hand: std::regex needs std::locale, which
// is unsafe when the process also loads another C++ runtime (PyTorch, CuPy) than ours.
bool is_opencl_conversion(const std::string& name) {
  auto eat = [&](size_t& at, const std::string& word) {
    if (name.compare(at, word.size(), word) != 0) return false;
    at += word.size();
    return true;
  };
  size_t at = 0;
  if (!eat(at, "convert_")) return false;
  bool type = false;
  for (const char* t : {"uchar", "char", "ushort", "short", "uint", "int", "ulong", "long", "float", "half"})
    if (!type && eat(at, t)) type = true;
  if (!type) return false;
  for (const char* n : {"16", "2", "3", "4", "8"})
    if (eat(at, n)) break;
  eat(at, "_sat");
  if (eat(at, "_rt")) {
    if (at >= name.size() || std::string("enzp").find(name[at]) == std::string::npos) return false;
    ++at;
  }
  return at == name.size();
}

}  // namespace

void reject_unsupported(const std::vector<Token>& toks, const Structure& st) {
  std::set<std::string> declared;
  bool declared_known = false;
  auto user_declares = [&](const std::string& name) {
    if (!declared_known) declared = user_names(toks, st), declared_known = true;
    return declared.count(name) > 0;
  };
  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (t.kind != TokenKind::Identifier) continue;
    const Token* next = i + 1 < toks.size() ? &toks[i + 1] : nullptr;
    if (t.text == "double")
      fail(t.location(), "'double' is not supported in Metal (there is no 64-bit floating point): use float");
    if (next && next->is_punct("(") && is_opencl_conversion(t.text) && !user_declares(t.text))
      fail(t.location(), "'" + t.text +
                             "' is OpenCL C, not Metal: MSL converts with static_cast<T>(x) or a vector constructor "
                             "(round toward zero, no saturation); clamp() first to saturate");
    bool tensor_type =
        (t.text == "tensor" || t.text == "tensor_inline" || t.text == "tensor_handle") && next && next->is_punct("<");
    bool primitives = t.text == "mpp" && next && next->is_punct("::");
    if ((tensor_type || primitives) && !user_declares(t.text))
      fail(t.location(), "Metal 4 tensors ('" + t.text + (primitives ? "::" : "<...>") +
                             "', <metal_tensor>) are not supported by pymetallic yet");
  }
}

}  // namespace metallic::msl
