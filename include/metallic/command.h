// Command queues, buffers and encoders. Commands are recorded with a snapshot of their
// bindings, then run in order by the queue's executor after commit().
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "metallic/diagnostics.h"
#include "metallic/types.h"

namespace metallic {

class Device;
class Buffer;
class ComputePipelineState;
class Texture;
struct DispatchCommand;
namespace msl {
struct KernelInfo;
struct KernelArg;
}  // namespace msl
class SamplerState;
class SharedEvent;
class CommandBuffer;
class IndirectCommandBuffer;
struct CommandList;  // src/core/commands.h
namespace backend {
class QueueImpl;
}
namespace diag {
class Collector;
}

class CommandQueue : public std::enable_shared_from_this<CommandQueue> {
 public:
  explicit CommandQueue(std::shared_ptr<Device> device);
  ~CommandQueue();

  const std::shared_ptr<Device>& device() const { return device_; }
  std::shared_ptr<CommandBuffer> commandBuffer();
  backend::QueueImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Device> device_;
  std::unique_ptr<backend::QueueImpl> impl_;
};

class ComputeCommandEncoder;
class BlitCommandEncoder;

class CommandBuffer : public std::enable_shared_from_this<CommandBuffer> {
 public:
  explicit CommandBuffer(std::shared_ptr<CommandQueue> queue);
  ~CommandBuffer();

  const std::shared_ptr<CommandQueue>& commandQueue() const { return queue_; }
  std::shared_ptr<ComputeCommandEncoder> computeCommandEncoder();
  std::shared_ptr<BlitCommandEncoder> blitCommandEncoder();
  // Metal's encodeSignalEvent:value: / encodeWaitForEvent:value: (src/core/event.cpp): the
  // event takes `value` once every command before this point has completed; commands after a
  // wait start only once the event's value is >= `value`. Not while an encoder is open.
  void encodeSignalEvent(const std::shared_ptr<SharedEvent>& event, uint64_t value);
  void encodeWaitForEvent(const std::shared_ptr<SharedEvent>& event, uint64_t value);

  // Hands the recorded commands to the queue's executor; returns at once.
  void commit();
  // Blocks until the executor has finished (or failed) this command buffer, and its
  // completed handlers have run (unless called from a handler: they run one at a time on
  // a thread of their own, as Metal runs them off the queue's thread).
  void waitUntilCompleted();
  // The same with a time limit in seconds: false when the limit passed first.
  bool waitUntilCompleted(double timeout_seconds);
  void addCompletedHandler(std::function<void(CommandBuffer&)> handler);

  CommandBufferStatus status() const;
  // Whether commit() was called (status() is no longer NotEnqueued), without a lock or a
  // device query: encoders check it on every call.
  bool committed() const { return status_.load(std::memory_order_acquire) != CommandBufferStatus::NotEnqueued; }
  std::string error() const;    // empty unless status() == Error
  double gpuStartTime() const;  // seconds (steady clock); 0 until completed
  double gpuEndTime() const;

  // --- used by encoders and executors ---
  CommandList& commands() { return *commands_; }
  void markEncoderOpen(bool open);
  // Called by the executor when it starts/finishes this buffer.
  // Returns whether the buffer has completed handlers (hasCompletedHandlers(), read under
  // the same lock: none can be added after commit).
  bool executorStarted(double time);
  // `device_lost`: the failure left the device unusable (a GPU fault CUDA cannot recover
  // from, a kernel past PYMETALLIC_KERNEL_TIMEOUT, work refused by such a device):
  // waitUntilCompleted then raises DeviceError rather than Error.
  void executorFinished(double time, const std::string& error, bool device_lost = false);
  bool finished() const;
  bool hasCompletedHandlers() const;
  // Whatever the backend keeps per committed buffer (events, staging memory).
  std::shared_ptr<void> backend_state;

  // Validation findings and kernel log messages (issue 12). Executors feed diagnostics()
  // before executorFinished(); a finding makes the buffer complete with an error.
  diag::Collector& diagnostics();
  std::vector<KernelFinding> findings() const;
  uint64_t findingsTotal() const;
  std::vector<KernelLogMessage> logMessages() const;
  uint64_t logMessagesDropped() const;
  // Called with each message after completion, instead of the default sink.
  void addLogHandler(std::function<void(const KernelLogMessage&)> handler);
  // Where messages go when a buffer has no handler (the Python module: logging).
  static void setDefaultLogSink(std::function<void(const KernelLogMessage&)> sink);

  // Process-wide: waits until every command buffer committed before the call has finished
  // and its handlers have run (work committed meanwhile, by handlers or other threads, is not
  // waited for: a handler that needs it waits for it itself). Gives up when none finished for
  // `stall_seconds` (a runaway kernel, a wait for an event nobody signals) or after
  // `limit_seconds`; returns whether none is left. The Python module calls it at exit, before
  // the interpreter stops C++ threads from entering Python (python/src/python_gate.h).
  static bool waitAllFinished(double stall_seconds, double limit_seconds);

 protected:
  // For CommandQueue::commandBuffer, which allocates the command list together with the
  // buffer (one allocation less per command buffer): `commands` belongs to the caller.
  CommandBuffer(std::shared_ptr<CommandQueue> queue, CommandList* commands);

 private:
  std::shared_ptr<CommandQueue> queue_;
  std::unique_ptr<CommandList> own_commands_;  // when constructed with the public constructor
  CommandList* commands_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  // Changed under mutex_ only; atomic so that committed() and status() may read it without.
  std::atomic<CommandBufferStatus> status_{CommandBufferStatus::NotEnqueued};
  std::string error_;
  bool device_lost_ = false;
  double start_time_ = 0, end_time_ = 0;
  std::atomic<bool> encoder_open_{false};  // set by encoders without the lock (one thread encodes)
  bool handlers_done_ = true;              // false from the end of the work until its handlers returned
  bool finishing_ = false;                 // executorFinished is releasing the work's objects
  uint64_t ticket_ = 0;                    // from commit() until finished: its place among the unfinished
  void finished_counting();
  static void release_ticket(uint64_t ticket);  // finished_counting's second half (0: none)
  std::vector<std::function<void(CommandBuffer&)>> handlers_;
  std::shared_ptr<diag::Collector> diagnostics_;
  bool logs_delivered_ = false;
  bool finished_unlocked() const;
  void deliver_logs();
  std::vector<std::function<void(const KernelLogMessage&)>> log_handlers_;
};

class ComputeCommandEncoder {
 public:
  // Raises ValidationError when `buffer` was already committed.
  explicit ComputeCommandEncoder(std::shared_ptr<CommandBuffer> buffer);

  void setComputePipelineState(std::shared_ptr<ComputePipelineState> pipeline);
  void setBuffer(std::shared_ptr<Buffer> buffer, uint64_t offset, uint32_t index);
  void setBufferOffset(uint64_t offset, uint32_t index);
  // A buffer the following dispatches reach only through addresses stored elsewhere (an
  // argument buffer): Metal's useResource. usage: 1 read, 2 write, 3 both.
  void useResource(const std::shared_ptr<Buffer>& buffer, uint32_t usage);
  // Copies up to 4 KB of inline data (small structs and scalars for `constant T&`).
  void setBytes(const void* data, uint64_t length, uint32_t index);
  void setThreadgroupMemoryLength(uint64_t length, uint32_t index);
  void setTexture(const std::shared_ptr<Texture>& texture, uint32_t index);            // 0..127
  void setSamplerState(const std::shared_ptr<SamplerState>& sampler, uint32_t index);  // 0..15
  // Exactly the grid: edge threadgroups are smaller and report their real size.
  void dispatchThreads(Size3 threads_per_grid, Size3 threads_per_threadgroup);
  void dispatchThreadgroups(Size3 threadgroups_per_grid, Size3 threads_per_threadgroup);
  // The threadgroup counts are three uints in `indirect` at `offset`, read when the command
  // runs (a kernel earlier in the queue may write them). CPU devices only, so far.
  void dispatchThreadgroupsWithIndirectBuffer(const std::shared_ptr<Buffer>& indirect, uint64_t offset,
                                              Size3 threads_per_threadgroup);
  // Metal's executeCommandsInBuffer:withRange: (include/metallic/indirect.h): the non-empty
  // commands of [location, location + length) run here in order, each checked as the same
  // dispatch encoded directly would be. Without inheritance, an unchanged ICB's range is
  // checked once and shared by every execution.
  void executeCommandsInBuffer(const std::shared_ptr<IndirectCommandBuffer>& icb, uint64_t location, uint64_t length);
  void endEncoding();

  const std::shared_ptr<CommandBuffer>& commandBuffer() const { return buffer_; }

 private:
  void ensureOpen(const char* what) const;
  // Records the ICB commands as dispatches at the end of the command list (through dispatch(),
  // with the encoder's state swapped for each command's); `location` numbers them in errors.
  void record_indirect(const IndirectCommandBuffer& icb, uint64_t location, uint64_t length,
                       uint64_t* version = nullptr);
  void dispatch(Size3 grid_threads, Size3 groups, Size3 tg, bool exact,
                const std::shared_ptr<Buffer>& indirect = nullptr, uint64_t indirect_offset = 0);
  void check_dispatch_size(const char* what, Size3 grid, Size3 tg, bool exact) const;
  void check_threadgroup_count(const char* what, Size3 groups) const;
  // The bindings of one reflected argument, checked and recorded into the dispatch.
  void bind_buffer(const msl::KernelInfo& info, const msl::KernelArg& arg, CommandList& list, DispatchCommand& cmd);
  void bind_texture(const msl::KernelInfo& info, const msl::KernelArg& arg, DispatchCommand& cmd);
  void bind_sampler(const msl::KernelInfo& info, const msl::KernelArg& arg, DispatchCommand& cmd);

  struct Binding {
    std::shared_ptr<Buffer> buffer;
    uint64_t offset = 0;
    bool bound = false;
    // set_bytes data when buffer is null: up to 16 bytes (a scalar, a small struct) inline,
    // without an allocation per encoder; more in `large`.
    void set_bytes(const void* data, size_t length) {
      bytes_length = length;
      if (length <= sizeof small) {
        std::memcpy(small, data, length);
        large.clear();
      } else {
        large.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + length);
      }
    }
    void clear_bytes() { bytes_length = 0, large.clear(); }
    const uint8_t* bytes_data() const { return bytes_length <= sizeof small ? small : large.data(); }
    size_t bytes_size() const { return bytes_length; }

   private:
    uint8_t small[16] = {};
    size_t bytes_length = 0;
    std::vector<uint8_t> large;
  };
  // The [[buffer(n)]] slots 0 to size() - 1, kept inside the encoder (Metal has 31), each
  // constructed when a slot up to it is first set: an encoder is made for every dispatch in the
  // original API's pattern and most kernels use a few slots, so neither an allocation nor 31
  // constructions and destructions per encoder.
  class Bindings {
   public:
    static constexpr size_t kSlots = 31;
    Bindings() = default;
    Bindings(const Bindings& other) { copy_from(other); }
    Bindings(Bindings&& other) noexcept { move_from(other); }
    Bindings& operator=(const Bindings& other) {
      if (this != &other) clear(), copy_from(other);
      return *this;
    }
    Bindings& operator=(Bindings&& other) noexcept {
      if (this != &other) clear(), move_from(other);
      return *this;
    }
    ~Bindings() { clear(); }
    size_t size() const { return size_; }
    Binding& operator[](size_t i) { return slots()[i]; }
    const Binding& operator[](size_t i) const { return slots()[i]; }
    // Slots up to `n` - 1 exist afterwards (n <= kSlots: indices are checked before).
    void grow(size_t n) {
      while (size_ < n) new (slots() + size_) Binding(), ++size_;
    }
    void assign(size_t n, const Binding& value) {
      clear();
      while (size_ < n) new (slots() + size_) Binding(value), ++size_;
    }
    void clear() {
      while (size_ > 0) slots()[--size_].~Binding();
    }

   private:
    Binding* slots() { return reinterpret_cast<Binding*>(storage_); }
    const Binding* slots() const { return reinterpret_cast<const Binding*>(storage_); }
    void copy_from(const Bindings& other) {
      while (size_ < other.size_) new (slots() + size_) Binding(other[size_]), ++size_;
    }
    void move_from(Bindings& other) {  // leaves `other` empty, as a moved-from vector
      while (size_ < other.size_) new (slots() + size_) Binding(std::move(other[size_])), ++size_;
      other.clear();
    }
    alignas(Binding) unsigned char storage_[kSlots * sizeof(Binding)];
    size_t size_ = 0;
  };
  std::shared_ptr<CommandBuffer> buffer_;
  std::shared_ptr<ComputePipelineState> pipeline_;
  Bindings bindings_;
  Binding& binding(uint32_t index) {
    if (bindings_.size() <= index) bindings_.grow(index + 1);
    return bindings_[index];
  }
  std::array<uint32_t, 31> threadgroup_lengths_{};
  std::vector<std::shared_ptr<Texture>> textures_;                        // grown on demand, up to 128
  std::vector<std::shared_ptr<SamplerState>> samplers_;                   // up to 16
  std::vector<std::pair<std::shared_ptr<Buffer>, bool>> used_resources_;  // (buffer, written)
  bool ended_ = false;
};

class BlitCommandEncoder {
 public:
  explicit BlitCommandEncoder(std::shared_ptr<CommandBuffer> buffer);

  void copyFromBuffer(const std::shared_ptr<Buffer>& source, uint64_t source_offset,
                      const std::shared_ptr<Buffer>& destination, uint64_t destination_offset, uint64_t size);
  void fillBuffer(const std::shared_ptr<Buffer>& buffer, uint64_t start, uint64_t length, uint8_t value);
  // Managed buffers: make the device's writes visible to the CPU.
  void synchronizeResource(const std::shared_ptr<Buffer>& buffer);
  void endEncoding();

 private:
  void ensureOpen(const char* what) const;
  std::shared_ptr<CommandBuffer> buffer_;
  bool ended_ = false;
};

}  // namespace metallic
