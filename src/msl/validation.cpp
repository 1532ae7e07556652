#include "msl/validation.h"

#include <map>
#include <set>

namespace metallic::msl {
namespace {

bool one_of(const Token& t, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (t.text == w) return true;
  return false;
}

// Scalar and vector type names: `float[4]` in a cast or sizeof is a type, not an access.
bool builtin_type_name(const std::string& w) {
  static const char* const kScalars[] = {
      "bool",   "char",    "uchar",   "short",    "ushort",    "int",      "uint",     "long",    "ulong",
      "half",   "float",   "bfloat",  "size_t",   "ptrdiff_t", "void",     "unsigned", "signed",  "auto",
      "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t",   "uint32_t", "int64_t",  "uint64_t"};
  std::string base = w;
  if (!base.empty() && base.back() >= '2' && base.back() <= '4') base.pop_back();
  for (const char* s : kScalars)
    if (base == s || w == s) return true;
  return false;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Instrumenter {
 public:
  Instrumenter(const std::vector<Token>& t, const Structure& st, const std::string& main_file, TokenEdits& e)
      : t_(t), st_(st), main_file_(main_file), e_(e) {}

  // returns_reference: the function returns a reference, so `return a[i];` hands the
  // element to the caller, who may read or write it: that is no access here.
  void body(size_t open, size_t close, const std::map<std::string, bool>& params, bool returns_reference) {
    returns_reference_ = returns_reference;
    std::map<std::string, bool> tg = params;  // threadgroup names -> is an array or pointer
    std::set<size_t> declarators;
    for (size_t i = open + 1; i < close; ++i)
      if (t_[i].is_ident("threadgroup") && st_.statement_start[i]) threadgroup_declaration(i, close, tg, declarators);
    for (size_t i = open + 1; i < close; ++i) {
      const Token& tok = t_[i];
      if (tok.kind != TokenKind::Identifier || e_.touched(i) || declarators.count(i)) continue;
      if (is_keyword(tok.text) && !tok.is_ident("threadgroup_barrier")) continue;
      bool member = t_[i - 1].is_punct(".") || t_[i - 1].is_punct("->");
      bool qualified = t_[i - 1].is_punct("::");
      const Token* next = i + 1 < close ? &t_[i + 1] : nullptr;
      if (tok.is_ident("threadgroup_barrier") && next && next->is_punct("(")) {
        size_t k = i;
        while (k >= 2 && t_[k - 1].is_punct("::") && t_[k - 2].kind == TokenKind::Identifier) k -= 2;
        if (k >= 1 && t_[k - 1].is_punct("::")) --k;
        e_.insert_before(k, "::metal::detail::v_here(" + site(tok) + "),");
        continue;
      }
      if (member || qualified || !next) continue;
      if (next->is_punct(".") && i + 3 < close && t_[i + 2].kind == TokenKind::Identifier &&
          one_of(t_[i + 2], {"read", "write"}) && t_[i + 3].is_punct("(")) {
        e_.replace(i, "::metal::detail::v_at(" + tok.text + ", " + site(tok) + ", " + quoted(tok.text) + ")");
        continue;
      }
      // `*(p + e)` and `*(p - e)`: checked as p[e] and p[-(e)], so the range is the one p
      // lies in (the address alone may lie in no range, or in a neighbour's).
      if (t_[i - 1].is_punct("(") && (next->is_punct("+") || next->is_punct("-")) && unary_deref(i - 1)) {
        const size_t close_paren = st_.match[i - 1];
        const bool minus = next->is_punct("-");
        if (close_paren != Structure::npos && plain_offset(i + 2, close_paren, minus)) {
          e_.drop(i - 2);
          e_.replace(i, "::metal::detail::v_acc(" + tok.text + ", " + kind(i - 2, close_paren + 1) + ", " + site(tok) +
                            ", " + quoted(tok.text) + ")[");
          if (minus)
            e_.replace(i + 1, "-(");
          else
            e_.drop(i + 1);
          e_.replace(close_paren, minus ? ")])" : "])");
          continue;
        }
      }
      if (next->is_punct("[")) {
        if (builtin_type_name(tok.text) || declaration_name(i)) continue;
        size_t close_bracket = st_.match[i + 1];
        if (close_bracket == Structure::npos) continue;
        e_.replace(i, "::metal::detail::v_acc(" + tok.text + ", " + kind(i, close_bracket + 1) + ", " + site(tok) +
                          ", " + quoted(tok.text) + ")");
        continue;
      }
      // `*p` (p a pointer: checked like p[0]) and `p->m` (the member's bytes checked against
      // the range p lies in).
      if (next->is_punct("->") && i + 2 < close && t_[i + 2].kind == TokenKind::Identifier && !e_.touched(i + 2) &&
          !is_keyword(t_[i + 2].text) && !(i + 3 < close && t_[i + 3].is_punct("("))) {
        e_.replace(i, "(*::metal::detail::v_fld(" + tok.text + ", &(" + tok.text + "->" + t_[i + 2].text + "), " +
                          kind(i, i + 3) + ", " + site(tok) + ", " + quoted(tok.text) + "))");
        e_.drop(i + 1);
        e_.drop(i + 2);
        continue;
      }
      if (unary_deref(i) && !one_of(*next, {"(", ".", "->", "++", "--", "::"})) {
        e_.replace(i, "::metal::detail::v_dp(" + tok.text + ", " + kind(i - 1, i + 1) + ", " + site(tok) + ", " +
                          quoted(tok.text) + ")");
        continue;
      }
      auto it = tg.find(tok.text);
      if (it == tg.end()) continue;
      // A bare use of a threadgroup name.
      bool address = unary_address(i);
      if (it->second || address) {
        // Its address leaves our sight: writes through it are not tracked.
        e_.replace(i, "::metal::detail::v_esc(" + tok.text + ")");
      } else {
        e_.replace(i, "::metal::detail::v_tgs(" + tok.text + ", " + kind(i, i + 1) + ", " + site(tok) + ", " +
                          quoted(tok.text) + ")");
      }
    }
  }

 private:
  std::string site(const Token& tok) const {
    return std::to_string(tok.line) + ", " + std::to_string(tok.column) + ", " +
           quoted(tok.file ? *tok.file : main_file_);
  }

  bool unary_address(size_t i) const {
    if (!t_[i - 1].is_punct("&")) return false;
    const Token& before = t_[i - 2];
    bool operand = (before.kind == TokenKind::Identifier && !one_of(before, {"return", "case"})) ||
                   before.kind == TokenKind::Number || before.is_punct(")") || before.is_punct("]");
    return !operand;
  }

  // Whether [begin, end) is an offset that `p + ...` / `p - ...` adds as a whole: operators of
  // higher precedence than + and - only at its top level (and, after `+`, more + and -).
  bool plain_offset(size_t begin, size_t end, bool after_minus) const {
    if (begin >= end) return false;
    for (size_t k = begin; k < end; ++k) {
      const Token& t = t_[k];
      if ((t.is_punct("(") || t.is_punct("[")) && st_.match[k] != Structure::npos && st_.match[k] < end) {
        k = st_.match[k];
        continue;
      }
      if (t.kind != TokenKind::Punct) continue;
      if (one_of(t, {"*", "/", "%", ".", "->", "::"})) continue;
      if (!after_minus && one_of(t, {"+", "-"})) continue;
      return false;
    }
    return true;
  }

  // Whether the `*` before the identifier at i dereferences it (not a multiplication, nor
  // the `*` of a declarator such as `device float *p` or `vec<float, 4> *q`).
  bool unary_deref(size_t i) const {
    if (i < 2 || !t_[i - 1].is_punct("*")) return false;
    const Token& before = t_[i - 2];
    if (before.kind == TokenKind::Number || before.is_punct(")") || before.is_punct("]")) return false;
    if (before.kind == TokenKind::Identifier)
      return one_of(before, {"return", "case", "else", "do", "co_return", "co_yield"});
    if (before.is_punct(">") || before.is_punct(">>")) return false;  // a template's declarator, most likely
    if (before.is_punct(",")) return !declaration_name(i - 1);
    return true;
  }

  // How the access at i (whose subscripts or members end before `after`) uses the element.
  std::string kind(size_t i, size_t after) const {
    size_t j = after;
    for (;;) {
      if (j < t_.size() && t_[j].is_punct("[") && st_.match[j] != Structure::npos) {
        j = st_.match[j] + 1;
      } else if (j + 1 < t_.size() && (t_[j].is_punct(".") || t_[j].is_punct("->")) &&
                 t_[j + 1].kind == TokenKind::Identifier) {
        j += 2;
      } else {
        break;
      }
    }
    if (unary_address(i)) return "4";
    if (returns_reference_ && t_[i - 1].is_ident("return")) return "4";
    if (t_[i - 1].is_punct("++") || t_[i - 1].is_punct("--")) return "3";
    if (j < t_.size()) {
      const Token& n = t_[j];
      if (n.is_punct("=")) return "2";
      if (n.kind == TokenKind::Punct &&
          one_of(n, {"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--"}))
        return "3";
      // A method call (`tile[i].fetch_add(...)`): the object's own business.
      if (n.is_punct("(") && j > after) return "4";
    }
    return "1";
  }

  // Whether the identifier at i (followed by `[`) is the name a declaration declares.
  bool declaration_name(size_t i) const {
    const Token& p = t_[i - 1];
    if (p.kind == TokenKind::Identifier)
      return !one_of(p, {"return", "case", "else", "do", "throw", "sizeof", "co_return", "co_yield"});
    if (p.is_punct(">") || p.is_punct(">>") || p.is_punct(",")) {
      size_t s = st_.decl_begin[i];
      if (s == Structure::npos || s >= i) return false;
      // The statement must start with a type name followed (eventually) by a declarator.
      if (t_[s].kind != TokenKind::Identifier || one_of(t_[s], {"return", "if", "while", "for", "switch", "case"}))
        return false;
      int depth = 0;
      bool saw_declarator = false;
      for (size_t k = s; k < i; ++k) {
        const Token& x = t_[k];
        if (x.is_punct("(") || x.is_punct("{")) return false;  // an expression or an initializer
        if (x.is_punct("[") && st_.match[k] != Structure::npos) {
          k = st_.match[k];
          continue;
        }
        if (x.is_punct("<")) ++depth;
        if (x.is_punct(">")) --depth;
        if (x.is_punct(">>")) depth -= 2;
        if (x.is_punct("=")) return false;
        if (x.kind == TokenKind::Identifier && k > s && depth == 0) saw_declarator = true;
      }
      return p.is_punct(",") ? saw_declarator : depth == 0;
    }
    return false;
  }

  // `threadgroup T a[N], b;` at i: note each variable after the `;`, and remember its name.
  void threadgroup_declaration(size_t i, size_t close, std::map<std::string, bool>& tg, std::set<size_t>& declarators) {
    std::vector<std::pair<size_t, bool>> names;  // declarator token, is an array
    size_t last_identifier = 0;
    bool in_name = true;
    int angle = 0;
    for (size_t j = i + 1; j < close; ++j) {
      const Token& x = t_[j];
      if (x.is_punct("<")) ++angle;
      if (x.is_punct(">")) --angle;
      if (angle > 0) continue;
      if (in_name && (x.is_punct("*") || x.is_punct("&"))) return;  // a pointer or reference, not storage
      bool ends_name = x.is_punct("[") || x.is_punct("=") || x.is_punct("{") || x.is_punct(",") || x.is_punct(";");
      if (in_name && ends_name && last_identifier) names.emplace_back(last_identifier, x.is_punct("["));
      if (ends_name) in_name = false;
      if (x.kind == TokenKind::Identifier) last_identifier = j;
      if (x.is_punct(",")) in_name = true, last_identifier = 0;
      if ((x.is_punct("(") || x.is_punct("[") || x.is_punct("{")) && st_.match[j] != Structure::npos) j = st_.match[j];
      if (x.is_punct(";")) {
        std::string notes;
        for (auto& [k, array] : names) {
          tg[t_[k].text] = array;
          declarators.insert(k);
          notes += "::metal::detail::v_note_tg(" + t_[k].text + ", " + quoted(t_[k].text) + ");";
        }
        if (j + 1 < t_.size() && !notes.empty()) e_.insert_before(j + 1, notes);
        return;
      }
    }
  }

  const std::vector<Token>& t_;
  const Structure& st_;
  const std::string& main_file_;
  TokenEdits& e_;
  bool returns_reference_ = false;
};

}  // namespace

void instrument_for_validation(const std::vector<Token>& toks, const Structure& st,
                               const std::vector<KernelDecl>& kernels, const std::string& main_file,
                               TokenEdits& edits) {
  Instrumenter in(toks, st, main_file, edits);
  std::vector<bool> done(toks.size(), false);
  for (size_t f = 0; f < st.functions.size(); ++f) {
    const FunctionDef& fn = st.functions[f];
    if (fn.body_open == 0 || fn.body_close <= fn.body_open || done[fn.body_open]) continue;
    done[fn.body_open] = true;
    std::map<std::string, bool> params;
    for (const KernelDecl& k : kernels) {
      if (k.function != f) continue;
      for (const ParsedParam& p : k.params)
        if (p.arg.kind == ArgKind::Threadgroup && !p.arg.name.empty()) params[p.arg.name] = true;
    }
    bool returns_reference = false;  // a `&` (or `&&`) in the return type, before the name
    int angle = 0;
    for (size_t k = fn.decl_begin; k < fn.name_index && k < toks.size(); ++k) {
      if (toks[k].is_punct("<")) ++angle;
      if (toks[k].is_punct(">")) --angle;
      if (angle == 0 && (toks[k].is_punct("&") || toks[k].is_punct("&&"))) returns_reference = true;
    }
    in.body(fn.body_open, fn.body_close, params, returns_reference);
  }
}

bool uses_logging(const std::vector<Token>& toks) {
  for (const Token& t : toks)
    if (t.kind == TokenKind::Identifier && (t.text == "os_log" || t.text == "os_log_default" || t.text == "printf"))
      return true;
  return false;
}

}  // namespace metallic::msl
