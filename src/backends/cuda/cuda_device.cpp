// CUDA devices: every GPU the driver reports, as cuda:0 ... cuda:N-1.
#include <cstdlib>
#include <memory>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_queue.h"
#include "backends/cuda/cuda_toolchain.h"
#include "backends/cuda/driver_api.h"
#include "backends/cuda/entry_wrapper.h"
#include "backends/cuda/late_entries.h"
#include "core/backend.h"
#include "metallic/error.h"

namespace metallic::cuda {

namespace {

class CudaDevice : public backend::DeviceImpl {
 public:
  CudaDevice(const DriverApi* api, int ordinal) : context_(std::make_shared<CudaContext>(api, ordinal)) {
    char name[256] = {0};
    api->cuDeviceGetName(name, sizeof name - 1, context_->device());
    name_ = name;
    size_t bytes = 0;
    api->cuDeviceTotalMem_v2(&bytes, context_->device());
    memory_ = bytes;
  }

  std::string name() const override { return name_; }
  std::string kind() const override { return "cuda"; }
  int ordinal() const override { return context_->ordinal(); }

  DeviceLimits limits() const override {
    DeviceLimits l;
    l.max_threads_per_threadgroup =
        static_cast<uint32_t>(context_->attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
    int optin = context_->attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    l.max_threadgroup_memory_length =
        static_cast<uint32_t>(optin > 0 ? optin : context_->attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
    l.thread_execution_width = 32;
    l.recommended_working_set_size = memory_ * 3 / 4;
    l.has_unified_memory = context_->attribute(CU_DEVICE_ATTRIBUTE_INTEGRATED) != 0;
    // A dispatch is one launch of that many blocks: CUDA's grid limits (2^31-1, 65535, 65535).
    const int grid_attributes[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
    for (int i = 0; i < 3; ++i) {
      int n = context_->attribute(grid_attributes[i]);
      l.max_threadgroups_per_grid[i] = n > 0 ? static_cast<uint64_t>(n) : (i == 0 ? 0x7fffffffull : 65535ull);
    }
    l.max_total_threadgroups = ~0ull;
    return l;
  }

  std::shared_ptr<backend::BufferImpl> allocate(uint64_t length, StorageMode mode) override {
    return std::make_shared<CudaBuffer>(context_, length, mode);
  }

  std::shared_ptr<backend::LibraryImpl> compile(const msl::TranslatedSource& source,
                                                const CompileOptions& options) override {
    context_->ensure_usable();
    int sm = context_->sm_version(), driver = context_->api().version;
    // Libraries of many template instantiations: checked whole now, as Metal compiles a
    // library, and each kernel built alone when its pipeline is first made (as on the CPU).
    size_t instantiations = 0;
    for (const auto& k : source.kernels) instantiations += k.call_name.find('<') != std::string::npos;
    if (instantiations > 4) {
      build(source, options, sm, driver, Entries::Direct, {}, /*syntax_only=*/true);
      auto shared = std::make_shared<const msl::TranslatedSource>(source);
      auto context = context_;
      auto per_kernel = [shared, options, sm, driver, context](long index) {
        CudaBinary binary = build(*shared, options, sm, driver, Entries::Direct,
                                  KernelSet{shared->kernels.size(), static_cast<size_t>(index)});
        return std::make_shared<CudaModule>(context, binary.image);
      };
      return std::make_shared<CudaLibrary>(context_, nullptr, source, options, per_kernel);
    }
    // Tiered (entry_wrapper.h): the general entries now, the uniform ones in the background.
    if (tiered_entries() && !source.validation && !source.uses_logging && nvrtc_programs(source.kernels.size()) == 1) {
      CudaBinary general = build(source, options, sm, driver, Entries::General);
      auto library = std::make_shared<CudaLibrary>(context_, std::make_shared<CudaModule>(context_, general.image),
                                                   source, options);
      add_uniform_entries(context_, library, source, options, sm, driver);
      return library;
    }
    // Several NVRTC programs at once where the CPUs allow (nvrtc_programs): kernel i is in
    // module i % n.
    std::vector<CudaBinary> binaries =
        build_programs(source, options, sm, driver, nvrtc_programs(source.kernels.size()));
    if (binaries.size() == 1)
      return std::make_shared<CudaLibrary>(context_, std::make_shared<CudaModule>(context_, binaries[0].image), source,
                                           options);
    std::vector<std::shared_ptr<CudaModule>> modules;
    for (const auto& b : binaries) modules.push_back(std::make_shared<CudaModule>(context_, b.image));
    std::vector<std::shared_ptr<CudaModule>> per_kernel;
    for (size_t i = 0; i < source.kernels.size(); ++i) per_kernel.push_back(modules[i % modules.size()]);
    return std::make_shared<CudaLibrary>(context_, std::move(per_kernel), source, options);
  }

  std::unique_ptr<backend::QueueImpl> newQueue() override { return std::make_unique<CudaQueue>(context_); }

  // Pinned, portable (every context may use it) and mapped into the GPUs' address space.
  std::shared_ptr<uint64_t> allocateSharedWord() override {
    context_->ensure_usable();
    context_->make_current();
    void* p = nullptr;
    context_->check(
        context_->api().cuMemHostAlloc(&p, sizeof(uint64_t), CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP),
        "allocating a shared event");
    // Freeing pinned memory waits for running kernels: deferred (CudaContext::release).
    return std::shared_ptr<uint64_t>(static_cast<uint64_t*>(p), [context = context_](uint64_t* w) {
      context->release([api = &context->api(), w] { api->cuMemFreeHost(w); });
    });
  }

  std::shared_ptr<backend::BufferImpl> wrap(uint64_t address, uint64_t length, std::shared_ptr<void> owner) override {
    return std::make_shared<CudaBuffer>(context_, static_cast<CUdeviceptr>(address), length, std::move(owner));
  }

  uintptr_t interopStream() override { return reinterpret_cast<uintptr_t>(context_->interop_stream()); }

 private:
  std::shared_ptr<CudaContext> context_;
  std::string name_;
  uint64_t memory_ = 0;
};

}  // namespace
}  // namespace metallic::cuda

namespace metallic::backend {

std::vector<std::shared_ptr<DeviceImpl>> enumerate_cuda_devices() {
  std::vector<std::shared_ptr<DeviceImpl>> devices;
  const cuda::DriverApi* api = cuda::driver();
  if (!api) return devices;  // no NVIDIA driver: the CPU still works
  int count = 0;
  if (api->cuDeviceGetCount(&count) != cuda::CUDA_SUCCESS) return devices;
  for (int i = 0; i < count; ++i) {
    try {
      devices.push_back(std::make_shared<cuda::CudaDevice>(api, i));
    } catch (const Error&) {
      // A GPU we cannot open (busy, unsupported) is left out; the others still work.
    }
  }
  return devices;
}

}  // namespace metallic::backend
