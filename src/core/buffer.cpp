#include "metallic/buffer.h"

#include "core/backend.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"

namespace metallic {

Buffer::Buffer(std::shared_ptr<Device> device, std::shared_ptr<backend::BufferImpl> impl, uint64_t length,
               StorageMode mode)
    : device_(std::move(device)), impl_(std::move(impl)), length_(length), mode_(mode) {}

void* Buffer::contents() {
  if (mode_ == StorageMode::Private)
    throw ValidationError(
        "a private buffer lives on the device only: copy it into a shared buffer with a blit encoder to read it");
  return impl_->contents();
}

void Buffer::didModifyRange(uint64_t start, uint64_t length) {
  if (start > length_ || length > length_ - start)
    throw ValidationError("did_modify_range(" + std::to_string(start) + ", " + std::to_string(length) +
                          ") is outside the buffer's " + std::to_string(length_) + " bytes");
  impl_->didModifyRange(start, length);
}

void Buffer::viewOpened() { impl_->viewOpened(); }
uint64_t Buffer::gpuAddress() { return impl_->gpuAddress(); }
void Buffer::viewClosed() { impl_->viewClosed(); }

void Buffer::prepareExport(uintptr_t stream) {
  auto [last, queue] = impl_->lastUse();
  if (device_->kind() == "cpu") {
    // CPU memory has no streams: the consumer may read as soon as we return.
    if (last && last->status() != CommandBufferStatus::NotEnqueued) last->waitUntilCompleted();
  } else if (queue && stream != static_cast<uintptr_t>(-1)) {
    queue->impl().streamWait(stream);
  }
  impl_->exportTo(stream);
}

}  // namespace metallic
