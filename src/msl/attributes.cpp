#include "msl/attributes.h"

#include "msl/pp_expression.h"

namespace metallic::msl {

namespace {

// `"add" "_f32"` is one literal in C++ (translation phase 6): macros that build names with
// `#name "_" #type` rely on it. Plain literals only; a prefixed one keeps its own token.
void join_adjacent_strings(std::vector<Token>* args) {
  std::vector<Token> out;
  for (const Token& t : *args) {
    bool plain = t.kind == TokenKind::String && !t.text.empty() && t.text[0] == '"';
    if (plain && !out.empty() && out.back().kind == TokenKind::String && out.back().text[0] == '"') {
      std::string& joined = out.back().text;
      joined = joined.substr(0, joined.size() - 1) + t.text.substr(1);
      continue;
    }
    out.push_back(t);
  }
  *args = std::move(out);
}

}  // namespace

std::vector<Attribute> parse_attributes(const std::vector<Token>& toks, size_t open, size_t close) {
  std::vector<Attribute> out;
  size_t i = open + 1;
  while (i < close) {
    if (toks[i].is_punct(",")) {
      ++i;
      continue;
    }
    Attribute a;
    a.where = toks[i].location();
    // A name, possibly scoped: `gnu::always_inline`.
    while (i < close && (toks[i].kind == TokenKind::Identifier || toks[i].is_punct("::"))) a.name += toks[i++].text;
    if (a.name.empty()) fail(toks[i].location(), "expected an attribute name, found '" + toks[i].text + "'");
    if (i < close && toks[i].is_punct("(")) {
      a.has_args = true;
      int depth = 0;
      for (++i; i < close; ++i) {
        if (toks[i].is_punct("(")) ++depth;
        if (toks[i].is_punct(")") && depth-- == 0) break;
        a.args.push_back(toks[i]);
      }
      if (i >= close) fail(a.where, "missing ')' in attribute '" + a.name + "'");
      ++i;
      join_adjacent_strings(&a.args);
    }
    if (i < close && !toks[i].is_punct(",")) {
      fail(toks[i].location(), "expected ',' or ']]' after attribute '" + a.name + "'");
    }
    out.push_back(std::move(a));
  }
  return out;
}

bool is_standard_attribute(const std::string& name) {
  static const char* const kStandard[] = {"maybe_unused",     "nodiscard", "noreturn",   "fallthrough",
                                          "likely",           "unlikely",  "deprecated", "carries_dependency",
                                          "no_unique_address"};
  for (const char* s : kStandard)
    if (name == s) return true;
  return name.rfind("gnu::", 0) == 0;
}

int attribute_int(const Attribute& a) {
  if (a.args.empty()) fail(a.where, "attribute '" + a.name + "' requires an integer argument");
  int64_t v = evaluate_integer(a.args, a.args.front().location());
  if (v < 0 || v > (1 << 30)) fail(a.where, "invalid value " + std::to_string(v) + " in attribute '" + a.name + "'");
  return static_cast<int>(v);
}

}  // namespace metallic::msl
