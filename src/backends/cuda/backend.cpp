// The CUDA backend's entry in the registry (core/backend.h): its devices, offline
// compilation (NVRTC, default sm_90) and toolchain.
#include "core/backend.h"
#include "backends/cuda/cuda_toolchain.h"
#include "backends/cuda/driver_api.h"
#include "backends/cuda/entry_wrapper.h"
#include "backends/cuda/nvrtc_api.h"

namespace metallic::backend {

std::vector<std::shared_ptr<DeviceImpl>> enumerate_cuda_devices();  // cuda_device.cpp

namespace {

OfflineResult offline_compile(const msl::TranslatedSource& source, const CompileOptions& options,
                              const OfflineRequest& request) {
  OfflineResult r;
  int sm = cuda::parse_arch(request.arch.empty() ? "sm_90" : request.arch);
  const auto entries = request.indirect_entries ? cuda::Entries::Indirect : cuda::Entries::Direct;
  if (request.emit_only) {
    r.generated = cuda::generate_translation_unit(source, entries, -1, cuda::whole_runtime_requested());
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

std::pair<std::string, std::string> describe_toolchain() {
  std::string why;
  if (const auto* nvrtc = cuda::Nvrtc::get(&why)) return {"nvrtc", "NVRTC " + nvrtc->version()};
  return {"nvrtc", "unavailable: " + why};
}

}  // namespace

const Backend& cuda_backend() {
  static const Backend b{"cuda", enumerate_cuda_devices, offline_compile, describe_toolchain};
  return b;
}

}  // namespace metallic::backend
