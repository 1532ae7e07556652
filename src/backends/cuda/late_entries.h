// Tiered libraries (PYMETALLIC_CUDA_TIERED=1, entry_wrapper.h): a library is returned with the
// general entry of each kernel, and the uniform entries follow from a second unit of the same
// code, compiled on a background thread.
#pragma once

#include <memory>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_kernel.h"
#include "metallic/types.h"
#include "msl/translation.h"

namespace metallic::cuda {

// Gives `library`'s kernels their uniform entries from the Uniform unit of `source`: at once
// when the unit is in the disk cache (a warm start), else from the process's background
// compile thread, which builds one library's unit at a time, starts only when no other
// compile of the process is running, skips a library nobody holds any more, and is waited
// for at exit (at most one compile; a unit compiled then is not loaded); its module is loaded
// when the device has no work queued. A failure there leaves the general entries in use.
void add_uniform_entries(const std::shared_ptr<CudaContext>& context, const std::shared_ptr<CudaLibrary>& library,
                         const msl::TranslatedSource& source, const CompileOptions& options, int sm_version,
                         int driver_version);

}  // namespace metallic::cuda
