// CommandQueue (MTLCommandQueue): makes command buffers; their commits go to the backend's
// queue (backend::QueueImpl).
#include "core/backend.h"
#include "metallic/command.h"
#include "metallic/device.h"

namespace metallic {

CommandQueue::CommandQueue(std::shared_ptr<Device> device)
    : device_(std::move(device)), impl_(device_->impl().newQueue()) {}

CommandQueue::~CommandQueue() = default;

std::shared_ptr<CommandBuffer> CommandQueue::commandBuffer() {
  return std::make_shared<CommandBuffer>(shared_from_this());
}

}  // namespace metallic
