"""The driver's own cost of one launch (issue 13, launch overhead): cuLaunchKernel of an empty
kernel called through ctypes in a tight loop, varied one factor at a time — the stream
(the legacy default stream, as CuPy launches on; a blocking or a non-blocking stream, as
pymetallic's queue makes), the kernel's parameter bytes (one pointer; a struct as pymetallic's
entries take: 48-byte header + slots), an event recorded before each launch, and a word of
mapped host memory the stream writes after each launch (cuStreamWriteValue32), which the host
can poll by reading memory. The ctypes
call adds the same Python cost to every row, so the differences between rows are the driver's.

    python bench/gpu_launch_floor.py [--n 50000]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time

try:
    import cupy as cp
except ImportError:  # pragma: no cover - needs a GPU machine
    sys.exit("this benchmark needs CuPy and an NVIDIA GPU")

CUDA = r"""
struct P64 { unsigned h[12]; unsigned long long s[2]; };
struct P256 { unsigned h[12]; unsigned long long s[26]; };
extern "C" __global__ void k_ptr(float* x) {}
extern "C" __global__ void k_p64(P64 p) {}
extern "C" __global__ void k_p256(P256 p) {}
"""


def us_per_iteration(loop, n):
    """Median microseconds per iteration of loop(n) over 5 runs, after a warm-up of n // 10."""
    loop(n // 10)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        loop(n)
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50000)
    args = ap.parse_args()
    cuda = ctypes.CDLL("libcuda.so.1")
    launch = cuda.cuLaunchKernel
    launch.argtypes = [ctypes.c_void_p] + [ctypes.c_uint] * 6 + [ctypes.c_uint, ctypes.c_void_p] + [ctypes.c_void_p] * 2
    record = cuda.cuEventRecord
    record.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    cp.cuda.Device().use()
    mod = cp.RawModule(code=CUDA)
    x = cp.empty(64, cp.float32)
    blob = (ctypes.c_ubyte * 256)()
    ptr = ctypes.c_void_p(x.data.ptr)
    params = {
        "k_ptr": (ctypes.c_void_p * 1)(ctypes.cast(ctypes.pointer(ptr), ctypes.c_void_p)),
        "k_p64": (ctypes.c_void_p * 1)(ctypes.cast(blob, ctypes.c_void_p)),
        "k_p256": (ctypes.c_void_p * 1)(ctypes.cast(blob, ctypes.c_void_p)),
    }
    keep = [cp.cuda.Stream(non_blocking=False), cp.cuda.Stream(non_blocking=True)]  # alive to the end
    streams = {"legacy": 0, "blocking": keep[0].ptr, "non-blocking": keep[1].ptr}
    event = cp.cuda.Event(disable_timing=False)

    def per_launch(fname, stream, with_event):
        k = mod.get_function(fname)
        f = k.kernel.ptr if hasattr(k, "kernel") else k.ptr
        p = params[fname]
        n = args.n

        def loop(count):
            for _ in range(count):
                if with_event:
                    record(event.ptr, stream)
                launch(f, 1, 1, 1, 32, 1, 1, 0, stream, p, None)
            cp.cuda.Device().synchronize()

        return us_per_iteration(loop, n)

    query = cuda.cuStreamQuery
    query.argtypes = [ctypes.c_void_p]
    equery = cuda.cuEventQuery
    equery.argtypes = [ctypes.c_void_p]
    ssync = cuda.cuStreamSynchronize
    ssync.argtypes = [ctypes.c_void_p]
    csync = cuda.cuCtxSynchronize

    # A completion word in pinned, mapped host memory that the stream writes after the work
    # (cuStreamWriteValue32): the host then learns of completion by reading memory, without a
    # driver call per poll.
    write_value = cuda.cuStreamWriteValue32_v2
    write_value.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint]
    word_host = ctypes.c_void_p()
    assert cuda.cuMemHostAlloc(ctypes.byref(word_host), 64, 0x2 | 0x1) == 0  # DEVICEMAP | PORTABLE
    word_dev = ctypes.c_uint64()
    assert cuda.cuMemHostGetDevicePointer_v2(ctypes.byref(word_dev), word_host, 0) == 0
    word = ctypes.c_uint32.from_address(word_host.value)

    def per_launch_write_value(stream):
        k = mod.get_function("k_ptr")
        f = k.kernel.ptr if hasattr(k, "kernel") else k.ptr
        p = params["k_ptr"]

        def loop(count):
            for i in range(count):
                launch(f, 1, 1, 1, 32, 1, 1, 0, stream, p, None)
                write_value(stream, word_dev.value, i & 0xFFFFFFFF, 0)
            cp.cuda.Device().synchronize()

        return us_per_iteration(loop, args.n)

    def per_wait(stream, how):
        """A launch of k_ptr and a wait for it, per iteration: how the host learns of completion."""
        k = mod.get_function("k_ptr")
        f = k.kernel.ptr if hasattr(k, "kernel") else k.ptr
        p = params["k_ptr"]
        n = args.n // 5
        ev = cp.cuda.Event(disable_timing=True)

        def loop(count):
            for _ in range(count):
                launch(f, 1, 1, 1, 32, 1, 1, 0, stream, p, None)
                if how == "cuCtxSynchronize":
                    csync()
                elif how == "cuStreamSynchronize":
                    ssync(stream)
                elif how == "poll a written word":
                    target = (word.value + 1) & 0xFFFFFFFF
                    write_value(stream, word_dev.value, target, 0)
                    while word.value != target:
                        pass
                elif how == "poll cuStreamQuery":
                    while query(stream) != 0:
                        pass
                else:  # poll cuEventQuery
                    record(ev.ptr, stream)
                    while equery(ev.ptr) != 0:
                        pass

        return us_per_iteration(loop, n)

    print(
        f"device: {cp.cuda.runtime.getDeviceProperties(0)['name'].decode()}; driver {cp.cuda.runtime.driverGetVersion()}"
    )
    for fname in params:
        for sname, s in streams.items():
            for ev in (False, True):
                us = per_launch(fname, s, ev)
                print(
                    f"{fname:7} {sname:13} {'event+launch' if ev else 'launch':13} {us:7.3f} us per launch", flush=True
                )

    for sname, s in streams.items():
        us = per_launch_write_value(s)
        print(f"k_ptr   {sname:13} {'launch+write word':13} {us:7.3f} us per launch", flush=True)
    for sname, s in streams.items():
        for how in (
            "cuCtxSynchronize",
            "cuStreamSynchronize",
            "poll cuStreamQuery",
            "poll cuEventQuery",
            "poll a written word",
        ):
            us = per_wait(s, how)
            print(f"k_ptr   {sname:13} launch + {how:20} {us:7.3f} us per iteration", flush=True)


if __name__ == "__main__":
    main()
