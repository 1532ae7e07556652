// Row pairing of SIMD-group matrix products (issue 13): a fragment loop in the style of MLX's GEMMs,
//
//   for (int i = 0; i < TM; ++i)
//     for (int j = 0; j < TN; ++j) simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
//
// steps i by 2 and calls ::metal::simdgroup_multiply_accumulate__pm_rows2(c[i][j], c[(i + 1)][j],
// a[i], a[(i + 1)], b[j]) (two consecutive statements into the same accumulators: one call of
// ..._rows2_k2 with both statements' A and B): the two products of rows i and i + 1 share their B, so on CUDA's tensor cores they are one
// mma.sync (A rows 0-7 and 8-15, C/D rows 0-7 and 8-15; metal_simdgroup_matrix.h). Elsewhere the
// pair is the two calls in order: the rewrite only reorders products into different accumulators.
//
// Loads pair the same way: a loop of simdgroup_load(a[i], src, ...) calls
// ::metal::simdgroup_load__pm_rows2(a[i], a[(i + 1)], sgm_load_args(src, ...), sgm_load_args(src', ...))
// (src' with i + 1 for i; two consecutive loads: ..._rows2_k2 with four matrices): on CUDA one
// ldmatrix .x2 (.x4) where the rows are in threadgroup memory and 16-byte aligned.
//
// A nest of `for (T v = 0; v < bound; ++v)` loops (v++, v += 1; pragmas between them) whose innermost
// body is one or more simdgroup_multiply_accumulate(C, A, B, C) statements, or one or more
// simdgroup_load(D, ...) statements (braces or not), pairs on a loop variable v when:
//  - v's bound is an even integer literal expression, or made of constant names: the function's
//    and (for a member function defined in its class) the class's template parameters and
//    `constexpr` variables, and the program's `constant`/`constexpr` variables. Then the step is
//    `(bound) % 2 == 0 ? 2 : 1` and the pairs run under `if ((bound) % 2 == 0)`, the statements
//    as written otherwise: the compiler folds the test, and it keeps the rewrite exact whatever
//    the name turns out to be. A name the translator evaluates as odd is left alone;
//  - no loop variable of the nest is written in it, and no bound of the nest names one;
//  - every statement's first argument names v as one whole subscript (`c[i][j]`, `c[j][i]`) or as
//    `c[v * X + w]` with w the variable of a loop of the nest bounded by X (so rows v and v + 1 are
//    different matrices), and no other argument names an array the statements write; no argument
//    assigns, increments or calls anything (but a load's `ulong2(...)` origin);
//  - products: the first and fourth arguments are the same tokens, the same in all statements, and
//    B does not name v.
// Not in validation builds (they run the program as written). Runs on the tokens after barrier
// fission and fast division (their copies pair too), before the structure the later passes read.
#pragma once

#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// Returns how many loop nests were rewritten.
int pair_simdgroup_products(std::vector<Token>& toks);

}  // namespace metallic::msl
