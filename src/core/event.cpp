#include "metallic/event.h"

#include <algorithm>
#include <thread>

#include "core/backend.h"
#include "core/commands.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"

namespace metallic {

SharedEvent::SharedEvent(std::shared_ptr<Device> device) : device_(std::move(device)) {
  // One word every device of the process can reach: the first backend that can place it
  // (CUDA: pinned, mapped host memory) does; otherwise ordinary host memory will do.
  for (auto& d : Device::all())
    if ((word_ = d->impl().allocateSharedWord())) break;
  if (!word_) word_ = std::make_shared<uint64_t>(0);
  __atomic_store_n(word_.get(), uint64_t{0}, __ATOMIC_RELEASE);
}

SharedEvent::~SharedEvent() = default;

uint64_t SharedEvent::signaledValue() const { return __atomic_load_n(word_.get(), __ATOMIC_ACQUIRE); }

void SharedEvent::setSignaledValue(uint64_t value) {
  uint64_t seen = __atomic_load_n(word_.get(), __ATOMIC_ACQUIRE);
  while (seen < value &&
         !__atomic_compare_exchange_n(word_.get(), &seen, value, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
  promise(value);
}

void SharedEvent::promise(uint64_t value) {
  uint64_t seen = promised_.load(std::memory_order_acquire);
  while (seen < value && !promised_.compare_exchange_weak(seen, value, std::memory_order_acq_rel)) {}
  { std::lock_guard<std::mutex> lock(mutex_); }  // a waiter between its check and its wait sees the change
  changed_.notify_all();
}

bool SharedEvent::waitPromised(uint64_t value, const std::atomic<bool>* cancel) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (promised() >= value || signaledValue() >= value) return true;
    if (cancel && cancel->load(std::memory_order_acquire)) return false;
    // Every way a value is promised notifies; the timeout only bounds how late a cancel is seen.
    changed_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

bool SharedEvent::waitFor(uint64_t value, std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>* cancel) {
  using namespace std::chrono;
  // Most waits end soon: spin a little, then sleep on the condition variable in growing
  // steps (signals from the host or a CPU queue notify it; a GPU's writes are polled).
  auto spin_until = steady_clock::now() + microseconds(50);
  while (steady_clock::now() < spin_until) {
    if (signaledValue() >= value) return true;
    std::this_thread::yield();
  }
  auto step = microseconds(20);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (signaledValue() >= value) return true;
    if (cancel && cancel->load(std::memory_order_acquire)) return false;
    auto now = steady_clock::now();
    if (now >= deadline) return false;
    changed_.wait_until(lock, std::min(deadline, now + step));
    step = std::min<microseconds>(step * 2, milliseconds(1));
  }
}

bool SharedEvent::waitUntilSignaledValue(uint64_t value, uint64_t timeout_ms) {
  using namespace std::chrono;
  // A timeout past a few centuries is "forever" (and must not overflow the clock).
  const uint64_t cap = uint64_t(1) << 40;
  auto deadline = steady_clock::now() + milliseconds(std::min(timeout_ms, cap));
  return waitFor(value, deadline);
}

// ---------------------------------------------------------------- encoding

std::shared_ptr<SharedEvent> Device::newSharedEvent() { return std::make_shared<SharedEvent>(shared_from_this()); }

namespace {
void check_event_encodable(CommandBuffer& buffer, const std::shared_ptr<SharedEvent>& event, bool encoder_open,
                           CommandBufferStatus status, const char* what) {
  (void)buffer;
  if (!event) throw ValidationError(std::string(what) + " needs a shared event, not None");
  if (status != CommandBufferStatus::NotEnqueued)
    throw ValidationError(std::string(what) + " on a command buffer that was already committed");
  if (encoder_open)
    throw ValidationError(std::string(what) +
                          " while an encoder is open: call end_encoding() on it first "
                          "(Metal encodes events between encoders)");
}
}  // namespace

void CommandBuffer::encodeSignalEvent(const std::shared_ptr<SharedEvent>& event, uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_event_encodable(*this, event, encoder_open_, status_, "encode_signal_event");
  commands_->commands.emplace_back(SignalEventCommand{event, value});
}

void CommandBuffer::encodeWaitForEvent(const std::shared_ptr<SharedEvent>& event, uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_event_encodable(*this, event, encoder_open_, status_, "encode_wait_for_event");
  commands_->commands.emplace_back(WaitEventCommand{event, value});
}

}  // namespace metallic
