"""Animated GIFs and PNGs for the demos (Pillow), and the colour map used for the fluid dye.

Frames are 2-D uint8 arrays of palette indices; a GIF's palette holds at most 256 colours,
so an index image plus a 256-entry colour map is written exactly, with no quantisation.
"""

from __future__ import annotations

import os

import numpy as np

# Anchor colours of the dye colour map ("ember"): black -> deep blue -> magenta -> orange
# -> pale yellow. Position in [0, 1], then RGB.
_EMBER = [
    (0.00, (0, 0, 0)),
    (0.15, (20, 12, 70)),
    (0.35, (100, 20, 130)),
    (0.55, (200, 50, 90)),
    (0.75, (245, 130, 30)),
    (0.90, (250, 210, 80)),
    (1.00, (255, 255, 220)),
]


def colormap(anchors=None, n: int = 256) -> np.ndarray:
    """An ``(n, 3)`` uint8 table interpolated linearly between ``(position, (r, g, b))``
    anchors (default: the "ember" map used for the fluid dye)."""
    anchors = _EMBER if anchors is None else anchors
    pos = np.array([a[0] for a in anchors], dtype=np.float64)
    rgb = np.array([a[1] for a in anchors], dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)
    table = np.stack([np.interp(t, pos, rgb[:, c]) for c in range(3)], axis=1)
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)


GRAYSCALE = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


def to_indices(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Scalars mapped linearly from [vmin, vmax] to palette indices 0..255 (clipped)."""
    scaled = (np.asarray(values, dtype=np.float32) - vmin) * (255.0 / (vmax - vmin))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _require_pillow():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow is a declared demo dependency
        raise RuntimeError("writing images needs Pillow: pip install pillow") from e
    return Image


def _palette_image(Image, frame, palette):
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    img = Image.frombytes("P", (frame.shape[1], frame.shape[0]), frame.tobytes())
    img.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())
    return img


def save_gif(path: str, frames, palette=None, duration_ms: int = 40, loop: int = 0) -> str:
    """Writes an animated GIF of index frames (2-D uint8) with ``palette`` ((256, 3) uint8,
    default grayscale). Returns the path."""
    Image = _require_pillow()
    frames = list(frames)
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    palette = GRAYSCALE if palette is None else palette
    images = [_palette_image(Image, f, palette) for f in frames]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=duration_ms, loop=loop, optimize=False, disposal=1
    )
    return path


def save_png(path: str, image: np.ndarray, palette=None) -> str:
    """Writes a PNG: an (H, W, 3) uint8 RGB image, or (H, W) uint8 indices with ``palette``."""
    Image = _require_pillow()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 2:
        img = _palette_image(Image, image, GRAYSCALE if palette is None else palette)
    else:
        img = Image.frombytes("RGB", (image.shape[1], image.shape[0]), image.tobytes())
    img.save(path)
    return path
