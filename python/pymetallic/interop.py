"""Arrays in and out: DLPack, the CUDA array interface, typed views of buffers.

* ``Buffer`` and ``BufferView`` export ``__dlpack__``/``__dlpack_device__`` (``kDLCPU`` for CPU
  buffers, ``(kDLCUDA, ordinal)`` for GPU buffers) and, on GPUs, ``__cuda_array_interface__``
  (version 3). Consumers (NumPy, PyTorch, CuPy, JAX) see the buffer's memory, not a copy.
* ``asarray(obj)`` / ``Buffer.from_dlpack(obj)`` wrap another library's array in place when
  it lives on a pymetallic device; a copy to another device happens only with ``copy=True``.
* Streams follow the standards: work committed on our queues before an export is ordered
  before the consumer's stream (DLPack's ``stream=``; the CUDA array interface's ``stream``
  entry), and the producer's pending work is ordered before our kernels that use an import.
"""

from __future__ import annotations


import numpy as np

from . import _core
from .errors import MetalError, ValidationError, ValidationTypeError

Buffer = _core.Buffer

kDLCPU, kDLCUDA, kDLCUDAHost, kDLCUDAManaged = 1, 2, 3, 13
# DLPack dtype codes (dlpack.h)
_INT, _UINT, _FLOAT, _BFLOAT, _COMPLEX, _BOOL = 0, 1, 2, 4, 5, 6

#: The name pymetallic uses for bfloat16 items (NumPy has no such dtype).
bfloat16 = "bfloat16"


def _dl_dtype(dtype):
    """(code, bits, lanes) of a NumPy dtype (or ``"bfloat16"``)."""
    if isinstance(dtype, str) and dtype == bfloat16:
        return (_BFLOAT, 16, 1)
    dt = np.dtype(dtype)
    code = {"i": _INT, "u": _UINT, "f": _FLOAT, "c": _COMPLEX, "b": _BOOL}.get(dt.kind)
    if code is None or dt.byteorder == ">":
        raise ValidationError(f"dtype {dt} has no DLPack equivalent")
    return (code, dt.itemsize * 8, 1)


def _np_dtype(code, bits, lanes):
    if lanes != 1:
        raise ValidationError(f"vector items (lanes={lanes}) are not supported; reshape to scalars")
    if code == _BFLOAT and bits == 16:
        return bfloat16
    kind = {_INT: "i", _UINT: "u", _FLOAT: "f", _COMPLEX: "c", _BOOL: "b"}.get(code)
    if kind is None:
        raise ValidationError(f"DLPack dtype code {code} ({bits} bits) is not supported")
    return np.dtype(bool) if kind == "b" else np.dtype(f"{kind}{bits // 8}")


def _itemsize(dtype):
    return 2 if isinstance(dtype, str) and dtype == bfloat16 else np.dtype(dtype).itemsize


def _dl_device(device):
    return (kDLCPU, 0) if device.kind == "cpu" else (kDLCUDA, device.ordinal)


def _contiguous_strides(shape, itemsize):
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


class BufferView:
    """A typed window on a buffer: ``dtype``, ``shape``, ``strides`` (bytes, as NumPy's) and
    ``offset`` (bytes from the buffer's start). Exports DLPack and, on GPUs, the CUDA array
    interface; pass it wherever a buffer goes (``set_buffer``, callable kernels)."""

    __slots__ = ("buffer", "dtype", "shape", "strides", "offset", "__weakref__")

    def __init__(self, buffer, dtype, shape=None, strides=None, offset=0):
        itemsize = _itemsize(dtype)
        self.dtype = dtype if isinstance(dtype, str) else np.dtype(dtype)
        offset = int(offset)
        if offset < 0:
            raise ValidationError(f"a view's offset must not be negative, got {offset}")
        if offset % itemsize:
            raise ValidationError(f"offset {offset} is not a multiple of the item size ({itemsize} bytes)")
        if shape is None:
            if (buffer.size - offset) % itemsize:
                raise ValidationError(f"{buffer.size - offset} bytes are not a whole number of {self.dtype} items")
            shape = ((buffer.size - offset) // itemsize,)
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
        strides = _contiguous_strides(shape, itemsize) if strides is None else tuple(int(s) for s in strides)
        if len(strides) != len(shape):
            raise ValidationError(f"shape {shape} and strides {strides} differ in length")
        if any(s % itemsize for s in strides):
            raise ValidationError(f"strides {strides} are not multiples of the item size ({itemsize} bytes)")
        if any(n < 0 for n in shape):
            raise ValidationError(f"shape {shape} has a negative extent")
        if all(n > 0 for n in shape):
            lo = offset + sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
            hi = offset + sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0) + itemsize
            if lo < 0 or hi > buffer.size:
                raise ValidationError(
                    f"a view of shape {shape}, strides {strides} at offset {offset} reaches bytes "
                    f"[{lo}, {hi}) of a {buffer.size}-byte buffer"
                )
        self.buffer, self.shape, self.strides, self.offset = buffer, shape, strides, offset

    # -------------------------------------------------------------- properties
    @property
    def device(self):
        """The device that holds the viewed buffer."""
        return self.buffer.device

    @property
    def ndim(self):
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self):
        """Number of items (not bytes)."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        """Bytes per item."""
        return _itemsize(self.dtype)

    @property
    def nbytes(self):
        """Bytes the items cover (size * itemsize)."""
        return self.size * self.itemsize

    @property
    def is_contiguous(self):
        """Whether the strides are C order with no gaps."""
        return self.strides == _contiguous_strides(self.shape, self.itemsize)

    @property
    def data_ptr(self):
        """The address of the first item (a device address for GPU buffers)."""
        return self.buffer.gpu_address + self.offset

    def __repr__(self):
        return (
            f"<pymetallic.BufferView {self.dtype} {self.shape} strides={self.strides} "
            f"offset={self.offset} on {self.device.name}>"
        )

    def view(self, dtype=None, shape=None, strides=None, offset=None):
        """Another view of the same buffer: each argument defaults to this view's (``strides``
        and ``offset`` in bytes). Raises ValidationError when it does not fit in the buffer."""
        return BufferView(
            self.buffer,
            self.dtype if dtype is None else dtype,
            shape,
            strides,
            self.offset if offset is None else offset,
        )

    # -------------------------------------------------------------- DLPack
    def __array__(self, dtype=None, copy=None):
        """The viewed items as a NumPy array (``numpy.asarray(view)``), converted to ``dtype``."""
        return _view_array(self, dtype, copy)

    def __dlpack_device__(self):
        return _dl_device(self.device)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if dl_device is not None and tuple(int(x) for x in dl_device) != self.__dlpack_device__():
            if copy is False:
                raise BufferError(
                    f"this array lives on {self.__dlpack_device__()}; exporting it to "
                    f"{tuple(dl_device)} needs a copy (copy=False was asked)"
                )
            if int(dl_device[0]) != kDLCPU:
                raise BufferError(f"cannot export to DLPack device {tuple(dl_device)}")
            return _numpy_dlpack(self.numpy(), max_version)
        view = self.copy() if copy else self
        view._prepare(stream)
        code, bits, lanes = _dl_dtype(view.dtype)
        item = view.itemsize
        strides = [] if view.is_contiguous else [s // item for s in view.strides]
        arr = view.buffer._dlpack_view(code, bits, lanes, list(view.shape), strides, view.offset)
        if max_version is None:
            return arr.__dlpack__()
        return arr.__dlpack__(max_version=tuple(max_version))

    def _prepare(self, stream):
        if self.device.kind == "cpu":
            if stream not in (None, -1):
                raise BufferError(f"a CPU array takes no stream (got stream={stream!r})")
            self.buffer._prepare_export(0)
            return
        if stream is None:
            stream = 1  # DLPack: None means the legacy default stream
        if stream == 0:
            raise BufferError("stream=0 is ambiguous for CUDA (DLPack): pass 1 for the legacy default stream")
        self.buffer._prepare_export(int(stream))

    # -------------------------------------------------------------- CUDA array interface
    @property
    def __cuda_array_interface__(self):
        if self.device.kind == "cpu":
            raise AttributeError("__cuda_array_interface__ is for GPU buffers; this one is on the CPU")
        if isinstance(self.dtype, str):
            raise AttributeError("the CUDA array interface has no bfloat16 type string; use DLPack")
        stream = _core._interop_stream(self.device)
        self.buffer._prepare_export(stream)
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.data_ptr, False),
            "version": 3,
            "strides": None if self.is_contiguous else self.strides,
            "stream": stream,
        }

    # -------------------------------------------------------------- host side
    def numpy(self):
        """The items as a NumPy array: the memory itself for CPU buffers, a copy for GPU ones
        (taken after the work committed so far that uses the buffer)."""
        if isinstance(self.dtype, str):
            raise ValidationError("NumPy has no bfloat16: view the buffer as uint16 instead")
        if self.device.kind == "cpu":
            return np.from_dlpack(self)
        lo, hi = self._span()
        raw = _ordered_device_copy(self.buffer, lo, hi - lo)._bytes_view()
        return np.ndarray(self.shape, self.dtype, raw.data, self.offset - lo, self.strides).copy()

    def _span(self):
        """The bytes [lo, hi) of the buffer the view reaches."""
        if self.size == 0:
            return self.offset, self.offset
        lo = self.offset + sum(s * (n - 1) for s, n in zip(self.strides, self.shape) if s < 0)
        hi = self.offset + sum(s * (n - 1) for s, n in zip(self.strides, self.shape) if s > 0) + self.itemsize
        return lo, hi

    def copy(self):
        """A contiguous copy in a new buffer on the same device (after the work committed so far)."""
        if self.device.kind == "cpu" or not self.is_contiguous:
            if isinstance(self.dtype, str):
                raise ValidationError("copying a strided bfloat16 view is not supported; view it as uint16")
            return _copy_to(self.device, self.numpy())
        new = _ordered_device_copy(self.buffer, self.offset, self.nbytes)
        if not isinstance(self.dtype, str):
            _with_layout(new, self.dtype, self.shape)
        return BufferView(new, self.dtype, self.shape)


def _ordered_device_copy(buffer, start, length):
    """Bytes [start, start + length) of a GPU buffer copied into a new buffer, after the work
    committed so far on the last queue that used it: the source is handed over as an export
    would be, then used through a foreign wrapper that waits for it."""
    device = buffer.device
    stream = _core._interop_stream(device)
    buffer._prepare_export(stream)
    source = _core._wrap_pointer(device, buffer.gpu_address, buffer.size, buffer, stream)
    new = Buffer(device, max(int(length), 1))
    cb = device.make_command_queue().make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(source, int(start), new, 0, int(length))
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    if cb.error is not None:
        raise MetalError(f"copying a buffer failed: {cb.error}")
    return new


def _view_array(self, dtype=None, copy=None):
    a = self.numpy()
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return a


def _numpy_dlpack(array, max_version):
    if max_version is None:
        return array.__dlpack__()
    try:
        return array.__dlpack__(max_version=tuple(max_version))
    except TypeError:
        return array.__dlpack__()


# ------------------------------------------------------------------ Buffer's own layout


def _buffer_typed_view(self):
    """The buffer as the array it was made from (dtype and shape kept), else as bytes."""
    layout = getattr(self, "_layout", None)
    if layout is None:
        return BufferView(self, np.uint8)
    return BufferView(self, *layout)


def _buffer_view(self, dtype, shape=None, strides=None, offset=0):
    """A typed view: ``dtype``, ``shape`` (default: every whole item), ``strides`` in bytes
    (default: C order), ``offset`` in bytes."""
    return BufferView(self, dtype, shape, strides, offset)


def _buffer_dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    return _buffer_typed_view(self).__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)


def _buffer_dlpack_device(self):
    return _dl_device(self.device)


def _buffer_cai(self):
    return _buffer_typed_view(self).__cuda_array_interface__


def _buffer_from_dlpack(cls, obj, device=None, copy=None):
    """Wraps another library's array (anything with ``__dlpack__``) in place; returns the
    Buffer, whose ``__dlpack__`` exports the same dtype and shape when the array is contiguous
    (``pymetallic.from_dlpack`` gives the typed view of any array)."""
    return from_dlpack(obj, device=device, copy=copy).buffer


# ------------------------------------------------------------------ imports


def _core_devices():
    return list(_core.Device.get_all_devices())


def _device_for(dl_type, dl_id):
    if dl_type in (kDLCPU, kDLCUDAHost):
        want = ("cpu", 0)
    elif dl_type in (kDLCUDA, kDLCUDAManaged):
        want = ("cuda", int(dl_id))
    else:
        return None
    for d in _core_devices():
        if (d.kind, d.ordinal) == want:
            return d
    return None


def _reachable(device, dl_type, dl_id):
    """Whether memory of DLPack device (dl_type, dl_id) can be used in place on ``device``."""
    if device.kind == "cpu":
        return dl_type in (kDLCPU, kDLCUDAHost)
    return dl_type in (kDLCUDA, kDLCUDAManaged) and int(dl_id) == device.ordinal


def _call_dlpack(obj, stream):
    kw = {} if stream is None else {"stream": stream}
    try:
        return obj.__dlpack__(max_version=(1, 0), **kw)
    except TypeError:
        return obj.__dlpack__(**kw)


def _with_layout(buffer, dtype, shape):
    buffer._layout = (dtype, tuple(shape))
    return buffer


def from_dlpack(obj, *, device=None, copy=None):
    """A ``BufferView`` of ``obj`` (anything with ``__dlpack__``), in place when it lives on
    ``device`` (default: its own device); a copy to another device only with ``copy=True``."""
    if isinstance(obj, BufferView):
        return obj.copy() if copy else obj
    if isinstance(obj, Buffer):
        v = obj._typed_view()
        return v.copy() if copy else v
    dl_type, dl_id = (int(x) for x in obj.__dlpack_device__())
    if device is None:
        device = _device_for(dl_type, dl_id)
        if device is None:
            raise ValidationError(
                f"the array lives on DLPack device ({dl_type}, {dl_id}), which pymetallic "
                "does not have; pass device= and copy=True to copy it"
            )
    if _reachable(device, dl_type, dl_id) and not copy:
        stream = None if device.kind == "cpu" else _core._interop_stream(device)
        capsule = _call_dlpack(obj, stream)
        buf, dl, shape, strides, first, _, _ = _core._wrap_dlpack(device, capsule, stream or 0)
        dtype = _np_dtype(*dl)
        item = _itemsize(dtype)
        view = BufferView(buf, dtype, shape, [s * item for s in strides], first)
        if view.is_contiguous and first == 0:
            _with_layout(buf, dtype, shape)
        return view
    if copy is False or copy is None:
        raise ValidationError(
            f"the array lives on DLPack device ({dl_type}, {dl_id}), not on {device.name}: using it there "
            "needs a copy; pass copy=True to make one"
        )
    return _copy_to(device, _host_array(obj, dl_type))


def _host_array(obj, dl_type):
    if dl_type in (kDLCPU, kDLCUDAHost):
        return np.from_dlpack(obj)
    for attempt in (lambda: np.from_dlpack(obj, device="cpu", copy=True), lambda: obj.cpu().numpy(), lambda: obj.get()):
        try:
            return np.asarray(attempt())
        except Exception:  # noqa: BLE001 - try the next way down
            continue
    raise ValidationError(f"cannot bring this {type(obj).__name__} to the host for a copy")


def _copy_to(device, array):
    array = np.ascontiguousarray(array)
    if array.size == 0:
        raise ValidationError("cannot make a buffer of an empty array")
    buf = Buffer.from_numpy(device, array)
    return _buffer_typed_view(buf)


def _from_cai(obj, device, copy):
    cai = obj.__cuda_array_interface__
    if cai.get("mask") is not None:
        raise ValidationError("masked arrays (a CUDA array interface 'mask') are not supported")
    ptr, _readonly = cai["data"]
    shape = tuple(int(n) for n in cai["shape"])
    dtype = np.dtype(cai["typestr"])
    item = dtype.itemsize
    strides = cai.get("strides")
    strides = _contiguous_strides(shape, item) if strides is None else tuple(int(s) for s in strides)
    if device is None:
        device = _default_cuda()
    if device.kind == "cpu":
        if not copy:
            raise ValidationError("a CUDA array cannot be used in place on the CPU device; pass copy=True")
        return _copy_to(device, _host_array(obj, kDLCUDA))
    if any(n == 0 for n in shape) or ptr == 0:
        raise ValidationError("cannot use an empty array (no items) as a buffer")
    lo = sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    hi = sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0) + item
    stream = cai.get("stream") if int(cai.get("version", 0)) >= 3 else None
    if stream == 0:
        raise ValidationError("the CUDA array interface forbids stream 0")
    buf = _core._wrap_pointer(device, int(ptr) + lo, hi - lo, obj, int(stream or 0))
    view = BufferView(buf, dtype, shape, strides, -lo)
    if copy:
        view = view.copy()
    return view


def _default_cuda():
    for d in _core_devices():
        if d.kind == "cuda":
            return d
    raise ValidationError("a CUDA array needs a CUDA device, and pymetallic sees none")


def asarray(obj, *, device=None, dtype=None, copy=None):
    """``obj`` as a ``BufferView``: pymetallic buffers and views as they are; arrays that export
    DLPack or the CUDA array interface in place on their own device (or ``device``); anything
    else NumPy accepts (lists, scalars) copied. ``copy=True`` always copies; a copy to another
    device happens only then."""
    if isinstance(obj, (BufferView, Buffer)):
        view = obj if isinstance(obj, BufferView) else obj._typed_view()
        if device is not None and not _same_device(device, view.device):
            if not copy:
                raise ValidationError(f"this buffer is on {view.device.name}, not {device.name}; pass copy=True")
            return _copy_to(device, view.numpy())
        return view.copy() if copy else view
    if hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__") and not isinstance(obj, np.generic):
        view = from_dlpack(obj, device=device, copy=copy)
    elif hasattr(obj, "__cuda_array_interface__"):
        view = _from_cai(obj, device, copy)
    else:
        array = np.asarray(obj, dtype=dtype)
        if device is None:
            device = _cpu_device()
        return _copy_to(device, array)
    if dtype is not None and not isinstance(view.dtype, str) and np.dtype(dtype) != view.dtype:
        raise ValidationError(f"the array holds {view.dtype}, not {np.dtype(dtype)}; convert it first")
    return view


def _same_device(a, b):
    return (a.kind, a.ordinal) == (b.kind, b.ordinal)


def _cpu_device():
    for d in _core_devices():
        if d.kind == "cpu":
            return d
    raise MetalError("no CPU device")


def _array_hook(obj, device):
    """set_buffer's hook for arrays of other libraries: (Buffer, byte offset), in place."""
    try:
        view = asarray(obj, device=device, copy=False)
    except ValidationError as e:
        raise ValidationError(f"set_buffer: {e}") from None
    except (AttributeError, TypeError):
        raise ValidationTypeError(
            f"set_buffer needs a pymetallic Buffer or an array on {device.name}, not {type(obj).__name__}"
        ) from None
    return view.buffer, view.offset


_core._set_array_hook(_array_hook)


def _release_hook():
    _core._set_array_hook(None)


# After the work in flight (its handlers may still pass arrays to set_buffer).
_core._add_exit_callback(_release_hook)


# ------------------------------------------------------------------ results


def library_of(obj):
    """'numpy', 'torch', 'cupy', 'jax' or None: the array library ``obj`` belongs to."""
    root = type(obj).__module__.split(".")[0]
    if root in ("numpy", "torch", "cupy", "jax", "jaxlib"):
        return "jax" if root == "jaxlib" else root
    return None


def to_library(view, library, host=False):
    """``view`` as an array of ``library`` ('numpy', 'torch', 'cupy', 'jax'); in place where the
    library can reach the device's memory, else a host copy (NumPy of a GPU buffer). ``host``:
    the caller's arrays live in host memory, so a GPU result comes back there (a copy)."""
    if library == "numpy" or library is None:
        return view.numpy() if view.device.kind != "cpu" else np.from_dlpack(view)
    if host and view.device.kind != "cpu":
        a = view.numpy()
        if library == "torch":
            import torch

            return torch.from_numpy(a)
        if library == "jax":
            import jax.numpy as jnp

            return jnp.asarray(a)
    if library == "torch":
        import torch

        return torch.from_dlpack(view)
    if library == "cupy":
        import cupy

        return cupy.from_dlpack(view)
    if library == "jax":
        import jax.numpy as jnp

        return jnp.from_dlpack(view)
    raise ValidationError(f"unknown array library {library!r}")
