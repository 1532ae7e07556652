// All-pairs gravitational N-body, one thread per body: semi-implicit Euler step.
// pos.xyz = position, pos.w = mass; vel.xyz = velocity.
#include <metal_stdlib>
using namespace metal;

struct NBodyParams {
    uint n;
    float dt;
    float softening2;   // softening length squared (avoids the singularity)
    float g;            // gravitational constant
};

kernel void nbody_step(device const float4* pos_in [[buffer(0)]],
                       device float4* vel [[buffer(1)]],
                       device float4* pos_out [[buffer(2)]],
                       constant NBodyParams& p [[buffer(3)]],
                       uint i [[thread_position_in_grid]]) {
    float3 me = pos_in[i].xyz;
    float3 acc = float3(0.0f);
    for (uint j = 0; j < p.n; ++j) {
        float4 other = pos_in[j];
        float3 d = other.xyz - me;
        float r2 = dot(d, d) + p.softening2;
        float inv = rsqrt(r2);
        acc += d * (other.w * inv * inv * inv);
    }
    float3 v = vel[i].xyz + p.dt * p.g * acc;
    vel[i] = float4(v, 0.0f);
    pos_out[i] = float4(me + p.dt * v, pos_in[i].w);
}
