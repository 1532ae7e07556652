"""Arrays in and out on the CPU device: DLPack both ways, typed views, foreign arrays as kernel
arguments, callable kernels with reflected scalar types, and the original package's habits.
(tests/python/test_interop_gpu.py runs the CUDA side with PyTorch and CuPy.)"""

import gc
import weakref

import numpy as np
import pytest

import pymetallic as pm

CPU = next(d for d in pm.Device.get_all_devices() if d.kind == "cpu")

SOURCE = """
#include <metal_stdlib>
using namespace metal;

kernel void scale(device float* x [[buffer(0)]], constant float& s [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
    x[i] *= s;
}

kernel void saxpy(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  constant float& a [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    y[i] = a * x[i] + y[i];
}

kernel void take_half(device float* out [[buffer(0)]], constant half& h [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    out[i] = float(h);
}

kernel void take_ints(device long* out [[buffer(0)]], constant uchar& c [[buffer(1)]],
                      constant int& k [[buffer(2)]], constant uint& u [[buffer(3)]],
                      constant short2& v [[buffer(4)]], uint i [[thread_position_in_grid]]) {
    out[0] = c; out[1] = k; out[2] = u; out[3] = v.x; out[4] = v.y;
}

kernel void group_sum(device const float* x [[buffer(0)]], device float* sums [[buffer(1)]],
                      threadgroup float* scratch [[threadgroup(0)]],
                      uint i [[thread_position_in_grid]], uint t [[thread_position_in_threadgroup]],
                      uint g [[threadgroup_position_in_grid]], uint n [[threads_per_threadgroup]]) {
    scratch[t] = x[i];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = n / 2; s > 0; s /= 2) {
        if (t < s) scratch[t] += scratch[t + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (t == 0) sums[g] = scratch[0];
}

kernel void slow_fill(device uint* out [[buffer(0)]], constant uint& rounds [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    uint v = i;
    for (uint r = 0; r < rounds; ++r) v = v * 1664525u + 1013904223u;
    out[i] = v;
}
"""


@pytest.fixture(scope="module")
def lib():
    return pm.Library(CPU, SOURCE)


def released(ref, seconds=5.0):
    """Whether the weakly referenced object goes away (a queue's worker thread may drop its last
    reference to a finished command buffer a moment after the wait returned)."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        gc.collect()
        if ref() is None:
            return True
        time.sleep(0.01)
    return False


def lcg(n, rounds):
    """x -> 1664525 x + 1013904223 (mod 2**32), `rounds` times, from x = i: composed by squaring."""
    m = 1 << 32
    a, c = 1, 0  # the identity map
    step_a, step_c = 1664525, 1013904223
    while rounds:
        if rounds & 1:
            a, c = (step_a * a) % m, (step_a * c + step_c) % m
        step_a, step_c = (step_a * step_a) % m, (step_a * step_c + step_c) % m
        rounds >>= 1
    return ((np.arange(n, dtype=np.uint64) * np.uint64(a) + np.uint64(c)) % np.uint64(m)).astype(np.uint32)


# ------------------------------------------------------------------ DLPack out


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.uint16, np.int64, np.float64, np.bool_])
def test_numpy_round_trip_keeps_dtype_and_shape(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    buf = pm.Buffer.from_numpy(CPU, a)
    b = np.from_dlpack(buf)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)
    assert b.ctypes.data == buf.gpu_address  # the buffer's memory, not a copy
    assert buf.__dlpack_device__() == (1, 0)


def test_export_is_the_memory_kernels_write(lib):
    buf = pm.Buffer.from_numpy(CPU, np.ones(64, np.float32))
    host = np.from_dlpack(buf)
    lib.scale(buf, 3.0, threads=64)
    np.testing.assert_array_equal(host, np.full(64, 3.0, np.float32))
    host[:] = 5  # and the other way round
    lib.scale(buf, 2.0, threads=64)
    np.testing.assert_array_equal(buf.view(np.float32).numpy(), np.full(64, 10.0, np.float32))


def test_typed_views_with_offset_and_strides():
    a = np.arange(48, dtype=np.float32)
    buf = pm.Buffer.from_numpy(CPU, a)
    v = buf.view(np.float32, shape=(3, 4), strides=(32, 8), offset=16)
    ref = np.lib.stride_tricks.as_strided(a[4:], (3, 4), (32, 8))
    out = np.from_dlpack(v)
    np.testing.assert_array_equal(out, ref)
    assert out.ctypes.data == buf.gpu_address + 16
    assert v.strides == (32, 8) and v.shape == (3, 4) and not v.is_contiguous
    with pytest.raises(pm.ValidationError, match="reaches bytes"):
        buf.view(np.float32, shape=(6, 4), strides=(32, 8), offset=16)
    with pytest.raises(pm.ValidationError, match="multiple"):
        buf.view(np.float32, offset=2)


def test_untyped_buffer_exports_bytes():
    buf = pm.Buffer(CPU, 10)
    b = np.from_dlpack(buf)
    assert b.dtype == np.uint8 and b.shape == (10,)


def test_cpu_buffers_have_no_cuda_array_interface():
    buf = pm.Buffer.from_numpy(CPU, np.zeros(4, np.float32))
    assert not hasattr(buf, "__cuda_array_interface__")
    assert not hasattr(buf.view(np.float32), "__cuda_array_interface__")


def test_export_waits_for_committed_work(lib):
    """DLPack's rule on the CPU: work queued before the export is visible to the consumer."""
    n, rounds = 4096, 20000
    buf = pm.Buffer(CPU, 4 * n)
    queue = CPU.make_command_queue()
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pm.ComputePipelineState(CPU, lib.make_function("slow_fill")))
    enc.set_buffer(buf, 0, 0)
    enc.set_bytes(np.uint32(rounds), 1)
    enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()  # no wait: the export must order itself after this work
    out = np.from_dlpack(buf.view(np.uint32))
    np.testing.assert_array_equal(out, lcg(n, rounds))


def test_copy_and_dl_device_requests():
    a = np.arange(6, dtype=np.int32)
    buf = pm.Buffer.from_numpy(CPU, a)
    c = np.from_dlpack(buf, copy=True)
    assert c.ctypes.data != buf.gpu_address
    np.testing.assert_array_equal(c, a)
    with pytest.raises(BufferError):
        buf.__dlpack__(dl_device=(2, 0), copy=False)


# ------------------------------------------------------------------ DLPack in


def test_asarray_wraps_numpy_in_place(lib):
    a = np.zeros(100, np.float32) + 1
    v = pm.asarray(a, device=CPU)
    assert v.data_ptr == a.ctypes.data and v.buffer.is_foreign
    lib.scale(v, 4.0, threads=100)
    np.testing.assert_array_equal(a, np.full(100, 4.0, np.float32))


def test_from_dlpack_strided_and_reversed():
    a = np.arange(20, dtype=np.float64).reshape(4, 5)
    for src in (a[:, ::2], a[::-1], a.T):
        v = pm.from_dlpack(src)
        back = np.from_dlpack(v)
        np.testing.assert_array_equal(back, src)
        assert np.shares_memory(back, a)
        assert v.strides == src.strides


def test_buffer_from_dlpack_keeps_dtype_shape():
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    buf = pm.Buffer.from_dlpack(a)
    assert isinstance(buf, pm.Buffer)
    b = np.from_dlpack(buf)
    assert b.dtype == np.int16 and b.shape == (3, 4) and b.ctypes.data == a.ctypes.data


def test_read_only_arrays_wrap():
    a = np.arange(8, dtype=np.float32)
    a.setflags(write=False)
    v = pm.asarray(a)
    np.testing.assert_array_equal(v.numpy(), a)


def test_wrapped_arrays_stay_alive_while_needed(lib):
    class Owner(np.ndarray):
        pass

    a = np.ones(256, np.float32).view(Owner)
    ref = weakref.ref(a)
    v = pm.asarray(a)
    del a
    gc.collect()
    assert ref() is not None  # the view holds it
    lib.scale(v, 2.0, threads=256)
    np.testing.assert_array_equal(v.numpy(), np.full(256, 2.0, np.float32))
    del v
    assert released(ref)  # and lets it go


def test_set_buffer_accepts_foreign_arrays_and_holds_them(lib):
    class Arr(np.ndarray):
        pass

    x = np.arange(32, dtype=np.float32)
    y = np.ones(32, np.float32)
    queue = CPU.make_command_queue()
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pm.ComputePipelineState(CPU, lib.make_function("saxpy")))
    enc.set_buffer(x, 0, 0)
    yv = y.view(Arr)
    held = weakref.ref(yv)
    enc.set_buffer(yv, 0, 1)
    del yv
    gc.collect()
    assert held() is not None  # the recorded command holds the array
    enc.set_bytes(np.float32(3), 2)
    enc.dispatch_threads((32, 1, 1), (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(y, 3 * np.arange(32, dtype=np.float32) + 1)
    del cb, enc
    assert released(held)
    with pytest.raises(TypeError):
        queue.make_command_buffer().make_compute_command_encoder().set_buffer(object(), 0, 0)


def test_foreign_device_is_refused_without_copy():
    class FakeCuda:
        def __dlpack_device__(self):
            return (2, 7)

        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked")

    with pytest.raises(pm.ValidationError, match="copy"):
        pm.asarray(FakeCuda(), device=CPU)


def test_torch_cpu_tensors_if_installed(lib):
    torch = pytest.importorskip("torch")
    t = torch.arange(16, dtype=torch.float32)
    v = pm.asarray(t)
    assert v.data_ptr == t.data_ptr()
    lib.scale(t, 2.0, threads=16)  # in place, through DLPack
    np.testing.assert_array_equal(t.numpy(), 2 * np.arange(16, dtype=np.float32))
    back = torch.from_dlpack(pm.Buffer.from_numpy(CPU, np.arange(6, dtype=np.int32).reshape(2, 3)))
    assert back.dtype == torch.int32 and tuple(back.shape) == (2, 3)


# ------------------------------------------------------------------ callable kernels


def test_callable_kernel_by_position_and_name(lib):
    x = np.arange(1000, dtype=np.float32)
    y = np.ones(1000, np.float32)
    lib.saxpy(x, y, 2.0, threads=1000)
    np.testing.assert_allclose(y, 2 * x + 1)
    pipeline = pm.ComputePipelineState(CPU, lib.make_function("saxpy"))
    pipeline(x, a=0.5, y=y, grid=(1000,), threadgroup=(100,))
    np.testing.assert_allclose(y, 2.5 * x + 1)
    with pytest.raises(TypeError, match="missing"):
        lib.saxpy(x, threads=10)
    with pytest.raises(AttributeError, match="no kernel"):
        _ = lib.nothing_here


def test_reflected_scalar_types(lib):
    out = np.zeros(1, np.float32)
    lib.take_half(out, 1.0009765625 + 2**-12, threads=1)  # rounds to the nearest half
    assert out[0] == np.float32(np.float16(1.0009765625 + 2**-12))
    with pytest.raises(ValueError, match="overflows"):
        lib.take_half(out, 70000, threads=1)
    ints = np.zeros(5, np.int64)
    lib.take_ints(ints, 255, -7, 4000000000, (3, -4), threads=1)
    np.testing.assert_array_equal(ints, [255, -7, 4000000000, 3, -4])
    with pytest.raises(ValueError, match=r"outside \[0, 255\]"):
        lib.take_ints(ints, 256, 0, 0, (0, 0), threads=1)
    with pytest.raises(ValueError, match="outside"):
        lib.take_ints(ints, 0, 0, -1, (0, 0), threads=1)
    with pytest.raises(ValueError, match="outside"):
        lib.take_ints(ints, 0, 2**31, 0, (0, 0), threads=1)
    with pytest.raises(ValueError, match="whole number"):
        lib.take_ints(ints, 0, 1.5, 0, (0, 0), threads=1)
    with pytest.raises(ValueError, match="2 components"):
        lib.take_ints(ints, 0, 0, 0, (1, 2, 3), threads=1)


def test_lists_take_the_parameters_element_type(lib):
    y = np.zeros(3, np.float32)
    lib.saxpy([1.5, 2.5, 3.5], y, 2.0, threads=3)  # a list for `device const float*`: float32 items
    np.testing.assert_array_equal(y, [3.0, 5.0, 7.0])


def test_threadgroup_memory_and_wait_false(lib):
    x = np.random.default_rng(1).random(1024).astype(np.float32)
    sums = np.zeros(8, np.float32)
    cb = lib.group_sum(x, sums, threads=1024, group_size=128, threadgroup_memory=128 * 4, wait=False)
    cb.wait_until_completed()
    np.testing.assert_allclose(sums, x.reshape(8, 128).sum(axis=1, dtype=np.float64), rtol=1e-5)


def test_callable_kernel_with_buffers(lib):
    buf = pm.Buffer.from_numpy(CPU, np.full(10, 2.0, np.float32))
    lib.scale(buf, 1.5, threads=10)
    np.testing.assert_array_equal(np.from_dlpack(buf), np.full(10, 3.0, np.float32))


# ------------------------------------------------------------------ the original package's habits


def test_weak_references_read_scalar_and_pso(lib):
    buf = pm.Buffer.from_numpy(CPU, np.array([7.5, 2.0], np.float32))
    r = weakref.ref(buf)
    assert r() is buf
    queue = CPU.make_command_queue()
    assert CPU.read_scalar(queue, buf, np.float32) == 7.5
    assert CPU.read_scalar(buf, np.float32, 1) == 2.0
    assert pm.read_scalar(queue, buf, np.float32) == 7.5
    k = pm.Kernel(CPU, SOURCE, "scale")
    assert k._pso is k.pipeline
    del buf
    assert released(r)
    with pytest.raises(pm.MetalError):
        pm.Kernel(CPU, SOURCE, "no_such_kernel")


def test_docs_interop_examples_run():
    """docs/interop.md's Python blocks, in order, as one program (they build on each other)."""
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "interop.md")
    blocks = re.findall(r"```python\n(.*?)```", open(path).read(), re.S)
    assert len(blocks) >= 6
    scope = {}
    for block in blocks:
        exec(compile(block, path, "exec"), scope)  # noqa: S102 - our own documentation
