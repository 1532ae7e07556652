"""set_bytes with every NumPy scalar type: the bytes a kernel reads are exactly the scalar's own
(NumPy's `.tobytes()`), whatever the type's size (1 to 32 bytes), and the same as for a 0-d array
or `bytes` of the value. set_bytes reads scalars through the buffer protocol (issue 13 measured
it: as fast as `bytes`), so this pins down that every scalar type takes that path correctly."""

import numpy as np
import pytest

import pymetallic

COPY = """
#include <metal_stdlib>
using namespace metal;
kernel void copy_bytes(constant uchar* data [[buffer(0)]], constant uint& n [[buffer(1)]],
                       device uchar* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    if (i < n) out[i] = data[i];
}
"""

OUT = 64  # bytes per output buffer (the largest scalar, clongdouble, has 32 on x86-64)
FILL = 0xAB

SCALARS = [
    np.bool_(True),
    np.bool_(False),
    np.int8(-2),
    np.uint8(250),
    np.int16(-12345),
    np.uint16(54321),
    np.int32(-123456789),
    np.uint32(4000000000),
    np.int64(-(2**62) + 7),
    np.uint64(2**64 - 3),
    np.longlong(-5),
    np.ulonglong(7),
    np.intc(-9),
    np.uintc(9),
    np.float16(1.5),
    np.float16(6e-8),  # a subnormal
    np.float32(np.pi),
    np.longdouble(1) / np.longdouble(3),
    np.complex64(1 + 2j),
    np.complex128(3 - 4j),  # (np.float64 is a Python float: refused, see the last test)
    np.clongdouble(1 + 1j) / np.clongdouble(3),
    np.datetime64("2026-12-01T10:00"),
    np.timedelta64(5, "ms"),
    np.zeros(1, dtype=[("a", "<u4"), ("b", "<f2")])[0],  # a structured (np.void) scalar
    np.bytes_(b"abc"),
]


def _ids():
    return [f"{i}-{type(v).__name__}" for i, v in enumerate(SCALARS)]


def _run(device, values):
    """Each value in `values` bound by set_bytes for its own dispatch, all in one encoder;
    returns the bytes each dispatch copied out (OUT bytes each, FILL past the value)."""
    lib = pymetallic.Library(device, COPY)
    pipe = pymetallic.ComputePipelineState(device, lib.make_function("copy_bytes"))
    queue = pymetallic.CommandQueue(device)
    outs = [pymetallic.Buffer.from_numpy(device, np.full(OUT, FILL, np.uint8)) for _ in values]
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    for value, out in zip(values, outs):
        n = len(value) if type(value) is bytes else np.asarray(value).nbytes
        enc.set_bytes(value, 0)
        enc.set_bytes(np.uint32(n), 1)
        enc.set_buffer(out, 0, 2)
        enc.dispatch_threads((OUT, 1, 1), (OUT, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.get_status() == 1, cb.error
    seen = []
    for value, out in zip(values, outs):
        raw = out.to_numpy(np.uint8, (OUT,)).tobytes()
        n = len(value) if type(value) is bytes else np.asarray(value).nbytes
        assert raw[n:] == bytes([FILL]) * (OUT - n)  # nothing read or written past the value
        seen.append(raw[:n])
    return seen


def _significant(value, raw):
    """The bytes of `raw` (a `value`) that hold its value: an 80-bit x86 long double is padded to
    16 bytes, and NumPy leaves the padding as it finds it when it copies one (np.array(value))."""
    kind = np.dtype(type(value))
    if kind in (np.dtype(np.longdouble), np.dtype(np.clongdouble)) and np.finfo(np.longdouble).nmant == 63:
        step = np.dtype(np.longdouble).itemsize
        return b"".join(raw[i : i + 10] for i in range(0, len(raw), step))
    return raw


def test_every_numpy_scalar_type_reaches_the_kernel_as_its_bytes(device):
    # One encoder for all of them: each dispatch also keeps its own copy of the bytes.
    got = _run(device, SCALARS)
    for value, name, seen in zip(SCALARS, _ids(), got):
        assert seen == value.tobytes(), name


@pytest.mark.parametrize("value", SCALARS, ids=_ids())
def test_a_scalar_a_0d_array_and_its_bytes_bind_the_same(cpu_device, value):
    as_scalar, as_array, as_bytes = _run(cpu_device, [value, np.array(value), value.tobytes()])
    assert as_scalar == as_bytes == value.tobytes()
    assert _significant(value, as_array) == _significant(value, as_scalar)


def test_every_sized_numpy_scalar_type_is_covered():
    # Guard against NumPy adding scalar types the list above misses (by their sizes and kinds).
    kinds = {np.dtype(type(v)).kind for v in SCALARS}
    assert kinds >= set("biufcmMVS")
    sizes = {np.dtype(type(v)).itemsize for v in SCALARS if np.dtype(type(v)).kind in "biufc"}
    assert sizes >= {1, 2, 4, 8, np.dtype(np.longdouble).itemsize, np.dtype(np.clongdouble).itemsize}


def test_plain_python_numbers_are_still_refused(cpu_device):
    # np.float64 is a subclass of Python's float, and MSL has no double: refused as 2.0 is (a
    # kernel's `constant float&` would otherwise read half a double); np.array(x, np.float64) binds.
    queue = pymetallic.CommandQueue(cpu_device)
    enc = queue.make_command_buffer().make_compute_command_encoder()
    enc.set_bytes(np.array(2.0, np.float64), 0)
    for value in (2.0, 7, True, np.float64(2.0)):
        with pytest.raises(pymetallic.ValidationError, match="typed value"):
            enc.set_bytes(value, 0)
    enc.end_encoding()


def test_large_and_small_set_bytes_in_one_command_buffer(cpu_device):
    # The command list keeps set_bytes data inline up to a point, then on the heap: data first
    # larger than that, then scalars after it, all reach their dispatches intact.
    big = np.arange(1000, dtype=np.uint8) * np.uint8(7)  # 1000 bytes, past the inline part
    lib = pymetallic.Library(cpu_device, COPY)
    pipe = pymetallic.ComputePipelineState(cpu_device, lib.make_function("copy_bytes"))
    queue = pymetallic.CommandQueue(cpu_device)
    values = [big, np.float32(1.25), big[::-1].copy(), np.uint16(7)]
    outs = [pymetallic.Buffer.from_numpy(cpu_device, np.full(OUT, FILL, np.uint8)) for _ in values]
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    for value, out in zip(values, outs):
        enc.set_bytes(value, 0)
        enc.set_bytes(np.uint32(min(value.nbytes, OUT)), 1)
        enc.set_buffer(out, 0, 2)
        enc.dispatch_threads((OUT, 1, 1), (OUT, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    for value, out in zip(values, outs):
        n = min(value.nbytes, OUT)
        assert out.to_numpy(np.uint8, (OUT,)).tobytes()[:n] == value.tobytes()[:n]
