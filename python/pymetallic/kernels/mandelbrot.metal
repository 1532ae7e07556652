// Mandelbrot set: one thread per pixel, writes the escape iteration count.
#include <metal_stdlib>
using namespace metal;

struct MandelParams {
    uint width;
    uint height;
    uint max_iter;
    float x_min;    // left edge of the view in the complex plane
    float y_min;    // bottom edge
    float scale;    // complex units per pixel
};

kernel void mandelbrot(device uint* iterations [[buffer(0)]],
                       constant MandelParams& p [[buffer(1)]],
                       uint2 gid [[thread_position_in_grid]]) {
    float cx = p.x_min + float(gid.x) * p.scale;
    float cy = p.y_min + float(gid.y) * p.scale;
    float zx = 0.0f, zy = 0.0f;
    uint n = 0;
    // Every thread runs the same loop bound; a finished point just stops counting.
    // That keeps the loop branch-free, so the CPU backend can vectorise across threads.
    for (uint k = 0; k < p.max_iter; ++k) {
        float x2 = zx * zx;
        float y2 = zy * zy;
        if (x2 + y2 > 4.0f) break;
        float xy = zx * zy;
        zx = x2 - y2 + cx;
        zy = xy + xy + cy;
        n = k + 1;
    }
    iterations[gid.y * p.width + gid.x] = n;
}
