"""Where the host time of a fluid step goes (issue 13, command buffers against CUDA graphs):
the package's simulation (25 dispatches per step) encoded without committing, the cost of each
encoder call, and 100 pipelined steps with the CUDA backend's graph replay on and off
(PYMETALLIC_CUDA_GRAPHS=0, read when a queue is made). Times are medians in microseconds per
step (encode) or milliseconds per 100 steps.

    PYTHONPATH=python python3 bench/gpu_fluid_probe.py [cuda|cpu]

On the CPU device (a 32x32 grid) it prints only the encoding rows.
"""

import os
import sys
import time

import pymetallic as pm
from pymetallic.demos.fluid import FluidSimulation, _encode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median_seconds as timed  # noqa: E402


def median_seconds(f, repeats=7):
    """The median of `repeats` timed runs, no untimed warm-up (the simulations warm up first)."""
    return timed(f, repeats=repeats, warmup=0)


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "cuda"
    devices = [d for d in pm.Device.get_all_devices() if d.kind == kind]
    if not devices:
        print(f"no {kind} device; nothing measured")
        return
    device = devices[0]
    print("device", device)
    sim = FluidSimulation(device, 512 if kind == "cuda" else 32)
    sim.step(3)
    plan, _, _ = sim._plan()
    params = sim.config.pack(0)

    def encode_only(queue, steps=100, commit=False):
        last = None
        for _ in range(steps):
            cb = queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            for dispatch in plan:
                _encode(enc, params, *dispatch)
            enc.end_encoding()
            if commit:
                cb.commit()
                last = cb
        if last is not None:
            last.wait_until_completed()

    print(f"encode only, per step: {median_seconds(lambda: encode_only(sim.queue)) * 1e4:.1f} us")
    pso, bufs, pidx, grid, tg = plan[1]
    cb = sim.queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    _encode(enc, params, *plan[1])
    calls = 20000
    for name, call in [
        ("set_compute_pipeline_state", lambda: enc.set_compute_pipeline_state(pso)),
        ("set_buffer", lambda: enc.set_buffer(bufs[0], 0, 0)),
        ("set_bytes", lambda: enc.set_bytes(params, pidx)),
        ("dispatch_threads", lambda: enc.dispatch_threads(grid, tg)),
    ]:
        t = time.perf_counter()
        for _ in range(calls):
            call()
        print(f"  {name}: {(time.perf_counter() - t) / calls * 1e9:.0f} ns")
    enc.end_encoding()
    if kind != "cuda":
        return
    print(
        f"pipelined 100 steps (graphs on): {median_seconds(lambda: sim.step(100, wait_each_step=False), 5) * 1e3:.2f} ms"
    )
    print(f"one wait per step (graphs on): {median_seconds(lambda: sim.step(100), 5) * 1e3:.2f} ms")
    os.environ["PYMETALLIC_CUDA_GRAPHS"] = "0"
    plain = FluidSimulation(device, 512, queue=pm.CommandQueue(device))
    plain.step(3)
    t = median_seconds(lambda: plain.step(100, wait_each_step=False), 5)
    print(f"pipelined 100 steps (graphs off): {t * 1e3:.2f} ms")
    t = median_seconds(lambda: encode_only(plain.queue, commit=True), 5)
    print(f"encode+commit fixed plan (graphs off), per step: {t * 1e4:.1f} us")


if __name__ == "__main__":
    main()
