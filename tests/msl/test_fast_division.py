"""Integer division and remainder by run-time divisors (a kernel's `constant` argument, a
member of a `constant` struct, set_bytes data): MSL's `/` and `%` truncate toward zero and
apply C++'s usual arithmetic conversions (`int / uint` divides unsigned). On the CPU such
divisions run through reciprocals computed once per dispatch (metal_fast_division.h); the
results must equal NumPy's exact integer arithmetic for every divisor: 1, 2, 3, 7, powers of
two, 2^31, 0xFFFFFFFF, INT_MIN, negatives. A division by zero still fails the command buffer
on the CPU, as the hardware division it replaced did."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void div_u(device const uint* a [[buffer(0)]], device uint* q [[buffer(1)]], device uint* r [[buffer(2)]],
                  constant uint& d [[buffer(3)]], uint i [[thread_position_in_grid]]) {
  q[i] = a[i] / d;
  r[i] = a[i] % d;
}

kernel void div_i(device const int* a [[buffer(0)]], device int* q [[buffer(1)]], device int* r [[buffer(2)]],
                  constant int& d [[buffer(3)]], uint i [[thread_position_in_grid]]) {
  q[i] = a[i] / d;
  r[i] = a[i] % d;
}

// uint by int and int by uint: unsigned divisions after the usual arithmetic conversions;
// short by int: a signed one.
kernel void div_mixed(device const uint* a [[buffer(0)]], device uint* out [[buffer(1)]],
                      constant int& s [[buffer(2)]], constant uint& u [[buffer(3)]],
                      uint i [[thread_position_in_grid]]) {
  int ai = as_type<int>(a[i]);
  short sh = short(a[i]);
  out[6 * i + 0] = a[i] / s;
  out[6 * i + 1] = a[i] % s;
  out[6 * i + 2] = ai / u;
  out[6 * i + 3] = ai % u;
  out[6 * i + 4] = as_type<uint>(int(sh / s));
  out[6 * i + 5] = as_type<uint>(int(sh % s));
}

struct Dims {
  uint width;
  int height;
  float scale;
};

// Members of a constant struct; a float divided by one stays a float division.
kernel void div_member(device const uint* a [[buffer(0)]], device uint* out [[buffer(1)]],
                       device float* f [[buffer(2)]], constant Dims& p [[buffer(3)]],
                       uint i [[thread_position_in_grid]]) {
  out[2 * i + 0] = a[i] / p.width + a[i] % p.width;
  out[2 * i + 1] = as_type<uint>(as_type<int>(a[i]) % p.height);
  f[i] = float(a[i] & 0xFFFFu) / p.width;
}

// In place (one buffer: no disjoint-buffer copy of the loop).
kernel void rem_in_place(device uint* x [[buffer(0)]], constant uint& d [[buffer(1)]],
                         uint i [[thread_position_in_grid]]) {
  x[i] = x[i] % d;
}

// Game of Life's wrap-around neighbour: (gid + n + dx) % n as an index.
kernel void wrap_sum(device const uchar* in [[buffer(0)]], device uint* out [[buffer(1)]],
                     constant uint& n [[buffer(2)]], uint2 gid [[thread_position_in_grid]]) {
  uint s = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      if (dx == 0 && dy == 0) continue;
      uint x = (gid.x + n + dx) % n, y = (gid.y + n + dy) % n;
      s += in[y * n + x] * uint(3 * (dy + 1) + dx + 1);
    }
  out[gid.y * n + gid.x] = s;
}
"""

U32_DIVISORS = [1, 2, 3, 5, 7, 10, 641, 65535, 65536, 65537, 1 << 31, (1 << 31) + 1, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF]
I32_DIVISORS = [1, 2, 3, 7, 10, -1, -2, -3, -7, -10, 1 << 16, -(1 << 16), 0x7FFFFFFF, -0x7FFFFFFF, -(1 << 31)]


def u32_dividends(n=1024, seed=0):
    rng = np.random.default_rng(seed)
    edge = [0, 1, 2, 3, 6, 7, 8, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 641 * 6700417]
    rand = rng.integers(0, 1 << 32, n - len(edge), dtype=np.uint64)
    return np.concatenate([np.array(edge, np.uint64), rand]).astype(np.uint32)


def trunc_div(a, d):
    """C's (and MSL's) truncating division and remainder on exact int64 values."""
    a, d = np.asarray(a, np.int64), np.int64(d)
    q = np.abs(a) // abs(int(d)) * np.sign(a) * (1 if d > 0 else -1)
    return q, a - q * d


def as_u32(v):
    return (np.asarray(v, np.int64) & 0xFFFFFFFF).astype(np.uint32)


def as_i32(v):
    return as_u32(v).view(np.int32)


@pytest.mark.parametrize("d", U32_DIVISORS)
def test_unsigned_runtime_divisor(runner, device, d):
    a = u32_dividends()
    _, q, r, _ = runner.run(
        device, SRC, "div_u", [a, np.zeros_like(a), np.zeros_like(a), np.uint32(d)], (a.size,), (64,)
    )
    np.testing.assert_array_equal(q, (a.astype(np.uint64) // d).astype(np.uint32))
    np.testing.assert_array_equal(r, (a.astype(np.uint64) % d).astype(np.uint32))


@pytest.mark.parametrize("d", I32_DIVISORS)
def test_signed_runtime_divisor(runner, device, d):
    a = u32_dividends(seed=1).view(np.int32)
    if d == -1:  # INT_MIN / -1 overflows (the CPU's division traps on it, as before)
        a = a[a != np.iinfo(np.int32).min]
    _, q, r, _ = runner.run(
        device, SRC, "div_i", [a, np.zeros_like(a), np.zeros_like(a), np.int32(d)], (a.size,), (64,)
    )
    eq, er = trunc_div(a, d)
    np.testing.assert_array_equal(q, as_i32(eq))
    np.testing.assert_array_equal(r, as_i32(er))


@pytest.mark.parametrize("s,u", [(7, 7), (-7, 3), (1, 1), (-1, 0xFFFFFFFF), (-(1 << 31), 1 << 31), (3, 0x80000001)])
def test_mixed_signedness(runner, device, s, u):
    a = u32_dividends(seed=2)
    _, out, _, _ = runner.run(
        device, SRC, "div_mixed", [a, np.zeros(6 * a.size, np.uint32), np.int32(s), np.uint32(u)], (a.size,), (64,)
    )
    out = out.reshape(-1, 6)
    a64 = a.astype(np.int64)
    us = s & 0xFFFFFFFF  # uint / int: the int converts to uint
    np.testing.assert_array_equal(out[:, 0], (a64 // us).astype(np.uint32))
    np.testing.assert_array_equal(out[:, 1], (a64 % us).astype(np.uint32))
    # int / uint: the int converts to uint (its bits), an unsigned division
    np.testing.assert_array_equal(out[:, 2], (a64 // u).astype(np.uint32))
    np.testing.assert_array_equal(out[:, 3], (a64 % u).astype(np.uint32))
    sh = a.astype(np.uint16).view(np.int16).astype(np.int64)  # short(a): the low 16 bits, signed
    sq, sr = trunc_div(sh, s)
    np.testing.assert_array_equal(out[:, 4], as_u32(sq))
    np.testing.assert_array_equal(out[:, 5], as_u32(sr))


@pytest.mark.parametrize("w,h", [(1, 1), (3, -3), (640, 480), (0xFFFFFFFF, -(1 << 31)), (1 << 31, 0x7FFFFFFF)])
def test_struct_member_divisor(runner, device, w, h):
    a = u32_dividends(seed=3)
    dims = np.zeros(1, dtype=[("width", "<u4"), ("height", "<i4"), ("scale", "<f4")])
    dims["width"], dims["height"], dims["scale"] = w, h, 1.5
    _, out, f, _ = runner.run(  # the struct from a buffer
        device,
        SRC,
        "div_member",
        [a, np.zeros(2 * a.size, np.uint32), np.zeros(a.size, np.float32), dims],
        (a.size,),
        (64,),
    )
    out = out.reshape(-1, 2)
    a64 = a.astype(np.int64)
    np.testing.assert_array_equal(out[:, 0], as_u32(a64 // w + a64 % w))
    _, er = trunc_div(a.view(np.int32), h)
    np.testing.assert_array_equal(out[:, 1], as_u32(er))
    expect = (a & 0xFFFF).astype(np.float32) / np.float32(w)
    np.testing.assert_allclose(f, expect, rtol=2e-7)  # fast math: a reciprocal is allowed


@pytest.mark.parametrize("d", [1, 3, 0xFFFFFFFF])
def test_in_place(runner, device, d):
    a = u32_dividends(seed=4)
    out = runner.run(device, SRC, "rem_in_place", [a.copy(), np.uint32(d)], (a.size,), (64,))[0]
    np.testing.assert_array_equal(out, (a.astype(np.uint64) % d).astype(np.uint32))


@pytest.mark.parametrize("n", [1, 2, 3, 16, 37])
def test_wrap_around_neighbours(runner, device, n):
    rng = np.random.default_rng(n)
    grid = rng.integers(0, 2, (n, n), dtype=np.uint8)
    out = runner.run(device, SRC, "wrap_sum", [grid, np.zeros((n, n), np.uint32), np.uint32(n)], (n, n), (8, 8))[1]
    expect = np.zeros((n, n), np.uint32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx or dy:
                expect += np.roll(grid, (-dy, -dx), axis=(0, 1)).astype(np.uint32) * (3 * (dy + 1) + dx + 1)
    np.testing.assert_array_equal(out, expect)


def test_division_by_zero_still_fails_on_the_cpu(device):
    if getattr(device, "kind", "cpu") != "cpu":
        pytest.skip("integer division by zero has no trap on a GPU (the value is undefined)")
    lib = pm.Library(device, SRC)
    pipe = pm.ComputePipelineState(device, lib.make_function("div_u"))
    a = u32_dividends(64)
    bufs = [pm.Buffer.from_numpy(device, x) for x in (a, np.zeros_like(a), np.zeros_like(a))]
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    for i, b in enumerate(bufs):
        enc.set_buffer(b, 0, i)
    enc.set_bytes(np.uint32(0), 3)
    enc.dispatch_threads((a.size, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    with pytest.raises(pm.MetalError, match="division by zero"):
        cb.wait_until_completed()


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
