"""Textures and samplers for compute kernels: descriptors, pixel formats, NumPy conversion.

A texture is linear memory here (rows of texels without padding, slices one after another),
so ``to_numpy`` and ``from_numpy`` are plain copies; kernels see Metal's texture types."""

from __future__ import annotations

import numpy as np

from . import _core
from .errors import ValidationError

Texture = _core.Texture
SamplerState = _core.SamplerState


class TextureType:
    """MTLTextureType values (the kinds supported here)."""

    TYPE_1D = 0
    TYPE_1D_ARRAY = 1
    TYPE_2D = 2
    TYPE_2D_ARRAY = 3
    TYPE_CUBE = 5
    TYPE_CUBE_ARRAY = 6
    TYPE_3D = 7
    TYPE_TEXTURE_BUFFER = 9


class TextureUsage:
    """MTLTextureUsage bits."""

    UNKNOWN = 0
    SHADER_READ = 1
    SHADER_WRITE = 2


# The supported formats, listed once in C++ (METAL_PIXEL_FORMATS) and bound as an IntEnum.
PixelFormat = _core.PixelFormat
# As Python's own IntEnum: str() and format() give the number (messages read as before).
PixelFormat.__str__ = int.__repr__
PixelFormat.__format__ = int.__format__


def _snake(name):
    out = name.replace("Unorm", "_UNORM").replace("Uint", "_UINT").replace("Sint", "_SINT").replace("Float", "_FLOAT")
    return out.upper()


# Storage dtype per format: (numpy dtype, normalized?); and the UPPER_SNAKE aliases.
_STORAGE = {}
for _format in list(PixelFormat):
    setattr(PixelFormat, _snake(_format.name), _format)
    _bits = "".join(c for c in _format.name if c.isdigit())
    _kind = (
        "unorm"
        if "Unorm" in _format.name
        else "uint"
        if "Uint" in _format.name
        else "sint"
        if "Sint" in _format.name
        else "float"
    )
    _dt = {"unorm": f"uint{_bits}", "uint": f"uint{_bits}", "sint": f"int{_bits}", "float": f"float{_bits}"}[_kind]
    _STORAGE[int(_format)] = (np.dtype(_dt), _kind == "unorm")


def pixel_format_info(pixel_format):
    """(channels, bytes per texel, storage dtype, normalized) of a pixel format."""
    channels, nbytes, _ = _core._pixel_format_info(int(pixel_format))
    if not nbytes or int(pixel_format) not in _STORAGE:
        raise ValidationError(f"pixel format {pixel_format} is not supported for textures")
    dtype, normalized = _STORAGE[int(pixel_format)]
    return channels, nbytes, dtype, normalized


_DEFAULT_FORMATS = {
    np.dtype(np.float32): (PixelFormat.R32Float, PixelFormat.RG32Float, PixelFormat.RGBA32Float),
    np.dtype(np.float16): (PixelFormat.R16Float, PixelFormat.RG16Float, PixelFormat.RGBA16Float),
    np.dtype(np.uint8): (PixelFormat.R8Unorm, PixelFormat.RG8Unorm, PixelFormat.RGBA8Unorm),
    np.dtype(np.int8): (PixelFormat.R8Sint, PixelFormat.RG8Sint, PixelFormat.RGBA8Sint),
    np.dtype(np.uint16): (PixelFormat.R16Uint, PixelFormat.RG16Uint, PixelFormat.RGBA16Uint),
    np.dtype(np.int16): (PixelFormat.R16Sint, PixelFormat.RG16Sint, PixelFormat.RGBA16Sint),
    np.dtype(np.uint32): (PixelFormat.R32Uint, PixelFormat.RG32Uint, PixelFormat.RGBA32Uint),
    np.dtype(np.int32): (PixelFormat.R32Sint, PixelFormat.RG32Sint, PixelFormat.RGBA32Sint),
}


class TextureDescriptor:
    """Metal's MTLTextureDescriptor (one mip level, one sample)."""

    def __init__(
        self,
        texture_type=TextureType.TYPE_2D,
        pixel_format=PixelFormat.RGBA8Unorm,
        width=1,
        height=1,
        depth=1,
        array_length=1,
        usage=TextureUsage.SHADER_READ | TextureUsage.SHADER_WRITE,
    ):
        self.texture_type = texture_type
        self.pixel_format = pixel_format
        self.width, self.height, self.depth, self.array_length = width, height, depth, array_length
        self.usage = usage

    @classmethod
    def texture2d_descriptor(cls, pixel_format, width, height, mipmapped=False):
        """A 2D descriptor of ``width`` x ``height`` pixels. Raises ValidationError for
        ``mipmapped=True`` (one mip level only)."""
        if mipmapped:
            raise ValidationError("mipmapped textures are not supported yet")
        return cls(TextureType.TYPE_2D, pixel_format, width, height)

    def __repr__(self):
        return (
            f"TextureDescriptor(texture_type={self.texture_type}, pixel_format={self.pixel_format}, "
            f"width={self.width}, height={self.height}, depth={self.depth}, "
            f"array_length={self.array_length}, usage={self.usage})"
        )


def _make_texture(device, descriptor):
    d = descriptor
    return Texture(
        device,
        int(d.texture_type),
        int(d.pixel_format),
        int(d.width),
        int(d.height),
        int(d.depth),
        int(d.array_length),
        int(d.usage),
    )


def _storage_shape(tex):
    channels = pixel_format_info(tex.pixel_format)[0]
    return (tex._slices, tex.height, tex.width, channels)


def _to_storage(array, pixel_format):
    """``array`` as the format's storage dtype (floats into unorm formats are scaled from [0, 1])."""
    _, _, dtype, normalized = pixel_format_info(pixel_format)
    if normalized and np.issubdtype(array.dtype, np.floating):
        scale = np.iinfo(dtype).max
        return np.rint(np.clip(array, 0.0, 1.0) * scale).astype(dtype)
    return array.astype(dtype, copy=False)


def _texture_from_numpy(cls, device, array, pixel_format=None, texture_type=None):
    """A texture holding ``array``: (W,) → 1-D; (H, W) or (H, W, C) → 2-D; with
    ``texture_type=TextureType.TYPE_3D`` or ``TYPE_2D_ARRAY``, (D, H, W) or (D, H, W, C);
    ``TYPE_1D_ARRAY``: (layers, W) or (layers, W, C). C is 1, 2 or 4 (3 is padded with an opaque alpha).
    Without ``pixel_format``, the dtype picks one (float32 → R32Float..., uint8 → R8Unorm...)."""
    array = np.asarray(array)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if texture_type is None:
        texture_type = {1: TextureType.TYPE_1D, 2: TextureType.TYPE_2D, 3: TextureType.TYPE_2D}.get(array.ndim)
        if texture_type is None:
            raise ValidationError(
                f"a {array.ndim}-D array: pass texture_type=TextureType.TYPE_3D or TYPE_2D_ARRAY for volumes"
            )
    spatial = {
        TextureType.TYPE_1D: 1,
        TextureType.TYPE_1D_ARRAY: 2,
        TextureType.TYPE_2D: 2,
        TextureType.TYPE_2D_ARRAY: 3,
        TextureType.TYPE_3D: 3,
        TextureType.TYPE_CUBE: 3,
        TextureType.TYPE_CUBE_ARRAY: 3,
        TextureType.TYPE_TEXTURE_BUFFER: 1,
    }[texture_type]
    if array.ndim == spatial:
        array = array[..., None]
    if array.ndim != spatial + 1:
        raise ValidationError(f"an array of shape {array.shape} does not fit texture type {texture_type}")
    if array.shape[-1] == 3:
        alpha_value = 1.0 if np.issubdtype(array.dtype, np.floating) else np.iinfo(array.dtype).max
        alpha = np.full(array.shape[:-1] + (1,), alpha_value, dtype=array.dtype)
        array = np.concatenate([array, alpha], axis=-1)
    channels = array.shape[-1]
    if channels not in (1, 2, 4):
        raise ValidationError(f"textures hold 1, 2 or 4 channels, not {channels}")
    if pixel_format is None:
        if array.dtype not in _DEFAULT_FORMATS:
            raise ValidationError(f"no pixel format for dtype {array.dtype}: pass pixel_format=")
        pixel_format = _DEFAULT_FORMATS[array.dtype][{1: 0, 2: 1, 4: 2}[channels]]
    if pixel_format_info(pixel_format)[0] != channels:
        raise ValidationError(
            f"pixel format {pixel_format} has {pixel_format_info(pixel_format)[0]} channels, the array {channels}"
        )
    shape = array.shape[:-1]
    width = shape[-1]
    height = shape[-2] if spatial >= 2 and texture_type != TextureType.TYPE_1D_ARRAY else 1
    slices = (
        shape[0] if texture_type in (TextureType.TYPE_3D, TextureType.TYPE_2D_ARRAY, TextureType.TYPE_1D_ARRAY) else 1
    )
    if texture_type in (TextureType.TYPE_CUBE, TextureType.TYPE_CUBE_ARRAY):
        if shape[0] % 6 or (texture_type == TextureType.TYPE_CUBE and shape[0] != 6):
            raise ValidationError(f"a cube texture holds 6 faces per cube, not {shape[0]} images")
        slices = shape[0] // 6
    desc = TextureDescriptor(
        texture_type,
        pixel_format,
        width,
        height,
        depth=slices if texture_type == TextureType.TYPE_3D else 1,
        array_length=slices if texture_type != TextureType.TYPE_3D else 1,
    )
    tex = _make_texture(device, desc)
    tex.replace_region(None, array)
    return tex


def _storage_view(tex):
    _, _, dtype, _ = pixel_format_info(tex.pixel_format)
    return tex._buffer._bytes_view().view(dtype).reshape(_storage_shape(tex))


def _replace_region(self, region, data, mipmap_level=0, slice=0):
    """Writes ``data`` into ``region`` (``((x, y, z), (w, h, d))``; None: the whole texture).
    ``data`` is shaped like ``to_numpy`` output for that region; for arrays ``slice`` picks the layer."""
    if mipmap_level != 0:
        raise ValidationError("textures have one mip level here (mipmap_level must be 0)")
    view = _storage_view(self)
    if region is None:
        target = view
    else:
        (x, y, z), (w, h, d) = region
        if self.texture_type in (TextureType.TYPE_2D_ARRAY, TextureType.TYPE_1D_ARRAY):
            z, d = slice, 1
        if x < 0 or y < 0 or z < 0 or x + w > self.width or y + h > self._buffer_height() or z + d > self._slices:
            raise ValidationError(f"region {region} is outside the texture")
        target = view[z : z + d, y : y + h, x : x + w, :]
    data = _to_storage(np.asarray(data), self.pixel_format)
    if data.size != target.size:
        raise ValidationError(f"data of {data.size} components does not fill a region of {target.size}")
    target[...] = data.reshape(target.shape)


def _texture_to_numpy(self, dtype=None):
    """A copy of the texels: (W[, C]) for 1-D, (H, W[, C]) for 2-D, (D, H, W[, C]) for 3-D and
    arrays (C dropped when 1). ``dtype`` converts (unorm formats to float scale into [0, 1])."""
    _, _, storage, normalized = pixel_format_info(self.pixel_format)
    data = np.array(_storage_view(self), copy=True)
    if data.shape[-1] == 1:
        data = data[..., 0]
    t = self.texture_type
    if t in (TextureType.TYPE_1D, TextureType.TYPE_TEXTURE_BUFFER):
        data = data[0, 0]
    elif t == TextureType.TYPE_1D_ARRAY:
        data = data[:, 0]
    elif t == TextureType.TYPE_2D:
        data = data[0]
    if dtype is not None and np.dtype(dtype) != storage:
        if normalized and np.issubdtype(np.dtype(dtype), np.floating):
            data = data.astype(dtype) / np.iinfo(storage).max
        else:
            data = data.astype(dtype)
    return data


def _texture_repr(self):
    return (
        f"<pymetallic.Texture type {self.texture_type}, format {self.pixel_format}, "
        f"{self.width}x{self.height}x{self.depth} (array length {self.array_length}), on {self.device.name}>"
    )


def _texture_buffer_height(self):
    return self.height


def _device_make_texture(self, descriptor, pixel_format=None, texture_type=None):
    """A texture from a ``TextureDescriptor``, or holding a copy of a NumPy array (``Texture.from_numpy``)."""
    if isinstance(descriptor, TextureDescriptor):
        return _make_texture(self, descriptor)
    return Texture.from_numpy(self, descriptor, pixel_format=pixel_format, texture_type=texture_type)


def _device_make_sampler_state(self, **kwargs):
    return SamplerState(self, **kwargs)
