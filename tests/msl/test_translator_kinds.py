"""Kinds of MSL that translators write (SPIRV-Cross for MoltenVK, Tint), each in a kernel of our
own that runs against NumPy (issue 10, the corpus measure of docs/msl-support.md §7):
member declarations `= default` written once per address space, volatile buffers of vectors,
`coherent device` and `memory_coherence` textures (MSL 3.2), Metal's vector-aware
`is_integral`, atomics on cube textures, vector sizes deduced by an unsigned template
parameter, program-scope `constant` arrays of matrices and wrapped arrays (constant
initialisation: the form NVRTC needs for device data), and designated initialisers (Tint's
`S{.a = x}`: rewritten to positional ones, so NVRTC compiles them as C++17)."""

import numpy as np
import pytest

import pymetallic as pm

STORAGE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// The storage wrapper SPIRV-Cross writes for matrices in threadgroup memory: every member
// once per address space of `this` and of the parameter, many of them `= default`.
template <typename T, int Cols, int Rows>
struct StorageMatrix {
  vec<T, Rows> columns[Cols];
  StorageMatrix() thread = default;
  thread StorageMatrix& operator=(const device matrix<T, Cols, Rows>& m) thread {
    for (int i = 0; i < Cols; ++i) columns[i] = m.columns[i];
    return *this;
  }
 public:
  StorageMatrix() threadgroup = default;
  StorageMatrix() constant = default;
  StorageMatrix(const thread matrix<T, Cols, Rows>& m) thread {
    for (int i = 0; i < Cols; ++i) columns[i] = m.columns[i];
  }
  StorageMatrix(const thread matrix<T, Cols, Rows>& m) constant {
    for (int i = 0; i < Cols; ++i) columns[i] = m.columns[i];
  }
  StorageMatrix(const device StorageMatrix& m) constant = default;
  StorageMatrix(const thread StorageMatrix& m) thread = default;
  StorageMatrix(const threadgroup StorageMatrix& m) thread = default;
  StorageMatrix(const device StorageMatrix& m) thread = default;
  StorageMatrix(const thread StorageMatrix& m) threadgroup = default;
  thread StorageMatrix& operator=(const thread StorageMatrix& m) thread = default;
  thread StorageMatrix& operator=(const threadgroup StorageMatrix& m) thread = default;
  threadgroup StorageMatrix& operator=(const thread StorageMatrix& m) threadgroup = default;
  thread StorageMatrix& operator=(const thread matrix<T, Cols, Rows>& m) thread {
    for (int i = 0; i < Cols; ++i) columns[i] = m.columns[i];
    return *this;
  }
  threadgroup StorageMatrix& operator=(const thread matrix<T, Cols, Rows>& m) threadgroup {
    for (int i = 0; i < Cols; ++i) columns[i] = m.columns[i];
    return *this;
  }
  operator matrix<T, Cols, Rows>() const thread {
    matrix<T, Cols, Rows> m;
    for (int i = 0; i < Cols; ++i) m.columns[i] = columns[i];
    return m;
  }
  operator matrix<T, Cols, Rows>() const threadgroup {
    matrix<T, Cols, Rows> m;
    for (int i = 0; i < Cols; ++i) m.columns[i] = columns[i];
    return m;
  }
};

kernel void storage_matrix(device const float4* mats [[buffer(0)]], device const float2* v [[buffer(1)]],
                           device float2* out [[buffer(2)]], uint i [[thread_position_in_grid]],
                           uint l [[thread_position_in_threadgroup]]) {
  threadgroup StorageMatrix<float, 2, 2> shared_m[4];
  if (l < 4) {
    float4 a = mats[l];
    shared_m[l] = float2x2(a.xy, a.zw);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  StorageMatrix<float, 2, 2> mine = shared_m[i % 4];
  StorageMatrix<float, 2, 2> other;
  other = shared_m[(i + 1) % 4];
  StorageMatrix<float, 2, 2> third = StorageMatrix<float, 2, 2>(float2x2(2.0f));
  float2x2 m = mine;
  float2x2 n = other;
  float2x2 d = third;
  out[i] = m * v[i] + n * v[i] + d * v[i];
}
"""


def test_defaulted_members_per_address_space(device, runner):
    rng = np.random.default_rng(3)
    mats = rng.standard_normal((4, 4)).astype(np.float32)
    v = rng.standard_normal((32, 2)).astype(np.float32)
    out = runner.run(
        device, STORAGE_SRC, "storage_matrix", [mats, v, np.zeros((32, 2), np.float32)], (32, 1, 1), (32, 1, 1)
    )[2]
    # float2x2(a.xy, a.zw): columns (a0, a1) and (a2, a3)
    m = mats.astype(np.float64).reshape(4, 2, 2).transpose(0, 2, 1)
    i = np.arange(32)
    want = np.einsum("nij,nj->ni", m[i % 4] + m[(i + 1) % 4] + 2 * np.eye(2), v.astype(np.float64))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


VOLATILE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

struct Block { float4 value; int4 counts; };

// `volatile device` blocks: what SPIRV-Cross writes for coherent buffers before MSL 3.2.
kernel void volatile_block(volatile device Block& b [[buffer(0)]], volatile device float4* p [[buffer(1)]],
                           device float4* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (i == 0) {
    b.value = float4(1.5, -2.0, 3.25, 8.0);
    b.counts = int4(1, 2, 3, 4);
    float4 back = b.value;
    int4 c = b.counts;
    out[0] = back * 2.0f;
    out[1] = float4(c);
  }
  float4 cur = p[i];
  p[i] = cur + float4(float(i));
  float4 q = p[i];
  out[2 + i] = q;
}
"""


def test_volatile_vectors(device, runner):
    n = 8
    block = np.zeros(8, np.float32)
    p = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    res = runner.run(
        device, VOLATILE_SRC, "volatile_block", [block, p, np.zeros((n + 2, 4), np.float32)], (n, 1, 1), (n, 1, 1)
    )
    b, pp, out = res
    np.testing.assert_array_equal(b[:4], [1.5, -2.0, 3.25, 8.0])
    np.testing.assert_array_equal(b[4:].view(np.int32), [1, 2, 3, 4])
    np.testing.assert_array_equal(out[0], [3.0, -4.0, 6.5, 16.0])
    np.testing.assert_array_equal(out[1], [1, 2, 3, 4])
    want = p + np.arange(n, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(pp, want)
    np.testing.assert_array_equal(out[2:], want)


COHERENT_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// MSL 3.2 coherence, as SPIRV-Cross spells it: `coherent device T*` and a texture's
// memory_coherence argument.
static inline void bump(coherent device uint& c, uint v) { c += v; }
static inline void scale(texture2d<float, access::read_write, memory_coherence_device> img, uint2 p) {
  img.write(img.read(p) * 2.0f, p);
}

kernel void coherent_things(coherent device uint* counts [[buffer(0)]],
                            texture2d<float, access::read_write, memory_coherence_device> img [[texture(0)]],
                            texture2d<float, access::read, memory_coherence_device> src [[texture(1)]],
                            uint2 p [[thread_position_in_grid]]) {
  coherent device uint* c = counts + p.y;
  if (p.x == 0) bump(c[0], p.y + 1);
  img.write(src.read(p) + float4(1.0f), p);
  scale(img, p);
}
"""


def test_coherent_qualifiers(device):
    w, h = 4, 3
    lib = pm.Library(device, COHERENT_SRC)
    pso = pm.ComputePipelineState(device, lib.make_function("coherent_things"))
    rng = np.random.default_rng(5)
    src_px = rng.random((h, w, 4), dtype=np.float32)
    src = pm.Texture.from_numpy(device, src_px)
    img = pm.Texture.from_numpy(device, np.zeros((h, w, 4), np.float32))
    counts = pm.Buffer.from_numpy(device, np.full(h, 100, np.uint32))
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pso)
    enc.set_buffer(counts, 0, 0)
    enc.set_texture(img, 0)
    enc.set_texture(src, 1)
    enc.dispatch_threads((w, h, 1), (w, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.error is None, cb.error
    np.testing.assert_array_equal(counts.to_numpy(np.uint32, (h,)), 100 + np.arange(1, h + 1))
    np.testing.assert_allclose(img.to_numpy(), (src_px.astype(np.float64) + 1.0) * 2.0, rtol=1e-6)


SIGN_SRC = r"""
#include <metal_stdlib>
using namespace metal;

static_assert(is_integral<int4>::value && is_integral_v<uint2> && is_integral<short3>::value, "integer vectors");
static_assert(!is_integral<float4>::value && is_floating_point<float4>::value && is_floating_point_v<half2>, "fp");
static_assert(!is_floating_point<int2>::value && is_integral<int>::value && !is_integral<float>::value, "scalars");

// The integer sign() SPIRV-Cross adds for GLSL's sign(ivec4): enabled for integer scalars and
// vectors alike; float vectors keep metal::sign.
template <typename T, typename E = typename enable_if<is_integral<T>::value>::type>
inline T sign(T x) {
  return select(select(select(x, T(0), x == T(0)), T(1), x > T(0)), T(-1), x < T(0));
}

kernel void signs(device const int4* a [[buffer(0)]], device int4* b [[buffer(1)]],
                  device const float4* f [[buffer(2)]], device float4* g [[buffer(3)]],
                  device int* s [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  b[i] = sign(a[i]);
  g[i] = sign(f[i]);
  s[i] = sign(a[i].x - a[i].y);
}
"""


def test_vector_is_integral(device, runner):
    rng = np.random.default_rng(9)
    n = 32
    a = rng.integers(-3, 4, (n, 4)).astype(np.int32)
    f = rng.integers(-2, 3, (n, 4)).astype(np.float32) * 0.5
    res = runner.run(
        device,
        SIGN_SRC,
        "signs",
        [a, np.zeros_like(a), f, np.zeros_like(f), np.zeros(n, np.int32)],
        (n, 1, 1),
        (n, 1, 1),
    )
    np.testing.assert_array_equal(res[1], np.sign(a))
    np.testing.assert_array_equal(res[3], np.sign(f))
    np.testing.assert_array_equal(res[4], np.sign(a[:, 0] - a[:, 1]))


CUBE_ATOMIC_SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void cube_atomics(texturecube<uint, access::read_write> cube [[texture(0)]],
                         texturecube_array<uint, access::read_write> cubes [[texture(1)]],
                         device uint* old [[buffer(0)]], uint3 p [[thread_position_in_grid]]) {
  uint i = (p.z * 2 + p.y) * 2 + p.x;
  old[i] = cube.atomic_fetch_add(p.xy, p.z, 10u).x;
  cubes.atomic_fetch_or(p.xy, p.z % 6u, p.z / 6u, 1u << (i % 32u));
  cube.atomic_fetch_max(uint2(0), 0u, i);
}
"""


def test_cube_texture_atomics(device):
    T, F = pm.TextureType, pm.PixelFormat
    cube = device.make_texture(pm.TextureDescriptor(T.TYPE_CUBE, F.R32Uint, 2, 2))
    base = np.arange(24, dtype=np.uint32).reshape(6, 2, 2) * 100
    cube.replace_region(None, base)
    cubes = device.make_texture(pm.TextureDescriptor(T.TYPE_CUBE_ARRAY, F.R32Uint, 2, 2, array_length=2))
    cubes.replace_region(None, np.zeros((12, 2, 2), np.uint32))
    old = pm.Buffer.from_numpy(device, np.zeros(48, np.uint32))
    lib = pm.Library(device, CUBE_ATOMIC_SRC)
    pso = pm.ComputePipelineState(device, lib.make_function("cube_atomics"))
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pso)
    enc.set_texture(cube, 0)
    enc.set_texture(cubes, 1)
    enc.set_buffer(old, 0, 0)
    enc.dispatch_threads((2, 2, 12), (2, 2, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.error is None, cb.error
    i = np.arange(48).reshape(12, 2, 2)  # [z, y, x]
    got_old = old.to_numpy(np.uint32, (48,)).reshape(12, 2, 2)
    # faces 0..5 are real; threads with z >= 6 address no face (reads give 0, writes are ignored)
    want_cube = base.astype(np.int64) + 10
    got_cube = cube.to_numpy().reshape(6, 2, 2).astype(np.int64)
    # Face 0, texel (0, 0): thread (0, 0, 0)'s add of 10 and every thread's atomic_fetch_max(i)
    # race; atomics are unordered between threads, so the max (47) lands before or after it.
    first_add, first_max = max(int(base[0, 0, 0]) + 10, 47), max(int(base[0, 0, 0]), 47) + 10
    assert got_cube[0, 0, 0] in (first_add, first_max), got_cube[0, 0, 0]
    want_cube[0, 0, 0] = got_cube[0, 0, 0]
    np.testing.assert_array_equal(got_cube, want_cube)
    old_first = got_old[:6]
    mask = np.ones((6, 2, 2), bool)
    mask[0, 0, 0] = False  # raced with atomic_fetch_max
    np.testing.assert_array_equal(old_first[mask], base[mask])
    np.testing.assert_array_equal(got_old[6:], 0)
    bits = (np.uint64(1) << (i % 32).astype(np.uint64)).astype(np.uint32)
    np.testing.assert_array_equal(cubes.to_numpy().reshape(12, 2, 2), bits)


DEDUCE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// SPIRV-Cross's array-copy helpers name a vector's size with an unsigned parameter.
template <typename T, uint V>
inline T hsum(vec<T, V> v) {
  T s = T(0);
  for (uint i = 0; i < V; ++i) s += v[i];
  return s;
}
template <typename T, uint V, uint N>
inline void widen(thread vec<T, 4> (&dst)[N], device const vec<T, V> (&src)[N]) {
  for (uint i = 0; i < N; ++i) {
    dst[i] = vec<T, 4>(T(0));
    for (uint c = 0; c < V; ++c) dst[i][c] = src[i][c];
  }
}
template <typename T, ushort V>
inline vec<T, V> twice(vec<T, V> v) { return v + v; }

struct Rows { float2 r[3]; };

kernel void deduce(device const float4* a [[buffer(0)]], device const Rows* rows [[buffer(1)]],
                   device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  float4 v = a[i];
  float4 w[3];
  widen(w, rows[i].r);
  out[i] = hsum(v) + hsum(v.xy) * 10.0f + hsum(twice(int3(1, 2, 3))) * 100.0f + hsum(w[0] + w[1] + w[2]) * 1000.0f;
}
"""


def test_vec_size_deduced_by_unsigned_parameter(device, runner):
    rng = np.random.default_rng(11)
    n = 16
    a = rng.integers(-4, 5, (n, 4)).astype(np.float32)
    rows = rng.integers(-4, 5, (n, 6)).astype(np.float32)
    out = runner.run(device, DEDUCE_SRC, "deduce", [a, rows, np.zeros(n, np.float32)], (n, 1, 1), (n, 1, 1))[2]
    want = a.sum(1) + a[:, :2].sum(1) * 10 + 12 * 100 + rows.sum(1) * 1000
    np.testing.assert_array_equal(out, want)


CONSTANTS_SRC = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T, size_t Num>
struct spvUnsafeArray {
  T elements[Num ? Num : 1];
  thread T& operator[](size_t pos) thread { return elements[pos]; }
  constexpr const thread T& operator[](size_t pos) const thread { return elements[pos]; }
  constexpr const constant T& operator[](size_t pos) const constant { return elements[pos]; }
};

struct Light { float3 dir; float2x2 m; int id; };

constant spvUnsafeArray<float4x4, 2> kMats = spvUnsafeArray<float4x4, 2>({
    float4x4(float4(1.0, 0.0, 0.0, 0.0), float4(0.0, 1.0, 0.0, 0.0), float4(0.0, 0.0, 1.0, 0.0), float4(0.0, 0.0, 0.0, 1.0)),
    float4x4(float4(2.0, 0.0, 0.0, 0.0), float4(0.0, 2.0, 0.0, 0.0), float4(0.0, 0.0, 2.0, 0.0), float4(1.0, 2.0, 3.0, 2.0))});
constant float2x2 kPair[2] = {float2x2(float2(1.0, 2.0), float2(3.0, 4.0)), float2x2(2.0)};
constant Light kLight = Light{float3(0.0, 1.0, 0.5), float2x2(float2(0.0, 1.0), float2(-1.0, 0.0)), 7};
constant uint3 kSize = uint3(4u, 1u, 1u);
constant half4 kHalves = half4(0.5h, 1.0h, 2.0h, 4.0h);

kernel void constants(device const float4* v [[buffer(0)]], device float4* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  float4 x = v[i];
  float4 r = kMats[i % 2] * x;
  float2 q = kPair[i % 2] * x.xy + kLight.m * x.zw;
  out[i] = r + float4(q, float(kLight.id) + kLight.dir.y, float(kSize.x)) * float4(kHalves);
}
"""


def test_program_scope_constant_composites(device, runner):
    rng = np.random.default_rng(13)
    n = 8
    v = rng.standard_normal((n, 4)).astype(np.float32)
    out = runner.run(device, CONSTANTS_SRC, "constants", [v, np.zeros((n, 4), np.float32)], (n, 1, 1), (n, 1, 1))[1]
    m0 = np.eye(4)
    m1 = np.diag([2.0, 2.0, 2.0, 2.0])
    m1[:3, 3] = [1.0, 2.0, 3.0]  # last column (1, 2, 3, 2)
    p0 = np.array([[1.0, 3.0], [2.0, 4.0]])
    p1 = np.eye(2) * 2
    lm = np.array([[0.0, -1.0], [1.0, 0.0]])
    halves = np.array([0.5, 1.0, 2.0, 4.0])
    x = v.astype(np.float64)
    want = np.empty((n, 4))
    for i in range(n):
        r = (m0 if i % 2 == 0 else m1) @ x[i]
        q = (p0 if i % 2 == 0 else p1) @ x[i, :2] + lm @ x[i, 2:]
        want[i] = r + np.array([q[0], q[1], 8.0, 4.0]) * halves
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


DESIGNATED_SRC = r"""
#include <metal_stdlib>
using namespace metal;

struct Inner {
  float x;
  float y;
};

struct Params {
  float scale;
  Inner offset;
  int count;
  float4 bias;
  float w[3];
};

template <typename T>
struct Pair {
  T first;
  T second;
};

struct Four {
  float a, b;
  float c;
  float d;
};

struct Bag {
  Inner items[2];
  int n;
};

typedef Inner InnerAlias;
using PairF = Pair<float>;

// The shape Tint writes in every module: a struct of the module's buffers, built with designators.
struct tint_module_vars_struct {
  const device float* in;
  device float* out;
};

constant Params kParams = {.scale = 2.0f, .offset = {.x = 0.5f, .y = -1.0f}, .count = 3,
                           .bias = float4(1.0f, 2.0f, 3.0f, 4.0f), .w = {7.0f, 8.0f, 9.0f}};
constant Four kGaps = {.b = 3.0f, .d = 5.0f};
constant Inner kTable[2] = {{.x = 10.0f, .y = 20.0f}, {.y = 40.0f}};

Four spread(float v) { return {.a = v, .c = 3.0f * v}; }

kernel void designated(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  tint_module_vars_struct const vars = tint_module_vars_struct{.in = in, .out = out};
  float v = vars.in[i];
  Params p = Params{.scale = v, .offset = Inner{.x = v + 1.0f, .y = v - 1.0f}, .count = int(i),
                    .bias = float4(v), .w = {v, 2.0f * v, 3.0f * v}};
  Params q = {.scale = 3.0f, .count = 7};
  Params r{.offset{.y = v}, .w{1.0f}};
  Inner arr[3] = {{.x = v}, {.y = 2.0f * v}, {.x = 1.0f, .y = 2.0f}};
  Pair<float> pr = Pair<float>{.first = v, .second = -v};
  Four w = {.d = 1.0f, .b = v};  // out of declaration order: clang warns and initialises b, then d
  Four s = spread(v);
  InnerAlias ia = {.y = v};
  PairF pf = {.second = 2.0f};
  Bag b = {.items = {{.x = v}, {.y = v}}, .n = 2};
  float vals[] = {p.scale, p.offset.x, p.offset.y, float(p.count), p.bias.w, p.w[2],
                  q.scale, q.offset.x, q.offset.y, float(q.count), q.bias.x + q.bias.w, q.w[1],
                  r.scale, r.offset.x, r.offset.y, float(r.count), r.w[0], r.w[2],
                  arr[0].x, arr[0].y, arr[1].x, arr[1].y, arr[2].x + arr[2].y,
                  pr.first, pr.second, w.a, w.b, w.c, w.d, s.a, s.b, s.c, s.d,
                  kParams.scale, kParams.offset.x, kParams.offset.y, float(kParams.count), kParams.bias.z,
                  kParams.w[1], kGaps.a, kGaps.b, kGaps.c, kGaps.d,
                  kTable[0].x, kTable[0].y, kTable[1].x, kTable[1].y,
                  ia.x, ia.y, pf.first, pf.second, b.items[0].x, b.items[1].y, b.items[1].x, float(b.n)};
  for (uint k = 0; k < 55; ++k) vars.out[i * 55 + k] = vals[k];
}
"""


def designated_reference(v):
    rows = []
    for i, x in enumerate(v.astype(np.float64)):
        rows.append(
            [x, x + 1, x - 1, i, x, 3 * x]  # p: complete, nested with a named type
            + [3, 0, 0, 7, 0, 0]  # q: gaps are value-initialised
            + [0, 0, x, 0, 1, 0]  # r: `.m{...}`, nested gaps
            + [x, 0, 0, 2 * x, 3]  # an array of structs
            + [x, -x]  # a class template
            + [0, x, 0, 1]  # out of order: declaration order
            + [x, 0, 3 * x, 0]  # `return {...}`
            + [2, 0.5, -1, 3, 3, 8, 0, 3, 0, 5, 10, 20, 0, 40]  # program-scope `constant`
            + [0, x, 0, 2]  # through a typedef and a `using` alias
            + [x, x, 0, 2]  # an array member of structs
        )
    return np.array(rows)


def test_designated_initializers(device, runner):
    rng = np.random.default_rng(21)
    n = 16
    v = rng.standard_normal(n).astype(np.float32)
    out = runner.run(device, DESIGNATED_SRC, "designated", [v, np.zeros(n * 55, np.float32)], (n, 1, 1), (n, 1, 1))[1]
    np.testing.assert_allclose(out.reshape(n, 55), designated_reference(v), rtol=1e-6, atol=1e-6)


DESIGNATED_HEAD = """#include <metal_stdlib>
using namespace metal;
struct Inner { float x; float y; };
struct Outer { Inner in; float z; };
struct WithDefault { float a = 1.0f; float b; };
struct Built { float v; Built(float f) : v(f) {} };
union Bits { float f; uint u; };
float sum(Inner s) { return s.x + s.y; }
"""

TEMPLATE_MAKE = """template <typename T> T make(float v) {
  return T{.x = v};  // error here
}
"""

DESIGNATED_ERRORS = [
    (
        "unknown_member",
        "Inner a = {.x = 1.0f, .z = 2.0f};",
        r"field designator 'z' does not refer to any member of 'Inner'",
    ),
    ("twice", "Inner a = {.x = 1.0f, .x = 2.0f};", r"member 'x' of 'Inner' is designated twice"),
    ("mixed", "Inner a = {.x = 1.0f, 2.0f};", r"mixes designated and positional clauses"),
    ("nested_designator", "Outer a = {.in.x = 1.0f};", r"nested designators \('\.in\.x'"),
    ("array_designator", "float a[2] = {[1] = 1.0f};", r"array designators"),
    (
        "argument",
        "out[0] = sum({.x = 1.0f});",
        r"cannot tell which struct it initialises \(the list is a function argument",
    ),
    (
        "assignment",
        "Inner a; a = {.y = 2.0f}; out[0] = a.y;",
        r"cannot tell which struct it initialises \(the list is assigned",
    ),
    ("default_member", "WithDefault a = {.b = 2.0f};", r"skips member 'a', which has a default member initializer"),
    (
        "constructor",
        "Built a = {.v = 1.0f};",
        r"'Built', which is not an aggregate: it has a user-provided constructor",
    ),
    ("union", "Bits a = {.u = 1u};", r"union 'Bits' by its member 'u', which is not its first"),
    ("scalar", "float4 a = {.x = 1.0f};", r"can only initialise a struct"),
    (
        "template",
        TEMPLATE_MAKE + "kernel void k(device float* out [[buffer(0)]]) {\n  out[0] = make<Inner>(1.0f).x;",
        r"cannot tell which struct it initialises \(its type 'T' is a template parameter",
    ),
]


@pytest.mark.parametrize("body,message", [c[1:] for c in DESIGNATED_ERRORS], ids=[c[0] for c in DESIGNATED_ERRORS])
def test_designated_initializers_refused_at_their_line(device, body, message):
    if "kernel void" not in body:
        body = "kernel void k(device float* out [[buffer(0)]]) {\n  " + body
    src = DESIGNATED_HEAD + body + "\n}\n"
    lines = src.splitlines()
    line = next((n for n, text in enumerate(lines, 1) if "error here" in text), len(lines) - 1)
    with pytest.raises(pm.CompileError, match=rf"program\.metal:{line}:\d+: error: .*{message}"):
        pm.Library(device, src)


@pytest.mark.parametrize(
    "src",
    [STORAGE_SRC, VOLATILE_SRC, COHERENT_SRC, SIGN_SRC, CUBE_ATOMIC_SRC, DEDUCE_SRC, CONSTANTS_SRC, DESIGNATED_SRC],
    ids=["storage", "volatile", "coherent", "sign", "cube_atomics", "deduce", "constants", "designated"],
)
def test_kinds_compile_for_cuda(cuda_compile, src):
    cuda_compile(src)
