// Element-wise vector kernels: one thread per element, grid = element count.
#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device const float* a [[buffer(0)]],
                       device const float* b [[buffer(1)]],
                       device float* out [[buffer(2)]],
                       uint i [[thread_position_in_grid]]) {
    out[i] = a[i] + b[i];
}

kernel void vector_multiply(device const float* a [[buffer(0)]],
                            device const float* b [[buffer(1)]],
                            device float* out [[buffer(2)]],
                            uint i [[thread_position_in_grid]]) {
    out[i] = a[i] * b[i];
}

// out = alpha * x + y
kernel void saxpy(device const float* x [[buffer(0)]],
                  device const float* y [[buffer(1)]],
                  device float* out [[buffer(2)]],
                  constant float& alpha [[buffer(3)]],
                  uint i [[thread_position_in_grid]]) {
    out[i] = alpha * x[i] + y[i];
}

// A few math functions at once: out = sqrt(|a|) + sin(b) * exp(-b*b)
kernel void vector_math(device const float* a [[buffer(0)]],
                        device const float* b [[buffer(1)]],
                        device float* out [[buffer(2)]],
                        uint i [[thread_position_in_grid]]) {
    float x = b[i];
    out[i] = sqrt(fabs(a[i])) + sin(x) * exp(-x * x);
}

// float4 loads and stores: 4 elements per thread, grid = count / 4.
kernel void vector_add4(device const float4* a [[buffer(0)]],
                        device const float4* b [[buffer(1)]],
                        device float4* out [[buffer(2)]],
                        uint i [[thread_position_in_grid]]) {
    out[i] = a[i] + b[i];
}
