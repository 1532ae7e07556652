// CUDA-graph replay: a command buffer whose exact sequence of launches was committed before
// is replayed as one CUDA graph (a simulation step, say) instead of one launch per dispatch.
// The sequence is identified by a signature of its lowered launches, set_bytes data aside;
// that data is uploaded to the graph's own argument memory before each replay.
#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_buffer.h"
#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_queue.h"
#include "core/commands.h"
#include "core/disk_cache.h"
#include "core/entry_codegen.h"
#include "metallic/library.h"

namespace metallic::cuda {

namespace {

// The size a set_bytes value takes in a graph's argument memory (16-byte aligned slots).
size_t aligned_slot(size_t length) { return (length + 15) / 16 * 16; }

}  // namespace

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

void CudaQueue::build_graph(Graph& graph, size_t first, size_t count) {
  const auto& api = context_->api();
  graph.args_size = 0;
  for (size_t i = first; i < first + count; ++i)
    for (const auto& s : ops_[i].inline_slots) graph.args_size += aligned_slot(s.length);
  if (graph.args_size) context_->check(api.cuMemAlloc_v2(&graph.args, graph.args_size), "allocating graph arguments");
  context_->check(api.cuGraphCreate(&graph.graph, 0), "cuGraphCreate");
  CUgraphNode previous = nullptr;
  size_t at = 0;
  graph.nodes.clear();
  std::vector<unsigned char> params;
  for (size_t i = first; i < first + count; ++i) {
    const Op& op = ops_[i];
    params = op.params;
    auto* mask = reinterpret_cast<uint32_t*>(params.data()) + 9;
    for (const auto& s : op.inline_slots) {
      CUdeviceptr where = graph.args + at;
      std::memcpy(params.data() + s.offset, &where, sizeof where);
      *mask &= ~(1u << s.bit);  // the data is behind a pointer now
      at += aligned_slot(s.length);
    }
    void* kernel_params[] = {params.data()};
    CudaKernelNodeParams p{};
    p.func = op.inline_slots.empty() ? op.function : op.graph_function;  // the data is behind pointers now
    p.gridDimX = op.grid[0], p.gridDimY = op.grid[1], p.gridDimZ = op.grid[2];
    p.blockDimX = op.block[0], p.blockDimY = op.block[1], p.blockDimZ = op.block[2];
    p.sharedMemBytes = op.shared;
    p.kernelParams = kernel_params;
    CUgraphNode node = nullptr;
    context_->check(
        api.cuGraphAddKernelNode_v2(&node, graph.graph, previous ? &previous : nullptr, previous ? 1 : 0, &p),
        "adding a kernel to a graph");
    previous = node;
    graph.nodes.push_back(node);
  }
  context_->check(api.cuGraphInstantiateWithFlags(&graph.exec, graph.graph, 0), "graph instantiation");
}

void CudaQueue::plan_constants(Graph& graph, const IndirectSnapshot& snapshot, size_t first) {
  // Buffers some dispatch may write cannot be read on the host ahead of it.
  auto written = [&](const backend::BufferImpl* b) {
    for (const auto& [buffer, w] : snapshot.buffers)
      if (buffer.get() == b) return w;
    return true;
  };
  std::vector<const backend::BufferImpl*> other_uses;  // bound some other way somewhere
  for (size_t i = 0; i < snapshot.dispatches.size(); ++i) {
    const DispatchCommand& d = snapshot.dispatches[i];
    const Op& op = ops_[first + i];
    auto& kernel = static_cast<CudaKernel&>(d.pipeline->kernel());
    const auto& args = d.pipeline->function()->info().args;
    for (const auto& [resource, w] : d.resources) other_uses.push_back(resource.get());
    for (const auto& t : d.textures) other_uses.push_back(t.buffer.get());
    Graph::ConstantNode node{};
    size_t constant_refs = 0;
    for (size_t a = 0; a < args.size(); ++a) {
      if (!args[a].used || args[a].kind != msl::ArgKind::Buffer) continue;
      const BoundArgument& bound = d.buffers[args[a].index];
      const bool constant = codegen::is_constant_reference(args[a]);
      constant_refs += constant;
      auto* b = static_cast<CudaBuffer*>(bound.buffer.get());
      const uint64_t size = constant ? kernel.referenceArgumentSize(a) : 0;
      if (!b || !constant || size == 0 || size > kernel.slot_capacity(a) || bound.offset > b->length() ||
          size > b->length() - bound.offset || written(bound.buffer.get())) {
        if (b) other_uses.push_back(b);
        continue;
      }
      auto at = std::find(graph.constant_buffers.begin(), graph.constant_buffers.end(), b);
      if (at == graph.constant_buffers.end()) at = graph.constant_buffers.insert(at, b);
      node.constants.push_back({kernel.slot_offset(a), static_cast<uint32_t>(size), static_cast<uint32_t>(a),
                                static_cast<uint32_t>(at - graph.constant_buffers.begin()), bound.offset});
    }
    if (node.constants.empty()) continue;
    node.node = i;
    node.pointer_function = op.function;
    // All of the kernel's constant references by value: their uniform entry; else the general
    // entry, which tests each argument's inline bit.
    node.value_function = kernel.function(op.uniform, node.constants.size() == constant_refs ? 1 : 0);
    std::copy(op.grid, op.grid + 3, node.grid);
    std::copy(op.block, op.block + 3, node.block);
    node.shared = op.shared;
    node.pointer_params = node.params = op.params;
    graph.constant_nodes.push_back(std::move(node));
  }
  for (const CudaBuffer* b : graph.constant_buffers)
    graph.constant_only.push_back(std::find(other_uses.begin(), other_uses.end(), b) == other_uses.end());
  // The graph is instantiated with the data by value where it can be now.
  std::vector<char> current(graph.constant_buffers.size(), 1);
  std::vector<unsigned char> params;
  for (auto& node : graph.constant_nodes) {
    if (!value_params(graph, node, params, current)) continue;
    Op& op = ops_[first + node.node];
    op.params = params;
    op.function = node.value_function;
    node.params.swap(params);
    node.by_value = true;
  }
}

bool CudaQueue::value_params(const Graph& graph, const Graph::ConstantNode& node, std::vector<unsigned char>& params,
                             std::vector<char>& current) {
  params = node.pointer_params;
  for (const auto& c : node.constants) {
    if (!current[c.buffer] ||
        !graph.constant_buffers[c.buffer]->read_current_host_copy(c.offset, c.length, params.data() + c.slot)) {
      params = node.pointer_params;
      for (const auto& d : node.constants) current[d.buffer] = 0;  // read through pointers: uploaded
      return false;
    }
    reinterpret_cast<uint32_t*>(params.data())[9] |= 1u << c.bit;  // the data is inline
  }
  return true;
}

void CudaQueue::refresh_constants(Graph& graph, std::vector<char>& current) {
  const auto& api = context_->api();
  current.assign(graph.constant_buffers.size(), 1);
  std::vector<unsigned char> params;
  for (auto& node : graph.constant_nodes) {
    const bool by_value = value_params(graph, node, params, current);
    if (by_value == node.by_value && params == node.params) continue;  // the node has it already
    void* kernel_params[] = {params.data()};
    CudaKernelNodeParams p{};
    p.func = by_value ? node.value_function : node.pointer_function;
    p.gridDimX = node.grid[0], p.gridDimY = node.grid[1], p.gridDimZ = node.grid[2];
    p.blockDimX = node.block[0], p.blockDimY = node.block[1], p.blockDimZ = node.block[2];
    p.sharedMemBytes = node.shared;
    p.kernelParams = kernel_params;
    context_->check(api.cuGraphExecKernelNodeSetParams_v2(graph.exec, graph.nodes[node.node], &p),
                    "updating an indirect command buffer's parameters");
    node.params.swap(params);
    node.by_value = by_value;
  }
  // A buffer that failed for a later node was passed by value to earlier ones: still right
  // (they got the host's current bytes); `current` says it must be uploaded for the others.
}

void CudaQueue::destroy_graph(Graph& graph) {
  const auto& api = context_->api();
  if (graph.exec) api.cuGraphExecDestroy(graph.exec);
  if (graph.graph) api.cuGraphDestroy(graph.graph);
  if (graph.args) context_->release([api = &api, p = graph.args] { api->cuMemFree_v2(p); });
  graph = Graph{};
}

void CudaQueue::append_signature(const Op& op, std::string& signature) {
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

bool CudaQueue::replay_graph(const std::string& signature, size_t count) {
  const auto& api = context_->api();
  bool replayed = false;
  Graph& graph = graphs_[cache::hash_hex(signature)];
  if (!graph.exec && ++graph.seen >= 2) build_graph(graph, 0, count);  // the same sequence again
  if (graph.exec) {
    if (graph.args_size) {
      StagingSlot& slot = staging_slot(graph.args_size);
      size_t at = 0;
      for (size_t i = 0; i < count; ++i)
        for (const auto& s : ops_[i].inline_slots) {
          std::memcpy(slot.host + at, ops_[i].params.data() + s.offset, s.length);
          at += aligned_slot(s.length);
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
  return replayed;
}

}  // namespace metallic::cuda
