"""MSL 3.x library surface: `h` / `bf` literal suffixes, vec_elements<T>, metal::nullptr_t,
numeric_limits of vector types, metal::initializer_list, scoped atomics (a thread_scope after
the memory order) and fences, `coherent(device)` and memory_coherence,
simdgroup_matrix<...>::storage_type; texture atomics (MSL 3.1) on 1-D, 2-D, 3-D and array
textures, and the texture kinds texturecube, texturecube_array and texture_buffer."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

static_assert(vec_elements<float3>::value == 3 && vec_elements<half2>::value == 2, "vec_elements");
static_assert(vec_elements_v<uint4> == 4 && vec_elements<float>::value == 1, "vec_elements of a scalar");
static_assert(is_same<metal::nullptr_t, decltype(nullptr)>::value, "nullptr_t");
static_assert(is_same<simdgroup_matrix<float, 8, 8>::storage_type, float2>::value, "storage_type");

float sum_all(metal::initializer_list<float> xs) { float s = 0; for (float x : xs) s += x; return s; }

kernel void surface(volatile coherent(device) device atomic_uint* counter [[buffer(0)]],
                    device float4* out [[buffer(1)]], device uint* got [[buffer(2)]],
                    uint i [[thread_position_in_grid]]) {
  uint before = atomic_fetch_add_explicit(counter, 1u, memory_order_relaxed, thread_scope_device);
  atomic_fetch_max_explicit(counter + 1, i, memory_order_relaxed, thread_scope_device);
  atomic_thread_fence(mem_flags::mem_device, memory_order_seq_cst, thread_scope_device);
  got[i] = before;
  memory_coherence mc = memory_coherence_device;
  float4 big = numeric_limits<float4>::max();
  half2 eps = numeric_limits<half2>::epsilon();
  const device float4* none = nullptr;
  out[i * 2] = float4(big.x == FLT_MAX ? 1.0f : 0.0f, float(eps.y), 1.5bf + 0.25h, sum_all({1.0f, 2.0f, float(i)}));
  out[i * 2 + 1] = float4(float(mc), none == nullptr ? 2.0f : 0.0f, float(vec_elements<float3>::value), 0.0f);
}

kernel void tex_atomics(texture1d<uint, access::read_write> t1 [[texture(0)]],
                        texture2d<int, access::read_write> t2 [[texture(1)]],
                        texture3d<uint, access::read_write> t3 [[texture(2)]],
                        texture2d_array<uint, access::read_write> ta [[texture(3)]],
                        texture1d_array<uint, access::read_write> t1a [[texture(4)]],
                        device uint* old [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  old[i] = t1.atomic_fetch_add(i % 4, 1u).x;                 // 4 texels, many adds
  t2.atomic_fetch_min(uint2(i % 3, 0), int4(-int(i)));
  t2.atomic_fetch_max(uint2(i % 3, 1), int4(int(i)));
  t3.atomic_fetch_or(uint3(0, 0, i % 2), uint4(1u << (i % 32)));
  t3.atomic_fetch_xor(uint3(1, 0, 0), uint4(i));
  t3.atomic_fetch_and(uint3(0, 1, 0), uint4(~(1u << (i % 32))));
  ta.atomic_fetch_add(uint2(0, 0), i % 2, uint4(i));
  if (i == 0) {
    ta.atomic_store(uint2(1, 0), 1, uint4(77u));
    uint4 e = uint4(5u);
    bool ok1 = t1a.atomic_compare_exchange_weak(0, 1, &e, uint4(9u));   // texel holds 5: swaps
    uint4 f = uint4(5u);
    bool ok2 = t1a.atomic_compare_exchange_weak(1, 1, &f, uint4(9u));   // holds 6: fails, f = 6
    uint x = t1a.atomic_exchange(2, 0, uint4(3u)).x;
    old[64] = (ok1 ? 1u : 0u) | (ok2 ? 2u : 0u);
    old[65] = f.x;
    old[66] = x;
    old[67] = t1a.atomic_load(0, 1).x;
  }
}

kernel void cubes(texturecube<float, access::read> cube [[texture(0)]],
                  texturecube_array<float, access::read_write> cubes [[texture(1)]],
                  texture_buffer<float, access::read> tb [[texture(2)]],
                  texture_buffer<uint, access::read_write> tbu [[texture(3)]],
                  device float4* out [[buffer(0)]], device const float3* dirs [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  constexpr sampler s(filter::nearest);
  out[i * 4] = cube.sample(s, dirs[i]);
  out[i * 4 + 1] = cube.read(uint2(i % 4, (i / 4) % 4), i % 6);
  cubes.write(float4(float(i)), uint2(i % 4, 0), i % 6, 1);
  out[i * 4 + 2] = float4(float(cube.get_width()), float(cubes.get_array_size()), float(tb.get_width()),
                          cubes.sample(s, dirs[i], 0).x);
  out[i * 4 + 3] = tb.read(i);
  tbu.atomic_fetch_add(i % 8, 2u);
}
"""


def _run(device, name, textures=(), buffers=(), grid=(1, 1, 1), tg=(8, 1, 1)):
    lib = pm.Library(device, SRC)
    pso = pm.ComputePipelineState(device, lib.make_function(name))
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pso)
    for i, t in textures:
        enc.set_texture(t, i)
    bufs = []
    for i, a in buffers:
        b = pm.Buffer.from_numpy(device, a)
        enc.set_buffer(b, 0, i)
        bufs.append((b, a))
    enc.dispatch_threads(grid, tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.error is None, cb.error
    return [b.to_numpy(a.dtype, a.shape).copy() for b, a in bufs]


def test_library_surface(device):
    n = 40
    counter = np.zeros(2, np.uint32)
    out = np.zeros((n * 2, 4), np.float32)
    got = np.zeros(n, np.uint32)
    counter, out, got = _run(device, "surface", buffers=[(0, counter), (1, out), (2, got)], grid=(n, 1, 1))
    assert counter[0] == n and counter[1] == n - 1
    np.testing.assert_array_equal(np.sort(got), np.arange(n))  # each thread saw a distinct count
    out = out.reshape(n, 2, 4)
    i = np.arange(n)
    np.testing.assert_array_equal(out[:, 0, 0], 1.0)
    np.testing.assert_array_equal(out[:, 0, 1], 2.0**-10)
    np.testing.assert_array_equal(out[:, 0, 2], 1.75)
    np.testing.assert_array_equal(out[:, 0, 3], 3.0 + i)
    np.testing.assert_array_equal(out[:, 1], np.tile([1.0, 2.0, 3.0, 0.0], (n, 1)))


def _tex(device, ttype, fmt, w, h=1, depth=1, layers=1, data=None):
    t = device.make_texture(pm.TextureDescriptor(ttype, fmt, w, h, depth=depth, array_length=layers))
    if data is not None:
        t.replace_region(None, data)
    return t


def test_texture_atomics(device):
    T, F = pm.TextureType, pm.PixelFormat
    n = 64
    t1 = _tex(device, T.TYPE_1D, F.R32Uint, 4, data=np.full(4, 10, np.uint32))
    t2 = _tex(device, T.TYPE_2D, F.R32Sint, 3, 2, data=np.zeros((2, 3), np.int32))
    t3 = _tex(device, T.TYPE_3D, F.R32Uint, 2, 2, depth=2, data=np.zeros((2, 2, 2), np.uint32))
    t3.replace_region(((0, 1, 0), (1, 1, 1)), np.full((1, 1, 1), 0xFFFFFFFF, np.uint32))
    ta = _tex(device, T.TYPE_2D_ARRAY, F.R32Uint, 2, 1, layers=2, data=np.zeros((2, 1, 2), np.uint32))
    t1a = _tex(device, T.TYPE_1D_ARRAY, F.R32Uint, 3, layers=2, data=np.array([[1, 6, 8], [5, 6, 0]], np.uint32))
    old = np.zeros(68, np.uint32)
    (old,) = _run(
        device,
        "tex_atomics",
        textures=[(0, t1), (1, t2), (2, t3), (3, ta), (4, t1a)],
        buffers=[(0, old)],
        grid=(n, 1, 1),
    )
    i = np.arange(n)
    np.testing.assert_array_equal(t1.to_numpy(), [10 + 16] * 4)
    # every old value of a texel was seen once: 10..25 for each of the 4 texels
    np.testing.assert_array_equal(np.sort(old[:n]), np.sort(np.repeat(np.arange(10, 26), 4)))
    t2v = t2.to_numpy()
    np.testing.assert_array_equal(t2v[0], [min(0, -i[i % 3 == k].max()) for k in range(3)])
    np.testing.assert_array_equal(t2v[1], [i[i % 3 == k].max() for k in range(3)])
    t3v = t3.to_numpy()
    ors = [np.bitwise_or.reduce((1 << (i[i % 2 == z] % 32)).astype(np.uint64)) for z in range(2)]
    np.testing.assert_array_equal(t3v[:, 0, 0], ors)
    assert t3v[0, 0, 1] == np.bitwise_xor.reduce(i.astype(np.uint32))
    assert t3v[0, 1, 0] == 0  # every bit cleared by some thread
    tav = ta.to_numpy()
    assert tav[0, 0, 0] == i[i % 2 == 0].sum() and tav[1, 0, 0] == i[i % 2 == 1].sum()
    assert tav[1, 0, 1] == 77
    assert old[64] == 1 and old[65] == 6 and old[66] == 8 and old[67] == 9
    np.testing.assert_array_equal(t1a.to_numpy(), [[1, 6, 3], [9, 6, 0]])


def _cube_dir_ref(d):
    """(face, s, t) of Metal's cube addressing for direction d."""
    x, y, z = d
    ax, ay, az = abs(x), abs(y), abs(z)
    if ax >= ay and ax >= az:
        face, ma, sc, tc = (0 if x >= 0 else 1), ax, (-z if x >= 0 else z), -y
    elif ay >= az:
        face, ma, sc, tc = (2 if y >= 0 else 3), ay, x, (z if y >= 0 else -z)
    else:
        face, ma, sc, tc = (4 if z >= 0 else 5), az, (x if z >= 0 else -x), -y
    return face, 0.5 * (sc / ma + 1), 0.5 * (tc / ma + 1)


def test_cube_and_buffer_textures(device):
    T, F = pm.TextureType, pm.PixelFormat
    n = 48
    rng = np.random.default_rng(7)
    faces = rng.random((6, 4, 4, 4), dtype=np.float32)
    cube = pm.Texture.from_numpy(device, faces, texture_type=T.TYPE_CUBE)
    cubes = pm.Texture.from_numpy(device, np.zeros((12, 4, 4, 4), np.float32), texture_type=T.TYPE_CUBE_ARRAY)
    buf = rng.random((n, 4), dtype=np.float32)
    tb = pm.Texture.from_numpy(device, buf, texture_type=T.TYPE_TEXTURE_BUFFER)
    tbu = _tex(device, T.TYPE_TEXTURE_BUFFER, F.R32Uint, 8, data=np.zeros(8, np.uint32))
    dirs = rng.uniform(-1, 1, (n, 4)).astype(np.float32)  # float3 has float4's layout
    out = np.zeros((n * 4, 4), np.float32)
    out, _ = _run(
        device,
        "cubes",
        textures=[(0, cube), (1, cubes), (2, tb), (3, tbu)],
        buffers=[(0, out), (1, dirs)],
        grid=(n, 1, 1),
    )
    out = out.reshape(n, 4, 4)
    for k in range(n):
        face, s, t = _cube_dir_ref(dirs[k, :3].astype(np.float64))
        x, y = min(int(np.floor(s * 4)), 3), min(int(np.floor(t * 4)), 3)
        np.testing.assert_array_equal(out[k, 0], faces[face, y, x])
        np.testing.assert_array_equal(out[k, 1], faces[k % 6, (k // 4) % 4, k % 4])
    np.testing.assert_array_equal(out[:, 2, :3], np.tile([4, 2, n], (n, 1)))
    np.testing.assert_array_equal(out[:, 3], buf)
    written = cubes.to_numpy()
    for k in range(n):  # several threads write one texel: any of their values
        face, x = k % 6, k % 4
        writers = [j for j in range(n) if j % 6 == face and j % 4 == x]
        assert written[6 + face, 0, x, 0] in writers
    np.testing.assert_array_equal(tbu.to_numpy(), np.full(8, 2 * n // 8))


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_cube_faces_must_be_square(device):
    with pytest.raises(pm.MetalError, match="square"):
        device.make_texture(pm.TextureDescriptor(pm.TextureType.TYPE_CUBE, pm.PixelFormat.R32Float, 4, 2))
