// Writes the C++ translation unit the host compiler builds for one library: the runtime
// prelude, the user's translated code, and an entry point per kernel (cpu_abi.h).
#pragma once

#include <string>

#include "msl/translation.h"

namespace metallic::cpu {

std::string entry_symbol(size_t kernel_index);         // "metallic_entry_<i>": runs groups
std::string thread_entry_symbol(size_t kernel_index);  // "metallic_thread_<i>": one thread (barrier kernels)
// "metallic_arg_sizes_<i>": {argument count, then sizeof the referee of each T& buffer argument, else 0}
std::string argument_sizes_symbol(size_t kernel_index);
std::string max_threads_symbol(size_t kernel_index);  // "metallic_max_threads_<i>": KernelInfo::max_threads_expression

// Whether kernel k runs split at its barriers (msl/barrier_fission.h): its group entry then
// runs whole threadgroups without fibers.
bool uses_fission(const msl::KernelInfo& k);

// `only`: the index of the one kernel to write entries for (its symbols keep that index);
// -1: every kernel.
std::string generate_translation_unit(const msl::TranslatedSource& source, long only = -1);

}  // namespace metallic::cpu
