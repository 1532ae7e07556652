"""MSL pack/unpack functions (MSL.md §5.6) against NumPy re-implementations of MSL's
normalized-integer conversion rules (clamp, scale, round to nearest even; snorm
unpacking clamps at -1)."""

import numpy as np

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void unpack_all(device const uint* x [[buffer(0)]], device float* f [[buffer(1)]],
                       device half* h [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  uint v = x[i];
  float4 a = unpack_unorm4x8_to_float(v), b = unpack_snorm4x8_to_float(v), e = unpack_unorm10a2_to_float(v);
  float2 c = unpack_unorm2x16_to_float(v), d = unpack_snorm2x16_to_float(v);
  float3 g = unpack_unorm565_to_float(ushort(v));
  device float* o = f + i * 19;
  o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
  o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
  o[8] = c.x; o[9] = c.y; o[10] = d.x; o[11] = d.y;
  o[12] = e.x; o[13] = e.y; o[14] = e.z; o[15] = e.w;
  o[16] = g.x; o[17] = g.y; o[18] = g.z;
  half4 ha = unpack_unorm4x8_to_half(v), hb = unpack_snorm4x8_to_half(v), he = unpack_unorm10a2_to_half(v);
  half2 hc = unpack_unorm2x16_to_half(v), hd = unpack_snorm2x16_to_half(v);
  half3 hg = unpack_unorm565_to_half(ushort(v));
  device half* p = h + i * 19;
  p[0] = ha.x; p[1] = ha.y; p[2] = ha.z; p[3] = ha.w;
  p[4] = hb.x; p[5] = hb.y; p[6] = hb.z; p[7] = hb.w;
  p[8] = hc.x; p[9] = hc.y; p[10] = hd.x; p[11] = hd.y;
  p[12] = he.x; p[13] = he.y; p[14] = he.z; p[15] = he.w;
  p[16] = hg.x; p[17] = hg.y; p[18] = hg.z;
}

kernel void pack_all(device const float4* x [[buffer(0)]], device uint* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  float4 v = x[i];
  half4 h = half4(v);
  device uint* o = out + i * 12;
  o[0] = pack_float_to_unorm4x8(v);
  o[1] = pack_float_to_snorm4x8(v);
  o[2] = pack_float_to_unorm2x16(v.xy);
  o[3] = pack_float_to_snorm2x16(v.zw);
  o[4] = pack_float_to_unorm10a2(v);
  o[5] = pack_float_to_unorm565(v.xyz);
  o[6] = pack_half_to_unorm4x8(h);
  o[7] = pack_half_to_snorm4x8(h);
  o[8] = pack_half_to_unorm2x16(h.xy);
  o[9] = pack_half_to_snorm2x16(h.zw);
  o[10] = pack_half_to_unorm10a2(h);
  o[11] = pack_half_to_unorm565(h.xyz);
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def fields(x, widths):
    out, shift = [], 0
    for w in widths:
        out.append((x >> shift) & ((1 << w) - 1))
        shift += w
    return out


def signed(v, bits):
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


def unpack_ref(x):
    x = x.astype(np.int64)
    cols = []
    cols += [c / 255.0 for c in fields(x, [8] * 4)]
    cols += [np.maximum(signed(c, 8) / 127.0, -1.0) for c in fields(x, [8] * 4)]
    cols += [c / 65535.0 for c in fields(x, [16] * 2)]
    cols += [np.maximum(signed(c, 16) / 32767.0, -1.0) for c in fields(x, [16] * 2)]
    r, g, b, a = fields(x, [10, 10, 10, 2])
    cols += [r / 1023.0, g / 1023.0, b / 1023.0, a / 3.0]
    r, g, b = fields(x & 0xFFFF, [5, 6, 5])
    cols += [r / 31.0, g / 63.0, b / 31.0]
    return np.stack(cols, axis=1)


def q_unorm(v, n):
    s = float(2**n - 1)
    c = np.clip(np.nan_to_num(v.astype(np.float64), nan=0.0), 0.0, 1.0)
    return np.rint((c * s).astype(np.float32)).astype(np.int64)  # the scaling happens in float


def q_snorm(v, n):
    s = float(2 ** (n - 1) - 1)
    c = np.clip(np.nan_to_num(v.astype(np.float64), nan=0.0), -1.0, 1.0)
    return np.rint((c * s).astype(np.float32)).astype(np.int64) & (2**n - 1)


def join(parts, widths):
    out, shift = 0, 0
    for p, w in zip(parts, widths):
        out = out + (p << shift)
        shift += w
    return out


def pack_ref(v):
    x, y, z, w = (v[:, i].astype(np.float32) for i in range(4))
    return np.stack(
        [
            join([q_unorm(c, 8) for c in (x, y, z, w)], [8] * 4),
            join([q_snorm(c, 8) for c in (x, y, z, w)], [8] * 4),
            join([q_unorm(c, 16) for c in (x, y)], [16] * 2),
            join([q_snorm(c, 16) for c in (z, w)], [16] * 2),
            join([q_unorm(x, 10), q_unorm(y, 10), q_unorm(z, 10), q_unorm(w, 2)], [10, 10, 10, 2]),
            join([q_unorm(x, 5), q_unorm(y, 6), q_unorm(z, 5)], [5, 6, 5]),
        ],
        axis=1,
    ).astype(np.uint32)


def test_unpack(device, runner):
    rng = np.random.default_rng(31)
    n = 2048
    x = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    x[:8] = [0, 0xFFFFFFFF, 0x80808080, 0x7F7F7F7F, 0x81818181, 0x80008000, 0x7FFF7FFF, 0xC00003FF]
    _, f, h = runner.run(
        device, SRC, "unpack_all", [x, np.zeros(n * 19, np.float32), np.zeros(n * 19, np.float16)], (n,), (64,)
    )
    ref = unpack_ref(x)
    np.testing.assert_allclose(f.reshape(n, 19), ref, rtol=2**-23, atol=0)
    np.testing.assert_array_equal(h.reshape(n, 19), ref.astype(np.float32).astype(np.float16))


def test_pack(device, runner):
    rng = np.random.default_rng(32)
    n = 2048
    v = rng.uniform(-1.3, 1.3, (n, 4)).astype(np.float32)
    # exact halfway points (round to even), the ends, out of range, NaN
    v[0] = [0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255]
    v[1] = [0.5 / 127, -1.5 / 127, 2.5 / 127, -126.5 / 127]
    v[2] = [0.0, 1.0, -1.0, -0.0]
    v[3] = [np.nan, 2.0, -2.0, np.inf]
    v[4] = [0.5 / 65535, 1.5 / 65535, 0.5 / 32767, -2.5 / 32767]
    out = runner.run(device, SRC, "pack_all", [v, np.zeros(n * 12, np.uint32)], (n,), (64,))[1].reshape(n, 12)
    np.testing.assert_array_equal(out[:, :6], pack_ref(v))
    vh = v.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(out[:, 6:], pack_ref(vh))
