#include "backends/cuda/cuda_buffer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "metallic/error.h"

namespace metallic::cuda {

CudaBuffer::CudaBuffer(std::shared_ptr<CudaContext> context, uint64_t length, StorageMode mode)
    : context_(std::move(context)), length_(length), mode_(mode) {
  context_->ensure_usable();
  context_->make_current();
  const auto& api = context_->api();
  CUresult r = api.cuMemAlloc_v2(&device_, length + kAllocationGap);
  // Memory freed while kernels ran may still be kept (CudaContext::release): retry once the
  // device is idle enough to free it.
  if (r == CUDA_ERROR_OUT_OF_MEMORY && context_->release_if_idle())
    r = api.cuMemAlloc_v2(&device_, length + kAllocationGap);
  if (r != CUDA_SUCCESS)
    throw Error("cannot allocate " + std::to_string(length) + " bytes on cuda:" + std::to_string(context_->ordinal()) +
                ": " + describe(r));
  // New Metal buffers read as zeros; so do ours.
  context_->check(api.cuMemsetD8Async(device_, 0, length, nullptr), "clearing a new buffer");
  // Queues use non-blocking streams, which do not wait for the legacy stream: finish here.
  context_->check(api.cuStreamSynchronize(nullptr), "clearing a new buffer");
}

CudaBuffer::CudaBuffer(std::shared_ptr<CudaContext> context, CUdeviceptr address, uint64_t length,
                       std::shared_ptr<void> owner)
    : context_(std::move(context)),
      length_(length),
      mode_(StorageMode::Shared),
      device_(address),
      host_valid_(false),
      owner_(std::move(owner)) {
  context_->ensure_usable();
  context_->make_current();
  const auto& api = context_->api();
  unsigned type = 0;
  int ordinal = -1;
  // Allocations of the virtual memory API may not report every attribute: either will do.
  CUresult by_type = api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, address);
  CUresult by_ordinal = api.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, address);
  if ((by_type != CUDA_SUCCESS && by_ordinal != CUDA_SUCCESS) ||
      (by_type == CUDA_SUCCESS && type == CU_MEMORYTYPE_HOST)) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(address));
    throw ValidationError(
        std::string("address ") + hex +
        " is not CUDA device memory: it cannot be used in place on cuda:" + std::to_string(context_->ordinal()));
  }
  if (by_ordinal == CUDA_SUCCESS && ordinal != context_->ordinal())
    throw ValidationError("this memory lives on cuda:" + std::to_string(ordinal) +
                          ", not on cuda:" + std::to_string(context_->ordinal()));
}

CudaBuffer::~CudaBuffer() {
  const auto& api = context_->api();
  if (context_->healthy() && ready_) {
    context_->make_current();
    api.cuEventDestroy_v2(ready_);
  }
  // Freeing device or pinned memory waits for running kernels: deferred while there are any
  // (CudaContext::release), and never done once the device is unusable.
  if (!owner_) context_->release([api = &api, p = device_] { api->cuMemFree_v2(p); });
  if (host_) {
    if (host_pinned_)
      context_->release([api = &api, p = host_] { api->cuMemFreeHost(p); });
    else
      std::free(host_);
  }
}

void* CudaBuffer::contents() {
  std::lock_guard<std::mutex> lock(mutex_);
  context_->ensure_usable();
  context_->make_current();
  if (!host_) {
    // Pinned memory makes transfers fast and asynchronous; fall back to pageable memory.
    void* p = nullptr;
    if (context_->api().cuMemHostAlloc(&p, length_, 0) == CUDA_SUCCESS) {
      host_pinned_ = true;
    } else {
      p = std::malloc(length_);
      if (!p) throw Error("out of host memory for a buffer of " + std::to_string(length_) + " bytes");
    }
    host_ = static_cast<unsigned char*>(p);
    if (host_valid_) std::memset(host_, 0, length_);
  }
  if (!host_valid_) {
    // The CPU may read only after the work that wrote the buffer completed (Metal's rule),
    // so a plain synchronous copy is enough.
    context_->check(context_->api().cuMemcpyDtoH_v2(host_, device_, length_), "reading a buffer back from the GPU");
    host_valid_ = true;
    views_downloaded_ = writes_.load();
    shadow_.assign(host_, host_ + length_);
    shadow_valid_ = true;
  }
  host_dirty_ = true;  // whoever holds the pointer may write through it
  return host_;
}

void CudaBuffer::viewOpened() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++views_;
}

void CudaBuffer::viewClosed() {
  std::lock_guard<std::mutex> lock(mutex_);
  --views_;
}

void CudaBuffer::refresh_views(uint64_t writes_seen) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (views_ <= 0 || host_valid_ || !host_ || !context_->healthy() || writes_seen <= views_downloaded_) return;
  context_->make_current();
  context_->check(context_->api().cuMemcpyDtoH_v2(host_, device_, length_), "reading a buffer back from the GPU");
  views_downloaded_ = writes_seen;
  // A command lowered since may write it (a later command buffer, still in flight): the
  // view shows what is there now, but the host copy is not current (so not uploaded, nor
  // passed by value to an indirect command buffer's kernels) until that one is done too.
  if (writes_.load() != writes_seen) return;
  host_valid_ = true;
  shadow_.assign(host_, host_ + length_);
  shadow_valid_ = true;
}

void CudaBuffer::didModifyRange(uint64_t, uint64_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (host_) host_dirty_ = true, shadow_valid_ = false;
}

void CudaBuffer::prepare_for_device(CUstream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  prepare_locked(stream);
}

void CudaBuffer::prepare_for_device(CUstream stream, bool written) {
  std::lock_guard<std::mutex> lock(mutex_);
  prepare_locked(stream);
  if (written) host_valid_ = false, host_dirty_ = false, shadow_valid_ = false, ++writes_;  // as device_written()
}

void CudaBuffer::prepare_locked(CUstream stream) {
  if (ready_) {
    // Foreign memory: the producer's work on it comes first. Once done, forget it.
    const auto& api = context_->api();
    if (api.cuEventQuery(ready_) == CUDA_SUCCESS) {
      api.cuEventDestroy_v2(ready_);
      ready_ = nullptr;
    } else {
      context_->check(api.cuStreamWaitEvent(stream, ready_, 0), "ordering after the producer's stream");
    }
  }
  if (!host_) return;
  if (views_ > 0 && host_valid_) host_dirty_ = true;  // an open view may have been written
  if (!host_dirty_) return;
  host_dirty_ = false;
  if (shadow_valid_ && std::memcmp(shadow_.data(), host_, length_) == 0) return;  // only read
  shadow_valid_ = false;
  context_->check(context_->api().cuMemcpyHtoDAsync_v2(device_, host_, length_, stream), "copying a buffer to the GPU");
}

bool CudaBuffer::read_current_host_copy(uint64_t offset, uint64_t length, void* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Never for foreign memory (owner_): its owner may write it on the device at any time
  // without telling us (a CuPy array changed in place), so a host copy left by a host read
  // is not known to be current; kernels read it in place, as before passing by value.
  if (owner_ || !host_ || !host_valid_ || ready_ || offset > length_ || length > length_ - offset) return false;
  std::memcpy(out, host_ + offset, length);
  return true;
}

void CudaBuffer::device_written() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++writes_;
  host_valid_ = false;
  host_dirty_ = false;
  shadow_valid_ = false;
}

}  // namespace metallic::cuda

namespace metallic::cuda {

void CudaBuffer::readyAfter(uintptr_t stream) {
  if (stream == static_cast<uintptr_t>(-1) || stream == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  context_->make_current();
  const auto& api = context_->api();
  if (!ready_) context_->check(api.cuEventCreate(&ready_, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  context_->check(api.cuEventRecord(ready_, reinterpret_cast<CUstream>(stream)), "recording the producer's stream");
}

void CudaBuffer::exportTo(uintptr_t stream) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    context_->ensure_usable();
    context_->make_current();
  }
  // Host writes go up first, ordered before the consumer's work (or at once without a stream).
  if (stream == static_cast<uintptr_t>(-1) || stream == 0) {
    prepare_for_device(nullptr);
    context_->check(context_->api().cuStreamSynchronize(nullptr), "copying a buffer to the GPU");
  } else {
    prepare_for_device(reinterpret_cast<CUstream>(stream));
  }
  device_written();  // the consumer may write: the host copy is stale from now on
}

}  // namespace metallic::cuda
