// A set of edits to a token stream, applied in one pass: the rewriter decides, this applies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

class TokenEdits {
 public:
  explicit TokenEdits(const std::vector<Token>& toks)
      : toks_(toks), drop_(toks.size(), false), replace_(toks.size()), before_(toks.size()) {}

  void drop(size_t i) { drop_[i] = true; }
  void drop_range(size_t begin, size_t end) {  // [begin, end)
    for (size_t i = begin; i < end && i < toks_.size(); ++i) drop_[i] = true;
  }
  void replace(size_t i, std::string text) { replace_[i] = std::move(text); }
  // New text in front of token i, at its position (kept even when token i is dropped).
  void insert_before(size_t i, std::string text) { before_[i].push_back(std::move(text)); }

  bool dropped(size_t i) const { return drop_[i]; }
  bool touched(size_t i) const { return drop_[i] || replace_[i].has_value(); }

  std::vector<Token> apply() const {
    std::vector<Token> out;
    out.reserve(toks_.size());
    for (size_t i = 0; i < toks_.size(); ++i) {
      for (const std::string& s : before_[i]) {
        Token t = toks_[i];
        t.kind = TokenKind::Identifier;
        t.text = s;
        t.hide.reset();
        t.space_before = true;
        out.push_back(t);
      }
      if (drop_[i]) continue;
      Token t = toks_[i];
      if (!before_[i].empty()) t.space_before = true;
      if (replace_[i]) t.text = *replace_[i];
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  const std::vector<Token>& toks_;
  std::vector<bool> drop_;
  std::vector<std::optional<std::string>> replace_;
  std::vector<std::vector<std::string>> before_;
};

}  // namespace metallic::msl
