"""Host-side semantics (MSL.md §6): dispatch_threadgroups vs dispatch_threads, set_bytes up
to 4 KB, several command buffers in order on one queue, serial dispatches in one encoder,
blit copy/fill between dispatches, private buffers through blits."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void ids(device uint* out [[buffer(0)]], uint gid [[thread_position_in_grid]],
                uint tpg [[threads_per_grid]], uint tptg [[threads_per_threadgroup]]) {
  out[3 * gid] = gid + 1; out[3 * gid + 1] = tpg; out[3 * gid + 2] = tptg;
}

struct Big { float w[1024]; };   // 4096 bytes
kernel void big_bytes(constant Big& b [[buffer(0)]], device const float* x [[buffer(1)]],
                      device float* y [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * b.w[i];
}

kernel void axpy(device float* y [[buffer(0)]], device const float* x [[buffer(1)]],
                 constant float& a [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[i] = a * y[i] + x[i];
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_dispatch_threadgroups_vs_threads(device, runner):
    n_groups, tg = 5, 48
    full = runner.run(
        device, SRC, "ids", [np.zeros(3 * n_groups * tg, np.uint32)], (n_groups,), (tg,), threadgroups=True
    )[0].reshape(-1, 3)
    np.testing.assert_array_equal(full[:, 0], np.arange(n_groups * tg) + 1)
    assert np.all(full[:, 1] == n_groups * tg) and np.all(full[:, 2] == tg)
    n = 200
    part = runner.run(device, SRC, "ids", [np.zeros(3 * n_groups * tg, np.uint32)], (n,), (tg,))[0].reshape(-1, 3)
    np.testing.assert_array_equal(part[:n, 0], np.arange(n) + 1)
    assert np.all(part[n:] == 0)  # no thread beyond the grid
    assert np.all(part[:n, 1] == n)
    np.testing.assert_array_equal(part[:n, 2], np.where(np.arange(n) >= 4 * tg, n - 4 * tg, tg))


def test_set_bytes_4kb(device, runner):
    rng = np.random.default_rng()
    w = rng.standard_normal(1024).astype(np.float32)
    x = rng.standard_normal(1024).astype(np.float32)
    y = runner.run(device, SRC, "big_bytes", [w, x, np.zeros(1024, np.float32)], (1024,), (256,))[2]
    np.testing.assert_array_equal(y, x * w)


def _pipe(device):
    lib = pm.Library(device, SRC)
    return pm.ComputePipelineState(device, lib.make_function("axpy"))


def _encode_axpy(cb, pipe, y, x, a, n):
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(y, 0, 0)
    enc.set_buffer(x, 0, 1)
    enc.set_bytes(np.float32(a), 2)
    enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()


def test_command_buffers_in_order_and_serial_dispatches(device):
    rng = np.random.default_rng()
    n = 500
    x0 = rng.standard_normal(n).astype(np.float32)
    y0 = rng.standard_normal(n).astype(np.float32)
    pipe = _pipe(device)
    q = pm.CommandQueue(device)
    y, x = pm.Buffer.from_numpy(device, y0), pm.Buffer.from_numpy(device, x0)
    coeffs = [2.0, -0.5, 3.0, 0.25, 1.5, -1.0]
    cbs = []
    for a in coeffs[:4]:  # 4 command buffers, committed without waiting
        cb = q.make_command_buffer()
        _encode_axpy(cb, pipe, y, x, a, n)
        cb.commit()
        cbs.append(cb)
    cb = q.make_command_buffer()  # 2 dispatches in one encoder: serial order
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(y, 0, 0)
    enc.set_buffer(x, 0, 1)
    for a in coeffs[4:]:
        enc.set_bytes(np.float32(a), 2)
        enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    for c in cbs:
        c.wait_until_completed()
        assert c.error is None
    ref = y0.copy()
    for a in coeffs:
        ref = np.float32(a) * ref + x0
    # a*y + x may be contracted to an fma: a few ulp; any reordering would be far off
    np.testing.assert_allclose(y.to_numpy(np.float32), ref, rtol=1e-5, atol=1e-5)


def test_blit_copy_fill_between_dispatches_and_private_buffers(device):
    rng = np.random.default_rng()
    n = 256
    x0 = rng.standard_normal(n).astype(np.float32)
    pipe = _pipe(device)
    q = pm.CommandQueue(device)
    shared_x = pm.Buffer.from_numpy(device, x0)
    priv_y = pm.Buffer(device, 4 * n, pm.Buffer.STORAGE_PRIVATE)
    priv_x = pm.Buffer(device, 4 * n, pm.Buffer.STORAGE_PRIVATE)
    out = pm.Buffer.from_numpy(device, np.zeros(n, np.float32))
    cb = q.make_command_buffer()
    blit = cb.make_blit_command_encoder()
    blit.fill_buffer(priv_y, (0, 4 * n), 0)  # y = 0
    blit.copy_from_buffer(shared_x, 0, priv_x, 0, 4 * n)  # x -> private
    blit.end_encoding()
    _encode_axpy(cb, pipe, priv_y, priv_x, 1.0, n)  # y = x
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(priv_y, 0, priv_x, 4 * 16, 4 * (n - 16))  # x[16:] = y[:n-16]
    blit.fill_buffer(priv_x, (0, 64), 0)  # x[:16] = 0
    blit.end_encoding()
    _encode_axpy(cb, pipe, priv_y, priv_x, 2.0, n)  # y = 2y + shifted x
    blit = cb.make_blit_command_encoder()
    blit.copy_from_buffer(priv_y, 0, out, 0, 4 * n)
    blit.fill_buffer(out, (4 * (n - 4), 16), 0x3F)  # last 4 floats: bytes 0x3F
    blit.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    shifted = np.concatenate([np.zeros(16, np.float32), x0[: n - 16]])
    ref = np.float32(2.0) * x0 + shifted
    ref[-4:] = np.frombuffer(bytes([0x3F]) * 16, np.float32)
    np.testing.assert_array_equal(out.to_numpy(np.float32), ref)
    with pytest.raises(pm.MetalError):
        priv_y.to_numpy(np.float32)
