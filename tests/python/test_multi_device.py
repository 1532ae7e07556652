"""Several devices and queues: device checks on every command, copies between devices, and
shared events (MTLSharedEvent) ordering queues of one or several devices.

In CI (no GPU) the tests that need two devices run in a subprocess with
PYMETALLIC_CPU_DEVICES=2 (two CPU devices sharing host memory); on a machine with two CUDA
GPUs they run on cuda:0 and cuda:1 directly; tests mixing the CPU and a GPU need a GPU."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import pymetallic as pm

SOURCE = """
#include <metal_stdlib>
using namespace metal;
kernel void add_one(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = x[i] + 1.0f; }
kernel void twice(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = x[i] * 2.0f; }
// Slow on purpose (a few ms on the CPU): work that is surely still running when the next
// queue's commit arrives, so that a missing wait would show.
kernel void slow_add(device float* x [[buffer(0)]], constant uint& rounds [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
    float v = x[i];
    float acc = 0.0f;
    for (uint r = 0; r < rounds; ++r) acc = acc * 0.5f + 1.0f;   // converges to 2
    x[i] = v + (acc > 1.5f ? 1.0f : 0.0f);
}
"""

N = 4096
_pipelines = {}


def pipeline(device, name):
    key = (device, name)
    if key not in _pipelines:
        lib = pm.Library(device, SOURCE)
        _pipelines[key] = pm.ComputePipelineState(device, lib.make_function(name))
    return _pipelines[key]


def encode(cb, device, name, buf, rounds=None):
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipeline(device, name))
    enc.set_buffer(buf, 0, 0)
    if rounds is not None:
        enc.set_bytes(np.uint32(rounds), 1)
    enc.dispatch_threads((buf.length // 4, 1, 1), (64, 1, 1))
    enc.end_encoding()


def two_devices():
    """Two distinct devices of one kind: two CUDA GPUs, else two CPU devices, else None."""
    devices = pm.Device.get_all_devices()
    for kind in ("cuda", "cpu"):
        same = [d for d in devices if d.kind == kind]
        if len(same) >= 2:
            return same[0], same[1]
    return None


def label(d):
    return "cpu" if d.kind == "cpu" and d.ordinal == 0 else f"{d.kind}:{d.ordinal}"


def gpu_and_cpu():
    devices = pm.Device.get_all_devices()
    gpus = [d for d in devices if d.kind == "cuda"]
    cpus = [d for d in devices if d.kind == "cpu"]
    return (gpus[0], cpus[0]) if gpus and cpus else None


need_two = pytest.mark.skipif(
    two_devices() is None,
    reason="needs two devices: two CUDA GPUs, or PYMETALLIC_CPU_DEVICES=2 "
    "(test_two_cpu_devices_in_a_subprocess runs these so)",
)
need_gpu = pytest.mark.skipif(gpu_and_cpu() is None, reason="needs a CUDA GPU")


# ---------------------------------------------------------------- shared events, host side


def test_shared_event_host_value_and_timeout(device):
    e = device.make_shared_event()
    assert isinstance(e, pm.SharedEvent)
    assert e.device == device
    assert e.signaled_value == 0
    e.signaled_value = 5
    assert e.signaled_value == 5
    e.signaled_value = 3  # Metal: setting only ever raises the value
    assert e.signaled_value == 5
    assert e.wait_until_signaled_value(5, 0) is True
    assert e.wait_until_signaled_value(4, 0) is True
    t0 = time.perf_counter()
    assert e.wait_until_signaled_value(6, 30) is False
    assert time.perf_counter() - t0 >= 0.025
    with pytest.raises(ValueError):
        e.signaled_value = -1
    with pytest.raises(ValueError):
        e.wait_until_signaled_value(1, -5)


def test_host_wait_woken_by_another_thread(device):
    e = device.make_shared_event()
    threading.Timer(0.05, lambda: setattr(e, "signaled_value", 2)).start()
    t0 = time.perf_counter()
    assert e.wait_until_signaled_value(2, 10_000) is True
    assert 0.03 < time.perf_counter() - t0 < 5


def test_event_encoding_rules(device):
    e = device.make_shared_event()
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    with pytest.raises(pm.ValidationError, match="encoder is open"):
        cb.encode_signal_event(e, 1)
    enc.end_encoding()
    with pytest.raises(pm.ValidationError, match="shared event"):
        cb.encode_wait_for_event(None, 1)
    with pytest.raises(ValueError):
        cb.encode_signal_event(e, -1)
    cb.encode_signal_event(e, 1)
    cb.commit()
    cb.wait_until_completed()
    assert e.signaled_value == 1
    with pytest.raises(pm.ValidationError, match="already committed"):
        cb.encode_signal_event(e, 2)


# ---------------------------------------------------------------- queues ordered by events


def test_event_orders_two_queues_of_one_device(device, rng):
    x = rng.standard_normal(N).astype(np.float32)
    buf = pm.Buffer.from_numpy(device, x)
    e = device.make_shared_event()
    qa, qb = device.make_command_queue(), device.make_command_queue()
    # A waits for B's slow "+1", then doubles; A is committed first.
    a = qa.make_command_buffer()
    a.encode_wait_for_event(e, 1)
    encode(a, device, "twice", buf)
    a.commit()
    time.sleep(0.05)  # without the wait, A would be done by now: x * 2 + 1
    b = qb.make_command_buffer()
    encode(b, device, "slow_add", buf, rounds=2000)
    b.encode_signal_event(e, 1)
    b.commit()
    a.wait_until_completed()
    b.wait_until_completed()
    np.testing.assert_array_equal(buf.to_numpy(np.float32), (x + 1) * 2)
    assert e.signaled_value == 1


def test_host_signal_releases_a_waiting_queue(device, rng):
    x = rng.standard_normal(N).astype(np.float32)
    buf = pm.Buffer.from_numpy(device, x)
    e = device.make_shared_event()
    cb = device.make_command_queue().make_command_buffer()
    cb.encode_wait_for_event(e, 3)
    encode(cb, device, "add_one", buf)
    cb.encode_signal_event(e, 4)
    cb.commit()
    time.sleep(0.05)
    assert cb.get_status() == 0  # still waiting
    assert e.signaled_value == 0
    e.signaled_value = 2  # not enough
    time.sleep(0.02)
    assert cb.get_status() == 0
    e.signaled_value = 3
    assert e.wait_until_signaled_value(4, 20_000)
    cb.wait_until_completed()
    np.testing.assert_array_equal(buf.to_numpy(np.float32), x + 1)


def test_waiting_cpu_queue_does_not_block_other_queues(device, rng):
    # A queue blocked on an event must leave the device's other queues (and its thread pool)
    # free: here every other queue runs to completion while one waits.
    e = device.make_shared_event()
    waiting = device.make_command_queue().make_command_buffer()
    waiting.encode_wait_for_event(e, 1)
    waiting.commit()
    x = rng.standard_normal(N).astype(np.float32)
    bufs = [pm.Buffer.from_numpy(device, x) for _ in range(3)]
    for b in bufs:
        cb = device.make_command_queue().make_command_buffer()
        encode(cb, device, "add_one", b)
        cb.commit()
        cb.wait_until_completed()
        np.testing.assert_array_equal(b.to_numpy(np.float32), x + 1)
    assert waiting.get_status() == 0
    e.signaled_value = 1
    waiting.wait_until_completed()


def test_chain_of_queues_by_event_values(device, rng):
    # Four queues, each waiting for the previous step's value: the steps run in value order
    # whatever the commit order. ((x + 1) * 2 + 1) * 2.
    x = rng.standard_normal(N).astype(np.float32)
    buf = pm.Buffer.from_numpy(device, x)
    e = device.make_shared_event()
    steps = ["add_one", "twice", "add_one", "twice"]
    cbs = []
    for i in reversed(range(4)):
        cb = device.make_command_queue().make_command_buffer()
        cb.encode_wait_for_event(e, i)
        encode(cb, device, steps[i], buf)
        cb.encode_signal_event(e, i + 1)
        cb.commit()
        cbs.append(cb)
    assert e.wait_until_signaled_value(4, 30_000)
    for cb in cbs:
        cb.wait_until_completed()
    np.testing.assert_array_equal(buf.to_numpy(np.float32), ((x + 1) * 2 + 1) * 2)


# ---------------------------------------------------------------- two devices


@need_two
def test_mixing_devices_in_a_compute_command_is_rejected():
    a, b = two_devices()
    buf_b = pm.Buffer(b, 64)
    cb = a.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    with pytest.raises(pm.ValidationError) as info:
        enc.set_buffer(buf_b, 0, 0)
    assert label(a) in str(info.value) and label(b) in str(info.value)
    with pytest.raises(pm.ValidationError) as info:
        enc.set_compute_pipeline_state(pipeline(b, "add_one"))
    assert label(a) in str(info.value) and label(b) in str(info.value)
    enc.end_encoding()
    blit = cb.make_blit_command_encoder()
    with pytest.raises(pm.ValidationError) as info:
        blit.fill_buffer(buf_b, (0, 64), 1)
    assert label(a) in str(info.value) and label(b) in str(info.value)
    with pytest.raises(pm.ValidationError) as info:
        blit.synchronize_resource(buf_b)
    assert label(b) in str(info.value)


@need_two
def test_copy_between_devices_both_directions(rng):
    a, b = two_devices()
    x = rng.standard_normal(N).astype(np.float32)
    y = rng.standard_normal(N).astype(np.float32)
    src_a = pm.Buffer.from_numpy(a, x)
    dst_b = pm.Buffer.from_numpy(b, y)
    # On a's queue: a -> b (a push); then on b's queue: b -> a (a pull), at offsets.
    cb = a.make_command_queue().make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(src_a, 16, dst_b, 32, 1024)
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    expect_b = y.copy()
    expect_b.view(np.uint8)[32 : 32 + 1024] = x.view(np.uint8)[16 : 16 + 1024]
    np.testing.assert_array_equal(dst_b.to_numpy(np.float32), expect_b)
    back = pm.Buffer(a, N * 4)
    cb = b.make_command_queue().make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(dst_b, 0, back, 0, N * 4)
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(back.to_numpy(np.float32), expect_b)


@need_two
def test_events_order_work_across_two_devices(rng):
    # a computes (slowly) and signals; b waits, pulls a's result with a copy on its own queue,
    # and computes on it; a then waits for b and pulls the result back. No host wait between.
    a, b = two_devices()
    x = rng.standard_normal(N).astype(np.float32)
    buf_a = pm.Buffer.from_numpy(a, x)
    buf_b = pm.Buffer(b, N * 4)
    e = a.make_shared_event()
    qa, qb = a.make_command_queue(), b.make_command_queue()

    cb_b = qb.make_command_buffer()  # committed first: it must wait
    cb_b.encode_wait_for_event(e, 1)
    blit = cb_b.make_blit_command_encoder()
    blit.copy_from_buffer(buf_a, 0, buf_b, 0, N * 4)
    blit.end_encoding()
    encode(cb_b, b, "twice", buf_b)
    cb_b.encode_signal_event(e, 2)
    cb_b.commit()
    time.sleep(0.05)  # without the wait, b would have copied a's buffer before a's "+1"

    cb_a = qa.make_command_buffer()
    encode(cb_a, a, "slow_add", buf_a, rounds=2000)
    cb_a.encode_signal_event(e, 1)
    cb_a.encode_wait_for_event(e, 2)
    blit = cb_a.make_blit_command_encoder()
    blit.copy_from_buffer(buf_b, 0, buf_a, 0, N * 4)
    blit.end_encoding()
    encode(cb_a, a, "add_one", buf_a)
    cb_a.commit()
    cb_a.wait_until_completed()
    cb_b.wait_until_completed()
    np.testing.assert_array_equal(buf_b.to_numpy(np.float32), (x + 1) * 2)
    np.testing.assert_array_equal(buf_a.to_numpy(np.float32), (x + 1) * 2 + 1)


def test_two_cpu_devices_in_a_subprocess():
    """The two-device tests above, on two CPU devices (PYMETALLIC_CPU_DEVICES=2)."""
    if two_devices() is not None and os.environ.get("PYMETALLIC_CPU_DEVICES"):
        pytest.skip("already running with two devices")
    env = dict(os.environ, PYMETALLIC_CPU_DEVICES="2")
    env.pop("PYMETALLIC_DEVICE", None)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            __file__,
            "-k",
            "two_devices or devices_both or across_two or mixing_devices or copy_rules",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "skipped" not in r.stdout.splitlines()[-1], r.stdout[-2000:]


@need_two
def test_copy_rules_name_both_devices():
    a, b = two_devices()
    x, y = pm.Buffer(a, 64), pm.Buffer(b, 64)
    if a.kind == "cpu":
        # CPU devices share host memory: either queue may copy between them.
        for q in (a, b):
            cb = q.make_command_queue().make_command_buffer()
            blit = cb.make_blit_command_encoder()
            blit.copy_from_buffer(x, 0, y, 0, 64)
            blit.end_encoding()
    # A copy that touches neither of the queue's device's buffers is refused.
    devices = [d for d in pm.Device.get_all_devices() if d.kind == a.kind]
    if len(devices) >= 3:
        cb = devices[2].make_command_queue().make_command_buffer()
        blit = cb.make_blit_command_encoder()
        with pytest.raises(pm.ValidationError) as info:
            blit.copy_from_buffer(x, 0, y, 0, 64)
        assert label(a) in str(info.value) and label(b) in str(info.value)


# ---------------------------------------------------------------- the CPU and a GPU


@need_gpu
def test_cpu_gpu_copies_run_on_the_gpu_queue(rng):
    gpu, cpu = gpu_and_cpu()
    x = rng.standard_normal(N).astype(np.float32)
    host = pm.Buffer.from_numpy(cpu, x)
    dev = pm.Buffer(gpu, N * 4)
    back = pm.Buffer(cpu, N * 4)
    cb = gpu.make_command_queue().make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(host, 0, dev, 0, N * 4)
    blit.end_encoding()
    encode(cb, gpu, "twice", dev)
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(dev, 0, back, 0, N * 4)
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(back.to_numpy(np.float32), x * 2)
    # On the CPU's queue the same copy is refused, naming both devices and the right queue.
    cb = cpu.make_command_queue().make_command_buffer()
    blit = cb.make_blit_command_encoder()
    with pytest.raises(pm.ValidationError, match="GPU's queue") as info:
        blit.copy_from_buffer(host, 0, dev, 0, 64)
    assert label(gpu) in str(info.value) and "cpu" in str(info.value)
    enc = cb.make_compute_command_encoder()
    with pytest.raises(pm.ValidationError, match="belongs to device"):
        enc.set_buffer(dev, 0, 0)


@need_gpu
def test_events_between_a_cpu_queue_and_a_gpu_queue(rng):
    # The CPU queue computes and signals; the GPU queue waits, pulls the CPU's buffer, doubles
    # it, pushes it back and signals; the CPU queue waits for that and adds one.
    gpu, cpu = gpu_and_cpu()
    x = rng.standard_normal(N).astype(np.float32)
    host = pm.Buffer.from_numpy(cpu, x)
    dev = pm.Buffer(gpu, N * 4)
    e = gpu.make_shared_event()
    g = gpu.make_command_queue().make_command_buffer()
    g.encode_wait_for_event(e, 1)
    blit = g.make_blit_command_encoder()
    blit.copy_from_buffer(host, 0, dev, 0, N * 4)
    blit.end_encoding()
    encode(g, gpu, "twice", dev)
    blit = g.make_blit_command_encoder()
    blit.copy_from_buffer(dev, 0, host, 0, N * 4)
    blit.end_encoding()
    g.encode_signal_event(e, 2)
    g.commit()
    time.sleep(0.05)
    c = cpu.make_command_queue().make_command_buffer()
    encode(c, cpu, "slow_add", host, rounds=2000)
    c.encode_signal_event(e, 1)
    c.encode_wait_for_event(e, 2)
    encode(c, cpu, "add_one", host)
    c.commit()
    c.wait_until_completed()
    g.wait_until_completed()
    np.testing.assert_array_equal(host.to_numpy(np.float32), (x + 1) * 2 + 1)


# ---------------------------------------------------------------- local_device


def test_local_device_follows_launcher_ranks(monkeypatch):
    devices = pm.Device.get_all_devices()
    gpus = [d for d in devices if d.kind != "cpu"]
    monkeypatch.delenv("PYMETALLIC_DEVICE", raising=False)
    for name in pm.multi.LOCAL_RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert pm.local_rank() is None
    assert pm.local_device() == pm.Device.get_default_device()
    for name, rank in (("OMPI_COMM_WORLD_LOCAL_RANK", 3), ("SLURM_LOCALID", 1), ("LOCAL_RANK", 2)):
        monkeypatch.setenv(name, str(rank))
        assert pm.local_rank() == rank
        want = gpus[rank % len(gpus)] if gpus else next(d for d in devices if d.kind == "cpu")
        assert pm.local_device() == want
        monkeypatch.delenv(name)
    # Open MPI's variable wins over a torchrun-style one.
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    assert pm.local_rank() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "one")
    with pytest.raises(pm.DeviceError, match="OMPI_COMM_WORLD_LOCAL_RANK"):
        pm.local_device()
    # An explicit PYMETALLIC_DEVICE wins over the rank.
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    monkeypatch.setenv("PYMETALLIC_DEVICE", "cpu")
    assert pm.local_device().kind == "cpu"


def test_failed_command_buffer_still_signals_its_event(cpu_device, rng):
    # A kernel fault must not leave the queues that wait for its event hanging: the event is
    # signalled, the fault is reported where the failed command buffer is waited for.
    src = """
    kernel void wild_write(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        x[i + (1ul << 40)] = 1.0;
    }"""
    lib = pm.Library(cpu_device, src)
    wild = pm.ComputePipelineState(cpu_device, lib.make_function("wild_write"))
    x = rng.standard_normal(N).astype(np.float32)
    buf = pm.Buffer.from_numpy(cpu_device, x)
    e = cpu_device.make_shared_event()
    waiter = cpu_device.make_command_queue().make_command_buffer()
    waiter.encode_wait_for_event(e, 1)
    encode(waiter, cpu_device, "add_one", buf)
    waiter.commit()
    bad = cpu_device.make_command_queue().make_command_buffer()
    enc = bad.make_compute_command_encoder()
    enc.set_compute_pipeline_state(wild)
    enc.set_buffer(buf, 0, 0)
    enc.dispatch_threads((64, 1, 1), (32, 1, 1))
    enc.end_encoding()
    bad.encode_signal_event(e, 1)
    bad.commit()
    with pytest.raises(pm.MetalError, match="invalid memory access"):
        bad.wait_until_completed()
    assert e.wait_until_signaled_value(1, 20_000)
    waiter.wait_until_completed()
    np.testing.assert_array_equal(buf.to_numpy(np.float32), x + 1)


def test_notify_listener_runs_once_the_value_is_reached(device):
    e = device.make_shared_event()
    seen = []
    done = threading.Event()
    e.notify_listener(3, lambda ev, v: (seen.append((ev.signaled_value, v)), done.set()))
    e.signaled_value = 2
    assert not done.wait(0.05)
    cb = device.make_command_queue().make_command_buffer()
    cb.encode_signal_event(e, 3)
    cb.commit()
    assert done.wait(20)
    assert seen == [(3, 3)]
    with pytest.raises(TypeError):
        e.notify_listener(1, None)


def test_new_pipeline_while_a_queue_waits_for_the_host(device, rng):
    # On CUDA a stream waiting in place for a value blocks module loading (pipeline creation)
    # for the whole context: a wait the host has not promised yet must not reach the stream.
    e = device.make_shared_event()
    x = rng.standard_normal(N).astype(np.float32)
    held_buf = pm.Buffer.from_numpy(device, x)
    held = device.make_command_queue().make_command_buffer()
    held.encode_wait_for_event(e, 1)
    encode(held, device, "add_one", held_buf)
    held.commit()
    time.sleep(0.02)
    # A library and pipeline never built in this process, created and run meanwhile.
    scale = float(rng.integers(3, 1000))
    lib = pm.Library(device, SOURCE.replace("x[i] * 2.0f", f"x[i] * {scale:.1f}f"))
    pso = pm.ComputePipelineState(device, lib.make_function("twice"))
    other = pm.Buffer.from_numpy(device, x)
    cb = device.make_command_queue().make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pso)
    enc.set_buffer(other, 0, 0)
    enc.dispatch_threads((N, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    np.testing.assert_array_equal(other.to_numpy(np.float32), x * np.float32(scale))
    assert held.get_status() == 0  # still waiting for the host
    e.signaled_value = 1
    held.wait_until_completed()
    np.testing.assert_array_equal(held_buf.to_numpy(np.float32), x + 1)
