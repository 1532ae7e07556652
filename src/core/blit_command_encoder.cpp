// BlitCommandEncoder (MTLBlitCommandEncoder): copies, fills and synchronize_resource,
// recorded into the command buffer after their ranges and devices are checked.
#include "core/commands.h"
#include "core/device_checks.h"
#include "core/encoder_checks.h"
#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"

namespace metallic {

BlitCommandEncoder::BlitCommandEncoder(std::shared_ptr<CommandBuffer> buffer) : buffer_(std::move(buffer)) {
  buffer_->markEncoderOpen(true);
}

void BlitCommandEncoder::ensureOpen(const char* what) const { check_encoder_open(ended_, *buffer_, what); }

namespace {
void check_range(const std::shared_ptr<Buffer>& b, uint64_t offset, uint64_t size, const char* what,
                 const char* which) {
  if (!b) throw ValidationError(std::string(what) + ": the " + which + " buffer is None");
  if (offset > b->length() || size > b->length() - offset)
    throw ValidationError(std::string(what) + ": bytes [" + std::to_string(offset) + ", " +
                          std::to_string(offset + size) + ") are outside the " + which + " buffer's " +
                          std::to_string(b->length()) + " bytes");
}
}  // namespace

void BlitCommandEncoder::copyFromBuffer(const std::shared_ptr<Buffer>& source, uint64_t source_offset,
                                        const std::shared_ptr<Buffer>& destination, uint64_t destination_offset,
                                        uint64_t size) {
  ensureOpen("copy_from_buffer");
  check_range(source, source_offset, size, "copy_from_buffer", "source");
  check_range(destination, destination_offset, size, "copy_from_buffer", "destination");
  if (source == destination && source_offset < destination_offset + size && destination_offset < source_offset + size)
    throw ValidationError("copy_from_buffer: source and destination ranges overlap in the same buffer");
  BufferSide from = BufferSide::Local, to = BufferSide::Local;
  check_copy_devices(*source, *destination, *buffer_->commandQueue()->device(), from, to);
  buffer_->commands().commands.emplace_back(
      CopyCommand{source->impl_ptr(), destination->impl_ptr(), source_offset, destination_offset, size, from, to});
}

void BlitCommandEncoder::fillBuffer(const std::shared_ptr<Buffer>& buffer, uint64_t start, uint64_t length,
                                    uint8_t value) {
  ensureOpen("fill_buffer");
  check_range(buffer, start, length, "fill_buffer", "target");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "fill_buffer: the buffer");
  buffer_->commands().commands.emplace_back(FillCommand{buffer->impl_ptr(), start, length, value});
}

void BlitCommandEncoder::synchronizeResource(const std::shared_ptr<Buffer>& buffer) {
  ensureOpen("synchronize_resource");
  if (!buffer) throw ValidationError("synchronize_resource: the buffer is None");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "synchronize_resource: the buffer");
  buffer_->commands().commands.emplace_back(SynchronizeCommand{buffer->impl_ptr()});
}

void BlitCommandEncoder::endEncoding() {
  if (ended_) return;
  ended_ = true;
  buffer_->markEncoderOpen(false);
}

}  // namespace metallic
