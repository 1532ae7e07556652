#include "backends/cpu/fault_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace metallic::cpu {

const char* const kCancelled = "cancelled";

namespace {

thread_local sigjmp_buf* t_resume = nullptr;  // set while this thread runs a kernel
thread_local const std::atomic<bool>* t_cancel = nullptr;
thread_local int t_signal = 0;
thread_local void* t_address = nullptr;

// SIGILL: a trap instruction (`ud2`); SIGTRAP: a breakpoint instruction.
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr int kCount = sizeof kSignals / sizeof kSignals[0];
struct sigaction g_previous[kCount];

int cancel_signal() { return SIGRTMIN + 5; }

// Code ranges of the loaded kernel libraries: read by the signal handler, so lock-free.
constexpr int kRanges = 1024;
std::atomic<uintptr_t> g_range_begin[kRanges], g_range_end[kRanges];
std::atomic<bool> g_ranges_overflowed{false};

bool in_kernel_code(void* context) {
  uintptr_t pc = 0;
#if defined(__x86_64__)
  pc = static_cast<uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  pc = static_cast<uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.pc);
#else
  (void)context;
  return true;  // no way to tell here: leave at once
#endif
  if (g_ranges_overflowed.load(std::memory_order_relaxed)) return true;
  for (int i = 0; i < kRanges; ++i) {
    uintptr_t b = g_range_begin[i].load(std::memory_order_acquire);
    if (b && pc >= b && pc < g_range_end[i].load(std::memory_order_relaxed)) return true;
  }
  return false;
}

void forward(int sig, siginfo_t* info, void* context) {
  for (int i = 0; i < kCount; ++i) {
    if (kSignals[i] != sig) continue;
    const struct sigaction& prev = g_previous[i];
    if (prev.sa_flags & SA_SIGINFO) {
      if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
      return prev.sa_handler(sig);
    }
    // The default action: restore it and let the signal happen again, as if we were absent.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

void on_fault(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* resume = t_resume) {
    t_resume = nullptr;
    t_signal = sig;
    t_address = info ? info->si_addr : nullptr;
    siglongjmp(*resume, 1);
  }
  forward(sig, info, context);
}

void on_cancel(int, siginfo_t*, void* context) {
  // A late signal (the thread already left that kernel, or runs another one) is ignored.
  sigjmp_buf* resume = t_resume;
  const std::atomic<bool>* cancel = t_cancel;
  if (!resume || !cancel || !cancel->load(std::memory_order_relaxed) || !in_kernel_code(context)) return;
  t_resume = nullptr;
  t_signal = cancel_signal();
  siglongjmp(*resume, 1);
}

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {  // nothing in here throws
    struct sigaction sa = {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &sa, &g_previous[i]);
    struct sigaction cancel = {};
    cancel.sa_sigaction = &on_cancel;
    cancel.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
    sigemptyset(&cancel.sa_mask);
    ::sigaction(cancel_signal(), &cancel, nullptr);
  });
}

// A fault may come from running off a fiber's stack: the handler needs a stack of its own.
// A thread that has one already keeps it: AddressSanitizer's runtime gives every thread one
// and unmaps whatever is installed when the thread ends (ours, from the heap, made it abort:
// make sanitize), Python's faulthandler installs one too.
void ensure_alternate_stack() {
  struct Own {
    std::vector<char> memory;
    ~Own() {  // not left installed once its memory is freed at thread exit
      stack_t current = {};
      if (memory.empty() || ::sigaltstack(nullptr, &current) != 0 || current.ss_sp != memory.data()) return;
      stack_t off = {};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
  };
  thread_local Own own;
  thread_local bool done = false;
  if (done) return;
  done = true;
  stack_t current = {};
  if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE) &&
      current.ss_size >= static_cast<size_t>(SIGSTKSZ))
    return;
  own.memory.resize(64 * 1024);
  stack_t ss = {};
  ss.ss_sp = own.memory.data();
  ss.ss_size = own.memory.size();
  ::sigaltstack(&ss, nullptr);
}

}  // namespace

void register_kernel_code(uintptr_t begin, uintptr_t end) {
  for (int i = 0; i < kRanges; ++i) {
    uintptr_t expected = 0;
    g_range_end[i].store(end, std::memory_order_relaxed);
    if (g_range_begin[i].compare_exchange_strong(expected, begin, std::memory_order_release)) return;
  }
  g_ranges_overflowed.store(true);
}

void unregister_kernel_code(uintptr_t begin) {
  for (int i = 0; i < kRanges; ++i) {
    uintptr_t expected = begin;
    if (g_range_begin[i].compare_exchange_strong(expected, 0)) return;
  }
}

void signal_cancel(unsigned long thread) {
  install_once();
  ::pthread_kill(static_cast<pthread_t>(thread), cancel_signal());
}

std::string run_guarded(const std::function<void()>& fn, const std::atomic<bool>* cancel) {
  install_once();
  ensure_alternate_stack();
  sigjmp_buf resume;
  // No signal mask to save: the handler runs with SA_NODEFER, so jumping out of it leaves
  // the mask as it was (and sigsetjmp costs no system call).
  if (sigsetjmp(resume, 0) != 0) {
    t_cancel = nullptr;
    char what[160];
    if (t_signal == cancel_signal())
      return kCancelled;
    else if (t_signal == SIGFPE)
      std::snprintf(what, sizeof what, "an arithmetic trap (integer division by zero?)");
    else if (t_signal == SIGILL || t_signal == SIGTRAP)
      std::snprintf(what, sizeof what, "a trap instruction at %p (the kernel reached a trap)", t_address);
    else
      std::snprintf(what, sizeof what, "an invalid memory access at %p (an index outside its buffers?)", t_address);
    return what;
  }
  struct Clear {
    ~Clear() { t_resume = nullptr, t_cancel = nullptr; }
  } clear;
  t_cancel = cancel;
  t_resume = &resume;
  fn();
  return {};
}

}  // namespace metallic::cpu
