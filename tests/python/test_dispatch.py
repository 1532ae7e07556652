"""Dispatch semantics: 2-D grids, exact grids with smaller edge threadgroups, every built-in."""

import numpy as np
import pytest

import pymetallic
from pm_testing import run_kernel

MANDELBROT = """
#include <metal_stdlib>
using namespace metal;

kernel void mandelbrot(device uint* out [[buffer(0)]],
                       constant uint2& size [[buffer(1)]],
                       constant uint& max_iter [[buffer(2)]],
                       uint2 gid [[thread_position_in_grid]]) {
    float cx = -2.0 + 3.0 * (float(gid.x) + 0.5) / float(size.x);
    float cy = -1.5 + 3.0 * (float(gid.y) + 0.5) / float(size.y);
    float x = 0.0, y = 0.0;
    uint i = 0;
    while (i < max_iter && x * x + y * y <= 4.0) {
        float t = x * x - y * y + cx;
        y = 2.0 * x * y + cy;
        x = t;
        i++;
    }
    out[gid.y * size.x + gid.x] = i;
}
"""


def mandelbrot_reference(w, h, max_iter):
    # float32 arithmetic in the same order as the kernel, so only rare boundary points differ
    f = np.float32
    gx, gy = np.meshgrid(np.arange(w, dtype=f), np.arange(h, dtype=f))
    cx = f(-2.0) + f(3.0) * (gx + f(0.5)) / f(w)
    cy = f(-1.5) + f(3.0) * (gy + f(0.5)) / f(h)
    x = np.zeros_like(cx)
    y = np.zeros_like(cy)
    it = np.zeros(cx.shape, np.uint32)
    for _ in range(max_iter):
        active = x * x + y * y <= f(4.0)
        t = x * x - y * y + cx
        y = np.where(active, f(2.0) * x * y + cy, y)
        x = np.where(active, t, x)
        it += active
    return it


def test_mandelbrot_2d_matches_numpy(device):
    w, h, n = 193, 117, 64  # not multiples of the threadgroup: edge groups are smaller
    out = pymetallic.Buffer(device, w * h * 4)
    run_kernel(
        device,
        MANDELBROT,
        "mandelbrot",
        (w, h, 1),
        (16, 8, 1),
        buffers=[(out, 0)],
        bytes_args=[(np.array([w, h], np.uint32), 1), (np.uint32(n), 2)],
    )
    got = out.to_numpy(np.uint32, (h, w))
    ref = mandelbrot_reference(w, h, n)
    # fused multiply-add on some targets may flip a handful of points on the set's boundary
    assert np.mean(got != ref) < 0.002
    assert got.max() == n and got.min() < 5


BUILTINS = """
#include <metal_stdlib>
using namespace metal;

kernel void builtins(device uint* out [[buffer(0)]],
                     uint3 gid [[thread_position_in_grid]],
                     uint3 grid [[threads_per_grid]],
                     ushort3 lid [[thread_position_in_threadgroup]],
                     ushort3 tpg [[threads_per_threadgroup]],
                     uint3 tgid [[threadgroup_position_in_grid]],
                     uint3 ngroups [[threadgroups_per_grid]],
                     uint tidx [[thread_index_in_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]],
                     ushort sg [[simdgroup_index_in_threadgroup]]) {
    uint i = (gid.z * grid.y + gid.y) * grid.x + gid.x;
    device uint* o = out + i * 16;
    o[0] = gid.x; o[1] = gid.y; o[2] = gid.z;
    o[3] = lid.x; o[4] = lid.y; o[5] = lid.z;
    o[6] = tpg.x; o[7] = tpg.y; o[8] = tpg.z;
    o[9] = tgid.x; o[10] = tgid.y; o[11] = tgid.z;
    o[12] = ngroups.x * 10000 + ngroups.y * 100 + ngroups.z;
    o[13] = tidx; o[14] = lane; o[15] = sg;
}
"""


@pytest.mark.parametrize("grid,tg", [((37, 1, 1), (8, 1, 1)), ((13, 7, 3), (4, 4, 2)), ((100, 1, 1), (64, 1, 1))])
def test_non_uniform_dispatch_threads_reports_real_sizes(device, grid, tg):
    n = int(np.prod(grid))
    out = pymetallic.Buffer(device, n * 16 * 4)
    run_kernel(device, BUILTINS, "builtins", grid, tg, buffers=[(out, 0)])
    got = out.to_numpy(np.uint32, (grid[2], grid[1], grid[0], 16))
    z, y, x = np.meshgrid(np.arange(grid[2]), np.arange(grid[1]), np.arange(grid[0]), indexing="ij")
    gpos = np.stack([x, y, z], -1)
    t = np.array(tg)
    g = np.array(grid)
    group = gpos // t
    local = gpos % t
    real = np.minimum(t, g - group * t)  # edge groups are smaller
    np.testing.assert_array_equal(got[..., 0:3], gpos)
    np.testing.assert_array_equal(got[..., 3:6], local)
    np.testing.assert_array_equal(got[..., 6:9], real)
    np.testing.assert_array_equal(got[..., 9:12], group)
    ngroups = -(-g // t)
    assert (got[..., 12] == ngroups[0] * 10000 + ngroups[1] * 100 + ngroups[2]).all()
    flat = (local[..., 2] * real[..., 1] + local[..., 1]) * real[..., 0] + local[..., 0]
    np.testing.assert_array_equal(got[..., 13], flat)
    if device.kind == "cpu" or grid[1] == 1:  # lanes follow the hardware's order on a GPU
        np.testing.assert_array_equal(got[..., 14], flat % 32)
        np.testing.assert_array_equal(got[..., 15], flat // 32)


def test_dispatch_threadgroups_runs_whole_groups(device):
    out = pymetallic.Buffer(device, 3 * 32 * 16 * 4)
    run_kernel(device, BUILTINS, "builtins", (3, 1, 1), (32, 1, 1), buffers=[(out, 0)], groups=True)
    got = out.to_numpy(np.uint32, (96, 16))
    np.testing.assert_array_equal(got[:, 0], np.arange(96))
    assert (got[:, 6] == 32).all()


def test_empty_grid_is_a_no_op(device):
    out = pymetallic.Buffer.from_numpy(device, np.full(4, 7, np.uint32))
    run_kernel(device, BUILTINS, "builtins", (0, 1, 1), (32, 1, 1), buffers=[(out, 0)])
    np.testing.assert_array_equal(out.to_numpy(np.uint32), [7, 7, 7, 7])


def test_commands_in_one_buffer_run_in_order(device):
    src = """
kernel void step(device float* x [[buffer(0)]], constant float& k [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    x[i] = x[i] * k + 1.0;
}"""
    lib = pymetallic.Library(device, src)
    p = pymetallic.ComputePipelineState(device, lib.make_function("step"))
    x0 = np.linspace(0, 1, 257, dtype=np.float32)
    buf = pymetallic.Buffer.from_numpy(device, x0)
    q = pymetallic.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(p)
    enc.set_buffer(buf, 0, 0)
    ref = x0.astype(np.float64)
    for k in (2.0, 3.0, 0.5):
        enc.set_bytes(np.float32(k), 1)  # each dispatch keeps its own snapshot
        enc.dispatch_threads((257, 1, 1), (32, 1, 1))
        ref = ref * k + 1
    blit = None
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_allclose(buf.to_numpy(np.float32), ref, rtol=1e-6)
    assert blit is None
