// A command queue on a CUDA device, by lifecycle: a commit lowers its commands to ops
// (cuda_lowering.cpp), launches them or replays them as a CUDA graph (cuda_graphs.cpp), and
// is finished when the program waits or polls, or by the notifier (cuda_completion.cpp).
#include "backends/cuda/cuda_queue.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "backends/cuda/cuda_completion.h"
#include "core/commands.h"
#include "metallic/command.h"
#include "metallic/error.h"
#include "metallic/event.h"

namespace metallic::cuda {

namespace {
// PYMETALLIC_GPU_TIMESTAMPS=1: gpu_start_time/gpu_end_time measured by CUDA events.
bool want_timestamps() {
  const char* env = std::getenv("PYMETALLIC_GPU_TIMESTAMPS");
  return env && std::string(env) == "1";
}

// PYMETALLIC_KERNEL_TIMEOUT in seconds; 0 (or unset) for no limit.
double kernel_timeout() {
  const char* env = std::getenv("PYMETALLIC_KERNEL_TIMEOUT");
  if (!env || !*env) return 0;
  char* end = nullptr;
  double t = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(t >= 0))
    throw ValidationError(std::string("PYMETALLIC_KERNEL_TIMEOUT='") + env +
                          "' is not a number of seconds (0 or unset: no limit)");
  return t;
}
}  // namespace

CudaQueue::CudaQueue(std::shared_ptr<CudaContext> context)
    : context_(std::move(context)),
      events_(std::make_shared<EventPool>(context_, want_timestamps() ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING)),
      timestamps_(want_timestamps()),
      timeout_(kernel_timeout()) {
  context_->ensure_usable();
  context_->make_current();
  context_->check(context_->api().cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  context_->track_stream(stream_);
  progress_ = std::make_shared<StreamProgress>();
  progress_->stream = stream_;
  if (const char* env = std::getenv("PYMETALLIC_CUDA_GRAPHS"); env && std::string(env) == "0") graphs_enabled_ = false;
  if (const char* env = std::getenv("PYMETALLIC_ICB_PARAMETERS_BY_VALUE"); env && std::string(env) == "0")
    constants_by_value_ = false;
  deferred_ =
      std::make_unique<DeferredSubmitter>([this](std::shared_ptr<CommandBuffer> b) { submit_now(std::move(b)); });
}

CudaQueue::~CudaQueue() {
  deferred_.reset();  // its thread submits to this queue: stopped first
  stop_notifier();
  if (!context_->healthy()) return;
  // Metal's queue goes away without waiting for its work; so does this one's memory: freed
  // (CudaContext::release) once the stream and the others are idle, not by blocking here
  // behind a kernel that may never end.
  for (auto& [key, g] : graphs_) destroy_graph(g);
  for (auto& [key, g] : icb_graphs_) destroy_graph(g);
  // The context outlives what it keeps (a shared_ptr here would make a cycle).
  context_->release([context = context_.get(), stream = stream_, staging = std::move(staging_)] {
    const auto& api = context->api();
    context->untrack_stream(stream);
    for (auto& slot : staging) {
      if (slot.host) api.cuMemFreeHost(slot.host);
      if (slot.uploaded) api.cuEventDestroy_v2(slot.uploaded);
    }
    api.cuStreamDestroy_v2(stream);
  });
}

void CudaQueue::submit(std::shared_ptr<CommandBuffer> buffer) { deferred_->submit(std::move(buffer)); }

void CudaQueue::submit_now(std::shared_ptr<CommandBuffer> buffer) {
  std::lock_guard<std::mutex> serial(submit_mutex_);
  try {
    context_->ensure_usable();
    context_->make_current();
    const auto& api = context_->api();
    auto pending = std::make_shared<Pending>();
    pending->context = context_;
    pending->events = events_;
    pending->host_start = now_seconds();

    CommandList& list = buffer->commands();
    const bool want_graph = graphs_enabled_ && list.commands.size() >= 2;
    Lowered lowered = lower(list, *pending, want_graph);

    if (timestamps_ || timeout_ > 0) {
      pending->start = events_->get();
      context_->check(api.cuEventRecord(pending->start, stream_), "cuEventRecord");
    }
    if (timestamps_) pending->end = events_->get();
    pending->timeout = timeout_;
    pending->progress = progress_;
    bool replayed = false;
    if (want_graph && lowered.launches_only && lowered.count >= 2 && pending->scratch.empty())
      replayed = replay_graph(lowered.signature, lowered.count);
    if (!replayed) enqueue(ops_, lowered.count);
    if (!pending->end && progress_->precise.load(std::memory_order_relaxed)) pending->done = events_->get();
    if (CUevent e = pending->end ? pending->end : pending->done)
      context_->check(api.cuEventRecord(e, stream_), "cuEventRecord");
    // Its signals are on the stream now and will be written without the host: promised.
    for (auto& [event, value] : pending->signals) event->promise(value);
    pending->sequence = ++progress_->submitted;
    const double host_start = pending->host_start;
    const uint64_t sequence = pending->sequence;
    std::atomic_store(&buffer->backend_state, std::shared_ptr<void>(std::move(pending)));
    {
      std::lock_guard<std::mutex> lock(progress_->mutex);
      auto& unfinished = progress_->unfinished;
      while (!unfinished.empty() && unfinished.front().second.expired()) unfinished.pop_front();
      unfinished.emplace_back(sequence, buffer);
    }
    if (buffer->executorStarted(host_start)) notify_when_complete(buffer);
  } catch (const std::exception& e) {
    // As when it fails later: its events are signalled, so that waiting queues do not hang.
    for (auto& command : buffer->commands().commands)
      if (auto* sig = std::get_if<SignalEventCommand>(&command)) sig->event->setSignaledValue(sig->value);
    buffer->executorFinished(now_seconds(), e.what(), /*device_lost=*/dynamic_cast<const DeviceError*>(&e) != nullptr);
  }
}

void CudaQueue::streamWait(uintptr_t stream) {
  std::lock_guard<std::mutex> serial(submit_mutex_);
  context_->ensure_usable();
  context_->make_current();
  const auto& api = context_->api();
  CUevent e = events_->get();
  context_->check(api.cuEventRecord(e, stream_), "cuEventRecord");
  // The wait captures the event as recorded now: the event can be reused at once.
  CUresult r = api.cuStreamWaitEvent(reinterpret_cast<CUstream>(stream), e, 0);
  events_->put(e);
  context_->check(r, "ordering a consumer's stream after a queue");
}

}  // namespace metallic::cuda
