"""What bench/gpu_gemm.py and bench/gpu_gemm_sweep.py share: the inputs of a GEMM in each element
type (with the float32 values cuBLAS is compared on), and one dispatch of bench/gemm.metal's
`gemm` kernel in its own command buffer."""

from __future__ import annotations

import numpy as np


def operands(tname, a32, b32):
    """(host_a, host_b, ref_a, ref_b): the arrays to upload for element type tname, and their
    values as float32. bfloat is the top 16 bits of a float32 (truncation: exactly representable);
    half is NumPy's float16."""
    if tname == "half":
        host_a, host_b = a32.astype(np.float16), b32.astype(np.float16)
        return host_a, host_b, host_a.astype(np.float32), host_b.astype(np.float32)
    if tname == "bfloat":
        host_a = (a32.view(np.uint32) >> 16).astype(np.uint16)
        host_b = (b32.view(np.uint32) >> 16).astype(np.uint16)
        ref_a = (host_a.astype(np.uint32) << 16).view(np.float32)
        ref_b = (host_b.astype(np.uint32) << 16).view(np.float32)
        return host_a, host_b, ref_a, ref_b
    return a32, b32, a32, b32


def dispatcher(pymetallic, queue, pipe, A, B, C, n, bm, bn, threads):
    """A function that runs C = A B (n x n x n) once with BM x BN tiles of `threads` threads, in its
    own command buffer, waits, and returns the command buffer (for its GPU timestamps)."""
    shape = np.array([n, n, n], np.uint32)

    def run():
        cbuf = queue.make_command_buffer()
        enc = cbuf.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipe)
        enc.set_buffer(A, 0, 0)
        enc.set_buffer(B, 0, 1)
        enc.set_buffer(C, 0, 2)
        enc.set_bytes(shape, 3)
        enc.dispatch_threadgroups((n // bn, n // bm, 1), (threads, 1, 1))
        enc.end_encoding()
        cbuf.commit()
        cbuf.wait_until_completed()
        return cbuf

    return run
