// IndirectCommandBuffer (MTLIndirectCommandBuffer) and its commands: what each command holds,
// checked as Metal's validation layer checks it when the command is encoded. Executing them is
// the compute encoder's (executeCommandsInBuffer, compute_command_encoder.cpp).
#include "metallic/indirect.h"

#include <string>

#include "core/commands.h"
#include "core/device_checks.h"
#include "core/encoder_checks.h"
#include "metallic/buffer.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "metallic/library.h"

namespace metallic {

namespace {

constexpr uint64_t kMaxCommands = uint64_t(1) << 24;
constexpr uint32_t kComputeTypes = IndirectCommandTypeConcurrentDispatch | IndirectCommandTypeConcurrentDispatchThreads;

}  // namespace

uint64_t IndirectSnapshot::next_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

IndirectCommandBuffer::IndirectCommandBuffer(std::shared_ptr<Device> device,
                                             const IndirectCommandBufferDescriptor& descriptor,
                                             uint64_t max_command_count)
    : device_(std::move(device)), descriptor_(descriptor), size_(max_command_count) {
  const uint32_t types = descriptor.commandTypes;
  if (types == 0)
    throw ValidationError(
        "new_indirect_command_buffer: the descriptor's command_types is empty; set it to "
        "IndirectCommandType.CONCURRENT_DISPATCH and/or CONCURRENT_DISPATCH_THREADS");
  if (types & ~kComputeTypes)
    throw ValidationError("new_indirect_command_buffer: command_types " + std::to_string(types) +
                          " has render command types (draw calls): pymetallic has compute commands only "
                          "(CONCURRENT_DISPATCH = 32, CONCURRENT_DISPATCH_THREADS = 64)");
  if (!descriptor.inheritBuffers && descriptor.maxKernelBufferBindCount > 31)
    throw ValidationError("new_indirect_command_buffer: max_kernel_buffer_bind_count " +
                          std::to_string(descriptor.maxKernelBufferBindCount) +
                          " is more than Metal's 31 buffer slots");
  if (max_command_count == 0 || max_command_count > kMaxCommands)
    throw ValidationError("new_indirect_command_buffer: max_command_count must be 1 to " +
                          std::to_string(kMaxCommands) + ", not " + std::to_string(max_command_count));
  commands_.resize(max_command_count);
}

void IndirectCommandBuffer::check_index(uint64_t index, const char* what) const {
  if (index >= size_)
    throw ValidationError(std::string(what) + ": command index " + std::to_string(index) +
                          " is out of range for an indirect command buffer of " + std::to_string(size_) + " commands");
}

IndirectCommandBuffer::Command& IndirectCommandBuffer::command(uint64_t index, const char* what) {
  check_index(index, what);
  auto& c = commands_[index];
  if (!c) c = std::make_unique<Command>();
  version_.fetch_add(1);
  return *c;
}

void IndirectCommandBuffer::reset(uint64_t location, uint64_t length) {
  if (location > size_ || length > size_ - location)
    throw ValidationError("reset: range (location " + std::to_string(location) + ", length " + std::to_string(length) +
                          ") is outside the indirect command buffer's " + std::to_string(size_) + " commands");
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint64_t i = location; i < location + length; ++i) commands_[i].reset();
  version_.fetch_add(1);
}

void IndirectCommandBuffer::setComputePipelineState(uint64_t index,
                                                    const std::shared_ptr<ComputePipelineState>& pipeline) {
  const char* what = "set_compute_pipeline_state";
  if (!pipeline) throw ValidationError(std::string(what) + " needs a pipeline, not None");
  if (descriptor_.inheritPipelineState)
    throw ValidationError(std::string(what) +
                          ": this indirect command buffer's descriptor has inherit_pipeline_state set: its commands "
                          "use the pipeline of the encoder that executes them");
  check_same_device(*pipeline->device(), *device_, "the pipeline");
  if (!pipeline->supportIndirectCommandBuffers())
    throw ValidationError(std::string(what) + ": the pipeline of kernel '" + pipeline->function()->name() +
                          "' was not made with support_indirect_command_buffers=True, which Metal requires of "
                          "pipelines in indirect command buffers (pass it to ComputePipelineState / "
                          "make_compute_pipeline_state)");
  std::lock_guard<std::mutex> lock(mutex_);
  command(index, what).pipeline = pipeline;
}

void IndirectCommandBuffer::setKernelBuffer(uint64_t index, const std::shared_ptr<Buffer>& buffer, uint64_t offset,
                                            uint32_t slot) {
  const char* what = "set_kernel_buffer";
  check_slot(slot, "buffer");
  if (descriptor_.inheritBuffers)
    throw ValidationError(std::string(what) +
                          ": this indirect command buffer's descriptor has inherit_buffers set: its commands use the "
                          "buffers bound on the encoder that executes them");
  if (slot >= descriptor_.maxKernelBufferBindCount)
    throw ValidationError(std::string(what) + ": buffer index " + std::to_string(slot) +
                          " is not below the descriptor's max_kernel_buffer_bind_count (" +
                          std::to_string(descriptor_.maxKernelBufferBindCount) + ")");
  check_buffer_binding(buffer.get(), offset, slot, *device_, what);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& c = command(index, what);
  if (c.buffers.size() <= slot) c.buffers.resize(slot + 1);
  c.buffers[slot] = {buffer, offset};
}

void IndirectCommandBuffer::setThreadgroupMemoryLength(uint64_t index, uint64_t length, uint32_t slot) {
  const uint32_t rounded = threadgroup_memory_length(length, slot, *device_);
  std::lock_guard<std::mutex> lock(mutex_);
  command(index, "set_threadgroup_memory_length").threadgroup_lengths[slot] = rounded;
}

void IndirectCommandBuffer::concurrentDispatchThreadgroups(uint64_t index, Size3 groups, Size3 tg) {
  encodeDispatch(index, Command::Dispatch::Threadgroups, groups, tg);
}

void IndirectCommandBuffer::concurrentDispatchThreads(uint64_t index, Size3 grid, Size3 tg) {
  encodeDispatch(index, Command::Dispatch::Threads, grid, tg);
}

// A dispatch of `size` threadgroups (Threadgroups) or threads (Threads), if the descriptor's
// command types have it.
void IndirectCommandBuffer::encodeDispatch(uint64_t index, Command::Dispatch kind, Size3 size, Size3 tg) {
  const bool groups = kind == Command::Dispatch::Threadgroups;
  const char* what = groups ? "concurrent_dispatch_threadgroups" : "concurrent_dispatch_threads";
  if (!(descriptor_.commandTypes &
        (groups ? IndirectCommandTypeConcurrentDispatch : IndirectCommandTypeConcurrentDispatchThreads)))
    throw ValidationError(std::string(what) + ": the descriptor's command_types lacks IndirectCommandType." +
                          (groups ? "CONCURRENT_DISPATCH" : "CONCURRENT_DISPATCH_THREADS"));
  check_threadgroup_size(tg, what);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& c = command(index, what);
  c.dispatch = kind;
  c.size = size;
  c.threads_per_threadgroup = tg;
}

void IndirectCommandBuffer::setBarrier(uint64_t index, bool barrier) {
  std::lock_guard<std::mutex> lock(mutex_);
  command(index, barrier ? "set_barrier" : "clear_barrier").barrier = barrier;
}

void IndirectCommandBuffer::resetCommand(uint64_t index) {
  check_index(index, "reset");
  std::lock_guard<std::mutex> lock(mutex_);
  commands_[index].reset();
  version_.fetch_add(1);
}

bool IndirectCommandBuffer::hasBarrier(uint64_t index) const {
  check_index(index, "has_barrier");
  std::lock_guard<std::mutex> lock(mutex_);
  return commands_[index] && commands_[index]->barrier;
}

bool IndirectCommandBuffer::isEmpty(uint64_t index) const {
  check_index(index, "is_empty");
  std::lock_guard<std::mutex> lock(mutex_);
  return !commands_[index] || commands_[index]->dispatch == Command::Dispatch::None;
}

std::vector<IndirectCommandBuffer::Command> IndirectCommandBuffer::commands(uint64_t location, uint64_t length,
                                                                            uint64_t* version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Command> out(length);
  for (uint64_t i = 0; i < length; ++i)
    if (const auto& c = commands_[location + i]) out[i] = *c;
  if (version) *version = version_.load();
  return out;
}

std::shared_ptr<const IndirectSnapshot> IndirectCommandBuffer::snapshot(uint64_t location, uint64_t length) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t v = version_.load();
  for (const auto& k : kept_)
    if (k.location == location && k.length == length && k.version == v) return k.snapshot;
  return nullptr;
}

void IndirectCommandBuffer::keepSnapshot(uint64_t location, uint64_t length, uint64_t version,
                                         std::shared_ptr<const IndirectSnapshot> snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (version != version_.load()) return;  // changed meanwhile (another thread)
  // Stale ones go; a few ranges are kept (a program alternates between buffer parities).
  std::vector<Kept> kept;
  for (auto& k : kept_)
    if (k.version == version && !(k.location == location && k.length == length)) kept.push_back(std::move(k));
  if (kept.size() >= 8) kept.erase(kept.begin());
  kept.push_back({location, length, version, std::move(snapshot)});
  kept_.swap(kept);
}

IndirectComputeCommand::IndirectComputeCommand(std::shared_ptr<IndirectCommandBuffer> icb, uint64_t index)
    : icb_(std::move(icb)), index_(index) {
  if (!icb_) throw ValidationError("indirect_compute_command needs an indirect command buffer");
  if (index_ >= icb_->size())
    throw ValidationError("indirect_compute_command: index " + std::to_string(index_) +
                          " is out of range for an indirect command buffer of " + std::to_string(icb_->size()) +
                          " commands");
}

}  // namespace metallic
