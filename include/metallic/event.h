// SharedEvent: Metal's MTLSharedEvent. A 64-bit counter that command buffers on any queue of
// any device signal (encodeSignalEvent) and wait for (encodeWaitForEvent), and that the host
// reads, raises and waits for. It is how one queue waits for another without the host
// waiting: a CUDA stream waits for the value in place (stream memory operations), a CPU queue's
// worker thread blocks on it (never the shared thread pool).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace metallic {

class Device;

class SharedEvent : public std::enable_shared_from_this<SharedEvent> {  // (see Buffer)
 public:
  explicit SharedEvent(std::shared_ptr<Device> device);
  ~SharedEvent();

  const std::shared_ptr<Device>& device() const { return device_; }

  // The value last signalled. Setting it from the host signals the event, and (as on Metal)
  // only ever raises it: a smaller value is ignored.
  uint64_t signaledValue() const;
  void setSignaledValue(uint64_t value);
  // Metal's waitUntilSignaledValue:timeoutMS: true once the value is >= `value`, false when
  // `timeout_ms` milliseconds pass first.
  bool waitUntilSignaledValue(uint64_t value, uint64_t timeout_ms);

  // --- used by executors ---
  // Blocks until the value is >= `value`, `cancel` becomes true (returns false), or the
  // deadline passes (returns false). Signals from the host and CPU queues wake it at once;
  // device writes are seen by polling (a few microseconds at first, at most a millisecond).
  bool waitFor(uint64_t value, std::chrono::steady_clock::time_point deadline,
               const std::atomic<bool>* cancel = nullptr);
  // The word itself: host memory every device can read and write (pinned and mapped into
  // every CUDA context when a CUDA driver is present).
  uint64_t* word() const { return word_.get(); }

  // --- promises: what work already handed to a device will signal ---
  // A GPU stream that waits for a value in place blocks the whole stream until the value
  // arrives, and CUDA's module loading and some allocations synchronise with every stream of
  // the context: a stream waiting for a value the host signals later would deadlock the next
  // pipeline creation. So a GPU queue hands a wait to its stream only once the value is
  // *promised*: signalled already, set by the host, or to be written by work already
  // enqueued on a device (which runs without the host). Queues call promise() when they
  // enqueue a signal; setSignaledValue() promises too.
  void promise(uint64_t value);
  uint64_t promised() const { return promised_.load(std::memory_order_acquire); }
  // Blocks until `value` is promised (true) or `cancel` becomes true (false).
  bool waitPromised(uint64_t value, const std::atomic<bool>* cancel = nullptr);

 private:
  std::shared_ptr<Device> device_;
  std::shared_ptr<uint64_t> word_;
  std::atomic<uint64_t> promised_{0};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace metallic
