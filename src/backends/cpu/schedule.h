// How the CPU device runs the threads of a threadgroup, chosen per dispatch: every path must
// give the same results (MSL's semantics do not depend on scheduling), and the differential
// tests hold them to it. PYMETALLIC_CPU_SCHEDULE, read at each dispatch, is a comma-separated
// list of:
//   auto       the default: kernels split at their barriers (barrier_fission.h) run as loops
//              over the group's threads; other kernels with barriers or SIMD-group functions
//              run as fibers (fibers.h); the rest as a plain loop over threads
//   fibers     every kernel runs as fibers
//   nofission  kernels split at their barriers run as fibers instead; kernels without
//              barriers split for their lane loops run thread after thread, whole
//   serial     one worker thread runs every threadgroup of a dispatch, in order
#pragma once

namespace metallic::cpu {

struct Schedule {
  bool fibers = false;
  bool no_fission = false;
  bool serial = false;
};

// Throws metallic::Error naming an unknown word.
Schedule current_schedule();

}  // namespace metallic::cpu
