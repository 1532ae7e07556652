// CommandQueue (MTLCommandQueue): makes command buffers; their commits go to the backend's
// queue (backend::QueueImpl).
#include "core/backend.h"
#include "core/commands.h"
#include "metallic/command.h"
#include "metallic/device.h"

namespace metallic {

CommandQueue::CommandQueue(std::shared_ptr<Device> device)
    : device_(std::move(device)), impl_(device_->impl().newQueue()) {}

CommandQueue::~CommandQueue() = default;

namespace {
// A command buffer and its command list in one allocation (made for every dispatch in the
// original API's pattern). The list is destroyed before the buffer's own members, as the
// list a plain CommandBuffer owns is destroyed before its backend state.
struct CommandBufferWithList final : CommandBuffer {
  CommandList list;
  explicit CommandBufferWithList(std::shared_ptr<CommandQueue> queue) : CommandBuffer(std::move(queue), &list) {}
};
}  // namespace

std::shared_ptr<CommandBuffer> CommandQueue::commandBuffer() {
  return std::make_shared<CommandBufferWithList>(shared_from_this());
}

}  // namespace metallic
