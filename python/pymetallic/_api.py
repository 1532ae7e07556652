"""The Python side of the core classes: NumPy conversions and the conveniences of the
original pymetallic API. The native module declares these methods on its classes (with their
signatures and docstrings, python/src/bind_python.cpp) and calls the functions here; nothing
is attached from Python."""

from __future__ import annotations

import enum
import operator

import numpy as np

from . import _core
from . import texture as _texture
from .errors import MetalError, ValidationError, ValidationTypeError
from .kernel import Kernel

Device = _core.Device
Buffer = _core.Buffer
Library = _core.Library
Function = _core.Function
ComputePipelineState = _core.ComputePipelineState
CommandQueue = _core.CommandQueue
CommandBuffer = _core.CommandBuffer
ComputeCommandEncoder = _core.ComputeCommandEncoder
BlitCommandEncoder = _core.BlitCommandEncoder
CommandBufferStatus = _core.CommandBufferStatus
SharedEvent = _core.SharedEvent
IndirectCommandBufferDescriptor = _core.IndirectCommandBufferDescriptor
IndirectCommandBuffer = _core.IndirectCommandBuffer
IndirectComputeCommand = _core.IndirectComputeCommand


# ---------------------------------------------------------------- Buffer


def _buffer_from_numpy(cls, device, array, storage_mode=None):
    """A new buffer holding a copy of ``array`` (made contiguous first)."""
    if not isinstance(array, np.ndarray):
        array = np.asarray(array)
    array = np.ascontiguousarray(array)
    if array.nbytes == 0:
        raise ValidationError("cannot make a buffer from an empty array")
    if storage_mode == Buffer.STORAGE_PRIVATE:
        raise ValidationError(
            "a private buffer cannot be filled from the CPU: use async_buffer_from_numpy, "
            "which copies through a shared staging buffer"
        )
    buf = Buffer(device, array.nbytes, storage_mode)
    buf._bytes_view()[:] = array.reshape(-1).view(np.uint8)
    buf._layout = (array.dtype, array.shape)  # what __dlpack__ exports
    return buf


def _buffer_to_numpy(self, dtype, shape=None):
    """A NumPy **view** of the contents: writes through it are seen by later kernels."""
    dtype = np.dtype(dtype)
    raw = self._bytes_view()
    if raw.nbytes % dtype.itemsize:
        raise MetalError(
            f"the buffer's {raw.nbytes} bytes are not a whole number of {dtype} items ({dtype.itemsize} bytes each)"
        )
    view = raw.view(dtype)
    if shape is None:
        return view
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != view.size:
        raise MetalError(
            f"shape {shape} holds {int(np.prod(shape, dtype=np.int64))} items, but the buffer "
            f"holds {view.size} items of {dtype}"
        )
    return view.reshape(shape)


def _buffer_contents(self):
    """The contents as a writable memoryview of bytes (the buffer protocol)."""
    return memoryview(self)


# ---------------------------------------------------------------- Device


def _make_buffer(self, size, storage_mode=None):
    return Buffer(self, size, storage_mode)


def _make_buffer_from_numpy(self, array, storage_mode=None):
    return Buffer.from_numpy(self, array, storage_mode)


def _make_library(self, source, options=None):
    return Library(self, source, options)


def _make_compute_pipeline_state(self, function, support_indirect_command_buffers=False):
    return ComputePipelineState(self, function, support_indirect_command_buffers=support_indirect_command_buffers)


def _make_kernel(self, source, func, constants=None, options=None):
    return Kernel(self, source, func, constants=constants, options=options)


def _device_read_scalar(self, buffer, dtype, i=0, *more):
    """One element of a buffer, after the work already committed to it has finished.
    Also ``read_scalar(queue, buffer, dtype)``, as the original package's tests call it (on the
    CPU the queue is not needed: the read waits for the buffer's own last work)."""
    if isinstance(buffer, CommandQueue):
        queue, buffer, dtype, i = buffer, dtype, i, (more[0] if more else 0)
        if queue.device.kind != "cpu":
            cb = queue.make_command_buffer()  # the queue runs in order: earlier work is done after this
            cb.commit()
            cb.wait_until_completed()
    if not isinstance(buffer, Buffer):
        raise ValidationTypeError(f"read_scalar needs a Buffer, not {type(buffer).__name__}")
    _core._buffer_wait_idle(buffer)  # every committed use of it has finished, on any queue
    try:
        i = operator.index(i)
    except TypeError:
        raise ValidationTypeError(f"read_scalar index must be an int, not {type(i).__name__}") from None
    data = buffer.to_numpy(dtype)
    if not 0 <= i < data.size:
        raise ValidationError(f"index {i} is out of range for a buffer of {data.size} {np.dtype(dtype)} items")
    return data[i].item()


def _supports_barycentrics(self):
    return False


def _command_queue(self):
    return self.make_command_queue()


def _command_buffer(self):
    return self.make_command_queue().make_command_buffer()


def _command_encoder(self):
    return self.make_command_queue().make_command_buffer().make_compute_command_encoder()


# ---------------------------------------------------------------- Encoders


def _set_buffers(self, buffers, offsets=None, start_index=0):
    offsets = offsets if offsets is not None else [0] * len(buffers)
    if len(offsets) != len(buffers):
        raise ValidationError("set_buffers needs one offset per buffer")
    for i, (b, o) in enumerate(zip(buffers, offsets)):
        self.set_buffer(b, o, start_index + i)


def _use_resources(self, buffers, usage=3):
    for b in buffers:
        self.use_resource(b, usage)


class IndirectCommandType(enum.IntFlag):
    """Metal's MTLIndirectCommandType, its compute values: the commands an indirect command
    buffer may hold (``IndirectCommandBufferDescriptor.command_types``)."""

    CONCURRENT_DISPATCH = 1 << 5
    CONCURRENT_DISPATCH_THREADS = 1 << 6


def _encoder_commit(self):
    self.end_encoding()
    self.command_buffer.commit()


def _encoder_wait(self):
    self.command_buffer.wait_until_completed()


def _fill_buffer(self, buffer, range_, value):
    """Fills bytes of ``buffer`` with ``value``; ``range_`` is a ``range`` or ``(start, length)``."""
    if isinstance(range_, range):
        if range_.step != 1:
            raise ValidationError("fill_buffer needs a contiguous range (step 1)")
        start, length = range_.start, len(range_)
    else:
        start, length = range_
    self._fill_buffer(buffer, start, length, value)


BlitCommandEncoder.fill_buffer = _fill_buffer


# ---------------------------------------------------------------- argument errors

from .errors import _python_argument_errors  # noqa: E402

# Per-dispatch methods convert their arguments in C++ (raising ValidationTypeError there).
_HOT = {
    "make_command_buffer",
    "make_compute_command_encoder",
    "compute_command_encoder",
    "set_compute_pipeline_state",
    "set_buffer",
    "set_bytes",
    "set_threadgroup_memory_length",
    "dispatch_threads",
    "dispatch_threadgroups",
    "execute_commands_in_buffer",
    "end_encoding",
    "commit",
    "wait_until_completed",
    "get_status",
    "contents",
    "to_numpy",
    "_bytes_view",
}
_python_argument_errors(
    [
        Device,
        Buffer,
        Library,
        Function,
        ComputePipelineState,
        CommandQueue,
        CommandBuffer,
        ComputeCommandEncoder,
        BlitCommandEncoder,
        IndirectCommandBufferDescriptor,
        IndirectCommandBuffer,
        IndirectComputeCommand,
        _texture.Texture,
        _texture.SamplerState,
    ],
    keep=_HOT,
)
