#include "metallic/device.h"

#include <cstdlib>
#include <mutex>

#include "core/backend.h"
#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/error.h"
#include "metallic/indirect.h"
#include "metallic/library.h"

namespace metallic {

Device::Device(std::shared_ptr<backend::DeviceImpl> impl) : impl_(std::move(impl)), limits_(impl_->limits()) {}

std::vector<std::shared_ptr<Device>> Device::all() {
  // Devices are enumerated once per process: a CUDA context or a thread pool is costly,
  // and the same GPU must be the same Device object for every caller.
  // (A static initialised by a lambda, not std::call_once: an exception thrown inside
  // call_once cannot unwind through pthread_once and aborts the process.)
  static const std::vector<std::shared_ptr<Device>> devices = [] {
    std::vector<std::shared_ptr<Device>> found;
    for (const backend::Backend& b : backend::backends())
      for (auto& impl : b.enumerate()) found.push_back(std::make_shared<Device>(impl));
    return found;
  }();
  return devices;
}

std::shared_ptr<Device> Device::default_device() {
  auto devices = all();
  const char* wanted = std::getenv("PYMETALLIC_DEVICE");
  std::string want = wanted ? wanted : "";
  if (!want.empty()) {
    std::string kind = want, index;
    auto colon = want.find(':');
    if (colon != std::string::npos) kind = want.substr(0, colon), index = want.substr(colon + 1);
    int ordinal = 0;
    if (!index.empty()) {
      char* end = nullptr;
      ordinal = static_cast<int>(std::strtol(index.c_str(), &end, 10));
      if (*end != '\0') throw Error("PYMETALLIC_DEVICE='" + want + "' is not of the form cpu, cuda or cuda:N");
    }
    for (auto& d : devices)
      if (d->kind() == kind && d->ordinal() == ordinal) return d;
    std::string known;
    for (auto& d : devices) known += (known.empty() ? "" : ", ") + d->kind() + ":" + std::to_string(d->ordinal());
    throw DeviceError("PYMETALLIC_DEVICE='" + want + "' names no device here; devices: " + known);
  }
  if (devices.empty()) throw DeviceError("no compute device found");
  return devices.front();  // CUDA GPUs come first
}

std::string Device::name() const { return impl_->name(); }
std::string Device::kind() const { return impl_->kind(); }
int Device::ordinal() const { return impl_->ordinal(); }

std::shared_ptr<Buffer> Device::newBuffer(uint64_t length, StorageMode mode) {
  if (length == 0) throw ValidationError("a buffer must have a length of at least 1 byte");
  int m = static_cast<int>(mode);
  if (m < 0 || m > 2) throw ValidationError("unknown storage mode " + std::to_string(m));
  return std::make_shared<Buffer>(shared_from_this(), impl_->allocate(length, mode), length, mode);
}

std::shared_ptr<Library> Device::newLibrary(const std::string& source, const CompileOptions& options) {
  return std::make_shared<Library>(shared_from_this(), source, options);
}

std::shared_ptr<ComputePipelineState> Device::newComputePipelineState(const std::shared_ptr<Function>& function,
                                                                      bool supportIndirectCommandBuffers) {
  return std::make_shared<ComputePipelineState>(shared_from_this(), function, supportIndirectCommandBuffers);
}

std::shared_ptr<IndirectCommandBuffer> Device::newIndirectCommandBuffer(
    const IndirectCommandBufferDescriptor& descriptor, uint64_t maxCommandCount, uint64_t options) {
  // MTLResourceOptions: the storage mode is bits 4..7 (shared 0, managed 1, private 2).
  if ((options >> 4 & 0xf) > 2 || (options & ~uint64_t(0x3ff)) != 0)
    throw ValidationError("new_indirect_command_buffer: unknown resource options " + std::to_string(options));
  return std::make_shared<IndirectCommandBuffer>(shared_from_this(), descriptor, maxCommandCount);
}

std::shared_ptr<Buffer> Device::newBufferWithBytesNoCopy(uint64_t address, uint64_t length, std::shared_ptr<void> owner,
                                                         uintptr_t ready_stream) {
  if (length == 0) throw ValidationError("a buffer must have a length of at least 1 byte");
  if (address == 0) throw ValidationError("cannot make a buffer of a null pointer");
  if (!owner) owner = std::make_shared<int>(0);  // marks the memory as not ours to free
  auto impl = impl_->wrap(address, length, std::move(owner));
  if (ready_stream) impl->readyAfter(ready_stream);
  auto buffer = std::make_shared<Buffer>(shared_from_this(), impl, length, StorageMode::Shared);
  buffer->markForeign();
  return buffer;
}

uintptr_t Device::interopStream() { return impl_->interopStream(); }

std::shared_ptr<CommandQueue> Device::newCommandQueue() { return std::make_shared<CommandQueue>(shared_from_this()); }

}  // namespace metallic
