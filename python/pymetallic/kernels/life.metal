// Conway's Game of Life on a torus (the edges wrap). One byte per cell: 1 alive, 0 dead.
#include <metal_stdlib>
using namespace metal;

kernel void life_step(device const uchar* src [[buffer(0)]],
                      device uchar* dst [[buffer(1)]],
                      constant uint2& size [[buffer(2)]],
                      uint2 gid [[thread_position_in_grid]]) {
    uint w = size.x, h = size.y;
    uint x = gid.x, y = gid.y;
    // Wrapped neighbour rows and columns without '%' (cheap and vectorisable).
    uint xl = x == 0 ? w - 1 : x - 1;
    uint xr = x + 1 == w ? 0 : x + 1;
    uint yu = y == 0 ? h - 1 : y - 1;
    uint yd = y + 1 == h ? 0 : y + 1;
    uint up = yu * w, row = y * w, down = yd * w;
    uint n = uint(src[up + xl]) + uint(src[up + x]) + uint(src[up + xr])
           + uint(src[row + xl])                    + uint(src[row + xr])
           + uint(src[down + xl]) + uint(src[down + x]) + uint(src[down + xr]);
    uint alive = src[row + x];
    // Born with 3 neighbours, survives with 2 or 3.
    dst[row + x] = uchar((n == 3u) | ((n == 2u) & (alive != 0u)));
}
