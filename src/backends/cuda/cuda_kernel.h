// A CUDA library is a loaded module; a CUDA kernel is one of its entry points plus the
// parameter layout the compiler chose (read from the module once). The entries of indirect
// dispatches are a second module, built the first time a program needs one.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
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

// The `_indirect` entries of a library's kernels (entry_wrapper.h): compiled from the same
// translation, on first use, through the disk cache. Shared by the library's kernels.
class IndirectModule {
 public:
  IndirectModule(std::shared_ptr<CudaContext> context, msl::TranslatedSource source, CompileOptions options)
      : context_(std::move(context)), source_(std::move(source)), options_(std::move(options)) {}
  // Builds and loads the module the first time; throws CompileError or Error.
  std::shared_ptr<CudaModule> get();

 private:
  std::shared_ptr<CudaContext> context_;
  msl::TranslatedSource source_;
  CompileOptions options_;
  std::mutex mutex_;
  std::shared_ptr<CudaModule> module_;
};

class CudaKernel : public backend::KernelImpl {
 public:
  // validation / logging: the kernel was compiled with checks / calls the logging API; its
  // parameters then end with the address of the dispatch's metal_diag_dev (issue 12).
  CudaKernel(std::shared_ptr<CudaModule> module, std::shared_ptr<IndirectModule> indirect, size_t index,
             const msl::KernelInfo& info, bool validation = false, bool logging = false);

  uint32_t maxTotalThreadsPerThreadgroup() const override { return max_threads_; }
  uint32_t staticThreadgroupMemoryLength() const override { return static_shared_; }
  // Builds the indirect entry when first needed, so its compile errors reach the encoder.
  void prepareIndirectDispatch(Size3 threads_per_threadgroup) override;

  // The entry for a dispatch: for one whose threadgroups are all whole, the uniform entry
  // made for where its `constant T&` arguments' data is (`constants`: 1 all inline, 2 all in
  // buffers, 0 a mix, which takes the general entry where the kernel has such arguments).
  // In a tiered library (entry_wrapper.h) the uniform entries arrive later (attach_uniform);
  // until then the general entry serves every dispatch.
  CUfunction function(bool uniform = false, int constants = 0) const {
    if (!uniform) return function_;
    CUfunction in = uniform_inline_.load(std::memory_order_acquire);
    if (!in) return uniform_.load(std::memory_order_acquire);
    return constants == 1 ? in : constants == 2 ? uniform_buffers_.load(std::memory_order_relaxed) : function_;
  }
  // Takes the uniform entries of this kernel from `module` (a tiered library's Uniform unit).
  // Each is used only if it can run every threadgroup the pipeline allows; returns whether
  // they were taken.
  bool attach_uniform(std::shared_ptr<CudaModule> module);
  uint32_t params_size() const { return params_size_; }
  uint32_t slot_offset(size_t arg) const { return offsets_[arg]; }
  uint32_t slot_capacity(size_t arg) const { return layout_[1 + arg]; }
  // For `T&` buffer arguments the slot holds the referee: its size is sizeof(T).
  uint64_t referenceArgumentSize(size_t arg) const override {
    return 1 + arg_count_ + arg < layout_.size() ? layout_[1 + arg_count_ + arg] : 0;
  }
  // Raises the function's dynamic shared memory limit when a dispatch needs more than 48 KB.
  void ensure_dynamic_shared(uint32_t bytes);
  const std::string& name() const { return name_; }
  const bool validation, logging;
  bool has_diag() const { return validation || logging; }
  uint32_t diag_offset() const { return diag_offset_; }  // where the metal_diag_dev address goes
  uint32_t static_shared() const { return static_shared_; }

  // The entry of dispatch_threadgroups_with_indirect_buffer (built on first use), and the
  // fixed grid it is launched with: as many blocks of this shape as the GPU holds at once.
  CUfunction indirect_function();
  unsigned indirect_blocks(unsigned threads_per_block, unsigned dynamic_shared);

 private:
  CUfunction load_indirect();  // with indirect_mutex_ held
  void set_dynamic_limit(CUfunction f, uint32_t bytes) const;

  std::shared_ptr<CudaModule> module_;
  std::shared_ptr<IndirectModule> indirect_module_;
  size_t index_;
  CUfunction function_ = nullptr;
  std::atomic<CUfunction> uniform_{nullptr};
  // Kernels with `constant T&` arguments; uniform_buffers_ is stored before uniform_inline_.
  std::atomic<CUfunction> uniform_inline_{nullptr}, uniform_buffers_{nullptr};
  std::shared_ptr<CudaModule> uniform_module_;  // a tiered library's Uniform unit (keeps the entries valid)
  std::vector<uint32_t> layout_;                // sizeof(params), slot content size per argument, sizeof(T) per T&
  std::vector<uint32_t> offsets_;               // slot offset per argument
  uint32_t params_size_ = 0;
  uint32_t diag_offset_ = 0;
  size_t arg_count_;
  uint32_t max_threads_ = 0, static_shared_ = 0;
  std::atomic<uint32_t> dynamic_limit_{48 * 1024};
  std::string name_;

  std::mutex indirect_mutex_;                    // encoders and queues on several threads may ask at once
  std::shared_ptr<CudaModule> indirect_loaded_;  // keeps indirect_ valid
  CUfunction indirect_ = nullptr;
  uint32_t indirect_max_threads_ = 0;
  int multiprocessors_ = 0;
  std::map<std::pair<unsigned, unsigned>, unsigned> indirect_grids_;  // (threads, shared) -> blocks
};

class CudaLibrary : public backend::LibraryImpl {
 public:
  // Builds the module of one kernel (its index in the source) on first use.
  using Builder = std::function<std::shared_ptr<CudaModule>(long kernel_index)>;

  // Every kernel in `module`; or, when `module` is null, each kernel built by `build` when
  // its pipeline is first made.
  CudaLibrary(std::shared_ptr<CudaContext> context, std::shared_ptr<CudaModule> module,
              const msl::TranslatedSource& source, const CompileOptions& options, Builder build = nullptr);
  // Kernel i in per_kernel[i] (a library compiled as several programs: build_programs).
  CudaLibrary(std::shared_ptr<CudaContext> context, std::vector<std::shared_ptr<CudaModule>> per_kernel,
              const msl::TranslatedSource& source, const CompileOptions& options);
  std::shared_ptr<backend::KernelImpl> kernel(const msl::KernelInfo& info) override;
  // The kernels of a whole-library module (null where a kernel is built on first use).
  const std::vector<std::shared_ptr<CudaKernel>>& module_kernels() const { return kernels_; }

 private:
  std::shared_ptr<CudaModule> module_;
  Builder build_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<CudaModule>> per_kernel_;
  // One CudaKernel per kernel, shared by every pipeline made from it (CudaKernel is safe to
  // use from several threads). Those of a whole-library module are made with the library.
  std::vector<std::shared_ptr<CudaKernel>> kernels_;
  std::shared_ptr<IndirectModule> indirect_;
  std::vector<std::string> names_;
  bool validation_ = false, logging_ = false;
};

}  // namespace metallic::cuda
