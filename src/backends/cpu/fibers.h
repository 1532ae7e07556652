// Runs the threads of one threadgroup as fibers on the calling OS thread, for kernels with
// barriers or SIMD-group functions. A fiber runs until it blocks, then hands over to the
// next live one in index order (one context switch). It blocks:
// - at a threadgroup barrier, until every live thread of the group has arrived (arrivals
//   are counted; a thread that returned no longer takes part);
// - at a SIMD-group exchange (every simd_*, quad_*, simdgroup_barrier and simdgroup_matrix
//   operation on the CPU), until its SIMD group is *quiescent*: no lane of the group is
//   still running. Then the lanes that wait at the call site with the lowest source
//   position are one exchange: they are the active lanes of that call (lanes that
//   returned, wait at a barrier or at a later call are inactive, as on a GPU where
//   divergent paths run one after the other and reconverge).
// So a SIMD group is whole at every SIMD-group function however its lanes got there
// (barriers, early returns, loops, helper functions), and no result depends on the order
// the fibers happen to run in. Threadgroup memory needs no care: all fibers of a group
// share one OS thread and one arena.
//
// This is the general fallback; it costs a context switch per thread per barrier.
#pragma once

#include <cstddef>
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
  // calling thread deposits `bytes` of `value` for call site `site` (the call's source
  // position), blocks until its SIMD group is quiescent (see above), and then receives the
  // values of the lanes that took part in `lanes` (lane i at i * bytes; other slots are
  // left as they were). Returns the mask of those lanes (MSL: results come from the active
  // lanes only); *lane is the caller's lane.
  static unsigned simd_exchange(const void* value, void* lanes, unsigned bytes, unsigned* lane, unsigned site);
  // simdgroup_barrier: an exchange of nothing (the active lanes of the SIMD group meet).
  static void simdgroup_barrier(unsigned site);
  // The stack of the running kernel thread: the current fiber's, or this OS thread's when
  // no fiber runs (kernels without barriers). Used by run-time address-space checks.
  static void stack_bounds(const char** low, const char** high);
  static constexpr unsigned kMaxExchangeBytes = 256;

  // This OS thread's group (one per worker, reused for every threadgroup it runs).
  static FiberGroup& for_this_thread();

 private:
  struct Fiber;
  static void trampoline();
  static constexpr uint32_t kNone = ~0u;
  uint32_t next_live(uint32_t from) const;  // the next fiber after `from` not yet returned
  void switch_from(uint32_t me, uint32_t next);
  void yield();              // hands over to the next live fiber
  void block(uint32_t me);   // the running fiber stops running (barrier, exchange, return)
  void complete_barrier();   // every live thread has arrived: all of them run on
  void fire(uint32_t simd);  // quiescent SIMD group: one call site's lanes exchange
  std::vector<Fiber*> fibers_;
  void* scheduler_sp_ = nullptr;
  const void* scheduler_stack_ = nullptr;  // run()'s stack (its lowest byte and size): for ASan
  size_t scheduler_stack_size_ = 0;
  uint32_t current_ = 0;
  uint32_t threads_ = 0;
  uint32_t live_ = 0;  // fibers not yet returned
  uint32_t barrier_arrived_ = 0;
  uint64_t barrier_generation_ = 0;
  struct SimdGroup {
    uint32_t running = 0;    // lanes neither returned nor waiting (barrier or exchange)
    unsigned waiting = 0;    // lanes waiting at an exchange
    unsigned site[32] = {};  // their call sites
    unsigned bytes[32] = {};
    std::vector<unsigned char> deposit;  // 32 lanes x kMaxExchangeBytes
    std::vector<unsigned char> fired;    // the values of the last exchange, read by its lanes
    unsigned fired_mask = 0;
  };
  std::vector<SimdGroup> simd_;  // one per SIMD group
  const std::function<void(uint32_t)>* body_ = nullptr;
};

}  // namespace metallic::cpu
