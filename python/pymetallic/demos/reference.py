"""NumPy references for the smaller demos (Mandelbrot, image processing), written to
mirror the kernels' float32 arithmetic so results can be compared closely."""

from __future__ import annotations

import numpy as np


def mandelbrot_view(width, height, center=(-0.6, 0.0), span=3.0):
    """(x_min, y_min, scale) of a view ``span`` wide around ``center``."""
    scale = span / width
    return center[0] - 0.5 * width * scale, center[1] - 0.5 * height * scale, scale


def mandelbrot_reference(width, height, max_iter, x_min, y_min, scale):
    """Escape iteration counts (uint32, shape (height, width)), as the kernel computes them."""
    f = np.float32
    cx = (f(x_min) + np.arange(width, dtype=f) * f(scale))[None, :].repeat(height, 0)
    cy = (f(y_min) + np.arange(height, dtype=f) * f(scale))[:, None].repeat(width, 1)
    zx = np.zeros((height, width), f)
    zy = np.zeros((height, width), f)
    n = np.zeros((height, width), np.uint32)
    active = np.ones((height, width), bool)
    for k in range(max_iter):
        x2, y2 = zx * zx, zy * zy
        active &= (x2 + y2) <= f(4.0)
        if not active.any():
            break
        xy = zx * zy
        zx = np.where(active, x2 - y2 + cx, zx)
        zy = np.where(active, xy + xy + cy, zy)
        n[active] = k + 1
    return n


def synthetic_image(width, height, seed=0):
    """A deterministic RGB test picture (uint8, (height, width, 3)): gradients, discs, stripes."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    img[..., 0] = 60 + 120 * xs / max(width - 1, 1)
    img[..., 1] = 40 + 100 * ys / max(height - 1, 1)
    img[..., 2] = 90
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.06, 0.2) * min(width, height)
        mask = (xs - cx) ** 2 + (ys - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    stripes = (xs.astype(int) // max(width // 16, 1)) % 2 == 0
    band = ys > 0.8 * height
    img[band & stripes] = 240
    return np.clip(img, 0, 255).astype(np.uint8)


def gray_reference(rgb):
    f = np.float32
    r, g, b = (rgb[..., c].astype(f) for c in range(3))
    return ((f(0.299) * r + f(0.587) * g + f(0.114) * b) * f(1.0 / 255.0)).astype(f)


def _shifted(img):
    e = np.pad(img, 1, mode="edge")
    h, w = img.shape
    return {(dy, dx): e[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def blur3x3_reference(img):
    s = _shifted(img.astype(np.float32))
    k = {(-1, -1): 1, (-1, 0): 2, (-1, 1): 1, (0, -1): 2, (0, 0): 4, (0, 1): 2, (1, -1): 1, (1, 0): 2, (1, 1): 1}
    return (sum(np.float32(v) * s[key] for key, v in k.items()) / np.float32(16)).astype(np.float32)


def box3x3_reference(img):
    s = _shifted(img.astype(np.float32))
    return (sum(s.values()) / np.float32(9)).astype(np.float32)


def sobel_reference(img):
    s = _shifted(img.astype(np.float32))
    gx = (s[(-1, 1)] + 2 * s[(0, 1)] + s[(1, 1)]) - (s[(-1, -1)] + 2 * s[(0, -1)] + s[(1, -1)])
    gy = (s[(1, -1)] + 2 * s[(1, 0)] + s[(1, 1)]) - (s[(-1, -1)] + 2 * s[(-1, 0)] + s[(-1, 1)])
    return np.sqrt(gx * gx + gy * gy).astype(np.float32)


def nbody_reference(pos, vel, dt, softening2, g=1.0):
    """One step of the nbody kernel in float64: returns (new positions, new velocities)."""
    p = pos.astype(np.float64)
    d = p[None, :, :3] - p[:, None, :3]  # d[i, j] = x_j - x_i
    r2 = (d * d).sum(-1) + softening2
    inv3 = r2**-1.5
    acc = (d * (p[None, :, 3] * inv3)[..., None]).sum(1)
    v = vel[:, :3].astype(np.float64) + dt * g * acc
    new_pos = p.copy()
    new_pos[:, :3] += dt * v
    new_vel = np.zeros_like(p)
    new_vel[:, :3] = v
    return new_pos, new_vel
