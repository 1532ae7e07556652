"""Every name of the compatible API (shared/API.md) exists and behaves as documented."""

import threading

import numpy as np
import pytest

import pymetallic
from pymetallic import metallic

SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void add_k(device float* x [[buffer(0)]], constant float& k [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) { x[i] += k; }
"""


def test_module_level_names():
    for name in [
        "MetalError",
        "CompileError",
        "DeviceError",
        "ValidationError",
        "Device",
        "Buffer",
        "Library",
        "Function",
        "ComputePipelineState",
        "CommandQueue",
        "CommandBuffer",
        "ComputeCommandEncoder",
        "BlitCommandEncoder",
        "get_default_device",
        "Kernel",
        "async_buffer_from_numpy",
        "scalar_add",
        "scalar_multiply",
        "run_simple_compute_example",
    ]:
        assert hasattr(pymetallic, name), name
    for name in ["fill_u32", "read_scalar", "kernel_cache", "Kernel", "Device", "Buffer"]:
        assert hasattr(metallic, name), name
    assert issubclass(pymetallic.CompileError, pymetallic.MetalError)
    assert issubclass(pymetallic.ValidationError, ValueError)


def test_device_surface(device):
    d = pymetallic.get_default_device()
    assert d == pymetallic.Device.get_default_device()
    assert device in pymetallic.Device.get_all_devices()
    assert isinstance(device.name, str) and device.name
    assert device.kind in ("cpu", "cuda")
    assert device.supports_shader_barycentric_coordinates() is False
    assert pymetallic.Device.STORAGE_SHARED == 0
    assert device.max_threads_per_threadgroup >= 256
    assert device.max_threadgroup_memory_length >= 16384
    assert device.recommended_working_set_size > 0
    assert isinstance(device.has_unified_memory, bool)
    assert device.kind in repr(device)
    # properties give new objects each time
    assert isinstance(device.command_queue, pymetallic.CommandQueue)
    assert device.command_queue is not device.command_queue
    assert isinstance(device.command_buffer, pymetallic.CommandBuffer)
    assert isinstance(device.command_encoder, pymetallic.ComputeCommandEncoder)
    lib = device.make_library(SRC)
    assert lib.function_names == ["add_k"]
    fn = lib.make_function("add_k")
    assert fn.name == "add_k" and fn.library is lib or fn.library.function_names == ["add_k"]
    args = fn.arguments
    assert [(a.name, a.kind, a.index) for a in args[:2]] == [("x", "buffer", 0), ("k", "buffer", 1)]
    assert args[0].access == "read_write" and args[1].access == "read_only"
    assert args[2].kind == "builtin"
    p = device.make_compute_pipeline_state(fn)
    assert p.device == device and p.function.name == "add_k"
    assert p.thread_execution_width == 32
    assert p.max_total_threads_per_threadgroup >= 256
    buf = device.make_buffer(64)
    assert buf.size == buf.length == 64 and buf.device == device and buf.storage_mode == 0
    buf2 = device.make_buffer_from_numpy(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(buf2.to_numpy(np.float32), [0, 1, 2, 3])
    assert device.read_scalar(buf2, np.float32, 2) == 2.0
    k = device.make_kernel(SRC, "add_k")
    k(device.make_command_queue(), (4, 1, 1), buffers=[(buf2, 0)], bytes_args=[(np.float32(1), 1)])
    np.testing.assert_array_equal(buf2.to_numpy(np.float32), [1, 2, 3, 4])


def test_buffer_surface(device):
    assert (pymetallic.Buffer.STORAGE_SHARED, pymetallic.Buffer.STORAGE_MANAGED, pymetallic.Buffer.STORAGE_PRIVATE) == (
        0,
        1,
        2,
    )
    strided = np.arange(20, dtype=np.int32)[::2]  # non-contiguous input is made contiguous
    buf = pymetallic.Buffer.from_numpy(device, strided)
    np.testing.assert_array_equal(buf.to_numpy(np.int32), strided)
    view = buf.to_numpy(np.int32, (2, 5))
    assert view.shape == (2, 5)
    view[0, 0] = 99  # a view: later kernels see the write
    assert buf.to_numpy(np.int32)[0] == 99
    mv = buf.contents()
    assert isinstance(mv, memoryview) and mv.nbytes == 40
    managed = pymetallic.Buffer(device, 16, pymetallic.Buffer.STORAGE_MANAGED)
    managed.to_numpy(np.float32)[:] = 3
    managed.did_modify_range(0, 16)
    with pytest.raises(pymetallic.MetalError):
        managed.did_modify_range(8, 16)
    if device.kind == "cpu":
        assert np.from_dlpack(buf).nbytes == 40


def test_command_buffer_surface(device):
    buf = pymetallic.Buffer.from_numpy(device, np.zeros(8, np.float32))
    q = pymetallic.CommandQueue(device)
    assert q.device == device
    cb = pymetallic.CommandBuffer(q)
    assert cb.command_queue is q or cb.command_queue.device == device
    assert cb.get_status() == 0 and cb.status == pymetallic.CommandBufferStatus.NOT_ENQUEUED
    assert cb.gpu_start_time == 0
    done = threading.Event()
    seen = []
    cb.add_completed_handler(lambda c: (seen.append(c.get_status()), done.set()))
    enc = cb.compute_command_encoder()
    enc.set_compute_pipeline_state(metallic.kernel_cache.get(device, SRC, "add_k"))
    enc.set_buffers([buf], [0], 0)
    enc.set_bytes(np.float32(2.5), 1)
    enc.dispatch_threadgroups((1, 1, 1), (8, 1, 1))
    enc.commit()  # forwards to the command buffer (ending the encoder)
    enc.wait_until_completed()
    assert done.wait(10)
    assert seen == [1]
    assert cb.status == pymetallic.CommandBufferStatus.COMPLETED
    assert cb.gpu_end_time >= cb.gpu_start_time > 0
    np.testing.assert_array_equal(buf.to_numpy(np.float32), np.full(8, 2.5))
    # Textures are supported: None unbinds a slot, as nil does in Metal; indices are checked.
    enc = pymetallic.CommandQueue(device).make_command_buffer().make_compute_command_encoder()
    enc.set_texture(None, 0)
    with pytest.raises((pymetallic.MetalError, ValueError), match="0 to 127"):
        enc.set_texture(None, 128)


def test_blit_encoder(device):
    src = pymetallic.Buffer.from_numpy(device, np.arange(16, dtype=np.uint8))
    dst = pymetallic.Buffer(device, 16)
    cb = pymetallic.CommandQueue(device).make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(src, 4, dst, 0, 8)
    blit.fill_buffer(dst, range(8, 12), 0xAB)
    blit.synchronize_resource(dst)
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(dst.to_numpy(np.uint8), list(range(4, 12)) + [0xAB] * 4 + [0] * 4)


def test_kernel_cache_and_helpers(device):
    cache = metallic.kernel_cache
    a = cache.get(device, SRC, "add_k")
    b = cache.get(device, SRC, "add_k")
    assert a is b
    key = next(k for k in cache.stats() if k[1] == SRC and k[2] == "add_k")
    assert cache.stats()[key] >= 1
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(device, SRC, "add_k"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is a for r in results)

    buf = pymetallic.Buffer(device, 40)
    metallic.fill_u32(device, buf, 7, count_u32=6)
    q = pymetallic.CommandQueue(device)
    np.testing.assert_array_equal(buf.to_numpy(np.uint32), [7] * 6 + [0] * 4)
    assert metallic.read_scalar(q, buf, np.uint32, 3) == 7
    f = pymetallic.Buffer.from_numpy(device, np.arange(10, dtype=np.float32))
    pymetallic.scalar_add(device, f, 1.5)
    pymetallic.scalar_multiply(device, f, 2.0, count=5)
    ref = np.arange(10, dtype=np.float32) + 1.5
    ref[:5] *= 2
    np.testing.assert_array_equal(f.to_numpy(np.float32), ref)
    with pytest.raises(ValueError):
        metallic.fill_u32(device, buf, 1, count_u32=11)


def test_async_buffer_from_numpy(device):
    data = np.arange(32, dtype=np.float32)
    cb = pymetallic.CommandQueue(device).make_command_buffer()
    private = pymetallic.async_buffer_from_numpy(device, data, cb)
    assert private.storage_mode == pymetallic.Buffer.STORAGE_PRIVATE
    out = pymetallic.Buffer(device, data.nbytes)
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(private, 0, out, 0, data.nbytes)
    blit.end_encoding()
    assert cb.get_status() == 0  # not committed by the helper
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(out.to_numpy(np.float32), data)


def test_run_simple_compute_example(capsys):
    assert pymetallic.run_simple_compute_example() is True
    out = capsys.readouterr().out
    assert "Using device:" in out and "Computation complete!" in out


def test_buffer_protocol(device):
    data = np.arange(16, dtype=np.float32)
    buf = pymetallic.Buffer.from_numpy(device, data)
    mv = memoryview(buf)
    assert mv.nbytes == 64 and mv.format == "B" and not mv.readonly
    np.testing.assert_array_equal(np.frombuffer(buf, np.float32), data)
    np.frombuffer(buf, np.float32)[3] = 99  # writable, the same memory
    assert buf.to_numpy(np.float32)[3] == 99
    assert bytes(buf)[:4] == np.float32(0).tobytes()
    mv.release()
    private = pymetallic.Buffer(device, 16, pymetallic.Buffer.STORAGE_PRIVATE)
    with pytest.raises(BufferError, match="private"):
        memoryview(private)


def test_nvrtc_from_nvidia_wheels_is_found(tmp_path):
    # NVIDIA's wheels install site-packages/nvidia/<component>/lib/libnvrtc.so*: the package
    # points the native loader there (PYMETALLIC_NVRTC_PATH).
    import os
    import subprocess
    import sys

    lib = tmp_path / "nvidia" / "cuda_nvrtc" / "lib"
    lib.mkdir(parents=True)
    (lib / "libnvrtc.so.13").write_bytes(b"")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), os.path.dirname(os.path.dirname(pymetallic.__file__))])
    env.pop("PYMETALLIC_NVRTC_PATH", None)
    out = subprocess.run(
        [sys.executable, "-c", "import pymetallic, os; print(os.environ['PYMETALLIC_NVRTC_PATH'])"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert str(lib) in out.stdout
