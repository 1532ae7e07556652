"""The original pymetallic's conveniences: small buffer helpers, and Kernel and kernel_cache
(from pymetallic.kernel). Everything in the top-level package is available here too."""

from __future__ import annotations

import numpy as np

from ._api import (
    BlitCommandEncoder,
    Buffer,
    CommandBuffer,
    CommandBufferStatus,
    CommandQueue,  # noqa: F401
    ComputeCommandEncoder,
    ComputePipelineState,
    Device,
    Function,
    Library,
)
from .errors import CompileError, DeviceError, MetalError, ValidationError  # noqa: F401
from .kernel import Kernel, KernelCache, kernel_cache  # noqa: F401


def get_default_device():
    """The device kernels run on by default (``Device.get_default_device``: the first CUDA GPU,
    else the CPU; ``PYMETALLIC_DEVICE`` chooses). Raises DeviceError when none is usable."""
    return Device.get_default_device()


_HELPER_SOURCE = """
#include <metal_stdlib>
using namespace metal;

kernel void pm_fill_u32(device uint* data [[buffer(0)]], constant uint& value [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
    data[i] = value;
}

kernel void pm_scalar_add(device float* data [[buffer(0)]], constant float& s [[buffer(1)]],
                          uint i [[thread_position_in_grid]]) {
    data[i] += s;
}

kernel void pm_scalar_multiply(device float* data [[buffer(0)]], constant float& s [[buffer(1)]],
                               uint i [[thread_position_in_grid]]) {
    data[i] *= s;
}
"""


def _element_count(buffer, itemsize, count, what):
    available = buffer.size // itemsize
    if count is None:
        return available
    if count < 0 or count > available:
        raise ValidationError(f"{what}: count {count} is outside the buffer's {available} items")
    return count


def _run_helper(device, name, buffer, value, count):
    if count == 0:
        return
    queue = device.make_command_queue()
    Kernel(device, _HELPER_SOURCE, name)(queue, (count, 1, 1), buffers=[(buffer, 0)], bytes_args=[(value, 1)])


def fill_u32(device, buffer, value, count_u32=None):
    """Sets the first ``count_u32`` uint32 items of ``buffer`` (all by default) to ``value``."""
    count = _element_count(buffer, 4, count_u32, "fill_u32")
    _run_helper(device, "pm_fill_u32", buffer, np.uint32(value), count)


def scalar_add(device, buffer, scalar, count=None):
    """Adds ``scalar`` to float32 items of ``buffer``, in place."""
    _run_helper(device, "pm_scalar_add", buffer, np.float32(scalar), _element_count(buffer, 4, count, "scalar_add"))


def scalar_multiply(device, buffer, scalar, count=None):
    """Multiplies float32 items of ``buffer`` by ``scalar``, in place."""
    _run_helper(
        device, "pm_scalar_multiply", buffer, np.float32(scalar), _element_count(buffer, 4, count, "scalar_multiply")
    )


def read_scalar(queue, buffer, dtype, i=None):
    """Item ``i`` (default 0) of ``buffer`` after the work committed to ``queue`` so far.
    ``queue`` may be None: the buffer's own last work is waited for."""
    if queue is None:
        return buffer.device.read_scalar(buffer, dtype, 0 if i is None else i)
    cb = queue.make_command_buffer()
    cb.commit()
    cb.wait_until_completed()  # the queue runs in order: earlier work is done
    return queue.device.read_scalar(buffer, dtype, 0 if i is None else i)


def async_buffer_from_numpy(device, array, command_buffer, storage_mode=Buffer.STORAGE_PRIVATE):
    """A buffer (private by default) that ``command_buffer`` fills from ``array`` through a
    shared staging buffer. Does not commit: the data is there once the buffer completes."""
    array = np.ascontiguousarray(array)
    staging = Buffer.from_numpy(device, array)
    target = Buffer(device, array.nbytes, storage_mode)
    blit = command_buffer.make_blit_command_encoder()
    blit.copy_from_buffer(staging, 0, target, 0, array.nbytes)
    blit.end_encoding()
    # The recorded copy holds the staging memory until it has run.
    return target


_EXAMPLE_SOURCE = """
#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device const float* a [[buffer(0)]],
                       device const float* b [[buffer(1)]],
                       device float* out [[buffer(2)]],
                       uint i [[thread_position_in_grid]]) {
    out[i] = a[i] + b[i];
}
"""


def run_simple_compute_example():
    """Adds two vectors on the default device, checks the result and prints the device name."""
    device = Device.get_default_device()
    print(f"Using device: {device.name}")
    rng = np.random.default_rng(0)
    a = rng.random(1024, dtype=np.float32)
    b = rng.random(1024, dtype=np.float32)
    buf_a, buf_b = Buffer.from_numpy(device, a), Buffer.from_numpy(device, b)
    out = Buffer(device, a.nbytes)
    Kernel(device, _EXAMPLE_SOURCE, "vector_add")(
        device.make_command_queue(), (a.size, 1, 1), (32, 1, 1), buffers=[(buf_a, 0), (buf_b, 1), (out, 2)]
    )
    result = out.to_numpy(np.float32, (a.size,))
    ok = bool(np.allclose(result, a + b))
    print("Computation complete!" if ok else "Computation gave WRONG results")
    return ok
