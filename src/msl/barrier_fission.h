// Loop fission at barriers, for the CPU: a kernel whose barriers sit in straight-line code
// and uniform `for` loops gets a second, CPU-only version that runs a whole threadgroup:
//
//   kernel body                        k__pm_fission(pm_threads, buffers...)
//   ----------------------------       ----------------------------------------------
//   float sum = 0;                     pm_threads.each([&](auto& pm_at) { sum(t) = 0; });
//   for (uint t = 0; t < n; ++t) {     for (uint t = 0; t < n; ++t) {
//     tile[lid] = a[...];                pm_threads.each([&](auto& pm_at) { tile[lid] = ...; });
//     threadgroup_barrier(...);
//     sum += tile[...];                  pm_threads.each([&](auto& pm_at) { sum(t) += ...; });
//     threadgroup_barrier(...);        }
//   }                                  pm_threads.each([&](auto& pm_at) { c[...] = sum(t); });
//   c[...] = sum;
//
// Each stretch between barriers runs for every thread before the next starts (PoCL's and
// MCUDA's "work-item loops"), which is what a barrier means; locals that live across a
// barrier get one slot per thread. Loops the compiler can vectorise across threads replace
// a context switch per thread per barrier (the fiber fallback, still used for everything else).
//
// Applies when: barriers are direct statements of the kernel body or of `for` loops in it
// (at any depth) whose headers name only kernel parameters, uniform built-ins and enclosing
// such loops' variables; no SIMD-group functions and no barriers in called functions; no
// `break`/`continue` that would leave a split loop. Anything else keeps the fiber path.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "msl/lexer.h"

namespace metallic::msl {

// Appends `template <class PM_Threads> void <kernel>__pm_fission(PM_Threads&, buffers...)` after
// each kernel it applies to: a template only the CPU backend instantiates (NVRTC parses it and
// moves on). Returns kernel C++ name -> fission function name; `retiring` gets the kernels whose
// threads may `return` early (the backend then tracks which threads are done).
std::map<std::string, std::string> add_barrier_fission(std::vector<Token>& toks, std::set<std::string>* retiring);

}  // namespace metallic::msl
