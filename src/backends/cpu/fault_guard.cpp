#include "backends/cpu/fault_guard.h"

#include <setjmp.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace metallic::cpu {

namespace {

thread_local sigjmp_buf* t_resume = nullptr;  // set while this thread runs a kernel
thread_local int t_signal = 0;
thread_local void* t_address = nullptr;

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE};
struct sigaction g_previous[3];

void forward(int sig, siginfo_t* info, void* context) {
  for (int i = 0; i < 3; ++i) {
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

void install_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &g_previous[i]);
  });
}

// A fault may come from running off a fiber's stack: the handler needs a stack of its own.
void ensure_alternate_stack() {
  thread_local std::vector<char> stack;
  if (!stack.empty()) return;
  stack.resize(64 * 1024);
  stack_t ss = {};
  ss.ss_sp = stack.data();
  ss.ss_size = stack.size();
  ::sigaltstack(&ss, nullptr);
}

}  // namespace

std::string run_guarded(const std::function<void()>& fn) {
  install_once();
  ensure_alternate_stack();
  sigjmp_buf resume;
  // No signal mask to save: the handler runs with SA_NODEFER, so jumping out of it leaves
  // the mask as it was (and sigsetjmp costs no system call).
  if (sigsetjmp(resume, 0) != 0) {
    char what[160];
    if (t_signal == SIGFPE)
      std::snprintf(what, sizeof what, "an arithmetic trap (integer division by zero?)");
    else
      std::snprintf(what, sizeof what, "an invalid memory access at %p (an index outside its buffers?)", t_address);
    return what;
  }
  struct Clear {
    ~Clear() { t_resume = nullptr; }
  } clear;
  t_resume = &resume;
  fn();
  return {};
}

}  // namespace metallic::cpu
