// Dense linear algebra on row-major float matrices.
#include <metal_stdlib>
using namespace metal;

struct MatDims {
    uint m;   // rows of A and C
    uint n;   // columns of B and C
    uint k;   // columns of A, rows of B
};

// C = A * B, one thread per element of C (grid = n x m).
kernel void matmul_naive(device const float* a [[buffer(0)]],
                         device const float* b [[buffer(1)]],
                         device float* c [[buffer(2)]],
                         constant MatDims& d [[buffer(3)]],
                         uint2 gid [[thread_position_in_grid]]) {
    uint row = gid.y, col = gid.x;
    float acc = 0.0f;
    for (uint i = 0; i < d.k; ++i) acc += a[row * d.k + i] * b[i * d.n + col];
    c[row * d.n + col] = acc;
}

// The same product with 16x16 tiles staged in threadgroup memory. Threadgroup = 16x16;
// the grid is rounded up to whole tiles and threads outside C only help load.
constant constexpr uint TILE = 16;

kernel void matmul_tiled(device const float* a [[buffer(0)]],
                         device const float* b [[buffer(1)]],
                         device float* c [[buffer(2)]],
                         constant MatDims& d [[buffer(3)]],
                         uint2 gid [[thread_position_in_grid]],
                         uint2 tid [[thread_position_in_threadgroup]]) {
    threadgroup float ta[TILE][TILE];
    threadgroup float tb[TILE][TILE];
    uint row = gid.y, col = gid.x;
    float acc = 0.0f;
    for (uint t0 = 0; t0 < d.k; t0 += TILE) {
        uint ac = t0 + tid.x, br = t0 + tid.y;
        ta[tid.y][tid.x] = (row < d.m && ac < d.k) ? a[row * d.k + ac] : 0.0f;
        tb[tid.y][tid.x] = (br < d.k && col < d.n) ? b[br * d.n + col] : 0.0f;
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (uint i = 0; i < TILE; ++i) acc += ta[tid.y][i] * tb[i][tid.x];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (row < d.m && col < d.n) c[row * d.n + col] = acc;
}

// out = A^T (grid = m x n over the input's columns x rows... i.e. (cols, rows) of A).
kernel void transpose(device const float* a [[buffer(0)]],
                      device float* out [[buffer(1)]],
                      constant uint2& size [[buffer(2)]],   // (cols, rows) of a
                      uint2 gid [[thread_position_in_grid]]) {
    out[gid.x * size.y + gid.y] = a[gid.y * size.x + gid.x];
}

// y = A x, one thread per row (A is rows x cols).
kernel void matvec(device const float* a [[buffer(0)]],
                   device const float* x [[buffer(1)]],
                   device float* y [[buffer(2)]],
                   constant uint& cols [[buffer(3)]],
                   uint row [[thread_position_in_grid]]) {
    float acc = 0.0f;
    for (uint j = 0; j < cols; ++j) acc += a[row * cols + j] * x[j];
    y[row] = acc;
}
