// Writes the CUDA C++ translation unit NVRTC compiles for one library: the runtime prelude,
// the user's translated code, and per kernel an `extern "C" __global__` entry that takes
// one parameter struct (buffer pointers, inline set_bytes data, threadgroup offsets and the
// dispatch sizes) and computes every MSL built-in from CUDA's.
#pragma once

#include <string>

#include "msl/translation.h"

namespace metallic::cuda {

// Entries per kernel: "metallic_entry_<i>" (any dispatch) and "..._uniform" (every
// threadgroup whole) in a library's module; "..._indirect" (dispatch_threadgroups_with_
// indirect_buffer) in a second translation unit of the same code, compiled only when a
// program first dispatches that way: a third entry in every module would add about 40% to
// each cold compile (the fluid demo's 0.38 s became 0.56 s).
//
// A tiered library (PYMETALLIC_CUDA_TIERED=1, tiered_entries()) splits Direct in two units of
// the same code: General, the entry for any dispatch and the layout table (compiled before
// the library is returned: every dispatch can run), and Uniform, the uniform entries alone
// (compiled afterwards, off the caller's thread; dispatches take them once they are loaded).
// General + Uniform hold the same entries as Direct, each compiled to the same instructions.
enum class Entries { Direct, Indirect, General, Uniform };
// PYMETALLIC_CUDA_UNIFORM_ENTRIES=0: no "_uniform" entries (every dispatch takes the general
// one). They are ~0.08 s of the benchmark library's 0.25 s cold compile (docs/performance.md);
// the switch lets a GPU run weigh that against what they save at run time.
bool uniform_entries();
// PYMETALLIC_CUDA_TIERED=1 (off by default until run on a GPU: kTieredByDefault in
// entry_wrapper.cpp), =0 off: libraries are built as General now and Uniform later (above).
// Never with uniform_entries() off, nor for validation or logging builds.
bool tiered_entries();
std::string entry_symbol(size_t kernel_index);   // "metallic_entry_<i>"
std::string layout_symbol(size_t kernel_index);  // "metallic_layout_<i>": the parameter layout
// Whether the kernel reads a `constant T&` argument: its uniform entries are then
// "<entry>_uniform_inline" (every such argument's data inline, from set_bytes) and
// "<entry>_uniform_buffers" (every one in a buffer); otherwise one "<entry>_uniform".
bool has_constant_references(const msl::KernelInfo& kernel);

// Parameters: a header of 12 uint32 — [0..2] grid, [3..5] threads per threadgroup,
// [6..8] threadgroups, [9] inline mask (bit k: argument k's data is inline in its slot),
// [10..11] for an `_indirect` entry the device address of the three threadgroup counts
// (low word first) — then one slot per buffer or threadgroup argument, in argument order.
// Every slot is 16-byte aligned and round16(max(8, N)) bytes long, N being its content
// size: a pointer (8), a threadgroup offset (8), or sizeof(T) for a `constant T&` that may
// hold T inline; a texture's slot holds its metal_texture_abi (device address inside), a
// sampler's its 8-byte metal_sampler_abi.
// The layout table (uint32) holds sizeof(params), then N per argument (0: no slot), then
// sizeof(T) per `T&` argument (0 for the others). A `constant T&` larger than 4 KB gets a
// pointer's slot (N = 8): set_bytes cannot pass it.
constexpr unsigned kHeaderWords = 12;

// Slot offsets from the layout table's content sizes, by the rule above.
inline void slot_offsets(const unsigned* sizes, size_t count, unsigned* offsets, unsigned* total) {
  unsigned at = kHeaderWords * 4;  // the 48-byte header
  for (size_t i = 0; i < count; ++i) {
    offsets[i] = 0;
    if (!sizes[i]) continue;
    offsets[i] = at;
    unsigned n = sizes[i] < 8 ? 8 : sizes[i];
    at += (n + 15) / 16 * 16;
  }
  *total = at;
}

// Which kernels a unit holds: those whose index i has i % stride == offset (every kernel by
// default; kernel k of n alone: {n, k}). Their symbols keep their index in the library.
struct KernelSet {
  size_t stride = 1, offset = 0;
  bool has(size_t i) const { return i % stride == offset; }
  bool all() const { return stride == 1; }
};

// `only`: the kernels to write.
// The unit includes only the optional parts of the runtime library whose names the code
// spells (METAL_RT_OMIT_<GROUP>, metal_runtime.h); `whole_runtime`: all of it.
std::string generate_translation_unit(const msl::TranslatedSource& source, Entries entries = Entries::Direct,
                                      KernelSet only = {}, bool whole_runtime = false);

}  // namespace metallic::cuda
