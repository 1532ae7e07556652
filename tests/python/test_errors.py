"""Bad input never crashes: each misuse raises a MetalError (or ValueError) that says what
is wrong and where."""

import numpy as np
import pytest

import pymetallic
from pymetallic import CompileError, MetalError
from pm_testing import run_kernel

GOOD = """
#include <metal_stdlib>
using namespace metal;
kernel void scale(device float* x [[buffer(0)]], constant float& k [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) { x[i] *= k; }
"""


def test_compile_error_names_the_users_line(device):
    src = (
        "#include <metal_stdlib>\nusing namespace metal;\n\nkernel void k(device float* x [[buffer(0)]],\n"
        "              uint i [[thread_position_in_grid]]) {\n    x[i] = undefined_name;\n}\n"
    )
    with pytest.raises(CompileError) as info:
        pymetallic.Library(device, src)
    assert "program.metal:6" in str(info.value)
    assert "undefined_name" in str(info.value)
    assert "undefined_name" in info.value.log


def test_compile_error_uses_the_given_file_name(device):
    with pytest.raises(CompileError) as info:
        pymetallic.Library(
            device, "kernel void k(device float* x [[buffer(0)]]) { x[0] = 1 +; }", options={"filename": "mine.metal"}
        )
    assert "mine.metal:1" in str(info.value)


def test_front_end_errors_are_compile_errors(device):
    with pytest.raises(CompileError) as info:
        pymetallic.Library(
            device, "kernel void k(device float* x [[buffer(0)]], float bad [[thread_position_in_grid]]) {}"
        )
    assert "program.metal:1" in str(info.value)
    with pytest.raises(CompileError):
        pymetallic.Library(device, "#if 1\nkernel void k() {}\n")  # unterminated #if


def test_unknown_function(device):
    lib = pymetallic.Library(device, GOOD)
    with pytest.raises(MetalError, match="no kernel function named 'nope'.*scale"):
        lib.make_function("nope")


def test_buffer_misuse(device):
    with pytest.raises(ValueError, match="storage mode"):
        pymetallic.Buffer(device, 16, 7)
    with pytest.raises(ValueError, match="at least 1 byte"):
        pymetallic.Buffer(device, 0)
    with pytest.raises(ValueError):
        pymetallic.Buffer(device, -5)
    buf = pymetallic.Buffer(device, 10)
    with pytest.raises(MetalError, match="whole number"):
        buf.to_numpy(np.float32)
    with pytest.raises(MetalError, match="shape"):
        pymetallic.Buffer(device, 16).to_numpy(np.float32, (3,))
    private = pymetallic.Buffer(device, 16, pymetallic.Buffer.STORAGE_PRIVATE)
    with pytest.raises(MetalError, match="private"):
        private.to_numpy(np.float32)


def _encoder(device):
    lib = pymetallic.Library(device, GOOD)
    pipeline = pymetallic.ComputePipelineState(device, lib.make_function("scale"))
    cb = pymetallic.CommandQueue(device).make_command_buffer()
    return cb, cb.make_compute_command_encoder(), pipeline


def test_encoder_misuse(device):
    cb, enc, pipeline = _encoder(device)
    buf = pymetallic.Buffer(device, 64)
    with pytest.raises(MetalError, match="before set_compute_pipeline_state"):
        enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    enc.set_compute_pipeline_state(pipeline)
    with pytest.raises(ValueError, match="out of range"):
        enc.set_buffer(buf, 0, 31)
    with pytest.raises(ValueError, match="past the end"):
        enc.set_buffer(buf, 64, 0)
    enc.set_buffer(buf, 0, 0)
    with pytest.raises(MetalError, match=r"'k' \[\[buffer\(1\)\]\] is not bound"):
        enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    enc.set_bytes(np.float32(2), 1)
    with pytest.raises(MetalError, match="exceeds"):
        enc.dispatch_threads((4096, 1, 1), (2048, 1, 1))
    with pytest.raises(MetalError, match="zero dimension"):
        enc.dispatch_threads((16, 1, 1), (0, 1, 1))
    with pytest.raises(ValueError, match="negative"):
        enc.dispatch_threads((-1, 1, 1), (1, 1, 1))
    with pytest.raises(ValueError, match="1 to 3"):
        enc.dispatch_threads((1, 1, 1, 1), (1, 1, 1))
    with pytest.raises(MetalError, match="at most 4096"):
        enc.set_bytes(np.zeros(2000, np.float32), 1)
    with pytest.raises(MetalError, match="typed value"):
        enc.set_bytes(2.0, 1)
    enc.dispatch_threads((16, 1, 1), (16, 1, 1))
    enc.end_encoding()
    with pytest.raises(MetalError, match="after end_encoding"):
        enc.set_buffer(buf, 0, 0)
    with pytest.raises(MetalError, match="never committed"):
        cb.wait_until_completed()
    cb.commit()
    with pytest.raises(MetalError, match="only once"):
        cb.commit()
    cb.wait_until_completed()
    assert cb.get_status() == 1 and cb.error is None


def test_max_total_threads_attribute_is_enforced(device):
    src = """
[[kernel, max_total_threads_per_threadgroup(64)]]
void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = 1.0; }"""
    lib = pymetallic.Library(device, src)
    p = pymetallic.ComputePipelineState(device, lib.make_function("k"))
    assert p.max_total_threads_per_threadgroup == 64
    enc = pymetallic.CommandQueue(device).make_command_buffer().make_compute_command_encoder()
    enc.set_compute_pipeline_state(p)
    enc.set_buffer(pymetallic.Buffer(device, 1024), 0, 0)
    with pytest.raises(MetalError, match="limit of 64"):
        enc.dispatch_threads((256, 1, 1), (128, 1, 1))


def test_blit_misuse(device):
    cb = pymetallic.CommandQueue(device).make_command_buffer()
    blit = cb.make_blit_command_encoder()
    a, b = pymetallic.Buffer(device, 16), pymetallic.Buffer(device, 8)
    with pytest.raises(MetalError, match="outside the destination"):
        blit.copy_from_buffer(a, 0, b, 0, 16)
    with pytest.raises(MetalError, match="overlap"):
        blit.copy_from_buffer(a, 0, a, 4, 8)
    with pytest.raises(ValueError, match="byte"):
        blit.fill_buffer(a, range(0, 4), 300)


def test_bad_environment_device(monkeypatch):
    # The default device is resolved per call: a bad override is a clear error
    monkeypatch.setenv("PYMETALLIC_DEVICE", "tpu:3")
    with pytest.raises(MetalError, match="names no device"):
        pymetallic.Device.get_default_device()


@pytest.mark.parametrize(
    "source,message",
    [
        ("#if " + "(" * 100000 + "1" + ")" * 100000 + "\n#endif\n", "nested too deeply"),
        ("#if " + "1?" * 50000 + "1" + ":0" * 50000 + "\n#endif\n", "nested too deeply"),
        ("#define F(x) x\nint y = " + "F(" * 20000 + "1" + ")" * 20000 + ";\n", "nested too deeply"),
        ("kernel void k(device float* x [[buffer(" + "(" * 20000 + "0" + ")" * 20000 + ")]]) {}", "nested too deeply"),
    ],
)
def test_pathological_sources_are_errors_not_crashes(cpu_device, source, message):
    # Found by fuzzing the front end: recursion is bounded everywhere it can nest.
    with pytest.raises(CompileError, match=message):
        pymetallic.Library(cpu_device, source)


def test_double_is_rejected_as_metal_does(device):
    src = (
        "kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "    double y = x[i];\n    x[i] = y;\n}\n"
    )
    with pytest.raises(CompileError, match=r"program.metal:2:.*'double' is not supported"):
        pymetallic.Library(device, src)


@pytest.mark.parametrize(
    "line,message",
    [
        ("x[i] = float(convert_int_sat(x[i]));", r"'convert_int_sat' is OpenCL C, not Metal.*static_cast"),
        ("x[i] = float4(convert_float4_rtz(int4(1))).x;", r"'convert_float4_rtz' is OpenCL C"),
        ("tensor<device float, dextents<int, 1>> t(x, dextents<int, 1>(4));", r"Metal 4 tensors \('tensor<...>'"),
        ("mpp::tensor_ops::matmul2d<> op;", r"Metal 4 tensors \('mpp::'"),
    ],
)
def test_features_outside_msl_or_not_yet_supported_are_named(cpu_device, line, message):
    src = (
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        f"    {line}\n}}\n"
    )
    with pytest.raises(CompileError, match=r"program.metal:4:.*" + message):
        pymetallic.Library(cpu_device, src)


def test_user_functions_named_like_opencl_conversions_still_work(cpu_device):
    src = (
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "float convert_int_sat(float v) { return clamp(v, -2.0f, 2.0f); }\n"
        "kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "    x[i] = convert_int_sat(x[i]);\n}\n"
    )
    x = np.array([-5, 0.5, 7], np.float32)
    buf = pymetallic.Buffer.from_numpy(cpu_device, x)
    run_kernel(cpu_device, src, "k", (3, 1, 1), (3, 1, 1), buffers=[(buf, 0)])
    np.testing.assert_array_equal(buf.to_numpy(np.float32, (3,)), np.clip(x, -2, 2))
