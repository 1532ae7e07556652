// 2-D "stable fluids" (Stam 1999) on a W x H grid of unit cells.
//
// One step = 25 dispatches of 6 kernels:
//   add_source              inject dye and momentum near the bottom (a small grid)
//   advect_velocity         semi-Lagrangian: vel_a -> vel_b
//   advect_dye              semi-Lagrangian with vel_a: dye_a -> dye_b
//   divergence              div(vel_b)
//   jacobi x 20             solve lap(p) = div, ping-ponging p_a <-> p_b (ends in p_a)
//   subtract_gradient       vel_a = vel_b - grad(p): the divergence-free velocity
// Velocities are in cells per unit time; the walls are solid (a neighbour outside the grid
// has zero velocity, and the pressure's normal derivative is zero there).
#include <metal_stdlib>
using namespace metal;

struct FluidParams {
    uint width;
    uint height;
    float dt;
    float vel_dissipation;   // velocity kept per step (e.g. 0.999)
    float dye_dissipation;   // dye kept per step (e.g. 0.995)
    uint src_x0;             // top-left cell of the source's dispatch box
    uint src_y0;
    float src_cx;            // source centre (cells)
    float src_cy;
    float src_radius;        // cells
    float force_x;           // acceleration at the source centre (cells / time^2)
    float force_y;
    float dye_rate;          // dye added per unit time at the centre
    float pad0, pad1, pad2;
};

// Bilinear sample of a scalar field at a point clamped into the grid.
static inline float sample_scalar(device const float* f, float2 pos, uint w, uint h) {
    float x = clamp(pos.x, 0.0f, float(w - 1));
    float y = clamp(pos.y, 0.0f, float(h - 1));
    uint x0 = uint(x), y0 = uint(y);
    uint x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float fx = x - float(x0), fy = y - float(y0);
    float top = mix(f[y0 * w + x0], f[y0 * w + x1], fx);
    float bot = mix(f[y1 * w + x0], f[y1 * w + x1], fx);
    return mix(top, bot, fy);
}

static inline float2 sample_vector(device const float2* f, float2 pos, uint w, uint h) {
    float x = clamp(pos.x, 0.0f, float(w - 1));
    float y = clamp(pos.y, 0.0f, float(h - 1));
    uint x0 = uint(x), y0 = uint(y);
    uint x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float fx = x - float(x0), fy = y - float(y0);
    float2 top = mix(f[y0 * w + x0], f[y0 * w + x1], fx);
    float2 bot = mix(f[y1 * w + x0], f[y1 * w + x1], fx);
    return mix(top, bot, fy);
}

// Grid: the source's bounding box (2r+1 cells a side), offset by (src_x0, src_y0).
kernel void add_source(device float2* vel [[buffer(0)]],
                       device float* dye [[buffer(1)]],
                       constant FluidParams& p [[buffer(2)]],
                       uint2 gid [[thread_position_in_grid]]) {
    uint x = p.src_x0 + gid.x, y = p.src_y0 + gid.y;
    if (x >= p.width || y >= p.height) return;
    float dx = float(x) - p.src_cx, dy = float(y) - p.src_cy;
    float q = max(1.0f - (dx * dx + dy * dy) / (p.src_radius * p.src_radius), 0.0f);
    float wgt = q * q;                       // smooth bump, zero outside the radius
    uint i = y * p.width + x;
    vel[i] += p.dt * wgt * float2(p.force_x, p.force_y);
    dye[i] = min(dye[i] + p.dt * wgt * p.dye_rate, 1.0f);
}

kernel void advect_velocity(device const float2* vel_in [[buffer(0)]],
                            device float2* vel_out [[buffer(1)]],
                            constant FluidParams& p [[buffer(2)]],
                            uint2 gid [[thread_position_in_grid]]) {
    uint i = gid.y * p.width + gid.x;
    float2 back = float2(gid) - p.dt * vel_in[i];        // trace the particle backwards
    vel_out[i] = p.vel_dissipation * sample_vector(vel_in, back, p.width, p.height);
}

kernel void advect_dye(device const float2* vel [[buffer(0)]],
                       device const float* dye_in [[buffer(1)]],
                       device float* dye_out [[buffer(2)]],
                       constant FluidParams& p [[buffer(3)]],
                       uint2 gid [[thread_position_in_grid]]) {
    uint i = gid.y * p.width + gid.x;
    float2 back = float2(gid) - p.dt * vel[i];
    dye_out[i] = p.dye_dissipation * sample_scalar(dye_in, back, p.width, p.height);
}

kernel void divergence(device const float2* vel [[buffer(0)]],
                       device float* div [[buffer(1)]],
                       constant FluidParams& p [[buffer(2)]],
                       uint2 gid [[thread_position_in_grid]]) {
    uint w = p.width, h = p.height, x = gid.x, y = gid.y, i = y * w + x;
    float ul = x > 0     ? vel[i - 1].x : 0.0f;   // solid walls: no flow through them
    float ur = x + 1 < w ? vel[i + 1].x : 0.0f;
    float vu = y > 0     ? vel[i - w].y : 0.0f;
    float vd = y + 1 < h ? vel[i + w].y : 0.0f;
    div[i] = 0.5f * ((ur - ul) + (vd - vu));
}

kernel void jacobi(device const float* p_in [[buffer(0)]],
                   device const float* div [[buffer(1)]],
                   device float* p_out [[buffer(2)]],
                   constant FluidParams& p [[buffer(3)]],
                   uint2 gid [[thread_position_in_grid]]) {
    uint w = p.width, h = p.height, x = gid.x, y = gid.y, i = y * w + x;
    float c = p_in[i];
    float l = x > 0     ? p_in[i - 1] : c;       // zero normal derivative at the walls
    float r = x + 1 < w ? p_in[i + 1] : c;
    float u = y > 0     ? p_in[i - w] : c;
    float d = y + 1 < h ? p_in[i + w] : c;
    p_out[i] = 0.25f * (l + r + u + d - div[i]);
}

kernel void subtract_gradient(device const float2* vel_in [[buffer(0)]],
                              device const float* pressure [[buffer(1)]],
                              device float2* vel_out [[buffer(2)]],
                              constant FluidParams& p [[buffer(3)]],
                              uint2 gid [[thread_position_in_grid]]) {
    uint w = p.width, h = p.height, x = gid.x, y = gid.y, i = y * w + x;
    float c = pressure[i];
    float l = x > 0     ? pressure[i - 1] : c;
    float r = x + 1 < w ? pressure[i + 1] : c;
    float u = y > 0     ? pressure[i - w] : c;
    float d = y + 1 < h ? pressure[i + w] : c;
    vel_out[i] = vel_in[i] - 0.5f * float2(r - l, d - u);
}
