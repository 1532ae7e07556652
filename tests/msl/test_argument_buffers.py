"""Argument buffers (MSL.md §1.5, §3.2): a struct whose members point at other buffers
(`device float* a [[id(0)]]`), filled on the host with each buffer's gpu_address (Metal 3's
way: MTLBuffer.gpuAddress), with the buffers declared to the encoder by use_resource."""

import numpy as np

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
struct Arguments {
    device const float* a [[id(0)]];
    device float* out [[id(1)]];
    float scale [[id(2)]];
};
kernel void scaled_copy(constant Arguments& args [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    args.out[i] = args.a[i] * args.scale;
}
"""

ARGS = np.dtype(
    {
        "names": ["a", "out", "scale"],
        "formats": [np.uint64, np.uint64, np.float32],
        "offsets": [0, 8, 16],
        "itemsize": 24,
    }
)


def test_pointers_in_an_argument_buffer(device):
    rng = np.random.default_rng(7)
    a = rng.random(300, dtype=np.float32)
    A = pm.Buffer.from_numpy(device, a)
    out = pm.Buffer(device, a.nbytes)
    args = np.zeros(1, ARGS)
    args["a"], args["out"], args["scale"] = A.gpu_address, out.gpu_address, 2.5
    assert A.gpu_address != 0 and A.gpu_address != out.gpu_address
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(
        pm.ComputePipelineState(device, pm.Library(device, SRC).make_function("scaled_copy"))
    )
    enc.set_bytes(args, 0)  # the argument buffer itself, inline
    enc.use_resource(A, 1)  # read through args.a
    enc.use_resource(out, 2)  # written through args.out
    enc.dispatch_threads((300, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_allclose(out.to_numpy(np.float32), a.astype(np.float64) * 2.5, rtol=1e-6)


def test_use_resource_checks_its_arguments(device):
    enc = pm.CommandQueue(device).make_command_buffer().make_compute_command_encoder()
    buf = pm.Buffer(device, 16)
    for bad in (0, 4):
        try:
            enc.use_resource(buf, bad)
        except pm.MetalError as e:
            assert "usage" in str(e)
        else:
            raise AssertionError("use_resource accepted usage %d" % bad)


def test_compiles_for_cuda():
    import pytest

    if pm._core.toolchains()["nvrtc"].startswith("unavailable"):
        pytest.skip("no NVRTC")
    pm._core.compile_offline(SRC, None, "cuda", "sm_90")
