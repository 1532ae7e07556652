#include "backends/cuda/cuda_context.h"

#include "metallic/error.h"

#include <algorithm>
#include <map>
#include <utility>

namespace metallic::cuda {

bool is_sticky(CUresult r) {
  return r == 700 || r == 702 || r == 710 || r == 714 || r == 715 || r == 716 || r == 717 || r == 718 || r == 719 ||
         r == 999;
}

CudaContext::CudaContext(const DriverApi* api, int ordinal) : api_(api), ordinal_(ordinal) {
  cuda::check(api_->cuDeviceGet(&device_, ordinal), "cuDeviceGet");
  cuda::check(api_->cuDevicePrimaryCtxRetain(&context_, device_), "cuDevicePrimaryCtxRetain");
  sm_ = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10 +
        attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
}

int CudaContext::attribute(int which) const {
  int v = 0;
  api_->cuDeviceGetAttribute(&v, which, device_);
  return v;
}

void CudaContext::make_current() const {
  thread_local CUcontext current = nullptr;
  if (current == context_) return;
  cuda::check(api_->cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  current = context_;
}

bool CudaContext::enable_peer_access(const CudaContext& peer) const {
  static std::mutex mutex;
  static std::map<std::pair<CUcontext, CUcontext>, bool> known;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(context_, peer.context_);
  auto it = known.find(key);
  if (it != known.end()) return it->second;
  int can = 0;
  bool enabled = false;
  if (api_->cuDeviceCanAccessPeer(&can, device_, peer.device_) == CUDA_SUCCESS && can) {
    make_current();
    CUresult r = api_->cuCtxEnablePeerAccess(peer.context_, 0);
    enabled = r == CUDA_SUCCESS || r == CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
  }
  known[key] = enabled;
  return enabled;
}

bool CudaContext::has_stream_memory_ops() const {
  // The attribute's number has kept its value (93) through the API's renames, but a driver
  // that reports 0 yet takes the calls is still used: a refusal comes back as an error.
  return api_->cuStreamWaitValue64 && api_->cuStreamWriteValue64;
}

CUstream CudaContext::interop_stream() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!interop_) {
    make_current();
    cuda::check(api_->cuStreamCreate(&interop_, CU_STREAM_NON_BLOCKING), "creating the interop stream");
    track_stream(interop_);
  }
  return interop_;
}

void CudaContext::track_stream(CUstream stream) const {
  std::lock_guard<std::mutex> lock(release_mutex_);
  streams_.push_back(stream);
}

void CudaContext::untrack_stream(CUstream stream) const {
  std::lock_guard<std::mutex> lock(release_mutex_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
}

bool CudaContext::streams_idle_locked() const {
  make_current();
  for (CUstream s : streams_)
    if (api_->cuStreamQuery(s) == CUDA_ERROR_NOT_READY) return false;
  return true;
}

void CudaContext::release(std::function<void()> free) const {
  if (!healthy()) return;  // left to the process's end (see the header)
  std::vector<std::function<void()>> now;
  {
    std::lock_guard<std::mutex> lock(release_mutex_);
    if (!streams_idle_locked()) {
      kept_.push_back(std::move(free));
      has_kept_.store(true, std::memory_order_release);
      return;
    }
    now.swap(kept_);
    has_kept_.store(false, std::memory_order_release);
  }
  // Outside the lock: a release may destroy a stream, which untracks it first.
  make_current();
  for (auto& f : now) f();
  free();
}

bool CudaContext::release_if_idle() const {
  if (!has_kept_.load(std::memory_order_acquire) || !healthy()) return false;
  std::vector<std::function<void()>> now;
  {
    std::lock_guard<std::mutex> lock(release_mutex_);
    if (kept_.empty() || !streams_idle_locked()) return false;
    now.swap(kept_);
    has_kept_.store(false, std::memory_order_release);
  }
  make_current();
  for (auto& f : now) f();
  return true;
}

std::string CudaContext::poisoned() const {
  if (healthy()) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  return poisoned_;
}

void CudaContext::poison(const std::string& why) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (poisoned_.empty()) poisoned_ = why;
  is_poisoned_.store(true, std::memory_order_release);
}

void CudaContext::ensure_usable() const {
  if (healthy()) return;
  std::string p = poisoned();
  if (!p.empty())
    throw DeviceError("CUDA device cuda:" + std::to_string(ordinal_) + " is unusable after an earlier fault (" + p +
                      "); CUDA cannot recover from this inside a process: restart the program");
}

void CudaContext::fail(CUresult result, const std::string& what) const {
  std::string text = what + ": " + describe(result);
  if (is_sticky(result)) {
    poison(text);
    throw DeviceError(text);
  }
  throw Error(text);
}

}  // namespace metallic::cuda
