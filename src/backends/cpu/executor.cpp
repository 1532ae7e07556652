#include "backends/cpu/executor.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/fault_guard.h"
#include "backends/cpu/isolation.h"
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

// Stops dispatches that run longer than their queue's limit (PYMETALLIC_KERNEL_TIMEOUT):
// one thread for the process, asleep unless a limited dispatch runs.
class Watchdog {
 public:
  using clock = std::chrono::steady_clock;
  struct Watch {
    std::atomic<bool> cancelled{false};
    clock::time_point deadline;
    std::mutex mutex;
    std::vector<pthread_t> threads;  // threads inside the kernel now
  };

  static Watchdog& get() {
    static Watchdog* instance = new Watchdog();  // never destroyed: its thread may outlive main
    return *instance;
  }
  void add(Watch* w) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    watches_.insert(w);
    wake_.notify_one();
  }
  // After remove() returns, no signal is sent for `w` (a late one is ignored by the handler).
  void remove(Watch* w) {
    std::lock_guard<std::mutex> lock(mutex_);
    watches_.erase(w);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (watches_.empty()) {
        wake_.wait(lock);
        continue;
      }
      auto now = clock::now();
      auto next = clock::time_point::max();
      for (Watch* w : watches_) {
        if (now >= w->deadline) {
          w->cancelled.store(true);
          // Again every 20 ms: a thread leaves only while it runs the kernel's own code.
          std::lock_guard<std::mutex> threads(w->mutex);
          for (pthread_t t : w->threads) signal_cancel(static_cast<unsigned long>(t));
          next = std::min(next, now + std::chrono::milliseconds(20));
        } else {
          next = std::min(next, w->deadline);
        }
      }
      wake_.wait_until(lock, next);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<Watch*> watches_;
  bool started_ = false;
};

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

// Memory the worker of an isolated dispatch cannot see (not in the shared arena) is copied
// into shared staging memory for the dispatch and back after it.
class Staging {
 public:
  ~Staging() {
    for (auto& s : areas_) release_shared(s.base, s.mapped);
  }
  // Shared memory holding a copy of [p, p + length), ending at a guard as buffers do.
  unsigned char* stage(unsigned char* p, uint64_t length, bool copy_back) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_t used = (std::max<uint64_t>(length, 1) + 15) / 16 * 16;
    size_t mapped = (used + page - 1) / page * page;
    unsigned char* base = allocate_shared(mapped);
    if (!base) throw Error("out of shared memory for an isolated dispatch's staging copy");
    unsigned char* data = base + mapped - used;
    std::memcpy(data, p, length);
    areas_.push_back({base, mapped, data, p, length, copy_back});
    return data;
  }
  void copy_back() {
    for (auto& s : areas_)
      if (s.copy_back) std::memcpy(s.original, s.data, s.length);
  }
  void ranges(std::vector<std::pair<uint64_t, uint64_t>>& out) const {
    for (auto& s : areas_) out.push_back({reinterpret_cast<uintptr_t>(s.base), s.mapped});
  }

 private:
  struct Area {
    unsigned char* base;
    size_t mapped;
    unsigned char* data;
    unsigned char* original;
    uint64_t length;
    bool copy_back;
  };
  std::vector<Area> areas_;
};

// options={"isolate": True}: the dispatch runs in the worker process (isolation.h).
void run_isolated_dispatch(const DispatchCommand& cmd, CpuKernel& kernel, metallic_cpu_launch& launch,
                           const Schedule& schedule, uint64_t groups, uint64_t grain, double timeout) {
  const std::string& name = cmd.pipeline->function()->info().name;
  if (!cmd.textures.empty())
    throw Error("kernel '" + name + "': textures in kernels of an isolated library (options['isolate']) are not " +
                "available yet");
  IsolatedDispatch d;
  d.object_path = kernel.object_path;
  d.kernel_index = kernel.index;
  d.synchronises = kernel.synchronises();
  d.fission = kernel.fission();
  d.schedule = schedule;
  d.groups = groups;
  d.grain = grain;
  Staging staging;
  for (uint32_t i = 0; i < 31; ++i) {
    if (!(cmd.bound_mask & (1u << i))) continue;
    auto* p = static_cast<unsigned char*>(launch.buffers[i]);
    uintptr_t begin = 0;
    size_t length = 0;
    if (cmd.buffers[i].buffer && shared_allocation(p, &begin, &length)) {
      std::pair<uint64_t, uint64_t> range(begin, length);
      if (std::find(d.ranges.begin(), d.ranges.end(), range) == d.ranges.end()) d.ranges.push_back(range);
    } else {
      launch.buffers[i] = staging.stage(p, cmd.buffers[i].length, cmd.buffers[i].buffer != nullptr);
    }
  }
  staging.ranges(d.ranges);
  if (!cmd.samplers.empty()) {
    auto* s = reinterpret_cast<const unsigned char*>(cmd.samplers.data());
    d.samplers.assign(s, s + cmd.samplers.size() * sizeof(cmd.samplers[0]));
  }
  launch.textures = nullptr;
  launch.samplers = nullptr;
  launch.diag = nullptr;
  launch.disjoint = 0;  // the staged copies are laid out anew
  d.launch = launch;
  bool timed_out = false;
  std::string error = run_isolated(d, timeout, &timed_out);
  if (timed_out)
    throw Error("kernel '" + name + "' ran longer than " + seconds_text(timeout) +
                " s and was stopped (the limit PYMETALLIC_KERNEL_TIMEOUT sets; Metal reports a GPU timeout); its "
                "isolated worker process was ended");
  if (!error.empty()) throw Error("kernel '" + name + "' stopped with " + error);
  staging.copy_back();
}

// Whether no two buffers bound to the dispatch share a byte (each from its binding's offset to
// the end of the buffer: a kernel may index that far), so that kernels may see them through
// `__restrict` pointers (entry_wrapper.cpp). Not with textures or useResource'd buffers, whose
// memory other paths reach. set_bytes data is a private copy and takes no part.
bool buffers_disjoint(const DispatchCommand& cmd, const metallic_cpu_launch& launch) {
  if (!cmd.textures.empty() || !cmd.resources.empty()) return false;
  std::pair<uintptr_t, uintptr_t> ranges[31];
  int n = 0;
  for (uint32_t i = 0; i < 31; ++i) {
    if (!(cmd.bound_mask & (1u << i)) || !cmd.buffers[i].buffer) continue;
    auto begin = reinterpret_cast<uintptr_t>(launch.buffers[i]);
    ranges[n++] = {begin, begin + std::max<uint64_t>(cmd.buffers[i].length, 1)};
  }
  std::sort(ranges, ranges + n);
  for (int i = 1; i < n; ++i)
    if (ranges[i].first < ranges[i - 1].second) return false;
  return true;
}

void run_dispatch(const DispatchCommand& cmd, CommandList& list, ThreadPool& pool, CommandBuffer& buffer,
                  double timeout) {
  metallic_cpu_launch launch;
  std::memset(&launch, 0, sizeof launch);
  for (uint32_t i = 0; i < 31; ++i)
    if (cmd.bound_mask & (1u << i)) launch.buffers[i] = pointer_of(cmd.buffers[i], list);
  launch.disjoint = buffers_disjoint(cmd, launch) ? 1u : 0u;
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
    if (n.width == 0 || n.height == 0 || n.depth == 0) return;  // nothing to run, as on Metal
    // Group indices are 32-bit here (at most 2^32-1 groups per dispatch).
    if (n.width * n.height > 0xffffffffull || n.width * n.height * n.depth > 0xffffffffull)
      throw Error("dispatch_threadgroups_with_indirect_buffer: " + std::to_string(counts[0]) + " x " +
                  std::to_string(counts[1]) + " x " + std::to_string(counts[2]) +
                  " threadgroups exceed the CPU device's limit of 2^32-1 per dispatch");
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
  if (kernel.isolated) return run_isolated_dispatch(cmd, kernel, launch, schedule, groups, grain, timeout);
  std::atomic<bool> faulted{false};
  std::mutex fault_mutex;
  std::string fault;
  // With a time limit, the watchdog may stop the threads inside the kernel.
  std::unique_ptr<Watchdog::Watch> watch;
  struct Unwatch {
    Watchdog::Watch* w = nullptr;
    ~Unwatch() {
      if (w) Watchdog::get().remove(w);
    }
  } unwatch;
  if (timeout > 0) {
    watch = std::make_unique<Watchdog::Watch>();
    watch->deadline = Watchdog::clock::now() +
                      std::chrono::duration_cast<Watchdog::clock::duration>(std::chrono::duration<double>(timeout));
    Watchdog::get().add(watch.get());
    unwatch.w = watch.get();
  }
  pool.parallel_for(groups, grain, [&](uint64_t begin, uint64_t end) {
    if (faulted.load(std::memory_order_relaxed)) return;  // a GPU stops a faulting kernel too
    if (watch && watch->cancelled.load(std::memory_order_relaxed)) return;
    unsigned char* mem = arena ? thread_arena(arena) : nullptr;
    if (mem) std::memset(mem, 0, arena);
    if (watch) {
      std::lock_guard<std::mutex> lock(watch->mutex);
      watch->threads.push_back(::pthread_self());
    }
    std::string what = run_guarded(
        [&] { kernel.run_groups(launch, static_cast<uint32_t>(begin), static_cast<uint32_t>(end), mem, schedule); },
        watch ? &watch->cancelled : nullptr);
    if (watch) {
      std::lock_guard<std::mutex> lock(watch->mutex);
      auto& t = watch->threads;
      t.erase(std::find(t.begin(), t.end(), ::pthread_self()));
    }
    if (!what.empty() && what != kCancelled) {
      std::lock_guard<std::mutex> lock(fault_mutex);
      if (fault.empty()) fault = what;
      faulted.store(true);
    }
  });
  if (!fault.empty()) throw Error("kernel '" + cmd.pipeline->function()->info().name + "' stopped with " + fault);
  if (watch && watch->cancelled.load())
    throw Error("kernel '" + cmd.pipeline->function()->info().name + "' ran longer than " + seconds_text(timeout) +
                " s and was stopped (the limit PYMETALLIC_KERNEL_TIMEOUT sets; Metal reports a GPU timeout)");
}

}  // namespace

static double kernel_timeout_from_environment() {
  const char* env = std::getenv("PYMETALLIC_KERNEL_TIMEOUT");
  if (!env || !*env) return 0;
  char* end = nullptr;
  double t = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(t >= 0))
    throw ValidationError(std::string("PYMETALLIC_KERNEL_TIMEOUT='") + env +
                          "' is not a number of seconds (0 or unset: no limit)");
  return t;
}

CpuQueue::CpuQueue(std::shared_ptr<ThreadPool> pool) : state_(std::make_shared<State>()) {
  state_->pool = std::move(pool);
  state_->timeout = kernel_timeout_from_environment();
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
    execute(*next, *state->pool, state->timeout);
  }
}

void CpuQueue::execute(CommandBuffer& buffer, ThreadPool& pool, double timeout) {
  buffer.executorStarted(now_seconds());
  std::string error;
  try {
    CommandList& list = buffer.commands();
    for (auto& command : list.commands) {
      if (auto* d = std::get_if<DispatchCommand>(&command)) {
        run_dispatch(*d, list, pool, buffer, timeout);
      } else if (auto* x = std::get_if<ExecuteIndirectCommand>(&command)) {
        // An ICB's dispatches, in order (their barriers hold: one runs after the other).
        for (const auto& dispatch : x->snapshot->dispatches) run_dispatch(dispatch, list, pool, buffer, timeout);
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
