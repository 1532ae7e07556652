"""Shared fixtures of the MSL conformance tests.

Every test runs its kernels on every device pymetallic finds (the CPU always, CUDA GPUs
when present), with ids "cpu", "cuda0", ... Kernels are compiled once per (device,
source): one Library per test module.

Differential runs: on the CPU, every kernel run through `Runner.run` also runs under each
other scheduling path of the CPU device (PYMETALLIC_CPU_SCHEDULE: forced fibers, fission
off, one worker thread) and must give the same results as the default path, which the test
then checks against its NumPy reference. MSL's results do not depend on how threads are
scheduled; a kernel whose output legitimately does (atomics that hand out slots in arrival
order) passes `order_dependent=True`. PYMETALLIC_TEST_DIFFERENTIAL=0 turns this off.
"""

import os

import numpy as np
import pytest

import pymetallic as pm


def _devices():
    try:
        devs = list(pm.Device.get_all_devices())
    except pm.MetalError:
        devs = []
    if not devs:
        devs = [pm.Device.get_default_device()]
    ids, seen = [], {}
    for d in devs:
        kind = getattr(d, "kind", "cpu")
        n = seen.get(kind, 0)
        seen[kind] = n + 1
        ids.append("cpu" if kind == "cpu" and n == 0 else f"{kind}{n}")
    return devs, ids


DEVICES, DEVICE_IDS = _devices()


@pytest.fixture(params=DEVICES, ids=DEVICE_IDS, scope="session")
def device(request):
    return request.param


class Runner:
    """Compiles a source once per device and runs its kernels on NumPy data."""

    def __init__(self):
        self._libs = {}
        self._pipes = {}
        self._queues = {}

    def pipeline(self, device, src, name, options=None):
        """options: compile options of the Library (e.g. {"math_mode": "safe"}); None: defaults (fast math, as Metal)."""
        key = (id(device), src) + ((repr(sorted(options.items())),) if options else ())
        if key not in self._libs:
            self._libs[key] = pm.Library(device, src, options)
        pkey = key + (name,)
        if pkey not in self._pipes:
            self._pipes[pkey] = pm.ComputePipelineState(device, self._libs[key].make_function(name))
        return self._pipes[pkey]

    def run(
        self, device, src, name, args, grid, tg, threadgroups=False, tg_memory=(), options=None, order_dependent=False
    ):
        """args: list, index = buffer index; np.ndarray -> a buffer (returned after the run,
        as an array of the same dtype/shape), NumPy scalar -> set_bytes. tg_memory: list of
        (bytes, index). grid: threads (dispatch_threads) or groups (threadgroups=True).
        options: the Library's compile options (see pipeline). On the CPU the kernel also
        runs under every scheduling path (module docstring) unless order_dependent."""
        out = self._run_once(device, src, name, args, grid, tg, threadgroups, tg_memory, options)
        if getattr(device, "kind", "cpu") == "cpu" and not order_dependent and DIFFERENTIAL:
            for schedule in SCHEDULES:
                other = self._run_once(
                    device, src, name, args, grid, tg, threadgroups, tg_memory, options, schedule=schedule
                )
                for i, (a, b) in enumerate(zip(out, other)):
                    if a is not None:
                        assert_same_results(a, b, f"kernel '{name}', buffer {i}, PYMETALLIC_CPU_SCHEDULE={schedule}")
        return out

    def _run_once(self, device, src, name, args, grid, tg, threadgroups, tg_memory, options, schedule=None):
        pipe = self.pipeline(device, src, name, options)
        q = self._queues.get(id(device))
        if q is None:
            q = self._queues[id(device)] = pm.CommandQueue(device)
        cb = q.make_command_buffer()
        enc = cb.make_compute_command_encoder()
        enc.set_compute_pipeline_state(pipe)
        bufs = {}
        for i, a in enumerate(args):
            if a is None:
                continue
            if isinstance(a, np.ndarray):
                b = pm.Buffer.from_numpy(device, np.ascontiguousarray(a))
                bufs[i] = (b, a.dtype, a.shape)
                enc.set_buffer(b, 0, i)
            else:
                enc.set_bytes(a, i)
        for nbytes, idx in tg_memory:
            enc.set_threadgroup_memory_length(nbytes, idx)
        grid = tuple(grid) + (1,) * (3 - len(grid))
        tg = tuple(tg) + (1,) * (3 - len(tg))
        if threadgroups:
            enc.dispatch_threadgroups(grid, tg)
        else:
            enc.dispatch_threads(grid, tg)
        enc.end_encoding()
        with cpu_schedule(schedule):
            cb.commit()
            cb.wait_until_completed()
        out = []
        for i in range(len(args)):
            if i in bufs:
                b, dt, shape = bufs[i]
                out.append(np.array(b.to_numpy(dt, shape)))
            else:
                out.append(None)
        return out


DIFFERENTIAL = os.environ.get("PYMETALLIC_TEST_DIFFERENTIAL", "1") != "0"
# The CPU's scheduling paths other than the default (src/backends/cpu/schedule.h).
SCHEDULES = ("fibers", "nofission", "serial", "fibers,serial")


class cpu_schedule:
    """Runs the body with PYMETALLIC_CPU_SCHEDULE set to `schedule` (None: unchanged)."""

    def __init__(self, schedule):
        self.schedule = schedule

    def __enter__(self):
        if self.schedule is not None:
            self.saved = os.environ.get("PYMETALLIC_CPU_SCHEDULE")
            os.environ["PYMETALLIC_CPU_SCHEDULE"] = self.schedule

    def __exit__(self, *exc):
        if self.schedule is not None:
            if self.saved is None:
                del os.environ["PYMETALLIC_CPU_SCHEDULE"]
            else:
                os.environ["PYMETALLIC_CPU_SCHEDULE"] = self.saved


def assert_same_results(a, b, what):
    """Two scheduling paths' outputs: integers bit for bit; floats equal up to the
    reassociation a different evaluation order allows (float atomics), NaNs where NaNs."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc":
        eps = np.finfo(a.dtype).eps
        scale = float(np.nanmax(np.abs(a[np.isfinite(a)]))) if np.isfinite(a).any() else 0.0
        np.testing.assert_allclose(b, a, rtol=64 * eps, atol=64 * eps * scale, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(b, a, err_msg=what)


@pytest.fixture(scope="session")
def runner():
    return Runner()


def nvrtc_available():
    try:
        return not pm._core.toolchains().get("nvrtc", "unavailable").startswith("unavailable")
    except Exception:  # noqa: BLE001
        return False


def check_compiles_for_cuda(src):
    """Every kernel of src compiles with NVRTC for sm_90 (no GPU needed); with
    PYMETALLIC_VALIDATION=1, as the validation build (issue 12) that a GPU run would use."""
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    validating = os.environ.get("PYMETALLIC_VALIDATION", "0") not in ("", "0")
    pm._core.compile_offline(src, {"validation": True} if validating else None, "cuda", "sm_90")


@pytest.fixture(scope="session")
def cuda_compile():
    """The function check_compiles_for_cuda, as a fixture (test modules import nothing)."""
    return check_compiles_for_cuda
