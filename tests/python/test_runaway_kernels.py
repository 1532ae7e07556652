"""Issue 11, item 2: a runaway kernel can be stopped (Ctrl-C while waiting, a wait with a
time limit, the PYMETALLIC_KERNEL_TIMEOUT watchdog), other queues keep running meanwhile, and
loops without side effects stay loops (C++'s forward-progress assumption does not apply to
MSL). Every case runs in a child process with a time limit."""

from reliability_util import check_child, run_child

KERNELS = '''
SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void spin_plain(device int* flag [[buffer(0)]], device int* out [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    while (flag[0] == 0) {}
    out[i] = 1;
}
kernel void forever(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    for (;;) {}
}
kernel void forever_with_barrier(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    for (;;) { threadgroup_barrier(mem_flags::mem_threadgroup); }
}
kernel void spin_atomic(device atomic_int* flag [[buffer(0)]], device int* out [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    while (atomic_load_explicit(flag, memory_order_relaxed) == 0) {}
    out[i] = 7;
}
kernel void spin_volatile(volatile device int* flag [[buffer(0)]], device int* out [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    while (flag[0] == 0) {}
    out[i] = 9;
}
kernel void add_one(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] += 1.0f; }
"""
LIB = pm.Library(CPU, SRC)
'''

# The GPU tests' prelude: KERNELS on the CUDA device, plus a kernel that sets a flag and one
# that adds set_bytes data given through a pointer.
GPU_KERNELS = "GPU = next(d for d in pm.Device.get_all_devices() if d.kind == 'cuda')\n" + KERNELS.replace(
    "CPU", "GPU"
).replace(
    "kernel void add_one",
    "kernel void set_flag(device atomic_int* flag [[buffer(0)]], uint i [[thread_position_in_grid]]) "
    "{ atomic_store_explicit(flag, 1, memory_order_relaxed); }\n"
    "kernel void add(device float* x [[buffer(0)]], constant float* v [[buffer(1)]], "
    "uint i [[thread_position_in_grid]]) { x[i] += v[0]; }\nkernel void add_one",
)


def test_endless_kernel_hits_the_watchdog_and_the_device_carries_on():
    out = check_child(
        KERNELS
        + """
q = pm.CommandQueue(CPU)
out = pm.Buffer(CPU, 256)
for name in ("forever", "forever_with_barrier"):
    cb = launch(q, LIB, name, [out])
    t0 = time.time()
    assert cb.wait_until_completed(timeout=0.2) is False   # still running
    try:
        cb.wait_until_completed()
        raise SystemExit("an endless kernel completed")
    except pm.MetalError as e:
        assert "ran longer than 1 s" in str(e) and name in str(e), e
    assert cb.get_status() == -1 and "PYMETALLIC_KERNEL_TIMEOUT" in cb.error
    assert time.time() - t0 < 10
x = pm.Buffer.from_numpy(CPU, np.zeros(64, np.float32))
launch(q, LIB, "add_one", [x]).wait_until_completed()
assert (x.to_numpy(np.float32) == 1).all()
print("ok")
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "1"},
        timeout=90,
    )
    assert out.strip() == "ok"


def test_side_effect_free_spin_is_not_compiled_away():
    # `while (flag[0] == 0) {}` on a flag that is 0: without -fno-finite-loops the compiler
    # deletes the loop and the kernel "completes" at once, writing out[i] = 1 (a lie).
    out = check_child(
        KERNELS
        + """
q = pm.CommandQueue(CPU)
flag = pm.Buffer.from_numpy(CPU, np.zeros(1, np.int32))
out = pm.Buffer.from_numpy(CPU, np.zeros(64, np.int32))
cb = launch(q, LIB, "spin_plain", [flag, out])
try:
    cb.wait_until_completed()
    print("completed")
except pm.MetalError as e:
    print("stopped" if "ran longer" in str(e) else repr(e))
assert (out.to_numpy(np.int32) == 0).all()
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "1"},
        timeout=60,
    )
    assert out.strip() == "stopped"


def test_spin_wait_on_a_flag_the_host_sets_finishes():
    out = check_child(
        KERNELS
        + """
q = pm.CommandQueue(CPU)
for name, value in (("spin_atomic", 7), ("spin_volatile", 9)):
    flag = pm.Buffer.from_numpy(CPU, np.zeros(1, np.int32))
    out = pm.Buffer.from_numpy(CPU, np.zeros(64, np.int32))
    cb = launch(q, LIB, name, [flag, out])
    assert cb.wait_until_completed(timeout=0.3) is False   # spinning
    flag.to_numpy(np.int32)[0] = 1                         # the host lets it go
    assert cb.wait_until_completed(timeout=20) is True
    np.testing.assert_array_equal(out.to_numpy(np.int32), np.full(64, value, np.int32))
print("ok")
""",
        timeout=60,
    )
    assert out.strip() == "ok"


def test_ctrl_c_interrupts_a_wait():
    out = check_child(
        KERNELS
        + """
import signal
q = pm.CommandQueue(CPU)
cb = launch(q, LIB, "forever", [pm.Buffer(CPU, 256)])
threading.Timer(0.3, lambda: signal.raise_signal(signal.SIGINT)).start()
t0 = time.time()
try:
    cb.wait_until_completed()
    print("returned")
except KeyboardInterrupt:
    print("interrupted after %.1f s" % (time.time() - t0))
try:
    cb.wait_until_completed()   # the watchdog still ends it
except pm.MetalError:
    pass
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "2"},
        timeout=60,
    )
    assert out.startswith("interrupted after 0.")


def test_a_stuck_dispatch_does_not_hold_other_queues():
    out = check_child(
        KERNELS
        + """
stuck_q, other_q = pm.CommandQueue(CPU), pm.CommandQueue(CPU)
stuck = launch(stuck_q, LIB, "forever", [pm.Buffer(CPU, 4096)], grid=1024, tg=32)   # every worker busy
time.sleep(0.3)
x = pm.Buffer.from_numpy(CPU, np.zeros(1 << 16, np.float32))
t0 = time.time()
done = launch(other_q, LIB, "add_one", [x], grid=1 << 16, tg=256)
assert done.wait_until_completed(timeout=10), "the other queue's work did not run"
assert (x.to_numpy(np.float32) == 1).all()
assert stuck.get_status() == 0
print("ok")
try:
    stuck.wait_until_completed()
except pm.MetalError:
    pass
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "4"},
        timeout=60,
    )
    assert out.strip() == "ok"


def test_bad_timeout_values_are_refused():
    out = check_child(
        """
cb = pm.CommandQueue(CPU).make_command_buffer()
cb.commit()
assert cb.wait_until_completed(timeout=5) is True
for bad in (-1, "1"):
    try:
        cb.wait_until_completed(timeout=bad)
        raise SystemExit(f"accepted {bad!r}")
    except pm.ValidationError:
        pass
print("ok")
""",
        timeout=60,
    )
    assert out.strip() == "ok"
    r = run_child("pm.CommandQueue(CPU)", env={"PYMETALLIC_KERNEL_TIMEOUT": "soon"}, timeout=60)
    assert r.returncode == 1 and "PYMETALLIC_KERNEL_TIMEOUT" in r.stderr and "ValidationError" in r.stderr


def skip_without_cuda():
    import pymetallic
    import pytest

    if not any(d.kind == "cuda" for d in pymetallic.Device.get_all_devices()):
        pytest.skip("no CUDA GPU")


def test_gpu_endless_kernel_times_out_and_poisons_only_its_device():
    # CUDA: a kernel cannot be preempted; the command buffer fails with the timeout and the
    # device reports itself unusable (DeviceError) instead of hanging the program.
    skip_without_cuda()
    out = check_child(
        "GPU = next(d for d in pm.Device.get_all_devices() if d.kind == 'cuda')\n"
        + KERNELS.replace("CPU", "GPU")
        + """
q = pm.CommandQueue(GPU)
x = pm.Buffer.from_numpy(GPU, np.zeros(64, np.float32))
launch(q, LIB, "add_one", [x]).wait_until_completed()
cb = launch(q, LIB, "forever", [pm.Buffer(GPU, 256)])
assert cb.wait_until_completed(timeout=0.2) is False
t0 = time.time()
try:
    cb.wait_until_completed()
    print("completed")
except pm.MetalError as e:
    print("stopped" if "ran longer than 1 s" in str(e) else repr(e), f"{time.time() - t0:.1f}")
try:
    launch(q, LIB, "add_one", [x]).wait_until_completed()
    print("device still used")
except pm.DeviceError:
    print("device unusable")
os._exit(0)  # the GPU still runs the endless kernel: do not wait for it at exit
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "1"},
        timeout=60,
    )
    lines = out.strip().splitlines()
    assert lines[0].startswith("stopped") and float(lines[0].split()[1]) < 5, out
    assert lines[1] == "device unusable", out


def test_gpu_spin_wait_on_a_flag_another_queue_sets_finishes():
    # CUDA: `while (flag[0] == 0) {}` must stay a loop (NVRTC would delete a loop without side
    # effects: the front end marks every loop, tests/msl/test_loop_progress.py) and must see a
    # store made while it spins - here by a kernel on a second queue (its own CUDA stream).
    skip_without_cuda()
    out = check_child(
        GPU_KERNELS
        + """
spin_q, other_q = pm.CommandQueue(GPU), pm.CommandQueue(GPU)
for name, value in (("spin_volatile", 9), ("spin_atomic", 7)):
    flag = pm.Buffer.from_numpy(GPU, np.zeros(1, np.int32))
    out = pm.Buffer.from_numpy(GPU, np.zeros(64, np.int32))
    cb = launch(spin_q, LIB, name, [flag, out])
    assert cb.wait_until_completed(timeout=0.5) is False, name + " did not spin"
    launch(other_q, LIB, "set_flag", [flag], grid=1, tg=1).wait_until_completed(timeout=20)
    assert cb.wait_until_completed(timeout=20) is True, name + " never saw the flag"
    np.testing.assert_array_equal(out.to_numpy(np.int32), np.full(64, value, np.int32))
print("ok")
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "30"},
        timeout=120,
    )
    assert out.strip() == "ok"


def test_gpu_releases_while_a_kernel_runs_do_not_wait_for_it():
    # CUDA: cuMemFree, cuMemFreeHost and cuModuleUnload wait for the device's running kernels.
    # Dropping a buffer, a library or a queue while a kernel spins (here until the host's next
    # step sets its flag) waited for good on the program's thread, holding the GIL: the
    # endless-kernel test above hung this way. Such releases are now kept until the streams
    # are idle (CudaContext::release).
    skip_without_cuda()
    out = check_child(
        GPU_KERNELS
        + """
spin_q, other_q = pm.CommandQueue(GPU), pm.CommandQueue(GPU)
flag = pm.Buffer.from_numpy(GPU, np.zeros(1, np.int32))
out = pm.Buffer.from_numpy(GPU, np.zeros(64, np.int32))
# Loading a module waits for running kernels (CUDA driver; docs/multi-gpu.md): made before.
lib2 = pm.Library(GPU, SRC)
pipe = pm.ComputePipelineState(GPU, lib2.make_function("add_one"))
cb = launch(spin_q, LIB, "spin_atomic", [flag, out])
assert cb.wait_until_completed(timeout=0.5) is False, "did not spin"
tmp = pm.Buffer.from_numpy(GPU, np.ones(1 << 20, np.float32))   # device memory and a pinned host copy
assert tmp.to_numpy(np.float32).sum() == 1 << 20
del tmp
del pipe, lib2                                                   # unloads its module
q3 = pm.CommandQueue(GPU)                                        # a stream, its staging memory
x = pm.Buffer.from_numpy(GPU, np.zeros(64, np.float32))
assert launch(q3, LIB, "add_one", [x]).wait_until_completed(timeout=20) is True
del q3
# set_bytes data for a pointer argument gets device memory of its own, freed when it completes
launch(other_q, LIB, "add", [x], scalar=np.array([2, 0, 0, 0], np.float32)).wait_until_completed(timeout=20)
print("released", flush=True)
launch(other_q, LIB, "set_flag", [flag], grid=1, tg=1).wait_until_completed(timeout=20)
assert cb.wait_until_completed(timeout=20) is True, "never saw the flag"
np.testing.assert_array_equal(out.to_numpy(np.int32), np.full(64, 7, np.int32))
np.testing.assert_array_equal(x.to_numpy(np.float32), np.full(64, 3, np.float32))
print("ok")
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "60"},
        timeout=75,
    )
    assert out.strip().splitlines() == ["released", "ok"], out
