#include "msl/designated_initializers.h"

#include <cctype>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "msl/structure.h"

namespace metallic::msl {
namespace {

constexpr size_t npos = Structure::npos;
const char* const kFeature = "designated initializer";

// `{ .name =`, `{ .name {`, `{ .name .`: a designated initializer list opens at i.
bool opens_designated_list(const std::vector<Token>& t, size_t i) {
  return i + 3 < t.size() && t[i].is_punct("{") && t[i + 1].is_punct(".") && t[i + 2].kind == TokenKind::Identifier &&
         (t[i + 3].is_punct("=") || t[i + 3].is_punct("{") || t[i + 3].is_punct(".") || t[i + 3].is_punct("["));
}

// Scalars, vectors, matrices and the other built-in value types (never aggregates of ours).
bool is_builtin_value_type(std::string n) {
  static const std::set<std::string> kNames = {
      "bool",        "char",        "uchar",        "short",        "ushort",   "int",      "uint",
      "long",        "ulong",       "half",         "float",        "bfloat",   "size_t",   "ptrdiff_t",
      "int8_t",      "uint8_t",     "int16_t",      "uint16_t",     "int32_t",  "uint32_t", "int64_t",
      "uint64_t",    "signed",      "unsigned",     "vec",          "matrix",   "atomic",   "atomic_int",
      "atomic_uint", "atomic_bool", "atomic_float", "atomic_ulong", "intptr_t", "uintptr_t"};
  if (n.rfind("packed_", 0) == 0) n = n.substr(7);
  if (kNames.count(n)) return true;
  size_t k = n.size();
  while (k > 0 && (std::isdigit(static_cast<unsigned char>(n[k - 1])) || n[k - 1] == 'x')) --k;
  return k < n.size() && std::isdigit(static_cast<unsigned char>(n.back())) && kNames.count(n.substr(0, k)) > 0;
}

bool is_qualifier(const Token& t) {
  static const std::set<std::string> kWords = {
      "const",    "constant", "device",    "thread",     "threadgroup", "threadgroup_imageblock",
      "volatile", "static",   "constexpr", "inline",     "typename",    "struct",
      "class",    "union",    "mutable",   "restrict",   "__restrict",  "__restrict__",
      "extern",   "coherent", "ray_data",  "object_data"};
  return t.kind == TokenKind::Identifier && kWords.count(t.text) > 0;
}

struct ClassInfo;

// What a braced list initialises, as far as the front end can tell.
struct TypeRef {
  enum Kind { Unknown, Class, Array, Value } kind = Unknown;
  const ClassInfo* cls = nullptr;
  std::shared_ptr<const TypeRef> element;  // Array
  std::string why;                         // Unknown: why it cannot be told

  static TypeRef unknown(std::string why) {
    TypeRef t;
    t.why = std::move(why);
    return t;
  }
  static TypeRef value() {
    TypeRef t;
    t.kind = Value;
    return t;
  }
  static TypeRef array_of(TypeRef e) {
    TypeRef t;
    t.kind = Array;
    t.element = std::make_shared<const TypeRef>(std::move(e));
    return t;
  }
  // Whether a positional expression clause could be taken apart by brace elision here.
  bool may_elide() const { return kind != Value; }
};

struct Member {
  std::string name;
  size_t name_index = 0;
  size_t type_begin = 0, type_end = 0;      // the declaration's specifiers (and its first declarator)
  bool has_default = false;                 // a default member initialiser
  bool pointer = false;                     // `*` or `&` in its declarator
  int dims = 0;                             // `[N]` after its name
  const ClassInfo* inline_class = nullptr;  // `struct { ... } m;`
};

struct ClassInfo {
  const ClassDef* def = nullptr;
  std::string name;
  std::vector<Member> members;
  std::vector<std::string> template_params;
  size_t bases = 0;
  std::string not_aggregate;  // why, when it is not an aggregate
  bool anonymous_member = false;
};

struct Clause {
  size_t begin = 0, end = 0;  // [begin, end), without the comma
  bool designated = false;
  std::string name;  // the member a designator names
  size_t value_begin = 0, value_end = 0;
};

class Designators {
 public:
  explicit Designators(const std::vector<Token>& t) : t_(t), st_(analyze(t)) {}

  std::vector<Token> run() {
    std::vector<const ClassDef*> defs;
    for (const ClassDef& d : st_.classes) defs.push_back(&d);
    find_local_classes();
    for (const ClassDef& d : local_classes_) defs.push_back(&d);
    classes_.reserve(defs.size());
    for (const ClassDef* d : defs) {
      classes_.emplace_back();
      classes_.back().def = d;
      classes_.back().name = d->name.empty() ? d->typedef_name : d->name;
      class_at_[d->body_open] = classes_.size() - 1;
    }
    for (const FunctionDef& f : st_.functions) function_bodies_.insert(f.body_open);
    for (ClassInfo& c : classes_) {
      describe(c);
      if (!c.def->name.empty()) by_name_[c.def->name].push_back(&c);
      if (!c.def->typedef_name.empty()) by_name_[c.def->typedef_name].push_back(&c);
    }
    find_aliases();
    for (size_t i = 0; i < t_.size(); ++i) {
      if (opens_designated_list(t_, i)) plan(i);
      if (t_[i].is_punct("{") && i + 1 < t_.size() && t_[i + 1].is_punct("[") && st_.match[i + 1] != npos &&
          st_.match[i + 1] + 1 < t_.size() && t_[st_.match[i + 1] + 1].is_punct("=")) {
        fail(t_[i + 1].location(), std::string("array designators ('[i] = x', a C99 extension) are not supported: ") +
                                       "write the elements in order");
      }
    }
    std::vector<Token> out;
    emit(0, t_.size(), out);
    return out;
  }

 private:
  // ---- what the program's structs look like ---------------------------------------------

  // Names of the template parameters of `template <...>` heads from i; the index after them.
  size_t template_heads(size_t i, size_t end, std::vector<std::string>* names) const {
    while (i + 1 < end && t_[i].is_ident("template") && t_[i + 1].is_punct("<")) {
      int depth = 0;
      std::string last;
      bool after_default = false;
      size_t j = i + 1;
      for (; j < end; ++j) {
        const Token& u = t_[j];
        if ((u.is_punct("(") || u.is_punct("[") || u.is_punct("{")) && st_.match[j] != npos) {
          j = st_.match[j];
          continue;
        }
        if (u.is_punct("<")) ++depth;
        if (u.is_punct(">") || u.is_punct(">>")) depth -= u.is_punct(">>") ? 2 : 1;
        bool ends_param = (depth <= 0) || (depth == 1 && u.is_punct(","));
        if (ends_param) {
          if (names && !last.empty()) names->push_back(last);
          last.clear();
          after_default = false;
          if (depth <= 0) break;
          continue;
        }
        if (depth == 1 && u.is_punct("=")) after_default = true;
        if (depth == 1 && !after_default && u.kind == TokenKind::Identifier && !u.is_ident("typename") &&
            !u.is_ident("class"))
          last = u.text;
      }
      i = j + 1;
    }
    return i;
  }

  // The angle bracket closing the '<' at `open` (groups skipped), or npos.
  size_t angle_close(size_t open, size_t end) const {
    int depth = 0;
    for (size_t j = open; j < end; ++j) {
      const Token& u = t_[j];
      if ((u.is_punct("(") || u.is_punct("[")) && st_.match[j] != npos) {
        j = st_.match[j];
        continue;
      }
      if (u.is_punct("{") || u.is_punct("}") || u.is_punct(";")) return npos;
      if (u.is_punct("<")) ++depth;
      if (u.is_punct(">") || u.is_punct(">>")) {
        depth -= u.is_punct(">>") ? 2 : 1;
        if (depth <= 0) return j;
      }
    }
    return npos;
  }

  void describe(ClassInfo& c) {
    const ClassDef& d = *c.def;
    template_heads(d.decl_begin, d.keyword, &c.template_params);
    if (d.has_bases) {
      c.bases = 1;
      size_t colon = d.keyword;
      while (colon < d.body_open && !t_[colon].is_punct(":")) ++colon;
      for (size_t k = colon + 1; k < d.body_open; ++k) {
        if (t_[k].is_punct("<")) {
          size_t close = angle_close(k, d.body_open);
          if (close != npos) k = close;
        } else if (t_[k].is_punct(",")) {
          ++c.bases;
        }
      }
    }
    size_t i = d.body_open + 1;
    while (i < d.body_close) {
      const Token& t = t_[i];
      if (t.kind == TokenKind::Pragma || t.is_punct(";")) {
        ++i;
        continue;
      }
      if ((t.is_ident("public") || t.is_ident("private") || t.is_ident("protected")) && i + 1 < d.body_close &&
          t_[i + 1].is_punct(":")) {
        i += 2;
        continue;
      }
      size_t s = i, k = i;
      size_t nested = npos;
      bool function_body = false;
      for (; k < d.body_close; ++k) {
        const Token& u = t_[k];
        if ((u.is_punct("(") || u.is_punct("[") || u.is_punct("[[")) && st_.match[k] != npos) {
          k = st_.match[k];
          continue;
        }
        if (u.is_punct("{")) {
          if (function_bodies_.count(k) || (!class_at_.count(k) && function_header(s, k))) {
            function_body = true;
            break;
          }
          if (class_at_.count(k) && nested == npos) nested = k;
          k = st_.match[k];
          continue;
        }
        if (u.is_punct(";")) break;
      }
      i = function_body ? st_.match[k] + 1 : k + 1;
      if (function_body) {
        constructor(c, s, k, true);
      } else {
        declaration(c, s, k, nested);
      }
    }
  }

  // Classes defined inside function bodies (the structure analysis counts their braces as the
  // function's): `struct S { ... };`, `typedef struct { ... } S;`.
  void find_local_classes() {
    for (size_t i = 0; i + 1 < t_.size(); ++i) {
      if (st_.scope[i] != Scope::Function) continue;
      const Token& t = t_[i];
      if (!(t.is_ident("struct") || t.is_ident("class") || t.is_ident("union"))) continue;
      ClassDef d;
      d.keyword = i;
      d.decl_begin = i > 0 && t_[i - 1].is_ident("typedef") ? i - 1 : i;
      d.is_union = t.is_ident("union");
      d.enclosing = Scope::Function;
      size_t k = i + 1;
      if (k < t_.size() && t_[k].kind == TokenKind::Identifier) d.name = t_[k++].text;
      if (k < t_.size() && t_[k].is_punct(":")) {
        d.has_bases = true;
        while (k < t_.size() && !t_[k].is_punct("{") && !t_[k].is_punct(";")) ++k;
      }
      if (k >= t_.size() || !t_[k].is_punct("{") || st_.match[k] == npos) continue;
      d.body_open = k;
      d.body_close = st_.match[k];
      if (d.decl_begin < i) {
        size_t n = d.body_close + 1;
        if (n < t_.size() && t_[n].kind == TokenKind::Identifier) d.typedef_name = t_[n].text;
      }
      local_classes_.push_back(d);
    }
  }

  // Whether the declaration [s, brace) is a function's header (a name, then parameters).
  bool function_header(size_t s, size_t brace) const {
    for (size_t k = s; k < brace; ++k) {
      const Token& u = t_[k];
      if (u.is_punct("=")) return false;
      if (u.is_punct("(") && k > s &&
          (t_[k - 1].kind == TokenKind::Identifier || t_[k - 1].is_punct("]") || t_[k - 1].is_punct(")")) &&
          !is_keyword(t_[k - 1].text) && !t_[k - 1].is_ident("alignas"))
        return true;
      if (is_open(k)) k = st_.match[k];
    }
    return false;
  }

  // A member function declared at [s, end) (a definition when `defined`): a constructor that
  // is user-provided makes the class no aggregate.
  void constructor(ClassInfo& c, size_t s, size_t end, bool defined) {
    for (size_t k = s; k + 1 < end; ++k) {
      if (!(t_[k].kind == TokenKind::Identifier && t_[k].text == c.name && t_[k + 1].is_punct("(") &&
            (k == s || !t_[k - 1].is_punct("~"))))
        continue;
      size_t after = st_.match[k + 1] + 1;
      while (after < end && is_qualifier(t_[after])) ++after;
      bool defaulted = !defined && after + 1 < end && t_[after].is_punct("=") &&
                       (t_[after + 1].is_ident("default") || t_[after + 1].is_ident("delete"));
      if (!defaulted && c.not_aggregate.empty()) c.not_aggregate = "it has a user-provided constructor";
      return;
    }
  }

  void declaration(ClassInfo& c, size_t s, size_t end, size_t nested) {
    size_t j = s;
    while (j < end && (t_[j].kind == TokenKind::Pragma || t_[j].is_punct("[[")))
      j = t_[j].is_punct("[[") ? st_.match[j] + 1 : j + 1;
    if (j >= end) return;
    static const std::set<std::string> kNotData = {"using",         "typedef", "static",    "friend", "template",
                                                   "static_assert", "enum",    "constexpr", "virtual"};
    if (t_[j].kind == TokenKind::Identifier && kNotData.count(t_[j].text)) return;
    if (t_[j].is_punct("~")) return;
    const ClassInfo* inline_class = nullptr;
    size_t from = j;
    if (nested != npos) {
      // `struct P { ... };` (a nested type), `struct { ... } p;` (a member of that type).
      size_t close = st_.match[nested];
      bool declarator = false;
      for (size_t k = close + 1; k < end; ++k) declarator |= t_[k].kind == TokenKind::Identifier;
      const ClassInfo& inner = classes_[class_at_.at(nested)];
      if (!declarator) {
        if (inner.def->name.empty()) c.anonymous_member = true;
        return;
      }
      inline_class = &inner;
      from = close + 1;
    }
    // A function declaration: a name (or `operator`) followed by '(' before any initialiser.
    for (size_t k = from; k < end; ++k) {
      const Token& u = t_[k];
      if (u.is_punct("=") || u.is_punct("{")) break;
      if (u.is_ident("operator")) return;
      if (u.is_punct("(") && k > from && t_[k - 1].kind == TokenKind::Identifier && !is_keyword(t_[k - 1].text) &&
          !t_[k - 1].is_ident("alignas")) {
        constructor(c, from, end, false);
        return;
      }
      if ((u.is_punct("(") || u.is_punct("[") || u.is_punct("[[")) && st_.match[k] != npos) k = st_.match[k];
    }
    // Data members: one per declarator.
    int angle = 0;
    size_t db = from;
    bool first = true;
    for (size_t k = from; k <= end; ++k) {
      bool split = k == end;
      if (!split) {
        const Token& u = t_[k];
        if ((u.is_punct("(") || u.is_punct("[") || u.is_punct("{") || u.is_punct("[[")) && st_.match[k] != npos) {
          k = st_.match[k];
          continue;
        }
        if (u.is_punct("<")) ++angle;
        if (u.is_punct(">") || u.is_punct(">>")) angle = std::max(0, angle - (u.is_punct(">>") ? 2 : 1));
        split = angle == 0 && u.is_punct(",");
      }
      if (!split) continue;
      Member m;
      if (declarator(db, k, first ? s : db, m)) {
        m.inline_class = inline_class;
        if (first)
          m.type_begin = inline_class ? from : s, m.type_end = m.name_index;
        else
          m.type_begin = c.members.back().type_begin, m.type_end = c.members.back().type_end;
        c.members.push_back(std::move(m));
      }
      first = false;
      db = k + 1;
    }
  }

  // The declarator at [db, de) (for the first one, `s` is where the declaration starts).
  bool declarator(size_t db, size_t de, size_t s, Member& m) const {
    size_t name = npos;
    int angle = 0;
    bool pointer = false;
    size_t k = s;
    for (; k < de; ++k) {
      const Token& u = t_[k];
      if (u.is_punct("=") || u.is_punct("{") || u.is_punct("[") || u.is_punct("[[") || u.is_punct(":")) {
        if (angle == 0) break;
      }
      if ((u.is_punct("(") || u.is_punct("[") || u.is_punct("[[")) && st_.match[k] != npos) {
        k = st_.match[k];
        continue;
      }
      if (u.is_punct("<")) ++angle;
      if (u.is_punct(">") || u.is_punct(">>")) angle = std::max(0, angle - (u.is_punct(">>") ? 2 : 1));
      if (angle == 0 && k >= db && (u.is_punct("*") || u.is_punct("&") || u.is_punct("&&"))) pointer = true;
      if (angle == 0 && u.kind == TokenKind::Identifier && !is_qualifier(u) && !is_keyword(u.text)) name = k;
    }
    if (name == npos || name < db) return false;
    m.name = t_[name].text;
    m.name_index = name;
    m.pointer = pointer;
    for (; k < de && t_[k].is_punct("[") && st_.match[k] != npos; k = st_.match[k] + 1) ++m.dims;
    for (; k < de; ++k) {
      if (t_[k].is_punct("=") || t_[k].is_punct("{")) m.has_default = true;
      if ((t_[k].is_punct("(") || t_[k].is_punct("[") || t_[k].is_punct("{") || t_[k].is_punct("[[")) &&
          st_.match[k] != npos)
        k = st_.match[k];
    }
    return true;
  }

  // `using A = T;` and `typedef T A;` (not `typedef struct {...} A;`: that class is named A).
  void find_aliases() {
    for (size_t i = 0; i + 3 < t_.size(); ++i) {
      if (t_[i].is_ident("using") && t_[i + 1].kind == TokenKind::Identifier && t_[i + 2].is_punct("=")) {
        size_t e = i + 3;
        while (e < t_.size() && !t_[e].is_punct(";")) e = is_open(e) ? st_.match[e] + 1 : e + 1;
        aliases_[t_[i + 1].text] = {i + 3, e};
      } else if (t_[i].is_ident("typedef")) {
        size_t e = i + 1;
        bool simple = true;
        while (e < t_.size() && !t_[e].is_punct(";")) {
          if (t_[e].is_punct("{") || t_[e].is_punct("(") || t_[e].is_punct("[")) simple = false;
          e = is_open(e) ? st_.match[e] + 1 : e + 1;
        }
        if (simple && e < t_.size() && t_[e - 1].kind == TokenKind::Identifier)
          aliases_[t_[e - 1].text] = {i + 1, e - 1};
      }
    }
  }

  bool is_open(size_t i) const {
    const Token& u = t_[i];
    return (u.is_punct("(") || u.is_punct("[") || u.is_punct("{") || u.is_punct("[[")) && st_.match[i] != npos;
  }

  // Whether `name` is a template parameter of a function or class template around token `at`.
  bool template_parameter_at(const std::string& name, size_t at) const {
    std::vector<std::string> names;
    for (const FunctionDef& f : st_.functions)
      if (f.decl_begin <= at && at <= f.body_close) template_heads(f.decl_begin, f.name_index, &names);
    for (const ClassDef& d : st_.classes)
      if (d.decl_begin <= at && at <= d.body_close) template_heads(d.decl_begin, d.keyword, &names);
    for (const std::string& n : names)
      if (n == name) return true;
    return false;
  }

  const ClassInfo* find_class(const std::string& name, std::string* why) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    const ClassInfo* first = it->second.front();
    for (const ClassInfo* c : it->second) {
      bool same = c->members.size() == first->members.size() && c->bases == first->bases &&
                  c->def->is_union == first->def->is_union;
      for (size_t k = 0; same && k < c->members.size(); ++k) same = c->members[k].name == first->members[k].name;
      if (!same) {
        *why = "several structs are named '" + name + "' and their members differ";
        return nullptr;
      }
    }
    return first;
  }

  // The type named at [b, e) (specifiers and qualifiers skipped); `*end` after its name.
  TypeRef parse_type(size_t b, size_t e, size_t at, size_t* end = nullptr, int depth = 0) const {
    size_t i = b;
    while (i < e && (is_qualifier(t_[i]) || t_[i].is_punct("[[") || t_[i].kind == TokenKind::Pragma ||
                     t_[i].is_ident("alignas"))) {
      if (t_[i].is_punct("[[")) i = st_.match[i];
      if (t_[i].is_ident("alignas") && i + 1 < e && t_[i + 1].is_punct("(")) i = st_.match[i + 1];
      ++i;
    }
    if (i < e && t_[i].is_punct("::")) ++i;
    if (i >= e || t_[i].kind != TokenKind::Identifier || is_keyword(t_[i].text) || t_[i].is_ident("auto"))
      return TypeRef::unknown("the struct is not written where the list is");
    std::string name = t_[i].text;
    ++i;
    auto skip_args = [&] {
      if (i < e && t_[i].is_punct("<")) {
        size_t close = angle_close(i, e);
        if (close != npos) i = close + 1;
      }
    };
    skip_args();
    while (i + 1 < e && t_[i].is_punct("::") && t_[i + 1].kind == TokenKind::Identifier) {
      name = t_[i + 1].text;
      i += 2;
      skip_args();
    }
    if (end) *end = i;
    return named_type(name, at, depth);
  }

  TypeRef named_type(const std::string& name, size_t at, int depth = 0) const {
    std::string why;
    if (template_parameter_at(name, at))
      return TypeRef::unknown("its type '" + name + "' is a template parameter, known only per instantiation");
    if (const ClassInfo* c = find_class(name, &why)) {
      TypeRef t;
      t.kind = TypeRef::Class;
      t.cls = c;
      return t;
    }
    if (!why.empty()) return TypeRef::unknown(why);
    auto a = aliases_.find(name);
    if (a != aliases_.end() && depth < 8) return parse_type(a->second.first, a->second.second, at, nullptr, depth + 1);
    if (is_builtin_value_type(name)) return TypeRef::value();
    return TypeRef::unknown("'" + name + "' is not a struct this program defines");
  }

  TypeRef member_type(const ClassInfo& c, const Member& m) const {
    TypeRef t;
    if (m.pointer) {
      t = TypeRef::value();
    } else if (m.inline_class) {
      t.kind = TypeRef::Class;
      t.cls = m.inline_class;
    } else {
      t = parse_type(m.type_begin, m.type_end, m.name_index);
      if (t.kind == TypeRef::Unknown && !c.template_params.empty()) {
        for (const std::string& p : c.template_params)
          if (t.why.find("'" + p + "'") != std::string::npos)
            t.why = "member '" + m.name + "' of template '" + c.name + "' has a type that depends on its parameters";
      }
    }
    for (int d = 0; d < m.dims; ++d) t = TypeRef::array_of(std::move(t));
    return t;
  }

  // ---- the lists ----------------------------------------------------------------------------

  // The clauses of the braced list at `open`, split at top-level commas (`vec<T, 2>(...)` is a
  // template-id, not two clauses).
  const std::vector<Clause>& clauses(size_t open) {
    auto it = clauses_.find(open);
    if (it != clauses_.end()) return it->second;
    std::vector<Clause> out;
    size_t close = st_.match[open];
    size_t b = open + 1;
    for (size_t k = open + 1; k <= close; ++k) {
      if (k < close) {
        if (is_open(k)) {
          k = st_.match[k];
          continue;
        }
        if (t_[k].is_punct("<") && k > b && t_[k - 1].kind == TokenKind::Identifier) {
          size_t c = template_close(k, close);
          if (c != npos) k = c;
          continue;
        }
        if (!t_[k].is_punct(",")) continue;
      }
      if (k == b && k == close) break;  // empty list or trailing comma
      Clause c;
      c.begin = b;
      c.end = k;
      c.value_begin = b;
      c.value_end = k;
      if (t_[b].is_punct(".") && b + 1 < k && t_[b + 1].kind == TokenKind::Identifier) {
        c.designated = true;
        c.name = t_[b + 1].text;
      }
      out.push_back(c);
      b = k + 1;
    }
    return clauses_[open] = std::move(out);
  }

  // As the conditionals pass: the '>' of a template argument list after a name, holding only
  // what types and constants are made of and followed by '(', '{' or '::'.
  size_t template_close(size_t open, size_t end) const {
    int depth = 0;
    for (size_t i = open; i < end; ++i) {
      const Token& u = t_[i];
      if (u.is_punct("(") && st_.match[i] != npos) {
        i = st_.match[i];
        continue;
      }
      if (u.is_punct("<")) {
        ++depth;
      } else if (u.is_punct(">") || u.is_punct(">>")) {
        depth -= u.is_punct(">>") ? 2 : 1;
        if (depth <= 0) {
          if (depth < 0 || i + 1 >= end) return npos;
          const Token& n = t_[i + 1];
          return n.is_punct("(") || n.is_punct("{") || n.is_punct("::") ? i : npos;
        }
      } else if (!(u.kind == TokenKind::Identifier || u.kind == TokenKind::Number || u.is_punct(",") ||
                   u.is_punct("::") || u.is_punct("*") || u.is_punct("&"))) {
        return npos;
      }
    }
    return npos;
  }

  // What the braced list at `open` initialises, from the code around it.
  TypeRef type_of_list(size_t open, int depth = 0) {
    auto it = types_.find(open);
    if (it != types_.end()) return it->second;
    TypeRef t = depth > 64 ? TypeRef::unknown("the lists nest too deeply") : context_type(open, depth);
    types_[open] = t;
    return t;
  }

  TypeRef context_type(size_t open, int depth) {
    if (open == 0) return TypeRef::unknown("the struct is not written where the list is");
    size_t p = open - 1;
    const Token& P = t_[p];
    size_t outer = st_.brace[open];
    // `.m = {` or `.m{`: a member of the enclosing designated list.
    if (P.is_punct("=") && p >= 2 && t_[p - 1].kind == TokenKind::Identifier && t_[p - 2].is_punct(".") &&
        outer != npos && opens_designated_list(t_, outer))
      return designated_member(outer, t_[p - 1].text, depth);
    if (P.kind == TokenKind::Identifier && p >= 1 && t_[p - 1].is_punct(".") && outer != npos &&
        opens_designated_list(t_, outer))
      return designated_member(outer, P.text, depth);
    // An element of an enclosing positional list.
    if (P.is_punct("{") || P.is_punct(",")) {
      if (outer == npos) return TypeRef::unknown("the struct is not written where the list is");
      const std::vector<Clause>& cl = clauses(outer);
      for (size_t k = 0; k < cl.size(); ++k)
        if (cl[k].begin == open) return positional_element(outer, k, depth);
      return TypeRef::unknown("the list is a function argument (its parameter's type is not known here)");
    }
    if (P.is_punct("("))
      return TypeRef::unknown("the list is a function argument (its parameter's type is not known here)");
    if (P.is_punct("=") || P.is_punct("]")) {
      size_t n = P.is_punct("=") ? p - 1 : p;
      return declared_type(n);
    }
    if (P.is_punct(">") || P.is_punct(">>")) {
      // `P<float>{...}`: the template's name is before the matching '<'.
      int angles = 0;
      for (size_t k = p + 1; k-- > 0;) {
        const Token& u = t_[k];
        if ((u.is_punct(")") || u.is_punct("]")) && st_.match[k] != npos) {
          k = st_.match[k];
          continue;
        }
        if (u.is_punct(">")) ++angles;
        if (u.is_punct(">>")) angles += 2;
        if (u.is_punct("<") && --angles == 0) {
          if (k > 0 && t_[k - 1].kind == TokenKind::Identifier) return named_type(t_[k - 1].text, open);
          break;
        }
        if (u.is_punct(";") || u.is_punct("{") || u.is_punct("}")) break;
      }
      return TypeRef::unknown("the struct is not written where the list is");
    }
    if (P.kind == TokenKind::Identifier) {
      if (P.is_ident("return")) return return_type(p);
      if (!is_keyword(P.text)) {
        TypeRef named = named_type(P.text, open);
        if (named.kind != TypeRef::Unknown || template_parameter_at(P.text, open) || by_name_.count(P.text) > 0)
          return named;
        return declared_type(p);  // `S s{.a = 1}`
      }
    }
    return TypeRef::unknown("the struct is not written where the list is");
  }

  // The type of the declaration whose declarator name is at n (`S s`, `S s[2]`, `S s = `).
  TypeRef declared_type(size_t n) {
    int dims = 0;
    while (n != npos && n > 0 && t_[n].is_punct("]") && st_.match[n] != npos) {
      n = st_.match[n] - 1;
      ++dims;
    }
    if (n == npos || t_[n].kind != TokenKind::Identifier)
      return TypeRef::unknown("the struct is not written where the list is");
    if (n > 0 && (t_[n - 1].is_punct(".") || t_[n - 1].is_punct("->")))
      return TypeRef::unknown("the list is assigned (only a declaration, a return or 'S{...}' names the struct)");
    size_t d = st_.decl_begin[n];
    size_t type_end = npos;
    TypeRef t = parse_type(d, n + 1, n, &type_end);
    if (type_end == npos || type_end > n)
      return TypeRef::unknown("the list is assigned (only a declaration, a return or 'S{...}' names the struct)");
    // `S* p = {...}`: a pointer.
    for (size_t k = n; k-- > type_end && !t_[k].is_punct(",");)
      if (t_[k].is_punct("*")) return TypeRef::value();
    if (t.kind == TypeRef::Unknown && t.why.find("is not a struct") != std::string::npos && d == n)
      return TypeRef::unknown("the list is assigned (only a declaration, a return or 'S{...}' names the struct)");
    for (int k = 0; k < dims; ++k) t = TypeRef::array_of(std::move(t));
    return t;
  }

  // `return {...}`: the enclosing function's return type (not a lambda's).
  TypeRef return_type(size_t p) {
    const FunctionDef* f = nullptr;
    for (const FunctionDef& g : st_.functions)
      if (g.body_open < p && p < g.body_close && (!f || g.body_open > f->body_open)) f = &g;
    if (!f || f->name_index == 0) return TypeRef::unknown("the returning function's type is not known here");
    for (size_t b = st_.brace[p]; b != npos && b != f->body_open; b = st_.brace[b]) {
      const Token& before = t_[b - 1];
      if (before.is_punct("]") || before.is_ident("mutable") ||
          (before.is_punct(")") && st_.match[b - 1] > 0 && t_[st_.match[b - 1] - 1].is_punct("]")))
        return TypeRef::unknown("a lambda returns it (its return type is not written)");
    }
    size_t from = template_heads(f->decl_begin, f->name_index, nullptr);
    size_t name = f->name_index;
    while (name > from && t_[name - 1].is_punct("::")) name = name >= 2 ? name - 2 : name - 1;
    return parse_type(from, name, p);
  }

  TypeRef designated_member(size_t outer, const std::string& name, int depth) {
    TypeRef o = type_of_list(outer, depth + 1);
    if (o.kind != TypeRef::Class) return TypeRef::unknown("the enclosing list's struct is not known");
    for (const Member& m : o.cls->members)
      if (m.name == name) return member_type(*o.cls, m);
    return TypeRef::unknown("'" + o.cls->name + "' has no member '" + name + "'");
  }

  // Element k of the positional list at `outer`.
  TypeRef positional_element(size_t outer, size_t k, int depth) {
    TypeRef o = type_of_list(outer, depth + 1);
    if (o.kind == TypeRef::Array) return *o.element;
    if (o.kind != TypeRef::Class) return TypeRef::unknown(o.kind == TypeRef::Unknown ? o.why : "not a struct");
    const ClassInfo& c = *o.cls;
    const std::vector<Clause>& cl = clauses(outer);
    auto element = [&](size_t e) -> TypeRef {
      if (e < c.bases) return TypeRef::unknown("a base class of '" + c.name + "'");
      if (e - c.bases >= c.members.size()) return TypeRef::unknown("more elements than '" + c.name + "' has");
      return member_type(c, c.members[e - c.bases]);
    };
    for (size_t e = 0; e < k; ++e) {
      // An expression clause could have initialised only part of an aggregate (brace elision).
      if (!t_[cl[e].begin].is_punct("{") && element(e).may_elide())
        return TypeRef::unknown("an earlier element of the list may have been brace-elided");
    }
    return element(k);
  }

  // ---- the rewrite --------------------------------------------------------------------------

  struct Plan {
    std::vector<std::optional<std::pair<size_t, size_t>>> slots;  // value ranges; none: `{}`
  };

  void plan(size_t open) {
    const std::vector<Clause>& cl = clauses(open);
    for (const Clause& c : cl) {
      const Token& at = t_[c.begin];
      if (!c.designated) {
        if (at.is_punct("["))
          fail(at.location(), std::string("array designators ('[i] = x', a C99 extension) are not supported: ") +
                                  "write the elements in order");
        fail(at.location(), std::string("a ") + kFeature +
                                " list mixes designated and positional clauses (a C99 extension): not supported; "
                                "designate every member");
      }
    }
    TypeRef t = type_of_list(open);
    const SourceLocation where = t_[open + 1].location();
    if (t.kind == TypeRef::Unknown)
      fail(where, std::string(kFeature) + " '{." + cl.front().name +
                      " = ...}': cannot tell which struct it initialises (" + t.why + "); name the struct, as in 'S{." +
                      cl.front().name + " = ...}'");
    if (t.kind != TypeRef::Class)
      fail(where, std::string("a ") + kFeature + " can only initialise a struct, not " +
                      (t.kind == TypeRef::Array ? "an array" : "a scalar, vector, matrix or pointer"));
    const ClassInfo& c = *t.cls;
    const std::string sname = "'" + c.name + "'";
    if (!c.not_aggregate.empty())
      fail(where, std::string(kFeature) + " for " + sname + ", which is not an aggregate: " + c.not_aggregate);
    if (c.anonymous_member)
      fail(where,
           std::string(kFeature) + " for " + sname + ", which has an anonymous struct or union member: not supported");
    Plan plan;
    std::vector<size_t> given(c.members.size(), npos);
    size_t last = 0;
    bool any = false;
    for (const Clause& cls : cl) {
      size_t d = cls.begin;  // the '.'
      const Token& name = t_[d + 1];
      if (d + 2 >= cls.end) fail(t_[d].location(), "expected '=' or '{' after the designator '." + cls.name + "'");
      const Token& after = t_[d + 2];
      if (after.is_punct(".") || after.is_punct("["))
        fail(after.location(), "nested designators ('." + cls.name +
                                   (after.is_punct(".") && d + 3 < cls.end ? "." + t_[d + 3].text : "[...]") +
                                   "', a C99 extension) are not supported: write '." + cls.name + " = {...}'");
      size_t m = npos;
      for (size_t k = 0; k < c.members.size() && m == npos; ++k)
        if (c.members[k].name == cls.name) m = k;
      if (m == npos)
        fail(name.location(), "field designator '" + cls.name + "' does not refer to any member of " + sname);
      if (given[m] != npos)
        fail(name.location(), "member '" + cls.name + "' of " + sname + " is designated twice (line " +
                                  std::to_string(t_[given[m]].line) + ")");
      given[m] = d + 1;
      if (c.def->is_union && m != 0)
        fail(name.location(), std::string(kFeature) + " of union " + sname + " by its member '" + cls.name +
                                  "', which is not its first: not supported");
      std::pair<size_t, size_t> value;
      if (after.is_punct("=")) {
        if (d + 3 >= cls.end) fail(after.location(), "expected an expression after '=' in the designator");
        value = {d + 3, cls.end};
      } else if (after.is_punct("{") && st_.match[d + 2] + 1 == cls.end) {
        value = {d + 2, cls.end};
      } else {
        fail(after.location(), "expected '=' or '{' after the designator '." + cls.name + "'");
      }
      if (m >= plan.slots.size()) plan.slots.resize(m + 1);
      plan.slots[m] = value;
      last = std::max(last, m);
      any = true;
    }
    (void)any;
    for (size_t k = 0; k < last; ++k) {
      if (plan.slots.size() > k && plan.slots[k]) continue;
      if (c.members[k].has_default)
        fail(where, std::string(kFeature) + " for " + sname + " skips member '" + c.members[k].name +
                        "', which has a default member initializer: not supported; name it in the list");
    }
    plan.slots.insert(plan.slots.begin(), c.bases, std::nullopt);
    plans_[open] = std::move(plan);
  }

  void emit(size_t b, size_t e, std::vector<Token>& out) const {
    for (size_t i = b; i < e; ++i) {
      auto p = plans_.find(i);
      if (p == plans_.end()) {
        out.push_back(t_[i]);
        continue;
      }
      out.push_back(t_[i]);
      const Token& at = t_[i];
      for (size_t k = 0; k < p->second.slots.size(); ++k) {
        if (k > 0) append(out, lex_generated(",", at));
        const auto& slot = p->second.slots[k];
        if (slot) {
          emit(slot->first, slot->second, out);
        } else {
          append(out, lex_generated("{}", at));
        }
      }
      i = st_.match[i];
      out.push_back(t_[i]);
    }
  }

  static void append(std::vector<Token>& out, const std::vector<Token>& more) {
    out.insert(out.end(), more.begin(), more.end());
  }

  const std::vector<Token>& t_;
  Structure st_;
  std::deque<ClassDef> local_classes_;  // stable addresses
  std::vector<ClassInfo> classes_;
  std::map<size_t, size_t> class_at_;  // body '{' -> classes_
  std::set<size_t> function_bodies_;
  std::map<std::string, std::vector<const ClassInfo*>> by_name_;
  std::map<std::string, std::pair<size_t, size_t>> aliases_;
  std::map<size_t, std::vector<Clause>> clauses_;
  std::map<size_t, TypeRef> types_;
  std::map<size_t, Plan> plans_;
};

}  // namespace

void rewrite_designated_initializers(std::vector<Token>& toks) {
  bool any = false;
  for (size_t i = 0; i + 1 < toks.size() && !any; ++i)
    any = toks[i].is_punct("{") && (toks[i + 1].is_punct(".") || toks[i + 1].is_punct("["));
  if (!any) return;
  toks = Designators(toks).run();
}

}  // namespace metallic::msl
