"""The CPU benchmark's kernels in OpenCL C, for PyOpenCL on PoCL.

The MSL side is not repeated here: ``bench/cpu_vs_pocl.py`` imports ``MSL`` from
``bench/gpu_kernels.py`` and the fluid kernels from ``pymetallic.kernels.FLUID`` (the ones
``pymetallic.demos.FluidSimulation`` runs). Each kernel below is the same algorithm, line for
line, and is launched with the same work-group shape. Differences, all forced by OpenCL C:

- float literals carry an ``f`` (in OpenCL C a bare ``2.0`` is a double, in MSL a float);
- ``mandelbrot`` takes the size as two scalars instead of a ``uint2`` (CUDA's signature);
- ``add_source`` takes the side of its dispatch box: Metal's ``dispatch_threads`` runs exactly
  the grid asked for, OpenCL 1.2's NDRange must be a multiple of the work-group size, so the
  threads past the box return at once.
"""

OPENCL = r"""
__kernel void vector_add(__global const float* a, __global const float* b, __global float* c) {
    uint i = get_global_id(0);
    c[i] = a[i] + b[i];
}

__kernel void mandelbrot(__global uint* out, uint w, uint h, uint max_iter) {
    uint gx = get_global_id(0), gy = get_global_id(1);
    float cx = -2.0f + 3.0f * ((float)gx + 0.5f) / (float)w;
    float cy = -1.5f + 3.0f * ((float)gy + 0.5f) / (float)h;
    float x = 0.0f, y = 0.0f;
    uint i = 0;
    while (i < max_iter && x * x + y * y <= 4.0f) {
        float t = x * x - y * y + cx;
        y = 2.0f * x * y + cy;
        x = t;
        i++;
    }
    out[gy * w + gx] = i;
}

__kernel void reduce_sum(__global const float* in, __global float* partial) {
    __local float scratch[256];
    uint lid = get_local_id(0), gid = get_global_id(0), size = get_local_size(0);
    scratch[lid] = in[gid];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = size / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) partial[get_group_id(0)] = scratch[0];
}

__kernel void matmul_naive(__global const float* a, __global const float* b, __global float* c, uint n) {
    uint x = get_global_id(0), y = get_global_id(1);
    float acc = 0.0f;
    for (uint k = 0; k < n; ++k) acc += a[y * n + k] * b[k * n + x];
    c[y * n + x] = acc;
}

__kernel void matmul_tiled(__global const float* a, __global const float* b, __global float* c, uint n) {
    __local float ta[16][16];
    __local float tb[16][16];
    uint lx = get_local_id(0), ly = get_local_id(1);
    uint x = get_global_id(0), y = get_global_id(1);
    float acc = 0.0f;
    for (uint t = 0; t < n; t += 16) {
        ta[ly][lx] = a[y * n + t + lx];
        tb[ly][lx] = b[(t + ly) * n + x];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint k = 0; k < 16; ++k) acc += ta[ly][k] * tb[k][lx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    c[y * n + x] = acc;
}

__kernel void empty(__global float* x) {}

__kernel void life_step(__global const uchar* in, __global uchar* out, uint n) {
    uint gx = get_global_id(0), gy = get_global_id(1);
    uint alive = 0;
    for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
            if (dx == 0 && dy == 0) continue;
            uint x = (gx + n + dx) % n, y = (gy + n + dy) % n;
            alive += in[y * n + x];
        }
    uchar me = in[gy * n + gx];
    out[gy * n + gx] = (alive == 3 || (me && alive == 2)) ? 1 : 0;
}
"""

# pymetallic/kernels/fluid.metal in OpenCL C (FluidParams: the same 64-byte layout).
OPENCL_FLUID = r"""
typedef struct {
    uint width;
    uint height;
    float dt;
    float vel_dissipation;
    float dye_dissipation;
    uint src_x0;
    uint src_y0;
    float src_cx;
    float src_cy;
    float src_radius;
    float force_x;
    float force_y;
    float dye_rate;
    float pad0, pad1, pad2;
} FluidParams;

inline float sample_scalar(__global const float* f, float2 pos, uint w, uint h) {
    float x = clamp(pos.x, 0.0f, (float)(w - 1));
    float y = clamp(pos.y, 0.0f, (float)(h - 1));
    uint x0 = (uint)x, y0 = (uint)y;
    uint x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float fx = x - (float)x0, fy = y - (float)y0;
    float top = mix(f[y0 * w + x0], f[y0 * w + x1], fx);
    float bot = mix(f[y1 * w + x0], f[y1 * w + x1], fx);
    return mix(top, bot, fy);
}

inline float2 sample_vector(__global const float2* f, float2 pos, uint w, uint h) {
    float x = clamp(pos.x, 0.0f, (float)(w - 1));
    float y = clamp(pos.y, 0.0f, (float)(h - 1));
    uint x0 = (uint)x, y0 = (uint)y;
    uint x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float fx = x - (float)x0, fy = y - (float)y0;
    float2 top = mix(f[y0 * w + x0], f[y0 * w + x1], fx);
    float2 bot = mix(f[y1 * w + x0], f[y1 * w + x1], fx);
    return mix(top, bot, fy);
}

__kernel void add_source(__global float2* vel, __global float* dye, FluidParams p, uint side) {
    uint gx = get_global_id(0), gy = get_global_id(1);
    if (gx >= side || gy >= side) return;
    uint x = p.src_x0 + gx, y = p.src_y0 + gy;
    if (x >= p.width || y >= p.height) return;
    float dx = (float)x - p.src_cx, dy = (float)y - p.src_cy;
    float q = max(1.0f - (dx * dx + dy * dy) / (p.src_radius * p.src_radius), 0.0f);
    float wgt = q * q;
    uint i = y * p.width + x;
    vel[i] += p.dt * wgt * (float2)(p.force_x, p.force_y);
    dye[i] = min(dye[i] + p.dt * wgt * p.dye_rate, 1.0f);
}

__kernel void advect_velocity(__global const float2* vel_in, __global float2* vel_out, FluidParams p) {
    uint gx = get_global_id(0), gy = get_global_id(1);
    uint i = gy * p.width + gx;
    float2 back = (float2)((float)gx, (float)gy) - p.dt * vel_in[i];
    vel_out[i] = p.vel_dissipation * sample_vector(vel_in, back, p.width, p.height);
}

__kernel void advect_dye(__global const float2* vel, __global const float* dye_in, __global float* dye_out,
                         FluidParams p) {
    uint gx = get_global_id(0), gy = get_global_id(1);
    uint i = gy * p.width + gx;
    float2 back = (float2)((float)gx, (float)gy) - p.dt * vel[i];
    dye_out[i] = p.dye_dissipation * sample_scalar(dye_in, back, p.width, p.height);
}

__kernel void divergence(__global const float2* vel, __global float* div, FluidParams p) {
    uint w = p.width, h = p.height, x = get_global_id(0), y = get_global_id(1), i = y * w + x;
    float ul = x > 0     ? vel[i - 1].x : 0.0f;
    float ur = x + 1 < w ? vel[i + 1].x : 0.0f;
    float vu = y > 0     ? vel[i - w].y : 0.0f;
    float vd = y + 1 < h ? vel[i + w].y : 0.0f;
    div[i] = 0.5f * ((ur - ul) + (vd - vu));
}

__kernel void jacobi(__global const float* p_in, __global const float* div, __global float* p_out,
                     FluidParams p) {
    uint w = p.width, h = p.height, x = get_global_id(0), y = get_global_id(1), i = y * w + x;
    float c = p_in[i];
    float l = x > 0     ? p_in[i - 1] : c;
    float r = x + 1 < w ? p_in[i + 1] : c;
    float u = y > 0     ? p_in[i - w] : c;
    float d = y + 1 < h ? p_in[i + w] : c;
    p_out[i] = 0.25f * (l + r + u + d - div[i]);
}

__kernel void subtract_gradient(__global const float2* vel_in, __global const float* pressure,
                                __global float2* vel_out, FluidParams p) {
    uint w = p.width, h = p.height, x = get_global_id(0), y = get_global_id(1), i = y * w + x;
    float c = pressure[i];
    float l = x > 0     ? pressure[i - 1] : c;
    float r = x + 1 < w ? pressure[i + 1] : c;
    float u = y > 0     ? pressure[i - w] : c;
    float d = y + 1 < h ? pressure[i + w] : c;
    vel_out[i] = vel_in[i] - 0.5f * (float2)(r - l, d - u);
}
"""
