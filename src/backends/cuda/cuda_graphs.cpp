// CUDA-graph replay: a command buffer whose exact sequence of launches was committed before
// is replayed as one CUDA graph (a simulation step, say) instead of one launch per dispatch.
// The sequence is identified by a signature of its lowered launches, set_bytes data aside;
// that data is uploaded to the graph's own argument memory before each replay.
#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_queue.h"
#include "core/disk_cache.h"

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
  }
  context_->check(api.cuGraphInstantiateWithFlags(&graph.exec, graph.graph, 0), "graph instantiation");
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
