#include "msl/pp_expression.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace metallic::msl {
namespace {

struct Value {
  int64_t v = 0;
  bool is_unsigned = false;
  uint64_t u() const { return static_cast<uint64_t>(v); }
};

class Parser {
 public:
  Parser(const std::vector<Token>& t, const SourceLocation& where, bool identifiers_are_zero)
      : t_(t), where_(where), identifiers_are_zero_(identifiers_are_zero) {}

  Value parse_all() {
    if (t_.empty()) fail(where_, identifiers_are_zero_ ? "#if with no expression" : "expected an integer constant");
    Value v = ternary(true);
    if (pos_ < t_.size()) error_at(t_[pos_], "missing binary operator before token '" + t_[pos_].text + "'");
    return v;
  }

 private:
  [[noreturn]] void error_at(const Token& t, const std::string& msg) {
    SourceLocation loc = where_;
    loc.column = t.line == where_.line ? t.column : where_.column;
    fail(loc, msg);
  }
  bool accept(const char* p) {
    if (pos_ < t_.size() && t_[pos_].is_punct(p)) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at(const char* p) const { return pos_ < t_.size() && t_[pos_].is_punct(p); }
  static constexpr int kMaxDepth = 1000;
  int depth_ = 0;

  // `live` is false inside the unevaluated arm of && || ?: so 1 || 1/0 is fine.
  Value ternary(bool live) {
    ++depth_;
    if (depth_ > kMaxDepth)
      fail(where_, "expression nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
    Value result = ternary_body(live);
    --depth_;
    return result;
  }

  Value ternary_body(bool live) {
    Value c = binary(0, live);
    if (!accept("?")) return c;
    bool cond = c.v != 0;
    Value a = ternary(live && cond);
    if (!accept(":")) fail(where_, "expected ':' in conditional expression in #if");
    Value b = ternary(live && !cond);
    Value r = cond ? a : b;
    r.is_unsigned = a.is_unsigned || b.is_unsigned;
    return r;
  }

  static int precedence(const std::string& op) {
    static const char* const levels[][4] = {
        {"||"},       {"&&"},     {"|"},           {"^"}, {"&"}, {"==", "!="}, {"<", ">", "<=", ">="},
        {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
    };
    for (int i = 0; i < 10; ++i)
      for (const char* o : levels[i])
        if (o && op == o) return i;
    return -1;
  }

  Value binary(int level, bool live) {
    if (level == 10) return unary(live);
    Value lhs = binary(level + 1, live);
    while (pos_ < t_.size() && t_[pos_].kind == TokenKind::Punct && precedence(t_[pos_].text) == level) {
      const Token& op_tok = t_[pos_++];
      std::string op = op_tok.text;
      bool rhs_live = live;
      if (op == "&&") rhs_live = live && lhs.v != 0;
      if (op == "||") rhs_live = live && lhs.v == 0;
      Value rhs = binary(level + 1, rhs_live);
      lhs = apply(op, lhs, rhs, rhs_live, op_tok);
    }
    return lhs;
  }

  Value apply(const std::string& op, Value a, Value b, bool live, const Token& at) {
    Value r;
    bool uns = a.is_unsigned || b.is_unsigned;
    if (op == "&&") return {a.v != 0 && b.v != 0, false};
    if (op == "||") return {a.v != 0 || b.v != 0, false};
    if (op == "==") return {uns ? a.u() == b.u() : a.v == b.v, false};
    if (op == "!=") return {uns ? a.u() != b.u() : a.v != b.v, false};
    if (op == "<") return {uns ? a.u() < b.u() : a.v < b.v, false};
    if (op == ">") return {uns ? a.u() > b.u() : a.v > b.v, false};
    if (op == "<=") return {uns ? a.u() <= b.u() : a.v <= b.v, false};
    if (op == ">=") return {uns ? a.u() >= b.u() : a.v >= b.v, false};
    r.is_unsigned = uns;
    if (op == "<<" || op == ">>") {
      r.is_unsigned = a.is_unsigned;
      int64_t n = b.v;
      if (n < 0 || n >= 64) return r;
      if (op == "<<")
        r.v = static_cast<int64_t>(a.u() << n);
      else
        r.v = a.is_unsigned ? static_cast<int64_t>(a.u() >> n) : a.v >> n;
      return r;
    }
    if ((op == "/" || op == "%") && b.v == 0) {
      if (live) error_at(at, "division by zero in #if");
      return r;
    }
    uint64_t x = a.u(), y = b.u();
    if (op == "+")
      r.v = static_cast<int64_t>(x + y);
    else if (op == "-")
      r.v = static_cast<int64_t>(x - y);
    else if (op == "*")
      r.v = static_cast<int64_t>(x * y);
    else if (op == "/")
      r.v = uns ? static_cast<int64_t>(x / y) : (a.v == INT64_MIN && b.v == -1 ? a.v : a.v / b.v);
    else if (op == "%")
      r.v = uns ? static_cast<int64_t>(x % y) : (b.v == -1 ? 0 : a.v % b.v);
    else if (op == "&")
      r.v = static_cast<int64_t>(x & y);
    else if (op == "|")
      r.v = static_cast<int64_t>(x | y);
    else if (op == "^")
      r.v = static_cast<int64_t>(x ^ y);
    return r;
  }

  Value unary(bool live) {
    if (pos_ >= t_.size()) fail(where_, "#if expression ends unexpectedly");
    // Nesting (parentheses, unary operators, ?:) recurses: bound it, so a pathological
    // expression is an error rather than a stack overflow.
    struct Depth {
      int& d;
      explicit Depth(int& depth) : d(depth) { ++d; }
      ~Depth() { --d; }
    } depth(depth_);
    if (depth_ > kMaxDepth)
      fail(where_, "expression nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
    if (accept("+")) return unary(live);
    if (accept("-")) {
      Value v = unary(live);
      v.v = static_cast<int64_t>(0 - v.u());
      return v;
    }
    if (accept("~")) {
      Value v = unary(live);
      v.v = ~v.v;
      return v;
    }
    if (accept("!")) {
      Value v = unary(live);
      return {v.v == 0, false};
    }
    if (accept("(")) {
      Value v = ternary(live);
      if (!accept(")")) fail(where_, "missing ')' in #if expression");
      return v;
    }
    const Token& t = t_[pos_++];
    if (t.kind == TokenKind::Identifier) {
      if (t.text == "true" || t.text == "false") return {t.text == "true" ? 1 : 0, false};
      if (!identifiers_are_zero_)
        error_at(t, "'" + t.text + "' is not an integer constant the translator can evaluate");
      return {0, false};
    }
    if (t.kind == TokenKind::Number) return number(t);
    if (t.kind == TokenKind::Char) return character(t);
    error_at(t, "token '" + t.text + "' is not valid in preprocessor expressions");
  }

  Value number(const Token& t) {
    std::string s;
    for (char c : t.text)
      if (c != '\'') s += c;
    size_t end = s.size();
    bool uns = false;
    while (end > 0 && std::strchr("uUlL", s[end - 1])) {
      if (s[end - 1] == 'u' || s[end - 1] == 'U') uns = true;
      --end;
    }
    std::string digits = s.substr(0, end);
    int base = 10;
    size_t start = 0;
    if (digits.size() > 1 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
      base = 16, start = 2;
    else if (digits.size() > 1 && digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B'))
      base = 2, start = 2;
    else if (digits.size() > 1 && digits[0] == '0')
      base = 8, start = 1;
    char* stop = nullptr;
    std::string body = digits.substr(start);
    uint64_t v = std::strtoull(body.c_str(), &stop, base);
    if (body.empty() && base != 8) error_at(t, "invalid integer constant '" + t.text + "' in #if");
    if (stop == nullptr || *stop != '\0') {
      error_at(t, "floating or invalid constant '" + t.text + "' in preprocessor expression");
    }
    if (v > static_cast<uint64_t>(INT64_MAX)) uns = true;
    return {static_cast<int64_t>(v), uns};
  }

  Value character(const Token& t) {
    size_t q = t.text.find('\'');
    std::string body = t.text.substr(q + 1, t.text.size() - q - 2);
    if (body.empty()) error_at(t, "empty character constant in #if");
    if (body[0] != '\\') return {static_cast<unsigned char>(body[0]), false};
    switch (body.size() > 1 ? body[1] : '\\') {
      case 'n':
        return {'\n', false};
      case 't':
        return {'\t', false};
      case 'r':
        return {'\r', false};
      case '0':
        return {std::strtol(body.c_str() + 1, nullptr, 8), false};
      case 'x':
        return {std::strtol(body.c_str() + 2, nullptr, 16), false};
      default:
        return {static_cast<unsigned char>(body[1]), false};
    }
  }

  const std::vector<Token>& t_;
  SourceLocation where_;
  bool identifiers_are_zero_;
  size_t pos_ = 0;
};

}  // namespace

bool evaluate_condition(const std::vector<Token>& tokens, const SourceLocation& where) {
  return Parser(tokens, where, true).parse_all().v != 0;
}

int64_t evaluate_integer(const std::vector<Token>& tokens, const SourceLocation& where) {
  return Parser(tokens, where, false).parse_all().v;
}

}  // namespace metallic::msl
