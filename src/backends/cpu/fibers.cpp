#include "backends/cpu/fibers.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "metallic/error.h"

// A context switch saves the callee-saved registers on the old stack, swaps stack
// pointers and restores them from the new one: a few nanoseconds, no system call (unlike
// swapcontext, which changes the signal mask on every switch).
#if defined(__x86_64__)
extern "C" void metallic_fiber_switch(void** save_sp, void* new_sp);
asm(R"(
.pushsection .text
.globl metallic_fiber_switch
.hidden metallic_fiber_switch
.type metallic_fiber_switch,@function
metallic_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size metallic_fiber_switch,.-metallic_fiber_switch
.popsection
)");
#elif defined(__aarch64__)
extern "C" void metallic_fiber_switch(void** save_sp, void* new_sp);
asm(R"(
.pushsection .text
.globl metallic_fiber_switch
.hidden metallic_fiber_switch
.type metallic_fiber_switch,%function
metallic_fiber_switch:
  sub sp, sp, #160
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #160
  ret
.size metallic_fiber_switch,.-metallic_fiber_switch
.popsection
)");
#else
#error "pymetallic's CPU fibers support x86-64 and AArch64"
#endif

// AddressSanitizer keeps a picture of the running stack (its bounds, and a "fake stack" for
// use-after-return checks): every switch between stacks it does not make itself must be told
// to it (make sanitize), or it reports accesses on the new stack, or exceptions thrown there,
// as stack errors. No code in other builds.
#if defined(__SANITIZE_ADDRESS__)
#define METALLIC_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METALLIC_ASAN_FIBERS 1
#endif
#endif
#ifdef METALLIC_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

namespace metallic::cpu {

namespace {
constexpr size_t kStackSize = 256 * 1024;  // kernels keep small arrays on the stack

// Switches from the running stack to the one `new_sp` points into, [bottom, bottom + size),
// saving the running one's pointer in *save_sp. `finished`: the running stack is never
// resumed (ASan releases its fake stack).
inline void switch_stack(void** save_sp, void* new_sp, const void* bottom, size_t size, bool finished = false) {
#ifdef METALLIC_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, bottom, size);
  metallic_fiber_switch(save_sp, new_sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)bottom;
  (void)size;
  (void)finished;
  metallic_fiber_switch(save_sp, new_sp);
#endif
}
// Read at every yield: initial-exec TLS is a plain load (the default model for a shared
// library calls __tls_get_addr each time).
__attribute__((tls_model("initial-exec"))) thread_local FiberGroup* t_running = nullptr;
}  // namespace

struct FiberGroup::Fiber {
  void* memory = nullptr;  // mapping: guard page + stack
  void* sp = nullptr;
  bool done = false;      // returned
  bool running = true;    // neither returned nor waiting at a barrier or an exchange
  bool released = false;  // its exchange has happened (set by whoever fired it)

  Fiber() {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    memory =
        ::mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) throw Error("cannot allocate a stack for a CPU threadgroup thread");
    ::mprotect(memory, page, PROT_NONE);  // overflow faults instead of corrupting memory
  }
  ~Fiber() { ::munmap(memory, kStackSize + static_cast<size_t>(::sysconf(_SC_PAGESIZE))); }
  const char* stack() const { return static_cast<const char*>(memory) + ::sysconf(_SC_PAGESIZE); }  // its lowest byte

  // Lay out the stack so the first switch "returns" into the trampoline.
  // `color` staggers the stack tops: page-aligned tops 256 KiB apart would put every fiber's
  // hot top-of-stack lines into the same cache sets (measured: 6% on a reduction).
  void reset(uint32_t color) {
    done = false;
    running = true;
    released = false;
    auto top = reinterpret_cast<uintptr_t>(memory) + static_cast<size_t>(::sysconf(_SC_PAGESIZE)) + kStackSize;
    top -= (color % 64) * 64 + ((color / 64) % 16) * 4096;
    top &= ~uintptr_t(15);
    auto* s = reinterpret_cast<void**>(top);
#if defined(__x86_64__)
    *--s = nullptr;                                           // fake return address of the trampoline
    *--s = reinterpret_cast<void*>(&FiberGroup::trampoline);  // popped by `ret`
    for (int i = 0; i < 6; ++i) *--s = nullptr;               // rbp rbx r12-r15
#else
    s -= 20;  // 160 bytes of saved registers
    std::memset(s, 0, 160);
    s[11] = reinterpret_cast<void*>(&FiberGroup::trampoline);  // x30 (link register)
#endif
    sp = s;
  }
};

FiberGroup::FiberGroup() = default;

FiberGroup::~FiberGroup() {
  for (auto* f : fibers_) delete f;
}

FiberGroup& FiberGroup::for_this_thread() {
  thread_local FiberGroup group;
  return group;
}

uint32_t FiberGroup::next_live(uint32_t from) const {
  for (uint32_t step = 1; step <= threads_; ++step) {
    uint32_t t = from + step < threads_ ? from + step : from + step - threads_;
    if (!fibers_[t]->done) return t;
  }
  return kNone;
}

// Fibers hand over to each other directly, in index order (one switch per yield, not two
// through a scheduler).
void FiberGroup::switch_from(uint32_t me, uint32_t next) {
  if (next == me) return;  // the only live fiber: carry on
  current_ = next;
  switch_stack(&fibers_[me]->sp, fibers_[next]->sp, fibers_[next]->stack(), kStackSize);
}

void FiberGroup::yield() { switch_from(current_, next_live(current_)); }

void FiberGroup::block(uint32_t me) {
  fibers_[me]->running = false;
  --simd_[me / 32].running;
}

void FiberGroup::complete_barrier() {
  barrier_arrived_ = 0;
  ++barrier_generation_;
  // Every live thread waited at the barrier: all run again.
  for (uint32_t t = 0; t < threads_; ++t) {
    Fiber* f = fibers_[t];
    if (f->done || f->running) continue;
    f->running = true;
    ++simd_[t / 32].running;
  }
}

void FiberGroup::fire(uint32_t simd) {
  SimdGroup& x = simd_[simd];
  // The call with the lowest source position goes first: in structured code it is the
  // one earlier in program order, and the lanes waiting further on join them there.
  unsigned site = ~0u;
  for (unsigned i = 0; i < 32; ++i)
    if (((x.waiting >> i) & 1u) && x.site[i] < site) site = x.site[i];
  unsigned mask = 0;
  for (unsigned i = 0; i < 32; ++i)
    if (((x.waiting >> i) & 1u) && x.site[i] == site) mask |= 1u << i;
  for (unsigned i = 0; i < 32; ++i) {
    if (!((mask >> i) & 1u)) continue;
    if (x.bytes[i])
      std::memcpy(x.fired.data() + i * kMaxExchangeBytes, x.deposit.data() + i * kMaxExchangeBytes, x.bytes[i]);
    Fiber* f = fibers_[simd * 32 + i];
    f->released = true;
    f->running = true;
    ++x.running;
  }
  x.waiting &= ~mask;
  x.fired_mask = mask;
}

void FiberGroup::trampoline() {
  FiberGroup* g = t_running;
  uint32_t me = g->current_;
#ifdef METALLIC_ASAN_FIBERS
  // The switch into a new fiber ends here, not after a switch_stack call; fiber 0 is always
  // entered from run(), whose stack the last fiber returns to.
  const void* from = nullptr;
  size_t from_size = 0;
  __sanitizer_finish_switch_fiber(nullptr, &from, &from_size);
  if (me == 0) {
    g->scheduler_stack_ = from;
    g->scheduler_stack_size_ = from_size;
  }
#endif
  (*g->body_)(me);
  g->block(me);
  g->fibers_[me]->done = true;
  // A thread that returned no longer takes part in barriers.
  if (--g->live_ > 0 && g->barrier_arrived_ > 0 && g->barrier_arrived_ == g->live_) g->complete_barrier();
  uint32_t next = g->next_live(me);
  if (next == kNone)  // the group is done
    switch_stack(&g->fibers_[me]->sp, g->scheduler_sp_, g->scheduler_stack_, g->scheduler_stack_size_, true);
  else {
    g->current_ = next;
    switch_stack(&g->fibers_[me]->sp, g->fibers_[next]->sp, g->fibers_[next]->stack(), kStackSize, true);
  }
  std::abort();  // a finished fiber is never resumed
}

void FiberGroup::yield_barrier() {
  FiberGroup* g = t_running;
  if (!g) throw Error("threadgroup_barrier called outside a threadgroup");
  uint32_t me = g->current_;
  uint64_t generation = g->barrier_generation_;
  g->block(me);
  if (++g->barrier_arrived_ == g->live_) {
    g->complete_barrier();
    return;
  }
  while (g->barrier_generation_ == generation) {
    // Lanes of a SIMD group that wait at an exchange while the others of their group wait
    // here are that exchange's active lanes: let it happen.
    SimdGroup& x = g->simd_[me / 32];
    if (x.running == 0 && x.waiting) g->fire(me / 32);
    g->yield();
  }
}

unsigned FiberGroup::simd_exchange(const void* value, void* lanes, unsigned bytes, unsigned* lane, unsigned site) {
  FiberGroup* g = t_running;
  if (!g) throw Error("a SIMD-group function was called outside a threadgroup");
  if (bytes > kMaxExchangeBytes) throw Error("a SIMD-group function's value is too large for the CPU backend");
  uint32_t me = g->current_;
  unsigned l = me % 32;
  SimdGroup& x = g->simd_[me / 32];
  Fiber* f = g->fibers_[me];
  if (bytes) std::memcpy(x.deposit.data() + l * kMaxExchangeBytes, value, bytes);
  x.site[l] = site;
  x.bytes[l] = bytes;
  x.waiting |= 1u << l;
  f->released = false;
  g->block(me);
  for (;;) {
    if (!f->released && x.running == 0) g->fire(me / 32);
    if (f->released) break;
    g->yield();
  }
  // The values stay in `fired` until every lane of this exchange has read them: the next
  // exchange of the group needs all its lanes to block again first.
  unsigned mask = x.fired_mask;
  if (bytes == 0) {
    *lane = l;
    return mask;
  }
  unsigned char* out = static_cast<unsigned char*>(lanes);
  for (unsigned i = 0; i < 32; ++i)
    if ((mask >> i) & 1u) std::memcpy(out + i * bytes, x.fired.data() + i * kMaxExchangeBytes, bytes);
  *lane = l;
  return mask;
}

void FiberGroup::simdgroup_barrier(unsigned site) {
  unsigned lane;
  simd_exchange(nullptr, nullptr, 0, &lane, site);
}

void FiberGroup::run(uint32_t threads, const std::function<void(uint32_t)>& body) {
  while (fibers_.size() < threads) fibers_.push_back(new Fiber());
  size_t groups = (threads + 31) / 32;
  if (simd_.size() < groups) {
    simd_.resize(groups);
    for (auto& x : simd_) {
      x.deposit.resize(32 * kMaxExchangeBytes);
      x.fired.resize(32 * kMaxExchangeBytes);
    }
  }
  for (size_t s = 0; s < groups; ++s) {
    simd_[s].running = std::min<uint32_t>(32, threads - static_cast<uint32_t>(s) * 32);
    simd_[s].waiting = 0;
    simd_[s].fired_mask = 0;
  }
  live_ = threads;
  barrier_arrived_ = 0;
  barrier_generation_ = 0;
  for (uint32_t t = 0; t < threads; ++t) fibers_[t]->reset(t);
  body_ = &body;
  FiberGroup* outer = t_running;
  t_running = this;
  threads_ = threads;
  if (threads > 0) {
    current_ = 0;
    switch_stack(&scheduler_sp_, fibers_[0]->sp, fibers_[0]->stack(), kStackSize);  // back when the last one returns
  }
  t_running = outer;
  body_ = nullptr;
}

void FiberGroup::stack_bounds(const char** low, const char** high) {
  if (FiberGroup* g = t_running) {
    const char* stack = static_cast<const char*>(g->fibers_[g->current_]->memory) + ::sysconf(_SC_PAGESIZE);
    *low = stack;
    *high = stack + kStackSize;
    return;
  }
  // This OS thread's stack, looked up once per thread.
  thread_local const char* thread_low = nullptr;
  thread_local const char* thread_high = nullptr;
  if (!thread_high) {
    pthread_attr_t attr;
    void* addr = nullptr;
    size_t size = 0;
    if (::pthread_getattr_np(::pthread_self(), &attr) == 0) {
      ::pthread_attr_getstack(&attr, &addr, &size);
      ::pthread_attr_destroy(&attr);
    }
    thread_low = static_cast<const char*>(addr);
    thread_high = thread_low + size;
  }
  *low = thread_low;
  *high = thread_high;
}

}  // namespace metallic::cpu
