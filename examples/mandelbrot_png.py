"""Render the Mandelbrot set on the device and save it as a PNG.

Run: python examples/mandelbrot_png.py [--small] [--out mandelbrot.png]
(PYMETALLIC_EXAMPLE_SMALL=1 also picks a small image.)
"""

import argparse
import os

import numpy as np

import pymetallic
from pymetallic.gif import colormap, save_png, to_indices
from pymetallic.kernels import MANDELBROT  # the kernel ships with the package

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("PYMETALLIC_EXAMPLE_SMALL")))
parser.add_argument("--out", default="mandelbrot.png")
parser.add_argument("--iterations", type=int, default=256)
args = parser.parse_args()

width, height = (128, 96) if args.small else (1600, 1200)
device = pymetallic.Device.get_default_device()
kernel = pymetallic.Kernel(device, MANDELBROT, "mandelbrot")  # compiled once, cached

# The kernel's `constant MandelParams&` argument: a NumPy structured scalar with the same layout.
scale = 3.0 / width
params = np.array(
    [(width, height, args.iterations, -0.6 - 0.5 * width * scale, -0.5 * height * scale, scale)],
    dtype=[("w", "<u4"), ("h", "<u4"), ("it", "<u4"), ("x", "<f4"), ("y", "<f4"), ("s", "<f4")],
)
counts = pymetallic.Buffer(device, width * height * 4)
kernel(device.make_command_queue(), (width, height, 1), (16, 16, 1), buffers=[(counts, 0)], bytes_args=[(params, 1)])

n = counts.to_numpy(np.uint32, (height, width))
shade = np.where(n >= args.iterations, 0.0, np.sqrt(n / args.iterations))  # inside the set: black
save_png(args.out, to_indices(shade), colormap())
print(f"wrote {args.out} ({width}x{height}, {int((n >= args.iterations).sum())} points inside the set)")
