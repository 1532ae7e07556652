"""The original package's conveniences (pymetallic.metallic), against NumPy."""

import threading

import numpy as np
import pytest

import pymetallic
from pymetallic import metallic
from pymetallic.kernels import HELPERS, VECTOR_OPS, available_kernels, get_kernel_source


@pytest.fixture(scope="module")
def device():
    return pymetallic.Device.get_default_device()


@pytest.fixture(scope="module")
def queue(device):
    return pymetallic.CommandQueue(device)


def test_kernel_sources_ship_with_the_package():
    names = available_kernels()
    for name in (
        "vector_ops",
        "mandelbrot",
        "life",
        "fluid",
        "image_processing",
        "linear_algebra",
        "helpers",
        "reduction",
        "nbody",
        "image_texture",
    ):
        assert name in names
        assert "kernel void" in get_kernel_source(name)
    assert get_kernel_source("fluid.metal") == pymetallic.kernels.FLUID
    with pytest.raises(FileNotFoundError):
        get_kernel_source("no_such_kernel")
    with pytest.raises(ValueError):
        get_kernel_source("../helpers")


@pytest.mark.parametrize("name", [n for n in available_kernels() if n != "image_texture"])
def test_every_shipped_kernel_file_compiles(device, name):
    lib = pymetallic.Library(device, get_kernel_source(name))
    assert lib.function_names


def test_kernel_runs_and_caches(device, queue):
    a = np.arange(300, dtype=np.float32)
    b = np.full(300, 0.5, np.float32)
    ba, bb = pymetallic.Buffer.from_numpy(device, a), pymetallic.Buffer.from_numpy(device, b)
    out = pymetallic.Buffer(device, a.nbytes)
    k = metallic.Kernel(device, VECTOR_OPS, "saxpy")
    cb = k(queue, 300, buffers=[(ba, 0), (bb, 1), (out, 2)], bytes_args=[(np.float32(3), 3)])
    assert cb.get_status() == 1
    np.testing.assert_allclose(out.to_numpy(np.float32), 3 * a + b)
    k2 = metallic.Kernel(device, VECTOR_OPS, "saxpy")
    assert k2.pipeline is k.pipeline  # same key, same pipeline
    key = next(key for key in metallic.kernel_cache.stats() if key[2] == "saxpy" and key[1] == VECTOR_OPS)
    assert metallic.kernel_cache.stats()[key] >= 1
    # tgs=None picks (min(grid, 256), 1, 1): a grid of 300 has a partial edge group.
    k3 = metallic.Kernel(device, VECTOR_OPS, "vector_add")
    k3(queue, (300, 1, 1), buffers=[(ba, 0), (bb, 1), (out, 2)])
    np.testing.assert_allclose(out.to_numpy(np.float32), a + b)


def test_kernel_cache_is_thread_safe(device):
    results = []

    def get():
        results.append(metallic.kernel_cache.get(device, HELPERS, "copy_f32"))

    threads = [threading.Thread(target=get) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in results}) == 1


def test_fill_u32(device):
    buf = pymetallic.Buffer(device, 40)
    buf.to_numpy(np.uint32)[:] = 7
    metallic.fill_u32(device, buf, 0xCAFEBABE, 6)
    got = buf.to_numpy(np.uint32)
    assert list(got[:6]) == [0xCAFEBABE] * 6 and list(got[6:]) == [7] * 4
    metallic.fill_u32(device, buf, 1)
    assert np.all(buf.to_numpy(np.uint32) == 1)
    with pytest.raises(pymetallic.ValidationError):
        metallic.fill_u32(device, buf, 1, 11)


def test_scalar_add_and_multiply(device):
    x = np.linspace(-2, 2, 1000).astype(np.float32)
    buf = pymetallic.Buffer.from_numpy(device, x)
    pymetallic.scalar_add(device, buf, 1.5)
    np.testing.assert_allclose(buf.to_numpy(np.float32), x + np.float32(1.5))
    pymetallic.scalar_multiply(device, buf, -2.0, count=10)
    expected = x + np.float32(1.5)
    expected[:10] *= -2
    np.testing.assert_allclose(buf.to_numpy(np.float32), expected)
    with pytest.raises(pymetallic.ValidationError):
        pymetallic.scalar_add(device, buf, 1.0, count=1001)


def test_read_scalar(device, queue):
    data = np.array([3, 1, 4, 1, 5], np.int32)
    buf = pymetallic.Buffer.from_numpy(device, data)
    assert metallic.read_scalar(queue, buf, np.int32) == 3
    assert metallic.read_scalar(queue, buf, np.int32, 4) == 5
    assert device.read_scalar(buf, np.int32, 2) == 4
    with pytest.raises(pymetallic.ValidationError):
        device.read_scalar(buf, np.int32, 5)


def test_read_scalar_waits_for_committed_work(device, queue):
    buf = pymetallic.Buffer.from_numpy(device, np.zeros(64, np.float32))
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(metallic.kernel_cache.get(device, HELPERS, "fill_f32"))
    enc.set_buffer(buf, 0, 0)
    enc.set_bytes(np.float32(9.25), 1)
    enc.dispatch_threads((64, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()  # no wait: read_scalar orders after it
    assert metallic.read_scalar(queue, buf, np.float32, 63) == 9.25


def test_async_buffer_from_numpy(device, queue):
    data = np.random.default_rng(0).random(1000).astype(np.float32)
    cb = queue.make_command_buffer()
    private = pymetallic.async_buffer_from_numpy(device, data, cb)
    assert private.storage_mode == pymetallic.Buffer.STORAGE_PRIVATE
    back = pymetallic.Buffer(device, data.nbytes)
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(private, 0, back, 0, data.nbytes)
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(back.to_numpy(np.float32), data)
    shared = pymetallic.async_buffer_from_numpy(
        device, data[::2], queue.make_command_buffer(), pymetallic.Buffer.STORAGE_SHARED
    )
    assert shared.size == data[::2].nbytes


def test_run_simple_compute_example(capsys):
    assert pymetallic.run_simple_compute_example() is True
    out = capsys.readouterr().out
    assert "Using device:" in out and "Computation complete!" in out
