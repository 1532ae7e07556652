// CommandBuffer (MTLCommandBuffer): the commands its encoders record, commit to the
// queue's backend, completion (status, times, errors, completed handlers on their own
// thread) and the kernel diagnostics and log messages validation collects.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

#include "core/backend.h"
#include "core/commands.h"
#include "core/kernel_diagnostics.h"
#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/error.h"

namespace metallic {

namespace {

// Completed handlers run here, one at a time and in the order their command buffers
// finished, never on a queue's own thread: a handler may commit more work to its queue and
// wait for it (Metal runs them off the queue too). The thread is never joined: it may be
// running a handler when the process exits.
class HandlerThread {
 public:
  static HandlerThread& get() {
    static HandlerThread* instance = new HandlerThread();  // never destroyed (see above)
    return *instance;
  }
  static bool on_this_thread() { return t_on_handler_thread; }

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
      if (!started_) {
        try {
          std::thread(&HandlerThread::loop, this).detach();
          started_ = true;
        } catch (const std::exception&) {
          // No thread to be had: run it here instead (the tasks stay in order).
        }
      }
      if (started_) {
        wake_.notify_one();
        return;
      }
    }
    run_pending();
  }

 private:
  void loop() {
    t_on_handler_thread = true;
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  void run_pending() {
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  static thread_local bool t_on_handler_thread;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool started_ = false;
};
thread_local bool HandlerThread::t_on_handler_thread = false;

// Buffers' uses by unfinished command buffers (BufferImpl::in_flight), for wait_until_idle.
std::mutex& g_idle_mutex = *new std::mutex();  // never destroyed (see Unfinished below)
std::condition_variable& g_idle = *new std::condition_variable();
// Threads in wait_until_idle: without any, a buffer becoming idle notifies nobody (no lock).
std::atomic<int>& g_idle_waiters = *new std::atomic<int>(0);

template <class F> void for_each_buffer(std::vector<Command>& commands, F f) {
  for (auto& command : commands) {
    if (auto* d = std::get_if<DispatchCommand>(&command)) {
      for (auto& b : d->buffers)
        if (b.buffer) f(*b.buffer);
      for (auto& t : d->textures)
        if (t.buffer) f(*t.buffer);
      for (auto& r : d->resources)
        if (r.first) f(*r.first);
      if (d->indirect) f(*d->indirect);
    } else if (auto* c = std::get_if<CopyCommand>(&command)) {
      f(*c->source), f(*c->destination);
    } else if (auto* fill = std::get_if<FillCommand>(&command)) {
      f(*fill->buffer);
    } else if (auto* s = std::get_if<SynchronizeCommand>(&command)) {
      f(*s->buffer);
    } else if (auto* x = std::get_if<ExecuteIndirectCommand>(&command)) {
      // The snapshot holds its buffers (as Metal's command buffer retains an ICB's resources);
      // each is counted once per execution.
      for (auto& b : x->snapshot->buffers) f(*b.first);
      for (auto& r : x->resources)
        if (r.first) f(*r.first);
    }
  }
}

}  // namespace

bool backend::wait_until_idle(backend::BufferImpl& buffer, double timeout_seconds) {
  std::unique_lock<std::mutex> lock(g_idle_mutex);
  // Counted before in_flight is read (both sequentially consistent): a finisher that makes the
  // buffer idle after this read sees the count and notifies under the lock.
  g_idle_waiters.fetch_add(1);
  struct Leave {
    ~Leave() { g_idle_waiters.fetch_sub(1); }
  } leave;
  auto idle = [&] { return buffer.in_flight.load() == 0; };
  if (timeout_seconds < 0) {
    g_idle.wait(lock, idle);
    return true;
  }
  return g_idle.wait_for(lock, std::chrono::duration<double>(timeout_seconds), idle);
}

CommandBuffer::CommandBuffer(std::shared_ptr<CommandQueue> queue)
    : queue_(std::move(queue)), own_commands_(std::make_unique<CommandList>()), commands_(own_commands_.get()) {}

CommandBuffer::CommandBuffer(std::shared_ptr<CommandQueue> queue, CommandList* commands)
    : queue_(std::move(queue)), commands_(commands) {}

// Committed command buffers whose completion, handlers included, has not run yet, by the
// ticket each got at commit (waitAllFinished waits for those committed before it was called).
// Never destroyed, as the other state that queue and handler threads touch: they may still
// finish work while the process runs its static destructors at exit.
namespace {
struct Unfinished {
  std::mutex mutex;
  std::condition_variable changed;
  // Ascending (tickets are handed out under the mutex), so a commit appends without a node
  // allocation, and command buffers finishing in order leave from the front.
  std::deque<uint64_t> tickets;
  uint64_t next_ticket = 1, finished_total = 0;
  void erase(uint64_t ticket) {
    if (!tickets.empty() && tickets.front() == ticket) {
      tickets.pop_front();
      return;
    }
    auto it = std::lower_bound(tickets.begin(), tickets.end(), ticket);
    if (it != tickets.end() && *it == ticket) tickets.erase(it);
  }
};
Unfinished& unfinished() {
  static Unfinished* u = new Unfinished();
  return *u;
}
}  // namespace

void CommandBuffer::finished_counting() {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(ticket, ticket_);
  }
  release_ticket(ticket);
}

void CommandBuffer::release_ticket(uint64_t ticket) {
  if (!ticket) return;
  Unfinished& u = unfinished();
  {
    std::lock_guard<std::mutex> lock(u.mutex);
    u.erase(ticket);
    ++u.finished_total;
  }
  u.changed.notify_all();
}

bool CommandBuffer::waitAllFinished(double stall_seconds, double limit_seconds) {
  using clock = std::chrono::steady_clock;
  auto to_duration = [](double s) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(std::min(s, 1e6)));
  };
  auto limit = clock::now() + to_duration(limit_seconds);
  Unfinished& u = unfinished();
  std::unique_lock<std::mutex> lock(u.mutex);
  const uint64_t last = u.next_ticket - 1;  // work committed later is not waited for
  auto done = [&] { return u.tickets.empty() || u.tickets.front() > last; };
  for (;;) {
    if (done()) return true;
    uint64_t seen = u.finished_total;
    auto until = std::min(limit, clock::now() + to_duration(stall_seconds));
    u.changed.wait_until(lock, until, [&] { return done() || u.finished_total != seen; });
    if (done()) return true;
    if (u.finished_total == seen || clock::now() >= limit) return false;  // stalled, or out of time
  }
}

CommandBuffer::~CommandBuffer() {
  // The last owner is going: no other thread can touch ticket_ now (without a lock: most
  // command buffers of a program that never waits are dropped here uncommitted or counted).
  if (ticket_) finished_counting();
}

std::shared_ptr<ComputeCommandEncoder> CommandBuffer::computeCommandEncoder() {
  return std::make_shared<ComputeCommandEncoder>(shared_from_this());  // which refuses a committed buffer
}

std::shared_ptr<BlitCommandEncoder> CommandBuffer::blitCommandEncoder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ != CommandBufferStatus::NotEnqueued)
      throw ValidationError("this command buffer was already committed; make a new one for more work");
  }
  return std::make_shared<BlitCommandEncoder>(shared_from_this());
}

void CommandBuffer::markEncoderOpen(bool open) { encoder_open_.store(open, std::memory_order_release); }

void CommandBuffer::commit() {
  {
    // The status and the ticket in one step (the locks in the order used everywhere: the
    // tickets', then the buffer's).
    Unfinished& u = unfinished();
    std::lock_guard<std::mutex> counted(u.mutex);
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ != CommandBufferStatus::NotEnqueued)
      throw ValidationError("a command buffer can be committed only once; make a new one for more work");
    status_ = CommandBufferStatus::Committed;
    ticket_ = u.next_ticket++;
    u.tickets.push_back(ticket_);
  }
  auto self = shared_from_this();
  // Every buffer counts its unfinished uses (read_scalar waits for them) and remembers the
  // last command buffer (and queue) using it, for exports.
  for_each_buffer(commands_->commands, [&](backend::BufferImpl& b) {
    b.in_flight.fetch_add(1);
    b.usedBy(self, queue_);
  });
  try {
    queue_->impl().submit(std::move(self));  // (the caller holds this buffer until commit returns)
  } catch (...) {
    finished_counting();
    throw;
  }
}

void CommandBuffer::waitUntilCompleted() { waitUntilCompleted(-1.0); }

bool CommandBuffer::waitUntilCompleted(double timeout_seconds) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::time_point::max();
  if (timeout_seconds >= 0 && timeout_seconds < 1e9)
    deadline =
        clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_seconds));
  // Read the state directly (the atomic, no lock): status() would also ask the backend (a
  // device query) for work we are about to wait for anyway.
  if (!committed())
    throw ValidationError("wait_until_completed() on a command buffer that was never committed: call commit() first");
  if (!queue_->impl().wait_until(*this, deadline)) return false;
  std::unique_lock<std::mutex> lock(mutex_);
  // A handler that waits for other work must not wait for handlers queued behind itself.
  const bool with_handlers = !HandlerThread::on_this_thread();
  auto done = [&] {
    return (status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error) &&
           (handlers_done_ || !with_handlers);
  };
  if (deadline == clock::time_point::max())
    done_.wait(lock, done);
  else if (!done_.wait_until(lock, deadline, done))
    return false;
  // The program learns of a failure where it waits for the result (status and error stay
  // readable on the command buffer too).
  if (status_ == CommandBufferStatus::Error) {
    if (diagnostics_ && !diagnostics_->findings.empty())
      throw ShaderValidationError(error_, std::make_shared<const std::vector<KernelFinding>>(diagnostics_->findings));
    if (device_lost_) throw DeviceError("the command buffer failed: " + error_);
    throw Error("the command buffer failed: " + error_);
  }
  return true;
}

namespace {
std::mutex& g_sink_mutex = *new std::mutex();  // never destroyed (see Unfinished above)
std::function<void(const KernelLogMessage&)>& g_default_sink = *new std::function<void(const KernelLogMessage&)>();
}  // namespace

diag::Collector& CommandBuffer::diagnostics() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!diagnostics_) diagnostics_ = std::make_shared<diag::Collector>();
  return *diagnostics_;
}

std::vector<KernelFinding> CommandBuffer::findings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diagnostics_ && finished_unlocked() ? diagnostics_->findings : std::vector<KernelFinding>{};
}

uint64_t CommandBuffer::findingsTotal() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diagnostics_ && finished_unlocked() ? diagnostics_->findings_total : 0;
}

std::vector<KernelLogMessage> CommandBuffer::logMessages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diagnostics_ && finished_unlocked() ? diagnostics_->logs : std::vector<KernelLogMessage>{};
}

uint64_t CommandBuffer::logMessagesDropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diagnostics_ && finished_unlocked() ? diagnostics_->log_dropped : 0;
}

void CommandBuffer::addLogHandler(std::function<void(const KernelLogMessage&)> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_ != CommandBufferStatus::NotEnqueued) throw ValidationError("log handlers must be added before commit()");
  log_handlers_.push_back(std::move(handler));
}

void CommandBuffer::setDefaultLogSink(std::function<void(const KernelLogMessage&)> sink) {
  std::lock_guard<std::mutex> lock(g_sink_mutex);
  g_default_sink = std::move(sink);
}

void CommandBuffer::addCompletedHandler(std::function<void(CommandBuffer&)> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_ != CommandBufferStatus::NotEnqueued)
    throw ValidationError("completed handlers must be added before commit()");
  handlers_.push_back(std::move(handler));
}

CommandBufferStatus CommandBuffer::status() const {
  const CommandBufferStatus now = status_.load(std::memory_order_acquire);
  if (now == CommandBufferStatus::NotEnqueued || now == CommandBufferStatus::Completed ||
      now == CommandBufferStatus::Error)
    return now;
  queue_->impl().poll(const_cast<CommandBuffer&>(*this));
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

bool CommandBuffer::hasCompletedHandlers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !handlers_.empty();
}

bool CommandBuffer::finished() const {
  // No lock: status_ is stored last (under the lock) once everything else is set; backends
  // poll this while they wait.
  const CommandBufferStatus now = status_.load(std::memory_order_acquire);
  return now == CommandBufferStatus::Completed || now == CommandBufferStatus::Error;
}

std::string CommandBuffer::error() const {
  status();
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

double CommandBuffer::gpuStartTime() const {
  status();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error ? start_time_ : 0.0;
}

double CommandBuffer::gpuEndTime() const {
  status();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error ? end_time_ : 0.0;
}

bool CommandBuffer::executorStarted(double time) {
  std::lock_guard<std::mutex> lock(mutex_);
  start_time_ = time;
  if (status_ == CommandBufferStatus::Committed) status_ = CommandBufferStatus::Scheduled;
  return !handlers_.empty();
}

void CommandBuffer::executorFinished(double time, const std::string& error, bool device_lost) {
  // What the finished work held is released without the lock: it may hold the last
  // reference to Python objects (a pipeline, a buffer), whose release takes the GIL, while a
  // Python thread holding the GIL may be waiting for this lock (reading `status`). And it is
  // released before anyone learns the work is done: a program that then exits must not
  // find this thread still releasing Python objects while the interpreter shuts down.
  // Kernel log messages go out before the buffer reports completion, so a program that
  // waited for it has them (issue 12).
  deliver_logs();
  std::vector<std::function<void(CommandBuffer&)>> handlers;
  std::vector<Command> released;
  std::shared_ptr<void> state;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finishing_ || status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error) return;
    finishing_ = true;
    handlers.swap(handlers_);
    released.swap(commands_->commands);
    state = std::atomic_exchange(&backend_state, std::shared_ptr<void>());
  }
  bool idle = false;
  for_each_buffer(released, [&](backend::BufferImpl& b) { idle |= b.in_flight.fetch_sub(1) == 1; });
  if (idle && g_idle_waiters.load() > 0) {
    std::lock_guard<std::mutex> lock(g_idle_mutex);  // a waiter may be between its check and its sleep
    g_idle.notify_all();
  }
  released.clear();
  state.reset();
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    end_time_ = time;
    error_ = error;
    device_lost_ = device_lost && !error.empty();
    if (diagnostics_ && !diagnostics_->findings.empty() && error_.empty()) {
      const auto& f = diagnostics_->findings;
      error_ = "validation found " + std::to_string(diagnostics_->findings_total) + " error" +
               (diagnostics_->findings_total == 1 ? "" : "s") + " in kernel '" + f[0].kernel + "' (" +
               std::to_string(f.size()) + " distinct kept on command_buffer.error.findings):";
      for (const auto& k : f) error_ += "\n  " + k.message;
    }
    status_ = error_.empty() ? CommandBufferStatus::Completed : CommandBufferStatus::Error;
    handlers_done_ = handlers.empty();
    if (handlers.empty()) std::swap(ticket, ticket_);  // finished_counting's part, under this lock
  }
  done_.notify_all();
  if (handlers.empty()) {
    release_ticket(ticket);
    return;
  }
  // Off this thread (a queue's worker, or a thread waiting for the work): a handler may
  // commit to this queue and wait.
  HandlerThread::get().post([self = shared_from_this(), handlers = std::move(handlers)]() mutable {
    for (auto& h : handlers) {
      try {
        h(*self);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "pymetallic: a completed handler failed: %s\n", e.what());
#if defined(__GLIBCXX__)
      } catch (abi::__forced_unwind&) {
        throw;  // the thread is being ended (pthread_exit by an exiting interpreter): let it go
#endif
      } catch (...) {
        std::fprintf(stderr, "pymetallic: a completed handler failed\n");
      }
    }
    handlers.clear();  // before waiters are told: they may expect the handlers' objects released
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->handlers_done_ = true;
    }
    self->done_.notify_all();
    self->finished_counting();
  });
}

bool CommandBuffer::finished_unlocked() const {
  return status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error;
}

void CommandBuffer::deliver_logs() {
  std::shared_ptr<diag::Collector> d;
  std::vector<std::function<void(const KernelLogMessage&)>> handlers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (logs_delivered_ || finished_unlocked()) return;
    logs_delivered_ = true;
    d = diagnostics_;
    handlers = log_handlers_;
  }
  if (!d || (d->logs.empty() && d->log_dropped == 0)) return;
  std::function<void(const KernelLogMessage&)> sink;
  if (handlers.empty()) {
    std::lock_guard<std::mutex> lock(g_sink_mutex);
    sink = g_default_sink;
  }
  auto deliver = [&](const KernelLogMessage& m) {
    for (auto& h : handlers) h(m);
    if (sink) sink(m);
  };
  for (const auto& m : d->logs) deliver(m);
  if (d->log_dropped) {
    // Overflow is reported, not silent.
    KernelLogMessage m;
    m.kernel = d->logs.empty() ? "" : d->logs.back().kernel;
    m.level = 16;
    m.message = std::to_string(d->log_dropped) + " kernel log message" + (d->log_dropped == 1 ? " was" : "s were") +
                " dropped: the command buffer's log buffer (" + std::to_string(diag::log_capacity()) +
                " bytes, PYMETALLIC_LOG_BUFFER_SIZE) is full";
    deliver(m);
  }
}

}  // namespace metallic
