#include "backends/cuda/cuda_queue.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/entry_wrapper.h"
#include "core/commands.h"
#include "core/disk_cache.h"
#include "metallic/command.h"
#include "metallic/error.h"
#include "metallic/event.h"
#include "metallic/library.h"

namespace metallic::cuda {

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// Events are reused: creating one costs about a microsecond.
class EventPool {
 public:
  ~EventPool() {
    if (!context_->healthy()) return;
    for (CUevent e : free_) context_->api().cuEventDestroy_v2(e);
  }
  explicit EventPool(std::shared_ptr<CudaContext> context, unsigned flags)
      : context_(std::move(context)), flags_(flags) {}
  CUevent get() {
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
  void put(CUevent e) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(e);
  }

 private:
  std::shared_ptr<CudaContext> context_;
  unsigned flags_;
  std::mutex mutex_;
  std::vector<CUevent> free_;
};

// Pinned staging blocks for copies between the CPU device's buffers and this queue's GPU,
// kept from commit to commit (pinning memory costs far more than a copy). Every use of a
// block is on the queue's one stream, so any later copy may reuse a block at once: the
// stream runs them in order. Blocks are freed only with the pool, whose last holder is the
// queue (after it synchronised its stream) or a command buffer finished after it.
class StagingPool {
 public:
  explicit StagingPool(std::shared_ptr<CudaContext> context) : context_(std::move(context)) {}
  ~StagingPool() {
    if (!context_->healthy()) return;
    for (auto& b : blocks_) context_->api().cuMemFreeHost(b.host);
  }
  // The smallest block of at least `bytes` for commit number `commit`. Past 1 GiB in all,
  // `stream` is synchronised (everything enqueued by earlier commits is done) and the blocks
  // no copy of this commit uses are freed.
  void* get(size_t bytes, CUstream stream, uint64_t commit) {
    Block* best = nullptr;
    for (auto& b : blocks_)
      if (b.capacity >= bytes && (!best || b.capacity < best->capacity)) best = &b;
    if (best) {
      best->last_commit = commit;
      return best->host;
    }
    const auto& api = context_->api();
    size_t total = bytes;
    for (auto& b : blocks_) total += b.capacity;
    if (total > (size_t(1) << 30)) {
      context_->check(api.cuStreamSynchronize(stream), "retiring pinned staging memory");
      std::vector<Block> kept;
      for (auto& b : blocks_)
        if (b.last_commit == commit)
          kept.push_back(b);
        else
          api.cuMemFreeHost(b.host);
      blocks_.swap(kept);
    }
    void* p = nullptr;
    size_t capacity = std::max<size_t>(bytes, 1 << 16);
    context_->check(api.cuMemHostAlloc(&p, capacity, 0), "allocating pinned staging memory for a host copy");
    blocks_.push_back({p, capacity, commit});
    return p;
  }

 private:
  struct Block {
    void* host;
    size_t capacity;
    uint64_t last_commit;
  };
  std::shared_ptr<CudaContext> context_;
  std::vector<Block> blocks_;  // used under the queue's submit lock
};

// Completion without an event per command buffer: the queue numbers its submissions, and
// a stream synchronise (or a successful query) completes everything submitted before it.
// A status poll may lag (an earlier buffer reads as running until the stream is idle), but
// a wait never returns early; an event record per commit cost more than the launch itself.
struct StreamProgress {
  CUstream stream = nullptr;
  std::atomic<uint64_t> submitted{0}, completed{0};
};

namespace {

// What a committed command buffer keeps until it is known to be done.
struct Pending {
  std::shared_ptr<CudaContext> context;
  std::shared_ptr<EventPool> events;
  std::shared_ptr<StreamProgress> progress;
  uint64_t sequence = 0;
  CUevent start = nullptr, end = nullptr;  // with PYMETALLIC_GPU_TIMESTAMPS=1 (start also with a timeout)
  double host_start = 0;
  // PYMETALLIC_KERNEL_TIMEOUT: seconds the work may run once it started (0: no limit), and
  // when the host first saw its start event done (0: not yet).
  double timeout = 0;
  std::atomic<double> seen_started{0};
  // The kernels it runs, for fault messages; the pipelines (and so the names) live in the
  // command buffer's commands until it is finished.
  std::vector<const std::string*> kernels;
  std::string kernel_names() const {
    std::string out;
    for (const std::string* n : kernels)
      if (out.find("'" + *n + "'") == std::string::npos) out += (out.empty() ? "kernel '" : ", '") + *n + "'";
    return out.empty() ? "a command buffer" : out;
  }
  std::vector<CUdeviceptr> scratch;                           // device copies of set_bytes data for pointer arguments
  std::vector<std::shared_ptr<backend::BufferImpl>> written;  // buffers this command buffer may write
  std::shared_ptr<StagingPool> staging;                       // kept while its copies may run
  // Shared events it signals (the words stay allocated until the stream is done with them);
  // if the command buffer fails, the host signals them so that other queues do not hang.
  std::vector<std::pair<std::shared_ptr<SharedEvent>, uint64_t>> signals;
  std::vector<std::shared_ptr<SharedEvent>> waits;

  ~Pending() {
    if (!context->healthy()) return;
    if (start) events->put(start);
    if (end) events->put(end);
    context->make_current();
    for (auto p : scratch) context->api().cuMemFree_v2(p);
  }
};

// Learns the outcome of `buffer` from its end event and finishes it.
void finish(CommandBuffer& buffer, bool block) {
  auto pending = std::static_pointer_cast<Pending>(std::atomic_load(&buffer.backend_state));
  if (!pending) return;  // already finished
  const auto& ctx = *pending->context;
  const auto& api = ctx.api();
  ctx.make_current();
  // With a time limit nothing blocks: the callers poll (wait_until, the notifier).
  if (pending->timeout > 0) block = false;
  CUresult r = CUDA_SUCCESS;
  if (pending->end) {
    r = block ? api.cuEventSynchronize(pending->end) : api.cuEventQuery(pending->end);
  } else if (pending->progress->completed.load() < pending->sequence) {
    uint64_t upto = pending->progress->submitted.load();
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
      buffer.executorFinished(now, what);
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
    buffer.executorFinished(now_seconds(), what);
    return;
  }
  for (auto& b : pending->written) static_cast<CudaBuffer*>(b.get())->refresh_views();
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

// A copy between a CPU device buffer and pinned staging memory, run by the driver when the
// stream reaches it (so it is ordered like any other command: the CPU buffer's bytes are
// read, or written, exactly then). Owns a reference to the CPU buffer until it has run.
struct HostCopy {
  void* to;
  const void* from;
  size_t bytes;
  std::shared_ptr<backend::BufferImpl> keep;
  static void run(void* self) {
    auto* c = static_cast<HostCopy*>(self);
    std::memcpy(c->to, c->from, c->bytes);
    delete c;
  }
};

}  // namespace

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
      for (auto nap = std::chrono::microseconds(50); !next->finished();
           nap = std::min(nap * 2, std::chrono::microseconds(2000))) {
        std::this_thread::sleep_for(nap);
        finish(*next, true);
      }
    }
  }
};

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
  progress_ = std::make_shared<StreamProgress>();
  progress_->stream = stream_;
  if (const char* env = std::getenv("PYMETALLIC_CUDA_GRAPHS"); env && std::string(env) == "0") graphs_enabled_ = false;
  deferred_ =
      std::make_unique<DeferredSubmitter>([this](std::shared_ptr<CommandBuffer> b) { submit_now(std::move(b)); });
}

CudaQueue::~CudaQueue() {
  deferred_.reset();  // its thread submits to this queue: stopped first
  if (notifier_) {
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
  if (!context_->healthy()) return;
  context_->make_current();
  context_->api().cuStreamSynchronize(stream_);
  for (auto& [key, g] : graphs_) destroy_graph(g);
  for (auto& slot : staging_) {
    if (slot.host) context_->api().cuMemFreeHost(slot.host);
    if (slot.uploaded) context_->api().cuEventDestroy_v2(slot.uploaded);
  }
  context_->api().cuStreamDestroy_v2(stream_);
}

CudaQueue::StagingSlot& CudaQueue::staging_slot(size_t bytes) {
  const auto& api = context_->api();
  if (staging_.empty()) staging_.resize(8);
  StagingSlot& slot = staging_[staging_next_];
  staging_next_ = (staging_next_ + 1) % staging_.size();
  if (slot.uploaded) {
    context_->check(api.cuEventSynchronize(slot.uploaded), "waiting for a staging slot");  // done long ago, normally
  } else {
    context_->check(api.cuEventCreate(&slot.uploaded, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  }
  if (slot.capacity < bytes) {
    if (slot.host) api.cuMemFreeHost(slot.host);
    void* p = nullptr;
    size_t capacity = std::max<size_t>(bytes, 4096);
    context_->check(api.cuMemHostAlloc(&p, capacity, 0), "allocating pinned staging memory");
    slot.host = static_cast<unsigned char*>(p);
    slot.capacity = capacity;
  }
  return slot;
}

void CudaQueue::build_graph(Graph& graph, size_t count) {
  const auto& api = context_->api();
  graph.args_size = 0;
  for (size_t i = 0; i < count; ++i)
    for (const auto& s : ops_[i].inline_slots) graph.args_size += (s.length + 15) / 16 * 16;
  if (graph.args_size) context_->check(api.cuMemAlloc_v2(&graph.args, graph.args_size), "allocating graph arguments");
  context_->check(api.cuGraphCreate(&graph.graph, 0), "cuGraphCreate");
  CUgraphNode previous = nullptr;
  size_t at = 0;
  std::vector<unsigned char> params;
  for (size_t i = 0; i < count; ++i) {
    const Op& op = ops_[i];
    params = op.params;
    auto* mask = reinterpret_cast<uint32_t*>(params.data()) + 9;
    for (const auto& s : op.inline_slots) {
      CUdeviceptr where = graph.args + at;
      std::memcpy(params.data() + s.offset, &where, sizeof where);
      *mask &= ~(1u << s.bit);  // the data is behind a pointer now
      at += (s.length + 15) / 16 * 16;
    }
    void* kernel_params[] = {params.data()};
    CudaKernelNodeParams p{};
    p.func = op.function;
    p.gridDimX = op.grid[0], p.gridDimY = op.grid[1], p.gridDimZ = op.grid[2];
    p.blockDimX = op.block[0], p.blockDimY = op.block[1], p.blockDimZ = op.block[2];
    p.sharedMemBytes = op.shared;
    p.kernelParams = kernel_params;
    CUgraphNode node = nullptr;
    context_->check(
        api.cuGraphAddKernelNode_v2(&node, graph.graph, previous ? &previous : nullptr, previous ? 1 : 0, &p),
        "adding a kernel to a graph");
    previous = node;
  }
  context_->check(api.cuGraphInstantiateWithFlags(&graph.exec, graph.graph, 0), "graph instantiation");
}

void CudaQueue::destroy_graph(Graph& graph) {
  const auto& api = context_->api();
  if (graph.exec) api.cuGraphExecDestroy(graph.exec);
  if (graph.graph) api.cuGraphDestroy(graph.graph);
  if (graph.args) api.cuMemFree_v2(graph.args);
  graph = Graph{};
}

namespace {

// Whether a dispatch may write `buffer`: a non-const buffer argument, a texture it writes,
// or a resource it declared written (use_resource).
bool may_write(const DispatchCommand& d, const msl::KernelInfo& info, const backend::BufferImpl* buffer) {
  for (const auto& arg : info.args)
    if (arg.used && arg.kind == msl::ArgKind::Buffer && !arg.is_const && d.buffers[arg.index].buffer.get() == buffer)
      return true;
  for (const auto& t : d.textures)
    if (t.written && t.buffer.get() == buffer) return true;
  for (const auto& [resource, written] : d.resources)
    if (written && resource.get() == buffer) return true;
  return false;
}

}  // namespace

void CudaQueue::encode_indirect(const DispatchCommand& d, CudaKernel& kernel, Op& op,
                                std::vector<CUdeviceptr>& scratch) {
  auto* buffer = static_cast<CudaBuffer*>(d.indirect.get());
  buffer->prepare_for_device(stream_);
  CUdeviceptr counts = buffer->address() + d.indirect_offset;
  if (may_write(d, d.pipeline->function()->info(), buffer)) {
    // Metal reads the counts before the kernel starts; here every thread reads them as it
    // starts, so a kernel that may change them reads a copy taken just before it runs.
    // (Rare: it costs a copy and an allocation, and the command buffer is not a graph.)
    CUdeviceptr copy = 0;
    context_->check(context_->api().cuMemAlloc_v2(&copy, 3 * sizeof(uint32_t)), "allocating indirect counts");
    scratch.push_back(copy);
    op.counts = counts;
    op.counts_copy = copy;
    counts = copy;
  }
  std::memcpy(op.params.data() + 10 * sizeof(uint32_t), &counts, sizeof counts);  // dims[10..11]
  op.function = kernel.indirect_function();
  op.grid[0] = kernel.indirect_blocks(op.block[0] * op.block[1] * op.block[2], op.shared);
  op.grid[1] = op.grid[2] = 1;
}

void CudaQueue::enqueue(const std::vector<Op>& ops, size_t count) {
  const auto& api = context_->api();
  for (size_t i = 0; i < count; ++i) {
    const Op& op = ops[i];
    switch (op.kind) {
      case Op::Launch: {
        if (op.counts_copy)
          context_->check(api.cuMemcpyDtoDAsync_v2(op.counts_copy, op.counts, 3 * sizeof(uint32_t), stream_),
                          "copying indirect counts");
        void* args[] = {const_cast<unsigned char*>(op.params.data())};
        context_->check(api.cuLaunchKernel(op.function, op.grid[0], op.grid[1], op.grid[2], op.block[0], op.block[1],
                                           op.block[2], op.shared, stream_, args, nullptr),
                        "launching a kernel");
        break;
      }
      case Op::Copy:
        context_->check(api.cuMemcpyDtoDAsync_v2(op.dst, op.src, op.bytes, stream_), "copying between buffers");
        break;
      case Op::Fill:
        context_->check(api.cuMemsetD8Async(op.dst, op.value, op.bytes, stream_), "filling a buffer");
        break;
      case Op::PeerCopy:
        context_->check(api.cuMemcpyPeerAsync(op.dst, op.dst_ctx, op.src, op.src_ctx, op.bytes, stream_),
                        "copying between buffers of two GPUs");
        break;
      case Op::ToHost:
        context_->check(api.cuMemcpyDtoHAsync_v2(op.host, op.src, op.bytes, stream_),
                        "copying a GPU buffer to a CPU buffer");
        break;
      case Op::FromHost:
        context_->check(api.cuMemcpyHtoDAsync_v2(op.dst, op.host, op.bytes, stream_),
                        "copying a CPU buffer to a GPU buffer");
        break;
      case Op::HostCall:
        context_->check(api.cuLaunchHostFunc(stream_, op.call, op.call_data), "ordering a host copy");
        break;
      case Op::WaitValue:
        context_->check(api.cuStreamWaitValue64(stream_, op.dst, op.value64, CU_STREAM_WAIT_VALUE_GEQ),
                        "encoding a wait for a shared event");
        break;
      case Op::WriteValue:
        context_->check(api.cuStreamWriteValue64(stream_, op.dst, op.value64, CU_STREAM_WRITE_VALUE_DEFAULT),
                        "encoding a shared event's signal");
        break;
    }
  }
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
    std::vector<Op>& ops = ops_;
    // A copy with the CPU device's memory takes two steps (a DMA and a host copy).
    if (ops.size() < 2 * list.commands.size()) ops.resize(2 * list.commands.size());
    size_t count = 0;
    const bool want_graph = graphs_enabled_ && list.commands.size() >= 2;
    std::string signature;  // identifies the exact sequence, for graph replay
    bool launches_only = true;
    size_t kernels_named = 0;
    for (auto& command : list.commands) {
      Op& op = ops[count];
      op.kind = Op::Launch;
      op.counts_copy = op.counts = 0;
      if (auto* d = std::get_if<DispatchCommand>(&command)) {
        auto& kernel = static_cast<CudaKernel&>(d->pipeline->kernel());
        const auto& info = d->pipeline->function()->info();
        if (kernels_named++ < 8) pending->kernels.push_back(&info.name);
        const bool uniform = d->threads_per_grid.width % d->threads_per_threadgroup.width == 0 &&
                             d->threads_per_grid.height % d->threads_per_threadgroup.height == 0 &&
                             d->threads_per_grid.depth % d->threads_per_threadgroup.depth == 0;
        op.function = kernel.function(uniform);
        op.params.assign(kernel.params_size(), 0);  // keeps its capacity across commits
        op.inline_slots.clear();
        auto* dims = reinterpret_cast<uint32_t*>(op.params.data());
        const Size3 g = d->threads_per_grid, tg = d->threads_per_threadgroup, n = d->threadgroups_per_grid;
        uint32_t values[9] = {uint32_t(g.width),  uint32_t(g.height),  uint32_t(g.depth),
                              uint32_t(tg.width), uint32_t(tg.height), uint32_t(tg.depth),
                              uint32_t(n.width),  uint32_t(n.height),  uint32_t(n.depth)};
        std::memcpy(dims, values, sizeof values);
        uint32_t shared = 0;
        for (size_t a = 0; a < info.args.size(); ++a) {
          const auto& arg = info.args[a];
          unsigned char* slot = op.params.data() + kernel.slot_offset(a);
          if (!arg.used) continue;  // not bound, never read: the slot stays zero
          if (arg.kind == msl::ArgKind::Buffer) {
            const BoundArgument& bound = d->buffers[arg.index];
            if (bound.buffer) {
              auto* b = static_cast<CudaBuffer*>(bound.buffer.get());
              b->prepare_for_device(stream_);
              CUdeviceptr address = b->address() + bound.offset;
              std::memcpy(slot, &address, sizeof address);
              if (!arg.is_const) b->device_written(), pending->written.push_back(bound.buffer);
            } else if (arg.is_reference && bound.length <= kernel.slot_capacity(a)) {
              std::memcpy(slot, list.bytes_at(bound.offset), bound.length);  // inline, like Metal's setBytes
              dims[9] |= 1u << a;
              op.inline_slots.push_back(
                  {kernel.slot_offset(a), static_cast<uint32_t>(bound.length), static_cast<uint32_t>(a)});
            } else {
              // set_bytes data for a pointer argument: give it device memory of its own.
              CUdeviceptr scratch = 0;
              context_->check(api.cuMemAlloc_v2(&scratch, bound.length), "allocating set_bytes data");
              pending->scratch.push_back(scratch);
              context_->check(api.cuMemcpyHtoDAsync_v2(scratch, list.bytes_at(bound.offset), bound.length, stream_),
                              "copying set_bytes data");
              std::memcpy(slot, &scratch, sizeof scratch);
            }
          } else if (arg.kind == msl::ArgKind::Texture) {
            const BoundTexture& bound = d->textures[arg.index];
            auto* b = static_cast<CudaBuffer*>(bound.buffer.get());
            b->prepare_for_device(stream_);
            metal_texture_abi abi = bound.abi;
            abi.data = reinterpret_cast<void*>(static_cast<uintptr_t>(b->address()));
            std::memcpy(slot, &abi, sizeof abi);
            if (bound.written) b->device_written(), pending->written.push_back(bound.buffer);
          } else if (arg.kind == msl::ArgKind::Sampler) {
            std::memcpy(slot, &d->samplers[arg.index], sizeof(metal_sampler_abi));
          } else if (arg.kind == msl::ArgKind::Threadgroup) {
            uint32_t offset = shared;
            std::memcpy(slot, &offset, sizeof offset);
            shared += d->threadgroup_lengths[arg.index];
          }
        }
        for (const auto& [resource, written] : d->resources) {
          auto* b = static_cast<CudaBuffer*>(resource.get());
          b->prepare_for_device(stream_);
          if (written) b->device_written(), pending->written.push_back(resource);
        }
        kernel.ensure_dynamic_shared(shared);
        op.shared = shared;
        for (int i = 0; i < 3; ++i) op.grid[i] = values[6 + i], op.block[i] = values[3 + i];
        if (d->indirect) encode_indirect(*d, kernel, op, pending->scratch);
        if (want_graph) {
          // Everything but the inline set_bytes data, which a graph uploads at each replay.
          signature.append(reinterpret_cast<const char*>(&op.function), sizeof op.function);
          signature.append(reinterpret_cast<const char*>(op.grid), sizeof op.grid);
          signature.append(reinterpret_cast<const char*>(op.block), sizeof op.block);
          signature.append(reinterpret_cast<const char*>(&op.shared), sizeof op.shared);
          size_t at = signature.size();
          signature.append(reinterpret_cast<const char*>(op.params.data()), op.params.size());
          for (const auto& s : op.inline_slots) {
            std::fill(signature.begin() + at + s.offset, signature.begin() + at + s.offset + s.length, '\0');
            signature.append(reinterpret_cast<const char*>(&s.length), sizeof s.length);
          }
        }
      } else if (auto* c = std::get_if<CopyCommand>(&command)) {
        launches_only = false;
        // Core checked the devices: a Host side is the CPU device's memory (a HostBuffer,
        // never cast to ours); Local and Peer sides are CUDA buffers of this or another GPU.
        if (c->source_side == BufferSide::Host || c->destination_side == BufferSide::Host) {
          if (c->source_side == BufferSide::Host && c->destination_side == BufferSide::Host)
            throw Error("internal: a copy between two CPU buffers reached a CUDA queue");
          if (!staging_pool_) staging_pool_ = std::make_shared<StagingPool>(context_);
          pending->staging = staging_pool_;
          void* staging = staging_pool_->get(std::max<uint64_t>(c->size, 1), stream_, progress_->submitted.load() + 1);
          if (c->source_side == BufferSide::Host) {
            auto* dst = static_cast<CudaBuffer*>(c->destination.get());
            dst->prepare_for_device(stream_);
            auto* from = static_cast<unsigned char*>(c->source->contents()) + c->source_offset;
            op.kind = Op::HostCall;
            op.call = &HostCopy::run;
            op.call_data = new HostCopy{staging, from, c->size, c->source};
            Op& next = ops[++count];
            next.kind = Op::FromHost;
            next.counts_copy = next.counts = 0;
            next.host = staging;
            next.dst = dst->address() + c->destination_offset;
            next.bytes = c->size;
            dst->device_written();
            pending->written.push_back(c->destination);
          } else {
            auto* src = static_cast<CudaBuffer*>(c->source.get());
            src->prepare_for_device(stream_);
            auto* to = static_cast<unsigned char*>(c->destination->contents()) + c->destination_offset;
            op.kind = Op::ToHost;
            op.host = staging;
            op.src = src->address() + c->source_offset;
            op.bytes = c->size;
            Op& next = ops[++count];
            next.kind = Op::HostCall;
            next.counts_copy = next.counts = 0;
            next.call = &HostCopy::run;
            next.call_data = new HostCopy{to, staging, c->size, c->destination};
          }
          ++count;
          continue;
        }
        auto* src = static_cast<CudaBuffer*>(c->source.get());
        auto* dst = static_cast<CudaBuffer*>(c->destination.get());
        src->prepare_for_device(stream_);
        dst->prepare_for_device(stream_);  // bytes outside the copied range must be current
        op.kind = Op::Copy;
        op.src = src->address() + c->source_offset;
        op.dst = dst->address() + c->destination_offset;
        op.bytes = c->size;
        if (c->source_side == BufferSide::Peer || c->destination_side == BufferSide::Peer) {
          // Between two GPUs: directly over NVLink/PCIe when peer access can be enabled,
          // else the driver stages the copy through host memory.
          const CudaContext& src_ctx = c->source_side == BufferSide::Peer ? src->context() : *context_;
          const CudaContext& dst_ctx = c->destination_side == BufferSide::Peer ? dst->context() : *context_;
          src_ctx.ensure_usable();
          dst_ctx.ensure_usable();
          if (&src_ctx != context_.get()) context_->enable_peer_access(src_ctx);
          if (&dst_ctx != context_.get()) context_->enable_peer_access(dst_ctx);
          context_->make_current();
          op.kind = Op::PeerCopy;
          op.src_ctx = src_ctx.context();
          op.dst_ctx = dst_ctx.context();
        }
        dst->device_written();
        pending->written.push_back(c->destination);
      } else if (auto* f = std::get_if<FillCommand>(&command)) {
        auto* dst = static_cast<CudaBuffer*>(f->buffer.get());
        dst->prepare_for_device(stream_);
        op.kind = Op::Fill;
        op.dst = dst->address() + f->offset;
        op.bytes = f->length;
        op.value = f->value;
        dst->device_written();
        pending->written.push_back(f->buffer);
        launches_only = false;
      } else if (auto* sig = std::get_if<SignalEventCommand>(&command)) {
        launches_only = false;
        op.kind = Op::WriteValue;
        op.dst = event_address(*sig->event);
        op.value64 = sig->value;
        pending->signals.emplace_back(sig->event, sig->value);
      } else if (auto* w = std::get_if<WaitEventCommand>(&command)) {
        launches_only = false;
        op.kind = Op::WaitValue;
        op.dst = event_address(*w->event);
        op.value64 = w->value;
        pending->waits.push_back(w->event);
      } else {
        continue;  // synchronize_resource: host reads fetch on demand
      }
      ++count;
    }

    if (timestamps_ || timeout_ > 0) {
      pending->start = events_->get();
      context_->check(api.cuEventRecord(pending->start, stream_), "cuEventRecord");
    }
    if (timestamps_) pending->end = events_->get();
    pending->timeout = timeout_;
    pending->progress = progress_;
    bool replayed = false;
    if (want_graph && launches_only && count >= 2 && pending->scratch.empty()) {
      Graph& graph = graphs_[cache::hash_hex(signature)];
      if (!graph.exec && ++graph.seen >= 2) build_graph(graph, count);  // the same sequence again
      if (graph.exec) {
        if (graph.args_size) {
          StagingSlot& slot = staging_slot(graph.args_size);
          size_t at = 0;
          for (size_t i = 0; i < count; ++i)
            for (const auto& s : ops[i].inline_slots) {
              std::memcpy(slot.host + at, ops[i].params.data() + s.offset, s.length);
              at += (s.length + 15) / 16 * 16;
            }
          context_->check(api.cuMemcpyHtoDAsync_v2(graph.args, slot.host, graph.args_size, stream_),
                          "uploading set_bytes data");
          context_->check(api.cuEventRecord(slot.uploaded, stream_), "cuEventRecord");
        }
        context_->check(api.cuGraphLaunch(graph.exec, stream_), "graph launch");
        replayed = true;
      }
      if (graphs_.size() > 256) {  // a program that never repeats: keep memory bounded
        context_->check(api.cuStreamSynchronize(stream_), "retiring graphs");
        for (auto& [k, g] : graphs_) destroy_graph(g);
        graphs_.clear();
      }
    }
    if (!replayed) enqueue(ops, count);
    if (pending->end) context_->check(api.cuEventRecord(pending->end, stream_), "cuEventRecord");
    // Its signals are on the stream now and will be written without the host: promised.
    for (auto& [event, value] : pending->signals) event->promise(value);
    pending->sequence = ++progress_->submitted;
    std::atomic_store(&buffer->backend_state, std::shared_ptr<void>(pending));
    buffer->executorStarted(pending->host_start);

    if (buffer->hasCompletedHandlers()) {
      if (!notifier_) {
        notifier_ = std::make_shared<Notifier>();
        notifier_->thread = std::thread(&Notifier::loop, notifier_);
      }
      {
        std::lock_guard<std::mutex> lock(notifier_->mutex);
        notifier_->pending.push_back(buffer);
      }
      notifier_->wake.notify_one();
    }
  } catch (const std::exception& e) {
    // As when it fails later: its events are signalled, so that waiting queues do not hang.
    for (auto& command : buffer->commands().commands)
      if (auto* sig = std::get_if<SignalEventCommand>(&command)) sig->event->setSignaledValue(sig->value);
    buffer->executorFinished(now_seconds(), e.what());
  }
}

CUdeviceptr CudaQueue::event_address(const SharedEvent& event) {
  if (!context_->has_stream_memory_ops())
    throw Error("shared events on cuda:" + std::to_string(context_->ordinal()) +
                " need CUDA stream memory operations (cuStreamWaitValue64), which this driver does not offer");
  CUdeviceptr address = 0;
  context_->check(context_->api().cuMemHostGetDevicePointer_v2(&address, event.word(), 0),
                  "mapping a shared event into the GPU's address space");
  return address;
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
  // first without sleeping (most waits end within microseconds), then with growing naps.
  auto start = clock::now();
  auto nap = std::chrono::microseconds(20);
  for (;;) {
    finish(buffer, false);
    if (buffer.finished()) return true;
    auto now = clock::now();
    if (now >= deadline) return false;
    if (now - start < std::chrono::microseconds(500)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::min<clock::duration>(nap, deadline - now));
      nap = std::min(nap * 2, std::chrono::microseconds(500));
    }
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
