"""Divisions of the thread's x position plus dispatch-invariant terms by a `constant`
argument: periodic stencils `(gid.x + n + dx) % n`, 1D-to-2D index math `gid % W`, `gid / W`.
On the CPU the thread loop runs such kernels in runs of threads over which the quotient is
one value (index-set splitting, src/runtime/metal_fast_division.h), so the remainder is
`t + constant` and the neighbours' reads are contiguous. MSL's results must not change for
any grid, threadgroup width, divisor (1, not dividing the grid, larger than the grid, 2^31
and above, negative `int`) or offset sign (uint wrap-around included): every kernel here is
checked against exact NumPy integer arithmetic, and on the CPU also against its other
scheduling paths (fibers run the kernel as written). Kernels whose terms the split must not
trust (a modified counter, a shadowed argument, a modified position) are checked too."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// A periodic 1D stencil over a ring of m cells, on a grid of any width.
kernel void ring_sum(device const uint* in [[buffer(0)]], device uint* out [[buffer(1)]],
                     constant uint& m [[buffer(2)]], uint2 gid [[thread_position_in_grid]],
                     uint2 size [[threads_per_grid]]) {
  uint s = 0;
  for (int k = -2; k <= 2; ++k) s += in[(gid.x + m + k) % m] * uint(k + 3);
  out[gid.y * size.x + gid.x] = s;
}

// 1D to 2D: x = gid % w, y = gid / w.
kernel void split_1d(device uint* xs [[buffer(0)]], device uint* ys [[buffer(1)]], constant uint& w [[buffer(2)]],
                     uint gid [[thread_position_in_grid]]) {
  uint x = gid % w;
  uint y = gid / w;
  xs[gid] = x;
  ys[gid] = y;
}

// Offsets of either sign: a uint dividend that wraps below 0 for the first threads, an int
// divisor (converted to uint by the usual arithmetic conversions), a literal and a loop counter.
struct Ring {
  int off;
  int m;
};
kernel void offsets(device uint* q [[buffer(0)]], device uint* r [[buffer(1)]], constant Ring& p [[buffer(2)]],
                    uint3 gid [[thread_position_in_grid]], uint3 size [[threads_per_grid]]) {
  const uint i = (gid.z * size.y + gid.y) * size.x + gid.x;
  uint qs = 0, rs = 0;
  for (uint k = 0; k < 3u; ++k) {
    qs = qs * 31u + (gid.x + p.off - 1 + k) / p.m;
    rs = rs * 31u + (gid.x + p.off - 1 + k) % p.m;
  }
  q[i] = qs;
  r[i] = rs;
}

// Game of Life's step on an n x n torus.
kernel void life(device const uchar* in [[buffer(0)]], device uchar* out [[buffer(1)]], constant uint& n [[buffer(2)]],
                 uint2 gid [[thread_position_in_grid]]) {
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

// A uint dividend that wraps past 2^32 within the grid.
kernel void wrap_offset(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]], constant uint& c [[buffer(2)]],
                        uint gid [[thread_position_in_grid]]) {
  out[gid] = (gid + c) % m * 1000u + (gid + c) / m % 1000u;
}

// Terms the split must not take as invariant: a counter the body changes, an argument a local
// hides, the position changed. Each is still a division by a `constant` argument.
kernel void untrusted_counter(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]],
                              constant uint& c [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  uint a = 0;
  for (int k = 0; k < 4; ++k) {
    a += (gid + k) % m;
    k += int(gid & 1u);
  }
  out[gid] = a;
}
kernel void untrusted_shadow(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]],
                             constant uint& c [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  uint a = (gid + c) % m;
  {
    const uint c = gid & 7u;
    a = a * 7u + (gid + c) % m;
  }
  out[gid] = a;
}
kernel void untrusted_divisor(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]],
                              constant uint& c [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  uint a = (gid + c) % m;
  {
    const uint m = c + 2u;  // hides the argument: the divisions below divide by c + 2
    a = a * 7u + (gid + 1u) % m + (gid + c) / m;
  }
  out[gid] = a;
}
kernel void untrusted_position(device uint* out [[buffer(0)]], constant uint& m [[buffer(1)]],
                               constant uint& c [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
  const uint g = gid;
  gid = gid * 3u;
  out[g] = (gid + c) % m;
}
"""


def ring_sum_ref(inp, m, w, h):
    x = np.arange(w, dtype=np.int64)
    s = np.zeros(w, np.int64)
    for k in range(-2, 3):
        s += inp[(x + m + k) % (1 << 32) % m].astype(np.int64) * (k + 3)
    return np.tile((s & 0xFFFFFFFF).astype(np.uint32), (h, 1))


@pytest.mark.parametrize(
    "m,w,tg",
    [
        (1, 1, 1),  # width 1
        (5, 37, 8),  # m does not divide the grid; the threadgroup does not divide it either
        (64, 64, 16),
        (100, 37, 32),  # the grid is smaller than the ring
        (7, 300, 64),
        (3, 2, 2),
    ],
)
def test_periodic_stencil(runner, device, m, w, tg):
    rng = np.random.default_rng(m * 1000 + w)
    inp = rng.integers(0, 1 << 20, m, dtype=np.uint32)
    h = 3
    out = runner.run(device, SRC, "ring_sum", [inp, np.zeros((h, w), np.uint32), np.uint32(m)], (w, h), (tg, 1))[1]
    np.testing.assert_array_equal(out, ring_sum_ref(inp, m, w, h))


@pytest.mark.parametrize(
    "w,n,tg",
    [
        (1, 50, 16),
        (3, 1000, 64),
        (16, 1024, 256),
        (100, 777, 64),
        (1000, 999, 128),  # the grid is shorter than a row
        (100, 20000, 64),  # large enough that the CPU's workers take a few groups each
        (4099, 20000, 96),
        (1 << 31, 300, 64),
        (0x80000001, 300, 32),
        (0xFFFFFFFF, 300, 32),
    ],
)
def test_one_d_to_two_d(runner, device, w, n, tg):
    xs, ys = runner.run(
        device, SRC, "split_1d", [np.zeros(n, np.uint32), np.zeros(n, np.uint32), np.uint32(w)], (n,), (tg,)
    )[:2]
    g = np.arange(n, dtype=np.int64)
    np.testing.assert_array_equal(xs, (g % w).astype(np.uint32))
    np.testing.assert_array_equal(ys, (g // w).astype(np.uint32))


@pytest.mark.parametrize(
    "off,m,grid,tg",
    [
        (0, 1, (5, 2, 2), (4, 1, 1)),
        (-3, 4, (33, 3, 2), (8, 2, 1)),  # the first threads' dividends wrap below zero (uint)
        (5, 7, (50, 2, 1), (16, 1, 1)),
        (-100, 9, (300, 1, 1), (64, 1, 1)),
        (3, -7, (40, 2, 1), (16, 2, 1)),  # int divisor -7: uint 0xFFFFFFF9
        (2, 0x7FFFFFFF, (70, 1, 1), (32, 1, 1)),
        (-(1 << 31), 1 << 30, (70, 1, 1), (32, 1, 1)),
        (0x7FFFFFF0, 13, (64, 1, 1), (32, 1, 1)),  # dividends cross 2^31
    ],
)
def test_offsets_of_either_sign(runner, device, off, m, grid, tg):
    p = np.zeros(1, dtype=[("off", "<i4"), ("m", "<i4")])
    p["off"], p["m"] = off, m
    n = grid[0] * grid[1] * grid[2]
    q, r = runner.run(device, SRC, "offsets", [np.zeros(n, np.uint32), np.zeros(n, np.uint32), p], grid, tg)[:2]
    x = np.tile(np.arange(grid[0], dtype=np.int64), grid[1] * grid[2])
    mu = m & 0xFFFFFFFF  # uint / int: the int converts to uint
    qs = np.zeros(n, np.int64)
    rs = np.zeros(n, np.int64)
    for k in range(3):
        e = (x + off - 1 + k) & 0xFFFFFFFF
        qs = (qs * 31 + e // mu) & 0xFFFFFFFF
        rs = (rs * 31 + e % mu) & 0xFFFFFFFF
    np.testing.assert_array_equal(q, qs.astype(np.uint32))
    np.testing.assert_array_equal(r, rs.astype(np.uint32))


def life_ref(g):
    s = sum(np.roll(g, (dy, dx), axis=(0, 1)).astype(np.int32) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dx or dy)
    return ((s == 3) | ((s == 2) & (g == 1))).astype(np.uint8)


@pytest.mark.parametrize(
    "n,tg", [(1, (1, 1)), (2, (2, 2)), (17, (16, 16)), (40, (16, 4)), (64, (32, 2)), (129, (64, 1))]
)
def test_life_torus(runner, device, n, tg):
    g = (np.random.default_rng(n).random((n, n)) < 0.35).astype(np.uint8)
    out = runner.run(device, SRC, "life", [g, np.zeros_like(g), np.uint32(n)], (n, n), tg)[1]
    np.testing.assert_array_equal(out, life_ref(g))


@pytest.mark.parametrize("m,c,n", [(1, 0, 40), (3, 5, 70), (64, 9, 130)])
def test_terms_the_split_must_not_trust(runner, device, m, c, n):
    g = np.arange(n, dtype=np.int64)
    args = [np.zeros(n, np.uint32), np.uint32(m), np.uint32(c)]
    out = runner.run(device, SRC, "untrusted_counter", args, (n,), (32,))[0]
    expect = []
    for t in range(n):
        a, k = 0, 0
        while k < 4:
            a += (t + k) % m
            k += (t & 1) + 1
        expect.append(a)
    np.testing.assert_array_equal(out, np.array(expect, np.uint32))
    out = runner.run(device, SRC, "untrusted_shadow", args, (n,), (32,))[0]
    np.testing.assert_array_equal(out, (((g + c) % m) * 7 + (g + (g & 7)) % m).astype(np.uint32))
    out = runner.run(device, SRC, "untrusted_divisor", args, (n,), (32,))[0]
    np.testing.assert_array_equal(out, (((g + c) % m) * 7 + (g + 1) % (c + 2) + (g + c) // (c + 2)).astype(np.uint32))
    out = runner.run(device, SRC, "untrusted_position", args, (n,), (32,))[0]
    np.testing.assert_array_equal(out, ((3 * g + c) % m).astype(np.uint32))


@pytest.mark.parametrize("m,c", [(7, 0xFFFFFFF0), (1000, 0xFFFFFF00), (3, 0x7FFFFFF0), (1 << 30, 0xBFFFFFF8)])
def test_unsigned_wrap_past_two_to_the_32(runner, device, m, c):
    n = 300
    out = runner.run(device, SRC, "wrap_offset", [np.zeros(n, np.uint32), np.uint32(m), np.uint32(c)], (n,), (64,))[0]
    e = (np.arange(n, dtype=np.int64) + c) & 0xFFFFFFFF
    np.testing.assert_array_equal(out, ((e % m) * 1000 + (e // m) % 1000).astype(np.uint32))
