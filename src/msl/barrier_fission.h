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
// SIMD-group functions (reductions, scans, shuffles, broadcasts, ballot/all/any: the list in
// barrier_fission.cpp) split the same way when they sit in a declaration or expression
// statement of such a block, not right of `?`/`&&`/`||`: every thread of the group reaches
// them, so the active lanes are the threads that have not returned, as on the fiber path.
//   float s = simd_sum(v);   ->  each thread: pm_simd_0.put<fission_simd_sum>(index, v);
//                                the group:   pm_simd_0.run<fission_simd_sum, T>(pm_threads);
//                                each thread: float s = pm_simd_0.get<...>(pm_threads, index);
// (run computes every SIMD group's result over its lanes' slots: metal_simd_fission.h). quad_*
// reductions, scans, shuffles and broadcasts split the same way. A stretch that declares only
// such results and ends in `if (lane == k) stmt;` (lane: thread_index_in_simdgroup) runs one
// thread per SIMD group (each_lane_equal); a stretch that reads the lane or SIMD-group index
// loops over each SIMD group's lanes with the lane as the loop counter (each_lanes).
//
// Lane loops (kernels with or without barriers): a `for` loop without barriers whose header is
// uniform and whose trip count is not a constant, with a body free of loops, jumps and returns,
// is stepped by the group (each step a loop over the threads: naive matmul's `k` loop); a
// `while` loop without barriers, loops, jumps or returns in it runs masked: the group repeats a
// step while any thread is still in the loop, each step running the threads still in it
// (Mandelbrot's escape loop). Both leave the compiler a loop over lanes it can vectorise.
// A stretch that is one `if (lid < s) stmt;` or `if (lid == s) stmt;` (lid: the thread's scalar
// position or index in the group, s uniform) runs only the threads that can pass, `stmt` alone
// where the bound is known to hold. The kernel's `threadgroup` arrays become locals of the split
// version (METAL_THREADGROUP_GROUP_STORAGE), unless the program checks address spaces at run time.
// A kernel without barriers is split only when it has such a loop (PYMETALLIC_CPU_LANE_LOOPS=0:
// never); `PYMETALLIC_CPU_SCHEDULE=nofission` runs it thread by thread instead.
//
// Applies when: barriers and SIMD-group calls are direct statements of the kernel body or of
// `for` loops in it (at any depth) whose headers name only kernel parameters, uniform built-ins
// and enclosing such loops' variables; no barriers or SIMD-group functions in called
// functions; no `break`/`continue` that would leave a split loop. Anything else keeps the fiber
// path, and PYMETALLIC_DEBUG_FISSION=1 prints which kernels are split and why the others are not.
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
