#include "backends/cpu/cpu_kernel.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>

#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/fault_guard.h"
#include "backends/cpu/fibers.h"
#include "metallic/error.h"

namespace metallic::cpu {

namespace {

struct CodeSearch {
  uintptr_t base;
  std::vector<std::pair<uintptr_t, uintptr_t>>* ranges;
};

// The executable segments of the object loaded at `base`.
int find_code(dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<CodeSearch*>(data);
  if (info->dlpi_addr != search->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
      search->ranges->emplace_back(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

}  // namespace

SharedObject::SharedObject(const std::string& path) : path_(path) {
  handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* why = ::dlerror();
    throw Error("cannot load the compiled kernel library '" + path + "': " + (why ? why : "unknown error"));
  }
  // Barriers yield to this thread's fiber scheduler.
  using Hook = void (*)();
  if (auto* slot = static_cast<Hook*>(::dlsym(handle_, "metallic_cpu_threadgroup_barrier_hook")))
    *slot = &FiberGroup::yield_barrier;
  // A SIMD group's barrier: its active lanes meet (an exchange of nothing).
  using SiteHook = void (*)(unsigned);
  if (auto* slot = static_cast<SiteHook*>(::dlsym(handle_, "metallic_cpu_simdgroup_barrier_hook")))
    *slot = &FiberGroup::simdgroup_barrier;
  using Exchange = unsigned (*)(const void*, void*, unsigned, unsigned*, unsigned);
  if (auto* slot = static_cast<Exchange*>(::dlsym(handle_, "metallic_cpu_simd_exchange_hook")))
    *slot = &FiberGroup::simd_exchange;
  // Run-time address-space checks ask where the running thread's stack is.
  using Bounds = void (*)(const char**, const char**);
  if (auto* slot = static_cast<Bounds*>(::dlsym(handle_, "metallic_cpu_stack_bounds_hook")))
    *slot = &FiberGroup::stack_bounds;
  // Where its code is: a runaway kernel is stopped only while it runs code of its own.
  link_map* map = nullptr;
  if (::dlinfo(handle_, RTLD_DI_LINKMAP, &map) == 0 && map) {
    CodeSearch search{static_cast<uintptr_t>(map->l_addr), &code_};
    ::dl_iterate_phdr(&find_code, &search);
    for (auto& [begin, end] : code_) register_kernel_code(begin, end);
  }
}

SharedObject::~SharedObject() {
  for (auto& [begin, end] : code_) unregister_kernel_code(begin);
  if (handle_) ::dlclose(handle_);
}

void* SharedObject::symbol(const std::string& name) const { return ::dlsym(handle_, name.c_str()); }

void CpuKernel::run_groups(const metallic_cpu_launch& launch, uint32_t first, uint32_t end, unsigned char* arena,
                           const Schedule& schedule) const {
  bool as_fibers = schedule.fibers || (synchronises_ && (!fission_ || schedule.no_fission));
  const uint32_t* g = launch.grid;
  const uint32_t* tg = launch.threads_per_threadgroup;
  const uint32_t* n = launch.threadgroups;
  if (!as_fibers && fission_ && !synchronises_ && schedule.no_fission) {
    // A kernel without barriers split only for its lane loops: `nofission` runs its threads
    // one after the other, whole, as the plain group entry of other kernels does.
    for (uint32_t group = first; group < end; ++group) {
      uint32_t gx = group % n[0], gy = (group / n[0]) % n[1], gz = group / (n[0] * n[1]);
      uint32_t count =
          std::min(tg[0], g[0] - gx * tg[0]) * std::min(tg[1], g[1] - gy * tg[1]) * std::min(tg[2], g[2] - gz * tg[2]);
      for (uint32_t t = 0; t < count; ++t) thread_(&launch, group, t, arena);
    }
    return;
  }
  if (!as_fibers) {
    groups_(&launch, first, end, arena);
    return;
  }
  FiberGroup& fibers = FiberGroup::for_this_thread();
  for (uint32_t group = first; group < end; ++group) {
    uint32_t gx = group % n[0], gy = (group / n[0]) % n[1], gz = group / (n[0] * n[1]);
    uint32_t nx = std::min(tg[0], g[0] - gx * tg[0]);
    uint32_t ny = std::min(tg[1], g[1] - gy * tg[1]);
    uint32_t nz = std::min(tg[2], g[2] - gz * tg[2]);
    fibers.run(nx * ny * nz, [&](uint32_t t) { thread_(&launch, group, t, arena); });
  }
}

CpuLibrary::CpuLibrary(std::shared_ptr<SharedObject> object, const msl::TranslatedSource& source)
    : object_(std::move(object)) {
  for (const auto& k : source.kernels) names_.push_back(k.name);
  validation_ = source.validation;
  logging_ = source.uses_logging;
}

CpuLibrary::CpuLibrary(std::shared_ptr<const msl::TranslatedSource> source, Builder build)
    : source_(std::move(source)), build_(std::move(build)) {
  for (const auto& k : source_->kernels) names_.push_back(k.name);
  per_kernel_.resize(names_.size());
  validation_ = source_->validation;
  logging_ = source_->uses_logging;
}

std::shared_ptr<backend::KernelImpl> CpuLibrary::kernel(const msl::KernelInfo& info) {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != info.name) continue;
    std::shared_ptr<SharedObject> object = object_;
    if (!object) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!per_kernel_[i]) per_kernel_[i] = build_(generate_translation_unit(*source_, static_cast<long>(i)));
      object = per_kernel_[i];
    }
    auto groups = reinterpret_cast<EntryFunction>(object->symbol(entry_symbol(i)));
    auto thread = reinterpret_cast<void (*)(const metallic_cpu_launch*, uint32_t, uint32_t, unsigned char*)>(
        object->symbol(thread_entry_symbol(i)));
    if (!groups || !thread) throw Error("the compiled library lacks the entry point of kernel '" + info.name + "'");
    // Barriers and SIMD-group functions need every thread of a group to make progress
    // together: run those kernels' threads as fibers.
    // (Kernels split at their barriers run whole groups in their group entry instead.)
    bool synchronises = info.uses_threadgroup_barrier || info.uses_simdgroup_functions;
    uint32_t max_threads = 1024;
    if (!info.max_threads_expression.empty()) {
      auto bound = reinterpret_cast<unsigned (*)()>(object->symbol(max_threads_symbol(i)));
      if (!bound) throw Error("the compiled library lacks the thread limit of kernel '" + info.name + "'");
      max_threads = std::min<uint32_t>(max_threads, bound());
    }
    auto sizes = static_cast<const unsigned long long*>(object->symbol(argument_sizes_symbol(i)));
    auto kernel =
        std::make_shared<CpuKernel>(object, groups, thread, synchronises, uses_fission(info), max_threads, sizes);
    kernel->validation = validation_;
    kernel->logging = logging_;
    kernel->isolated = isolate;
    kernel->object_path = object->path();
    kernel->index = static_cast<uint32_t>(i);
    return kernel;
  }
  throw Error("kernel '" + info.name + "' is not in the compiled library");
}

}  // namespace metallic::cpu
