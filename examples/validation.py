"""Validation mode and kernel printing (issue 12), one small buggy kernel per finding.

Each kernel below has one classic bug; with options={"validation": True} the command
buffer completes with an error and wait_until_completed() raises ShaderValidationError
naming the kernel, the MSL file:line:column, the thread and the bytes involved. The
printing kernel shows os_log / printf messages arriving in Python's logging.

Runs on the CPU device, or on the first CUDA GPU with --gpu. Run: python examples/validation.py [--gpu]
"""

import logging
import sys

import numpy as np

import pymetallic as pm

HEADER = "#include <metal_stdlib>\nusing namespace metal;\n"

BUGS = {
    "off-by-one write": (
        """
kernel void fill(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                 uint gid [[thread_position_in_grid]]) {
    if (gid <= n) out[gid] = 1.0f;          // should be gid < n
}""",
        "fill",
        64,
        64,
    ),
    "missing barrier (race on threadgroup memory)": (
        """
kernel void rotate(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                   uint lid [[thread_position_in_threadgroup]], uint gid [[thread_position_in_grid]]) {
    threadgroup float tile[64];
    tile[lid] = in[gid];
    // threadgroup_barrier(mem_flags::mem_threadgroup);   <- missing
    out[gid] = tile[(lid + 1) % 64];
}""",
        "rotate",
        64,
        64,
    ),
    "barrier inside if (divergence)": (
        """
kernel void partial(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                    uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float tile[64];
    tile[tid] = float(tid);
    if (tid < n) {
        threadgroup_barrier(mem_flags::mem_threadgroup);   // not every thread gets here
        out[tid] = tile[(tid + 1) % n];
    }
}""",
        "partial",
        64,
        64,
    ),
    "uninitialised threadgroup read": (
        """
kernel void half_filled(device float* out [[buffer(0)]], uint lid [[thread_position_in_threadgroup]]) {
    threadgroup float tile[64];
    if (lid < 32) tile[lid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[lid] = tile[lid];                    // lids 32..63 read what nobody wrote
}""",
        "half_filled",
        64,
        64,
    ),
    "texture read past the edge": (
        """
kernel void diff(texture2d<float, access::read> src [[texture(0)]], device float* out [[buffer(0)]],
                 uint2 gid [[thread_position_in_grid]]) {
    out[gid.y * 8 + gid.x] = src.read(uint2(gid.x + 1, gid.y)).x - src.read(gid).x;
}""",
        "diff",
        (8, 8),
        (8, 8),
    ),
}


def run_bug(device, title, body, name, grid, tg):
    src = HEADER + body
    lib = pm.Library(device, src, {"validation": True, "filename": name + ".metal"})
    pipe = pm.ComputePipelineState(device, lib.make_function(name))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    buffers = [pm.Buffer.from_numpy(device, np.zeros(64, np.float32))]
    if name == "rotate":
        buffers.insert(0, pm.Buffer.from_numpy(device, np.arange(64, dtype=np.float32)))
    for i, b in enumerate(buffers):
        enc.set_buffer(b, 0, i)
    if name in ("fill", "partial"):
        enc.set_bytes(np.uint32(40 if name == "partial" else 64), 1)
    if name == "diff":
        enc.set_texture(pm.Texture.from_numpy(device, np.ones((8, 8), np.float32)), 0)
    grid = grid if isinstance(grid, tuple) else (grid,)
    tg = tg if isinstance(tg, tuple) else (tg,)
    enc.dispatch_threads(grid + (1,) * (3 - len(grid)), tg + (1,) * (3 - len(tg)))
    enc.end_encoding()
    cb.commit()
    print("==", title)
    try:
        cb.wait_until_completed()
        print("   no finding (unexpected)")
    except pm.errors.ShaderValidationError as e:
        for f in e.findings:
            print("  ", f.message)


PRINTING = (
    HEADER
    + """#include <metal_logging>
constant os_log logger("com.example.validation", "demo");
kernel void talk(device const float2* v [[buffer(0)]], uint gid [[thread_position_in_grid]]) {
    if (gid % 4 == 0) logger.log_info("v[%u] = %v2.2f", gid, v[gid]);
    if (gid == 5) printf("plain printf from thread %u", gid);
}
"""
)


def main():
    kind = "cuda" if "--gpu" in sys.argv else "cpu"
    found = [d for d in pm.Device.get_all_devices() if getattr(d, "kind", "cpu") == kind]
    if not found:
        sys.exit("no %s device here" % kind)
    device = found[0]
    for title, (body, name, grid, tg) in BUGS.items():
        run_bug(device, title, body, name, grid, tg)

    print("== printing (os_log and printf, to logging.getLogger('pymetallic.kernel'))")
    logging.basicConfig(level=logging.INFO, format="   %(levelname)s %(name)s: %(message)s")
    lib = pm.Library(device, PRINTING)
    pipe = pm.ComputePipelineState(device, lib.make_function("talk"))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(pm.Buffer.from_numpy(device, np.arange(32, dtype=np.float32) / 3), 0, 0)
    enc.dispatch_threads((16, 1, 1), (8, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()


if __name__ == "__main__":
    main()
