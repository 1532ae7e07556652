"""The CUDA side of interop: PyTorch CUDA tensors and CuPy arrays passed to kernels and read
back through DLPack and the CUDA array interface with no copy (pointer equality), ordered
across streams. Skips without a CUDA GPU (and each library's part without that library)."""

import numpy as np
import pytest

import pymetallic as pm

CUDA = [d for d in pm.Device.get_all_devices() if d.kind == "cuda"]
pytestmark = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")

SOURCE = """
#include <metal_stdlib>
using namespace metal;

kernel void scale(device float* x [[buffer(0)]], constant float& s [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
    x[i] *= s;
}

kernel void slow_fill(device uint* out [[buffer(0)]], constant uint& rounds [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    uint v = i;
    for (uint r = 0; r < rounds; ++r) v = v * 1664525u + 1013904223u;
    out[i] = v;
}

kernel void copy_plus(device const float* src [[buffer(0)]], device float* dst [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    dst[i] = src[i] + 1.0f;
}
"""


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


@pytest.fixture(scope="module")
def gpu():
    return CUDA[0]


@pytest.fixture(scope="module")
def lib(gpu):
    return pm.Library(gpu, SOURCE)


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    return torch


@pytest.fixture(scope="module")
def cupy():
    return pytest.importorskip("cupy")


def test_dlpack_device_and_cai_of_gpu_buffers(gpu):
    buf = pm.Buffer.from_numpy(gpu, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert buf.__dlpack_device__() == (2, gpu.ordinal)
    cai = buf.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<f4"
    assert cai["data"][0] == buf.gpu_address and cai["stream"] not in (None, 0)


def test_torch_tensor_into_kernel_in_place(torch, lib, gpu):
    t = torch.arange(4096, dtype=torch.float32, device=f"cuda:{gpu.ordinal}")
    v = pm.asarray(t)
    assert v.data_ptr == t.data_ptr() and v.device.kind == "cuda"  # no copy
    lib.scale(t, 3.0, threads=4096)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(t.cpu().numpy(), 3 * np.arange(4096, dtype=np.float32))


def test_torch_reads_buffer_without_copy(torch, lib, gpu):
    buf = pm.Buffer.from_numpy(gpu, np.arange(24, dtype=np.float32).reshape(4, 6))
    lib.scale(buf, 2.0, threads=24)
    t = torch.from_dlpack(buf)
    assert t.data_ptr() == buf.gpu_address and t.dtype == torch.float32 and tuple(t.shape) == (4, 6)
    np.testing.assert_array_equal(t.cpu().numpy(), 2 * np.arange(24, dtype=np.float32).reshape(4, 6))


def test_ordering_our_queue_before_torch_stream(torch, lib, gpu):
    """Work committed on our queue before the export is visible to the consumer's stream."""
    n, rounds = 1 << 16, 1_000_000
    buf = pm.Buffer(gpu, 4 * n)
    cb = lib.slow_fill(buf, rounds, threads=n, wait=False)
    side = torch.cuda.Stream(device=gpu.ordinal)
    with torch.cuda.stream(side):
        t = torch.from_dlpack(buf.view(np.uint32).view(np.int32))  # __dlpack__(stream=side)
        copy = t.clone()  # queued on `side`, must run after slow_fill
    side.synchronize()
    np.testing.assert_array_equal(copy.cpu().numpy().view(np.uint32), lcg(n, rounds))
    cb.wait_until_completed()


def test_ordering_torch_stream_before_our_queue(torch, lib, gpu):
    """The producer's pending work on its stream comes before our kernel that imports it."""
    n = 1 << 20
    side = torch.cuda.Stream(device=gpu.ordinal)
    dst = torch.zeros(n, dtype=torch.float32, device=f"cuda:{gpu.ordinal}")
    torch.cuda.synchronize()  # only `side`'s work is left pending below
    with torch.cuda.stream(side):
        src = torch.zeros(n, dtype=torch.float32, device=f"cuda:{gpu.ordinal}")
        torch.cuda._sleep(200_000_000)  # keeps `side` busy for a while
        src.fill_(41.0)
        s = pm.asarray(src)  # __dlpack__(stream=our interop stream): we wait for `side`
        d = pm.asarray(dst)
    lib.copy_plus(s, d, threads=n)
    torch.cuda.synchronize()
    assert float(dst.min()) == 42.0 and float(dst.max()) == 42.0


def test_cupy_array_into_kernel_and_back(cupy, lib, gpu):
    with cupy.cuda.Device(gpu.ordinal):
        a = cupy.arange(1000, dtype=cupy.float32)
        v = pm.asarray(a)
        assert v.data_ptr == a.data.ptr  # no copy
        lib.scale(a, 0.5, threads=1000)
        np.testing.assert_array_equal(cupy.asnumpy(a), 0.5 * np.arange(1000, dtype=np.float32))
        buf = pm.Buffer.from_numpy(gpu, np.arange(10, dtype=np.int32))
        c = cupy.asarray(buf)  # through __cuda_array_interface__
        assert c.data.ptr == buf.gpu_address and c.dtype == cupy.int32
        d = cupy.from_dlpack(buf)
        assert d.data.ptr == buf.gpu_address
        np.testing.assert_array_equal(cupy.asnumpy(d), np.arange(10, dtype=np.int32))


def test_cupy_through_cuda_array_interface_only(cupy, lib, gpu):
    class OnlyCAI:
        def __init__(self, a):
            self.a = a
            self.__cuda_array_interface__ = a.__cuda_array_interface__

    with cupy.cuda.Device(gpu.ordinal):
        a = cupy.ones(256, dtype=cupy.float32)
        lib.scale(OnlyCAI(a), 4.0, threads=256)
        np.testing.assert_array_equal(cupy.asnumpy(a), np.full(256, 4.0, np.float32))


def test_metal_kernel_on_torch_and_cupy(torch, gpu):
    k = pm.fast.metal_kernel(
        name="myexp",
        input_names=["inp"],
        output_names=["out"],
        source="uint elem = thread_position_in_grid.x;\nout[elem] = metal::exp(inp[elem]);",
    )
    t = torch.linspace(-2, 2, 300, device=f"cuda:{gpu.ordinal}")
    (out,) = k(
        inputs=[t], grid=(300, 1, 1), threadgroup=(64, 1, 1), output_shapes=[(300,)], output_dtypes=[torch.float32]
    )
    assert isinstance(out, torch.Tensor) and out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().numpy(), np.exp(t.cpu().numpy()), rtol=1e-6)


def test_metal_kernel_on_cupy(cupy, gpu):
    k = pm.fast.metal_kernel(
        name="twice",
        input_names=["a"],
        output_names=["b"],
        source="uint i = thread_position_in_grid.x;\nb[i] = a[i] * 2;",
    )
    with cupy.cuda.Device(gpu.ordinal):
        a = cupy.arange(100, dtype=cupy.int32)
        (b,) = k(inputs=[a], grid=(100, 1, 1), threadgroup=(32, 1, 1), output_shapes=[(100,)], output_dtypes=[np.int32])
        assert isinstance(b, cupy.ndarray)
        np.testing.assert_array_equal(cupy.asnumpy(b), 2 * np.arange(100))


def test_gpu_view_reads_are_ordered_after_pending_work(lib, gpu):
    n, rounds = 1 << 16, 1_000_000
    buf = pm.Buffer(gpu, 4 * n)
    cb = lib.slow_fill(buf, rounds, threads=n, wait=False)
    np.testing.assert_array_equal(buf.view(np.uint32).numpy(), lcg(n, rounds))
    strided = buf.view(np.uint32, shape=(n // 2,), strides=(8,), offset=4)
    np.testing.assert_array_equal(strided.numpy(), lcg(n, rounds)[1::2])
    np.testing.assert_array_equal(strided.copy().numpy(), lcg(n, rounds)[1::2])
    cb.wait_until_completed()


def test_numpy_into_gpu_kernel_copies_in_and_back(lib, gpu):
    x = np.arange(64, dtype=np.float32)
    lib.scale(x, 2.0, threads=64)  # through a device copy, written back
    np.testing.assert_array_equal(x, 2 * np.arange(64, dtype=np.float32))


def test_metal_kernel_host_inputs_on_the_gpu_come_back_to_the_host(torch, gpu):
    k = pm.fast.metal_kernel(
        name="inc",
        input_names=["a"],
        output_names=["b"],
        source="uint i = thread_position_in_grid.x;\nb[i] = a[i] + 1;",
    )
    t = torch.arange(50, dtype=torch.float32)  # a CPU tensor, run on the GPU through copies
    (out,) = k(
        inputs=[t],
        grid=(50, 1, 1),
        threadgroup=(32, 1, 1),
        output_shapes=[(50,)],
        output_dtypes=[torch.float32],
        device=gpu,
    )
    assert isinstance(out, torch.Tensor) and out.device.type == "cpu"
    np.testing.assert_array_equal(out.numpy(), np.arange(50, dtype=np.float32) + 1)
    (n,) = k(
        inputs=[np.arange(50, dtype=np.float32)],
        grid=(50, 1, 1),
        threadgroup=(32, 1, 1),
        output_shapes=[(50,)],
        output_dtypes=[np.float32],
        device=gpu,
    )
    assert isinstance(n, np.ndarray)
    np.testing.assert_array_equal(n, np.arange(50, dtype=np.float32) + 1)


def test_bfloat16_tensors_through_dlpack(torch, gpu):
    t = torch.linspace(-3, 3, 64, device=f"cuda:{gpu.ordinal}").to(torch.bfloat16)
    v = pm.asarray(t)
    assert v.dtype == pm.bfloat16 and v.data_ptr == t.data_ptr()
    k = pm.fast.metal_kernel(
        name="bf",
        input_names=["x"],
        output_names=["y"],
        source="uint i = thread_position_in_grid.x;\ny[i] = float(x[i]) * 2.0f;",
    )
    (y,) = k(inputs=[t], grid=(64, 1, 1), threadgroup=(64, 1, 1), output_shapes=[(64,)], output_dtypes=[torch.float32])
    np.testing.assert_array_equal(y.cpu().numpy(), 2 * t.float().cpu().numpy())
    back = torch.from_dlpack(v)
    assert back.dtype == torch.bfloat16 and back.data_ptr() == t.data_ptr()


def test_cai_stream_entry_orders_the_producers_work_first(cupy, lib, gpu):
    """CUDA array interface v3: our kernel waits for the work pending on the array's `stream`."""

    class OnlyCAI:
        def __init__(self, a):
            self.__cuda_array_interface__ = a.__cuda_array_interface__

    n = 1 << 20
    with cupy.cuda.Device(gpu.ordinal):
        dst = cupy.zeros(n, dtype=cupy.float32)
        cupy.cuda.Device().synchronize()
        side = cupy.cuda.Stream(non_blocking=True)
        with side:
            src = cupy.zeros(n, dtype=cupy.float32)
            x = cupy.ones((4096, 4096), dtype=cupy.float32)
            for _ in range(8):  # keeps `side` busy for a while
                x = (x @ x) * cupy.float32(1.0 / 4096)
            src.fill(41.0)
            producer = OnlyCAI(src)  # its 'stream' entry is `side`
            if producer.__cuda_array_interface__.get("stream") is None:
                pytest.skip("this CuPy exports no 'stream' entry")
            assert producer.__cuda_array_interface__["stream"] == side.ptr
        lib.copy_plus(producer, OnlyCAI(dst), threads=n)
        cupy.cuda.Device().synchronize()
        assert float(dst.min()) == 42.0 and float(dst.max()) == 42.0
