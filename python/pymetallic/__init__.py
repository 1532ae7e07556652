"""pymetallic: Metal compute, everywhere.

Write Apple Metal Shading Language (MSL) compute kernels, drive them from Python with a
PyOpenCL-like API, and run them unchanged on NVIDIA GPUs (through NVRTC) and on any CPU.
"""

import os as _os

from ._version import __version__
from . import _core

if getattr(_core, "__version__", __version__) != __version__:
    raise ImportError(
        f"pymetallic {__version__} found a native module built as {_core.__version__}: "
        "reinstall the package (pip install --force-reinstall)"
    )


def _nvrtc_from_wheels():
    """NVIDIA's pip wheels (nvidia-cuda-nvrtc and kin) put libnvrtc under site-packages/nvidia;
    tell the native loader where, so a pip-only CUDA setup works too."""
    try:
        import nvidia  # namespace package of NVIDIA's wheels
    except ImportError:
        return
    import glob

    dirs = [
        d
        for root in getattr(nvidia, "__path__", [])
        for d in glob.glob(_os.path.join(root, "*", "lib"))
        if glob.glob(_os.path.join(d, "libnvrtc.so*"))
    ]
    if dirs:
        known = _os.environ.get("PYMETALLIC_NVRTC_PATH", "")
        _os.environ["PYMETALLIC_NVRTC_PATH"] = _os.pathsep.join([p for p in [known] + dirs if p])


def _zig_from_wheel():
    """The [cpu] extra installs the `ziglang` wheel: a complete clang-based C/C++ compiler.
    Name its binary to the CPU toolchain, which uses it when no system compiler is found."""
    if _os.environ.get("PYMETALLIC_ZIG"):
        return
    import importlib.util

    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return
    for folder in spec.submodule_search_locations:
        zig = _os.path.join(folder, "zig")
        if _os.access(zig, _os.X_OK):
            _os.environ["PYMETALLIC_ZIG"] = zig
            return


_nvrtc_from_wheels()
_zig_from_wheel()

_runtime = _os.path.join(_os.path.dirname(__file__), "runtime")
if _os.path.isfile(_os.path.join(_runtime, "metal_runtime.h")):
    _core.set_runtime_dir(_runtime)

from . import errors  # noqa: E402, F401 - the module is public (pymetallic.errors)
from .errors import (
    CompileError,
    DeviceError,
    MetalError,
    ShaderValidationError,
    ValidationError,  # noqa: E402
    ValidationTypeError,
)

_core._set_exception_types(MetalError, CompileError, DeviceError, ValidationError, ValidationTypeError)

from ._api import (
    BlitCommandEncoder,
    Buffer,
    CommandBuffer,
    CommandBufferStatus,
    CommandQueue,  # noqa: E402
    ComputeCommandEncoder,
    ComputePipelineState,
    Device,
    Function,
    IndirectCommandBuffer,
    IndirectCommandBufferDescriptor,
    IndirectCommandType,
    IndirectComputeCommand,
    Library,
    SharedEvent,
)
from .texture import (
    PixelFormat,
    SamplerState,
    Texture,
    TextureDescriptor,
    TextureType,  # noqa: E402
    TextureUsage,
)
from .multi import local_device, local_rank  # noqa: E402
from .metallic import (
    Kernel,
    async_buffer_from_numpy,
    get_default_device,
    kernel_cache,  # noqa: E402
    read_scalar,
    run_simple_compute_example,
    scalar_add,
    scalar_multiply,
)
from .interop import BufferView, asarray, bfloat16, from_dlpack  # noqa: E402
from . import calls as _calls  # noqa: E402,F401  (callable kernels)
from . import fast  # noqa: E402

KernelFinding = _core.KernelFinding
KernelLogMessage = _core.KernelLogMessage

__all__ = [
    "MetalError",
    "CompileError",
    "DeviceError",
    "ValidationError",
    "ValidationTypeError",
    "ShaderValidationError",
    "KernelFinding",
    "KernelLogMessage",
    "Device",
    "Buffer",
    "Library",
    "Function",
    "ComputePipelineState",
    "CommandQueue",
    "CommandBuffer",
    "CommandBufferStatus",
    "ComputeCommandEncoder",
    "BlitCommandEncoder",
    "get_default_device",
    "Kernel",
    "kernel_cache",
    "async_buffer_from_numpy",
    "scalar_add",
    "scalar_multiply",
    "run_simple_compute_example",
    "read_scalar",
    "BufferView",
    "asarray",
    "from_dlpack",
    "bfloat16",
    "fast",
    "Texture",
    "TextureDescriptor",
    "TextureType",
    "TextureUsage",
    "PixelFormat",
    "SamplerState",
    "SharedEvent",
    "IndirectCommandBuffer",
    "IndirectCommandBufferDescriptor",
    "IndirectCommandType",
    "IndirectComputeCommand",
    "local_device",
    "local_rank",
]
