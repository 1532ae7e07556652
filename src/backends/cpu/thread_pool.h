// A fixed pool of worker threads (one per core) that runs parallel loops. The calling
// thread takes part, so a pool of N runs N-way on N cores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace metallic::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Calls body(begin, end) over [0, count) in chunks of `grain`, on every thread, and
  // returns when all are done. One loop at a time uses the workers; a loop that starts while
  // another runs (another queue's) runs on its caller alone.
  void parallel_for(uint64_t count, uint64_t grain, const std::function<void(uint64_t, uint64_t)>& body);

 private:
  void worker_loop();
  // Dispatches come in quick succession (a simulation waits for one, then commits the
  // next): a thread that just finished spins this long for the next one before sleeping,
  // saving a kernel wake-up (tens of microseconds on a virtual machine) per dispatch.
  static constexpr int kSpinMicroseconds = 100;
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;  // queues share the pool: one loop at a time
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::atomic<uint64_t> generation_{0};  // bumped (under mutex_) for each new loop
  bool stop_ = false;

  // The current loop.
  const std::function<void(uint64_t, uint64_t)>* body_ = nullptr;
  uint64_t count_ = 0, grain_ = 1;
  std::atomic<uint64_t> next_{0};
  std::atomic<unsigned> active_{0};  // workers still in the current loop
};

}  // namespace metallic::cpu
