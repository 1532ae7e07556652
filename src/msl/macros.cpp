#include "msl/macros.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

namespace metallic::msl {
namespace {

bool hidden(const Token& t, const std::string& name) { return t.hide && t.hide->count(name) > 0; }

HideSet with_names(const HideSet& base, const std::set<std::string>& extra) {
  auto s = std::make_shared<std::set<std::string>>(extra);
  if (base) s->insert(base->begin(), base->end());
  return s;
}

// with_names for every token of an expansion, one new set per distinct old one (most tokens
// share theirs): a set per token made nested macros cost their depth again for each token.
void add_names(std::vector<Token>& tokens, const std::set<std::string>& extra) {
  std::unordered_map<const void*, HideSet> made;
  for (Token& r : tokens) {
    HideSet& slot = made[r.hide.get()];
    if (!slot) slot = with_names(r.hide, extra);
    r.hide = slot;
  }
}

// A placemarker stands for an empty argument next to `##` (C11 6.10.3.3); it is removed after pasting.
bool is_placemarker(const Token& t) { return t.kind == TokenKind::Punct && t.text.empty(); }

std::string stringize(const std::vector<Token>& arg) {
  std::string out = "\"";
  for (size_t i = 0; i < arg.size(); ++i) {
    if (i > 0 && arg[i].space_before) out += ' ';
    bool quoted = arg[i].kind == TokenKind::String || arg[i].kind == TokenKind::Char;
    for (char c : arg[i].text) {
      if (quoted && (c == '"' || c == '\\')) out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

Token paste(const Token& lhs, const Token& rhs) {
  if (is_placemarker(lhs)) return rhs;
  if (is_placemarker(rhs)) return lhs;
  std::string text = lhs.text + rhs.text;
  std::vector<Token> lexed;
  try {
    lexed = lex(text, lhs.file);
  } catch (const TranslationError&) {}
  if (lexed.size() != 1) {
    fail(lhs.location(),
         "pasting \"" + lhs.text + "\" and \"" + rhs.text + "\" does not give a valid preprocessing token");
  }
  Token out = lexed[0];
  out.file = lhs.file;
  out.line = lhs.line;
  out.column = lhs.column;
  out.space_before = lhs.space_before;
  out.at_line_start = false;
  out.hide = lhs.hide;
  return out;
}

}  // namespace

std::string spell(const std::vector<Token>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && tokens[i].space_before) out += ' ';
    out += tokens[i].text;
  }
  return out;
}

void MacroTable::define(Macro macro) {
  std::string name = macro.name;
  macros_[name] = std::move(macro);
}

bool MacroTable::is_defined(const std::string& name) const {
  return macros_.count(name) > 0 || name == "__FILE__" || name == "__LINE__";
}

std::vector<Token> MacroTable::expand(const std::vector<Token>& tokens) const {
  struct Depth {
    int& d;
    explicit Depth(int& depth) : d(depth) { ++d; }
    ~Depth() { --d; }
  } depth(depth_);
  if (depth_ > kMaxDepth && !tokens.empty())
    fail(tokens.front().location(),
         "macro arguments nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
  std::deque<Token> in(tokens.begin(), tokens.end());
  std::vector<Token> out;
  while (!in.empty()) {
    Token t = std::move(in.front());
    in.pop_front();
    if (t.kind != TokenKind::Identifier || hidden(t, t.text)) {
      out.push_back(std::move(t));
      continue;
    }
    if (t.text == "__LINE__" || t.text == "__FILE__") {
      bool line = t.text == "__LINE__";
      t.kind = line ? TokenKind::Number : TokenKind::String;
      t.text = line ? std::to_string(t.line) : "\"" + (t.file ? *t.file : std::string()) + "\"";
      out.push_back(std::move(t));
      continue;
    }
    auto it = macros_.find(t.text);
    if (it == macros_.end()) {
      out.push_back(std::move(t));
      continue;
    }
    const Macro& m = it->second;
    std::vector<Token> result;
    if (!m.function_like) {
      result = substitute(m, {}, t);
      std::set<std::string> hs = t.hide ? *t.hide : std::set<std::string>{};
      hs.insert(m.name);
      add_names(result, hs);
    } else {
      // Without a following '(' a function-like macro name is an ordinary identifier.
      if (in.empty() || !in.front().is_punct("(")) {
        out.push_back(std::move(t));
        continue;
      }
      in.pop_front();
      std::vector<std::vector<Token>> args(1);
      int depth = 0;
      Token rparen;
      bool closed = false;
      while (!in.empty()) {
        Token a = std::move(in.front());
        in.pop_front();
        if (a.is_punct("(")) ++depth;
        if (a.is_punct(")")) {
          if (depth == 0) {
            rparen = std::move(a);
            closed = true;
            break;
          }
          --depth;
        }
        bool in_variadic_tail = m.variadic && args.size() == m.params.size();
        if (a.is_punct(",") && depth == 0 && !in_variadic_tail) {
          args.emplace_back();
          continue;
        }
        args.back().push_back(std::move(a));
      }
      if (!closed) fail(t.location(), "unterminated argument list invoking macro '" + m.name + "'");
      if (m.params.empty() && args.size() == 1 && args[0].empty()) args.clear();
      if (m.variadic && args.size() + 1 == m.params.size()) args.emplace_back();
      if (args.size() != m.params.size()) {
        fail(t.location(), "macro '" + m.name + "' requires " + std::to_string(m.params.size()) + " arguments, but " +
                               std::to_string(args.size()) + " given");
      }
      result = substitute(m, args, t);
      // Prosser's rule: the names hiding both the macro name and the ')' stay hidden, plus this one.
      std::set<std::string> common;
      if (t.hide && rparen.hide) {
        std::set_intersection(t.hide->begin(), t.hide->end(), rparen.hide->begin(), rparen.hide->end(),
                              std::inserter(common, common.begin()));
      }
      common.insert(m.name);
      add_names(result, common);
    }
    for (Token& r : result) {
      r.file = t.file;
      r.line = t.line;
      r.column = t.column;
      r.at_line_start = false;
    }
    if (!result.empty()) result.front().space_before = t.space_before;
    produced_ += result.size();
    if (produced_ > kMaxExpansionTokens)
      fail(t.location(), "macro expansion produces more than " + std::to_string(kMaxExpansionTokens) +
                             " tokens (expanding '" + m.name + "'): macros that expand to several copies of " +
                             "other macros grow exponentially with nesting");
    in.insert(in.begin(), result.begin(), result.end());
  }
  return out;
}

std::vector<Token> MacroTable::substitute(const Macro& m, const std::vector<std::vector<Token>>& args,
                                          const Token& name) const {
  auto param_index = [&](const Token& t) -> int {
    if (!m.function_like || t.kind != TokenKind::Identifier) return -1;
    auto it = std::find(m.params.begin(), m.params.end(), t.text);
    return it == m.params.end() ? -1 : static_cast<int>(it - m.params.begin());
  };
  const std::vector<Token>& body = m.body;
  std::vector<Token> out;
  for (size_t i = 0; i < body.size(); ++i) {
    const Token& tok = body[i];
    if (m.function_like && tok.is_punct("#") && i + 1 < body.size() && param_index(body[i + 1]) >= 0) {
      Token s = tok;
      s.kind = TokenKind::String;
      s.text = stringize(args[param_index(body[i + 1])]);
      out.push_back(s);
      ++i;
      continue;
    }
    if (tok.is_punct("##") && i + 1 < body.size()) {
      const Token& next = body[i + 1];
      int p = param_index(next);
      ++i;
      // GNU extension: `, ## __VA_ARGS__` drops the comma when no variadic argument is given.
      if (p >= 0 && m.variadic && p + 1 == static_cast<int>(m.params.size()) && !out.empty() &&
          out.back().is_punct(",")) {
        if (args[p].empty())
          out.pop_back();
        else
          out.insert(out.end(), args[p].begin(), args[p].end());
        continue;
      }
      std::vector<Token> rhs = p >= 0 ? args[p] : std::vector<Token>{next};
      if (rhs.empty()) {
        Token marker = next;
        marker.kind = TokenKind::Punct;
        marker.text.clear();
        rhs.push_back(marker);
      }
      if (out.empty()) fail(name.location(), "'##' cannot appear at either end of a macro expansion");
      out.back() = paste(out.back(), rhs[0]);
      out.insert(out.end(), rhs.begin() + 1, rhs.end());
      continue;
    }
    int p = param_index(tok);
    if (p >= 0) {
      bool pasted_next = i + 1 < body.size() && body[i + 1].is_punct("##");
      std::vector<Token> arg = pasted_next ? args[p] : expand(args[p]);
      if (arg.empty() && pasted_next) {
        Token marker = tok;
        marker.text.clear();
        marker.kind = TokenKind::Punct;
        arg.push_back(marker);
      }
      if (!arg.empty()) arg.front().space_before = tok.space_before;
      out.insert(out.end(), arg.begin(), arg.end());
      continue;
    }
    out.push_back(tok);
  }
  out.erase(std::remove_if(out.begin(), out.end(), is_placemarker), out.end());
  return out;
}

}  // namespace metallic::msl
