"""Issue 11, item 8: one error vocabulary. Every misuse is a ValidationError (also a
ValueError; a ValidationTypeError, also a TypeError, for a value of the wrong type) with a
message in Python terms; NumPy scalars are accepted wherever Python numbers are; a string
where a list is expected is refused; repr() of every object says what it is."""

import numpy as np
import pytest

import pymetallic as pm

SRC = """
#include <metal_stdlib>
using namespace metal;
constant float gain [[function_constant(0)]];
kernel void scale(device float* x [[buffer(0)]], constant float& s [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    x[i] = x[i] * s * gain;
}
"""


@pytest.fixture
def objects(cpu_device):
    d = cpu_device
    lib = pm.Library(d, SRC)
    fn = lib.make_function("scale", {"gain": 1.0})
    pipe = pm.ComputePipelineState(d, fn)
    q = pm.CommandQueue(d)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    icb_descriptor = pm.IndirectCommandBufferDescriptor()
    icb_descriptor.command_types = pm.IndirectCommandType.CONCURRENT_DISPATCH_THREADS
    icb_descriptor.max_kernel_buffer_bind_count = 4
    icb = d.new_indirect_command_buffer(icb_descriptor, 2)
    objects = dict(d=d, lib=lib, fn=fn, pipe=pipe, q=q, cb=cb, enc=enc, buf=pm.Buffer(d, 64))
    return dict(objects, icb_descriptor=icb_descriptor, icb=icb, cmd=icb.indirect_compute_command(0))


TYPE_MISUSE = [
    ("Buffer(d, 'x')", lambda o: pm.Buffer(o["d"], "x")),
    ("Buffer('d', 4)", lambda o: pm.Buffer("d", 4)),
    ("Buffer(d, 4.0)", lambda o: pm.Buffer(o["d"], 4.0)),
    ("Buffer(d, 4, 'shared')", lambda o: pm.Buffer(o["d"], 4, "shared")),
    ("Library(d, 42)", lambda o: pm.Library(o["d"], 42)),
    ("Library(None, src)", lambda o: pm.Library(None, SRC)),
    ("Library options not a dict", lambda o: pm.Library(o["d"], SRC, ["fast_math"])),
    ("fast_math not a bool", lambda o: pm.Library(o["d"], SRC, {"fast_math": "yes"})),
    ("include_paths a string", lambda o: pm.Library(o["d"], SRC, {"include_paths": "/tmp"})),
    ("macros not a dict", lambda o: pm.Library(o["d"], SRC, {"macros": ["A"]})),
    ("constant of a wrong type", lambda o: o["lib"].make_function("scale", {"gain": "high"})),
    ("make_function(3)", lambda o: o["lib"].make_function(3)),
    ("ComputePipelineState(d, 'scale')", lambda o: pm.ComputePipelineState(o["d"], "scale")),
    ("CommandQueue('cpu')", lambda o: pm.CommandQueue("cpu")),
    ("CommandBuffer(d)", lambda o: pm.CommandBuffer(o["d"])),
    ("set_buffer('buf', 0, 0)", lambda o: o["enc"].set_buffer("buf", 0, 0)),
    ("set_buffer(buf, 0.5, 0)", lambda o: o["enc"].set_buffer(o["buf"], 0.5, 0)),
    ("set_buffer(buf, 0, '0')", lambda o: o["enc"].set_buffer(o["buf"], 0, "0")),
    ("set_compute_pipeline_state(fn)", lambda o: o["enc"].set_compute_pipeline_state(o["fn"])),
    ("set_bytes('abc', 1)", lambda o: o["enc"].set_bytes("abc", 1)),
    ("dispatch_threads('64', 1)", lambda o: o["enc"].dispatch_threads("64", (1, 1, 1))),
    ("dispatch_threads((64.0,), 1)", lambda o: o["enc"].dispatch_threads((64.0,), (1,))),
    ("set_threadgroup_memory_length('16', 0)", lambda o: o["enc"].set_threadgroup_memory_length("16", 0)),
    ("wait_until_completed('1')", lambda o: o["cb"].wait_until_completed("1")),
    ("add_completed_handler(3)", lambda o: o["cb"].add_completed_handler(3)),
    ("use_resource('buf')", lambda o: o["enc"].use_resource("buf")),
    ("new_indirect_command_buffer('d', 1)", lambda o: o["d"].new_indirect_command_buffer("d", 1)),
    ("new_indirect_command_buffer(d, '1')", lambda o: o["d"].new_indirect_command_buffer(o["icb_descriptor"], "1")),
    ("indirect_compute_command('0')", lambda o: o["icb"].indirect_compute_command("0")),
    ("set_kernel_buffer('buf', 0, 0)", lambda o: o["cmd"].set_kernel_buffer("buf", 0, 0)),
    ("set_kernel_buffer(buf, 0.5, 0)", lambda o: o["cmd"].set_kernel_buffer(o["buf"], 0.5, 0)),
    ("command set_compute_pipeline_state(fn)", lambda o: o["cmd"].set_compute_pipeline_state(o["fn"])),
    ("concurrent_dispatch_threads('64', 1)", lambda o: o["cmd"].concurrent_dispatch_threads("64", 1)),
    ("execute_commands_in_buffer(buf, range(1))", lambda o: o["enc"].execute_commands_in_buffer(o["buf"], range(1))),
    ("execute_commands_in_buffer(icb, '0:1')", lambda o: o["enc"].execute_commands_in_buffer(o["icb"], "0:1")),
    ("command_types = '32'", lambda o: setattr(o["icb_descriptor"], "command_types", "32")),
    (
        "blit copy with a str",
        lambda o: o["q"].make_command_buffer().make_blit_command_encoder().copy_from_buffer(o["buf"], 0, "dst", 0, 4),
    ),
]

VALUE_MISUSE = [
    ("Buffer(d, 0)", lambda o: pm.Buffer(o["d"], 0)),
    ("Buffer(d, -1)", lambda o: pm.Buffer(o["d"], -1)),
    ("Buffer(d, 2**63)", lambda o: pm.Buffer(o["d"], 2**63)),
    ("Buffer(d, 2**70)", lambda o: pm.Buffer(o["d"], 2**70)),
    ("Buffer(d, 4, 7)", lambda o: pm.Buffer(o["d"], 4, 7)),
    ("unknown option", lambda o: pm.Library(o["d"], SRC, {"fastmath": True})),
    ("set_buffer index 31", lambda o: o["enc"].set_buffer(o["buf"], 0, 31)),
    ("set_buffer offset -1", lambda o: o["enc"].set_buffer(o["buf"], -1, 0)),
    ("set_buffer offset past the end", lambda o: o["enc"].set_buffer(o["buf"], 64, 0)),
    ("set_bytes of a Python float", lambda o: o["enc"].set_bytes(2.0, 1)),
    ("dispatch with a negative size", lambda o: o["enc"].dispatch_threads((-1, 1, 1), (1, 1, 1))),
    ("dispatch with 4 dimensions", lambda o: o["enc"].dispatch_threads((1, 1, 1, 1), (1, 1, 1))),
    ("wait before commit", lambda o: o["cb"].wait_until_completed()),
    ("wait with a negative timeout", lambda o: o["cb"].wait_until_completed(-1)),
    ("new_indirect_command_buffer(d, 0)", lambda o: o["d"].new_indirect_command_buffer(o["icb_descriptor"], 0)),
    ("indirect_compute_command(2)", lambda o: o["icb"].indirect_compute_command(2)),
    ("set_kernel_buffer index 4", lambda o: o["cmd"].set_kernel_buffer(o["buf"], 0, 4)),
    ("set_kernel_buffer offset -1", lambda o: o["cmd"].set_kernel_buffer(o["buf"], -1, 0)),
    ("concurrent_dispatch_threadgroups without its type", lambda o: o["cmd"].concurrent_dispatch_threadgroups(1, 1)),
    ("execute_commands_in_buffer past the end", lambda o: o["enc"].execute_commands_in_buffer(o["icb"], range(3))),
    ("max_kernel_buffer_bind_count = 32", lambda o: setattr(o["icb_descriptor"], "max_kernel_buffer_bind_count", 32)),
    ("read_scalar out of range", lambda o: o["d"].read_scalar(o["buf"], np.float32, 16)),
]


@pytest.mark.parametrize("what,call", TYPE_MISUSE, ids=[t[0] for t in TYPE_MISUSE])
def test_wrong_types_are_validation_type_errors(objects, what, call):
    with pytest.raises(pm.ValidationTypeError) as info:
        call(objects)
    e = info.value
    assert isinstance(e, TypeError) and isinstance(e, pm.ValidationError) and isinstance(e, pm.MetalError)
    assert "std::" not in str(e) and "_core" not in str(e) and "metallic::" not in str(e), str(e)


@pytest.mark.parametrize("what,call", VALUE_MISUSE, ids=[t[0] for t in VALUE_MISUSE])
def test_bad_values_are_validation_errors(objects, what, call):
    with pytest.raises(pm.ValidationError) as info:
        call(objects)
    assert isinstance(info.value, ValueError)
    assert "std::" not in str(info.value) and "bad_cast" not in str(info.value)


def test_numpy_scalars_are_accepted_wherever_python_numbers_are(cpu_device):
    d = cpu_device
    lib = pm.Library(d, SRC, {"fast_math": np.bool_(False)})
    fn = lib.make_function("scale", {np.int64(0): np.float32(2.0)})
    pipe = pm.ComputePipelineState(d, fn)
    x = pm.Buffer(d, np.int64(64), np.int32(0))
    x.to_numpy(np.float32)[:] = np.arange(16, dtype=np.float32)
    cb = pm.CommandQueue(d).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(x, np.uint64(0), np.int32(0))
    enc.set_bytes(np.float32(1.5), np.int64(1))
    enc.set_threadgroup_memory_length(np.int64(16), np.int8(0))
    enc.dispatch_threads((np.int64(16), np.uint32(1), 1), np.array([16, 1, 1]))
    enc.end_encoding()
    cb.commit()
    assert cb.wait_until_completed(np.float64(10.0))
    np.testing.assert_array_equal(x.to_numpy(np.float32), np.arange(16, dtype=np.float32) * 3.0)
    assert d.read_scalar(x, np.float32, np.int64(3)) == 9.0


def test_repr_of_every_object(objects):
    o = objects
    reprs = {
        "Device": repr(o["d"]),
        "Buffer": repr(o["buf"]),
        "Library": repr(o["lib"]),
        "Function": repr(o["fn"]),
        "ComputePipelineState": repr(o["pipe"]),
        "CommandQueue": repr(o["q"]),
        "CommandBuffer": repr(o["cb"]),
        "ComputeCommandEncoder": repr(o["enc"]),
        "BlitCommandEncoder": repr(o["q"].make_command_buffer().make_blit_command_encoder()),
        "Argument": repr(o["fn"].arguments[0]),
        "IndirectCommandBufferDescriptor": repr(o["icb_descriptor"]),
        "IndirectCommandBuffer": repr(o["icb"]),
        "IndirectComputeCommand": repr(o["cmd"]),
        "CommandBufferStatus": repr(o["cb"].status),
    }
    for name, text in reprs.items():
        assert name.split("Status")[0] in text or name == "Argument", (name, text)
        assert "object at 0x" not in text, (name, text)
    assert "64 bytes" in reprs["Buffer"] and "scale" in reprs["Library"] and "not enqueued" in reprs["CommandBuffer"]


class _PlainClass:
    pass


# The module reads type names through the limited C API (the abi3 wheel): a type defined in C
# keeps its C spelling (tp_name: "numpy.complex128", "str"), a Python class its __name__.
WRONG_CONSTANTS = [
    ("high", "str"),
    ([1.0], "list"),
    (None, "NoneType"),
    (1 + 2j, "complex"),
    (np.complex128(1), "numpy.complex128"),
    (np.str_("x"), "numpy.str_"),
    (np.timedelta64(1), "numpy.timedelta64"),
    (_PlainClass(), "_PlainClass"),
]


@pytest.mark.parametrize("value,spelled", WRONG_CONSTANTS, ids=[s for _, s in WRONG_CONSTANTS])
def test_a_wrong_function_constant_names_its_type(objects, value, spelled):
    with pytest.raises(pm.ValidationTypeError) as info:
        objects["lib"].make_function("scale", {"gain": value})
    assert str(info.value) == f"function-constant values must be bool, int or float, not {spelled}"
    with pytest.raises(pm.ValidationTypeError) as info:
        objects["lib"].make_function("scale", {"gain": objects["buf"]})
    assert str(info.value).endswith(" not Buffer")


def test_numpy_bools_and_floats_are_recognised_by_type_name(cpu_device):
    # np.bool_ is "numpy.bool_" in NumPy 1.x and "numpy.bool" in 2.x; both spellings are accepted.
    d = cpu_device
    for flag in (np.bool_(True), np.bool_(False)):
        pm.Library(d, SRC, {"fast_math": flag, "debug": flag})
    with pytest.raises(pm.ValidationTypeError, match=r"options\['fast_math'\] must be True or False, not int64$"):
        pm.Library(d, SRC, {"fast_math": np.int64(1)})
    lib = pm.Library(d, SRC)
    for gain in (np.float16(0.5), np.float32(2.0), np.float64(3.0), np.bool_(True)):
        lib.make_function("scale", {"gain": gain})


def test_include_paths_read_as_utf8(cpu_device, tmp_path):
    folder = tmp_path / "headers_ü"
    folder.mkdir()
    (folder / "gain.h").write_text("#define GAIN 2.0f\n")
    src = '#include "gain.h"\nkernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) '
    src += "{ x[i] = GAIN; }"
    pm.Library(cpu_device, src, {"include_paths": [folder]}).make_function("k")
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        pm.Library(cpu_device, src, {"include_paths": [str(folder) + "/\udcff"]})
