// One CUDA device as the rest of the backend sees it: the driver, the primary context,
// and the device's health. A fault inside a kernel (illegal address, trap) poisons a CUDA
// context for good; from then on every call says so instead of failing obscurely.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/driver_api.h"

namespace metallic::cuda {

class CudaContext {
 public:
  CudaContext(const DriverApi* api, int ordinal);

  const DriverApi& api() const { return *api_; }
  int ordinal() const { return ordinal_; }
  int sm_version() const { return sm_; }  // 90 for sm_90
  CUdevice device() const { return device_; }
  CUcontext context() const { return context_; }
  // Lets this context's work reach `peer`'s memory directly (NVLink/PCIe peer access) when
  // the two GPUs allow it, once per pair and direction; false when they cannot (copies are
  // then staged through the host by the driver).
  bool enable_peer_access(const CudaContext& peer) const;
  // Whether this GPU can wait for and write 64-bit values in place (shared events).
  bool has_stream_memory_ops() const;
  int attribute(int which) const;

  // Makes this device's context current on the calling thread (cheap when it already is).
  void make_current() const;
  // Throws DeviceError if an earlier fault poisoned the context.
  void ensure_usable() const;
  // Like cuda::check, and records sticky errors (faults) as poisoning the context. Inline,
  // and `what` made into a message only on failure: a launch checks its result every time.
  void check(CUresult result, const char* what) const {
    if (result != CUDA_SUCCESS) fail(result, what);
  }
  void check(CUresult result, const std::string& what) const {
    if (result != CUDA_SUCCESS) fail(result, what);
  }
  [[noreturn]] void fail(CUresult result, const std::string& what) const;
  void poison(const std::string& why) const;
  std::string poisoned() const;
  // A non-blocking stream of this context for interop hand-offs, made on first use.
  CUstream interop_stream() const;
  bool healthy() const { return !is_poisoned_.load(std::memory_order_acquire); }

  // Deferred release. Freeing memory made by cuMemAlloc or cuMemHostAlloc, or unloading a
  // module, "may perform implicit synchronization" (CUDA driver API, cuMemFree): it waits for
  // the device's running kernels, on whichever thread drops the last reference - the
  // program's own thread, holding the GIL, behind an endless kernel: for good. So `free` runs
  // now only when none of this context's streams (track_stream) has work queued; otherwise it
  // is kept and run once they are all idle, which release_if_idle checks (called when a
  // command buffer completes, at each release, and before an allocation that failed is
  // retried). Never run once the context is poisoned: the device may still be running an
  // abandoned kernel, and the memory is left to the process's end.
  void release(std::function<void()> free) const;
  // Runs the kept releases if every tracked stream is idle; returns whether any ran.
  bool release_if_idle() const;
  // The streams whose work a release waits for (queues' streams, the interop stream).
  void track_stream(CUstream stream) const;
  void untrack_stream(CUstream stream) const;

 private:
  const DriverApi* api_;
  int ordinal_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  int sm_ = 0;
  mutable std::mutex mutex_;
  mutable CUstream interop_ = nullptr;
  mutable std::string poisoned_;
  mutable std::atomic<bool> is_poisoned_{false};  // checked on every call: no lock, no copy
  mutable std::mutex release_mutex_;              // streams_ and kept_
  mutable std::vector<CUstream> streams_;
  mutable std::vector<std::function<void()>> kept_;
  mutable std::atomic<bool> has_kept_{false};
  bool streams_idle_locked() const;
};

// Errors after which the context is unusable (cuda.h: 700 and the kernel-fault family).
bool is_sticky(CUresult result);

}  // namespace metallic::cuda
