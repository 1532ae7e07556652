// Sum of a float array in two passes with threadgroup memory.
// Pass 1: each threadgroup of 256 threads adds a grid-stride slice of the input into one
// partial sum per group. Pass 2: one threadgroup adds the partial sums.
#include <metal_stdlib>
using namespace metal;

constant constexpr uint GROUP = 256;

kernel void reduce_sum(device const float* in [[buffer(0)]],
                       device float* partial [[buffer(1)]],
                       constant uint& n [[buffer(2)]],
                       uint tid [[thread_position_in_threadgroup]],
                       uint group [[threadgroup_position_in_grid]],
                       uint ngroups [[threadgroups_per_grid]]) {
    threadgroup float scratch[GROUP];
    float acc = 0.0f;
    for (uint i = group * GROUP + tid; i < n; i += ngroups * GROUP) acc += in[i];
    scratch[tid] = acc;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    // Tree: halve the active threads each round until scratch[0] holds the group's sum.
    for (uint s = GROUP / 2; s > 0; s >>= 1) {
        if (tid < s) scratch[tid] += scratch[tid + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (tid == 0) partial[group] = scratch[0];
}
