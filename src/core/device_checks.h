// Which device a command's resources belong to, checked when the command is encoded: a
// backend lowers only commands whose resources it owns (or that core marked as a peer's or
// the host's), never a buffer of another backend cast to its own type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/commands.h"

namespace metallic {

class Buffer;
class Device;

// "cuda:1 (NVIDIA H200)", "cpu (CPU: ...)": two identical GPUs differ by their number.
std::string device_label(const Device& device);

// Throws ValidationError naming both devices (`what`: the resource, "the pipeline").
[[noreturn]] void throw_device_mismatch(const Device& owner, const Device& queue_device, const std::string& what);

// Throws ValidationError naming both devices unless `owner` is `queue_device`. Inline, and
// the message made only on failure: encoders check every binding of every dispatch.
inline void check_same_device(const Device& owner, const Device& queue_device, const char* what) {
  if (&owner != &queue_device) throw_device_mismatch(owner, queue_device, what);
}
inline void check_same_device(const Device& owner, const Device& queue_device, const std::string& what) {
  if (&owner != &queue_device) throw_device_mismatch(owner, queue_device, what);
}

// A blit copy between `source` and `destination` encoded on a queue of `queue_device`:
// legal when one buffer is the queue's and the other is too, or is on another CUDA device
// (a peer copy) or on the CPU device (a host copy) while the queue is a GPU's. Copies between
// the CPU and a GPU run on the GPU's queue. Sets the two sides, or throws ValidationError.
void check_copy_devices(const Buffer& source, const Buffer& destination, const Device& queue_device,
                        BufferSide& source_side, BufferSide& destination_side);

}  // namespace metallic
