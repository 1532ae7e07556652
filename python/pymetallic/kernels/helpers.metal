// Small helper kernels: fills, scalar operations and copies (one thread per element).
#include <metal_stdlib>
using namespace metal;

kernel void fill_u32(device uint* data [[buffer(0)]],
                     constant uint& value [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
    data[i] = value;
}

kernel void fill_f32(device float* data [[buffer(0)]],
                     constant float& value [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
    data[i] = value;
}

kernel void iota_u32(device uint* data [[buffer(0)]],
                     uint i [[thread_position_in_grid]]) {
    data[i] = i;
}

kernel void scalar_add(device float* data [[buffer(0)]],
                       constant float& s [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
    data[i] += s;
}

kernel void scalar_multiply(device float* data [[buffer(0)]],
                            constant float& s [[buffer(1)]],
                            uint i [[thread_position_in_grid]]) {
    data[i] *= s;
}

kernel void copy_f32(device const float* src [[buffer(0)]],
                     device float* dst [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
    dst[i] = src[i];
}

// dst[i] = src[(i * stride) % n]: a strided (uncoalesced) read pattern.
kernel void strided_copy_f32(device const float* src [[buffer(0)]],
                             device float* dst [[buffer(1)]],
                             constant uint2& n_stride [[buffer(2)]],
                             uint i [[thread_position_in_grid]]) {
    dst[i] = src[(i * n_stride.y) % n_stride.x];
}
