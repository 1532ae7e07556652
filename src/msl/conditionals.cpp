#include "msl/conditionals.h"

#include <map>

#include "msl/structure.h"

namespace metallic::msl {
namespace {

constexpr size_t npos = Structure::npos;
constexpr size_t kMaxArmTokens = 1500;  // nested chains copy their arms: keep growth bounded

bool is_opener(const Token& t) { return t.is_punct("(") || t.is_punct("[") || t.is_punct("{") || t.is_punct("[["); }
bool is_closer(const Token& t) { return t.is_punct(")") || t.is_punct("]") || t.is_punct("}") || t.is_punct("]]"); }

class Conditionals {
 public:
  explicit Conditionals(const std::vector<Token>& t) : t_(t), st_(analyze(t)) {}

  std::vector<Token> run() {
    for (size_t i = 0; i < t_.size(); ++i)
      if (t_[i].is_punct("?")) find(i);
    if (arms_.empty()) return t_;
    return rewrite(0, t_.size());
  }

 private:
  struct Arms {
    size_t colon, end;  // b = [q + 1, colon), c = [colon + 1, end)
  };

  void find(size_t q) {
    if (in_attribute_or_template(q)) return;
    size_t colon = find_colon(q);
    if (colon == npos) return;
    size_t end = find_end(colon);
    if (end == npos || end == colon + 1 || colon == q + 1) return;
    if (unsuitable(q + 1, colon) || unsuitable(colon + 1, end)) return;
    arms_[q] = {colon, end};
  }

  // `[[attr(a ? b : c)]]` (the translator evaluates those) and `Foo<a ? 1 : 2>`: a '<' before
  // the '?' and a '>' after it at the same depth, within the enclosing brackets. (This also
  // skips a few comparisons, `x < lo ? lo : x > hi ? hi : x`, which then stay as written.)
  bool in_attribute_or_template(size_t q) const {
    bool less = false;
    for (size_t i = q; i-- > 0;) {
      const Token& t = t_[i];
      if (is_closer(t) && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (t.is_punct("[[")) return true;
      if (is_opener(t) || t.is_punct(";")) break;
      if (t.is_punct("<")) less = true;
    }
    if (!less) return false;
    for (size_t i = q + 1; i < t_.size(); ++i) {
      const Token& t = t_[i];
      if (is_opener(t) && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (is_closer(t) || t.is_punct(";")) return false;
      if (t.is_punct(">") || t.is_punct(">>")) return true;
    }
    return false;
  }

  size_t find_colon(size_t q) const {
    int nested = 0;
    for (size_t i = q + 1; i < t_.size(); ++i) {
      const Token& t = t_[i];
      if (is_opener(t) && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (is_closer(t) || t.is_punct(";")) return npos;
      if (t.is_punct("?")) ++nested;
      if (t.is_punct(":") && nested-- == 0) return i;
    }
    return npos;
  }

  // The end of the third operand: a ',', ';', closing bracket, or the ':' of an enclosing
  // conditional. `vec<float, 2>(x)` in it is a template-id, not a comparison.
  size_t find_end(size_t colon) const {
    int nested = 0;
    for (size_t i = colon + 1; i < t_.size(); ++i) {
      const Token& t = t_[i];
      if (is_opener(t) && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (t.is_punct("<")) {
        size_t close = template_close(i);
        if (close != npos) {
          i = close;
          continue;
        }
      }
      if (is_closer(t) || t.is_punct(";") || t.is_punct(",")) return i;
      if (t.is_punct("?")) ++nested;
      if (t.is_punct(":") && nested-- == 0) return i;
    }
    return t_.size();
  }

  // The '>' closing a template argument list opened by the '<' at i (after a name, holding
  // only what types and constants are made of, followed by '(', '{' or '::'), or npos.
  size_t template_close(size_t open) const {
    if (open == 0 || t_[open - 1].kind != TokenKind::Identifier) return npos;
    int depth = 0;
    for (size_t i = open; i < t_.size(); ++i) {
      const Token& t = t_[i];
      if (t.is_punct("(") && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (t.is_punct("<"))
        ++depth;
      else if (t.is_punct(">") || t.is_punct(">>")) {
        depth -= t.is_punct(">>") ? 2 : 1;
        if (depth <= 0) {
          if (depth < 0 || i + 1 >= t_.size()) return npos;
          const Token& n = t_[i + 1];
          return n.is_punct("(") || n.is_punct("{") || n.is_punct("::") ? i : npos;
        }
      } else if (!(t.kind == TokenKind::Identifier || t.kind == TokenKind::Number || t.is_punct(",") ||
                   t.is_punct("::") || t.is_punct("*") || t.is_punct("&"))) {
        return npos;
      }
    }
    return npos;
  }

  // Arms that decltype cannot take (a lambda) or that are not values (throw).
  bool unsuitable(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i) {
      if (t_[i].is_ident("throw")) return true;
      if (t_[i].is_punct("[")) {
        bool subscript = i > b && (t_[i - 1].kind == TokenKind::Identifier || t_[i - 1].is_punct(")") ||
                                   t_[i - 1].is_punct("]") || t_[i - 1].kind == TokenKind::String);
        if (!subscript) return true;
      }
    }
    return false;
  }

  std::vector<Token> rewrite(size_t b, size_t e) const {
    std::vector<Token> out;
    for (size_t i = b; i < e; ++i) {
      out.push_back(t_[i]);
      auto a = arms_.find(i);
      if (a == arms_.end() || a->second.end > e) continue;
      std::vector<Token> first = rewrite(i + 1, a->second.colon);
      std::vector<Token> second = rewrite(a->second.colon + 1, a->second.end);
      if (first.size() + second.size() > kMaxArmTokens) {
        append(out, first);
        out.push_back(t_[a->second.colon]);
        append(out, second);
      } else {
        cast(out, first, second, t_[i]);
        out.push_back(t_[a->second.colon]);
        cast(out, second, first, t_[a->second.colon]);
      }
      i = a->second.end - 1;
    }
    return out;
  }

  static void append(std::vector<Token>& out, const std::vector<Token>& more) {
    out.insert(out.end(), more.begin(), more.end());
  }

  // static_cast< ::metal::detail::cond_t<decltype((arm)), decltype((other))> >(arm)
  static void cast(std::vector<Token>& out, const std::vector<Token>& arm, const std::vector<Token>& other,
                   const Token& at) {
    append(out, lex_generated("static_cast< ::metal::detail::cond_t<decltype((", at));
    append(out, arm);
    append(out, lex_generated(")), decltype((", at));
    append(out, other);
    append(out, lex_generated("))> >(", at));
    append(out, arm);
    append(out, lex_generated(")", at));
  }

  const std::vector<Token>& t_;
  Structure st_;
  std::map<size_t, Arms> arms_;  // by the '?'
};

}  // namespace

void rewrite_conditionals(std::vector<Token>& toks) { toks = Conditionals(toks).run(); }

}  // namespace metallic::msl
