// Indirect command buffers (MTLIndirectCommandBuffer): compute commands recorded once and
// executed by any number of compute encoders (ComputeCommandEncoder::executeCommandsInBuffer).
// Each command holds a pipeline, buffer bindings, threadgroup memory lengths and a dispatch;
// a command that was reset (or never encoded) is skipped when executed, as on Metal.
//
// Execution reads the commands when executeCommandsInBuffer is encoded (Metal reads them when
// the GPU reaches them; changing commands that committed, unfinished work uses is a race there).
// While an ICB's commands do not change, every execution of the same range shares one
// immutable snapshot (its `id` names it): the CUDA backend replays it as one cached CUDA graph.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "metallic/types.h"

namespace metallic {

class Device;
class Buffer;
class ComputePipelineState;
struct IndirectSnapshot;  // src/core/commands.h

// MTLIndirectCommandType's compute values (render commands have no place in this API).
enum IndirectCommandType : uint32_t {
  IndirectCommandTypeConcurrentDispatch = 1u << 5,
  IndirectCommandTypeConcurrentDispatchThreads = 1u << 6,
};

struct IndirectCommandBufferDescriptor {
  uint32_t commandTypes = 0;  // IndirectCommandType bits
  // Metal asks for both to be set explicitly; false: each command sets its own.
  bool inheritPipelineState = false;
  bool inheritBuffers = false;
  uint32_t maxKernelBufferBindCount = 0;  // buffer indices 0..count-1 (ignored when inheriting buffers)
};

class IndirectCommandBuffer : public std::enable_shared_from_this<IndirectCommandBuffer> {
 public:
  // What one command holds. `dispatch` None: reset or never encoded (skipped when executed).
  struct Command {
    enum class Dispatch : uint8_t { None, Threadgroups, Threads };
    std::shared_ptr<ComputePipelineState> pipeline;
    std::vector<std::pair<std::shared_ptr<Buffer>, uint64_t>> buffers;  // by index; null: unset
    std::array<uint32_t, 31> threadgroup_lengths{};
    Dispatch dispatch = Dispatch::None;
    Size3 size{0, 0, 0};  // threadgroups (Threadgroups) or threads (Threads) per grid
    Size3 threads_per_threadgroup{0, 0, 0};
    bool barrier = false;
  };

  IndirectCommandBuffer(std::shared_ptr<Device> device, const IndirectCommandBufferDescriptor& descriptor,
                        uint64_t max_command_count);

  const std::shared_ptr<Device>& device() const { return device_; }
  const IndirectCommandBufferDescriptor& descriptor() const { return descriptor_; }
  uint64_t size() const { return size_; }
  // Bumped by every change to a command: executions of an unchanged ICB share a snapshot.
  uint64_t version() const { return version_.load(); }

  // Metal's resetWithRange: the commands become empty (skipped when executed).
  void reset(uint64_t location, uint64_t length);

  // The MTLIndirectComputeCommand methods, by command index (checked against size()).
  void setComputePipelineState(uint64_t index, const std::shared_ptr<ComputePipelineState>& pipeline);
  void setKernelBuffer(uint64_t index, const std::shared_ptr<Buffer>& buffer, uint64_t offset, uint32_t slot);
  void setThreadgroupMemoryLength(uint64_t index, uint64_t length, uint32_t slot);
  void concurrentDispatchThreadgroups(uint64_t index, Size3 threadgroups_per_grid, Size3 threads_per_threadgroup);
  void concurrentDispatchThreads(uint64_t index, Size3 threads_per_grid, Size3 threads_per_threadgroup);
  void setBarrier(uint64_t index, bool barrier);
  void resetCommand(uint64_t index);
  bool hasBarrier(uint64_t index) const;
  bool isEmpty(uint64_t index) const;  // reset or never encoded

  // --- used by the compute encoder ---
  // A copy of the commands of [location, location + length), empty ones as default Commands,
  // and the version they are of.
  std::vector<Command> commands(uint64_t location, uint64_t length, uint64_t* version) const;
  // The snapshot last built for this range, if the commands have not changed since.
  std::shared_ptr<const IndirectSnapshot> snapshot(uint64_t location, uint64_t length) const;
  void keepSnapshot(uint64_t location, uint64_t length, uint64_t version,
                    std::shared_ptr<const IndirectSnapshot> snapshot);

 private:
  Command& command(uint64_t index, const char* what);  // created on first use; lock held
  void encodeDispatch(uint64_t index, Command::Dispatch kind, Size3 size, Size3 threads_per_threadgroup);
  void check_index(uint64_t index, const char* what) const;

  std::shared_ptr<Device> device_;
  IndirectCommandBufferDescriptor descriptor_;
  uint64_t size_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Command>> commands_;  // null: empty
  std::atomic<uint64_t> version_{1};
  struct Kept {
    uint64_t location = 0, length = 0, version = 0;
    std::shared_ptr<const IndirectSnapshot> snapshot;
  };
  std::vector<Kept> kept_;  // a few ranges (the ranges a program alternates between)
};

// Metal's MTLIndirectComputeCommand: one command of an indirect command buffer.
class IndirectComputeCommand {
 public:
  IndirectComputeCommand(std::shared_ptr<IndirectCommandBuffer> icb, uint64_t index);

  const std::shared_ptr<IndirectCommandBuffer>& indirectCommandBuffer() const { return icb_; }
  uint64_t index() const { return index_; }
  void setComputePipelineState(const std::shared_ptr<ComputePipelineState>& p) {
    icb_->setComputePipelineState(index_, p);
  }
  void setKernelBuffer(const std::shared_ptr<Buffer>& b, uint64_t offset, uint32_t slot) {
    icb_->setKernelBuffer(index_, b, offset, slot);
  }
  void setThreadgroupMemoryLength(uint64_t length, uint32_t slot) {
    icb_->setThreadgroupMemoryLength(index_, length, slot);
  }
  void concurrentDispatchThreadgroups(Size3 groups, Size3 tg) {
    icb_->concurrentDispatchThreadgroups(index_, groups, tg);
  }
  void concurrentDispatchThreads(Size3 grid, Size3 tg) { icb_->concurrentDispatchThreads(index_, grid, tg); }
  void setBarrier() { icb_->setBarrier(index_, true); }
  void clearBarrier() { icb_->setBarrier(index_, false); }
  void reset() { icb_->resetCommand(index_); }

 private:
  std::shared_ptr<IndirectCommandBuffer> icb_;
  uint64_t index_;
};

}  // namespace metallic
