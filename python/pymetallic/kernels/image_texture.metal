// The same 3x3 box blur through textures (texture2d read and write).
#include <metal_stdlib>
using namespace metal;

kernel void texture_box_blur(texture2d<float, access::read> src [[texture(0)]],
                             texture2d<float, access::write> dst [[texture(1)]],
                             uint2 gid [[thread_position_in_grid]]) {
    uint w = src.get_width(), h = src.get_height();
    if (gid.x >= w || gid.y >= h) return;
    float4 sum = float4(0.0f);
    for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
            int x = clamp(int(gid.x) + dx, 0, int(w) - 1);
            int y = clamp(int(gid.y) + dy, 0, int(h) - 1);
            sum += src.read(uint2(x, y));
        }
    }
    dst.write(sum / 9.0f, gid);
}
