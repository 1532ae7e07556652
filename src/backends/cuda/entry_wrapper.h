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

// Parameters: a header of 10 uint32 — [0..2] grid, [3..5] threads per threadgroup,
// [6..8] threadgroups, [9] inline mask (bit k: argument k's data is inline in its slot) —
// then one slot per buffer or threadgroup argument, in argument order. Every slot is
// 16-byte aligned and round16(max(8, N)) bytes long, N being its content size: a pointer
// (8), a threadgroup offset (8), or sizeof(T) for a `constant T&` that may hold T inline;
// a texture's slot holds its metal_texture_abi (device address inside), a sampler's its
// 8-byte metal_sampler_abi.
// The layout table (uint32) holds sizeof(params), then N per argument (0: no slot).
constexpr unsigned kHeaderWords = 10;

// Slot offsets from the layout table's content sizes, by the rule above.
inline void slot_offsets(const unsigned* sizes, size_t count, unsigned* offsets, unsigned* total) {
  unsigned at = 48;  // the 40-byte header, rounded to 16
  for (size_t i = 0; i < count; ++i) {
    offsets[i] = 0;
    if (!sizes[i]) continue;
    offsets[i] = at;
    unsigned n = sizes[i] < 8 ? 8 : sizes[i];
    at += (n + 15) / 16 * 16;
  }
  *total = at;
}

std::string generate_translation_unit(const msl::TranslatedSource& source);

}  // namespace metallic::cuda
