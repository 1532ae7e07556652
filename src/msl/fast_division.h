// Division by a kernel's `constant` arguments, for the CPU: a kernel whose body divides (or
// takes a remainder) by a `constant T&` argument, or a member of one,
//
//   uint x = (gid.x + n + dx) % n;     ->   uint x = (gid.x + n + dx) % ::metal::detail::fast_divisor(n);
//
// gets a second, CPU-only copy `<kernel>__pm_fastdiv` with those divisions rewritten. The
// runtime (metal_fast_division.h) divides a 32-bit integer by such a divisor with a multiply-high
// by a reciprocal the compiler computes once per dispatch, so the thread loop vectorises (x86
// has no vector integer division); other types divide as written. The CPU entry runs the copy
// when every divisor passes `fast_divisor_ok` (not 0; for `int`, not 0 or -1), the kernel as
// written otherwise: a division by zero traps exactly where it did.
//
// Only the operand right of `/` or `%` changes, so the expression keeps its precedence and its
// operand types (C++ picks the runtime's operator by the divisor's type). Template kernels,
// kernels with function-constant parameters and kernels split at barriers (barrier_fission.h)
// keep the one version.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

struct FastDivision {
  std::string function;  // the copy's C++ name: "<kernel>__pm_fastdiv"
  // The divisors, each a parameter name and the member access after it ("" or ".width").
  std::vector<std::pair<std::string, std::string>> divisors;
};

// Appends the copies after their kernels; returns kernel C++ name -> its copy. `skip`: kernel
// names that keep one version (those split at barriers).
std::map<std::string, FastDivision> add_fast_division(std::vector<Token>& toks, const std::set<std::string>& skip);

}  // namespace metallic::msl
