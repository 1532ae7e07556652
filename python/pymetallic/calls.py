"""Kernels called like functions.

    lib = pm.Library(device, source)
    lib.saxpy(x, y, 2.0, threads=n)                 # arrays bind to buffers in order
    pipeline(x, y, a=2.0, grid=n, threadgroup=256)   # or by parameter name

Arrays (pymetallic buffers and views, NumPy, PyTorch, CuPy, anything with DLPack or the CUDA
array interface) bind to the kernel's buffer parameters; on the kernel's own device they are
used in place. Python numbers become the parameter's reflected type (``constant half& s``
gets a half); a value the type cannot hold raises ``ValueError``. The call returns when the
kernel is done (``wait=False``: at once, with the command buffer).
"""

from __future__ import annotations

import re
import threading

import numpy as np

from . import _core, interop
from .errors import MetalError, ValidationError

# MSL scalar types -> NumPy dtypes (bfloat handled apart: NumPy has none).
_SCALARS = {
    "bool": np.bool_,
    "char": np.int8,
    "int8_t": np.int8,
    "uchar": np.uint8,
    "uint8_t": np.uint8,
    "short": np.int16,
    "int16_t": np.int16,
    "ushort": np.uint16,
    "uint16_t": np.uint16,
    "int": np.int32,
    "int32_t": np.int32,
    "uint": np.uint32,
    "uint32_t": np.uint32,
    "unsigned": np.uint32,
    "long": np.int64,
    "int64_t": np.int64,
    "ulong": np.uint64,
    "uint64_t": np.uint64,
    "size_t": np.uint64,
    "half": np.float16,
    "float": np.float32,
    "float16_t": np.float16,
    "float32_t": np.float32,
    "bfloat": "bfloat",
    "bfloat16_t": "bfloat",
}
_VECTOR = re.compile(r"^(bool|char|uchar|short|ushort|int|uint|long|ulong|half|float|bfloat)([234])$")


def _element_type(type_text):
    """('float', True) for 'const float&'; pointer/reference and qualifiers stripped."""
    t = type_text.replace("const ", "").replace("volatile ", "").replace("metal::", "").strip()
    for q in ("device ", "constant ", "threadgroup ", "thread "):
        t = t.replace(q, "")
    is_ref = t.endswith("&")
    return t.rstrip("&*").strip(), is_ref


def _bfloat_bits(values):
    """float32 -> bfloat16 bits, rounding to nearest even (as the hardware converts)."""
    f = np.asarray(values, dtype=np.float32)
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(f), np.uint16(0x7FC0), rounded).astype(np.uint16)


def _check_fits(value, dtype, what):
    """The value as ``dtype``, or ValueError when the type cannot hold it."""
    if isinstance(value, (bool, np.bool_)) and np.dtype(dtype) != np.bool_:
        value = int(value)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        if value in (0, 1, True, False):
            return np.bool_(bool(value))
        raise ValueError(f"{what}: {value!r} is not a bool")
    if dt.kind in "iu":
        if isinstance(value, (float, np.floating)):
            if not float(value).is_integer():
                raise ValueError(f"{what} is {np.dtype(dt).name}: {value!r} is not a whole number")
            value = int(value)
        if not isinstance(value, (int, np.integer)):
            raise ValueError(f"{what} is {dt.name}: cannot convert {type(value).__name__}")
        info = np.iinfo(dt)
        if not info.min <= int(value) <= info.max:
            raise ValueError(f"{what} is {dt.name}: {value} is outside [{info.min}, {info.max}]")
        return dt.type(int(value))
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} is {dt.name}: cannot convert {type(value).__name__}")
    v = float(value)
    if np.isfinite(v) and abs(v) > float(np.finfo(dt).max):
        raise ValueError(f"{what} is {dt.name}: {value!r} overflows it (largest {float(np.finfo(dt).max):g})")
    return dt.type(v)


def scalar_bytes(value, type_text, what="argument"):
    """The bytes a ``constant T&`` parameter of MSL type ``type_text`` reads for ``value``."""
    t, _ = _element_type(type_text)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (np.ndarray, np.void)):
        return np.ascontiguousarray(value).tobytes()
    if t in _SCALARS:
        dt = _SCALARS[t]
        if dt == "bfloat":
            v = _check_fits(value, np.float32, what)
            if np.isfinite(v) and abs(float(v)) > 3.3895313892515355e38:
                raise ValueError(f"{what} is bfloat: {value!r} overflows it")
            return _bfloat_bits(v).tobytes()
        return np.asarray(_check_fits(value, dt, what)).tobytes()
    m = _VECTOR.match(t)
    if m:
        base, n = m.group(1), int(m.group(2))
        items = list(value) if not isinstance(value, (int, float, np.number)) else [value] * n
        if len(items) != n:
            raise ValueError(f"{what} is {t}: needs {n} components, got {len(items)}")
        if base == "bfloat":
            data = b"".join(_bfloat_bits(_check_fits(x, np.float32, what)).tobytes() for x in items)
            size = 2
        else:
            dt = np.dtype(_SCALARS[base])
            data = np.array([_check_fits(x, dt, what) for x in items], dtype=dt).tobytes()
            size = dt.itemsize
        if n == 3:
            data += b"\0" * size  # MSL's 3-vectors take the room of 4
        return data
    raise ValidationError(f"{what} has type {type_text}: pass its bytes (a NumPy structured scalar, an array or bytes)")


# ------------------------------------------------------------------ queues

_queues = {}
_queues_lock = threading.Lock()


def _drop_queues():
    with _queues_lock:
        _queues.clear()


# At exit, after the work in flight (handlers may still call kernels).
_core._add_exit_callback(_drop_queues)


def default_queue(device):
    """The queue callable kernels use on ``device`` (one per device: calls run in order)."""
    with _queues_lock:
        q = _queues.get(device)
        if q is None:
            q = _queues[device] = device.make_command_queue()
        return q


def _grid3(value, what):
    if value is None:
        return None
    g = (int(value),) if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if not 1 <= len(g) <= 3:
        raise ValidationError(f"{what} has 1 to 3 dimensions, got {len(g)}")
    if any(v < 0 for v in g):
        raise ValidationError(f"{what} has a negative dimension: {g}")
    return g + (1,) * (3 - len(g))


def _default_group(grid, limit):
    dims = sum(1 for g in grid if g > 1) or 1
    if dims == 1:
        return (
            (max(1, min(grid[0], limit, 256)), 1, 1)
            if grid[0] > 1
            else ((1, max(1, min(grid[1], limit, 256)), 1) if grid[1] > 1 else (1, 1, max(1, min(grid[2], limit, 64))))
        )
    if dims == 2 and grid[2] == 1:
        s = 16 if limit >= 256 else 8
        return (min(grid[0], s), min(grid[1], s), 1)
    return (min(grid[0], 8), min(grid[1], 8), min(grid[2], 4))


class _CopyBack:
    """A host array used through a device copy: written back after the kernel."""

    def __init__(self, target, view):
        self.target, self.view = target, view

    def run(self):
        np.copyto(self.target, self.view.numpy().reshape(self.target.shape), casting="no")


def _bind_array(obj, device, writable, what):
    """(Buffer, offset, copy-back or None) for an array argument."""
    try:
        view = interop.asarray(obj, device=device, copy=False)
        return view.buffer, view.offset, None
    except ValidationError:
        pass
    # Another device's (or library's) host array: through a copy, written back if the kernel may write.
    host = None
    try:
        if isinstance(obj, np.ndarray) or not hasattr(obj, "__dlpack__"):
            host = np.asarray(obj)
        else:
            host = np.from_dlpack(obj)
    except Exception:  # noqa: BLE001
        host = None
    if host is None or host.dtype == object:
        raise ValidationError(f"{what}: cannot use a {type(obj).__name__} on {device.name}")
    view = interop.asarray(host, device=device, copy=True)
    back = None
    if writable:
        if not host.flags.writeable:
            raise ValidationError(f"{what}: the kernel may write it, but the array is read-only")
        back = _CopyBack(host, view)
    return view.buffer, view.offset, back


class KernelCall:
    """A pipeline with its reflected parameters, called like a function."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.function = pipeline.function
        self.name = self.function.name
        args = list(self.function.arguments)
        self.buffers = [a for a in args if a.kind == "buffer"]
        self.threadgroups = [a for a in args if a.kind == "threadgroup"]
        self.textures = [a for a in args if a.kind in ("texture", "sampler")]

    def __repr__(self):
        params = ", ".join(f"{a.type} {a.name} [[buffer({a.index})]]" for a in self.buffers)
        return f"<pymetallic kernel {self.name}({params})>"

    def __call__(
        self,
        *args,
        threads=None,
        group_size=None,
        grid=None,
        threadgroup=None,
        threadgroup_memory=None,
        wait=True,
        queue=None,
        **named,
    ):
        """Runs the kernel with its buffer arguments in order (arrays or Buffers) and the rest by
        name; ``threads``/``grid`` in threads, ``group_size``/``threadgroup`` in threads per group
        (chosen when omitted), ``threadgroup_memory`` in bytes per index. Waits unless
        ``wait=False`` and returns the command buffer. Raises TypeError for a missing, unknown or
        repeated argument, ValidationError for a bad value, MetalError when the kernel fails."""
        device = self.pipeline.device
        if len(args) > len(self.buffers):
            raise ValidationError(f"kernel '{self.name}' takes {len(self.buffers)} buffer arguments, got {len(args)}")
        values = {}
        for a, v in zip(self.buffers, args):
            values[a.index] = (a, v)
        by_name = {a.name: a for a in self.buffers}
        for k, v in named.items():
            a = by_name.get(k)
            if a is None:
                raise TypeError(
                    f"kernel '{self.name}' has no buffer parameter '{k}' (it has: {', '.join(by_name) or 'none'})"
                )
            if a.index in values:
                raise TypeError(f"kernel '{self.name}': '{k}' given twice")
            values[a.index] = (a, v)
        missing = [a.name for a in self.buffers if a.index not in values]
        if missing:
            raise TypeError(f"kernel '{self.name}' is missing arguments: {', '.join(missing)}")
        if self.textures:
            raise ValidationError(f"kernel '{self.name}' takes textures or samplers: encode it with an encoder")

        g = _grid3(threads if threads is not None else grid, "threads")
        if g is None:
            raise TypeError(f"kernel '{self.name}': say how many threads to run (threads= or grid=)")
        tg = _grid3(group_size if group_size is not None else threadgroup, "group_size")
        if tg is None:
            tg = _default_group(g, self.pipeline.max_total_threads_per_threadgroup)

        queue = queue or default_queue(device)
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(self.pipeline)
        copy_backs, keep = [], []
        for index, (a, v) in sorted(values.items()):
            what = f"kernel '{self.name}' argument '{a.name}' ({a.type})"
            element, is_ref = _element_type(a.type)
            if not is_ref and isinstance(v, (list, tuple)):
                v = _typed_list(v, element, what)
            if _is_array(v):
                buf, off, back = _bind_array(v, device, a.access == "read_write" and not is_ref, what)
                enc.set_buffer(buf, off, index)
                keep.append(buf)
                if back is not None:
                    copy_backs.append(back)
            elif is_ref or a.access == "read_only":
                enc.set_bytes(np.frombuffer(scalar_bytes(v, a.type, what), dtype=np.uint8), index)
            else:
                raise ValidationError(f"{what}: the kernel writes through this pointer; pass an array or buffer")
        self._threadgroup_memory(enc, threadgroup_memory)
        enc.dispatch_threads(g, tg)
        enc.end_encoding()
        if copy_backs and not wait:

            def _copy_back(done, copy_backs=copy_backs):
                if done.error is None:
                    for c in copy_backs:
                        c.run()

            cb.add_completed_handler(_copy_back)
        cb.commit()
        if not wait:
            return cb
        cb.wait_until_completed()
        if cb.error is not None:
            raise MetalError(f"kernel '{self.name}' failed: {cb.error}")
        for c in copy_backs:
            c.run()
        return cb

    def _threadgroup_memory(self, enc, spec):
        if spec is None:
            return
        if isinstance(spec, (int, np.integer)):
            spec = {self.threadgroups[0].index if self.threadgroups else 0: int(spec)}
        elif isinstance(spec, (list, tuple)):
            spec = dict(enumerate(spec))
        known = {a.index for a in self.threadgroups}
        for index, length in spec.items():
            if int(index) not in known:
                raise ValidationError(f"kernel '{self.name}' has no [[threadgroup({index})]] parameter")
            length = int(length)
            enc.set_threadgroup_memory_length((length + 15) // 16 * 16, int(index))


def _typed_list(values, element, what):
    """A Python list for a `T*` parameter: an array of T (each value checked to fit)."""
    dt = _SCALARS.get(element)
    if dt is None or dt == "bfloat":
        return np.asarray(values)
    flat = np.asarray(values, dtype=object).reshape(-1)
    return np.array([_check_fits(x, dt, what) for x in flat], dtype=dt)


def _is_array(v):
    if isinstance(v, (_core.Buffer, interop.BufferView, np.ndarray)):
        return True
    return hasattr(v, "__dlpack__") and not isinstance(v, np.generic) or hasattr(v, "__cuda_array_interface__")


# ------------------------------------------------------------------ Library.__getattr__ and ComputePipelineState.__call__ (declared in python/src/bind_python.cpp)


def _library_getattr(self, name):
    if name.startswith("_"):
        raise AttributeError(name)
    if name not in self.function_names:
        raise AttributeError(f"the library has no kernel '{name}' (it has: {', '.join(self.function_names)})")
    return KernelCall(_core.ComputePipelineState(self.device, self.make_function(name)))


def _pipeline_call(self, *args, **kwargs):
    return KernelCall(self)(*args, **kwargs)
