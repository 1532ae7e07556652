// Completion of a CUDA queue's command buffers (private to the CUDA backend): what a
// committed command buffer keeps until it is known to be done (`Pending`), how the queue
// learns that (`finish`), and the pools whose contents outlive one commit.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_context.h"
#include "core/backend.h"

namespace metallic {
class CommandBuffer;
class SharedEvent;
}  // namespace metallic

struct metal_diag_dev;

namespace metallic::cuda {

// A dispatch of a validation or logging build (issue 12): its metal_diag_dev in device memory
// (freed with the command buffer's scratch memory), read back when the command buffer completes.
struct DiagDispatch {
  CUdeviceptr block = 0;
  uint64_t findings_at = 0, log_at = 0;
  const std::string* kernel = nullptr;
  bool validation = false;
  std::shared_ptr<metal_diag_dev> head;  // the uploaded header (pageable: kept until done)
};

// Host-clock seconds (steady clock), the unit of a command buffer's times.
inline double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Events are reused: creating one costs about a microsecond.
class EventPool {
 public:
  explicit EventPool(std::shared_ptr<CudaContext> context, unsigned flags)
      : context_(std::move(context)), flags_(flags) {}
  ~EventPool();
  CUevent get();
  void put(CUevent e);

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
  ~StagingPool();
  // The smallest block of at least `bytes` for commit number `commit`. Past 1 GiB in all,
  // `stream` is synchronised (everything enqueued by earlier commits is done) and the blocks
  // no copy of this commit uses are freed.
  void* get(size_t bytes, CUstream stream, uint64_t commit);

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
// Until a program waits for (or polls) a command buffer while later ones are in flight, as
// one with a ring of per-frame buffers does: a stream query would then hold the host until
// the device is idle, and the device would idle while the host encodes the next frame. From
// then on (`precise`) each commit of the queue records an event that completes it alone.
struct StreamProgress {
  CUstream stream = nullptr;
  std::atomic<uint64_t> submitted{0}, completed{0};
  std::atomic<bool> precise{false};
  // The queue's command buffers by sequence, until one of theirs or a later one is finished:
  // a finished buffer finishes the earlier ones still unfinished (they are done too), so that
  // a program that waits for the last buffer of a batch finds the open views the others wrote
  // refreshed and their statuses completed, in commit order.
  std::mutex mutex;
  std::deque<std::pair<uint64_t, std::weak_ptr<CommandBuffer>>> unfinished;
};

// The buffers a command buffer may write (their host views are refreshed once it is done),
// each with its CudaBuffer::writes() just after this command buffer's command marked it
// written (pushed right then): the first four inline, so that a commit of a few dispatches
// allocates nothing for them.
class WrittenBuffers {
 public:
  void push_back(std::shared_ptr<backend::BufferImpl> buffer) {
    const uint64_t writes = static_cast<CudaBuffer&>(*buffer).writes();
    if (count_ < first_.size())
      first_[count_] = {std::move(buffer), writes};
    else
      more_.push_back({std::move(buffer), writes});
    ++count_;
  }
  // f(CudaBuffer&, uint64_t writes), the last pushed first: a buffer's highest count first.
  template <class F> void for_each_latest_first(F f) const {
    for (auto it = more_.rbegin(); it != more_.rend(); ++it) f(static_cast<CudaBuffer&>(*it->first), it->second);
    for (size_t i = std::min(count_, first_.size()); i-- > 0;)
      f(static_cast<CudaBuffer&>(*first_[i].first), first_[i].second);
  }

 private:
  using Entry = std::pair<std::shared_ptr<backend::BufferImpl>, uint64_t>;
  std::array<Entry, 4> first_;
  std::vector<Entry> more_;
  size_t count_ = 0;
};

// What a committed command buffer keeps until it is known to be done.
struct Pending {
  std::shared_ptr<CudaContext> context;
  std::shared_ptr<EventPool> events;
  std::shared_ptr<StreamProgress> progress;
  uint64_t sequence = 0;
  CUevent start = nullptr, end = nullptr;  // with PYMETALLIC_GPU_TIMESTAMPS=1 (start also with a timeout)
  CUevent done = nullptr;                  // the end of its work, once the queue is `precise` (StreamProgress)
  double host_start = 0;
  // PYMETALLIC_KERNEL_TIMEOUT: seconds the work may run once it started (0: no limit), and
  // when the host first saw its start event done (0: not yet).
  double timeout = 0;
  std::atomic<double> seen_started{0};
  // The kernels it runs, for fault messages; the pipelines (and so the names) live in the
  // command buffer's commands until it is finished.
  // (At most 8: named inline, without an allocation per commit.)
  std::array<const std::string*, 8> kernels{};
  size_t kernel_count = 0;
  void name_kernel(const std::string& name) {
    if (kernel_count < kernels.size()) kernels[kernel_count++] = &name;
  }
  std::string kernel_names() const;
  std::vector<CUdeviceptr> scratch;      // device copies of set_bytes data for pointer arguments
  WrittenBuffers written;                // buffers this command buffer may write
  std::shared_ptr<StagingPool> staging;  // kept while its copies may run
  // Shared events it signals (the words stay allocated until the stream is done with them);
  // if the command buffer fails, the host signals them so that other queues do not hang.
  std::vector<std::pair<std::shared_ptr<SharedEvent>, uint64_t>> signals;
  std::vector<std::shared_ptr<SharedEvent>> waits;
  std::vector<DiagDispatch> diags;  // validation and logging (issue 12)
  std::mutex diag_mutex;            // finish() may run on two threads: one collects, the other waits for it
  bool diag_collected = false;
  std::string diag_failure;

  ~Pending();
};

// Learns the outcome of `buffer` from its `Pending` state and finishes it; `block` waits
// for the stream (never with a kernel time limit: then the callers poll).
void finish(CommandBuffer& buffer, bool block);
// The same with the buffer's Pending already loaded (a wait polls with the one it loaded once).
void finish(CommandBuffer& buffer, bool block, const std::shared_ptr<Pending>& pending);

}  // namespace metallic::cuda
