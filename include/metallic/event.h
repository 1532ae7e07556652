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

class SharedEvent {
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

 private:
  std::shared_ptr<Device> device_;
  std::shared_ptr<uint64_t> word_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace metallic
