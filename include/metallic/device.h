// Device: one place kernels run (a CUDA GPU or the CPU). Mirrors MTLDevice.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "metallic/types.h"

namespace metallic {

namespace backend {
class DeviceImpl;
}
class Buffer;
class Library;
class Function;
class ComputePipelineState;
class CommandQueue;
class SharedEvent;
class IndirectCommandBuffer;
struct IndirectCommandBufferDescriptor;

class Device : public std::enable_shared_from_this<Device> {
 public:
  explicit Device(std::shared_ptr<backend::DeviceImpl> impl);

  // Every device of every backend present, CUDA GPUs first, the CPU last.
  static std::vector<std::shared_ptr<Device>> all();
  // The first CUDA GPU, else the CPU; PYMETALLIC_DEVICE=cpu|cuda|cuda:N overrides.
  static std::shared_ptr<Device> default_device();

  std::string name() const;
  std::string kind() const;  // "cuda" or "cpu"
  int ordinal() const;       // N of cuda:N, 0 for the CPU
  const DeviceLimits& limits() const { return limits_; }

  std::shared_ptr<Buffer> newBuffer(uint64_t length, StorageMode mode = StorageMode::Shared);
  std::shared_ptr<Library> newLibrary(const std::string& source, const CompileOptions& options = {});
  std::shared_ptr<ComputePipelineState> newComputePipelineState(const std::shared_ptr<Function>& function,
                                                                bool supportIndirectCommandBuffers = false);
  // Metal's newIndirectCommandBufferWithDescriptor:maxCommandCount:options: (include/metallic/indirect.h);
  // `options` (a storage mode) is checked and otherwise ignored: the commands live in host memory.
  std::shared_ptr<IndirectCommandBuffer> newIndirectCommandBuffer(const IndirectCommandBufferDescriptor& descriptor,
                                                                  uint64_t maxCommandCount, uint64_t options = 0);
  std::shared_ptr<CommandQueue> newCommandQueue();
  // Metal's newSharedEvent: usable by queues of every device (src/core/event.cpp).
  std::shared_ptr<SharedEvent> newSharedEvent();
  // Memory another library owns, used in place (Metal's newBufferWithBytesNoCopy): a host
  // pointer on the CPU, a device pointer on a GPU. `owner` is released once neither the
  // buffer nor any command using it needs the memory. On a GPU, kernels that use the buffer
  // wait for the work queued on `ready_stream` (a CUstream value) before this call.
  std::shared_ptr<Buffer> newBufferWithBytesNoCopy(uint64_t address, uint64_t length, std::shared_ptr<void> owner,
                                                   uintptr_t ready_stream = 0);
  // A stream of this device for interop hand-offs (0 on the CPU).
  uintptr_t interopStream();

  backend::DeviceImpl& impl() const { return *impl_; }

 private:
  std::shared_ptr<backend::DeviceImpl> impl_;
  DeviceLimits limits_;
};

}  // namespace metallic
