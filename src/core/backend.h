// The narrow interface every backend implements. `core` talks to backends only through
// these classes; a backend never includes another backend.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metallic/error.h"
#include "metallic/types.h"
#include "msl/translation.h"

#include <mutex>
#include <utility>

namespace metallic {
class CommandBuffer;
class CommandQueue;
}  // namespace metallic

namespace metallic::backend {

class BufferImpl {
 public:
  virtual ~BufferImpl() = default;
  // Host view of the contents, up to date with completed device work. The caller may write
  // through it before the next commit.
  virtual void* contents() = 0;
  virtual void didModifyRange(uint64_t start, uint64_t length) { (void)start, (void)length; }
  // A long-lived host view (a NumPy array) of the contents opened or closed. While one is
  // open, a backend with separate device memory keeps the host copy current after each
  // command buffer that writes the buffer, as unified memory would be.
  virtual void viewOpened() {}
  virtual void viewClosed() {}
  // The address kernels see for this buffer (Metal's gpuAddress), for argument buffers.
  virtual uint64_t gpuAddress() = 0;
  // Uses by committed command buffers that have not finished (kept by the core).
  std::atomic<uint32_t> in_flight{0};

  // Interop (DLPack, CUDA array interface). Streams are CUstream values (1 the legacy
  // default stream, 2 per-thread, -1 none); CPU backends see 0.
  // Before another library reads or writes the memory on `stream`: host writes are moved to
  // the device (ordered before the consumer's work), and host copies count as stale.
  virtual void exportTo(uintptr_t stream) { (void)stream; }
  // Foreign memory: device work queued from now on waits for the work queued on `stream`
  // so far (the producer's pending writes).
  virtual void readyAfter(uintptr_t stream) { (void)stream; }

  // The queue and command buffer that last used the buffer (set at commit), so that an
  // export can order the consumer after them.
  void usedBy(const std::shared_ptr<CommandBuffer>& buffer, const std::shared_ptr<CommandQueue>& queue) {
    std::lock_guard<std::mutex> lock(use_mutex_);
    last_buffer_ = buffer;
    // Usually the same queue as last time: then no reference count changes.
    if (last_queue_.owner_before(queue) || queue.owner_before(last_queue_)) last_queue_ = queue;
  }
  std::pair<std::shared_ptr<CommandBuffer>, std::shared_ptr<CommandQueue>> lastUse() {
    std::lock_guard<std::mutex> lock(use_mutex_);
    return {last_buffer_.lock(), last_queue_.lock()};
  }

 private:
  std::mutex use_mutex_;
  std::weak_ptr<CommandBuffer> last_buffer_;
  std::weak_ptr<CommandQueue> last_queue_;
};

// Blocks until no committed command buffer uses `buffer` any more, or `timeout_seconds`
// (negative: none) passed; returns whether it is idle. (src/core/command.cpp)
bool wait_until_idle(BufferImpl& buffer, double timeout_seconds);

// One compiled entry point of a library.
class KernelImpl {
 public:
  virtual ~KernelImpl() = default;
  // The most threads a threadgroup of this kernel may have on this device.
  virtual uint32_t maxTotalThreadsPerThreadgroup() const = 0;
  virtual uint32_t staticThreadgroupMemoryLength() const { return 0; }
  // The bytes a `T&` buffer argument (by position in KernelInfo::args) reads: sizeof(T);
  // 0 when unknown or not a reference.
  virtual uint64_t referenceArgumentSize(size_t argument) const {
    (void)argument;
    return 0;
  }
  // Called when a dispatch_threadgroups_with_indirect_buffer is encoded, before it is
  // recorded: a backend that builds what such dispatches need on first use does it here
  // (CUDA compiles the kernel's indirect entry), so that errors reach the encoder and
  // commit stays quick. Throws ValidationError if the threadgroup does not fit.
  virtual void prepareIndirectDispatch(Size3 threads_per_threadgroup) { (void)threads_per_threadgroup; }
};

// A compiled translation unit (one specialisation of a Library).
class LibraryImpl {
 public:
  virtual ~LibraryImpl() = default;
  // Raises metallic::Error naming the missing feature if this backend cannot run it.
  virtual std::shared_ptr<KernelImpl> kernel(const msl::KernelInfo& info) = 0;
};

// Runs committed command buffers in order.
class QueueImpl {
 public:
  virtual ~QueueImpl() = default;
  virtual void submit(std::shared_ptr<CommandBuffer> buffer) = 0;
  // Backends that learn of completion only when asked (CUDA events) finish the buffer here:
  // wait() blocks until it is done, poll() checks without blocking.
  virtual void wait(CommandBuffer& buffer) { (void)buffer; }
  virtual void poll(CommandBuffer& buffer) { (void)buffer; }
  // wait() with a time limit: false when `deadline` passed before the buffer finished.
  // Backends that finish buffers on a thread of their own (the CPU) need not override it:
  // the core then waits on the command buffer itself, with the same limit.
  virtual bool wait_until(CommandBuffer& buffer, std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    wait(buffer);
    return true;
  }
  // Work queued later on `stream` (a CUstream) waits for everything submitted here so far.
  virtual void streamWait(uintptr_t stream) { (void)stream; }
};

class DeviceImpl {
 public:
  virtual ~DeviceImpl() = default;
  virtual std::string name() const = 0;
  virtual std::string kind() const = 0;
  virtual int ordinal() const { return 0; }
  virtual DeviceLimits limits() const = 0;
  virtual std::shared_ptr<BufferImpl> allocate(uint64_t length, StorageMode mode) = 0;
  // Throws CompileError with the user's file:line on failure.
  virtual std::shared_ptr<LibraryImpl> compile(const msl::TranslatedSource& source, const CompileOptions& options) = 0;
  virtual std::unique_ptr<QueueImpl> newQueue() = 0;
  // An 8-byte word of host memory that every device of this backend can read and write in
  // place (a SharedEvent's value), or null when ordinary host memory serves (the CPU).
  virtual std::shared_ptr<uint64_t> allocateSharedWord() { return nullptr; }
  // Memory another library allocated (a host pointer on the CPU, a device pointer on a
  // GPU), used in place; `owner` is released when the buffer and every command using it are.
  virtual std::shared_ptr<BufferImpl> wrap(uint64_t address, uint64_t length, std::shared_ptr<void> owner) {
    (void)address, (void)length, (void)owner;
    throw Error("this device cannot use foreign memory in place");
  }
  // A stream of this device for interop hand-offs (CUDA array interface exports); 0 if none.
  virtual uintptr_t interopStream() { return 0; }
};

}  // namespace metallic::backend

#include "metallic/offline.h"

namespace metallic::backend {

// What offline compilation asks of a backend.
struct OfflineRequest {
  std::string arch;  // a backend's own target ("sm_90"); empty: the backend's default
  bool emit_only = false;
  bool indirect_entries = false;  // the entries of dispatch_threadgroups_with_indirect_buffer
};

// One backend, as core and the bindings see it. Each backend fills one of these
// (src/backends/<name>/backend.cpp); core and the bindings only iterate backends().
struct Backend {
  const char* name;  // the offline target name ("cuda", "cpu")
  // The devices of this backend on this machine (none when its driver is absent).
  std::vector<std::shared_ptr<DeviceImpl>> (*enumerate)();
  // Compiles without running; throws CompileError with the user's file:line.
  OfflineResult (*offline_compile)(const msl::TranslatedSource& source, const CompileOptions& options,
                                   const OfflineRequest& request);
  // The tool this backend compiles with, as (label, "description" or "unavailable: why").
  std::pair<std::string, std::string> (*describe_toolchain)();
};

// Every backend, in the order devices are listed (GPUs first): src/backends/registry.cpp.
const std::vector<Backend>& backends();

}  // namespace metallic::backend
