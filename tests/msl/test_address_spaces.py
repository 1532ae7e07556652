"""MSL address spaces and program-scope data (MSL.md §2): device/constant/threadgroup/thread
pointers and references in helper functions, program-scope constant tables and structs,
address-space-qualified member functions, constant T& structs via set_bytes, size_t args."""

import numpy as np

SRC = r"""
#include <metal_stdlib>
using namespace metal;

constant float kTable[8] = {0.5f, -1.0f, 2.0f, 3.25f, -4.5f, 8.0f, 0.125f, 100.0f};
constant int kGrid[2][3] = {{1, 2, 3}, {4, 5, 6}};
struct Affine { float scale; float shift; };
constant Affine kAffine = {2.0f, -1.0f};
constant float3 kUp = float3(0.0f, 1.0f, 0.0f);
constexpr constant uint kMask = 7u;

struct Params {
  uint n;
  float alpha;
  int offset;
  float4 bias;   // 16-aligned: Params is 32 bytes
};

struct Counter {
  float v;
  float get() const thread { return v; }
  void add(float x) thread { v += x; }
  float get_dev() const device { return v * 2.0f; }
  float get_tg() const threadgroup { return v * 3.0f; }
  float get_c() const constant { return v * 4.0f; }
};

METAL_FUNC float load_dev(const device float* p, uint i) { return p[i]; }
METAL_FUNC float load_const(constant float* p, uint i) { return p[i]; }
METAL_FUNC float load_tg(const threadgroup float* p, uint i) { return p[i]; }
METAL_FUNC void bump(thread float& x, float d) { x += d; }
METAL_FUNC void store_dev(device float& dst, float v) { dst = v; }
METAL_FUNC void store_tg(threadgroup float& dst, float v) { dst = v; }
METAL_FUNC float sum_thread(thread const float* p, int n) { float s = 0; for (int i = 0; i < n; ++i) s += p[i]; return s; }
METAL_FUNC float read_params(constant Params& p) { return p.alpha * float(p.offset); }

kernel void spaces(device const float* x [[buffer(0)]], constant float* c [[buffer(1)]],
                   device float* out [[buffer(2)]], constant Params& p [[buffer(3)]],
                   device Counter* ctr [[buffer(4)]], constant Counter* cctr [[buffer(5)]],
                   uint i [[thread_position_in_grid]], uint lid [[thread_position_in_threadgroup]]) {
  threadgroup float tile[64];
  threadgroup Counter tctr[1];
  threadgroup float scratch[64];
  tile[lid] = x[i] * 2.0f;
  if (lid == 0) tctr[0].v = 1.5f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (i >= p.n) return;
  float a = load_dev(x, i);
  float b = load_const(c, i % 4);
  float t = load_tg(tile, lid ^ 1u);
  thread float local[3] = {a, b, t};
  bump(local[0], p.alpha);
  Counter k{a};
  k.add(1.0f);
  float r0 = sum_thread(local, 3) + read_params(p) + p.bias[i % 4];
  store_dev(out[6 * i + 0], r0);
  out[6 * i + 1] = kTable[i & kMask] * kAffine.scale + kAffine.shift + float(kGrid[i & 1][i % 3]) + kUp.y;
  out[6 * i + 2] = k.get();
  out[6 * i + 3] = ctr[i % 2].get_dev() + cctr[0].get_c() + tctr[0].get_tg();
  threadgroup float* tp = &scratch[lid];
  store_tg(*tp, 5.0f);
  out[6 * i + 4] = *tp;
  device float& ref = out[6 * i + 5];
  ref = a - b;
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_pointers_references_tables_and_member_qualifiers(device, runner):
    rng = np.random.default_rng()
    n, N = 120, 128
    x = rng.standard_normal(N).astype(np.float32)
    c = rng.standard_normal(4).astype(np.float32)
    pdt = np.dtype(
        {
            "names": ["n", "alpha", "offset", "bias"],
            "formats": ["<u4", "<f4", "<i4", ("<f4", 4)],
            "offsets": [0, 4, 8, 16],
            "itemsize": 32,
        }
    )
    params = np.zeros(1, pdt)
    params["n"], params["alpha"], params["offset"] = n, 0.75, -3
    params["bias"] = rng.standard_normal(4)
    ctr = rng.standard_normal(2).astype(np.float32)
    cctr = rng.standard_normal(1).astype(np.float32)
    out = runner.run(device, SRC, "spaces", [x, c, np.zeros(6 * N, np.float32), params, ctr, cctr], (N,), (64,))[2]
    out = out.reshape(N, 6)[:n]
    i = np.arange(n)
    x64 = x.astype(np.float64)
    t = 2.0 * x64[(i // 64) * 64 + ((i % 64) ^ 1)]
    r0 = (x64[i] + 0.75) + c[i % 4] + t + 0.75 * -3 + params["bias"][0][i % 4]
    np.testing.assert_allclose(out[:, 0], r0, rtol=1e-5, atol=1e-5)
    table = np.array([0.5, -1.0, 2.0, 3.25, -4.5, 8.0, 0.125, 100.0])
    grid = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(out[:, 1], table[i & 7] * 2 - 1 + grid[i & 1, i % 3] + 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], x64[:n] + 1.0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[:, 3], ctr[i % 2] * 2.0 + cctr[0] * 4.0 + 4.5, rtol=1e-5, atol=1e-5)
    assert np.all(out[:, 4] == 5.0)
    np.testing.assert_allclose(out[:, 5], x[:n] - c[i % 4], rtol=1e-6, atol=1e-6)


def test_constant_struct_from_bytes(device, runner):
    """set_bytes with raw bytes (not a structured array)."""
    rng = np.random.default_rng()
    N = 64
    x = rng.standard_normal(N).astype(np.float32)
    c = np.zeros(4, np.float32)
    raw = (
        np.array([N], np.uint32).tobytes()
        + np.array([2.0], np.float32).tobytes()
        + np.array([1], np.int32).tobytes()
        + bytes(4)
        + np.zeros(4, np.float32).tobytes()
    )
    out = runner.run(
        device,
        SRC,
        "spaces",
        [x, c, np.zeros(6 * N, np.float32), raw, np.zeros(2, np.float32), np.zeros(1, np.float32)],
        (N,),
        (64,),
    )[2]
    out = out.reshape(N, 6)
    i = np.arange(N)
    t = 2.0 * x.astype(np.float64)[i ^ 1]
    np.testing.assert_allclose(out[:, 0], x + 2.0 + t + 2.0, rtol=1e-5, atol=1e-5)
