// Bad input never crashes the process: a CPU kernel that reads or writes outside its buffers
// (or divides an integer by zero, which traps on x86, or reaches a trap instruction) raises a
// signal inside generated code. While a kernel runs under run_guarded(), such a signal ends
// the kernel's work on that thread and comes back as a description of the fault; outside,
// signals reach whatever handler was there before (Python's faulthandler, the default).
//
// The same path stops a kernel that runs too long (PYMETALLIC_KERNEL_TIMEOUT): the watchdog
// sets the dispatch's cancel flag and signals the threads running it; a thread leaves the
// kernel only while it executes the kernel's own code (never inside the C library or the
// fiber scheduler, whose locks it could hold), so it is signalled again until it does.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace metallic::cpu {

// Runs fn; returns "" when it finished, else what went wrong ("invalid memory access at 0x...").
// With `cancel`, a cancel signal while *cancel is true ends fn too (returns kCancelled).
std::string run_guarded(const std::function<void()>& fn, const std::atomic<bool>* cancel = nullptr);
extern const char* const kCancelled;

// Asks `thread` (a pthread_t) to leave the kernel it runs under run_guarded with `cancel` set.
void signal_cancel(unsigned long thread);

// The executable ranges of a loaded kernel library (cancellation lands only in these).
void register_kernel_code(uintptr_t begin, uintptr_t end);
void unregister_kernel_code(uintptr_t begin);

}  // namespace metallic::cpu
