// Bad input never crashes the process: a CPU kernel that reads or writes outside its buffers
// (or divides an integer by zero, which traps on x86) raises a signal inside generated code.
// While a kernel runs under run_guarded(), such a signal ends the kernel's work on that thread
// and comes back as a description of the fault; outside, signals reach whatever handler was
// there before (Python's faulthandler, the default).
#pragma once

#include <functional>
#include <string>

namespace metallic::cpu {

// Runs fn; returns "" when it finished, else what went wrong ("invalid memory access at 0x...").
std::string run_guarded(const std::function<void()>& fn);

}  // namespace metallic::cpu
