// Completion of a CUDA queue's command buffers: the outcome of a commit is learnt from the
// stream (or its end event) when the program waits or polls, or by the queue's notifier
// thread when the command buffer has completed handlers.
#include "backends/cuda/cuda_completion.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_queue.h"
#include "core/kernel_diagnostics.h"
#include "metallic/command.h"
#include "metallic/event.h"

namespace metallic::cuda {

EventPool::~EventPool() {
  if (!context_->healthy()) return;
  for (CUevent e : free_) context_->api().cuEventDestroy_v2(e);
}

CUevent EventPool::get() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      CUevent e = free_.back();
      free_.pop_back();
      return e;
    }
  }
  CUevent e = nullptr;
  context_->check(context_->api().cuEventCreate(&e, flags_), "cuEventCreate");
  return e;
}

void EventPool::put(CUevent e) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(e);
}

std::string Pending::kernel_names() const {
  std::string out;
  for (size_t i = 0; i < kernel_count; ++i) {
    const std::string& n = *kernels[i];
    if (out.find("'" + n + "'") == std::string::npos) out += (out.empty() ? "kernel '" : ", '") + n + "'";
  }
  return out.empty() ? "a command buffer" : out;
}

Pending::~Pending() {
  if (!context->healthy()) return;
  if (start) events->put(start);
  if (end) events->put(end);
  if (done) events->put(done);
  if (!scratch.empty())
    context->release([api = &context->api(), scratch = std::move(scratch)] {
      for (auto p : scratch) api->cuMemFree_v2(p);
    });
  // This command buffer is done: what was freed while it ran can go now if nothing else runs.
  context->release_if_idle();
}

// Learns the outcome of `buffer` from its end event and finishes it.
namespace {

// Hands the findings and log records of the command buffer's dispatches to its collector,
// as the CPU's callbacks do while the kernel runs. Returns a failure's text, or "".
std::string collect_diagnostics(CommandBuffer& buffer, Pending& pending) {
  const auto& ctx = *pending.context;
  const auto& api = ctx.api();
  std::vector<metal_diag_finding> findings(METAL_DIAG_DEV_FINDINGS);
  std::vector<unsigned char> log;
  for (const DiagDispatch& g : pending.diags) {
    metal_diag_dev head;
    if (api.cuMemcpyDtoH_v2(&head, g.block, sizeof head) != CUDA_SUCCESS ||
        api.cuMemcpyDtoH_v2(findings.data(), g.block + g.findings_at, findings.size() * sizeof(metal_diag_finding)) !=
            CUDA_SUCCESS)
      return "reading the validation findings of kernel '" + *g.kernel + "' back from the GPU failed";
    const uint64_t used = std::min<uint64_t>(head.log_used, head.log_capacity);
    log.resize(used);
    if (used && api.cuMemcpyDtoH_v2(log.data(), g.block + g.log_at, used) != CUDA_SUCCESS)
      return "reading the log of kernel '" + *g.kernel + "' back from the GPU failed";
    diag::Collector& collector = buffer.diagnostics();
    metal_diag d;
    collector.begin(d, *g.kernel, g.validation);
    uint64_t reported = 0;
    for (unsigned k = 0; k < METAL_DIAG_DEV_FINDINGS; ++k)
      if (head.finding_keys[k]) {
        findings[k].file[sizeof findings[k].file - 1] = 0;
        findings[k].name[sizeof findings[k].name - 1] = 0;
        d.report(&d, &findings[k]), ++reported;
      }
    if (head.findings_total > reported) collector.findings_total += head.findings_total - reported;
    // Records: a u32 size, the record, padding to 4 bytes; a record that did not fit left
    // no bytes (its claim passed the capacity), so the walk stops at the first such gap.
    uint64_t at = 0;
    while (at + 4 <= used) {
      uint32_t size = 0;
      std::memcpy(&size, log.data() + at, 4);
      if (size == 0 || at + 4 + size > used) break;
      d.log(&d, log.data() + at + 4, size);
      at += 4 + ((size + 3u) & ~3u);
    }
    collector.log_dropped += head.log_dropped;
  }
  return "";
}

}  // namespace

void finish(CommandBuffer& buffer, bool block) {
  finish(buffer, block, std::static_pointer_cast<Pending>(std::atomic_load(&buffer.backend_state)));
}

void finish(CommandBuffer& buffer, bool block, const std::shared_ptr<Pending>& pending) {
  if (!pending) return;  // already finished (or not submitted yet)
  const auto& ctx = *pending->context;
  const auto& api = ctx.api();
  ctx.make_current();
  // With a time limit nothing blocks: the callers poll (wait_until, the notifier).
  if (pending->timeout > 0) block = false;
  CUresult r = CUDA_SUCCESS;
  if (pending->end || pending->done) {
    CUevent e = pending->end ? pending->end : pending->done;
    r = block ? api.cuEventSynchronize(e) : api.cuEventQuery(e);
    if (r == CUDA_SUCCESS) {
      // The stream ran everything before it too: the buffers committed before the queue
      // turned precise (no event of their own) are done without a stream query, which
      // would answer "not ready" while later buffers run (a later buffer completed, an
      // earlier one still running: not the order a queue completes in).
      uint64_t seen = pending->progress->completed.load();
      while (seen < pending->sequence && !pending->progress->completed.compare_exchange_weak(seen, pending->sequence)) {
      }
    }
  } else if (pending->progress->completed.load() < pending->sequence) {
    uint64_t upto = pending->progress->submitted.load();
    if (upto > pending->sequence) pending->progress->precise.store(true);  // see StreamProgress
    r = block ? api.cuStreamSynchronize(pending->progress->stream) : api.cuStreamQuery(pending->progress->stream);
    if (r == CUDA_SUCCESS) {
      uint64_t seen = pending->progress->completed.load();
      while (seen < upto && !pending->progress->completed.compare_exchange_weak(seen, upto)) {}
    }
  }
  if (r == CUDA_ERROR_NOT_READY && pending->timeout > 0 && pending->start) {
    double now = now_seconds();
    if (pending->seen_started.load() == 0 && api.cuEventQuery(pending->start) == CUDA_SUCCESS)
      pending->seen_started.store(now);
    double started = pending->seen_started.load();
    if (started > 0 && now - started > pending->timeout) {
      // A GPU kernel cannot be stopped from the host: the work is abandoned and the device,
      // still running it, is marked unusable (Metal reports a GPU timeout similarly).
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", pending->timeout);
      std::string what = pending->kernel_names() + " ran longer than " + limit +
                         " s (the limit PYMETALLIC_KERNEL_TIMEOUT sets); the GPU cannot stop it, so the device is "
                         "unusable in this process from now on";
      ctx.poison(what);
      buffer.executorFinished(now, what, /*device_lost=*/true);
      return;
    }
  }
  if (r == CUDA_ERROR_NOT_READY) return;
  double observed = now_seconds();
  if (r != CUDA_SUCCESS) {
    if (!ctx.healthy() && pending->timeout > 0) return;  // abandoned after a timeout: see above
    std::string what = "a fault while running " + pending->kernel_names() + ": " + describe(r);
    if (is_sticky(r)) ctx.poison(what);
    for (auto& [event, value] : pending->signals) event->setSignaledValue(value);
    buffer.executorFinished(now_seconds(), what, /*device_lost=*/!ctx.healthy());
    return;
  }
  // Latest first: one download per buffer (refresh_views skips counts it has covered).
  pending->written.for_each_latest_first([](CudaBuffer& b, uint64_t writes) { b.refresh_views(writes); });
  // The queue's earlier buffers are done too: finished now, before this one (commit order),
  // after its views (theirs then need no second download). See StreamProgress::unfinished.
  std::vector<std::shared_ptr<CommandBuffer>> earlier;
  {
    std::lock_guard<std::mutex> lock(pending->progress->mutex);
    auto& unfinished = pending->progress->unfinished;
    while (!unfinished.empty() && unfinished.front().first <= pending->sequence) {
      if (unfinished.front().first < pending->sequence)
        if (auto b = unfinished.front().second.lock()) earlier.push_back(std::move(b));
      unfinished.pop_front();
    }
  }
  for (auto& b : earlier) finish(*b, false);
  if (!pending->diags.empty()) {
    std::lock_guard<std::mutex> lock(pending->diag_mutex);
    if (!pending->diag_collected) {
      pending->diag_failure = collect_diagnostics(buffer, *pending);
      pending->diag_collected = true;
    }
    if (!pending->diag_failure.empty()) {
      buffer.executorFinished(now_seconds(), pending->diag_failure);
      return;
    }
  }
  if (!pending->start || !pending->end) {
    // Without timestamps (the default: two timed events cost more than a kernel launch),
    // the end is when the host saw the work complete.
    buffer.executorFinished(observed, "");
    return;
  }
  float ms = 0;
  api.cuEventElapsedTime(&ms, pending->start, pending->end);
  // Metal reports host-clock seconds: the commit time plus the measured GPU span.
  buffer.executorFinished(pending->host_start + ms * 1e-3, "");
}

struct CudaQueue::Notifier {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<CommandBuffer>> pending;
  bool stop = false;
  std::thread thread;

  static void loop(std::shared_ptr<Notifier> self) {
    for (;;) {
      std::shared_ptr<CommandBuffer> next;
      {
        std::unique_lock<std::mutex> lock(self->mutex);
        self->wake.wait(lock, [&] { return self->stop || !self->pending.empty(); });
        if (self->pending.empty()) return;
        next = std::move(self->pending.front());
        self->pending.pop_front();
      }
      finish(*next, true);
      // With a time limit finish() does not block: poll until the buffer is done.
      // Naps of 1/32 of the time waited (50 us to 2 ms): handlers run within ~3% of the
      // buffer's time after it completes, without a thread spinning for them.
      const auto start = std::chrono::steady_clock::now();
      while (!next->finished()) {
        auto waited = std::chrono::steady_clock::now() - start;
        std::this_thread::sleep_for(std::clamp<std::chrono::steady_clock::duration>(
            waited / 32, std::chrono::microseconds(50), std::chrono::milliseconds(2)));
        finish(*next, true);
      }
    }
  }
};

// Hands `buffer` to the notifier thread (started on first use), which finishes it as soon
// as it is done so that its completed handlers run without the program waiting.
void CudaQueue::notify_when_complete(std::shared_ptr<CommandBuffer> buffer) {
  if (!notifier_) {
    notifier_ = std::make_shared<Notifier>();
    notifier_->thread = std::thread(&Notifier::loop, notifier_);
  }
  {
    std::lock_guard<std::mutex> lock(notifier_->mutex);
    notifier_->pending.push_back(std::move(buffer));
  }
  notifier_->wake.notify_one();
}

// Stops the notifier thread (after the command buffers handed to it are finished).
void CudaQueue::stop_notifier() {
  if (!notifier_) return;
  {
    std::lock_guard<std::mutex> lock(notifier_->mutex);
    notifier_->stop = true;
  }
  notifier_->wake.notify_all();
  if (notifier_->thread.get_id() == std::this_thread::get_id())
    notifier_->thread.detach();
  else
    notifier_->thread.join();
}

void CudaQueue::wait(CommandBuffer& buffer) {
  deferred_->waitSubmitted(buffer);
  finish(buffer, true);
}

void CudaQueue::poll(CommandBuffer& buffer) { finish(buffer, false); }

bool CudaQueue::wait_until(CommandBuffer& buffer, std::chrono::steady_clock::time_point deadline) {
  using clock = std::chrono::steady_clock;
  if (deadline == clock::time_point::max() && timeout_ <= 0) {
    deferred_->waitSubmitted(buffer);
    finish(buffer, true);
    return true;
  }
  // A wait with a limit (Python waits in slices, to notice Ctrl-C): poll the stream, at
  // first spinning, then yielding, then with naps that grow with the time already waited.
  // Spinning for the first 200 us answers a short kernel's completion ~0.3-2 us sooner than
  // yielding (bench/gpu_launch_profile.py, H200: dispatch + commit + wait 13.0 -> 10.6-12.6 us).
  // Yielding (not sleeping) up to 10 ms: a sleep overshoots by the kernel's timer slack (50 us
  // and more), and naps that doubled up to 500 us from 0.5 ms on answered a 2.2 ms kernel
  // ~0.5 ms late (bench/gpu_vs_cupy.py's tiled matmul, 1.23x CuPy with identical kernel times
  // under Nsight Compute). CUDA's own default wait spins the whole time. After 10 ms a nap is
  // 1/64 of the time waited (at most 500 us): a long kernel is seen within ~2% of its time.
  // The time waited counts from the commit, not from this call: Python waits in 50 ms slices,
  // and a slice that started the phases again would spin for 10 ms of every 50.
  auto start = clock::now();
  // The Pending is loaded once (std::atomic_load of a shared_ptr takes a lock each time), once
  // the buffer has been submitted; finish() with it is a no-op after the buffer finished.
  std::shared_ptr<Pending> pending;
  for (;;) {
    if (!pending) {
      pending = std::static_pointer_cast<Pending>(std::atomic_load(&buffer.backend_state));
      if (pending)
        start = std::min(start, clock::time_point(std::chrono::duration_cast<clock::duration>(
                                    std::chrono::duration<double>(pending->host_start))));
    }
    finish(buffer, false, pending);
    if (buffer.finished()) return true;
    const auto now = clock::now();
    if (now >= deadline) return false;
    const auto waited = now - start;
    if (waited < std::chrono::microseconds(200)) continue;
    if (waited < std::chrono::milliseconds(10)) {
      std::this_thread::yield();
    } else {
      const clock::duration nap = std::min<clock::duration>(waited / 64, std::chrono::microseconds(500));
      std::this_thread::sleep_for(std::min<clock::duration>(nap, deadline - now));
    }
  }
}

}  // namespace metallic::cuda
