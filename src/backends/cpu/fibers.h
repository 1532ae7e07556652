// Runs the threads of one threadgroup as fibers on the calling OS thread, for kernels with
// barriers. A barrier is a yield: each fiber hands over to the next live one in index order
// (one context switch), so in round k each thread runs from its k-th barrier to its
// (k+1)-th, and no thread passes a barrier before all have reached it (MSL requires barriers
// in uniform control flow; arrivals are also counted, see yield_barrier). Threadgroup
// memory needs no care: all fibers of a group share one OS thread and one arena.
//
// This is the general fallback; it costs a context switch per thread per barrier.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace metallic::cpu {

class FiberGroup {
 public:
  FiberGroup();
  ~FiberGroup();
  FiberGroup(const FiberGroup&) = delete;
  FiberGroup& operator=(const FiberGroup&) = delete;

  // Runs body(t) for t in [0, threads) as fibers until every one has returned.
  void run(uint32_t threads, const std::function<void(uint32_t)>& body);

  // Called from inside a fiber (through the kernel's barrier hooks).
  static void yield_barrier();

  // SIMD-group exchange (the basis of every simd_* and quad_* function on the CPU): the
  // calling thread deposits `bytes` of `value`, yields once, and then receives the values of
  // all 32 lanes of its SIMD group in `lanes` (lane i at i * bytes). Returns the mask of the
  // lanes that took part in this exchange (MSL: results come from the active lanes only);
  // *lane is the caller's lane. Deposits are double-buffered by round, so a lane that runs
  // ahead into the next exchange never overwrites values another lane has yet to read.
  static unsigned simd_exchange(const void* value, void* lanes, unsigned bytes, unsigned* lane);
  // The stack of the running kernel thread: the current fiber's, or this OS thread's when
  // no fiber runs (kernels without barriers). Used by run-time address-space checks.
  static void stack_bounds(const char** low, const char** high);
  // Lets every other fiber run once (one scheduling round).
  static void yield_round();
  static constexpr unsigned kMaxExchangeBytes = 256;

  // This OS thread's group (one per worker, reused for every threadgroup it runs).
  static FiberGroup& for_this_thread();

 private:
  struct Fiber;
  static void trampoline();
  static constexpr uint32_t kNone = ~0u;
  uint32_t next_live(uint32_t from) const;  // the next fiber after `from` not yet returned
  void switch_from(uint32_t me, uint32_t next);
  std::vector<Fiber*> fibers_;
  void* scheduler_sp_ = nullptr;
  uint32_t current_ = 0;
  uint32_t threads_ = 0;
  uint64_t round_ = 0;  // completed passes over all fibers
  uint32_t live_ = 0;   // fibers not yet returned
  uint32_t barrier_arrived_ = 0;
  uint64_t barrier_generation_ = 0;
  struct Exchange {
    uint64_t stamp[2] = {~0ull, ~0ull};  // round each buffer was last used in
    unsigned mask[2] = {0, 0};
    std::vector<unsigned char> data[2];  // 32 lanes x kMaxExchangeBytes
  };
  std::vector<Exchange> exchanges_;  // one per SIMD group
  const std::function<void(uint32_t)>* body_ = nullptr;
};

}  // namespace metallic::cpu
