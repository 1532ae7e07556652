#include "backends/cpu/executor.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <string>
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/fault_guard.h"
#include "backends/cpu/thread_pool.h"
#include "core/commands.h"
#include "core/kernel_diagnostics.h"
#include "metallic/command.h"
#include "metallic/error.h"
#include "metallic/event.h"
#include "metallic/library.h"
#include "msl/translation.h"

namespace metallic::cpu {

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

unsigned char* pointer_of(const BoundArgument& arg, CommandList& list) {
  if (arg.buffer) return static_cast<unsigned char*>(arg.buffer->contents()) + arg.offset;
  return list.bytes.data() + arg.offset;
}

// Each worker keeps one arena for the dynamic threadgroup memory of the group it runs.
unsigned char* thread_arena(uint32_t size) {
  thread_local std::vector<unsigned char> arena;
  if (arena.size() < size) arena.resize(size);
  return arena.data();
}

void run_dispatch(const DispatchCommand& cmd, CommandList& list, ThreadPool& pool, CommandBuffer& buffer) {
  metallic_cpu_launch launch;
  std::memset(&launch, 0, sizeof launch);
  for (uint32_t i = 0; i < 31; ++i)
    if (cmd.bound_mask & (1u << i)) launch.buffers[i] = pointer_of(cmd.buffers[i], list);
  uint32_t arena = 0;
  for (uint32_t i = 0; i < 31; ++i) {
    launch.threadgroup_offsets[i] = arena;
    arena += cmd.threadgroup_lengths[i];  // already multiples of 16
  }
  launch.threadgroup_arena_size = arena;
  // Texture descriptors with their storage's address; samplers as recorded.
  std::vector<metal_texture_abi> textures(cmd.textures.size());
  for (size_t i = 0; i < textures.size(); ++i) {
    textures[i] = cmd.textures[i].abi;
    if (cmd.textures[i].buffer) textures[i].data = cmd.textures[i].buffer->contents();
  }
  launch.textures = textures.data();
  launch.samplers = cmd.samplers.data();
  const Size3 tg = cmd.threads_per_threadgroup;
  Size3 g = cmd.threads_per_grid, n = cmd.threadgroups_per_grid;
  if (cmd.indirect) {
    // Indirect: the counts are whatever earlier commands left in the buffer.
    uint32_t counts[3];
    std::memcpy(counts, static_cast<unsigned char*>(cmd.indirect->contents()) + cmd.indirect_offset, sizeof counts);
    n = {counts[0], counts[1], counts[2]};
    g = {n.width * tg.width, n.height * tg.height, n.depth * tg.depth};
    if (g.width > 0xffffffffull || g.height > 0xffffffffull || g.depth > 0xffffffffull)
      throw Error("dispatch_threadgroups_with_indirect_buffer: " + std::to_string(counts[0]) + " x " +
                  std::to_string(counts[1]) + " x " + std::to_string(counts[2]) + " threadgroups is too large a grid");
    if (n.count() == 0) return;  // nothing to run, as on Metal
  }
  launch.grid[0] = static_cast<uint32_t>(g.width), launch.grid[1] = static_cast<uint32_t>(g.height),
  launch.grid[2] = static_cast<uint32_t>(g.depth);
  launch.threads_per_threadgroup[0] = static_cast<uint32_t>(tg.width),
  launch.threads_per_threadgroup[1] = static_cast<uint32_t>(tg.height),
  launch.threads_per_threadgroup[2] = static_cast<uint32_t>(tg.depth);
  launch.threadgroups[0] = static_cast<uint32_t>(n.width), launch.threadgroups[1] = static_cast<uint32_t>(n.height),
  launch.threadgroups[2] = static_cast<uint32_t>(n.depth);

  auto& kernel = static_cast<CpuKernel&>(cmd.pipeline->kernel());
  // Validation and logging (issue 12): the ranges kernels may reach, and where findings and
  // log records go.
  metal_diag diag;
  if (kernel.validation || kernel.logging) {
    buffer.diagnostics().begin(diag, cmd.pipeline->function()->info().name, kernel.validation);
    for (uint32_t i = 0; i < 31 && diag.nranges < METAL_DIAG_MAX_RANGES; ++i) {
      if (!(cmd.bound_mask & (1u << i))) continue;
      metal_diag_range& r = diag.ranges[diag.nranges++];
      r.begin = static_cast<const char*>(launch.buffers[i]);
      r.length = cmd.buffers[i].length;
      r.index = static_cast<int>(i);
      r.kind = cmd.buffers[i].buffer ? metal_diag_range_buffer : metal_diag_range_bytes;
    }
    launch.diag = &diag;
  }
  const Schedule schedule = current_schedule();
  uint64_t groups = n.count();
  // Enough chunks for load balance, few enough that scheduling stays cheap.
  uint64_t grain = groups / (pool.size() * 8);
  if (grain == 0) grain = 1;
  // Tiny dispatches are not worth waking the pool for.
  if (g.count() <= 4096 || schedule.serial) grain = groups;
  std::atomic<bool> faulted{false};
  std::mutex fault_mutex;
  std::string fault;
  pool.parallel_for(groups, grain, [&](uint64_t begin, uint64_t end) {
    if (faulted.load(std::memory_order_relaxed)) return;  // a GPU stops a faulting kernel too
    unsigned char* mem = arena ? thread_arena(arena) : nullptr;
    if (mem) std::memset(mem, 0, arena);
    std::string what = run_guarded(
        [&] { kernel.run_groups(launch, static_cast<uint32_t>(begin), static_cast<uint32_t>(end), mem, schedule); });
    if (!what.empty()) {
      std::lock_guard<std::mutex> lock(fault_mutex);
      if (fault.empty()) fault = what;
      faulted.store(true);
    }
  });
  if (!fault.empty())
    throw Error("kernel '" + cmd.pipeline->function()->info().name + "' stopped with " + fault);
}

}  // namespace

CpuQueue::CpuQueue(std::shared_ptr<ThreadPool> pool) : state_(std::make_shared<State>()) {
  state_->pool = std::move(pool);
  thread_ = std::thread(&CpuQueue::loop, state_);
}

CpuQueue::~CpuQueue() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach();  // destroyed by our own worker: it exits after this iteration
  else
    thread_.join();
}

void CpuQueue::submit(std::shared_ptr<CommandBuffer> buffer) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->pending.push_back(std::move(buffer));
    state_->submitted.fetch_add(1, std::memory_order_release);
  }
  state_->wake.notify_one();
}

namespace {
template <class Done> void spin_for(int microseconds, Done done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
  while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
}
}  // namespace

void CpuQueue::wait(CommandBuffer& buffer) {
  spin_for(200, [&] { return buffer.finished(); });
}

void CpuQueue::loop(std::shared_ptr<State> state) {
  uint64_t taken = 0;
  for (;;) {
    std::shared_ptr<CommandBuffer> next;
    // A program that waits on one command buffer usually commits the next at once.
    spin_for(100, [&] { return state->submitted.load(std::memory_order_acquire) != taken; });
    {
      std::unique_lock<std::mutex> lock(state->mutex);
      state->wake.wait(lock, [&] { return state->stop || !state->pending.empty(); });
      if (state->pending.empty()) return;  // stopping, and nothing left to run
      next = std::move(state->pending.front());
      state->pending.pop_front();
      ++taken;
    }
    execute(*next, *state->pool);
  }
}

void CpuQueue::execute(CommandBuffer& buffer, ThreadPool& pool) {
  buffer.executorStarted(now_seconds());
  std::string error;
  try {
    CommandList& list = buffer.commands();
    for (auto& command : list.commands) {
      if (auto* d = std::get_if<DispatchCommand>(&command)) {
        run_dispatch(*d, list, pool, buffer);
      } else if (auto* c = std::get_if<CopyCommand>(&command)) {
        // Core lets a CPU queue copy only between CPU devices' buffers (host memory all);
        // copies with a GPU run on the GPU's queue.
        if (c->source_side == BufferSide::Peer || c->destination_side == BufferSide::Peer)
          throw Error("internal: a copy involving a GPU reached a CPU queue");
        std::memmove(static_cast<unsigned char*>(c->destination->contents()) + c->destination_offset,
                     static_cast<unsigned char*>(c->source->contents()) + c->source_offset, c->size);
      } else if (auto* f = std::get_if<FillCommand>(&command)) {
        std::memset(static_cast<unsigned char*>(f->buffer->contents()) + f->offset, f->value, f->length);
      } else if (auto* sig = std::get_if<SignalEventCommand>(&command)) {
        sig->event->setSignaledValue(sig->value);
      } else if (auto* w = std::get_if<WaitEventCommand>(&command)) {
        // Blocks this queue's own worker thread only: the shared thread pool is free
        // between dispatches, so other queues (and the one that will signal) keep running.
        w->event->waitFor(w->value, std::chrono::steady_clock::time_point::max());
      }
      // SynchronizeCommand: host memory is the only copy on the CPU.
    }
  } catch (const std::exception& e) {
    error = e.what();
    // A failed command buffer still signals its events, so that queues waiting for them do
    // not hang; the failure is reported where this buffer is waited for.
    for (auto& command : buffer.commands().commands)
      if (auto* sig = std::get_if<SignalEventCommand>(&command)) sig->event->setSignaledValue(sig->value);
  }
  buffer.executorFinished(now_seconds(), error);
}

}  // namespace metallic::cpu
