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

// A division of `(t + c)` by a divisor above, t the thread's x position in the grid
// (`gid.x` of a `uint2`/`uint3` [[thread_position_in_grid]], or a scalar `uint gid`), c a sum
// of integer literals, counters of enclosing loops with literal bounds, and `constant`
// arguments (with members): `(gid.x + n + dx) % n`, `gid % width`, `gid / width`. The copy
// computes it with ::metal::detail::split_rem / split_quo, which divide the dividend taken at
// the first thread of the run the entry executes (an extra last parameter, `pm_split_lo`):
// the result is then affine in t across the run (index-set splitting of the thread loop;
// metal_fast_division.h). c lies in [cmin, cmax] plus the `constant` arguments in `params`.
struct SplitTerm {
  int sign = 1;
  std::string param;   // a `constant` argument's name
  std::string member;  // "" or ".width"
  bool operator==(const SplitTerm& o) const { return sign == o.sign && param == o.param && member == o.member; }
};
struct SplitSite {
  std::pair<std::string, std::string> divisor;  // parameter name, member
  long long cmin = 0, cmax = 0;                 // literals and loop counters
  std::vector<SplitTerm> params;
};

struct FastDivision {
  std::string function;  // the copy's C++ name: "<kernel>__pm_fastdiv"
  // The divisors, each a parameter name and the member access after it ("" or ".width").
  std::vector<std::pair<std::string, std::string>> divisors;
  // The divisions split by thread runs; when not empty, the copy takes `uint pm_split_lo` last.
  std::vector<SplitSite> splits;
};

// Appends the copies after their kernels; returns kernel C++ name -> its copy. `skip`: kernel
// names that keep one version (those split at barriers).
std::map<std::string, FastDivision> add_fast_division(std::vector<Token>& toks, const std::set<std::string>& skip);

}  // namespace metallic::msl
