// What a command buffer records: dispatches and blits, each with a snapshot of its
// bindings so later encoder calls cannot change work already recorded.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <variant>
#include <vector>

#include "core/backend.h"
#include "metallic/types.h"
#include "runtime/metal_texture_abi.h"

namespace metallic {

class ComputePipelineState;
class SharedEvent;

// One kernel argument slot as the executor sees it: a buffer region, or inline bytes
// stored in the command list's byte arena.
struct BoundArgument {
  std::shared_ptr<backend::BufferImpl> buffer;  // null for set_bytes data
  uint64_t offset = 0;                          // into the buffer, or into CommandList::bytes
  uint64_t length = 0;                          // bytes available from offset
};

// A texture argument: its storage and descriptor (abi.data is filled in by the backend).
struct BoundTexture {
  std::shared_ptr<backend::BufferImpl> buffer;
  metal_texture_abi abi{};
  bool written = false;  // the kernel may write it (access::write / read_write)
};

struct DispatchCommand {
  std::shared_ptr<ComputePipelineState> pipeline;  // keeps the kernel alive
  std::vector<BoundArgument> buffers;              // by [[buffer(n)]] index, up to the highest used
  uint32_t bound_mask = 0;                         // bit i: buffers[i] is set
  std::array<uint32_t, 31> threadgroup_lengths{};  // [[threadgroup(n)]] sizes in bytes
  // [[texture(n)]] / [[sampler(n)]] bindings, indexed by n; empty when the kernel takes none.
  std::vector<BoundTexture> textures;
  // Buffers reached through argument buffers (useResource): kept alive, and made coherent
  // on devices with separate memory; `second` when the dispatch may write them.
  std::vector<std::pair<std::shared_ptr<backend::BufferImpl>, bool>> resources;
  std::vector<metal_sampler_abi> samplers;
  Size3 threads_per_grid;  // exact grid in threads
  Size3 threads_per_threadgroup;
  Size3 threadgroups_per_grid;  // ceil(grid / tg)
  // dispatch_threadgroups_with_indirect_buffer: the group counts are read from here when
  // the command runs; the two sizes above are then filled in by the executor.
  std::shared_ptr<backend::BufferImpl> indirect;
  uint64_t indirect_offset = 0;
};

// Where a copy's buffer lives, from the queue's point of view (decided and checked when the
// copy is encoded, so a backend never guesses): on the queue's own device, in the CPU
// device's host memory, or on another device of the queue's backend (a peer GPU).
enum class BufferSide : uint8_t { Local, Host, Peer };

struct CopyCommand {
  std::shared_ptr<backend::BufferImpl> source, destination;
  uint64_t source_offset = 0, destination_offset = 0, size = 0;
  BufferSide source_side = BufferSide::Local, destination_side = BufferSide::Local;
};

struct FillCommand {
  std::shared_ptr<backend::BufferImpl> buffer;
  uint64_t offset = 0, length = 0;
  uint8_t value = 0;
};

struct SynchronizeCommand {
  std::shared_ptr<backend::BufferImpl> buffer;
};

// encodeSignalEvent / encodeWaitForEvent: between the commands before and after them.
struct SignalEventCommand {
  std::shared_ptr<SharedEvent> event;
  uint64_t value = 0;
};

struct WaitEventCommand {
  std::shared_ptr<SharedEvent> event;
  uint64_t value = 0;
};

// The dispatches of a range of an indirect command buffer (include/metallic/indirect.h), checked
// and recorded once while the ICB does not change, shared by every execution of that range.
// Immutable: `id` (unique in the process, never reused) names exactly these dispatches, so a
// backend may cache what it derives from them (the CUDA backend: an instantiated graph).
struct IndirectSnapshot {
  uint64_t id = 0;
  std::vector<DispatchCommand> dispatches;  // in order; empty commands left out
  // Every buffer the dispatches bind, once, with whether one of them may write it.
  std::vector<std::pair<std::shared_ptr<backend::BufferImpl>, bool>> buffers;
  static uint64_t next_id();
};

// execute_commands_in_buffer: the snapshot's dispatches run here, in order. `resources`: the
// encoder's use_resource buffers (reached through argument buffers), as for a dispatch.
struct ExecuteIndirectCommand {
  std::shared_ptr<const IndirectSnapshot> snapshot;
  std::vector<std::pair<std::shared_ptr<backend::BufferImpl>, bool>> resources;
};

using Command = std::variant<DispatchCommand, CopyCommand, FillCommand, SynchronizeCommand, SignalEventCommand,
                             WaitEventCommand, ExecuteIndirectCommand>;

// The set_bytes arena of a command list: its first kInline bytes inside the list (which is
// allocated with its command buffer), so a command buffer whose dispatches set a few scalars
// or small structs allocates nothing for them; more moves to the heap.
class ByteArena {
 public:
  static constexpr size_t kInline = 128;
  uint8_t* data() { return heap_.empty() ? inline_ : heap_.data(); }
  const uint8_t* data() const { return heap_.empty() ? inline_ : heap_.data(); }
  size_t size() const { return size_; }
  // Copies `length` bytes to the next offset that is a multiple of `align`; returns the offset.
  uint64_t append(const void* src, size_t length, size_t align) {
    const size_t at = (size_ + align - 1) / align * align;
    const size_t end = at + length;
    if (heap_.empty() && end > kInline) {
      heap_.reserve(std::max<size_t>(2 * end, 2 * kInline));
      heap_.assign(inline_, inline_ + size_);
    }
    if (!heap_.empty() || end > kInline) heap_.resize(end);
    std::memcpy(data() + at, src, length);
    size_ = end;
    return at;
  }

 private:
  alignas(16) uint8_t inline_[kInline];
  size_t size_ = 0;
  std::vector<uint8_t> heap_;
};

struct CommandList {
  std::vector<Command> commands;
  ByteArena bytes;  // set_bytes arena

  const void* bytes_at(uint64_t offset) const { return bytes.data() + offset; }
};

}  // namespace metallic
