// IndirectCommandBuffer through the C++ API on the CPU device: executions of an unchanged
// range share one snapshot (what the CUDA backend keys its cached graph by), a change makes
// a new one, results match the dispatches' arithmetic, and misuse raises ValidationError.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/commands.h"
#include "metallic/metallic.h"

using namespace metallic;

namespace {

std::shared_ptr<Device> cpu() {
  set_runtime_dir(METALLIC_TEST_RUNTIME_DIR);
  for (auto& d : Device::all())
    if (d->kind() == "cpu") return d;
  return nullptr;
}

const char* kSource = R"(#include <metal_stdlib>
using namespace metal;
kernel void add_k(device float* x [[buffer(0)]], constant float& k [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) { x[i] += k; }
)";

std::shared_ptr<Buffer> floats(const std::shared_ptr<Device>& d, std::vector<float> v) {
  auto b = d->newBuffer(v.size() * sizeof(float));
  std::memcpy(b->contents(), v.data(), v.size() * sizeof(float));
  return b;
}

void execute(const std::shared_ptr<CommandQueue>& q, const std::shared_ptr<IndirectCommandBuffer>& icb,
             uint64_t location, uint64_t length) {
  auto cb = q->commandBuffer();
  auto enc = cb->computeCommandEncoder();
  enc->executeCommandsInBuffer(icb, location, length);
  enc->endEncoding();
  cb->commit();
  cb->waitUntilCompleted();
}

}  // namespace

TEST(IndirectCommandBuffers, UnchangedRangesShareASnapshotAndChangesMakeANewOne) {
  auto device = cpu();
  ASSERT_TRUE(device);
  auto lib = device->newLibrary(kSource);
  auto pipeline = device->newComputePipelineState(lib->newFunction("add_k"), /*supportIndirectCommandBuffers=*/true);
  IndirectCommandBufferDescriptor desc;
  desc.commandTypes = IndirectCommandTypeConcurrentDispatchThreads;
  desc.maxKernelBufferBindCount = 2;
  auto icb = device->newIndirectCommandBuffer(desc, 3);
  auto x = floats(device, std::vector<float>(8, 0.0f));
  auto one = floats(device, {1.0f}), ten = floats(device, {10.0f});
  for (uint64_t i = 0; i < 2; ++i) {
    IndirectComputeCommand c(icb, i);
    c.setComputePipelineState(pipeline);
    c.setKernelBuffer(x, 0, 0);
    c.setKernelBuffer(i == 0 ? one : ten, 0, 1);
    c.concurrentDispatchThreads({8, 1, 1}, {4, 1, 1});
  }
  EXPECT_EQ(icb->snapshot(0, 3), nullptr);  // not executed yet
  auto q = device->newCommandQueue();
  execute(q, icb, 0, 3);
  auto first = icb->snapshot(0, 3);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->dispatches.size(), 2u);  // command 2 is empty: left out
  EXPECT_EQ(first->buffers.size(), 3u);     // x (written), one, ten
  execute(q, icb, 0, 3);
  EXPECT_EQ(icb->snapshot(0, 3), first);  // the same snapshot, checked once
  EXPECT_EQ(static_cast<float*>(x->contents())[5], 22.0f);

  const uint64_t before = icb->version();
  IndirectComputeCommand(icb, 1).reset();
  EXPECT_GT(icb->version(), before);
  EXPECT_EQ(icb->snapshot(0, 3), nullptr);  // stale
  execute(q, icb, 0, 3);
  auto second = icb->snapshot(0, 3);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second->id, first->id);
  EXPECT_EQ(second->dispatches.size(), 1u);
  EXPECT_EQ(static_cast<float*>(x->contents())[0], 23.0f);
  execute(q, icb, 1, 1);  // an empty range of one command: nothing runs
  EXPECT_EQ(static_cast<float*>(x->contents())[7], 23.0f);
}

TEST(IndirectCommandBuffers, MisuseIsRefused) {
  auto device = cpu();
  ASSERT_TRUE(device);
  IndirectCommandBufferDescriptor desc;
  EXPECT_THROW(device->newIndirectCommandBuffer(desc, 1), ValidationError);  // no command types
  desc.commandTypes = IndirectCommandTypeConcurrentDispatch;
  EXPECT_THROW(device->newIndirectCommandBuffer(desc, 0), ValidationError);
  desc.maxKernelBufferBindCount = 1;
  auto icb = device->newIndirectCommandBuffer(desc, 2);
  auto b = device->newBuffer(16);
  EXPECT_THROW(IndirectComputeCommand(icb, 2), ValidationError);
  EXPECT_THROW(icb->setKernelBuffer(0, b, 0, 1), ValidationError);  // >= maxKernelBufferBindCount
  EXPECT_THROW(icb->concurrentDispatchThreads(0, {1, 1, 1}, {1, 1, 1}), ValidationError);  // type not declared
  EXPECT_THROW(icb->reset(1, 2), ValidationError);
  auto lib = device->newLibrary(kSource);
  auto plain = device->newComputePipelineState(lib->newFunction("add_k"));
  EXPECT_THROW(icb->setComputePipelineState(0, plain), ValidationError);  // not made for ICBs
  icb->concurrentDispatchThreadgroups(0, {1, 1, 1}, {1, 1, 1});
  auto cb = device->newCommandQueue()->commandBuffer();
  auto enc = cb->computeCommandEncoder();
  EXPECT_THROW(enc->executeCommandsInBuffer(icb, 0, 1), ValidationError);  // a dispatch without a pipeline
  EXPECT_THROW(enc->executeCommandsInBuffer(icb, 1, 2), ValidationError);  // outside the ICB
  enc->executeCommandsInBuffer(icb, 1, 1);                                 // empty: nothing recorded
  EXPECT_TRUE(cb->commands().commands.empty());
  enc->endEncoding();
}
