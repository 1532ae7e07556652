"""The benchmark kernels, each written twice: in MSL (run through pymetallic) and in CUDA C++
(run through CuPy RawKernel). Same algorithm, same launch shape, line for line."""

MSL = r"""
#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                       device float* c [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    c[i] = a[i] + b[i];
}

kernel void mandelbrot(device uint* out [[buffer(0)]], constant uint2& size [[buffer(1)]],
                       constant uint& max_iter [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
    float cx = -2.0 + 3.0 * (float(gid.x) + 0.5) / float(size.x);
    float cy = -1.5 + 3.0 * (float(gid.y) + 0.5) / float(size.y);
    float x = 0.0, y = 0.0;
    uint i = 0;
    while (i < max_iter && x * x + y * y <= 4.0) {
        float t = x * x - y * y + cx;
        y = 2.0 * x * y + cy;
        x = t;
        i++;
    }
    out[gid.y * size.x + gid.x] = i;
}

kernel void reduce_sum(device const float* in [[buffer(0)]], device float* partial [[buffer(1)]],
                       uint gid [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]],
                       uint group [[threadgroup_position_in_grid]], uint size [[threads_per_threadgroup]]) {
    threadgroup float scratch[256];
    scratch[lid] = in[gid];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = size / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (lid == 0) partial[group] = scratch[0];
}

kernel void matmul_naive(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                         device float* c [[buffer(2)]], constant uint& n [[buffer(3)]],
                         uint2 gid [[thread_position_in_grid]]) {
    float acc = 0.0;
    for (uint k = 0; k < n; ++k) acc += a[gid.y * n + k] * b[k * n + gid.x];
    c[gid.y * n + gid.x] = acc;
}

kernel void matmul_tiled(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                         device float* c [[buffer(2)]], constant uint& n [[buffer(3)]],
                         uint2 gid [[thread_position_in_grid]], uint2 lid [[thread_position_in_threadgroup]]) {
    threadgroup float ta[16][16];
    threadgroup float tb[16][16];
    float acc = 0.0;
    for (uint t = 0; t < n; t += 16) {
        ta[lid.y][lid.x] = a[gid.y * n + t + lid.x];
        tb[lid.y][lid.x] = b[(t + lid.y) * n + gid.x];
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (uint k = 0; k < 16; ++k) acc += ta[lid.y][k] * tb[k][lid.x];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    c[gid.y * n + gid.x] = acc;
}

kernel void empty(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {}

kernel void life_step(device const uchar* in [[buffer(0)]], device uchar* out [[buffer(1)]],
                      constant uint& n [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
    uint alive = 0;
    for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
            if (dx == 0 && dy == 0) continue;
            uint x = (gid.x + n + dx) % n, y = (gid.y + n + dy) % n;
            alive += in[y * n + x];
        }
    uchar me = in[gid.y * n + gid.x];
    out[gid.y * n + gid.x] = (alive == 3 || (me && alive == 2)) ? 1 : 0;
}
"""

# The Life step's body in CUDA C++ (reads `in`, `n`; writes `out`), shared with
# bench/gpu_param_probe.py, which compiles it behind other parameter layouts.
LIFE_BODY = r"""
    unsigned gx = blockIdx.x * blockDim.x + threadIdx.x, gy = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned alive = 0;
    for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
            if (dx == 0 && dy == 0) continue;
            unsigned x = (gx + n + dx) % n, y = (gy + n + dy) % n;
            alive += in[y * n + x];
        }
    unsigned char me = in[gy * n + gx];
    out[gy * n + gx] = (alive == 3 || (me && alive == 2)) ? 1 : 0;
"""

CUDA = (
    r"""
extern "C" __global__ void vector_add(const float* a, const float* b, float* c, unsigned n) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i];
}

extern "C" __global__ void mandelbrot(unsigned* out, unsigned w, unsigned h, unsigned max_iter) {
    unsigned gx = blockIdx.x * blockDim.x + threadIdx.x, gy = blockIdx.y * blockDim.y + threadIdx.y;
    if (gx >= w || gy >= h) return;
    float cx = -2.0f + 3.0f * (float(gx) + 0.5f) / float(w);
    float cy = -1.5f + 3.0f * (float(gy) + 0.5f) / float(h);
    float x = 0.0f, y = 0.0f;
    unsigned i = 0;
    while (i < max_iter && x * x + y * y <= 4.0f) {
        float t = x * x - y * y + cx;
        y = 2.0f * x * y + cy;
        x = t;
        i++;
    }
    out[gy * w + gx] = i;
}

extern "C" __global__ void reduce_sum(const float* in, float* partial) {
    __shared__ float scratch[256];
    unsigned lid = threadIdx.x, gid = blockIdx.x * blockDim.x + threadIdx.x;
    scratch[lid] = in[gid];
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        __syncthreads();
    }
    if (lid == 0) partial[blockIdx.x] = scratch[0];
}

extern "C" __global__ void matmul_naive(const float* a, const float* b, float* c, unsigned n) {
    unsigned x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    float acc = 0.0f;
    for (unsigned k = 0; k < n; ++k) acc += a[y * n + k] * b[k * n + x];
    c[y * n + x] = acc;
}

extern "C" __global__ void matmul_tiled(const float* a, const float* b, float* c, unsigned n) {
    __shared__ float ta[16][16];
    __shared__ float tb[16][16];
    unsigned lx = threadIdx.x, ly = threadIdx.y;
    unsigned x = blockIdx.x * 16 + lx, y = blockIdx.y * 16 + ly;
    float acc = 0.0f;
    for (unsigned t = 0; t < n; t += 16) {
        ta[ly][lx] = a[y * n + t + lx];
        tb[ly][lx] = b[(t + ly) * n + x];
        __syncthreads();
        for (unsigned k = 0; k < 16; ++k) acc += ta[ly][k] * tb[k][lx];
        __syncthreads();
    }
    c[y * n + x] = acc;
}

extern "C" __global__ void empty(float* x) {}

extern "C" __global__ void life_step(const unsigned char* in, unsigned char* out, unsigned n) {
"""
    + LIFE_BODY
    + "}\n"
)
