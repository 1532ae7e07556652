// A CPU library is a loaded shared object; a CPU kernel is its entry points.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/cpu_abi.h"
#include "backends/cpu/schedule.h"
#include "core/backend.h"
#include "msl/translation.h"

namespace metallic::cpu {

class SharedObject {
 public:
  explicit SharedObject(const std::string& path);  // throws if it cannot be loaded
  ~SharedObject();
  void* symbol(const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
  std::vector<std::pair<uintptr_t, uintptr_t>> code_;  // its executable segments
};

class CpuKernel : public backend::KernelImpl {
 public:
  // `synchronises`: the kernel uses barriers or SIMD-group functions; `fission`: `groups` is
  // its split form (barrier_fission.h), which runs whole groups without fibers.
  CpuKernel(std::shared_ptr<SharedObject> object, EntryFunction groups,
            void (*thread)(const metallic_cpu_launch*, uint32_t, uint32_t, unsigned char*), bool synchronises,
            bool fission, uint32_t max_threads, const unsigned long long* argument_sizes = nullptr)
      : object_(std::move(object)),
        groups_(groups),
        thread_(thread),
        synchronises_(synchronises),
        fission_(fission),
        max_threads_(max_threads),
        argument_sizes_(argument_sizes) {}

  uint32_t maxTotalThreadsPerThreadgroup() const override { return max_threads_; }
  uint64_t referenceArgumentSize(size_t argument) const override {
    return argument_sizes_ && argument < argument_sizes_[0] ? argument_sizes_[1 + argument] : 0;
  }

  // Compiled for validation / calls os_log: dispatches then carry a metal_diag (issue 12).
  bool validation = false;
  bool logging = false;
  // options={"isolate": True}: dispatches run in the worker process (isolation.h), which
  // loads `object_path` and calls the entry points of kernel `index`.
  bool isolated = false;
  std::string object_path;
  uint32_t index = 0;
  bool synchronises() const { return synchronises_; }
  bool fission() const { return fission_; }

  // Runs threadgroups [first, end) of a dispatch on the calling thread, the way `schedule`
  // says (schedule.h).
  void run_groups(const metallic_cpu_launch& launch, uint32_t first, uint32_t end, unsigned char* arena,
                  const Schedule& schedule) const;

 private:
  std::shared_ptr<SharedObject> object_;
  EntryFunction groups_;
  void (*thread_)(const metallic_cpu_launch*, uint32_t, uint32_t, unsigned char*);
  bool synchronises_;
  bool fission_;
  uint32_t max_threads_;
  const unsigned long long* argument_sizes_;  // in the loaded object (see entry_wrapper.h)
};

class CpuLibrary : public backend::LibraryImpl {
 public:
  // Builds the shared object of a translation unit (through the disk cache).
  using Builder = std::function<std::shared_ptr<SharedObject>(const std::string& translation_unit)>;

  // Every kernel compiled together, in `object`.
  CpuLibrary(std::shared_ptr<SharedObject> object, const msl::TranslatedSource& source);
  // Each kernel compiled on first use, alone (its entry points only), by `build`.
  CpuLibrary(std::shared_ptr<const msl::TranslatedSource> source, Builder build);
  std::shared_ptr<backend::KernelImpl> kernel(const msl::KernelInfo& info) override;
  bool isolate = false;  // options={"isolate": True}

 private:
  std::shared_ptr<SharedObject> object_;  // null: compiled per kernel
  std::vector<std::string> names_;
  bool validation_ = false, logging_ = false;
  std::shared_ptr<const msl::TranslatedSource> source_;
  Builder build_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<SharedObject>> per_kernel_;
};

}  // namespace metallic::cpu
