// A buffer on a discrete GPU with Metal's storage-mode rules: device memory, plus (for
// shared and managed buffers) a pinned host copy that is moved only when the program's own
// host reads or writes need it.
//
// State: `host_valid_` the host copy equals the device's; `host_dirty_` the host may have
// written since the device last saw it (anyone who took contents() may write through it).
// Uploads happen at commit for buffers a command buffer uses; downloads happen when the
// host asks for contents() after the device wrote. A host copy that was only read is not
// uploaded again: it is compared with the bytes that came down (`shadow_`).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/cuda/cuda_context.h"
#include "core/backend.h"

namespace metallic::cuda {

// Bytes left unused after every allocation this backend makes for kernels' data (buffers and
// set_bytes copies). cuMemAlloc packs small allocations back to back, so without a gap the
// end of one buffer is the start of the next: an access just past one would land inside its
// neighbour, and validation mode, which knows a pointer only by its address, would take it
// for an in-bounds access of the neighbour.
constexpr uint64_t kAllocationGap = 256;

class CudaBuffer : public backend::BufferImpl {
 public:
  CudaBuffer(std::shared_ptr<CudaContext> context, uint64_t length, StorageMode mode);
  // Device memory another library owns, used in place; `owner` is released with the buffer.
  CudaBuffer(std::shared_ptr<CudaContext> context, CUdeviceptr address, uint64_t length, std::shared_ptr<void> owner);
  ~CudaBuffer() override;

  void* contents() override;
  void didModifyRange(uint64_t start, uint64_t length) override;
  void viewOpened() override;
  void viewClosed() override;
  // After a command buffer that wrote this buffer completed (`writes_seen`: writes() after
  // its last command that may write it): bring an open view up to date. The host copy is
  // current only if no command lowered since may write the buffer: else the bytes may predate
  // that later writer, and taking them as current would keep them in the view after it ran,
  // and pass them by value to indirect command buffers' kernels (cuda_graphs.cpp).
  void refresh_views(uint64_t writes_seen);
  // How many commands lowered so far may write this buffer (device_written, prepare_for_device
  // with `written`, exportTo): what WrittenBuffers notes with each buffer it keeps.
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

  // Queue side, called at commit in command order.
  void prepare_for_device(CUstream stream);  // uploads host writes the device has not seen
  void device_written();                     // a command may write it: the host copy is stale
  // Both (device_written when `written`) under one lock: what a dispatch does to each buffer.
  void prepare_for_device(CUstream stream, bool written);
  CUdeviceptr address() const { return device_; }
  uint64_t length() const { return length_; }
  // Copies bytes [offset, offset + length) of the host copy to `out` when the host copy is
  // what the device will see: it exists and no command lowered since it was last current may
  // have written the buffer (host_valid_), and it is not foreign memory. False otherwise
  // (nothing copied). For indirect command buffers' graphs, which pass such `constant T&`
  // data by value (cuda_graphs.cpp).
  bool read_current_host_copy(uint64_t offset, uint64_t length, void* out);
  const CudaContext& context() const { return *context_; }
  uint64_t gpuAddress() override { return device_; }
  void exportTo(uintptr_t stream) override;
  void readyAfter(uintptr_t stream) override;

 private:
  std::shared_ptr<CudaContext> context_;
  uint64_t length_;
  StorageMode mode_;
  CUdeviceptr device_ = 0;
  unsigned char* host_ = nullptr;
  bool host_pinned_ = false;
  std::vector<unsigned char> shadow_;  // what came down from the device last
  bool shadow_valid_ = false;
  bool host_valid_ = true;  // both start zeroed
  bool host_dirty_ = false;
  int views_ = 0;                    // open host views: the host may read or write at any time
  std::atomic<uint64_t> writes_{0};  // see writes()
  uint64_t views_downloaded_ = 0;    // the writes() value whose results the host copy has
  std::shared_ptr<void> owner_;      // foreign memory: whoever allocated it (not freed here)
  CUevent ready_ = nullptr;          // foreign memory: the producer's pending work, to wait for
  std::mutex mutex_;
  void prepare_locked(CUstream stream);  // prepare_for_device's work, mutex_ held
};

}  // namespace metallic::cuda
