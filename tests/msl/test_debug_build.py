"""options={"debug": True} on the CPU (issue 12): the kernel's C++ is built with -O0 -g, and
its line table names the user's .metal file, so gdb/lldb stop in it."""

import numpy as np
import pytest

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void twice(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    x[i] = 2.0f * x[i];
}
"""


def _loaded_objects():
    with open("/proc/self/maps") as f:
        return {line.split()[-1] for line in f if line.rstrip().endswith(".so")}


def _library_object(device, options):
    before = _loaded_objects()
    lib = pm.Library(device, SRC, options)
    new = [p for p in _loaded_objects() - before if "/cpu/" in p]
    return lib, new


def test_debug_build_runs_and_maps_lines_to_the_metal_file(device):
    if getattr(device, "kind", "cpu") != "cpu":
        pytest.skip("debug builds are a CPU feature")
    name = "dbg_%d.metal" % np.random.default_rng().integers(1 << 30)  # a fresh cache entry
    lib, objects = _library_object(device, {"debug": True, "filename": name})
    assert len(objects) == 1, objects
    data = open(objects[0], "rb").read()
    assert b".debug_line" in data and name.encode() in data
    x = np.arange(16, dtype=np.float32)
    b = pm.Buffer.from_numpy(device, x)
    pipe = pm.ComputePipelineState(device, lib.make_function("twice"))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(b, 0, 0)
    enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(b.to_numpy(np.float32, (16,)), 2 * x)
    # Without debug, no line table names the file.
    name2 = "nodbg_%d.metal" % np.random.default_rng().integers(1 << 30)
    _, objects = _library_object(device, {"filename": name2})
    assert len(objects) == 1 and name2.encode() not in open(objects[0], "rb").read()
