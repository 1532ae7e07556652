// Holding back command buffers that wait for shared-event values nobody has promised yet.
//
// Metal's encodeWaitForEvent makes a queue wait on the GPU, and nothing else in the process
// notices. A CUDA stream that waits for a value in place (cuStreamWaitValue64) is different:
// loading a module (creating a pipeline), freeing memory and other driver calls synchronise
// with every stream of the context, so a stream blocked on a value that only the host or a
// not-yet-committed command buffer will signal deadlocks the next such call. A queue with an
// in-place wait therefore hands a command buffer to its device only once every value it waits
// for is *promised* (SharedEvent::promise): until then the buffer, and every later one of the
// same queue (a queue keeps its order), waits here, on a thread of the queue's own.
#pragma once

#include <functional>
#include <memory>

namespace metallic {

class CommandBuffer;

class DeferredSubmitter {
 public:
  using Submit = std::function<void(std::shared_ptr<CommandBuffer>)>;
  // `submit` hands a buffer to the device; it is called on the committing thread when nothing
  // is held back, else on the submitter's thread, never for two buffers at once.
  explicit DeferredSubmitter(Submit submit);
  // Stops the thread. Buffers still held back (their values never promised) finish with an
  // error, and the events they would signal are signalled, so that no waiter hangs.
  ~DeferredSubmitter();
  DeferredSubmitter(const DeferredSubmitter&) = delete;
  DeferredSubmitter& operator=(const DeferredSubmitter&) = delete;

  // Submits `buffer` now, or holds it back until its waits are promised and every buffer
  // held back before it was submitted.
  void submit(std::shared_ptr<CommandBuffer> buffer);
  // Blocks until `buffer` has been handed to the device (at once when it was never held back).
  void waitSubmitted(const CommandBuffer& buffer);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace metallic
