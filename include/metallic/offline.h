// Compiling without running: check MSL for a target (and see the generated code) on a
// machine that need not have that target's hardware. Behind `pymetallic compile`.
#pragma once

#include <string>
#include <vector>

#include "metallic/types.h"

namespace metallic {

struct OfflineResult {
  std::vector<std::string> functions;  // kernel names
  std::string generated;               // the C++ or CUDA C++ handed to the compiler
  std::string artifact;                // what was built: "shared object", "sm_90 cubin", ...
  uint64_t binary_size = 0;            // 0 when emit_only (cuda: of all modules)
  uint64_t programs = 1;               // cuda: NVRTC programs (modules) the kernels were built as
  std::vector<std::string> units;      // cuda: the unit of each program (not with emit_only)
};

// target: "cpu" or "cuda"; arch: "sm_90" style for cuda (default sm_90). Throws CompileError
// (with the user's file:line) when the source does not compile; with emit_only the code is
// generated but not compiled. indirect_entries (cuda): build the entry points that
// dispatch_threadgroups_with_indirect_buffer uses instead of the others (at run time they
// are a module of their own, built on first use); the CPU's entries serve both.
OfflineResult compileOffline(const std::string& source, const CompileOptions& options, const std::string& target,
                             const std::string& arch = "", bool emit_only = false, bool indirect_entries = false);

}  // namespace metallic
