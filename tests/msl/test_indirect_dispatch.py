"""dispatch_threadgroups_with_indirect_buffer (MSL.md §6.1): the threadgroup counts come from
a buffer, read when the command runs, so an earlier kernel in the same command buffer may
write them. Every group is whole: threads_per_grid = counts * threads_per_threadgroup.

On CUDA the grid is fixed at launch (the counts are in device memory) and each block runs
several threadgroups in turn, so these tests use counts far above a GPU's resident blocks,
threadgroup memory and barriers (a block must not start its next group while its threads
still use the last one's threadgroup memory), zero counts, and 2-D/3-D counts."""

import numpy as np
import pytest

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
// Decides how many threadgroups the next dispatch runs: one per 32 items of `count`.
kernel void plan(device uint3* groups [[buffer(0)]], constant uint& count [[buffer(1)]],
                 uint i [[thread_position_in_grid]]) {
    if (i == 0) groups[0] = uint3((count + 31) / 32, 1, 1);
}
kernel void fill(device uint* out [[buffer(0)]], uint gid [[thread_position_in_grid]],
                 uint group [[threadgroup_position_in_grid]]) {
    out[gid] = group + 1;
}
kernel void clear(device uint* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = 0;
}
// One sum per threadgroup of 64: a tree in threadgroup memory, with barriers.
kernel void group_sum(device const uint* in [[buffer(0)]], device uint* sums [[buffer(1)]],
                      uint2 pos [[thread_position_in_grid]], uint2 grid [[threads_per_grid]],
                      uint lid [[thread_index_in_threadgroup]],
                      uint2 group [[threadgroup_position_in_grid]], uint2 groups [[threadgroups_per_grid]]) {
    threadgroup uint partial[64];
    partial[lid] = in[pos.y * grid.x + pos.x];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = 32; s > 0; s >>= 1) {
        if (lid < s) partial[lid] += partial[lid + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (lid == 0) sums[group.y * groups.x + group.x] = partial[0];
}
// Every thread records where it is and what the grid looks like (15 uints).
kernel void where(device uint* out [[buffer(0)]], uint3 pos [[thread_position_in_grid]],
                  uint3 grid [[threads_per_grid]], uint3 group [[threadgroup_position_in_grid]],
                  uint3 groups [[threadgroups_per_grid]], uint3 tg [[threads_per_threadgroup]]) {
    uint i = (pos.z * grid.y + pos.y) * grid.x + pos.x;
    device uint* o = out + 15 * i;
    o[0] = pos.x; o[1] = pos.y; o[2] = pos.z;
    o[3] = grid.x; o[4] = grid.y; o[5] = grid.z;
    o[6] = group.x; o[7] = group.y; o[8] = group.z;
    o[9] = groups.x; o[10] = groups.y; o[11] = groups.z;
    o[12] = tg.x; o[13] = tg.y; o[14] = tg.z;
}
// Consumes its own counts: the first thread zeroes them. The dispatch still runs the counts
// it started with (Metal reads them before the kernel runs).
kernel void consume(device uint* counts [[buffer(0)]], device uint* out [[buffer(1)]],
                    uint gid [[thread_position_in_grid]]) {
    out[gid] = gid + 1;
    if (gid == 0) { counts[0] = 0; counts[1] = 0; counts[2] = 0; }
}
"""


class Env:
    """One library and queue per device; pipelines by name."""

    def __init__(self, device):
        self.device = device
        self.lib = pm.Library(device, SRC)
        self.queue = pm.CommandQueue(device)
        self.pipes = {}

    def pipe(self, name):
        if name not in self.pipes:
            self.pipes[name] = pm.ComputePipelineState(self.device, self.lib.make_function(name))
        return self.pipes[name]

    def buffer(self, array):
        return pm.Buffer.from_numpy(self.device, np.ascontiguousarray(array))


_envs = {}


@pytest.fixture
def env(device):
    if id(device) not in _envs:
        _envs[id(device)] = Env(device)
    return _envs[id(device)]


def _run_indirect(env, name, buffers, counts, tg, offset=0):
    """Dispatches `name` indirectly with host-written counts; returns the command buffer."""
    cb = env.queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(env.pipe(name))
    for i, b in enumerate(buffers):
        enc.set_buffer(b, 0, i)
    enc.dispatch_threadgroups_with_indirect_buffer(counts, offset, tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.error is None, cb.error
    return cb


def _encode_plan_and_fill(env, cb, groups, out, count):
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(env.pipe("clear"))
    enc.set_buffer(out, 0, 0)
    enc.dispatch_threads((256, 1, 1), (64, 1, 1))
    enc.set_compute_pipeline_state(env.pipe("plan"))
    enc.set_buffer(groups, 0, 0)
    enc.set_bytes(np.uint32(count), 1)
    enc.dispatch_threads((1, 1, 1), (1, 1, 1))
    enc.set_compute_pipeline_state(env.pipe("fill"))
    enc.set_buffer(out, 0, 0)
    enc.dispatch_threadgroups_with_indirect_buffer(groups, 0, (32, 1, 1))
    enc.end_encoding()


def _expected_fill(count):
    n = (count + 31) // 32 * 32
    expected = np.zeros(256, np.uint32)
    expected[:n] = np.arange(n) // 32 + 1
    return expected


@pytest.mark.parametrize("count", [1, 64, 100, 0, 256])
def test_counts_written_by_an_earlier_kernel(env, count):
    groups = pm.Buffer(env.device, 16)
    out = pm.Buffer(env.device, 4 * 256)
    cb = env.queue.make_command_buffer()
    _encode_plan_and_fill(env, cb, groups, out, count)
    cb.commit()
    cb.wait_until_completed()
    assert cb.error is None, cb.error
    np.testing.assert_array_equal(out.to_numpy(np.uint32), _expected_fill(count))


def test_counts_change_between_replays(env):
    """The same command buffer, committed again and again (on CUDA a graph replays it after
    the second time): each run reads the counts its own earlier kernel wrote."""
    groups = pm.Buffer(env.device, 16)
    out = pm.Buffer(env.device, 4 * 256)
    for count in [32, 64, 1, 100, 0, 256, 7, 200]:
        cb = env.queue.make_command_buffer()
        _encode_plan_and_fill(env, cb, groups, out, count)
        cb.commit()
        cb.wait_until_completed()
        assert cb.error is None, cb.error
        np.testing.assert_array_equal(out.to_numpy(np.uint32), _expected_fill(count), err_msg=f"count {count}")


@pytest.mark.parametrize("counts", [(4096, 1, 1), (64, 64, 1), (4099, 1, 1)])
def test_many_groups_with_threadgroup_memory_and_barriers(env, counts):
    """Far more groups than a GPU holds at once: each block runs many groups in turn, reusing
    its threadgroup memory."""
    n = counts[0] * counts[1] * 64
    data = (np.arange(n, dtype=np.uint64) * 2654435761 % 1000).astype(np.uint32)
    sums = env.buffer(np.full(counts[0] * counts[1], 0xFFFFFFFF, np.uint32))
    _run_indirect(env, "group_sum", [env.buffer(data), sums], env.buffer(np.array(counts, np.uint32)), (64, 1, 1))
    # Group (x, y) holds the 64 threads of rows y, columns 64x .. 64x+63 of a 2-D grid.
    grid = data.reshape(counts[1], counts[0] * 64)
    expected = grid.reshape(counts[1], counts[0], 64).sum(axis=2, dtype=np.uint64).astype(np.uint32).ravel()
    np.testing.assert_array_equal(sums.to_numpy(np.uint32), expected)


@pytest.mark.parametrize("counts", [(0, 0, 0), (0, 4, 1), (3, 0, 1), (2, 2, 0)])
def test_zero_counts_run_nothing(env, counts):
    out = env.buffer(np.full(15 * 64, 0xDEADBEEF, np.uint32))
    _run_indirect(env, "where", [out], env.buffer(np.array(counts, np.uint32)), (4, 2, 1))
    assert (out.to_numpy(np.uint32) == 0xDEADBEEF).all()


@pytest.mark.parametrize(
    "counts,tg",
    [
        ((5, 3, 2), (4, 2, 2)),
        ((3, 7, 1), (8, 4, 1)),
        ((1, 1, 6), (2, 3, 5)),
        ((300, 2, 3), (2, 1, 1)),
        ((1, 1, 1), (1, 1, 1)),
    ],
)
def test_positions_and_sizes_in_2d_and_3d(env, counts, tg):
    grid = tuple(c * t for c, t in zip(counts, tg))
    n = grid[0] * grid[1] * grid[2]
    out = env.buffer(np.zeros(15 * n, np.uint32))
    # The counts at an offset inside a larger buffer.
    counts_buffer = env.buffer(np.array([9, 9, 9, 9, *counts, 9], np.uint32))
    _run_indirect(env, "where", [out], counts_buffer, tg, offset=16)
    got = out.to_numpy(np.uint32).reshape(grid[2], grid[1], grid[0], 15)
    z, y, x = np.meshgrid(np.arange(grid[2]), np.arange(grid[1]), np.arange(grid[0]), indexing="ij")
    np.testing.assert_array_equal(got[..., 0], x)
    np.testing.assert_array_equal(got[..., 1], y)
    np.testing.assert_array_equal(got[..., 2], z)
    np.testing.assert_array_equal(got[..., 3:6], np.broadcast_to(grid, got[..., 3:6].shape))
    np.testing.assert_array_equal(got[..., 6], x // tg[0])
    np.testing.assert_array_equal(got[..., 7], y // tg[1])
    np.testing.assert_array_equal(got[..., 8], z // tg[2])
    np.testing.assert_array_equal(got[..., 9:12], np.broadcast_to(counts, got[..., 9:12].shape))
    np.testing.assert_array_equal(got[..., 12:15], np.broadcast_to(tg, got[..., 12:15].shape))


def test_a_kernel_that_writes_its_own_counts_runs_the_counts_it_started_with(env):
    counts = env.buffer(np.array([50, 1, 1], np.uint32))
    out = env.buffer(np.zeros(50 * 32, np.uint32))
    _run_indirect(env, "consume", [counts, out], counts, (32, 1, 1))
    np.testing.assert_array_equal(out.to_numpy(np.uint32), np.arange(1, 50 * 32 + 1, dtype=np.uint32))
    np.testing.assert_array_equal(counts.to_numpy(np.uint32), [0, 0, 0])


def test_bad_offsets(env):
    cb = env.queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(env.pipe("fill"))
    enc.set_buffer(pm.Buffer(env.device, 64), 0, 0)
    groups = pm.Buffer(env.device, 16)
    with pytest.raises(pm.MetalError, match="multiple of 4"):
        enc.dispatch_threadgroups_with_indirect_buffer(groups, 2, (32, 1, 1))
    with pytest.raises(pm.MetalError, match="12 bytes"):
        enc.dispatch_threadgroups_with_indirect_buffer(groups, 8, (32, 1, 1))
    with pytest.raises(pm.MetalError, match="None"):
        enc.dispatch_threadgroups_with_indirect_buffer(None, 0, (32, 1, 1))
    enc.end_encoding()


def test_indirect_buffer_of_another_device(env):
    others = [d for d in pm.Device.get_all_devices() if d.kind != env.device.kind]
    if not others:
        pytest.skip("one device kind only")
    cb = env.queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(env.pipe("fill"))
    enc.set_buffer(pm.Buffer(env.device, 64), 0, 0)
    with pytest.raises(pm.MetalError, match="belongs to device"):
        enc.dispatch_threadgroups_with_indirect_buffer(pm.Buffer(others[0], 16), 0, (32, 1, 1))
    enc.end_encoding()


@pytest.mark.parametrize("indirect_entries", [False, True])
def test_compiles_for_cuda(indirect_entries):
    """Both CUDA modules: the direct entries, and the indirect ones built on first use."""
    if pm._core.toolchains()["nvrtc"].startswith("unavailable"):
        pytest.skip("no NVRTC")
    pm._core.compile_offline(SRC, None, "cuda", "sm_90", indirect_entries=indirect_entries)
