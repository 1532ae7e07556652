// Image processing on plain buffers (row-major, one thread per pixel, clamped edges).
#include <metal_stdlib>
using namespace metal;

// RGB bytes (3 per pixel) -> luminance in [0, 1] (Rec. 601 weights).
kernel void rgb_to_gray(device const uchar* rgb [[buffer(0)]],
                        device float* gray [[buffer(1)]],
                        constant uint2& size [[buffer(2)]],
                        uint2 gid [[thread_position_in_grid]]) {
    uint i = gid.y * size.x + gid.x;
    float r = float(rgb[3 * i]), g = float(rgb[3 * i + 1]), b = float(rgb[3 * i + 2]);
    gray[i] = (0.299f * r + 0.587f * g + 0.114f * b) * (1.0f / 255.0f);
}

static inline float at(device const float* img, int x, int y, uint2 size) {
    x = clamp(x, 0, int(size.x) - 1);
    y = clamp(y, 0, int(size.y) - 1);
    return img[uint(y) * size.x + uint(x)];
}

// 3x3 Gaussian blur, weights (1 2 1; 2 4 2; 1 2 1) / 16.
kernel void gaussian_blur3x3(device const float* src [[buffer(0)]],
                             device float* dst [[buffer(1)]],
                             constant uint2& size [[buffer(2)]],
                             uint2 gid [[thread_position_in_grid]]) {
    int x = int(gid.x), y = int(gid.y);
    float s = at(src, x - 1, y - 1, size) + 2.0f * at(src, x, y - 1, size) + at(src, x + 1, y - 1, size)
            + 2.0f * at(src, x - 1, y, size) + 4.0f * at(src, x, y, size) + 2.0f * at(src, x + 1, y, size)
            + at(src, x - 1, y + 1, size) + 2.0f * at(src, x, y + 1, size) + at(src, x + 1, y + 1, size);
    dst[gid.y * size.x + gid.x] = s * (1.0f / 16.0f);
}

// Sobel gradient magnitude.
kernel void sobel(device const float* src [[buffer(0)]],
                  device float* dst [[buffer(1)]],
                  constant uint2& size [[buffer(2)]],
                  uint2 gid [[thread_position_in_grid]]) {
    int x = int(gid.x), y = int(gid.y);
    float tl = at(src, x - 1, y - 1, size), t = at(src, x, y - 1, size), tr = at(src, x + 1, y - 1, size);
    float l = at(src, x - 1, y, size), r = at(src, x + 1, y, size);
    float bl = at(src, x - 1, y + 1, size), b = at(src, x, y + 1, size), br = at(src, x + 1, y + 1, size);
    float gx = (tr + 2.0f * r + br) - (tl + 2.0f * l + bl);
    float gy = (bl + 2.0f * b + br) - (tl + 2.0f * t + tr);
    dst[gid.y * size.x + gid.x] = sqrt(gx * gx + gy * gy);
}

// Binary mask: 255 where value > threshold, else 0.
kernel void threshold(device const float* src [[buffer(0)]],
                      device uchar* dst [[buffer(1)]],
                      constant float& level [[buffer(2)]],
                      uint i [[thread_position_in_grid]]) {
    dst[i] = src[i] > level ? uchar(255) : uchar(0);
}
