// Generated CUDA C++ → NVRTC → cubin (or PTX), through the disk cache. Needs no GPU: the
// target architecture is named ("sm_90") or taken from a device.
#pragma once

#include <string>

#include "backends/cuda/entry_wrapper.h"
#include "metallic/types.h"
#include "msl/translation.h"

namespace metallic::cuda {

struct CudaBinary {
  std::string image;  // cubin, or NUL-terminated PTX
  bool is_cubin = false;
  std::string source;  // the generated CUDA C++
  std::string arch;    // what it was built for: "sm_90" or "compute_90"
};

// arch: "sm_XY" (a real GPU: cubin when NVRTC knows it, else PTX for the newest virtual
// architecture not above it). Throws CompileError with NVRTC's log on failure. `entries`:
// which entry points (entry_wrapper.h); each set is a module of its own.
// `only`: build kernel `only` alone (-1: every kernel). `syntax_only`: check that the code
// compiles (NVRTC's -fdevice-syntax-only: no code is generated; the image stays empty),
// remembering success in the disk cache.
CudaBinary build(const msl::TranslatedSource& source, const CompileOptions& options, int sm_version, int driver_version,
                 Entries entries = Entries::Direct, long only = -1, bool syntax_only = false);

// PYMETALLIC_CUDA_RUNTIME_SUBSET=0: generated units include the whole runtime library.
bool whole_runtime_requested();

// "sm_90" -> 90; throws ValidationError for anything else.
int parse_arch(const std::string& arch);

}  // namespace metallic::cuda
