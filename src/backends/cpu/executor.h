// The CPU queue: a worker thread per command queue runs committed command buffers in
// order; each dispatch spreads its threadgroups over the device's thread pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "core/backend.h"

namespace metallic::cpu {

class ThreadPool;

class CpuQueue : public backend::QueueImpl {
 public:
  explicit CpuQueue(std::shared_ptr<ThreadPool> pool);
  ~CpuQueue() override;
  void submit(std::shared_ptr<CommandBuffer> buffer) override;
  // Spins briefly (yielding the core) before the caller blocks: most waits end within
  // microseconds of being asked, and a kernel wake-up costs tens of them.
  void wait(CommandBuffer& buffer) override;

 private:
  // Shared with the worker thread, which may outlive this object: the last reference to a
  // queue can be dropped by the worker itself when it releases a finished command buffer.
  struct State {
    std::shared_ptr<ThreadPool> pool;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::shared_ptr<CommandBuffer>> pending;
    std::atomic<uint64_t> submitted{0};  // read without the lock while spinning
    bool stop = false;
    double timeout = 0;  // seconds a dispatch may run (PYMETALLIC_KERNEL_TIMEOUT); 0: no limit
  };
  static void loop(std::shared_ptr<State> state);
  static void execute(CommandBuffer& buffer, ThreadPool& pool, double timeout);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace metallic::cpu
