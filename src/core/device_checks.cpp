#include "core/device_checks.h"

#include "metallic/buffer.h"
#include "metallic/device.h"
#include "metallic/error.h"

namespace metallic {

std::string device_label(const Device& device) {
  std::string id =
      device.kind() == "cpu" && device.ordinal() == 0 ? "cpu" : device.kind() + ":" + std::to_string(device.ordinal());
  return id + " (" + device.name() + ")";
}

void throw_device_mismatch(const Device& owner, const Device& queue_device, const std::string& what) {
  throw ValidationError(what + " belongs to device " + device_label(owner) +
                        ", but this command buffer's queue runs on " + device_label(queue_device) +
                        ": use a resource of that device, or a queue of " + device_label(owner));
}

void check_copy_devices(const Buffer& source, const Buffer& destination, const Device& queue_device,
                        BufferSide& source_side, BufferSide& destination_side) {
  const Device& s = *source.device();
  const Device& d = *destination.device();
  const Device& q = queue_device;
  auto side = [&](const Device& other) {
    if (&other == &q) return BufferSide::Local;
    if (q.kind() == "cuda" && other.kind() == "cuda") return BufferSide::Peer;
    return BufferSide::Host;  // other is a CPU device (checked below)
  };
  // GPU queues copy to and from peer GPUs and the CPU; CPU devices (PYMETALLIC_CPU_DEVICES)
  // share host memory, so their queues copy between one another's buffers.
  auto fine = [&](const Device& other) {
    return &other == &q || (q.kind() == "cuda" && (other.kind() == "cuda" || other.kind() == "cpu")) ||
           (q.kind() == "cpu" && other.kind() == "cpu");
  };
  const bool touches_queue = &s == &q || &d == &q;
  if (touches_queue && fine(s) && fine(d)) {
    source_side = side(s);
    destination_side = side(d);
    return;
  }
  std::string what = "copy_from_buffer: a copy from a buffer of " + device_label(s) + " to a buffer of " +
                     device_label(d) + " cannot run on a queue of " + device_label(q);
  if (!touches_queue && &s == &d) throw ValidationError(what + ": encode it on a queue of " + device_label(s));
  if (!touches_queue) throw ValidationError(what + ": encode it on a queue of one of the two devices");
  const Device& other = &s == &q ? d : s;
  if (q.kind() == "cpu" && other.kind() != "cpu")
    throw ValidationError(what + ": copies between the CPU and a GPU run on the GPU's queue; encode it on a queue of " +
                          device_label(other));
  throw ValidationError(what + ": these two devices cannot copy to each other");
}

}  // namespace metallic
