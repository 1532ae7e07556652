"""2-D heat diffusion split into row slabs: the multi-device demos' shared part.

The grid is ``height x width`` floats; its first and last rows and columns are fixed
(Dirichlet) boundaries. The interior rows are split into slabs, one per part; each slab is
stored with one halo row above and below (a neighbour's boundary row, or the grid's fixed
boundary). One explicit step on every slab, then the halo exchange: each part copies its
first and last computed rows into its neighbours' halos with blits on its own queue.

Queues are ordered by shared events only, never by the host: part p's event takes the value
k + 1 once p has computed step k and pushed its rows. Step k of part p waits for its
neighbours' events to reach k — their rows for step k have arrived, and they have finished
reading the buffer p is about to write into (step k-1 read it). With a single part this is
the plain single-device computation.
"""

from __future__ import annotations

import time

import numpy as np

from .. import _core

HEAT = """
#include <metal_stdlib>
using namespace metal;

// One explicit step of the heat equation on rows 1..size.y of a slab stored with one halo
// row above and below. Columns 0 and size.x - 1 are fixed boundaries.
kernel void heat_step(device const float* u [[buffer(0)]],
                      device float* out [[buffer(1)]],
                      constant uint2& size [[buffer(2)]],
                      constant float& alpha [[buffer(3)]],
                      uint2 gid [[thread_position_in_grid]]) {
    if (gid.x >= size.x || gid.y >= size.y) return;
    uint w = size.x;
    uint i = (gid.y + 1) * w + gid.x;
    if (gid.x == 0 || gid.x == w - 1) { out[i] = u[i]; return; }
    float c = u[i];
    out[i] = c + alpha * ((u[i - w] + u[i + w]) + (u[i - 1] + u[i + 1]) - 4.0f * c);
}
"""

ALPHA = 0.2  # stable for alpha <= 0.25


def initial_grid(height, width, seed=0):
    """A hot top edge, a cold rest, and a few random hot spots inside."""
    g = np.zeros((height, width), np.float32)
    g[0, :] = 1.0
    rng = np.random.default_rng(seed)
    for _ in range(8):
        y, x = rng.integers(1, height - 1), rng.integers(1, width - 1)
        g[max(1, y - 2) : y + 3, max(1, x - 2) : x + 3] = 2.0
    return g


def reference(grid, steps, alpha=ALPHA):
    """The same steps in NumPy, in float64."""
    u = grid.astype(np.float64)
    for _ in range(steps):
        v = u.copy()
        v[1:-1, 1:-1] = u[1:-1, 1:-1] + alpha * (
            u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
        )
        u = v
    return u


def split_rows(interior, parts):
    """[(first, count)] of `interior` rows over `parts` parts, as even as can be."""
    base, extra = divmod(interior, parts)
    out, at = [], 0
    for p in range(parts):
        n = base + (1 if p < extra else 0)
        out.append((at, n))
        at += n
    return out


_pipelines = {}


def heat_pipeline(device):
    if device not in _pipelines:
        lib = _core.Library(device, HEAT)
        _pipelines[device] = _core.ComputePipelineState(device, lib.make_function("heat_step"))
    return _pipelines[device]


def run_split(devices, grid, steps, alpha=ALPHA):
    """Runs `steps` steps of `grid` split over one part per entry of `devices` (a device may
    appear several times: its parts get queues of their own). Returns (result, seconds), the
    seconds from the first commit to the last part's completion."""
    height, width = grid.shape
    parts = len(devices)
    if height - 2 < parts:
        raise ValueError(f"{height - 2} interior rows cannot be split over {parts} parts")
    rows = split_rows(height - 2, parts)
    row_bytes = width * 4
    slabs = []
    for dev, (first, n) in zip(devices, rows):
        local = np.ascontiguousarray(grid[first : first + n + 2])  # global rows first .. first+n+1
        bufs = [_core.Buffer.from_numpy(dev, local), _core.Buffer.from_numpy(dev, local)]
        slabs.append(
            dict(
                device=dev,
                rows=n,
                bufs=bufs,
                queue=dev.make_command_queue(),
                event=dev.make_shared_event(),
                pipeline=heat_pipeline(dev),
            )
        )
    # Each queue uses its own buffers once and waits, before any other queue touches them: on a
    # GPU, host-written contents move to the device on the first queue that uses the buffer,
    # and the halo pushes of step 0 come from the neighbours' queues.
    for s in slabs:
        cb = s["queue"].make_command_buffer()
        blit = cb.make_blit_command_encoder()
        blit.copy_from_buffer(s["bufs"][0], 0, s["bufs"][1], 0, s["bufs"][0].length)
        blit.end_encoding()
        cb.commit()
        cb.wait_until_completed()
    size = np.array([width, 0], np.uint32)
    last = []
    t0 = time.perf_counter()
    for k in range(steps):
        for p, s in enumerate(slabs):
            src, dst = s["bufs"][k % 2], s["bufs"][(k + 1) % 2]
            neighbours = [q for q in (p - 1, p + 1) if 0 <= q < parts]
            cb = s["queue"].make_command_buffer()
            if k > 0:
                for q in neighbours:
                    cb.encode_wait_for_event(slabs[q]["event"], k)
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(s["pipeline"])
            enc.set_buffer(src, 0, 0)
            enc.set_buffer(dst, 0, 1)
            size[1] = s["rows"]
            enc.set_bytes(size, 2)
            enc.set_bytes(np.float32(alpha), 3)
            enc.dispatch_threads((width, s["rows"], 1), (32, 8, 1))
            enc.end_encoding()
            if neighbours:
                blit = cb.make_blit_command_encoder()
                for q in neighbours:
                    other = slabs[q]["bufs"][(k + 1) % 2]
                    if q < p:  # my first row -> the halo below the upper neighbour's rows
                        blit.copy_from_buffer(dst, row_bytes, other, (slabs[q]["rows"] + 1) * row_bytes, row_bytes)
                    else:  # my last row -> the halo above the lower neighbour's rows
                        blit.copy_from_buffer(dst, s["rows"] * row_bytes, other, 0, row_bytes)
                blit.end_encoding()
            cb.encode_signal_event(s["event"], k + 1)
            cb.commit()
            if k == steps - 1:
                last.append(cb)
    for cb in last:
        cb.wait_until_completed()
    seconds = time.perf_counter() - t0
    out = grid.copy()
    for s, (first, n) in zip(slabs, rows):
        local = s["bufs"][steps % 2].to_numpy(np.float32, (n + 2, width))
        out[first + 1 : first + 1 + n] = local[1 : n + 1]
    return out, seconds
