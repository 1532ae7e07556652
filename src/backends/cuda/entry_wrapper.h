// Writes the CUDA C++ translation unit NVRTC compiles for one library: the runtime prelude,
// the user's translated code, and per kernel an `extern "C" __global__` entry that takes
// one parameter struct (buffer pointers, inline set_bytes data, threadgroup offsets and the
// dispatch sizes) and computes every MSL built-in from CUDA's.
#pragma once

#include <string>

#include "msl/translation.h"

namespace metallic::cuda {

std::string entry_symbol(size_t kernel_index);   // "metallic_entry_<i>"
std::string layout_symbol(size_t kernel_index);  // "metallic_layout_<i>": the parameter layout

// Layout table (uint32): [0] sizeof(params), then per KernelInfo::args entry: offset of its
// slot (0 for built-ins), then per entry: capacity of its slot in bytes.
// Parameter header: dims[0..2] grid, [3..5] threads per threadgroup, [6..8] threadgroups,
// [9] inline mask (bit k: argument k's data is inline in its slot, not a pointer).
constexpr unsigned kHeaderWords = 10;

std::string generate_translation_unit(const msl::TranslatedSource& source);

}  // namespace metallic::cuda
