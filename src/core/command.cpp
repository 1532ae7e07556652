#include "metallic/command.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

#include "core/backend.h"
#include "core/commands.h"
#include "core/device_checks.h"
#include "core/kernel_diagnostics.h"
#include "metallic/buffer.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "metallic/library.h"
#include "metallic/texture.h"
#include "msl/translation.h"

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
std::mutex g_idle_mutex;
std::condition_variable g_idle;

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
    }
  }
}

}  // namespace

bool backend::wait_until_idle(backend::BufferImpl& buffer, double timeout_seconds) {
  std::unique_lock<std::mutex> lock(g_idle_mutex);
  auto idle = [&] { return buffer.in_flight.load() == 0; };
  if (timeout_seconds < 0) {
    g_idle.wait(lock, idle);
    return true;
  }
  return g_idle.wait_for(lock, std::chrono::duration<double>(timeout_seconds), idle);
}

// ---------------------------------------------------------------- CommandQueue

CommandQueue::CommandQueue(std::shared_ptr<Device> device)
    : device_(std::move(device)), impl_(device_->impl().newQueue()) {}

CommandQueue::~CommandQueue() = default;

std::shared_ptr<CommandBuffer> CommandQueue::commandBuffer() {
  return std::make_shared<CommandBuffer>(shared_from_this());
}

// ---------------------------------------------------------------- CommandBuffer

CommandBuffer::CommandBuffer(std::shared_ptr<CommandQueue> queue)
    : queue_(std::move(queue)), commands_(std::make_unique<CommandList>()) {}

CommandBuffer::~CommandBuffer() = default;

std::shared_ptr<ComputeCommandEncoder> CommandBuffer::computeCommandEncoder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ != CommandBufferStatus::NotEnqueued)
      throw ValidationError("this command buffer was already committed; make a new one for more work");
  }
  auto e = std::make_shared<ComputeCommandEncoder>(shared_from_this());
  return e;
}

std::shared_ptr<BlitCommandEncoder> CommandBuffer::blitCommandEncoder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ != CommandBufferStatus::NotEnqueued)
      throw ValidationError("this command buffer was already committed; make a new one for more work");
  }
  return std::make_shared<BlitCommandEncoder>(shared_from_this());
}

void CommandBuffer::markEncoderOpen(bool open) {
  std::lock_guard<std::mutex> lock(mutex_);
  encoder_open_ = open;
}

void CommandBuffer::commit() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ != CommandBufferStatus::NotEnqueued)
      throw ValidationError("a command buffer can be committed only once; make a new one for more work");
    status_ = CommandBufferStatus::Committed;
  }
  auto self = shared_from_this();
  // Every buffer counts its unfinished uses (read_scalar waits for them) and remembers the
  // last command buffer (and queue) using it, for exports.
  for_each_buffer(commands_->commands, [&](backend::BufferImpl& b) {
    b.in_flight.fetch_add(1);
    b.usedBy(self, queue_);
  });
  queue_->impl().submit(self);
}

void CommandBuffer::waitUntilCompleted() { waitUntilCompleted(-1.0); }

bool CommandBuffer::waitUntilCompleted(double timeout_seconds) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::time_point::max();
  if (timeout_seconds >= 0 && timeout_seconds < 1e9)
    deadline =
        clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_seconds));
  {
    // Read the state directly: status() would also ask the backend (a device query) for
    // work we are about to wait for anyway.
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ == CommandBufferStatus::NotEnqueued)
      throw ValidationError("wait_until_completed() on a command buffer that was never committed: call commit() first");
  }
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
    throw Error("the command buffer failed: " + error_);
  }
  return true;
}

namespace {
std::mutex g_sink_mutex;
std::function<void(const KernelLogMessage&)> g_default_sink;
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_ == CommandBufferStatus::NotEnqueued || status_ == CommandBufferStatus::Completed ||
        status_ == CommandBufferStatus::Error)
      return status_;
  }
  queue_->impl().poll(const_cast<CommandBuffer&>(*this));
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

bool CommandBuffer::hasCompletedHandlers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !handlers_.empty();
}

bool CommandBuffer::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_ == CommandBufferStatus::Completed || status_ == CommandBufferStatus::Error;
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

void CommandBuffer::executorStarted(double time) {
  std::lock_guard<std::mutex> lock(mutex_);
  start_time_ = time;
  if (status_ == CommandBufferStatus::Committed) status_ = CommandBufferStatus::Scheduled;
}

void CommandBuffer::executorFinished(double time, const std::string& error) {
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
  if (idle) {
    std::lock_guard<std::mutex> lock(g_idle_mutex);  // a waiter may be between its check and its sleep
    g_idle.notify_all();
  }
  released.clear();
  state.reset();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    end_time_ = time;
    error_ = error;
    if (diagnostics_ && !diagnostics_->findings.empty() && error_.empty()) {
      const auto& f = diagnostics_->findings;
      error_ = "validation found " + std::to_string(diagnostics_->findings_total) + " error" +
               (diagnostics_->findings_total == 1 ? "" : "s") + " in kernel '" + f[0].kernel + "' (" +
               std::to_string(f.size()) + " distinct kept on command_buffer.error.findings):";
      for (const auto& k : f) error_ += "\n  " + k.message;
    }
    status_ = error_.empty() ? CommandBufferStatus::Completed : CommandBufferStatus::Error;
    handlers_done_ = handlers.empty();
  }
  done_.notify_all();
  if (handlers.empty()) return;
  // Off this thread (a queue's worker, or a thread waiting for the work): a handler may
  // commit to this queue and wait.
  HandlerThread::get().post([self = shared_from_this(), handlers = std::move(handlers)]() mutable {
    for (auto& h : handlers) {
      try {
        h(*self);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "pymetallic: a completed handler failed: %s\n", e.what());
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

// ---------------------------------------------------------------- ComputeCommandEncoder

namespace {

std::string size3_text(Size3 s) {
  return "(" + std::to_string(s.width) + ", " + std::to_string(s.height) + ", " + std::to_string(s.depth) + ")";
}

void check_index(uint32_t index, const char* what) {
  if (index > 30)
    throw ValidationError(std::string(what) + " index " + std::to_string(index) +
                          " is out of range: Metal has 31 slots, 0 to 30");
}

uint64_t round_up(uint64_t n, uint64_t m) { return (n + m - 1) / m * m; }

bool is_three_component_vector(std::string t) {
  if (t.rfind("metal::", 0) == 0) t = t.substr(7);
  if (t.size() < 2 || t.back() != '3') return false;
  t.pop_back();
  static const char* scalars[] = {"float",  "half", "bfloat", "int",  "uint", "short",
                                  "ushort", "char", "uchar",  "bool", "long", "ulong"};
  for (const char* s : scalars)
    if (t == s) return true;
  return false;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  if (s.rfind("metal::", 0) == 0) s = s.substr(7);
  if (s.rfind("const ", 0) == 0) s = trim(s.substr(6));
  return s;
}

// "texture2d<float, access::read>" -> ("texture2d", "float", "access::read"); empty parts when absent.
void parse_texture_type(const std::string& type, std::string& name, std::string& element, std::string& access) {
  auto lt = type.find('<');
  name = trim(type.substr(0, lt));
  element.clear(), access.clear();
  if (lt == std::string::npos) return;
  auto gt = type.rfind('>');
  std::string inner = type.substr(lt + 1, gt == std::string::npos ? std::string::npos : gt - lt - 1);
  auto comma = inner.find(',');
  element = trim(inner.substr(0, comma));
  if (comma != std::string::npos) {
    // `texture2d<float, access::read_write, memory_coherence_device>`: the access is the second.
    auto next = inner.find(',', comma + 1);
    access = trim(inner.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1));
  }
}

const char* texture_type_name(TextureType t) {
  switch (t) {
    case TextureType::Type1D:
      return "texture1d";
    case TextureType::Type1DArray:
      return "texture1d_array";
    case TextureType::Type2D:
      return "texture2d";
    case TextureType::Type2DArray:
      return "texture2d_array";
    case TextureType::Type3D:
      return "texture3d";
    case TextureType::TypeCube:
      return "texturecube";
    case TextureType::TypeCubeArray:
      return "texturecube_array";
    case TextureType::TypeTextureBuffer:
      return "texture_buffer";
  }
  return "?";
}

}  // namespace

ComputeCommandEncoder::ComputeCommandEncoder(std::shared_ptr<CommandBuffer> buffer) : buffer_(std::move(buffer)) {
  buffer_->markEncoderOpen(true);
}

void ComputeCommandEncoder::ensureOpen(const char* what) const {
  if (ended_) throw ValidationError(std::string(what) + " after end_encoding(): make a new encoder");
  if (buffer_->status() != CommandBufferStatus::NotEnqueued)
    throw ValidationError(std::string(what) + " on an encoder whose command buffer was already committed");
}

void ComputeCommandEncoder::setComputePipelineState(const std::shared_ptr<ComputePipelineState>& pipeline) {
  ensureOpen("set_compute_pipeline_state");
  if (!pipeline) throw ValidationError("set_compute_pipeline_state needs a pipeline, not None");
  check_same_device(*pipeline->device(), *buffer_->commandQueue()->device(), "the pipeline");
  pipeline_ = pipeline;
}

void ComputeCommandEncoder::setBuffer(const std::shared_ptr<Buffer>& buffer, uint64_t offset, uint32_t index) {
  ensureOpen("set_buffer");
  check_index(index, "buffer");
  if (!buffer) throw ValidationError("set_buffer needs a buffer, not None (index " + std::to_string(index) + ")");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(),
                    "the buffer at index " + std::to_string(index));
  if (offset >= buffer->length())
    throw ValidationError("set_buffer offset " + std::to_string(offset) + " is past the end of a " +
                          std::to_string(buffer->length()) + "-byte buffer (index " + std::to_string(index) + ")");
  auto& b = binding(index);
  b.buffer = buffer;
  b.offset = offset;
  b.bytes.clear();
  b.bound = true;
}

void ComputeCommandEncoder::setBufferOffset(uint64_t offset, uint32_t index) {
  ensureOpen("set_buffer_offset");
  check_index(index, "buffer");
  if (index >= bindings_.size() || !bindings_[index].buffer)
    throw ValidationError("set_buffer_offset: no buffer is bound at index " + std::to_string(index));
  auto& b = bindings_[index];
  if (offset >= b.buffer->length())
    throw ValidationError("set_buffer_offset " + std::to_string(offset) + " is past the end of the buffer");
  b.offset = offset;
}

void ComputeCommandEncoder::useResource(const std::shared_ptr<Buffer>& buffer, uint32_t usage) {
  ensureOpen("use_resource");
  if (!buffer) throw ValidationError("use_resource needs a buffer, not None");
  if (usage == 0 || usage > 3) throw ValidationError("use_resource usage must be 1 (read), 2 (write) or 3 (both)");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "use_resource: the buffer");
  for (auto& [b, written] : used_resources_)
    if (b == buffer) {
      written = written || (usage & 2);
      return;
    }
  used_resources_.emplace_back(buffer, (usage & 2) != 0);
}

void ComputeCommandEncoder::setBytes(const void* data, uint64_t length, uint32_t index) {
  ensureOpen("set_bytes");
  check_index(index, "buffer");
  if (length == 0) throw ValidationError("set_bytes needs at least 1 byte (index " + std::to_string(index) + ")");
  if (length > 4096)
    throw ValidationError("set_bytes takes at most 4096 bytes (Metal's limit), got " + std::to_string(length) +
                          ": use a buffer for larger data");
  auto& b = binding(index);
  b.buffer.reset();
  b.offset = 0;
  b.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + length);
  b.bound = true;
}

void ComputeCommandEncoder::setThreadgroupMemoryLength(uint64_t length, uint32_t index) {
  ensureOpen("set_threadgroup_memory_length");
  check_index(index, "threadgroup memory");
  auto limit = buffer_->commandQueue()->device()->limits().max_threadgroup_memory_length;
  // Metal requires multiples of 16; round up as Metal's validation layer suggests.
  uint64_t rounded = round_up(length, 16);
  if (rounded > limit)
    throw ValidationError("threadgroup memory length " + std::to_string(length) + " at index " + std::to_string(index) +
                          " exceeds the device's limit of " + std::to_string(limit) + " bytes");
  threadgroup_lengths_[index] = static_cast<uint32_t>(rounded);
}

void ComputeCommandEncoder::setTexture(const std::shared_ptr<Texture>& texture, uint32_t index) {
  ensureOpen("set_texture");
  if (index > 127)
    throw ValidationError("texture index " + std::to_string(index) + " is out of range: Metal has 128 slots, 0 to 127");
  if (texture)
    check_same_device(*texture->device(), *buffer_->commandQueue()->device(),
                      "the texture at index " + std::to_string(index));
  if (textures_.size() <= index) textures_.resize(index + 1);
  textures_[index] = texture;
}

void ComputeCommandEncoder::setSamplerState(const std::shared_ptr<SamplerState>& sampler, uint32_t index) {
  ensureOpen("set_sampler_state");
  if (index > 15)
    throw ValidationError("sampler index " + std::to_string(index) + " is out of range: Metal has 16 slots, 0 to 15");
  if (sampler)
    check_same_device(*sampler->device(), *buffer_->commandQueue()->device(),
                      "the sampler at index " + std::to_string(index));
  if (samplers_.size() <= index) samplers_.resize(index + 1);
  samplers_[index] = sampler;
}

namespace {

// ceil(n / d) without overflow (n + d - 1 wraps for n near 2^64).
uint64_t ceil_div(uint64_t n, uint64_t d) { return d == 0 ? 0 : n / d + (n % d != 0); }

// a * b, or UINT64_MAX when it does not fit.
uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? ~0ull : r;
}

}  // namespace

void ComputeCommandEncoder::dispatchThreads(Size3 grid, Size3 tg) {
  Size3 groups{ceil_div(grid.width, tg.width), ceil_div(grid.height, tg.height), ceil_div(grid.depth, tg.depth)};
  dispatch(grid, groups, tg, true);
}

void ComputeCommandEncoder::dispatchThreadgroups(Size3 groups, Size3 tg) {
  Size3 grid{saturating_mul(groups.width, tg.width), saturating_mul(groups.height, tg.height),
             saturating_mul(groups.depth, tg.depth)};
  dispatch(grid, groups, tg, false);
}

void ComputeCommandEncoder::dispatchThreadgroupsWithIndirectBuffer(const std::shared_ptr<Buffer>& indirect,
                                                                   uint64_t offset, Size3 tg) {
  const char* what = "dispatch_threadgroups_with_indirect_buffer";
  ensureOpen(what);
  if (!indirect) throw ValidationError(std::string(what) + ": the indirect buffer is None");
  check_same_device(*indirect->device(), *buffer_->commandQueue()->device(),
                    std::string(what) + ": the indirect buffer");
  if (offset % 4 != 0 || offset > indirect->length() || indirect->length() - offset < 12)
    throw ValidationError(std::string(what) + ": offset " + std::to_string(offset) +
                          " must be a multiple of 4 with 12 bytes (three uints) after it in the " +
                          std::to_string(indirect->length()) + "-byte buffer");
  dispatch({0, 0, 0}, {0, 0, 0}, tg, false, indirect, offset);
}

void ComputeCommandEncoder::dispatch(Size3 grid, Size3 groups, Size3 tg, bool exact,
                                     const std::shared_ptr<Buffer>& indirect, uint64_t indirect_offset) {
  const char* what = exact ? "dispatch_threads" : "dispatch_threadgroups";
  ensureOpen(what);
  if (!pipeline_) throw ValidationError(std::string(what) + " before set_compute_pipeline_state: no kernel to run");
  const auto& info = pipeline_->function()->info();
  if (tg.width == 0 || tg.height == 0 || tg.depth == 0)
    throw ValidationError(std::string(what) + ": threads per threadgroup " + size3_text(tg) + " has a zero dimension");
  uint64_t tg_total = saturating_mul(saturating_mul(tg.width, tg.height), tg.depth);
  uint32_t max_threads = pipeline_->maxTotalThreadsPerThreadgroup();
  if (tg_total > max_threads)
    throw ValidationError(std::string(what) + ": a threadgroup of " + size3_text(tg) + " = " +
                          (tg_total == ~0ull ? std::string("over 2^64") : std::to_string(tg_total)) +
                          " threads exceeds kernel '" + info.name + "''s limit of " + std::to_string(max_threads) +
                          " (max_total_threads_per_threadgroup)");
  // Every count checked with overflow-safe arithmetic against this device's limits: MSL's
  // positions are 32-bit, and the backend runs at most so many threadgroups per dispatch.
  const uint64_t max32 = 0xffffffffull;
  if (grid.width > max32 || grid.height > max32 || grid.depth > max32)
    throw ValidationError(std::string(what) + ": " + (exact ? "grid " : "threadgroups x threads per threadgroup ") +
                          size3_text(grid) +
                          " has a dimension of 2^32 threads or more (MSL's thread positions are "
                          "32-bit uints)");
  if (!indirect && (grid.width == 0 || grid.height == 0 || grid.depth == 0)) return;  // nothing to run, as on Metal
  if (!indirect) {
    const auto& limits = buffer_->commandQueue()->device()->limits();
    const uint64_t n[3] = {groups.width, groups.height, groups.depth};
    static const char* axis[3] = {"x", "y", "z"};
    for (int i = 0; i < 3; ++i)
      if (n[i] > limits.max_threadgroups_per_grid[i])
        throw ValidationError(std::string(what) + ": " + std::to_string(n[i]) + " threadgroups along " + axis[i] +
                              " (of " + size3_text(groups) + ") exceed this device's limit of " +
                              std::to_string(limits.max_threadgroups_per_grid[i]) +
                              "; use larger threadgroups or "
                              "split the work into several dispatches");
    uint64_t total = saturating_mul(saturating_mul(groups.width, groups.height), groups.depth);
    if (total > limits.max_total_threadgroups)
      throw ValidationError(std::string(what) + ": " + size3_text(groups) + " = " +
                            (total == ~0ull ? std::string("more than 2^64") : std::to_string(total)) +
                            " threadgroups exceed this device's limit of " +
                            std::to_string(limits.max_total_threadgroups) +
                            " per dispatch; use larger threadgroups or split the work into several dispatches");
  }

  // Built in place (a dispatch's snapshot is about a kilobyte: no copy of it), and taken
  // back out if validation fails below.
  auto& list = buffer_->commands();
  auto& cmd = std::get<DispatchCommand>(list.commands.emplace_back(std::in_place_type<DispatchCommand>));
  struct Unrecord {
    CommandList& list;
    bool keep = false;
    ~Unrecord() {
      if (!keep) list.commands.pop_back();
    }
  } unrecord{list};
  cmd.pipeline = pipeline_;
  for (const auto& [b, written] : used_resources_) cmd.resources.emplace_back(b->impl_ptr(), written);
  if (indirect) cmd.indirect = indirect->impl_ptr(), cmd.indirect_offset = indirect_offset;
  cmd.threads_per_grid = grid;
  cmd.threads_per_threadgroup = tg;
  cmd.threadgroups_per_grid = groups;
  uint64_t tg_memory = pipeline_->staticThreadgroupMemoryLength();
  for (const auto& arg : info.args) {
    // An argument the kernel cannot touch (MTLArgument.isActive false) needs no binding, as on
    // Metal; the backends pass it a placeholder it never reads.
    if (!arg.used) continue;
    if (arg.kind == msl::ArgKind::Buffer) {
      static const Binding unbound;
      const auto& b = static_cast<size_t>(arg.index) < bindings_.size() ? bindings_[arg.index] : unbound;
      if (!b.bound)
        throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[buffer(" +
                              std::to_string(arg.index) + ")]] is not bound: call set_buffer(buffer, 0, " +
                              std::to_string(arg.index) + ") or set_bytes(data, " + std::to_string(arg.index) +
                              ") before dispatching");
      if (arg.is_reference) {
        // A `T&` reads sizeof(T) bytes: shorter data would be read past its end.
        uint64_t need = pipeline_->kernel().referenceArgumentSize(static_cast<size_t>(&arg - info.args.data()));
        // A 3-component vector (uint3, float3) is padded to 4: its 4th element is never read,
        // and passing three values (np.array([x, y, z], np.uint32)) is common and harmless.
        if (is_three_component_vector(arg.element_type)) need = need / 4 * 3;
        uint64_t have = b.buffer ? b.buffer->length() - b.offset : b.bytes.size();
        if (need > 0 && have < need)
          throw ValidationError(
              "kernel '" + info.name + "' argument '" + arg.name + "' [[buffer(" + std::to_string(arg.index) +
              ")]] is a " + arg.type + " of " + std::to_string(need) + " bytes, but " +
              (b.buffer ? "the buffer bound there has only " + std::to_string(have) + " bytes after its offset"
                        : "set_bytes gave only " + std::to_string(have) + " bytes") +
              " (pass a value of the kernel's type, e.g. a NumPy scalar or structured array of " +
              std::to_string(need) + " bytes)");
      }
      if (cmd.buffers.size() <= static_cast<size_t>(arg.index)) cmd.buffers.resize(arg.index + 1);
      auto& out = cmd.buffers[arg.index];
      if (b.buffer) {
        out.buffer = b.buffer->impl_ptr();
        out.offset = b.offset;
        out.length = b.buffer->length() - b.offset;
      } else {
        // Inline bytes live in the command list's arena, 16-byte aligned for any struct.
        uint64_t at = round_up(list.bytes.size(), 16);
        list.bytes.resize(at + b.bytes.size());
        std::memcpy(list.bytes.data() + at, b.bytes.data(), b.bytes.size());
        out.offset = at;
        out.length = b.bytes.size();
      }
      cmd.bound_mask |= 1u << arg.index;
    } else if (arg.kind == msl::ArgKind::Threadgroup) {
      uint32_t len = threadgroup_lengths_[arg.index];
      if (len == 0)
        throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[threadgroup(" +
                              std::to_string(arg.index) + ")]] has no memory: call set_threadgroup_memory_length(" +
                              "bytes, " + std::to_string(arg.index) + ") before dispatching");
      cmd.threadgroup_lengths[arg.index] = len;
      tg_memory += len;
    } else if (arg.kind == msl::ArgKind::Texture) {
      bind_texture(info, arg, cmd);
    } else if (arg.kind == msl::ArgKind::Sampler) {
      if (arg.index < 0 || arg.index > 15 || static_cast<size_t>(arg.index) >= samplers_.size() ||
          !samplers_[arg.index])
        throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[sampler(" +
                              std::to_string(arg.index) + ")]] is not bound: call set_sampler_state(sampler, " +
                              std::to_string(arg.index) + ") before dispatching");
      if (cmd.samplers.size() <= static_cast<size_t>(arg.index)) cmd.samplers.resize(arg.index + 1);
      std::memcpy(&cmd.samplers[arg.index], samplers_[arg.index]->bytes(), sizeof(metal_sampler_abi));
    }
  }
  auto limit = buffer_->commandQueue()->device()->limits().max_threadgroup_memory_length;
  if (tg_memory > limit)
    throw ValidationError("kernel '" + info.name + "' needs " + std::to_string(tg_memory) +
                          " bytes of threadgroup memory; the device allows " + std::to_string(limit));
  if (indirect) pipeline_->kernel().prepareIndirectDispatch(tg);
  unrecord.keep = true;
}

void ComputeCommandEncoder::endEncoding() {
  if (ended_) return;
  ended_ = true;
  buffer_->markEncoderOpen(false);
}

void ComputeCommandEncoder::bind_texture(const msl::KernelInfo& info, const msl::KernelArg& arg, DispatchCommand& cmd) {
  const std::string where =
      "kernel '" + info.name + "' argument '" + arg.name + "' [[texture(" + std::to_string(arg.index) + ")]]";
  if (arg.index < 0 || arg.index > 127 || static_cast<size_t>(arg.index) >= textures_.size() || !textures_[arg.index])
    throw ValidationError(where + " is not bound: call set_texture(texture, " + std::to_string(arg.index) +
                          ") before dispatching");
  const Texture& t = *textures_[arg.index];
  const auto& d = t.descriptor();
  std::string name, element, access;
  parse_texture_type(arg.type, name, element, access);
  bool written = true;  // unknown (template kernels): assume the kernel writes
  if (!arg.dependent_type) {
    if (name.rfind("texture", 0) != 0 || name.find("_ms") != std::string::npos)
      throw Error(where + ": " + name +
                  " is not supported yet (texture1d, texture1d_array, texture2d, "
                  "texture2d_array, texture3d, texturecube, texturecube_array and texture_buffer are)");
    if (name != texture_type_name(d.type))
      throw ValidationError(where + " is a " + name + " but the bound texture is a " + texture_type_name(d.type));
    const std::string want = pixel_format_sample_type(d.pixel_format);
    const std::string have = element == "float" || element == "half" || element == "bfloat"   ? "float"
                             : element == "uint" || element == "ushort" || element == "uchar" ? "uint"
                             : element == "int" || element == "short" || element == "char"    ? "int"
                                                                                              : element;
    if (have != want)
      throw ValidationError(where + " reads " + element + " texels but the bound texture's pixel format " +
                            std::to_string(d.pixel_format) + " holds " + want +
                            " data (float/half kernels take float, unorm and half formats; int/uint kernels the "
                            "matching integer formats)");
    written =
        access == "access::write" || access == "access::read_write" || access == "write" || access == "read_write";
  }
  if (cmd.textures.size() <= static_cast<size_t>(arg.index)) cmd.textures.resize(arg.index + 1);
  BoundTexture& out = cmd.textures[arg.index];
  out.buffer = t.buffer()->impl_ptr();
  out.written = written;
  out.abi.data = nullptr;
  out.abi.width = static_cast<unsigned>(d.width);
  out.abi.height = static_cast<unsigned>(d.height);
  out.abi.depth = static_cast<unsigned>(t.slices());
  out.abi.row_pitch = static_cast<unsigned>(t.bytesPerRow());
  out.abi.slice_pitch = t.bytesPerImage();
  out.abi.format = d.pixel_format;
  out.abi.texel_bytes = pixel_format_bytes(d.pixel_format);
}

// ---------------------------------------------------------------- BlitCommandEncoder

BlitCommandEncoder::BlitCommandEncoder(std::shared_ptr<CommandBuffer> buffer) : buffer_(std::move(buffer)) {
  buffer_->markEncoderOpen(true);
}

void BlitCommandEncoder::ensureOpen(const char* what) const {
  if (ended_) throw ValidationError(std::string(what) + " after end_encoding(): make a new encoder");
  if (buffer_->status() != CommandBufferStatus::NotEnqueued)
    throw ValidationError(std::string(what) + " on an encoder whose command buffer was already committed");
}

namespace {
void check_range(const std::shared_ptr<Buffer>& b, uint64_t offset, uint64_t size, const char* what,
                 const char* which) {
  if (!b) throw ValidationError(std::string(what) + ": the " + which + " buffer is None");
  if (offset > b->length() || size > b->length() - offset)
    throw ValidationError(std::string(what) + ": bytes [" + std::to_string(offset) + ", " +
                          std::to_string(offset + size) + ") are outside the " + which + " buffer's " +
                          std::to_string(b->length()) + " bytes");
}
}  // namespace

void BlitCommandEncoder::copyFromBuffer(const std::shared_ptr<Buffer>& source, uint64_t source_offset,
                                        const std::shared_ptr<Buffer>& destination, uint64_t destination_offset,
                                        uint64_t size) {
  ensureOpen("copy_from_buffer");
  check_range(source, source_offset, size, "copy_from_buffer", "source");
  check_range(destination, destination_offset, size, "copy_from_buffer", "destination");
  if (source == destination && source_offset < destination_offset + size && destination_offset < source_offset + size)
    throw ValidationError("copy_from_buffer: source and destination ranges overlap in the same buffer");
  BufferSide from = BufferSide::Local, to = BufferSide::Local;
  check_copy_devices(*source, *destination, *buffer_->commandQueue()->device(), from, to);
  buffer_->commands().commands.emplace_back(
      CopyCommand{source->impl_ptr(), destination->impl_ptr(), source_offset, destination_offset, size, from, to});
}

void BlitCommandEncoder::fillBuffer(const std::shared_ptr<Buffer>& buffer, uint64_t start, uint64_t length,
                                    uint8_t value) {
  ensureOpen("fill_buffer");
  check_range(buffer, start, length, "fill_buffer", "target");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "fill_buffer: the buffer");
  buffer_->commands().commands.emplace_back(FillCommand{buffer->impl_ptr(), start, length, value});
}

void BlitCommandEncoder::synchronizeResource(const std::shared_ptr<Buffer>& buffer) {
  ensureOpen("synchronize_resource");
  if (!buffer) throw ValidationError("synchronize_resource: the buffer is None");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "synchronize_resource: the buffer");
  buffer_->commands().commands.emplace_back(SynchronizeCommand{buffer->impl_ptr()});
}

void BlitCommandEncoder::endEncoding() {
  if (ended_) return;
  ended_ = true;
  buffer_->markEncoderOpen(false);
}

}  // namespace metallic
