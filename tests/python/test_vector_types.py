"""MSL's scalar, vector and packed types: exact sizes and alignments, constructors,
swizzles and operators, each checked by a kernel against NumPy."""

import numpy as np

import pymetallic
from pm_testing import run_kernel

SCALARS = {
    "bool": 1,
    "char": 1,
    "uchar": 1,
    "short": 2,
    "ushort": 2,
    "int": 4,
    "uint": 4,
    "long": 8,
    "ulong": 8,
    "half": 2,
    "float": 4,
    "bfloat": 2,
}


def expected_layout():
    """MSL's rule: N = 2 or 4 -> size N*s aligned N*s; N = 3 -> like 4; packed -> N*s aligned s."""
    rows = []
    for name, s in SCALARS.items():
        rows.append((name, s, s))
        for n in (2, 3, 4):
            m = 4 if n == 3 else n
            rows.append((f"{name}{n}", m * s, m * s))
            if name != "bool":
                rows.append((f"packed_{name}{n}", n * s, s))
    return rows


LAYOUT = expected_layout()


def test_every_type_has_msl_size_and_alignment(device):
    lines = "\n".join(
        f"    out[{2 * i}] = sizeof({t}); out[{2 * i + 1}] = alignof({t});" for i, (t, _, _) in enumerate(LAYOUT)
    )
    src = f"""
#include <metal_stdlib>
using namespace metal;
kernel void layout(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {{
    if (i != 0) return;
{lines}
}}"""
    out = pymetallic.Buffer(device, len(LAYOUT) * 8)
    run_kernel(device, src, "layout", (1, 1, 1), (1, 1, 1), buffers=[(out, 0)])
    got = out.to_numpy(np.uint32, (len(LAYOUT), 2))
    for (name, size, align), (gs, ga) in zip(LAYOUT, got):
        assert (gs, ga) == (size, align), f"{name}: got size {gs} align {ga}, MSL says {size}/{align}"


def test_float3_in_a_struct_has_metal_layout(device):
    src = """
#include <metal_stdlib>
using namespace metal;
struct Particle { float3 position; float mass; packed_float3 velocity; float charge; };
kernel void move(device Particle* p [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    p[i].position += float3(p[i].velocity) * p[i].mass;
    p[i].charge = sizeof(Particle);
}"""
    dt = np.dtype(
        [("position", np.float32, 4), ("mass", np.float32), ("velocity", np.float32, 3), ("charge", np.float32)],
        align=False,
    )
    assert dt.itemsize == 36
    # MSL: float3 at 0 (16 B), mass at 16, packed_float3 at 20 (12 B), charge at 32 -> 36, padded to 48
    dt = np.dtype(
        {
            "names": ["position", "mass", "velocity", "charge"],
            "formats": [(np.float32, 4), np.float32, (np.float32, 3), np.float32],
            "offsets": [0, 16, 20, 32],
            "itemsize": 48,
        }
    )
    rng = np.random.default_rng(1)
    data = np.zeros(33, dt)
    data["position"] = rng.random((33, 4))
    data["mass"] = rng.random(33)
    data["velocity"] = rng.random((33, 3))
    buf = pymetallic.Buffer.from_numpy(device, data)
    run_kernel(device, src, "move", (33, 1, 1), (8, 1, 1), buffers=[(buf, 0)])
    got = buf.to_numpy(np.uint8).view(dt)
    ref = data["position"][:, :3] + data["velocity"] * data["mass"][:, None]
    np.testing.assert_allclose(got["position"][:, :3], ref, rtol=1e-6)
    assert (got["charge"] == 48).all()


SWIZZLE = """
#include <metal_stdlib>
using namespace metal;
kernel void swizzle(device const float4* in [[buffer(0)]], device float4* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
    float4 v = in[i];
    float4 r;
    r.xy = v.wz;              // write two, read reversed
    r.zw = v.xx + v.yy;       // repeated reads
    out[4 * i + 0] = r;
    out[4 * i + 1] = v.bgra;  // rgba spelling
    float3 c = v.zyx;
    c.y = 10.0;
    out[4 * i + 2] = float4(c, v.w * 2.0);
    float4 m = v;
    m.xz *= 3.0;              // compound assignment through a swizzle
    m[3] = -1.0;              // indexing
    out[4 * i + 3] = m;
}
"""


def test_swizzle_reads_and_writes(device, rng):
    v = rng.random((50, 4), dtype=np.float32)
    out = pymetallic.Buffer(device, 50 * 4 * 16)
    run_kernel(
        device,
        SWIZZLE,
        "swizzle",
        (50, 1, 1),
        (16, 1, 1),
        buffers=[(pymetallic.Buffer.from_numpy(device, v), 0), (out, 1)],
    )
    got = out.to_numpy(np.float32, (50, 4, 4))
    x, y, z, w = v.T
    np.testing.assert_allclose(got[:, 0], np.stack([w, z, x + y, x + y], 1), rtol=1e-6)
    np.testing.assert_allclose(got[:, 1], np.stack([z, y, x, w], 1))
    np.testing.assert_allclose(got[:, 2], np.stack([z, np.full_like(y, 10), x, w * 2], 1), rtol=1e-6)
    np.testing.assert_allclose(got[:, 3], np.stack([x * 3, y, z * 3, -np.ones_like(w)], 1), rtol=1e-6)


CONSTRUCT = """
#include <metal_stdlib>
using namespace metal;
kernel void construct(device const float* in [[buffer(0)]], device float4* out [[buffer(1)]],
                      device int4* iout [[buffer(2)]], device uint* bout [[buffer(3)]],
                      uint i [[thread_position_in_grid]]) {
    float a = in[2 * i], b = in[2 * i + 1];
    float2 p = float2(a, b);
    out[5 * i + 0] = float4(p, 1.0, 2.0);
    out[5 * i + 1] = float4(a);                 // broadcast
    out[5 * i + 2] = float4(3.0, p, 4.0);
    out[5 * i + 3] = float4(float3(p, a), b);
    out[5 * i + 4] = float4(p.yx, p) * 2.0 + 1.0;
    iout[i] = int4(float4(a * 10.0, -b * 10.0, 2.5, -2.5));  // explicit conversion truncates
    bool4 c = float4(a, b, 0.5, 0.25) > float4(0.5);
    bout[i] = uint(all(c)) * 8 + uint(any(c)) * 4 + uint(c.x) * 2 + uint(c.y);
}
"""


def test_constructors_conversions_and_comparisons(device, rng):
    n = 40
    ab = rng.random(2 * n, dtype=np.float32)
    out = pymetallic.Buffer(device, n * 5 * 16)
    iout = pymetallic.Buffer(device, n * 16)
    bout = pymetallic.Buffer(device, n * 4)
    run_kernel(
        device,
        CONSTRUCT,
        "construct",
        (n, 1, 1),
        (8, 1, 1),
        buffers=[(pymetallic.Buffer.from_numpy(device, ab), 0), (out, 1), (iout, 2), (bout, 3)],
    )
    a, b = ab[0::2], ab[1::2]
    got = out.to_numpy(np.float32, (n, 5, 4))
    one, two = np.ones(n), np.full(n, 2.0)
    np.testing.assert_allclose(got[:, 0], np.stack([a, b, one, two], 1))
    np.testing.assert_allclose(got[:, 1], np.stack([a, a, a, a], 1))
    np.testing.assert_allclose(got[:, 2], np.stack([np.full(n, 3.0), a, b, np.full(n, 4.0)], 1))
    np.testing.assert_allclose(got[:, 3], np.stack([a, b, a, b], 1))
    np.testing.assert_allclose(got[:, 4], np.stack([b, a, a, b], 1) * 2 + 1, rtol=1e-6)
    ref_i = np.stack([np.trunc(a * np.float32(10)), np.trunc(-b * np.float32(10)), np.full(n, 2), np.full(n, -2)], 1)
    np.testing.assert_array_equal(iout.to_numpy(np.int32, (n, 4)), ref_i)
    c = np.stack([a > 0.5, b > 0.5, np.zeros(n, bool), np.zeros(n, bool)], 1)
    ref_b = c.all(1) * 8 + c.any(1) * 4 + c[:, 0] * 2 + c[:, 1]
    np.testing.assert_array_equal(bout.to_numpy(np.uint32), ref_b)


OPS = """
#include <metal_stdlib>
using namespace metal;
kernel void ops(device const int4* a [[buffer(0)]], device const int4* b [[buffer(1)]],
                device int4* out [[buffer(2)]], device float4* f [[buffer(3)]], uint i [[thread_position_in_grid]]) {
    int4 x = a[i], y = b[i];
    out[6 * i + 0] = x + y * 3;
    out[6 * i + 1] = x / y;                       // C-style truncating division
    out[6 * i + 2] = x % y;
    out[6 * i + 3] = (x & 0xff) ^ (y << 2) | (x >> 1);
    out[6 * i + 4] = select(x, y, x < y);         // elementwise max via select
    out[6 * i + 5] = int4(-x);
    f[i] = as_type<float4>(x);                    // bit reinterpretation
}
"""


def test_integer_vector_operators_and_as_type(device, rng):
    n = 64
    a = rng.integers(-1000, 1000, (n, 4)).astype(np.int32)
    b = rng.integers(1, 50, (n, 4)).astype(np.int32) * rng.choice([-1, 1], (n, 4)).astype(np.int32)
    out = pymetallic.Buffer(device, n * 6 * 16)
    f = pymetallic.Buffer(device, n * 16)
    run_kernel(
        device,
        OPS,
        "ops",
        (n, 1, 1),
        (16, 1, 1),
        buffers=[
            (pymetallic.Buffer.from_numpy(device, a), 0),
            (pymetallic.Buffer.from_numpy(device, b), 1),
            (out, 2),
            (f, 3),
        ],
    )
    got = out.to_numpy(np.int32, (n, 6, 4))
    np.testing.assert_array_equal(got[:, 0], a + b * 3)
    q = np.trunc(a / b).astype(np.int32)
    np.testing.assert_array_equal(got[:, 1], q)
    np.testing.assert_array_equal(got[:, 2], a - q * b)
    np.testing.assert_array_equal(got[:, 3], (a & 0xFF) ^ (b << 2) | (a >> 1))
    np.testing.assert_array_equal(got[:, 4], np.maximum(a, b))
    np.testing.assert_array_equal(got[:, 5], -a)
    np.testing.assert_array_equal(f.to_numpy(np.float32, (n, 4)).view(np.int32), a)
