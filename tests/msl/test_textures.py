"""Textures and samplers in compute kernels (MSL.md §5.10): read/write/read_write of 1-D, 2-D,
3-D and 2-D array textures in float, integer and normalized formats, sample() with each
filter, coordinate space and address mode against a NumPy reference, constexpr samplers
and [[sampler(n)]] arguments, and the original image-processing library's mix of a buffer
pipeline and a texture Gaussian blur."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

constexpr sampler linear_repeat(coord::normalized, address::repeat, filter::linear);

kernel void scale_float(texture2d<float, access::read> src [[texture(0)]],
                        texture2d<float, access::write> dst [[texture(1)]],
                        uint2 gid [[thread_position_in_grid]]) {
    if (gid.x >= src.get_width() || gid.y >= src.get_height()) return;
    dst.write(src.read(gid) * 2.0f + 1.0f, gid);
}

kernel void scale_uint(texture2d<uint, access::read> src [[texture(0)]],
                       texture2d<uint, access::write> dst [[texture(1)]],
                       uint2 gid [[thread_position_in_grid]]) {
    dst.write(src.read(gid) * 3u + 1u, gid);
}

kernel void invert_rgba8(texture2d<float, access::read_write> img [[texture(0)]],
                         uint2 gid [[thread_position_in_grid]]) {
    float4 c = img.read(gid);
    img.write(float4(1.0f - c.rgb, c.a), gid);
}

kernel void read_half(texture2d<half, access::read> src [[texture(0)]],
                      device float4* out [[buffer(0)]],
                      uint2 gid [[thread_position_in_grid]]) {
    out[gid.y * src.get_width() + gid.x] = float4(src.read(gid));
}

kernel void sizes(texture2d<float> t [[texture(0)]], texture3d<float> v [[texture(1)]],
                  texture2d_array<int> a [[texture(2)]], texture1d<float> l [[texture(3)]],
                  device uint* out [[buffer(0)]]) {
    out[0] = t.get_width(); out[1] = t.get_height();
    out[2] = v.get_width(); out[3] = v.get_height(); out[4] = v.get_depth();
    out[5] = a.get_width(); out[6] = a.get_height(); out[7] = a.get_array_size();
    out[8] = l.get_width(); out[9] = t.get_num_mip_levels();
}

kernel void read_1d(texture1d<float, access::read> t [[texture(0)]],
                    device float4* out [[buffer(0)]], uint gid [[thread_position_in_grid]]) {
    out[gid] = t.read(gid);
}

kernel void read_3d(texture3d<float, access::read> t [[texture(0)]],
                    device float* out [[buffer(0)]], uint3 gid [[thread_position_in_grid]]) {
    out[(gid.z * t.get_height() + gid.y) * t.get_width() + gid.x] = t.read(gid).x;
}

kernel void read_array(texture2d_array<int, access::read> t [[texture(0)]],
                       device int* out [[buffer(0)]], uint3 gid [[thread_position_in_grid]]) {
    out[(gid.z * t.get_height() + gid.y) * t.get_width() + gid.x] = t.read(gid.xy, gid.z).x;
}

kernel void write_array(texture2d_array<float, access::write> t [[texture(0)]],
                        uint3 gid [[thread_position_in_grid]]) {
    t.write(float4(float(gid.x), float(gid.y), float(gid.z), 1.0f), gid.xy, gid.z);
}

kernel void sample_arg(texture2d<float> t [[texture(0)]], sampler s [[sampler(0)]],
                       device const float2* coords [[buffer(0)]], device float4* out [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
    out[i] = t.sample(s, coords[i]);
}

kernel void sample_const(texture2d<float> t [[texture(0)]],
                         device const float2* coords [[buffer(0)]], device float4* out [[buffer(1)]],
                         uint i [[thread_position_in_grid]]) {
    constexpr sampler nearest_pixel(filter::nearest, coord::pixel, address::clamp_to_edge);
    out[2 * i] = t.sample(linear_repeat, coords[i]);
    out[2 * i + 1] = t.sample(nearest_pixel, coords[i] * float2(t.get_width(), t.get_height()), level(0.0f));
}

kernel void sample_3d(texture3d<float> t [[texture(0)]], sampler s [[sampler(3)]],
                      device const float3* coords [[buffer(0)]], device float4* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    out[i] = t.sample(s, coords[i]);
}

kernel void sample_1d(texture1d<float> t [[texture(0)]], sampler s [[sampler(0)]],
                      device const float* coords [[buffer(0)]], device float4* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    out[i] = t.sample(s, coords[i]);
}
"""

ADDRESS = ["clamp_to_edge", "repeat", "mirror_repeat", "clamp_to_zero"]


def run(device, name, textures=(), buffers=(), samplers=(), grid=(1, 1, 1), tg=(8, 8, 1), src=SRC):
    lib = pm.Library(device, src)
    pso = pm.ComputePipelineState(device, lib.make_function(name))
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pso)
    for i, t in textures:
        enc.set_texture(t, i)
    for i, s in samplers:
        enc.set_sampler_state(s, i)
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


# ---------------------------------------------------------------- NumPy reference of sample()


def wrap(i, n, mode):
    """Integer texel indices wrapped by an address mode; second result: inside (else zero)."""
    i = np.asarray(i, dtype=np.int64)
    if mode == "repeat":
        return np.mod(i, n), np.ones(i.shape, bool)
    if mode == "mirror_repeat":
        t = np.mod(i, 2 * n)
        return np.where(t >= n, 2 * n - 1 - t, t), np.ones(i.shape, bool)
    if mode == "clamp_to_zero":
        inside = (i >= 0) & (i < n)
        return np.clip(i, 0, n - 1), inside
    return np.clip(i, 0, n - 1), np.ones(i.shape, bool)


def ref_sample(img, coords, normalized, linear, mode):
    """img: (D?, H?, W, 4) float; coords: (N, dims) in x, y, z order. Metal's sample() at lod 0."""
    dims = coords.shape[1]
    sizes = img.shape[:-1][::-1]  # W, H, D
    x = coords * (np.array(sizes, np.float64) if normalized else 1.0)
    if linear:
        x = x - 0.5
    i0 = np.floor(x).astype(np.int64)
    frac = x - np.floor(x)
    alpha = 0.0 if img.shape[-1] == 4 else 1.0
    out = np.zeros((coords.shape[0], 4))
    corners = range(1 << dims) if linear else [0]
    for corner in corners:
        w = np.ones(coords.shape[0])
        inside = np.ones(coords.shape[0], bool)
        idx = []
        for k in range(dims):
            hi = (corner >> k) & 1
            if linear:
                w = w * (frac[:, k] if hi else 1.0 - frac[:, k])
            j, ok = wrap(i0[:, k] + hi, sizes[k], mode)
            idx.append(j)
            inside &= ok
        texel = img[tuple(idx[::-1])]
        texel = np.where(inside[:, None], texel, np.array([0, 0, 0, alpha]))
        out += w[:, None] * texel
    return out


# ---------------------------------------------------------------- read / write


def test_read_write_float(device):
    img = np.random.default_rng(1).random((19, 27), dtype=np.float32)
    src = pm.Texture.from_numpy(device, img)
    dst = device.make_texture(pm.TextureDescriptor(pm.TextureType.TYPE_2D, pm.PixelFormat.R32Float, 27, 19))
    run(device, "scale_float", textures=[(0, src), (1, dst)], grid=(27, 19, 1))
    np.testing.assert_allclose(dst.to_numpy(), img * 2 + 1, rtol=1e-6)


def test_read_write_rgba_float(device):
    img = np.random.default_rng(2).random((9, 11, 4), dtype=np.float32)
    src = pm.Texture.from_numpy(device, img)
    assert src.pixel_format == pm.PixelFormat.RGBA32Float
    dst = pm.Texture.from_numpy(device, np.zeros_like(img))
    run(device, "scale_float", textures=[(0, src), (1, dst)], grid=(11, 9, 1))
    np.testing.assert_allclose(dst.to_numpy(), img * 2 + 1, rtol=1e-6)


def test_read_write_uint(device):
    img = np.random.default_rng(3).integers(0, 1000, (13, 7), dtype=np.uint32)
    src = pm.Texture.from_numpy(device, img)
    dst = pm.Texture.from_numpy(device, np.zeros_like(img))
    run(device, "scale_uint", textures=[(0, src), (1, dst)], grid=(7, 13, 1))
    np.testing.assert_array_equal(dst.to_numpy(), img * 3 + 1)


def test_read_write_rgba8unorm(device):
    img = np.random.default_rng(4).integers(0, 256, (10, 12, 4), dtype=np.uint8)
    tex = pm.Texture.from_numpy(device, img)
    assert tex.pixel_format == pm.PixelFormat.RGBA8Unorm
    run(device, "invert_rgba8", textures=[(0, tex)], grid=(12, 10, 1))
    want = img.copy()
    want[..., :3] = 255 - img[..., :3]
    np.testing.assert_array_equal(tex.to_numpy(), want)
    np.testing.assert_allclose(tex.to_numpy(np.float32), want / 255.0, rtol=1e-6)


def test_read_half(device):
    img = np.random.default_rng(5).random((5, 6, 4)).astype(np.float16)
    tex = pm.Texture.from_numpy(device, img)
    assert tex.pixel_format == pm.PixelFormat.RGBA16Float
    (out,) = run(device, "read_half", textures=[(0, tex)], buffers=[(0, np.zeros((30, 4), np.float32))], grid=(6, 5, 1))
    np.testing.assert_array_equal(out.reshape(5, 6, 4), img.astype(np.float32))


def test_missing_channels_read_as_0001(device):
    img = np.random.default_rng(6).random((4, 4, 2), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, img[0], texture_type=pm.TextureType.TYPE_1D)
    assert tex.pixel_format == pm.PixelFormat.RG32Float
    (out,) = run(
        device,
        "read_1d",
        textures=[(0, tex)],
        buffers=[(0, np.zeros((4, 4), np.float32))],
        grid=(4, 1, 1),
        tg=(4, 1, 1),
    )
    np.testing.assert_array_equal(out[:, :2], img[0])
    np.testing.assert_array_equal(out[:, 2:], np.tile([0.0, 1.0], (4, 1)))


def test_sizes(device):
    t = pm.Texture.from_numpy(device, np.zeros((5, 9), np.float32))
    v = pm.Texture.from_numpy(device, np.zeros((3, 4, 6), np.float32), texture_type=pm.TextureType.TYPE_3D)
    a = pm.Texture.from_numpy(device, np.zeros((7, 2, 8), np.int32), texture_type=pm.TextureType.TYPE_2D_ARRAY)
    l = pm.Texture.from_numpy(device, np.zeros(11, np.float32))
    (out,) = run(
        device, "sizes", textures=[(0, t), (1, v), (2, a), (3, l)], buffers=[(0, np.zeros(10, np.uint32))], tg=(1, 1, 1)
    )
    assert out.tolist() == [9, 5, 6, 4, 3, 8, 2, 7, 11, 1]


def test_read_1d(device):
    data = np.random.default_rng(7).random((33, 4), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, data)
    assert tex.texture_type == pm.TextureType.TYPE_2D  # (H, W) without a type: 2-D
    tex = pm.Texture.from_numpy(device, data, texture_type=pm.TextureType.TYPE_1D)
    (out,) = run(
        device,
        "read_1d",
        textures=[(0, tex)],
        buffers=[(0, np.zeros((33, 4), np.float32))],
        grid=(33, 1, 1),
        tg=(16, 1, 1),
    )
    np.testing.assert_array_equal(out, data)


def test_read_3d(device):
    vol = np.random.default_rng(8).random((5, 6, 7), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, vol, texture_type=pm.TextureType.TYPE_3D)
    (out,) = run(
        device,
        "read_3d",
        textures=[(0, tex)],
        buffers=[(0, np.zeros(vol.size, np.float32))],
        grid=(7, 6, 5),
        tg=(4, 4, 2),
    )
    np.testing.assert_array_equal(out.reshape(vol.shape), vol)


def test_read_2d_array(device):
    layers = np.random.default_rng(9).integers(-500, 500, (3, 4, 5), dtype=np.int32)
    tex = pm.Texture.from_numpy(device, layers, texture_type=pm.TextureType.TYPE_2D_ARRAY)
    assert tex.pixel_format == pm.PixelFormat.R32Sint and tex.array_length == 3
    (out,) = run(
        device,
        "read_array",
        textures=[(0, tex)],
        buffers=[(0, np.zeros(layers.size, np.int32))],
        grid=(5, 4, 3),
        tg=(4, 4, 1),
    )
    np.testing.assert_array_equal(out.reshape(layers.shape), layers)


def test_write_2d_array(device):
    desc = pm.TextureDescriptor(pm.TextureType.TYPE_2D_ARRAY, pm.PixelFormat.RGBA32Float, 4, 3, array_length=2)
    tex = device.make_texture(desc)
    run(device, "write_array", textures=[(0, tex)], grid=(4, 3, 2), tg=(4, 3, 1))
    z, y, x = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij")
    want = np.stack([x, y, z, np.ones_like(x)], -1).astype(np.float32)
    np.testing.assert_array_equal(tex.to_numpy(), want)


# ---------------------------------------------------------------- sample


@pytest.mark.parametrize("mode", ADDRESS)
@pytest.mark.parametrize("linear", [False, True], ids=["nearest", "linear"])
@pytest.mark.parametrize("normalized", [True, False], ids=["normalized", "pixel"])
def test_sample_2d(device, mode, linear, normalized):
    rng = np.random.default_rng(10)
    img = rng.random((6, 5, 4), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, img)
    pts = rng.uniform(-1.3, 2.3, (64, 2)).astype(np.float32)
    pts[:4] = [[0.5, 0.5], [0.0, 0.0], [1.0, 1.0], [0.1, 0.9]]
    if not normalized:
        pts = pts * np.array([5, 6], np.float32)
    filt = "linear" if linear else "nearest"
    s = pm.SamplerState(device, min_filter=filt, mag_filter=filt, address_mode=mode, normalized_coordinates=normalized)
    (_, out) = run(
        device,
        "sample_arg",
        textures=[(0, tex)],
        samplers=[(0, s)],
        buffers=[(0, pts), (1, np.zeros((64, 4), np.float32))],
        grid=(64, 1, 1),
        tg=(32, 1, 1),
    )
    want = ref_sample(img.astype(np.float64), pts.astype(np.float64), normalized, linear, mode)
    np.testing.assert_allclose(out, want, atol=2e-5)


def test_sample_single_channel_clamp_to_zero_is_opaque(device):
    img = np.random.default_rng(11).random((4, 4), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, img)
    s = pm.SamplerState(device, address_mode="clamp_to_zero")
    pts = np.array([[-0.5, 0.5], [0.5, 0.5]], np.float32)
    (_, out) = run(
        device,
        "sample_arg",
        textures=[(0, tex)],
        samplers=[(0, s)],
        buffers=[(0, pts), (1, np.zeros((2, 4), np.float32))],
        grid=(2, 1, 1),
        tg=(2, 1, 1),
    )
    np.testing.assert_array_equal(out[0], [0, 0, 0, 1])
    np.testing.assert_array_equal(out[1], [img[2, 2], 0, 0, 1])


def test_constexpr_samplers(device):
    rng = np.random.default_rng(12)
    img = rng.random((8, 10, 4), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, img)
    pts = rng.uniform(-0.5, 1.5, (40, 2)).astype(np.float32)
    (_, out) = run(
        device,
        "sample_const",
        textures=[(0, tex)],
        buffers=[(0, pts), (1, np.zeros((80, 4), np.float32))],
        grid=(40, 1, 1),
        tg=(8, 1, 1),
    )
    lin = ref_sample(img.astype(np.float64), pts.astype(np.float64), True, True, "repeat")
    near = ref_sample(img.astype(np.float64), pts.astype(np.float64) * [10, 8], False, False, "clamp_to_edge")
    np.testing.assert_allclose(out[0::2], lin, atol=2e-5)
    np.testing.assert_allclose(out[1::2], near, atol=1e-6)


@pytest.mark.parametrize("mode", ["clamp_to_edge", "repeat"])
def test_sample_3d_linear(device, mode):
    rng = np.random.default_rng(13)
    vol = rng.random((3, 4, 5, 4), dtype=np.float32)
    tex = pm.Texture.from_numpy(device, vol, texture_type=pm.TextureType.TYPE_3D)
    pts = rng.uniform(-0.2, 1.2, (32, 3)).astype(np.float32)
    s = pm.SamplerState(device, min_filter="linear", mag_filter="linear", address_mode=mode)
    (_, out) = run(
        device,
        "sample_3d",
        textures=[(0, tex)],
        samplers=[(3, s)],
        buffers=[(0, np.pad(pts, ((0, 0), (0, 1)))), (1, np.zeros((32, 4), np.float32))],
        grid=(32, 1, 1),
        tg=(32, 1, 1),
    )  # float3 is 16 bytes in MSL
    np.testing.assert_allclose(
        out, ref_sample(vol.astype(np.float64), pts.astype(np.float64), True, True, mode), atol=2e-5
    )


def test_sample_1d_rgba8unorm(device):
    rng = np.random.default_rng(14)
    data = rng.integers(0, 256, (9, 4), dtype=np.uint8)
    tex = pm.Texture.from_numpy(device, data, texture_type=pm.TextureType.TYPE_1D)
    pts = rng.uniform(-0.3, 1.3, 16).astype(np.float32)
    s = pm.SamplerState(device, mag_filter="linear", address_mode="mirror_repeat")
    (_, out) = run(
        device,
        "sample_1d",
        textures=[(0, tex)],
        samplers=[(0, s)],
        buffers=[(0, pts), (1, np.zeros((16, 4), np.float32))],
        grid=(16, 1, 1),
        tg=(16, 1, 1),
    )
    want = ref_sample(data / 255.0, pts[:, None].astype(np.float64), True, True, "mirror_repeat")
    np.testing.assert_allclose(out, want, atol=2e-5)


# ---------------------------------------------------------------- errors


def test_unbound_texture_names_the_argument(device):
    src = pm.Texture.from_numpy(device, np.zeros((2, 2), np.float32))
    with pytest.raises(pm.MetalError, match="'dst'.*texture\\(1\\)"):
        run(device, "scale_float", textures=[(0, src)], grid=(2, 2, 1))


def test_unbound_sampler_names_the_argument(device):
    tex = pm.Texture.from_numpy(device, np.zeros((2, 2), np.float32))
    with pytest.raises(pm.MetalError, match="'s'.*sampler\\(0\\)"):
        run(
            device,
            "sample_arg",
            textures=[(0, tex)],
            buffers=[(0, np.zeros((1, 2), np.float32)), (1, np.zeros((1, 4), np.float32))],
        )


def test_format_mismatch(device):
    u = pm.Texture.from_numpy(device, np.zeros((2, 2), np.uint32))
    with pytest.raises(pm.MetalError, match="pixel format"):
        run(device, "scale_float", textures=[(0, u), (1, u)], grid=(2, 2, 1))


def test_texture_type_mismatch(device):
    t = pm.Texture.from_numpy(device, np.zeros((2, 2), np.float32))
    with pytest.raises(pm.MetalError, match="texture3d"):
        run(device, "read_3d", textures=[(0, t)], buffers=[(0, np.zeros(4, np.float32))])


def test_bad_indices_and_formats(device):
    enc = device.make_command_queue().make_command_buffer().make_compute_command_encoder()
    t = pm.Texture.from_numpy(device, np.zeros((2, 2), np.float32))
    with pytest.raises((pm.MetalError, ValueError)):
        enc.set_texture(t, 128)
    with pytest.raises((pm.MetalError, ValueError)):
        enc.set_sampler_state(pm.SamplerState(device), 16)
    with pytest.raises(pm.MetalError):
        pm.SamplerState(device, address_mode="wrap")
    with pytest.raises(pm.MetalError):
        device.make_texture(pm.TextureDescriptor(pixel_format=9999, width=2, height=2))


def test_replace_region_and_roundtrip(device):
    tex = device.make_texture(pm.TextureDescriptor(pm.TextureType.TYPE_2D, pm.PixelFormat.R32Float, 6, 4))
    patch = np.arange(6, dtype=np.float32).reshape(2, 3)
    tex.replace_region(((2, 1, 0), (3, 2, 1)), patch)
    want = np.zeros((4, 6), np.float32)
    want[1:3, 2:5] = patch
    np.testing.assert_array_equal(tex.to_numpy(), want)


# ---------------------------------------------------------------- the original image library

IMAGE_SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Buffer pipeline: brightness and contrast on RGBA floats.
kernel void adjust_brightness_contrast(device const float4* input [[buffer(0)]],
                                       device float4* output [[buffer(1)]],
                                       constant float& brightness [[buffer(2)]],
                                       constant float& contrast [[buffer(3)]],
                                       uint index [[thread_position_in_grid]]) {
    float4 c = input[index];
    float3 rgb = (c.rgb - 0.5) * contrast + 0.5 + brightness;
    output[index] = float4(clamp(rgb, 0.0, 1.0), c.a);
}

// 5x5 Gaussian blur through textures (sigma given), edges clamped by the sampler.
kernel void gaussian_blur(texture2d<float, access::sample> inTexture [[texture(0)]],
                          texture2d<float, access::write> outTexture [[texture(1)]],
                          constant float& sigma [[buffer(0)]],
                          uint2 gid [[thread_position_in_grid]]) {
    constexpr sampler s(coord::pixel, address::clamp_to_edge, filter::nearest);
    if (gid.x >= outTexture.get_width() || gid.y >= outTexture.get_height()) return;
    float4 sum = float4(0.0);
    float total = 0.0;
    for (int dy = -2; dy <= 2; ++dy) {
        for (int dx = -2; dx <= 2; ++dx) {
            float w = exp(-float(dx * dx + dy * dy) / (2.0 * sigma * sigma));
            sum += w * inTexture.sample(s, float2(gid) + float2(dx, dy) + 0.5);
            total += w;
        }
    }
    outTexture.write(sum / total, gid);
}
"""


def test_image_processing_library(device):
    rng = np.random.default_rng(15)
    h, w = 21, 34
    img = rng.random((h, w, 4), dtype=np.float32)
    (_, adjusted, _, _) = run(
        device,
        "adjust_brightness_contrast",
        src=IMAGE_SRC,
        tg=(32, 1, 1),
        grid=(h * w, 1, 1),
        buffers=[
            (0, img.reshape(-1, 4)),
            (1, np.zeros((h * w, 4), np.float32)),
            (2, np.array(0.1, np.float32)),
            (3, np.array(1.5, np.float32)),
        ],
    )
    want = img.copy()
    want[..., :3] = np.clip((img[..., :3] - 0.5) * 1.5 + 0.5 + 0.1, 0, 1)
    np.testing.assert_allclose(adjusted.reshape(h, w, 4), want, atol=1e-6)

    src = pm.Texture.from_numpy(device, adjusted.reshape(h, w, 4))
    dst = pm.Texture.from_numpy(device, np.zeros((h, w, 4), np.float32))
    run(
        device,
        "gaussian_blur",
        src=IMAGE_SRC,
        textures=[(0, src), (1, dst)],
        grid=(w, h, 1),
        tg=(16, 16, 1),
        buffers=[(0, np.array(1.2, np.float32))],
    )
    pad = np.pad(want, ((2, 2), (2, 2), (0, 0)), mode="edge")
    ref = np.zeros_like(want, dtype=np.float64)
    total = 0.0
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            wt = np.exp(-(dx * dx + dy * dy) / (2 * 1.2 * 1.2))
            ref += wt * pad[2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]
            total += wt
    np.testing.assert_allclose(dst.to_numpy(), ref / total, atol=1e-5)


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_image_library_compiles_for_cuda(cuda_compile):
    cuda_compile(IMAGE_SRC)
