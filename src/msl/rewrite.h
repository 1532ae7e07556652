// MSL to C++17 by token edits: what C++ cannot say is removed or turned into runtime hooks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "msl/structure.h"
#include "msl/token_edits.h"

namespace metallic::msl {

// Applies the position-dependent rewrites of src/runtime/README.md to `edits`:
// - `kernel` and every non-standard `[[attribute]]` are removed;
// - a namespace-scope declaration led by `constant` gets METAL_PROGRAM_SCOPE_CONSTANT;
// - a function-scope `threadgroup T name[...]` variable gets METAL_THREADGROUP_STORAGE;
// - address spaces qualifying member functions are dropped, other address spaces erased
//   (`constant` becomes `const` unless the type already is const);
// - unsuffixed floating literals become float, `h` literals half;
// - pragmas become their C++/CUDA spelling or disappear.
//   With `note_threadgroup_variables`, each such declaration is followed by
//   METAL_NOTE_THREADGROUP_VARIABLE(name) for the run-time address-space checks;
// Tokens already edited (for example by function-constant handling) are left alone.
void rewrite_msl(const std::vector<Token>& toks, const Structure& st, TokenEdits& edits,
                 bool note_threadgroup_variables = false);

// `template <typename T, uint V> void f(vec<T, V> v)`: Metal's vectors are deduced whatever the
// integer type of the size parameter; the runtime's vec<T, int N> is deduced only by an `int`
// parameter in C++. Unsigned size parameters that appear as a vector's size in the function's
// signature become `int` (the value is 2, 3 or 4 either way). On the tokens after preprocessing.
void widen_vec_size_parameters(std::vector<Token>& toks);
// Wraps the condition of every `for`, `while` and `do ... while` loop in
// ::metal::detail::loop_progress(...) (an empty `for (;;)` condition becomes
// loop_progress(true)). C++ lets a compiler delete a loop without side effects on the
// assumption that it ends; MSL does not. The CPU compiles with -fno-finite-loops, NVRTC has
// no such flag: on CUDA loop_progress holds an empty `asm volatile`, which counts as a side
// effect but touches no memory, so loads still move out of loops and loops still unroll.
// Call it before any other pass adds edits (its text must be outermost).
void mark_loops(const std::vector<Token>& toks, const Structure& st, TokenEdits& edits);

// `#pragma clang loop unroll(full)` and friends in a form g++ and NVRTC both accept, or nullopt to drop.
std::optional<std::string> translate_pragma(const std::string& text);

}  // namespace metallic::msl
