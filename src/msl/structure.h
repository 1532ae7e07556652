// Just enough of C++'s shape to rewrite MSL by position: which braces are namespaces, class
// bodies, function bodies or initializers; where statements start; where functions are defined.
#pragma once

#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

enum class Scope { Namespace, Class, Function, Initializer };

struct FunctionDef {
  std::string name;       // "" when the header has no recognisable name
  size_t decl_begin = 0;  // first token of the declaration (template<...> included)
  size_t name_index = 0;
  size_t params_open = 0;  // '(' and ')' of the parameter list
  size_t params_close = 0;
  size_t body_open = 0;  // '{' and '}' of the body
  size_t body_close = 0;
  Scope enclosing = Scope::Namespace;
};

// A struct, class or union definition at namespace or class scope (local classes inside
// function bodies are not recorded: their braces count as the function's).
struct ClassDef {
  std::string name;  // "" when unnamed (`typedef struct { ... } S;`: typedef_name is S)
  std::string typedef_name;
  size_t decl_begin = 0;  // first token of the declaration (template<...> included)
  size_t keyword = 0;     // `struct`, `class` or `union`
  size_t body_open = 0;   // '{' and '}' of the body
  size_t body_close = 0;
  bool is_union = false;
  bool specialization = false;  // `struct S<int> { ... }`: the name has template arguments
  bool has_bases = false;       // `struct S : B { ... }`
  Scope enclosing = Scope::Namespace;
};

struct Structure {
  static constexpr size_t npos = static_cast<size_t>(-1);
  std::vector<Scope> scope;            // per token: the scope it lies in (a brace: the outer one)
  std::vector<bool> statement_start;   // per token: first token of a declaration or statement
  std::vector<size_t> decl_begin;      // per token: first token of its declaration/statement
  std::vector<size_t> match;           // per bracket ( [ { [[ and their closers: the partner
  std::vector<size_t> brace;           // per token: the innermost '{' still open before it (npos: none)
  std::vector<FunctionDef> functions;  // definitions at namespace and class scope
  std::vector<ClassDef> classes;       // definitions at namespace and class scope, in source order
};

// Fails on unbalanced brackets.
Structure analyze(const std::vector<Token>& toks);

// Whether the identifier is a keyword or a name that cannot be a function's name.
bool is_keyword(const std::string& word);

}  // namespace metallic::msl
