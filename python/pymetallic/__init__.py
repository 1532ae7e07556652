"""pymetallic: Metal compute, everywhere.

Write Apple Metal Shading Language (MSL) compute kernels, drive them from Python with a
PyOpenCL-like API, and run them unchanged on NVIDIA GPUs (through NVRTC) and on any CPU.
"""

import os as _os

from . import _core


def _nvrtc_from_wheels():
    """NVIDIA's pip wheels (nvidia-cuda-nvrtc and kin) put libnvrtc under site-packages/nvidia;
    tell the native loader where, so a pip-only CUDA setup works too."""
    try:
        import nvidia  # namespace package of NVIDIA's wheels
    except ImportError:
        return
    import glob
    dirs = [d for root in getattr(nvidia, "__path__", [])
            for d in glob.glob(_os.path.join(root, "*", "lib")) if glob.glob(_os.path.join(d, "libnvrtc.so*"))]
    if dirs:
        known = _os.environ.get("PYMETALLIC_NVRTC_PATH", "")
        _os.environ["PYMETALLIC_NVRTC_PATH"] = _os.pathsep.join([p for p in [known] + dirs if p])


_nvrtc_from_wheels()

_runtime = _os.path.join(_os.path.dirname(__file__), "runtime")
if _os.path.isfile(_os.path.join(_runtime, "metal_runtime.h")):
    _core.set_runtime_dir(_runtime)

from . import errors  # noqa: E402
from .errors import CompileError, DeviceError, MetalError, ShaderValidationError, ValidationError  # noqa: E402

_core._set_exception_types(MetalError, CompileError, DeviceError, ValidationError)

from ._api import (BlitCommandEncoder, Buffer, CommandBuffer, CommandBufferStatus, CommandQueue,  # noqa: E402
                   ComputeCommandEncoder, ComputePipelineState, Device, Function, Library, SharedEvent)
from .texture import (PixelFormat, SamplerState, Texture, TextureDescriptor, TextureType,  # noqa: E402
                      TextureUsage)
from .multi import local_device, local_rank  # noqa: E402
from .metallic import (Kernel, async_buffer_from_numpy, get_default_device, kernel_cache,  # noqa: E402
                       read_scalar, run_simple_compute_example, scalar_add, scalar_multiply)
from .interop import BufferView, asarray, bfloat16, from_dlpack  # noqa: E402
from . import calls as _calls  # noqa: E402,F401  (callable kernels)
from . import fast  # noqa: E402

KernelFinding = _core.KernelFinding
KernelLogMessage = _core.KernelLogMessage

__version__ = "0.1.0"

__all__ = [
    "MetalError", "CompileError", "DeviceError", "ValidationError", "ShaderValidationError",
    "KernelFinding", "KernelLogMessage",
    "Device", "Buffer", "Library", "Function", "ComputePipelineState", "CommandQueue",
    "CommandBuffer", "CommandBufferStatus", "ComputeCommandEncoder", "BlitCommandEncoder",
    "get_default_device", "Kernel", "kernel_cache", "async_buffer_from_numpy",
    "scalar_add", "scalar_multiply", "run_simple_compute_example",
    "read_scalar", "BufferView", "asarray", "from_dlpack", "bfloat16", "fast",
    "Texture", "TextureDescriptor", "TextureType", "TextureUsage", "PixelFormat", "SamplerState",
    "SharedEvent", "local_device", "local_rank",
]
