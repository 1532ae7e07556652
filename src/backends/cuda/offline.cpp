#include "backends/cuda/cuda_toolchain.h"
#include "backends/cuda/driver_api.h"
#include "backends/cuda/entry_wrapper.h"
#include "core/backend.h"

namespace metallic::backend {

OfflineResult offline_compile_cuda(const msl::TranslatedSource& source, const CompileOptions& options,
                                   const std::string& arch, bool emit_only, bool indirect_entries) {
  OfflineResult r;
  int sm = cuda::parse_arch(arch);
  const auto entries = indirect_entries ? cuda::Entries::Indirect : cuda::Entries::Direct;
  if (emit_only) {
    r.generated = cuda::generate_translation_unit(source, entries);
    r.artifact = "CUDA C++";
    return r;
  }
  const cuda::DriverApi* api = cuda::driver();  // absent without a GPU: fine, NVRTC suffices
  cuda::CudaBinary binary = cuda::build(source, options, sm, api ? api->version : 0, entries);
  r.generated = binary.source;
  r.binary_size = binary.image.size();
  r.artifact = binary.arch + (binary.is_cubin ? " cubin" : " PTX");
  return r;
}

}  // namespace metallic::backend
