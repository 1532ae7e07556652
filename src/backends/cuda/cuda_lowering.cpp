// Command lowering: a command buffer's commands become the CUDA queue's ops (kernel
// launches with their packed parameters, copies, fills, stream memory operations for shared
// events), which are then enqueued on the stream one by one or replayed as a CUDA graph.
#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_completion.h"
#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_queue.h"
#include "backends/cuda/entry_wrapper.h"
#include "core/commands.h"
#include "core/entry_codegen.h"
#include "core/kernel_diagnostics.h"
#include "metallic/error.h"
#include "metallic/event.h"
#include "metallic/library.h"

namespace metallic::cuda {

StagingPool::~StagingPool() {
  for (auto& b : blocks_) context_->release([api = &context_->api(), p = b.host] { api->cuMemFreeHost(p); });
}

void* StagingPool::get(size_t bytes, CUstream stream, uint64_t commit) {
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

namespace {

// The launch's inline mask (entry_wrapper.h: P.dims[9], bit k: argument k's data is inline).
uint32_t inline_mask(const std::vector<unsigned char>& params) {
  uint32_t mask = 0;
  std::memcpy(&mask, params.data() + 9 * sizeof(uint32_t), sizeof mask);
  return mask;
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
  op.function = op.graph_function = kernel.indirect_function();
  op.grid[0] = kernel.indirect_blocks(op.block[0] * op.block[1] * op.block[2], op.shared);
  op.grid[1] = op.grid[2] = 1;
}

// Validation and logging (issue 12): the dispatch's metal_diag_dev, with the ranges its
// kernel may reach, room for findings and log records, and for validation the shadow words
// of each threadgroup's memory (two 8-byte words per byte; the kernel indexes them by the
// byte's offset in the block's shared window, static variables included).
void CudaQueue::prepare_diagnostics(const DispatchCommand& d, CudaKernel& kernel, Op& op,
                                    std::vector<CUdeviceptr>& scratch, std::vector<DiagDispatch>& diags) {
  const auto& api = context_->api();
  const auto& info = d.pipeline->function()->info();
  auto head = std::make_shared<metal_diag_dev>();
  std::memset(head.get(), 0, sizeof *head);
  head->validation = kernel.validation ? 1 : 0;
  uint32_t shared = 0;
  for (size_t a = 0; a < info.args.size(); ++a) {
    const auto& arg = info.args[a];
    if (!arg.used) continue;
    if (arg.kind == msl::ArgKind::Threadgroup && arg.index >= 0 && arg.index < 31) {
      head->tg_offset[arg.index] = shared;
      head->tg_length[arg.index] = d.threadgroup_lengths[arg.index];
      shared += d.threadgroup_lengths[arg.index];
    } else if (arg.kind == msl::ArgKind::Buffer && head->nranges < METAL_DIAG_MAX_RANGES) {
      const BoundArgument& bound = d.buffers[arg.index];
      uint64_t address = 0;
      std::memcpy(&address, op.params.data() + kernel.slot_offset(a), sizeof address);
      if ((reinterpret_cast<const uint32_t*>(op.params.data())[9] >> a) & 1u) continue;  // inline: a private copy
      metal_diag_range& r = head->ranges[head->nranges++];
      r.begin = reinterpret_cast<const char*>(static_cast<uintptr_t>(address));
      r.length = bound.length;
      r.index = arg.index;
      r.kind = bound.buffer ? metal_diag_range_buffer : metal_diag_range_bytes;
    }
  }
  const uint64_t blocks = uint64_t(op.grid[0]) * op.grid[1] * op.grid[2];
  // The shared window: CUDA's reserved bytes, the static variables, then the dynamic memory.
  const uint64_t window = kernel.validation ? ((kernel.static_shared() + shared + 1024 + 15) / 16 * 16 + 16) : 0;
  // An indirect dispatch's block runs many threadgroups in turn: no shadow state there.
  head->shadow_bytes = d.indirect ? 0 : window;
  if (head->shadow_bytes) {
    // One slot per block that can be resident at once (a block claims one as it starts).
    int per_sm = 0;
    const unsigned threads = op.block[0] * op.block[1] * op.block[2];
    if (api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, op.function, static_cast<int>(threads), op.shared) !=
            CUDA_SUCCESS ||
        per_sm < 1)
      per_sm = 1;
    const uint64_t resident = uint64_t(std::max(context_->attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), 1)) *
                              static_cast<uint64_t>(per_sm);
    head->shadow_slots = static_cast<unsigned>(std::max<uint64_t>(1, std::min(blocks, resident)));
  }
  const uint64_t shadow = head->shadow_bytes * 16 * head->shadow_slots;
  constexpr uint64_t kShadowLimit = uint64_t(2) << 30;
  if (shadow > kShadowLimit)
    throw ValidationError(
        "validation on CUDA keeps 16 bytes of state per threadgroup byte of each resident "
        "threadgroup: kernel '" +
        info.name + "' would need " + std::to_string(shadow >> 20) + " MiB (the limit is " +
        std::to_string(kShadowLimit >> 20) + " MiB); use less threadgroup memory while validating");
  head->log_capacity = kernel.logging ? static_cast<unsigned>(std::min<size_t>(diag::log_capacity(), 1u << 30)) : 0;
  const uint64_t findings_at = (sizeof(metal_diag_dev) + 255) / 256 * 256;
  const uint64_t log_at = findings_at + (METAL_DIAG_DEV_FINDINGS * sizeof(metal_diag_finding) + 255) / 256 * 256;
  const uint64_t busy_at = log_at + (head->log_capacity + 255) / 256 * 256;
  const uint64_t shadow_at = busy_at + (uint64_t(head->shadow_slots) * 4 + 255) / 256 * 256;
  const uint64_t total = shadow_at + shadow;
  CUdeviceptr block = 0;
  context_->check(api.cuMemAlloc_v2(&block, total), "allocating validation and log memory");
  scratch.push_back(block);
  head->findings = block + findings_at;
  head->log = block + log_at;
  head->busy = block + busy_at;
  head->shadow = block + shadow_at;
  // The shadow slots are cleared by the blocks that claim them.
  context_->check(api.cuMemsetD8Async(block, 0, shadow_at, stream_), "clearing validation and log memory");
  context_->check(api.cuMemcpyHtoDAsync_v2(block, head.get(), sizeof *head, stream_), "uploading validation ranges");
  std::memcpy(op.params.data() + kernel.diag_offset(), &block, sizeof block);
  diags.push_back({block, findings_at, log_at, &info.name, kernel.validation, std::move(head)});
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
      case Op::GraphLaunch:
        context_->check(api.cuGraphLaunch(op.exec, stream_), "launching an indirect command buffer's graph");
        break;
    }
  }
}

CudaQueue::Lowered CudaQueue::lower(CommandList& list, Pending& pending, bool want_graph) {
  // A copy with the CPU device's memory takes two steps (a DMA and a host copy); an indirect
  // command buffer's execution one per dispatch (until its graph is made).
  size_t need = 2 * list.commands.size();
  for (const auto& command : list.commands)
    if (auto* x = std::get_if<ExecuteIndirectCommand>(&command)) need += x->snapshot->dispatches.size();
  if (ops_.size() < need) ops_.resize(need);
  if (icb_graphs_.size() >= 64) {  // ICBs changed many times: keep memory bounded (none is in ops_ yet)
    context_->check(context_->api().cuStreamSynchronize(stream_), "retiring indirect command buffer graphs");
    for (auto& [k, g] : icb_graphs_) destroy_graph(g);
    icb_graphs_.clear();
  }
  Lowered out;
  for (auto& command : list.commands) {
    Op& op = ops_[out.count];
    op.kind = Op::Launch;
    op.counts_copy = op.counts = 0;
    if (auto* d = std::get_if<DispatchCommand>(&command)) {
      pending.name_kernel(d->pipeline->function()->info().name);
      lower_dispatch(*d, list, op, pending);
      if (want_graph) append_signature(op, out.signature);
      ++out.count;
    } else if (auto* c = std::get_if<CopyCommand>(&command)) {
      out.launches_only = false;
      out.count += lower_copy(*c, out.count, pending);
    } else if (auto* f = std::get_if<FillCommand>(&command)) {
      auto* dst = static_cast<CudaBuffer*>(f->buffer.get());
      dst->prepare_for_device(stream_);
      op.kind = Op::Fill;
      op.dst = dst->address() + f->offset;
      op.bytes = f->length;
      op.value = f->value;
      dst->device_written();
      pending.written.push_back(f->buffer);
      out.launches_only = false;
      ++out.count;
    } else if (auto* x = std::get_if<ExecuteIndirectCommand>(&command)) {
      lower_indirect(*x, list, out, pending, want_graph);
    } else if (auto* sig = std::get_if<SignalEventCommand>(&command)) {
      out.launches_only = false;
      op.kind = Op::WriteValue;
      op.dst = event_address(*sig->event);
      op.value64 = sig->value;
      pending.signals.emplace_back(sig->event, sig->value);
      ++out.count;
    } else if (auto* w = std::get_if<WaitEventCommand>(&command)) {
      out.launches_only = false;
      op.kind = Op::WaitValue;
      op.dst = event_address(*w->event);
      op.value64 = w->value;
      pending.waits.push_back(w->event);
      ++out.count;
    }
    // else synchronize_resource: host reads fetch on demand (no op)
  }
  return out;
}

void CudaQueue::lower_dispatch(const DispatchCommand& d, const CommandList& list, Op& op, Pending& pending) {
  auto& kernel = static_cast<CudaKernel&>(d.pipeline->kernel());
  const bool uniform = d.threads_per_grid.width % d.threads_per_threadgroup.width == 0 &&
                       d.threads_per_grid.height % d.threads_per_threadgroup.height == 0 &&
                       d.threads_per_grid.depth % d.threads_per_threadgroup.depth == 0;
  op.params.assign(kernel.params_size(), 0);  // keeps its capacity across commits
  op.inline_slots.clear();
  const Size3 g = d.threads_per_grid, tg = d.threads_per_threadgroup, n = d.threadgroups_per_grid;
  uint32_t values[9] = {uint32_t(g.width),  uint32_t(g.height),  uint32_t(g.depth),
                        uint32_t(tg.width), uint32_t(tg.height), uint32_t(tg.depth),
                        uint32_t(n.width),  uint32_t(n.height),  uint32_t(n.depth)};
  std::memcpy(op.params.data(), values, sizeof values);
  uint32_t shared = bind_arguments(d, list, kernel, op, pending);
  // Where the `constant T&` arguments' data is decides the uniform entry (cuda_kernel.h).
  const auto& args = d.pipeline->function()->info().args;
  bool any_inline = false, any_buffer = false;
  for (size_t a = 0; a < args.size(); ++a)
    if (codegen::is_constant_reference(args[a]) && args[a].used)
      ((inline_mask(op.params) >> a) & 1u ? any_inline : any_buffer) = true;
  op.function = kernel.function(uniform, any_inline && any_buffer ? 0 : any_buffer ? 2 : 1);
  op.uniform = uniform;
  op.graph_function = kernel.function(uniform, 2);
  for (const auto& [resource, written] : d.resources) {
    auto* b = static_cast<CudaBuffer*>(resource.get());
    b->prepare_for_device(stream_, written);
    if (written) pending.written.push_back(resource);
  }
  kernel.ensure_dynamic_shared(shared);
  op.shared = shared;
  for (int i = 0; i < 3; ++i) op.grid[i] = values[6 + i], op.block[i] = values[3 + i];
  if (d.indirect) encode_indirect(d, kernel, op, pending.scratch);
  if (kernel.has_diag()) prepare_diagnostics(d, kernel, op, pending.scratch, pending.diags);
}

void CudaQueue::lower_indirect(const ExecuteIndirectCommand& x, const CommandList& list, Lowered& out, Pending& pending,
                               bool want_graph) {
  const IndirectSnapshot& s = *x.snapshot;
  for (const auto& [resource, written] : x.resources) {
    auto* b = static_cast<CudaBuffer*>(resource.get());
    b->prepare_for_device(stream_, written);
    if (written) pending.written.push_back(resource);
  }
  for (const auto& d : s.dispatches) pending.name_kernel(d.pipeline->function()->info().name);
  if (s.dispatches.empty()) return;
  if (auto it = icb_graphs_.find(s.id); it != icb_graphs_.end()) {
    // Executed before, unchanged: its parameter buffers' bytes by value where they can be
    // (cuda_graphs.cpp), what lowering its dispatches would do to their buffers, then one
    // launch of its graph.
    Graph& graph = it->second;
    refresh_constants(graph, constants_current_);
    for (const auto& [buffer, written] : s.buffers) {
      auto* b = static_cast<CudaBuffer*>(buffer.get());
      if (!written && !graph.constant_buffers.empty()) {
        auto at = std::find(graph.constant_buffers.begin(), graph.constant_buffers.end(), b);
        const size_t i = at - graph.constant_buffers.begin();
        if (at != graph.constant_buffers.end() && graph.constant_only[i] && constants_current_[i])
          continue;  // every reader has its bytes by value: the host's writes can wait
      }
      b->prepare_for_device(stream_, written);
      if (written) pending.written.push_back(buffer);
    }
    Op& op = ops_[out.count++];
    op.kind = Op::GraphLaunch;
    op.exec = graph.exec;
    out.launches_only = false;
    return;
  }
  const size_t first = out.count, scratch = pending.scratch.size();
  bool inline_data = false;
  for (const auto& d : s.dispatches) {
    Op& op = ops_[out.count];
    op.kind = Op::Launch;
    op.counts_copy = op.counts = 0;
    lower_dispatch(d, list, op, pending);
    inline_data |= !op.inline_slots.empty();
    if (want_graph) append_signature(op, out.signature);
    ++out.count;
  }
  // Validation and logging builds give each dispatch memory of its own: launched one by one.
  if (!graphs_enabled_ || s.dispatches.size() < 2 || pending.scratch.size() != scratch || inline_data) return;
  // Recorded to be executed again: its graph is made now, and launched from the first time.
  Graph& graph = icb_graphs_[s.id];
  try {
    if (constants_by_value_) plan_constants(graph, s, first);
    build_graph(graph, first, out.count - first);
  } catch (...) {
    destroy_graph(graph);
    icb_graphs_.erase(s.id);
    throw;
  }
  Op& op = ops_[first];
  op.kind = Op::GraphLaunch;
  op.exec = graph.exec;
  out.count = first + 1;
  out.launches_only = false;
}

uint32_t CudaQueue::bind_arguments(const DispatchCommand& d, const CommandList& list, CudaKernel& kernel, Op& op,
                                   Pending& pending) {
  const auto& info = d.pipeline->function()->info();
  auto* dims = reinterpret_cast<uint32_t*>(op.params.data());
  uint32_t shared = 0;
  for (size_t a = 0; a < info.args.size(); ++a) {
    const auto& arg = info.args[a];
    unsigned char* slot = op.params.data() + kernel.slot_offset(a);
    if (!arg.used) continue;  // not bound, never read: the slot stays zero
    if (arg.kind == msl::ArgKind::Buffer) {
      const BoundArgument& bound = d.buffers[arg.index];
      if (bound.buffer) {
        auto* b = static_cast<CudaBuffer*>(bound.buffer.get());
        b->prepare_for_device(stream_, !arg.is_const);
        CUdeviceptr address = b->address() + bound.offset;
        std::memcpy(slot, &address, sizeof address);
        if (!arg.is_const) pending.written.push_back(bound.buffer);
      } else if (arg.is_reference && bound.length <= kernel.slot_capacity(a)) {
        std::memcpy(slot, list.bytes_at(bound.offset), bound.length);  // inline, like Metal's setBytes
        dims[9] |= 1u << a;
        op.inline_slots.push_back(
            {kernel.slot_offset(a), static_cast<uint32_t>(bound.length), static_cast<uint32_t>(a)});
      } else {
        // set_bytes data for a pointer argument: give it device memory of its own.
        const auto& api = context_->api();
        CUdeviceptr scratch = 0;
        context_->check(api.cuMemAlloc_v2(&scratch, bound.length + kAllocationGap), "allocating set_bytes data");
        pending.scratch.push_back(scratch);
        context_->check(api.cuMemcpyHtoDAsync_v2(scratch, list.bytes_at(bound.offset), bound.length, stream_),
                        "copying set_bytes data");
        std::memcpy(slot, &scratch, sizeof scratch);
      }
    } else if (arg.kind == msl::ArgKind::Texture) {
      const BoundTexture& bound = d.textures[arg.index];
      auto* b = static_cast<CudaBuffer*>(bound.buffer.get());
      b->prepare_for_device(stream_, bound.written);
      metal_texture_abi abi = bound.abi;
      abi.data = reinterpret_cast<void*>(static_cast<uintptr_t>(b->address()));
      std::memcpy(slot, &abi, sizeof abi);
      if (bound.written) pending.written.push_back(bound.buffer);
    } else if (arg.kind == msl::ArgKind::Sampler) {
      std::memcpy(slot, &d.samplers[arg.index], sizeof(metal_sampler_abi));
    } else if (arg.kind == msl::ArgKind::Threadgroup) {
      uint32_t offset = shared;
      std::memcpy(slot, &offset, sizeof offset);
      shared += d.threadgroup_lengths[arg.index];
    }
  }
  return shared;
}

size_t CudaQueue::lower_copy(const CopyCommand& c, size_t at, Pending& pending) {
  // Core checked the devices: a Host side is the CPU device's memory (a HostBuffer,
  // never cast to ours); Local and Peer sides are CUDA buffers of this or another GPU.
  if (c.source_side == BufferSide::Host || c.destination_side == BufferSide::Host)
    return lower_host_copy(c, at, pending);
  Op& op = ops_[at];
  auto* src = static_cast<CudaBuffer*>(c.source.get());
  auto* dst = static_cast<CudaBuffer*>(c.destination.get());
  src->prepare_for_device(stream_);
  dst->prepare_for_device(stream_);  // bytes outside the copied range must be current
  op.kind = Op::Copy;
  op.src = src->address() + c.source_offset;
  op.dst = dst->address() + c.destination_offset;
  op.bytes = c.size;
  if (c.source_side == BufferSide::Peer || c.destination_side == BufferSide::Peer) {
    // Between two GPUs: directly over NVLink/PCIe when peer access can be enabled,
    // else the driver stages the copy through host memory.
    const CudaContext& src_ctx = c.source_side == BufferSide::Peer ? src->context() : *context_;
    const CudaContext& dst_ctx = c.destination_side == BufferSide::Peer ? dst->context() : *context_;
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
  pending.written.push_back(c.destination);
  return 1;
}

size_t CudaQueue::lower_host_copy(const CopyCommand& c, size_t at, Pending& pending) {
  if (c.source_side == BufferSide::Host && c.destination_side == BufferSide::Host)
    throw Error("internal: a copy between two CPU buffers reached a CUDA queue");
  if (!staging_pool_) staging_pool_ = std::make_shared<StagingPool>(context_);
  pending.staging = staging_pool_;
  void* staging = staging_pool_->get(std::max<uint64_t>(c.size, 1), stream_, progress_->submitted.load() + 1);
  Op& op = ops_[at];
  Op& next = ops_[at + 1];
  next.counts_copy = next.counts = 0;
  if (c.source_side == BufferSide::Host) {
    auto* dst = static_cast<CudaBuffer*>(c.destination.get());
    dst->prepare_for_device(stream_);
    auto* from = static_cast<unsigned char*>(c.source->contents()) + c.source_offset;
    op.kind = Op::HostCall;
    op.call = &HostCopy::run;
    op.call_data = new HostCopy{staging, from, c.size, c.source};
    next.kind = Op::FromHost;
    next.host = staging;
    next.dst = dst->address() + c.destination_offset;
    next.bytes = c.size;
    dst->device_written();
    pending.written.push_back(c.destination);
  } else {
    auto* src = static_cast<CudaBuffer*>(c.source.get());
    src->prepare_for_device(stream_);
    auto* to = static_cast<unsigned char*>(c.destination->contents()) + c.destination_offset;
    op.kind = Op::ToHost;
    op.host = staging;
    op.src = src->address() + c.source_offset;
    op.bytes = c.size;
    next.kind = Op::HostCall;
    next.call = &HostCopy::run;
    next.call_data = new HostCopy{to, staging, c.size, c.destination};
  }
  return 2;
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

}  // namespace metallic::cuda
