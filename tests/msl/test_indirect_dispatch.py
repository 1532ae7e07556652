"""dispatch_threadgroups_with_indirect_buffer (MSL.md §6.1): the threadgroup counts come from
a buffer that an earlier kernel in the same command buffer writes."""

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
"""


def _encoder(device):
    lib = pm.Library(device, SRC)
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    return lib, cb, cb.make_compute_command_encoder()


@pytest.mark.parametrize("count", [1, 64, 100, 0])
def test_counts_written_by_an_earlier_kernel(device, count):
    if device.kind != "cpu":
        pytest.skip("indirect dispatch runs on the CPU only so far")
    lib, cb, enc = _encoder(device)
    groups = pm.Buffer(device, 16)
    out = pm.Buffer(device, 4 * 256)
    enc.set_compute_pipeline_state(pm.ComputePipelineState(device, lib.make_function("plan")))
    enc.set_buffer(groups, 0, 0)
    enc.set_bytes(np.uint32(count), 1)
    enc.dispatch_threads((1, 1, 1), (1, 1, 1))
    enc.set_compute_pipeline_state(pm.ComputePipelineState(device, lib.make_function("fill")))
    enc.set_buffer(out, 0, 0)
    enc.dispatch_threadgroups_with_indirect_buffer(groups, 0, (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    n = (count + 31) // 32 * 32
    expected = np.zeros(256, np.uint32)
    expected[:n] = np.arange(n) // 32 + 1
    np.testing.assert_array_equal(out.to_numpy(np.uint32), expected)


def test_bad_offsets_and_devices(device):
    lib, cb, enc = _encoder(device)
    enc.set_compute_pipeline_state(pm.ComputePipelineState(device, lib.make_function("fill")))
    enc.set_buffer(pm.Buffer(device, 64), 0, 0)
    groups = pm.Buffer(device, 16)
    if device.kind != "cpu":
        with pytest.raises(pm.MetalError, match="not supported on cuda"):
            enc.dispatch_threadgroups_with_indirect_buffer(groups, 0, (32, 1, 1))
        return
    with pytest.raises(pm.MetalError, match="multiple of 4"):
        enc.dispatch_threadgroups_with_indirect_buffer(groups, 2, (32, 1, 1))
    with pytest.raises(pm.MetalError, match="12 bytes"):
        enc.dispatch_threadgroups_with_indirect_buffer(groups, 8, (32, 1, 1))


def test_compiles_for_cuda():
    if pm._core.toolchains()["nvrtc"].startswith("unavailable"):
        pytest.skip("no NVRTC")
    pm._core.compile_offline(SRC, None, "cuda", "sm_90")
