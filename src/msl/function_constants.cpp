#include "msl/function_constants.h"

#include "msl/attributes.h"
#include "msl/kernel_params.h"
#include "msl/pp_expression.h"

#include <map>

namespace metallic::msl {

namespace {

// Program-scope integer constants with values the translator can work out
// (`constant int base = 10;`), so a function-constant index written as `base + 1` is known.
std::map<std::string, int64_t> integer_constants(const std::vector<Token>& toks, const Structure& st) {
  std::map<std::string, int64_t> known;
  for (size_t i = 0; i < toks.size(); ++i) {
    if (!toks[i].is_ident("constant") || st.scope[i] != Scope::Namespace || st.decl_begin[i] > i) continue;
    size_t eq = i, semi = i;
    for (; semi < toks.size() && !toks[semi].is_punct(";") && !toks[semi].is_punct("{") && !toks[semi].is_punct("[[") &&
           !toks[semi].is_punct("[");
         ++semi)
      if (toks[semi].is_punct("=") && eq == i) eq = semi;
    if (semi >= toks.size() || !toks[semi].is_punct(";") || eq == i || eq < 2 ||
        toks[eq - 1].kind != TokenKind::Identifier)
      continue;
    std::vector<Token> value;
    bool ok = eq + 1 < semi;
    for (size_t k = eq + 1; k < semi && ok; ++k) {
      if (toks[k].kind == TokenKind::Identifier) {
        auto it = known.find(toks[k].text);
        if (it == known.end())
          ok = false;
        else
          for (const Token& t : lex(std::to_string(it->second), toks[k].file)) value.push_back(t);
      } else {
        value.push_back(toks[k]);
      }
    }
    if (!ok) continue;
    try {
      known[toks[eq - 1].text] = evaluate_integer(value, toks[eq].location());
    } catch (const TranslationError&) {
      // Not an integer expression (a float, a struct): not an index anyone can use.
    }
  }
  return known;
}

// `args` with the names of `known` constants replaced by their values.
std::vector<Token> substitute(const std::vector<Token>& args, const std::map<std::string, int64_t>& known) {
  std::vector<Token> out;
  for (const Token& t : args) {
    auto it = t.kind == TokenKind::Identifier ? known.find(t.text) : known.end();
    if (it == known.end()) {
      out.push_back(t);
      continue;
    }
    for (const Token& v : lex(std::to_string(it->second), t.file)) out.push_back(v);
  }
  return out;
}

}  // namespace

FunctionConstants::FunctionConstants(const std::vector<Token>& toks, const Structure& st, const Options& options) {
  const std::map<std::string, int64_t> known = integer_constants(toks, st);
  for (size_t i = 0; i < toks.size(); ++i) {
    if (!toks[i].is_ident("constant") || st.scope[i] != Scope::Namespace || st.decl_begin[i] > i) continue;
    size_t begin = st.decl_begin[i];
    // The declaration runs to its ';'; the attribute sits right after the name.
    size_t attr = Structure::npos, semi = i;
    for (; semi < toks.size() && !toks[semi].is_punct(";"); ++semi) {
      if (toks[semi].is_punct("{")) break;
      if (toks[semi].is_punct("[[")) {
        if (semi + 1 < toks.size() && toks[semi + 1].is_ident("function_constant")) attr = semi;
        semi = st.match[semi];
      } else if (toks[semi].is_punct("(") || toks[semi].is_punct("[")) {
        semi = st.match[semi];
      }
    }
    if (attr == Structure::npos || semi >= toks.size() || !toks[semi].is_punct(";")) continue;
    std::vector<Attribute> attrs = parse_attributes(toks, attr, st.match[attr]);
    if (attr == 0 || toks[attr - 1].kind != TokenKind::Identifier) {
      fail(toks[attr].location(), "function_constant needs a variable name before it");
    }
    FunctionConstant fc;
    fc.begin = begin;
    fc.end = semi;
    fc.info.name = toks[attr - 1].text;
    std::vector<Token> type;
    for (size_t k = i + 1; k + 1 < attr; ++k) {
      if (!toks[k].is_ident("const") && !toks[k].is_ident("constexpr") && !toks[k].is_ident("static"))
        type.push_back(toks[k]);
    }
    fc.info.type = cxx_type_text(type);
    if (fc.info.type.empty()) fail(toks[attr - 1].location(), "function constant '" + fc.info.name + "' needs a type");
    // The index may name C++ constants the translator cannot see; then only the name identifies it.
    try {
      Attribute index = attrs.at(0);
      index.args = substitute(index.args, known);
      fc.info.index = attribute_int(index);
    } catch (const TranslationError&) {
      fc.info.index = -1;
    }
    auto by_name = options.function_constants.find(fc.info.name);
    auto by_index = fc.info.index >= 0 ? options.function_constants.find("#" + std::to_string(fc.info.index))
                                       : options.function_constants.end();
    if (by_name != options.function_constants.end())
      fc.value = by_name->second;
    else if (by_index != options.function_constants.end())
      fc.value = by_index->second;
    fc.info.defined = !fc.value.empty();
    if (const FunctionConstant* first = find(fc.info.name)) {
      // Legal when it declares the same constant again (as C++ allows repeating a declaration).
      if (first->info.type != fc.info.type || first->info.index != fc.info.index) {
        fail(toks[attr - 1].location(),
             "function constant '" + fc.info.name + "' declared again with a different " +
                 (first->info.type != fc.info.type ? "type ('" + fc.info.type + "', was '" + first->info.type + "')"
                                                   : "index (" + std::to_string(fc.info.index) + ", was " +
                                                         std::to_string(first->info.index) + ")"));
      }
      repeats_.emplace_back(begin, semi);
      i = semi;
      continue;
    }
    list_.push_back(fc);
    i = semi;
  }
}

const FunctionConstant* FunctionConstants::find(const std::string& name) const {
  for (const FunctionConstant& f : list_)
    if (f.info.name == name) return &f;
  return nullptr;
}

bool FunctionConstants::enabled(const std::string& name, const SourceLocation& where) const {
  const FunctionConstant* f = find(name);
  if (!f) fail(where, "'" + name + "' is not a function constant");
  if (!f->info.defined) return false;
  return evaluate_condition(lex(f->value, make_file_name("<function constant " + name + ">")), where);
}

std::optional<bool> FunctionConstants::static_condition(const std::vector<Token>& toks, size_t begin,
                                                        size_t end) const {
  if (begin >= end) return std::nullopt;
  std::vector<Token> expr;
  auto number = [&](const Token& at, const std::string& text) {
    Token n = at;
    n.kind = TokenKind::Number;
    n.text = text;
    expr.push_back(n);
  };
  for (size_t i = begin; i < end; ++i) {
    const Token& t = toks[i];
    if (t.kind == TokenKind::Number || t.kind == TokenKind::Punct) {
      expr.push_back(t);
      continue;
    }
    if (t.kind != TokenKind::Identifier) return std::nullopt;
    if (t.is_ident("true") || t.is_ident("false")) {
      number(t, t.is_ident("true") ? "1" : "0");
    } else if (t.is_ident("is_function_constant_defined") && i + 3 < end && toks[i + 1].is_punct("(") &&
               toks[i + 3].is_punct(")")) {
      const FunctionConstant* f = find(toks[i + 2].text);
      if (!f) return std::nullopt;
      number(t, f->info.defined ? "1" : "0");
      i += 3;
    } else if (const FunctionConstant* f = find(t.text)) {
      if (!f->info.defined) {
        number(t, "0");  // an undefined constant reads as T()
        continue;
      }
      std::string v = f->value == "true" ? "1" : f->value == "false" ? "0" : f->value;
      std::vector<Token> value = lex(v, t.file);
      if (value.empty()) return std::nullopt;
      Token paren = t;
      paren.kind = TokenKind::Punct;
      paren.text = "(";
      expr.push_back(paren);
      for (const Token& vt : value) {
        if (vt.kind != TokenKind::Number && vt.kind != TokenKind::Punct) return std::nullopt;
        expr.push_back(vt);
      }
      paren.text = ")";
      expr.push_back(paren);
    } else {
      return std::nullopt;
    }
  }
  try {
    return evaluate_condition(expr, toks[begin].location());
  } catch (const TranslationError&) {
    return std::nullopt;  // a float, a cast, a call: not for the translator to decide
  }
}

void FunctionConstants::rewrite(const std::vector<Token>& toks, TokenEdits& edits) const {
  for (auto [begin, end] : repeats_) edits.drop_range(begin, end + 1);
  for (const FunctionConstant& f : list_) {
    edits.drop_range(f.begin, f.end + 1);
    std::string value = f.info.defined ? f.value : f.info.type + "()";
    edits.insert_before(f.begin,
                        "METAL_PROGRAM_SCOPE_CONSTANT " + f.info.type + " " + f.info.name + " = " + value + ";");
  }
  for (size_t i = 0; i + 3 < toks.size(); ++i) {
    if (!toks[i].is_ident("is_function_constant_defined") || edits.dropped(i)) continue;
    if (!toks[i + 1].is_punct("(") || toks[i + 2].kind != TokenKind::Identifier || !toks[i + 3].is_punct(")")) {
      fail(toks[i].location(), "is_function_constant_defined expects the name of a function constant");
    }
    const FunctionConstant* f = find(toks[i + 2].text);
    if (!f) fail(toks[i + 2].location(), "'" + toks[i + 2].text + "' is not a function constant");
    edits.replace(i, f->info.defined ? "true" : "false");
    edits.drop_range(i + 1, i + 4);
  }
}

std::vector<FunctionConstantInfo> FunctionConstants::infos() const {
  std::vector<FunctionConstantInfo> out;
  for (const FunctionConstant& f : list_) out.push_back(f.info);
  return out;
}

}  // namespace metallic::msl
