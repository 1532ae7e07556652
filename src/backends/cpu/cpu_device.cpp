// The CPU device: host memory, the system C++ compiler, and a thread pool.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/executor.h"
#include "backends/cpu/thread_pool.h"
#include "backends/cpu/toolchain.h"
#include "core/backend.h"
#include "metallic/error.h"

namespace metallic::cpu {

namespace {

// Host memory, zeroed (as new Metal buffers are), placed so that it ends where an
// inaccessible guard page begins: a kernel that reads or writes past the end of its buffer
// (the classic off-by-one) faults at once, and the fault guard turns that into a MetalError
// instead of silently corrupting other data. 16-byte aligned, like every MSL type.
class HostBuffer : public backend::BufferImpl {
 public:
  explicit HostBuffer(uint64_t length) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t used = (length + 15) / 16 * 16;
    const size_t pages = (used + page - 1) / page;
    mapped_ = (pages + 1) * page;
    void* base = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw Error("out of memory: cannot allocate a buffer of " + std::to_string(length) + " bytes");
    base_ = static_cast<unsigned char*>(base);
    ::mprotect(base_ + pages * page, page, PROT_NONE);
    data_ = base_ + pages * page - used;
  }
  ~HostBuffer() override { ::munmap(base_, mapped_); }
  void* contents() override { return data_; }
  uint64_t gpuAddress() override { return reinterpret_cast<uintptr_t>(data_); }

 private:
  unsigned char* base_ = nullptr;
  size_t mapped_ = 0;
  void* data_ = nullptr;
};

// Host memory another library owns (a NumPy array, a CPU tensor), used in place. It has no
// guard page: the owner decides what lies around it.
class ForeignHostBuffer : public backend::BufferImpl {
 public:
  ForeignHostBuffer(uint64_t address, std::shared_ptr<void> owner)
      : data_(reinterpret_cast<void*>(static_cast<uintptr_t>(address))), owner_(std::move(owner)) {}
  void* contents() override { return data_; }
  uint64_t gpuAddress() override { return reinterpret_cast<uintptr_t>(data_); }

 private:
  void* data_;
  std::shared_ptr<void> owner_;
};

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return "CPU: " + line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "CPU";
}

uint64_t physical_memory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

class CpuDevice : public backend::DeviceImpl {
 public:
  CpuDevice(int ordinal, std::shared_ptr<ThreadPool> pool) : name_(cpu_name()), ordinal_(ordinal), pool_(std::move(pool)) {}

  std::string name() const override { return name_; }
  std::string kind() const override { return "cpu"; }
  int ordinal() const override { return ordinal_; }
  DeviceLimits limits() const override {
    DeviceLimits l;
    l.max_threads_per_threadgroup = 1024;
    l.max_threadgroup_memory_length = 32768;  // Apple GPUs' limit: keep programs portable
    l.thread_execution_width = 32;
    l.recommended_working_set_size = physical_memory() / 2;
    l.has_unified_memory = true;
    return l;
  }

  std::shared_ptr<backend::BufferImpl> allocate(uint64_t length, StorageMode) override {
    return std::make_shared<HostBuffer>(length);
  }

  std::shared_ptr<backend::BufferImpl> wrap(uint64_t address, uint64_t, std::shared_ptr<void> owner) override {
    return std::make_shared<ForeignHostBuffer>(address, std::move(owner));
  }

  // Libraries of many template instantiations (ML libraries: dozens per file) are checked
  // whole when created, as Metal compiles a library, but each kernel is built alone when
  // its pipeline is first made: a program pays for the kernels it uses. (A translation
  // unit of one instantiation generates code for that instantiation only; ordinary
  // kernels would be generated in every unit, so other libraries are built whole.)
  static constexpr size_t kCompileWholeUpTo = 4;
  static size_t instantiations(const msl::TranslatedSource& source) {
    size_t n = 0;
    for (const auto& k : source.kernels) n += k.call_name.find('<') != std::string::npos;
    return n;
  }

  std::shared_ptr<backend::LibraryImpl> compile(const msl::TranslatedSource& source,
                                                const CompileOptions& options) override {
    std::string tu = generate_translation_unit(source);
    auto build = [this, name = options.filename, fast = options.fast_math(), debug = options.debug](const std::string& unit) {
      std::string path = toolchain().build(unit, name, fast, debug);
      try {
        return std::make_shared<SharedObject>(path);
      } catch (const Error&) {
        // A damaged cache entry: remove it and build again.
        std::remove(path.c_str());
        return std::make_shared<SharedObject>(toolchain().build(unit, name, fast, debug));
      }
    };
    if (instantiations(source) <= kCompileWholeUpTo) return std::make_shared<CpuLibrary>(build(tu), source);
    toolchain().check(tu, options.filename, options.fast_math());
    return std::make_shared<CpuLibrary>(std::make_shared<const msl::TranslatedSource>(source), build);
  }

  std::unique_ptr<backend::QueueImpl> newQueue() override { return std::make_unique<CpuQueue>(pool_); }

 private:
  // A mutex, not std::call_once: the constructor throws when there is no compiler, and an
  // exception leaving std::call_once aborted the process (libstdc++ runs it in pthread_once).
  Toolchain& toolchain() {
    std::lock_guard<std::mutex> lock(toolchain_mutex_);
    if (!toolchain_) toolchain_ = std::make_unique<Toolchain>();
    return *toolchain_;
  }

  std::string name_;
  int ordinal_;
  std::shared_ptr<ThreadPool> pool_;
  std::mutex toolchain_mutex_;
  std::unique_ptr<Toolchain> toolchain_;
};

}  // namespace
}  // namespace metallic::cpu

namespace metallic::backend {
// One CPU device, or PYMETALLIC_CPU_DEVICES=N (at most 16) devices cpu:0 ... cpu:N-1 sharing
// the cores' thread pool: several devices on a machine without GPUs, to run and test
// multi-device programs (device checks, copies between devices, shared events) in CI.
std::vector<std::shared_ptr<DeviceImpl>> enumerate_cpu_devices() {
  unsigned n = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("PYMETALLIC_CPU_THREADS"); env && std::atoi(env) > 0) n = std::atoi(env);
  auto pool = std::make_shared<cpu::ThreadPool>(n ? n : 1);
  int count = 1;
  if (const char* env = std::getenv("PYMETALLIC_CPU_DEVICES"); env && std::atoi(env) > 1)
    count = std::min(std::atoi(env), 16);
  std::vector<std::shared_ptr<DeviceImpl>> devices;
  for (int i = 0; i < count; ++i) devices.push_back(std::make_shared<cpu::CpuDevice>(i, pool));
  return devices;
}
}  // namespace metallic::backend
