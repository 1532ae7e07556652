// The quick example from C++: the same MSL kernel, through the C++ API (Metal's names).
//
//   cmake -S . -B build/dev -DMETALLIC_BUILD_TESTS=ON && cmake --build build/dev
//   ./build/dev/example_vector_add
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "metallic/metallic.h"

static const char* kSource = R"(
#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device const float* a [[buffer(0)]],
                       device const float* b [[buffer(1)]],
                       device float* result [[buffer(2)]],
                       uint index [[thread_position_in_grid]]) {
    result[index] = a[index] + b[index];
}
)";

int main() {
  try {
    auto device = metallic::Device::default_device();
    std::printf("Using device: %s\n", device->name().c_str());

    const uint64_t n = 1000;
    std::vector<float> a(n), b(n);
    for (uint64_t i = 0; i < n; ++i) a[i] = 0.5f * i, b[i] = 1.0f / (i + 1);

    auto buffer_a = device->newBuffer(n * sizeof(float));
    auto buffer_b = device->newBuffer(n * sizeof(float));
    auto buffer_result = device->newBuffer(n * sizeof(float));
    std::memcpy(buffer_a->contents(), a.data(), n * sizeof(float));
    std::memcpy(buffer_b->contents(), b.data(), n * sizeof(float));

    auto library = device->newLibrary(kSource);
    auto pipeline = device->newComputePipelineState(library->newFunction("vector_add"));
    auto queue = device->newCommandQueue();

    auto command_buffer = queue->commandBuffer();
    auto encoder = command_buffer->computeCommandEncoder();
    encoder->setComputePipelineState(pipeline);
    encoder->setBuffer(buffer_a, 0, 0);
    encoder->setBuffer(buffer_b, 0, 1);
    encoder->setBuffer(buffer_result, 0, 2);
    encoder->dispatchThreads({n, 1, 1}, {32, 1, 1});  // 1000 is not a multiple of 32: exact grid
    encoder->endEncoding();
    command_buffer->commit();
    command_buffer->waitUntilCompleted();

    const float* result = static_cast<const float*>(buffer_result->contents());
    for (uint64_t i = 0; i < n; ++i) {
      if (std::fabs(result[i] - (a[i] + b[i])) > 1e-6f) {
        std::printf("wrong result at %llu: %f\n", static_cast<unsigned long long>(i), result[i]);
        return 1;
      }
    }
    std::printf("Computation complete! %llu sums checked\n", static_cast<unsigned long long>(n));
    return 0;
  } catch (const metallic::Error& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
