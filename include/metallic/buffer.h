// Buffer: a linear allocation with Metal's storage-mode rules. Mirrors MTLBuffer.
#pragma once

#include <cstdint>
#include <memory>

#include "metallic/types.h"

namespace metallic {

class Device;
namespace backend {
class BufferImpl;
}

// enable_shared_from_this: Python hands these to C++ as the C++ object's own shared_ptr, not one
// whose deleter takes the GIL (python/src/python_gate.h).
class Buffer : public std::enable_shared_from_this<Buffer> {
 public:
  Buffer(std::shared_ptr<Device> device, std::shared_ptr<backend::BufferImpl> impl, uint64_t length, StorageMode mode);

  uint64_t length() const { return length_; }
  StorageMode storageMode() const { return mode_; }
  const std::shared_ptr<Device>& device() const { return device_; }

  // The CPU's view of the contents, brought up to date with completed GPU work.
  // Raises ValidationError for private buffers (they live on the device only).
  void* contents();
  // Managed buffers: tell the device which bytes the CPU changed.
  void didModifyRange(uint64_t start, uint64_t length);
  // A long-lived host view (NumPy array) of contents() opened/closed: while one is open, a
  // discrete GPU keeps the host copy current after each command buffer that writes it.
  void viewOpened();
  void viewClosed();
  // The address a kernel sees (MTLBuffer.gpuAddress): written into argument buffers, whose
  // structs hold `device T*` members. Pair it with ComputeCommandEncoder::useResource.
  uint64_t gpuAddress();

  // Interop (DLPack, CUDA array interface). Before another library uses the memory on
  // `stream` (a CUstream value: 1 legacy default, 2 per-thread, -1 no ordering; 0 on the
  // CPU): work committed so far that uses this buffer is ordered before the consumer's (on
  // the CPU: has finished), and host writes have reached the device.
  void prepareExport(uintptr_t stream);
  // Whether the memory belongs to another library (Device::newBufferWithBytesNoCopy).
  bool foreign() const { return foreign_; }
  void markForeign() { foreign_ = true; }

  backend::BufferImpl& impl() const { return *impl_; }
  const std::shared_ptr<backend::BufferImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<Device> device_;
  std::shared_ptr<backend::BufferImpl> impl_;
  uint64_t length_;
  StorageMode mode_;
  bool foreign_ = false;
};

}  // namespace metallic
