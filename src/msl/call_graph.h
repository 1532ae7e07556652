// Which functions a kernel can reach, and whether any of them uses a barrier or a
// SIMD-group function: the one call-graph analysis of the front end (entry points use it
// for KernelInfo::uses_*, which decide the CPU's fiber path; barrier fission uses it to
// keep kernels whose callees synchronise on fibers).
//
// Reachability is by name, conservatively: a function reaches the functions its
// declaration and body name, every member (constructors, operator(), other operators,
// methods) of the classes it names, what the type aliases it names stand for, and every
// namespace-scope operator overload (their calls name no function). Lambdas are part of
// the body they are written in. MSL has no function pointers or virtual functions, so a
// call always names its callee, its class, or an operator.
#pragma once

#include <string>
#include <vector>

#include "msl/lexer.h"
#include "msl/structure.h"

namespace metallic::msl {

struct SyncUse {
  bool threadgroup_barrier = false;  // threadgroup_barrier
  bool simdgroup_barrier = false;    // simdgroup_barrier
  bool simd_functions = false;       // simd_* / quad_* calls, simdgroup matrices (not simdgroup_barrier)
  bool any() const { return threadgroup_barrier || simdgroup_barrier || simd_functions; }
  SyncUse& operator|=(const SyncUse& o) {
    threadgroup_barrier |= o.threadgroup_barrier;
    simdgroup_barrier |= o.simdgroup_barrier;
    simd_functions |= o.simd_functions;
    return *this;
  }
};

// Whether token i is a call of a SIMD-group function or names a simdgroup_* entity
// (simdgroup matrices and their operations; simdgroup_barrier is a barrier, not this).
bool is_simd_function_use(const std::vector<Token>& toks, size_t i);

// Built once per source in linear time (a graph of functions and the names they mention,
// condensed into strongly connected components); callees() is then a lookup. Asking each
// kernel's reach separately was quadratic: a fuzzer's 330 KB splice of 285 kernels took
// 7-28 s in this analysis alone.
class CallGraph {
 public:
  CallGraph(const std::vector<Token>& toks, const Structure& st);
  // Synchronisation used by `fn` itself (its body), and by the functions it reaches
  // other than itself.
  SyncUse own(size_t fn) const { return own_[fn]; }
  SyncUse callees(size_t fn) const { return callees_[fn]; }

 private:
  std::vector<SyncUse> own_, callees_;  // by function index
};

}  // namespace metallic::msl
