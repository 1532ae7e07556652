"""The demo kernels, shipped as ``.metal`` files inside the package.

``get_kernel_source(name)`` returns the MSL text of ``<name>.metal``; each file's text is
also a module constant (``VECTOR_OPS``, ``MANDELBROT``, ``LIFE``, ``FLUID``, ...).

    >>> from pymetallic.kernels import get_kernel_source, FLUID
    >>> lib = pymetallic.Library(device, FLUID)
"""

from __future__ import annotations

import os as _os

_HERE = _os.path.dirname(_os.path.abspath(__file__))

#: constant name -> file stem
_FILES = {
    "VECTOR_OPS": "vector_ops",
    "MANDELBROT": "mandelbrot",
    "LIFE": "life",
    "FLUID": "fluid",
    "IMAGE_PROCESSING": "image_processing",
    "IMAGE_TEXTURE": "image_texture",
    "LINEAR_ALGEBRA": "linear_algebra",
    "HELPERS": "helpers",
    "REDUCTION": "reduction",
    "NBODY": "nbody",
}


def available_kernels() -> list[str]:
    """Names accepted by :func:`get_kernel_source` (the shipped ``.metal`` files)."""
    return sorted(f[:-6] for f in _os.listdir(_HERE) if f.endswith(".metal"))


def get_kernel_source(name: str) -> str:
    """The MSL source of the shipped kernel file ``name`` (with or without ``.metal``)."""
    stem = name[:-6] if name.endswith(".metal") else name
    if _os.sep in stem or "/" in stem or stem.startswith("."):
        raise ValueError(f"invalid kernel name {name!r}")
    path = _os.path.join(_HERE, stem + ".metal")
    if not _os.path.isfile(path):
        raise FileNotFoundError(f"no kernel file {stem!r}; available: {', '.join(available_kernels())}")
    with open(path, encoding="utf-8") as f:
        return f.read()


def kernel_path(name: str) -> str:
    """The file system path of a shipped kernel file (for ``pymetallic compile``)."""
    stem = name[:-6] if name.endswith(".metal") else name
    return _os.path.join(_HERE, stem + ".metal")


# The constants, declared for type checkers (the loop below sets them).
VECTOR_OPS: str
MANDELBROT: str
LIFE: str
FLUID: str
IMAGE_PROCESSING: str
IMAGE_TEXTURE: str
LINEAR_ALGEBRA: str
HELPERS: str
REDUCTION: str
NBODY: str

for _const, _stem in _FILES.items():
    globals()[_const] = get_kernel_source(_stem)

__all__ = ["get_kernel_source", "available_kernels", "kernel_path", *_FILES]
