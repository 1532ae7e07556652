// The CPU device: host memory, the system C++ compiler, and a thread pool.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/executor.h"
#include "backends/cpu/isolation.h"
#include "backends/cpu/thread_pool.h"
#include "backends/cpu/toolchain.h"
#include "core/backend.h"
#include "metallic/error.h"

namespace metallic::cpu {

namespace {

// Kernel buffers live in one region of address space reserved for them, away from Python's
// heap and every other allocation of the process, each with an unmapped guard region of
// kGuard bytes on both sides (shared with its neighbours). A kernel's out-of-bounds access,
// strided or not, in either direction, lands in a guard (a fault the fault guard turns into
// a MetalError) or in another kernel buffer, never in the interpreter's memory.
class BufferArena {
 public:
  static constexpr size_t kGuard = size_t(64) << 20;

  static BufferArena& get() {
    static BufferArena* arena = new BufferArena(false);  // never unmapped: buffers may outlive statics
    return *arena;
  }
  // The arena of buffers an isolated worker process shares (isolation.h): the same layout,
  // backed by one memfd the worker maps at the same addresses.
  static BufferArena& shared() {
    static BufferArena* arena = new BufferArena(true);
    return *arena;
  }
  int fd() const { return fd_; }
  unsigned char* base() const { return base_; }
  size_t size() const { return size_; }

  // The pages of the live allocation that holds p.
  bool allocation_of(const void* p, uintptr_t* begin, size_t* length) {
    if (!owns(static_cast<const unsigned char*>(p))) return false;
    size_t offset = static_cast<size_t>(static_cast<const unsigned char*>(p) - base_);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.upper_bound(offset);
    if (it == live_.begin()) return false;
    --it;
    if (offset >= it->first + it->second) return false;
    *begin = reinterpret_cast<uintptr_t>(base_ + it->first);
    *length = it->second;
    return true;
  }

  // `bytes` (a multiple of the page size) of zeroed, writable memory followed by a guard;
  // nullptr when the arena has no room (the caller maps the buffer on its own).
  unsigned char* allocate(size_t bytes) {
    if (!base_) return nullptr;
    size_t need = bytes + kGuard;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {  // first fit
      if (it->second < need) continue;
      size_t offset = it->first, length = it->second;
      free_.erase(it);
      if (length > need) free_[offset + need] = length - need;
      unsigned char* p = base_ + offset;
      void* m = fd_ < 0 ? ::mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                        : ::mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, offset);
      if (m == MAP_FAILED) {
        release_locked(offset, need);
        return nullptr;
      }
      if (fd_ >= 0) live_[offset] = bytes;
      return p;
    }
    return nullptr;
  }

  bool owns(const unsigned char* p) const { return base_ && p >= base_ && p < base_ + size_; }

  void release(unsigned char* p, size_t bytes) {
    // Back to inaccessible, without memory behind it.
    size_t offset = static_cast<size_t>(p - base_);
    if (fd_ < 0) {
      ::mmap(p, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    } else {
      ::mmap(p, bytes, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd_, offset);
      // Zero again (and free) every page a worker may have written, guards included.
      ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes + kGuard);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(offset);
    release_locked(offset, bytes + kGuard);
  }

 private:
  explicit BufferArena(bool shared) {
    if (shared) {
      // One sparse memfd: pages exist only where buffers were written.
      fd_ = ::memfd_create("pymetallic-buffers", MFD_CLOEXEC);
      if (fd_ < 0) return;
    }
    // As much address space as the system grants (nothing is committed until used).
    for (size_t size = size_t(1) << (shared ? 38 : 40); size >= (size_t(16) << 30); size /= 2) {
      if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(size)) != 0) continue;
      void* p = fd_ < 0 ? ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                        : map_shared_region(size);
      if (p != MAP_FAILED) {
        base_ = static_cast<unsigned char*>(p);
        size_ = size;
        break;
      }
    }
    if (base_) free_[kGuard] = size_ - kGuard;  // the first guard stays in front of everything
  }

  // The worker maps the region at the same address, so it goes where a fresh process has
  // nothing: far below the top-down area where the kernel places libraries, stacks and
  // mappings (x86-64 and AArch64 user space is at least 47 and 48 bits).
  void* map_shared_region(size_t size) {
    for (uintptr_t hint : {uintptr_t(0x100000000000), uintptr_t(0x200000000000), uintptr_t(0x300000000000)}) {
      void* p = ::mmap(reinterpret_cast<void*>(hint), size, PROT_NONE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                       fd_, 0);
      if (p == reinterpret_cast<void*>(hint)) return p;
      if (p != MAP_FAILED) ::munmap(p, size);  // a kernel without MAP_FIXED_NOREPLACE took it as a hint
    }
    return MAP_FAILED;
  }

  void release_locked(size_t offset, size_t length) {
    auto next = free_.lower_bound(offset);
    if (next != free_.end() && offset + length == next->first) {  // merge with the free space after
      length += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == offset) {  // and before
        prev->second += length;
        return;
      }
    }
    free_[offset] = length;
  }

  unsigned char* base_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // the memfd behind a shared arena
  std::mutex mutex_;
  std::map<size_t, size_t> free_;  // offset -> length of free (unmapped) space
  std::map<size_t, size_t> live_;  // shared arena: offset -> bytes of each live buffer
};

// Host memory, zeroed (as new Metal buffers are), ending exactly where a guard begins
// whenever its alignment allows: the start is aligned to the largest power of two up to 16
// that divides the length, which every element type whose size divides the length needs
// (a float buffer of 4n+1 floats ends at the guard, not 12 bytes before it). A read or write
// past either end, by one element or by a stride, faults at once.
class HostBuffer : public backend::BufferImpl {
 public:
  explicit HostBuffer(uint64_t length) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t alignment = std::min<size_t>(16, length & (~length + 1));
    const size_t used = (length + alignment - 1) / alignment * alignment;
    const size_t pages = (used + page - 1) / page;
    const size_t bytes = pages * page;
    shared_ = shared_buffers_enabled();
    base_ = (shared_ ? BufferArena::shared() : BufferArena::get()).allocate(bytes);
    if (!base_ && shared_)
      throw Error("out of shared memory for the isolated worker: a buffer of " + std::to_string(length) +
                  " bytes does not fit");
    if (base_) {
      mapped_ = bytes;
    } else {
      // No arena (or no room in it): a mapping of its own, with a guard page on each side.
      mapped_ = bytes + 2 * page;
      void* base = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED)
        throw Error("out of memory: cannot allocate a buffer of " + std::to_string(length) + " bytes");
      own_mapping_ = true;
      ::mprotect(base, page, PROT_NONE);
      ::mprotect(static_cast<unsigned char*>(base) + page + bytes, page, PROT_NONE);
      base_ = static_cast<unsigned char*>(base);
      data_ = base_ + page + bytes - used;
      return;
    }
    data_ = base_ + bytes - used;
  }
  ~HostBuffer() override {
    if (own_mapping_)
      ::munmap(base_, mapped_);
    else
      (shared_ ? BufferArena::shared() : BufferArena::get()).release(base_, mapped_);
  }
  void* contents() override { return data_; }
  uint64_t gpuAddress() override { return reinterpret_cast<uintptr_t>(data_); }

 private:
  unsigned char* base_ = nullptr;
  size_t mapped_ = 0;
  bool own_mapping_ = false;
  bool shared_ = false;  // in the arena an isolated worker shares
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
  CpuDevice(int ordinal, std::shared_ptr<ThreadPool> pool)
      : name_(cpu_name()), ordinal_(ordinal), pool_(std::move(pool)) {}

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
    if (options.isolate) {
      // Kernels the worker runs report nothing back yet: validation findings and os_log
      // records live in the caller's memory.
      if (source.validation)
        throw Error(
            "options['isolate'] with validation is not available yet: the isolated worker cannot report "
            "validation findings (run without one of them)");
      if (source.uses_logging)
        throw Error(
            "options['isolate'] with os_log/printf in kernels is not available yet: the isolated worker "
            "cannot return log records");
      if (!enable_shared_buffers())
        throw Error("options['isolate']: no shared memory for a worker process (memfd_create failed)");
    }
    std::string tu = generate_translation_unit(source);
    auto build = [this, name = options.filename, fast = options.fast_math(),
                  debug = options.debug](const std::string& unit) {
      std::string path = toolchain().build(unit, name, fast, debug);
      try {
        return std::make_shared<SharedObject>(path);
      } catch (const Error&) {
        // A damaged cache entry: remove it and build again.
        std::remove(path.c_str());
        return std::make_shared<SharedObject>(toolchain().build(unit, name, fast, debug));
      }
    };
    std::shared_ptr<CpuLibrary> library;
    if (instantiations(source) <= kCompileWholeUpTo) {
      library = std::make_shared<CpuLibrary>(build(tu), source);
    } else {
      toolchain().check(tu, options.filename, options.fast_math());
      library = std::make_shared<CpuLibrary>(std::make_shared<const msl::TranslatedSource>(source), build);
    }
    library->isolate = options.isolate;
    return library;
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

namespace {
std::atomic<bool> g_shared_buffers{false};
}

bool enable_shared_buffers() {
  if (!BufferArena::shared().base()) return false;
  g_shared_buffers.store(true);
  return true;
}
bool shared_buffers_enabled() { return g_shared_buffers.load(std::memory_order_relaxed); }
SharedRegion shared_region() {
  BufferArena& a = BufferArena::shared();
  return {a.base(), a.size(), a.fd()};
}
bool shared_allocation(const void* p, uintptr_t* begin, size_t* length) {
  return shared_buffers_enabled() && BufferArena::shared().allocation_of(p, begin, length);
}
unsigned char* allocate_shared(size_t bytes) { return BufferArena::shared().allocate(bytes); }
void release_shared(unsigned char* p, size_t bytes) { BufferArena::shared().release(p, bytes); }

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
