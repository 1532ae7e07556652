// A command queue on a CUDA device: one non-blocking stream. commit() enqueues everything
// on the calling thread and returns; completion is learnt from an event when the program
// waits or asks for the status. A command buffer whose exact sequence of launches was
// committed before is replayed as a CUDA graph (a simulation step, say): one launch for the
// whole sequence instead of one per dispatch.
//
// By lifecycle: cuda_queue.cpp (construction, submit), cuda_lowering.cpp (commands to ops,
// ops onto the stream), cuda_graphs.cpp (graph capture and replay), cuda_completion.cpp
// (finishing committed command buffers: wait, poll, the notifier thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_context.h"
#include "core/backend.h"
#include "core/deferred_submit.h"

namespace metallic {
struct CommandList;
struct CopyCommand;
struct DispatchCommand;
struct ExecuteIndirectCommand;
struct IndirectSnapshot;
class SharedEvent;
}  // namespace metallic

namespace metallic::cuda {

struct DiagDispatch;  // cuda_completion.h

class CudaBuffer;
class CudaKernel;
class EventPool;
class StagingPool;
struct Pending;
struct StreamProgress;

class CudaQueue : public backend::QueueImpl {
 public:
  explicit CudaQueue(std::shared_ptr<CudaContext> context);
  ~CudaQueue() override;

  void submit(std::shared_ptr<CommandBuffer> buffer) override;
  void wait(CommandBuffer& buffer) override;
  void poll(CommandBuffer& buffer) override;
  bool wait_until(CommandBuffer& buffer, std::chrono::steady_clock::time_point deadline) override;
  void streamWait(uintptr_t stream) override;

 private:
  struct Op {
    // PeerCopy: between this GPU and another (src_ctx/dst_ctx); ToHost/FromHost: device <->
    // pinned staging (`host`); HostCall: `call(call_data)` on a driver thread when the stream
    // reaches it; WaitValue/WriteValue: a shared event's word at `dst` (stream memory ops).
    // GraphLaunch: `exec`, an indirect command buffer's dispatches as one graph.
    enum Kind {
      Launch,
      Copy,
      Fill,
      PeerCopy,
      ToHost,
      FromHost,
      HostCall,
      WaitValue,
      WriteValue,
      GraphLaunch
    } kind = Launch;
    CUgraphExec exec = nullptr;
    CUcontext src_ctx = nullptr, dst_ctx = nullptr;
    void* host = nullptr;
    CUhostFn call = nullptr;
    void* call_data = nullptr;
    CUfunction function = nullptr;
    // The entry a graph's node takes: a graph moves inline set_bytes data behind pointers
    // (cuda_graphs.cpp), so a uniform launch there takes the entry for data in buffers.
    CUfunction graph_function = nullptr;
    unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1}, shared = 0;
    bool uniform = false;  // every threadgroup whole: the uniform entries apply
    std::vector<unsigned char> params;
    // set_bytes data placed inline in `params`: {offset in params, length, argument bit}.
    struct InlineSlot {
      uint32_t offset, length, bit;
    };
    std::vector<InlineSlot> inline_slots;
    CUdeviceptr dst = 0, src = 0;
    uint64_t bytes = 0;
    unsigned char value = 0;
    uint64_t value64 = 0;
    // An indirect dispatch that may write its own counts: they are copied here first.
    CUdeviceptr counts_copy = 0, counts = 0;
  };
  struct Notifier;
  // Hands `buffer` to the stream (submit() calls it once the buffer's waits are promised).
  void submit_now(std::shared_ptr<CommandBuffer> buffer);

  // Command lowering (cuda_lowering.cpp): a command list becomes ops_[0, count); what it
  // uses until it is done (buffers written, scratch memory, events) is noted in `pending`.
  struct Lowered {
    size_t count = 0;           // ops used
    bool launches_only = true;  // only kernel launches: a candidate for graph replay
    std::string signature;      // the exact sequence of launches (when a graph is wanted)
  };
  Lowered lower(CommandList& list, Pending& pending, bool want_graph);
  void lower_dispatch(const DispatchCommand& d, const CommandList& list, Op& op, Pending& pending);
  // An indirect command buffer's execution: its dispatches, or (once seen) one graph launch.
  void lower_indirect(const ExecuteIndirectCommand& x, const CommandList& list, Lowered& out, Pending& pending,
                      bool want_graph);
  // Packs the kernel's arguments into op.params; returns the threadgroup memory in bytes.
  uint32_t bind_arguments(const DispatchCommand& d, const CommandList& list, CudaKernel& kernel, Op& op,
                          Pending& pending);
  // A copy into ops_[at...]; returns the number of ops it takes (2 with the CPU's memory).
  size_t lower_copy(const CopyCommand& c, size_t at, Pending& pending);
  size_t lower_host_copy(const CopyCommand& c, size_t at, Pending& pending);
  void enqueue(const std::vector<Op>& ops, size_t count);
  // The address of a shared event's word in this GPU's address space.
  CUdeviceptr event_address(const SharedEvent& event);
  // Makes `op` a dispatch_threadgroups_with_indirect_buffer launch; device memory it needs
  // for the command buffer's lifetime is added to `scratch`.
  void encode_indirect(const DispatchCommand& d, CudaKernel& kernel, Op& op, std::vector<CUdeviceptr>& scratch);
  // Gives a validation or logging build's dispatch its metal_diag_dev (address into `op`).
  void prepare_diagnostics(const DispatchCommand& d, CudaKernel& kernel, Op& op, std::vector<CUdeviceptr>& scratch,
                           std::vector<DiagDispatch>& diags);

  std::shared_ptr<CudaContext> context_;
  CUstream stream_ = nullptr;
  std::shared_ptr<EventPool> events_;
  std::shared_ptr<StagingPool> staging_pool_;  // copies with the CPU device's buffers
  std::shared_ptr<StreamProgress> progress_;

  // A command buffer's launches as one CUDA graph. set_bytes data cannot stay inline in
  // the graph's launch parameters (it changes from step to step: a time, a force), so in a
  // graph it lives in device memory of the graph's own (`args`), uploaded before each replay;
  // the launch parameters point there and never change.
  struct Graph {
    int seen = 0;
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    CUdeviceptr args = 0;
    size_t args_size = 0;
    std::vector<CUgraphNode> nodes;  // the kernel nodes, in launch order

    // An indirect command buffer's graph: its `constant T&` arguments bound to buffers the
    // dispatches do not write (`parameter buffers`: a Metal program's uniforms). When such a
    // buffer's host copy is current at a launch, the nodes get its bytes by value (the entry
    // that reads them from the launch parameters), as a CUDA program passes its parameters,
    // instead of a dependent global load per kernel and an upload per change (see
    // refresh_constants). Buffers are not owned: the snapshot being executed holds them.
    struct Constant {
      uint32_t slot, length, bit;  // in the node's parameters; the argument's inline-mask bit
      uint32_t buffer;             // index into constant_buffers
      uint64_t offset;             // into the buffer
    };
    struct ConstantNode {
      size_t node;                                  // index into nodes
      CUfunction pointer_function, value_function;  // data behind pointers / in the parameters
      unsigned grid[3], block[3], shared;
      std::vector<unsigned char> pointer_params;  // as built
      std::vector<unsigned char> params;          // what the node has now
      std::vector<Constant> constants;
      bool by_value = false;
    };
    std::vector<ConstantNode> constant_nodes;
    std::vector<CudaBuffer*> constant_buffers;
    // Per constant buffer: every use of it in the graph is such an argument, so a launch that
    // passes all of them by value needs no upload of its host writes (they stay pending).
    std::vector<char> constant_only;
  };
  // Graph replay (cuda_graphs.cpp): replays ops_[0, count) as the graph of its signature,
  // built the second time the sequence is seen; false when it was not replayed.
  bool replay_graph(const std::string& signature, size_t count);
  static void append_signature(const Op& op, std::string& signature);
  void build_graph(Graph& graph, size_t first, size_t count);  // from ops_[first, first + count)
  // An indirect command buffer's graph about to be built from ops_[first, ...): notes its
  // constant arguments in parameter buffers (Graph::constant_nodes) and puts their bytes in
  // the ops where the host copies are current, so that the graph is made with them by value.
  void plan_constants(Graph& graph, const IndirectSnapshot& snapshot, size_t first);
  // Before a launch of `graph`: each constant node takes its buffers' current host bytes by
  // value, or its pointers where a host copy is not current. `current[i]`: whether constant
  // buffer i was passed by value everywhere (its upload can wait).
  void refresh_constants(Graph& graph, std::vector<char>& current);
  // A constant node's parameters with its buffers' host bytes inline; false (and the pointer
  // parameters, its buffers no longer `current`) where a host copy is not current.
  static bool value_params(const Graph& graph, const Graph::ConstantNode& node, std::vector<unsigned char>& params,
                           std::vector<char>& current);
  void destroy_graph(Graph& graph);
  // Pinned host slots for the set_bytes data of graph replays. Pinned, so the upload is truly
  // asynchronous (from pageable memory the driver waits for the stream first, and the host
  // could no longer encode step k+1 while the device runs step k); a ring, so a slot is
  // reused only once the upload that read it has run (its event says so).
  struct StagingSlot {
    unsigned char* host = nullptr;
    size_t capacity = 0;
    CUevent uploaded = nullptr;
  };
  std::vector<StagingSlot> staging_;
  size_t staging_next_ = 0;
  StagingSlot& staging_slot(size_t bytes);
  std::unordered_map<std::string, Graph> graphs_;
  // Indirect command buffers' graphs, by IndirectSnapshot::id (an unchanged ICB range executed
  // again launches its graph without lowering its dispatches). Built at the first execution.
  std::unordered_map<uint64_t, Graph> icb_graphs_;
  std::vector<char> constants_current_;  // refresh_constants' answer, reused
  std::mutex submit_mutex_;              // commits from several threads are serialised on the stream
  std::vector<Op> ops_;                  // reused from commit to commit: no allocation per dispatch
  bool graphs_enabled_ = true;
  bool constants_by_value_ = true;  // PYMETALLIC_ICB_PARAMETERS_BY_VALUE=0: always through pointers
  bool timestamps_ = false;
  double timeout_ = 0;  // PYMETALLIC_KERNEL_TIMEOUT (seconds; 0: none)

  // Completion (cuda_completion.cpp): finishes command buffers that have completed
  // handlers as soon as they are done.
  void notify_when_complete(std::shared_ptr<CommandBuffer> buffer);
  void stop_notifier();
  // Shared with its thread, which may outlive the queue (it can drop the last reference).
  std::shared_ptr<Notifier> notifier_;
  // Command buffers whose shared-event waits are not yet promised wait here, not on the
  // stream (see core/deferred_submit.h: a stream blocked on the host deadlocks module loads).
  std::unique_ptr<DeferredSubmitter> deferred_;
};

}  // namespace metallic::cuda
