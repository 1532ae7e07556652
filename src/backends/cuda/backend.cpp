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
  // A tiered library (entry_wrapper.h): the General unit a device compiles before it returns
  // the library, then the Uniform unit it compiles in the background; `units` has both.
  const bool tiered = entries == cuda::Entries::Direct && cuda::tiered_entries() && !source.validation &&
                      !source.uses_logging && cuda::nvrtc_programs(source.kernels.size()) == 1;
  if (request.emit_only) {
    if (tiered) {
      for (auto e : {cuda::Entries::General, cuda::Entries::Uniform})
        r.units.push_back(cuda::generate_translation_unit(source, e, {}, cuda::whole_runtime_requested()));
      r.generated = r.units[0];
    } else {
      r.generated = cuda::generate_translation_unit(source, entries, {}, cuda::whole_runtime_requested());
    }
    r.artifact = "CUDA C++";
    return r;
  }
  const cuda::DriverApi* api = cuda::driver();  // absent without a GPU: fine, NVRTC suffices
  const int driver = api ? api->version : 0;
  if (tiered) {
    for (auto e : {cuda::Entries::General, cuda::Entries::Uniform}) {
      cuda::CudaBinary b = cuda::build(source, options, sm, driver, e);
      r.binary_size += b.image.size();
      r.units.push_back(b.source);
      r.artifact = b.arch + (b.is_cubin ? " cubin" : " PTX") + " (2 modules: general, uniform entries)";
    }
    r.programs = 2;
    r.generated = r.units[0];
    return r;
  }
  if (entries == cuda::Entries::Direct) {
    // As a device builds a library: several NVRTC programs where the CPUs allow.
    auto binaries = cuda::build_programs(source, options, sm, driver, cuda::nvrtc_programs(source.kernels.size()));
    r.programs = binaries.size();
    for (const auto& b : binaries) {
      r.binary_size += b.image.size();
      r.units.push_back(b.source);
    }
    // The whole unit (what one program compiles); `units` has each program's.
    r.generated = binaries.size() == 1
                      ? binaries[0].source
                      : cuda::generate_translation_unit(source, entries, {}, cuda::whole_runtime_requested());
    r.artifact = binaries[0].arch + (binaries[0].is_cubin ? " cubin" : " PTX");
    if (binaries.size() > 1) r.artifact += " (" + std::to_string(binaries.size()) + " modules)";
    return r;
  }
  cuda::CudaBinary binary = cuda::build(source, options, sm, driver, entries);
  r.generated = binary.source;
  r.units.push_back(binary.source);
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
