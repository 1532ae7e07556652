"""Does the layout of a kernel's parameters cost GPU time? (issue 13: our Life and fluid kernels
take ~7% more SM cycles than CuPy's with the same PTX body.) The Life step of
bench/gpu_kernels.py compiled three ways with CuPy, differing only in how the arguments arrive:
  plain    (const uchar* in, uchar* out, unsigned n), as CuPy's row passes them
  header   one 96-byte struct: 12 uint32 header, then 16-byte slots for in, out, n (pymetallic's
           entry layout: the body reads the header's inline mask, the slots at 48, 64 and 80)
  front    the same struct with the slots first and the header after them
  header_nobranch   the 96-byte struct, n read from its slot without testing the mask
  small_branch      a 24-byte struct (in, out, n, mask), the mask tested
  plain_pad         the plain arguments and an unused 76-byte struct after them
GPU time per launch: CUDA events around 5 replays of a graph of 100 launches, median of 7.

    python bench/gpu_param_probe.py
"""

from __future__ import annotations

import ctypes
import os
import statistics
import sys

import numpy as np

try:
    import cupy as cp
except ImportError:  # pragma: no cover - needs a GPU machine
    sys.exit("this probe needs CuPy and an NVIDIA GPU")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_kernels import LIFE_BODY as BODY  # noqa: E402  the Life step of the benchmark

SRC = (
    r"""
struct alignas(16) Slot { union { void* ptr; unsigned char bytes[16]; }; };
struct Header { unsigned dims[12]; Slot a0, a1, a2; };
struct Front { Slot a0, a1, a2; unsigned dims[12]; };
extern "C" __global__ void plain(const unsigned char* in, unsigned char* out, unsigned n) {"""
    + BODY
    + r"""}
extern "C" __global__ void header(const __grid_constant__ Header P) {
    const unsigned char* in = (const unsigned char*)P.a0.ptr; unsigned char* out = (unsigned char*)P.a1.ptr;
    unsigned n = ((P.dims[9] >> 2) & 1u) ? *(const unsigned*)P.a2.bytes : *(const unsigned*)P.a2.ptr;"""
    + BODY
    + r"""}
extern "C" __global__ void front(const __grid_constant__ Front P) {
    const unsigned char* in = (const unsigned char*)P.a0.ptr; unsigned char* out = (unsigned char*)P.a1.ptr;
    unsigned n = ((P.dims[9] >> 2) & 1u) ? *(const unsigned*)P.a2.bytes : *(const unsigned*)P.a2.ptr;"""
    + BODY
    + r"""}
struct Small { const unsigned char* in; unsigned char* out; unsigned n; unsigned mask; };
struct Pad { unsigned w[19]; };
extern "C" __global__ void header_nobranch(const __grid_constant__ Header P) {
    const unsigned char* in = (const unsigned char*)P.a0.ptr; unsigned char* out = (unsigned char*)P.a1.ptr;
    unsigned n = *(const unsigned*)P.a2.bytes;"""
    + BODY
    + r"""}
extern "C" __global__ void small_branch(const __grid_constant__ Small P) {
    const unsigned char* in = P.in; unsigned char* out = P.out;
    unsigned n = (P.mask & 4u) ? P.n : *(const unsigned*)P.in;"""
    + BODY
    + r"""}
extern "C" __global__ void plain_pad(const unsigned char* in, unsigned char* out, unsigned n, Pad pad) {"""
    + BODY
    + "}\n"
)


def main():
    w = 512
    mod = cp.RawModule(code=SRC, options=("-std=c++17",))
    rng = np.random.default_rng(3)
    a = cp.asarray((rng.random((w, w)) < 0.3).astype(np.uint8))
    b = cp.empty_like(a)
    header = np.zeros(96, np.uint8)
    header[48:56] = np.frombuffer(np.uint64(a.data.ptr).tobytes(), np.uint8)
    header[64:72] = np.frombuffer(np.uint64(b.data.ptr).tobytes(), np.uint8)
    header[80:84] = np.frombuffer(np.uint32(w).tobytes(), np.uint8)
    header[36] = 4  # dims[9]: argument 2 inline
    front = np.zeros(96, np.uint8)
    front[0:8], front[16:24], front[32:36] = header[48:56], header[64:72], header[80:84]
    front[48 + 36] = 4
    cuda = ctypes.CDLL("libcuda.so.1")
    launch = cuda.cuLaunchKernel
    launch.argtypes = [ctypes.c_void_p] + [ctypes.c_uint] * 6 + [ctypes.c_uint, ctypes.c_void_p] + [ctypes.c_void_p] * 2
    cs = cp.cuda.Stream(non_blocking=True)
    stream = cs.ptr
    hdr_blob = header.ctypes.data_as(ctypes.c_void_p)
    front_blob = front.ctypes.data_as(ctypes.c_void_p)
    pa, pb, pn = ctypes.c_void_p(a.data.ptr), ctypes.c_void_p(b.data.ptr), ctypes.c_uint(w)
    plain_params = (ctypes.c_void_p * 3)(*[ctypes.cast(ctypes.pointer(x), ctypes.c_void_p) for x in (pa, pb, pn)])

    def launcher(name, params):
        k = mod.get_function(name)
        f = k.kernel.ptr if hasattr(k, "kernel") else k.ptr
        return lambda: launch(f, w // 16, w // 16, 1, 16, 16, 1, 0, stream, params, None)

    small = np.zeros(24, np.uint8)
    small[0:8], small[8:16], small[16:20], small[20] = header[48:56], header[64:72], header[80:84], 4
    pad = np.zeros(76, np.uint8)
    pp = ctypes.c_void_p
    pad_params = (pp * 4)(*[ctypes.cast(ctypes.pointer(x), pp) for x in (pa, pb, pn)], pad.ctypes.data_as(pp))
    cases = {
        "plain": launcher("plain", plain_params),
        "header": launcher("header", (ctypes.c_void_p * 1)(hdr_blob)),
        "front": launcher("front", (ctypes.c_void_p * 1)(front_blob)),
        "header_nobranch": launcher("header_nobranch", (ctypes.c_void_p * 1)(hdr_blob)),
        "small_branch": launcher("small_branch", (ctypes.c_void_p * 1)(small.ctypes.data_as(pp))),
        "plain_pad": launcher("plain_pad", pad_params),
    }
    ref = None
    for name, run in cases.items():
        b[...] = 0
        cp.cuda.Device().synchronize()
        run()
        cs.synchronize()
        got = cp.asnumpy(b)
        ref = got if ref is None else ref
        assert (got == ref).all(), name
    # Each case as a CUDA graph of 100 launches: the GPU runs them back to back (launching
    # one by one from Python would leave it waiting for the host).
    graphs = {}
    for name, run in cases.items():
        cs.begin_capture()
        for _ in range(100):
            run()
        graphs[name] = cs.end_capture()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    for rnd in range(2):
        for name, g in graphs.items():
            times = []
            for _ in range(7):
                start.record(cs)
                for _ in range(5):
                    g.launch(cs)
                end.record(cs)
                end.synchronize()
                times.append(cp.cuda.get_elapsed_time(start, end) / 500 * 1e3)
            print(
                f"round {rnd}: {name:15} {statistics.median(times):6.3f} us per launch (GPU, graph of 100)", flush=True
            )


if __name__ == "__main__":
    main()
