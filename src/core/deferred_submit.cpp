#include "core/deferred_submit.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>

#include "core/commands.h"
#include "metallic/command.h"
#include "metallic/event.h"

namespace metallic {

namespace {

bool waits_promised(CommandBuffer& buffer) {
  for (auto& command : buffer.commands().commands)
    if (auto* w = std::get_if<WaitEventCommand>(&command))
      if (w->event->promised() < w->value && w->event->signaledValue() < w->value) return false;
  return true;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// Shared with the thread, which may outlive the submitter: the last reference to a queue can
// be dropped on that thread, when it releases the buffer it has just submitted.
struct DeferredSubmitter::State {
  Submit submit;
  std::mutex mutex;
  std::condition_variable changed;
  // Held back, oldest first; the front stays here while it is being submitted, so that a
  // commit from another thread meanwhile is held back behind it and order is kept.
  std::deque<std::shared_ptr<CommandBuffer>> held;
  std::atomic<bool> stop{false};
  std::thread thread;

  void loop() {
    for (;;) {
      std::shared_ptr<CommandBuffer> head;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop.load() || !held.empty(); });
        if (stop.load()) break;
        head = held.front();
      }
      bool ready = true;
      for (auto& command : head->commands().commands)
        if (auto* w = std::get_if<WaitEventCommand>(&command))
          if (!w->event->waitPromised(w->value, &stop)) ready = false;
      if (!ready) break;  // stopping
      submit(head);
      {
        std::lock_guard<std::mutex> lock(mutex);
        held.pop_front();
      }
      changed.notify_all();
      head.reset();  // may release the queue, and with it the submitter: touch nothing after
    }
    // Stopped with buffers still held back: they can never run.
    std::deque<std::shared_ptr<CommandBuffer>> left;
    {
      std::lock_guard<std::mutex> lock(mutex);
      left.swap(held);
    }
    changed.notify_all();
    for (auto& buffer : left) {
      for (auto& command : buffer->commands().commands)
        if (auto* sig = std::get_if<SignalEventCommand>(&command)) sig->event->setSignaledValue(sig->value);
      buffer->executorFinished(now_seconds(),
                               "its command queue was released while it waited for a shared event value that was "
                               "never signalled");
    }
  }
};

DeferredSubmitter::DeferredSubmitter(Submit submit) : state_(std::make_shared<State>()) {
  state_->submit = std::move(submit);
}

DeferredSubmitter::~DeferredSubmitter() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->changed.notify_all();
  if (!state_->thread.joinable()) return;
  if (state_->thread.get_id() == std::this_thread::get_id())
    state_->thread.detach();
  else
    state_->thread.join();
}

void DeferredSubmitter::submit(std::shared_ptr<CommandBuffer> buffer) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->held.empty() || !waits_promised(*buffer)) {
      state_->held.push_back(std::move(buffer));
      if (!state_->thread.joinable()) {
        auto state = state_;
        state_->thread = std::thread([state] { state->loop(); });
      }
      state_->changed.notify_all();
      return;
    }
  }
  state_->submit(std::move(buffer));
}

void DeferredSubmitter::waitSubmitted(const CommandBuffer& buffer) {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->changed.wait(lock, [&] {
    return std::none_of(state_->held.begin(), state_->held.end(),
                        [&](const std::shared_ptr<CommandBuffer>& b) { return b.get() == &buffer; });
  });
}

}  // namespace metallic
