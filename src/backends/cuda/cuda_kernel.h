// A CUDA library is a loaded module; a CUDA kernel is one of its entry points plus the
// parameter layout the compiler chose (read from the module once).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_context.h"
#include "core/backend.h"

namespace metallic::cuda {

class CudaModule {
 public:
  CudaModule(std::shared_ptr<CudaContext> context, const std::string& image);
  ~CudaModule();
  CUmodule handle() const { return module_; }
  const std::shared_ptr<CudaContext>& context() const { return context_; }

 private:
  std::shared_ptr<CudaContext> context_;
  CUmodule module_ = nullptr;
};

class CudaKernel : public backend::KernelImpl {
 public:
  CudaKernel(std::shared_ptr<CudaModule> module, size_t index, const msl::KernelInfo& info);

  uint32_t maxTotalThreadsPerThreadgroup() const override { return max_threads_; }
  uint32_t staticThreadgroupMemoryLength() const override { return static_shared_; }

  // The entry for a dispatch whose threadgroups are all whole, or the general one.
  CUfunction function(bool uniform = false) const { return uniform ? uniform_ : function_; }
  uint32_t params_size() const { return params_size_; }
  uint32_t slot_offset(size_t arg) const { return offsets_[arg]; }
  uint32_t slot_capacity(size_t arg) const { return layout_[1 + arg]; }
  // Raises the function's dynamic shared memory limit when a dispatch needs more than 48 KB.
  void ensure_dynamic_shared(uint32_t bytes);
  const std::string& name() const { return name_; }

 private:
  std::shared_ptr<CudaModule> module_;
  CUfunction function_ = nullptr, uniform_ = nullptr;
  std::vector<uint32_t> layout_;   // sizeof(params), then content size per argument
  std::vector<uint32_t> offsets_;  // slot offset per argument
  uint32_t params_size_ = 0;
  size_t arg_count_;
  uint32_t max_threads_ = 0, static_shared_ = 0, dynamic_limit_ = 48 * 1024;
  std::string name_;
};

class CudaLibrary : public backend::LibraryImpl {
 public:
  CudaLibrary(std::shared_ptr<CudaModule> module, const msl::TranslatedSource& source);
  std::shared_ptr<backend::KernelImpl> kernel(const msl::KernelInfo& info) override;

 private:
  std::shared_ptr<CudaModule> module_;
  std::vector<std::string> names_;
};

}  // namespace metallic::cuda
