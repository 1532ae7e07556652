// What every encoding call checks first, for the compute and blit encoders alike, and the
// checks the compute encoder's bindings share with the commands of indirect command buffers
// (Metal's validation layer checks both the same way; one misuse gets one message).
#pragma once

#include <string>

#include "core/device_checks.h"
#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"

namespace metallic {

// Throws ValidationError naming `what` if the encoder has ended or its command buffer was
// already committed.
inline void check_encoder_open(bool ended, const CommandBuffer& buffer, const char* what) {
  if (ended) throw ValidationError(std::string(what) + " after end_encoding(): make a new encoder");
  if (buffer.committed())
    throw ValidationError(std::string(what) + " on an encoder whose command buffer was already committed");
}

// "(w, h, d)", for messages.
inline std::string size3_text(Size3 s) {
  return "(" + std::to_string(s.width) + ", " + std::to_string(s.height) + ", " + std::to_string(s.depth) + ")";
}

// A buffer or threadgroup memory index: Metal has 31 of each (`what`: "buffer", "threadgroup memory").
inline void check_slot(uint32_t index, const char* what) {
  if (index > 30)
    throw ValidationError(std::string(what) + " index " + std::to_string(index) +
                          " is out of range: Metal has 31 slots, 0 to 30");
}

// A buffer bound at `index` from `offset` by `what` (set_buffer, set_kernel_buffer) on `device`.
inline void check_buffer_binding(const Buffer* buffer, uint64_t offset, uint32_t index, const Device& device,
                                 const char* what) {
  if (!buffer)
    throw ValidationError(std::string(what) + " needs a buffer, not None (index " + std::to_string(index) + ")");
  if (buffer->device().get() != &device)
    throw_device_mismatch(*buffer->device(), device, "the buffer at index " + std::to_string(index));
  if (offset >= buffer->length())
    throw ValidationError(std::string(what) + " offset " + std::to_string(offset) + " is past the end of a " +
                          std::to_string(buffer->length()) + "-byte buffer (index " + std::to_string(index) + ")");
}

// Threadgroup memory of `length` bytes at `index`, rounded up to Metal's multiple of 16 (as
// Metal's validation layer suggests) and checked against the device's limit.
inline uint32_t threadgroup_memory_length(uint64_t length, uint32_t index, const Device& device) {
  check_slot(index, "threadgroup memory");
  const uint64_t rounded = (length + 15) / 16 * 16;
  const auto limit = device.limits().max_threadgroup_memory_length;
  if (length > limit || rounded > limit)
    throw ValidationError("threadgroup memory length " + std::to_string(length) + " at index " + std::to_string(index) +
                          " exceeds the device's limit of " + std::to_string(limit) + " bytes");
  return static_cast<uint32_t>(rounded);
}

// Threads per threadgroup of a dispatch: no dimension may be 0.
inline void check_threadgroup_size(Size3 tg, const char* what) {
  if (tg.width == 0 || tg.height == 0 || tg.depth == 0)
    throw ValidationError(std::string(what) + ": threads per threadgroup " + size3_text(tg) + " has a zero dimension");
}

}  // namespace metallic
