#include "backends/cpu/thread_pool.h"

#include <chrono>

namespace metallic::cpu {

ThreadPool::ThreadPool(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    uint64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= count_) break;
    uint64_t end = begin + grain_ < count_ ? begin + grain_ : count_;
    (*body_)(begin, end);
  }
}

namespace {
// Spins until `done()` or the time is up; yields the core on each turn, so a spinning thread
// never holds back one with work to do.
template <class Done> bool spin_for(int microseconds, Done done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}
}  // namespace

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    spin_for(kSpinMicroseconds, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
    }
    run_chunks();
    if (active_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to sleep
      finished_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(uint64_t count, uint64_t grain, const std::function<void(uint64_t, uint64_t)>& body) {
  if (count == 0) return;
  if (grain == 0) grain = 1;
  // Small loops run on the caller alone: waking workers costs more than they save.
  if (workers_.empty() || count <= grain) {
    body(0, count);
    return;
  }
  // Another queue's loop has the workers (or is stuck in an endless kernel): run this one on
  // the caller alone rather than wait, so that one dispatch never holds up every queue.
  std::unique_lock<std::mutex> one_loop(loop_mutex_, std::try_to_lock);
  if (!one_loop.owns_lock()) {
    body(0, count);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    count_ = count;
    grain_ = grain;
    next_.store(0, std::memory_order_relaxed);
    active_.store(static_cast<unsigned>(workers_.size()));
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks();
  if (!spin_for(kSpinMicroseconds, [&] { return active_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return active_.load() == 0; });
  }
  std::lock_guard<std::mutex> lock(mutex_);
  body_ = nullptr;
}

}  // namespace metallic::cpu
