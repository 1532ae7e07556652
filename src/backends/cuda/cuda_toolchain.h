// Generated CUDA C++ → NVRTC → cubin (or PTX), through the disk cache. Needs no GPU: the
// target architecture is named ("sm_90") or taken from a device.
#pragma once

#include <string>
#include <vector>

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
// `only`: the kernels to build (entry_wrapper.h). `syntax_only`: check that the code
// compiles (NVRTC's -fdevice-syntax-only: no code is generated; the image stays empty),
// remembering success in the disk cache.
// `cached_only`: only look in the disk cache (an empty image when the binary is not there).
// `background`: a compile nobody waits for (a tiered library's Uniform unit): it takes no
// compile slot and starts when no other compile of the process holds one.
CudaBinary build(const msl::TranslatedSource& source, const CompileOptions& options, int sm_version, int driver_version,
                 Entries entries = Entries::Direct, KernelSet only = {}, bool syntax_only = false,
                 bool cached_only = false, bool background = false);

// A library's kernels as `programs` NVRTC programs compiled at once on as many threads, kernel
// i in program i % programs (each program includes the whole translated code and the runtime,
// and has the entries of its kernels), each cached on its own and loaded as a module of its
// own. The back ends overlap, the front ends do not (NVRTC parses one program at a time per
// process), so this pays only for libraries whose back end outweighs a front end per extra
// program; off by default. One program: build(source, ...).
std::vector<CudaBinary> build_programs(const msl::TranslatedSource& source, const CompileOptions& options,
                                       int sm_version, int driver_version, size_t programs);

// How many programs build_programs should use for a library of `kernels` kernels:
// PYMETALLIC_NVRTC_THREADS (default 1: one program, one module).
size_t nvrtc_programs(size_t kernels);

// PYMETALLIC_CUDA_RUNTIME_SUBSET=0: generated units include the whole runtime library.
bool whole_runtime_requested();

// "sm_90" -> 90; throws ValidationError for anything else.
int parse_arch(const std::string& arch);

}  // namespace metallic::cuda
