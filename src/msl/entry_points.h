// Finds the kernels of a preprocessed program and describes them (KernelInfo).
#pragma once

#include <vector>

#include "msl/function_constants.h"
#include "msl/kernel_params.h"
#include "msl/structure.h"
#include "msl/translation.h"

namespace metallic::msl {

struct KernelDecl {
  KernelInfo info;
  size_t function = 0;                       // index into Structure::functions
  std::vector<ParsedParam> params;           // in declaration order, all of them (conditional ones too)
  std::vector<bool> removed;                 // per param: conditional on a false/undefined function constant
  bool is_template = false;                  // `template <...> [[kernel]]`: only instantiations are kernels
  std::vector<std::string> template_params;  // names of the template's parameters
  // max_total_threads_per_threadgroup's argument when only C++ can evaluate it (it names
  // template parameters or constants the translator does not know); empty otherwise.
  std::vector<Token> max_threads_args;
};

// Every `kernel` / `[[kernel]]` function definition at namespace scope, with its parameters
// parsed, implicit indices assigned and validated, and barrier / SIMD use filled in.
// Parameters `[[function_constant(flag)]]` whose flag is false or undefined are left out of
// KernelInfo (and marked `removed`).
std::vector<KernelDecl> find_kernels(const std::vector<Token>& toks, const Structure& st,
                                     const FunctionConstants& constants);

// Resolves implicit [[buffer]] / [[threadgroup]] / [[texture]] / [[sampler]] indices in parameter
// order and rejects duplicates and out-of-range indices. Parameters with `skip` set are ignored.
void assign_indices(std::vector<ParsedParam*>& params);

// Whether the tokens of the function at `fn` (or functions it calls, by name) use barriers / SIMD ops.
void fill_uses(const std::vector<Token>& toks, const Structure& st, size_t fn, KernelInfo* info);

}  // namespace metallic::msl
