"""Kernel and KernelCache: compiled pipelines by source, shared across callers. Imports only
the native module and the errors, so every other layer may import it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from ._core import ComputePipelineState, Device, Library
from .errors import MetalError, ValidationError


def _freeze(value):
    """A hashable form of constants/options dicts for cache keys."""
    if value is None:
        return None
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


class KernelCache:
    """Compiled pipelines by (device, source, function, constants, options): the same key
    gives the same pipeline object. Safe to use from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pipelines = {}
        self._libraries = {}
        self._hits = {}

    def get(self, device, source, func_name, constants=None, options=None):
        """The pipeline of kernel ``func_name`` in MSL ``source`` for ``device``, compiled on the
        first request and shared afterwards. Raises CompileError."""
        key = (id(device), source, func_name, _freeze(constants), _freeze(options))
        with self._lock:
            if key in self._pipelines:
                self._hits[key] += 1
                return self._pipelines[key]
        # Compile outside the lock: other kernels need not wait for this one.
        lib_key = (id(device), source, _freeze(options))
        with self._lock:
            library = self._libraries.get(lib_key)
        if library is None:
            library = Library(device, source, options)
            with self._lock:
                library = self._libraries.setdefault(lib_key, library)
        function = library.make_function(func_name, constants)
        pipeline = ComputePipelineState(device, function)
        with self._lock:
            pipeline = self._pipelines.setdefault(key, pipeline)
            self._hits.setdefault(key, 0)
        return pipeline

    def stats(self):
        """Hits per key since the entry was made."""
        with self._lock:
            return dict(self._hits)

    def clear(self):
        """Forgets every pipeline, library and hit count (the on-disk compile cache stays)."""
        with self._lock:
            self._pipelines.clear()
            self._libraries.clear()
            self._hits.clear()


kernel_cache = KernelCache()


def _grid3(grid):
    grid = (grid,) if isinstance(grid, (int, np.integer)) else tuple(int(g) for g in grid)
    if not 1 <= len(grid) <= 3:
        raise ValidationError("a grid has 1 to 3 dimensions")
    return grid + (1,) * (3 - len(grid))


@dataclass
class Kernel:
    """One kernel, compiled through ``kernel_cache``; calling it runs once and waits.

    ``kernel(queue, grid, tgs=None, buffers=[(buf, index)], bytes_args=[(ndarray, index)])``
    """

    device: Device
    source: str
    func: str
    constants: dict | None = None
    options: dict | None = None
    pipeline: ComputePipelineState = field(init=False, repr=False)

    def __post_init__(self):
        self.pipeline = kernel_cache.get(self.device, self.source, self.func, self.constants, self.options)

    @property
    def _pso(self):
        """The pipeline state (the original package's name for it)."""
        return self.pipeline

    def __call__(self, queue, grid, tgs=None, buffers=(), bytes_args=()):
        """Runs the kernel once over ``grid`` threads (1 to 3 dimensions), ``tgs`` threads per
        threadgroup (default up to 256 along x), with ``buffers`` and ``bytes_args`` as
        ``(value, index)`` pairs; waits and returns the completed command buffer.
        Raises ValidationError for a bad grid, MetalError when the kernel fails on the device."""
        grid = _grid3(grid)
        if tgs is None:
            tgs = (min(grid[0], 256), 1, 1)
        cb = queue.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(self.pipeline)
        for buf, index in buffers:
            enc.set_buffer(buf, 0, index)
        for data, index in bytes_args:
            enc.set_bytes(data, index)
        enc.dispatch_threads(grid, _grid3(tgs))
        enc.end_encoding()
        cb.commit()
        cb.wait_until_completed()
        if cb.get_status() != 1:
            raise MetalError(f"kernel '{self.func}' failed: {cb.error}")
        return cb
