"""Validation mode and kernel logging (issue 12): each check finds its bug at the right MSL
line, the fixed kernel runs clean, printing reaches Python's logging and handlers.

Each test runs on every device the session has: the CPU always, an NVIDIA GPU where there is
one (the same checks in the generated CUDA code, findings and log records read back)."""

import logging

import numpy as np
import pytest

import pymetallic as pm

VALIDATE = {"validation": True, "filename": "bugs.metal"}


def _line(src, marker):
    for n, text in enumerate(src.splitlines(), 1):
        if marker in text:
            return n
    raise AssertionError(marker)


def _run(device, src, name, buffers, grid, tg, textures=(), options=VALIDATE, threadgroup=()):
    """Commits one dispatch of kernel `name`: arrays become buffers at their index, scalars
    set_bytes; `threadgroup` lists threadgroup memory lengths in bytes, index 0 first."""
    lib = pm.Library(device, src, options)
    pipe = pm.ComputePipelineState(device, lib.make_function(name))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    keep = []
    for i, a in enumerate(buffers):
        if isinstance(a, np.ndarray):
            b = pm.Buffer.from_numpy(device, a)
            keep.append(b)
            enc.set_buffer(b, 0, i)
        elif a is not None:
            enc.set_bytes(a, i)
    for i, t in textures:
        enc.set_texture(t, i)
    for i, length in enumerate(threadgroup):
        enc.set_threadgroup_memory_length(length, i)
    enc.dispatch_threads(grid, tg)
    enc.end_encoding()
    cb.commit()
    return cb, keep


def _findings(device, src, name, buffers, grid, tg, textures=(), threadgroup=()):
    cb, _ = _run(device, src, name, buffers, grid, tg, textures, threadgroup=threadgroup)
    with pytest.raises(pm.ValidationError) as info:
        cb.wait_until_completed()
    assert cb.status == pm.CommandBufferStatus.ERROR
    assert isinstance(info.value, pm.errors.ShaderValidationError)
    assert list(cb.error.findings) and cb.error.findings[0].message in str(cb.error)
    return info.value.findings, str(info.value)


def _clean(device, src, name, buffers, grid, tg, textures=(), threadgroup=()):
    cb, keep = _run(device, src, name, buffers, grid, tg, textures, threadgroup=threadgroup)
    cb.wait_until_completed()
    assert cb.status == pm.CommandBufferStatus.COMPLETED
    assert cb.error is None and list(cb.findings) == []
    return keep


OFF_BY_ONE = """
#include <metal_stdlib>
using namespace metal;
kernel void fill(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                 uint gid [[thread_position_in_grid]]) {
    if (gid COMPARE n) out[gid] = float(gid);   // @oob
}
"""


def test_off_by_one_write_is_found_at_its_line(device):
    src = OFF_BY_ONE.replace("COMPARE", "<=")
    out = np.zeros(64, np.float32)
    findings, text = _findings(device, src, "fill", [out, np.uint32(64)], (128, 1, 1), (32, 1, 1))
    f = findings[0]
    assert f.kind == "out_of_bounds" and f.space == "device"
    assert (f.file, f.line) == ("bugs.metal", _line(src, "@oob"))
    assert f.column == src.splitlines()[f.line - 1].index("out[gid]") + 1
    assert f.buffer_index == 0 and f.offset == 256 and f.extent == 256 and f.size == 4 and f.access == "write"
    assert f.thread == (64, 0, 0) and f.threadgroup == (2, 0, 0) and f.thread_in_threadgroup == (0, 0, 0)
    assert "kernel 'fill'" in text and "bugs.metal:%d" % f.line in text and "buffer(0)" in text


def test_off_by_one_fixed_runs_clean_and_right(device):
    out = np.zeros(64, np.float32)
    (b,) = _clean(device, OFF_BY_ONE.replace("COMPARE", "<"), "fill", [out, np.uint32(64)], (128, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(b.to_numpy(np.float32, (64,)), np.arange(64, dtype=np.float32))


NEIGHBOUR = """
#include <metal_stdlib>
using namespace metal;
kernel void rotate(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                   uint lid [[thread_position_in_threadgroup]], uint gid [[thread_position_in_grid]],
                   uint n [[threads_per_threadgroup]]) {
    threadgroup float tile[64];
    tile[lid] = in[gid];   // @write
    BARRIER
    out[gid] = tile[(lid + 1) % n];   // @read
}
"""


def test_missing_barrier_before_reading_a_neighbour_is_a_race(device):
    src = NEIGHBOUR.replace("BARRIER", "")
    data = np.arange(128, dtype=np.float32)
    findings, _ = _findings(device, src, "rotate", [data, np.zeros(128, np.float32)], (128, 1, 1), (64, 1, 1))
    races = [f for f in findings if f.kind == "race"]
    assert races, [f.message for f in findings]
    # The write of one thread and the read of its neighbour: either may be the one that
    # notices (threads run in some order); the finding names both lines.
    lines = {_line(src, "@write"), _line(src, "@read")}
    assert {races[0].line, races[0].other_line} == lines, races[0].message
    assert races[0].space == "threadgroup" and races[0].name == "tile" and races[0].other_thread >= 0


def test_neighbour_read_after_a_barrier_is_clean(device):
    src = NEIGHBOUR.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup);")
    data = np.arange(128, dtype=np.float32)
    _, out = _clean(device, src, "rotate", [data, np.zeros(128, np.float32)], (128, 1, 1), (64, 1, 1))
    expect = data.reshape(2, 64)[:, (np.arange(64) + 1) % 64].ravel()
    np.testing.assert_array_equal(out.to_numpy(np.float32, (128,)), expect)


DIVERGENT = """
#include <metal_stdlib>
using namespace metal;
kernel void partial(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                    uint tid [[thread_index_in_threadgroup]], uint gid [[thread_position_in_grid]]) {
    threadgroup float tile[64];
    tile[tid] = float(tid);
    OPEN
        threadgroup_barrier(mem_flags::mem_threadgroup);   // @barrier
    CLOSE
    if (tid < n) out[gid] = tile[(tid + 1) % n];
}
"""


def test_barrier_inside_if_is_divergence(device):
    src = DIVERGENT.replace("OPEN", "if (tid < n) {").replace("CLOSE", "}")
    findings, text = _findings(
        device, src, "partial", [np.zeros(64, np.float32), np.uint32(40)], (64, 1, 1), (64, 1, 1)
    )
    div = [f for f in findings if f.kind == "barrier_divergence"]
    assert div, [f.message for f in findings]
    assert div[0].line == _line(src, "@barrier") and "barrier divergence" in text
    # The thread named did not reach it: an index >= n; the other one did.
    assert div[0].thread_in_threadgroup[0] >= 40 and 0 <= div[0].other_thread < 40


def test_barrier_outside_the_if_is_clean(device):
    src = DIVERGENT.replace("OPEN", "").replace("CLOSE", "")
    (out,) = _clean(device, src, "partial", [np.zeros(64, np.float32), np.uint32(40)], (64, 1, 1), (64, 1, 1))
    got = out.to_numpy(np.float32, (64,))
    np.testing.assert_array_equal(got[:40], ((np.arange(40) + 1) % 40).astype(np.float32))


UNINIT = """
#include <metal_stdlib>
using namespace metal;
kernel void half_filled(device float* out [[buffer(0)]], uint lid [[thread_position_in_threadgroup]],
                        uint gid [[thread_position_in_grid]]) {
    threadgroup float tile[64];
    if (lid < LIMIT) tile[lid] = 2.0f * float(lid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[gid] = tile[lid];   // @uninit
}
"""


def test_uninitialised_threadgroup_read(device):
    src = UNINIT.replace("LIMIT", "32")
    findings, _ = _findings(device, src, "half_filled", [np.zeros(64, np.float32)], (64, 1, 1), (64, 1, 1))
    f = [f for f in findings if f.kind == "uninitialized_read"][0]
    assert (
        f.line == _line(src, "@uninit")
        and f.thread_in_threadgroup[0] >= 32
        and f.offset == 4 * f.thread_in_threadgroup[0]
    )


def test_fully_written_threadgroup_memory_is_clean(device):
    (out,) = _clean(
        device, UNINIT.replace("LIMIT", "64"), "half_filled", [np.zeros(64, np.float32)], (64, 1, 1), (64, 1, 1)
    )
    np.testing.assert_array_equal(out.to_numpy(np.float32, (64,)), 2.0 * np.arange(64, dtype=np.float32))


TEXTURE = """
#include <metal_stdlib>
using namespace metal;
kernel void diff(texture2d<float, access::read> src [[texture(0)]], device float* out [[buffer(0)]],
                 uint2 gid [[thread_position_in_grid]]) {
    uint2 next = uint2(gid.x + SHIFT, gid.y);
    out[gid.y * 8 + gid.x] = src.read(next).x - src.read(gid).x;   // @texture
}
"""


def test_texture_read_past_the_edge(device):
    img = np.arange(48, dtype=np.float32).reshape(6, 8)
    tex = pm.Texture.from_numpy(device, img)
    src = TEXTURE.replace("SHIFT", "1")
    findings, text = _findings(
        device, src, "diff", [np.zeros(48, np.float32)], (8, 6, 1), (8, 2, 1), textures=[(0, tex)]
    )
    f = findings[0]
    assert f.kind == "out_of_bounds" and f.space == "texture" and f.line == _line(src, "@texture")
    assert f.thread[0] == 7 and "(8, " in text and "8 x 6 x 1" in text


def test_texture_read_inside_is_clean(device):
    img = np.arange(48, dtype=np.float32).reshape(6, 8)
    tex = pm.Texture.from_numpy(device, img)
    (out,) = _clean(
        device,
        TEXTURE.replace("SHIFT", "0"),
        "diff",
        [np.zeros(48, np.float32)],
        (8, 6, 1),
        (8, 2, 1),
        textures=[(0, tex)],
    )
    np.testing.assert_array_equal(out.to_numpy(np.float32, (48,)), np.zeros(48, np.float32))


def test_threadgroup_out_of_bounds_and_local_array(device):
    src = """
#include <metal_stdlib>
using namespace metal;
kernel void k(device float* out [[buffer(0)]], threadgroup float* scratch [[threadgroup(0)]],
              uint lid [[thread_position_in_threadgroup]], uint gid [[thread_position_in_grid]]) {
    scratch[lid + 1] = 1.0f;               // @tg
    float local[4] = {1, 2, 3, 4};
    out[gid] = local[lid % 5];             // @local
}
"""
    findings, _ = _findings(device, src, "k", [np.zeros(32, np.float32)], (32, 1, 1), (32, 1, 1), threadgroup=[32 * 4])
    by_line = {f.line: f for f in findings}
    tg = by_line[_line(src, "@tg")]
    assert tg.space == "threadgroup" and tg.buffer_index == 0 and tg.offset == 128 and tg.extent == 128
    assert tg.thread == (31, 0, 0)
    loc = by_line[_line(src, "@local")]
    assert loc.space == "array" and loc.offset == 4 and loc.extent == 4 and loc.thread[0] % 5 == 4


DEREF = """
#include <metal_stdlib>
using namespace metal;
struct Particle { float2 pos; float mass; };
kernel void deref(device float* out [[buffer(0)]], device Particle* ps [[buffer(1)]],
                  constant float* scale [[buffer(2)]], uint gid [[thread_position_in_grid]]) {
    device float* p = out + gid + SHIFT;
    *p = float(gid) * *scale;                  // @star
    device Particle* q = ps + gid + SHIFT;
    q->mass = 2.0f;                            // @arrow
    q->pos.y = q->pos.x + 1.0f;                // @arrow2
}
"""


def test_deref_and_arrow_out_of_bounds_are_found_at_their_lines(device):
    src = DEREF.replace("SHIFT", "1")
    out = np.zeros(32, np.float32)
    ps = np.zeros(32 * 4, np.float32)  # 32 Particles of 16 bytes (float2, float, padding)
    findings, _ = _findings(device, src, "deref", [out, ps, np.float32(2)], (32, 1, 1), (32, 1, 1))
    by_line = {f.line: f for f in findings}
    star = by_line[_line(src, "@star")]
    assert star.kind == "out_of_bounds" and star.space == "device" and star.buffer_index == 0
    assert star.access == "write" and star.offset == 128 and star.extent == 128 and star.size == 4
    assert star.thread == (31, 0, 0) and star.name == "p"
    assert star.column == src.splitlines()[star.line - 1].index("p =") + 1
    arrow = by_line[_line(src, "@arrow")]
    assert arrow.buffer_index == 1 and arrow.access == "write" and arrow.size == 4
    assert arrow.offset == 32 * 16 + 8 and arrow.extent == 32 * 16 and arrow.name == "q"
    arrow2 = by_line[_line(src, "@arrow2")]
    assert arrow2.buffer_index == 1 and arrow2.offset >= 32 * 16


def test_deref_and_arrow_in_bounds_are_clean_and_right(device):
    out = np.zeros(32, np.float32)
    ps = np.zeros(32 * 4, np.float32)
    b_out, b_ps = _clean(device, DEREF.replace("SHIFT", "0"), "deref", [out, ps, np.float32(2)], (32, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(b_out.to_numpy(np.float32, (32,)), 2 * np.arange(32, dtype=np.float32))
    got = b_ps.to_numpy(np.float32, (32, 4))
    np.testing.assert_array_equal(got[:, 2], np.full(32, 2, np.float32))
    np.testing.assert_array_equal(got[:, 1], np.ones(32, np.float32))


PTR_ARITH = """
#include <metal_stdlib>
using namespace metal;
kernel void strided(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                    uint gid [[thread_position_in_grid]]) {
    float v = *(x + gid * STRIDE);              // @read
    *(out + gid + SHIFT) = v;                   // @write
    *(out - SHIFT + (gid + 1)) += 0.0f;         // the offset is not one term: left unchecked
}
"""


def test_dereference_of_pointer_arithmetic_is_checked_against_the_base(device):
    # x + gid * 2 runs far past x's 32 floats for threads 16..31: the address lies in no
    # bound range at all, so only the base pointer tells which buffer the access belongs to.
    src = PTR_ARITH.replace("STRIDE", "2").replace("SHIFT", "1")
    x = np.arange(32, dtype=np.float32)
    findings, _ = _findings(device, src, "strided", [x, np.zeros(32, np.float32)], (32, 1, 1), (32, 1, 1))
    by_line = {f.line: f for f in findings}
    read = by_line[_line(src, "@read")]
    assert read.kind == "out_of_bounds" and read.buffer_index == 0 and read.access == "read" and read.name == "x"
    assert read.extent == 128 and read.offset >= 128 and read.offset == 8 * read.thread[0] and read.size == 4
    write = by_line[_line(src, "@write")]
    assert write.buffer_index == 1 and write.access == "write" and write.name == "out"
    assert write.thread == (31, 0, 0) and write.offset == 128 and write.extent == 128


def test_dereference_of_pointer_arithmetic_in_bounds_is_clean_and_right(device):
    src = PTR_ARITH.replace("STRIDE", "1").replace("SHIFT", "0")
    x = np.random.default_rng(5).standard_normal(32).astype(np.float32)
    _, b_out = _clean(device, src, "strided", [x, np.zeros(32, np.float32)], (32, 1, 1), (32, 1, 1))
    np.testing.assert_array_equal(b_out.to_numpy(np.float32, (32,)), x)


TG_DEREF = """
#include <metal_stdlib>
using namespace metal;
struct Pair { float a; float b; };
kernel void tgderef(device float* out [[buffer(0)]], threadgroup float* t [[threadgroup(0)]],
                    uint lid [[thread_position_in_threadgroup]], uint gid [[thread_position_in_grid]],
                    uint n [[threads_per_threadgroup]]) {
    threadgroup Pair pairs[32];
    threadgroup float* mine = t + lid;
    threadgroup Pair* pr = pairs + lid;
    *mine = float(lid);                         // @w
    pr->a = float(lid);                         // @wa
    BARRIER
    threadgroup float* next = t + (lid + 1) % n;
    threadgroup Pair* pn = pairs + (lid + 1) % n;
    out[gid] = *next + pn->a;                   // @r
}
"""


def test_race_through_deref_and_arrow_on_threadgroup_memory(device):
    src = TG_DEREF.replace("BARRIER", "")
    findings, _ = _findings(
        device, src, "tgderef", [np.zeros(32, np.float32)], (32, 1, 1), (32, 1, 1), threadgroup=[32 * 4]
    )
    races = [f for f in findings if f.kind == "race"]
    lines = {f.line for f in races} | {f.other_line for f in races}
    assert _line(src, "@r") in lines and ({_line(src, "@w"), _line(src, "@wa")} & lines), [f.message for f in findings]


def test_deref_and_arrow_on_threadgroup_memory_after_a_barrier_are_clean(device):
    src = TG_DEREF.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup);")
    (b,) = _clean(device, src, "tgderef", [np.zeros(32, np.float32)], (32, 1, 1), (32, 1, 1), threadgroup=[32 * 4])
    nxt = (np.arange(32) + 1) % 32
    np.testing.assert_array_equal(b.to_numpy(np.float32, (32,)), 2 * nxt.astype(np.float32))


UINT3 = """
#include <metal_stdlib>
using namespace metal;
kernel void dims(device float* out [[buffer(0)]], constant uint3& mnk [[buffer(1)]],
                 uint gid [[thread_position_in_grid]]) {
    out[gid] = float(mnk.x * 100 + mnk.y * 10 + mnk.z + gid);
}
"""


@pytest.mark.parametrize("options", [{"validation": True}, {"debug": True}], ids=["validation", "debug"])
def test_constant_uint3_bound_as_three_values_reads_no_further(device, options):
    # A uint3 is 16 bytes with padding, but three values are all the host requires; on the
    # CPU a 12-byte buffer ends where a guard page begins, so reading the padding faulted
    # in builds that keep the entry's copy of the whole uint3 (validation, debug).
    if getattr(device, "kind", "cpu") != "cpu" and "debug" in options:
        pytest.skip("debug builds are a CPU feature")
    cb, keep = _run(
        device,
        UINT3,
        "dims",
        [np.zeros(8, np.float32), np.array([3, 4, 5], np.uint32)],
        (8, 1, 1),
        (8, 1, 1),
        options=options,
    )
    cb.wait_until_completed()
    assert cb.error is None
    np.testing.assert_array_equal(keep[0].to_numpy(np.float32, (8,)), 345 + np.arange(8, dtype=np.float32))


def test_validation_is_a_separate_compiled_variant(device, monkeypatch):
    src = OFF_BY_ONE.replace("COMPARE", "<=")
    args = [np.zeros(64, np.float32), np.uint32(64)]

    def fill(grid):
        return _run(device, src, "fill", args, (grid, 1, 1), (32, 1, 1), options={"filename": "bugs.metal"})[0]

    # Off: no checks, so the bad write lands in the buffer's padding and nothing is found.
    fill(64).wait_until_completed()
    # The environment switch turns it on for every library.
    monkeypatch.setenv("PYMETALLIC_VALIDATION", "1")
    cb = fill(128)
    with pytest.raises(pm.errors.ShaderValidationError):
        cb.wait_until_completed()


# ---------------------------------------------------------------- printing

LOGGING = """
#include <metal_stdlib>
#include <metal_logging>
using namespace metal;
constant os_log logger("com.example.test", "kernel");
kernel void talk(device const float4* v [[buffer(0)]], uint gid [[thread_position_in_grid]]) {
    if (gid == 3) logger.log_info("value %d is %v4.1f", gid, v[gid]);
    if (gid == 5) logger.log_error("bad %s: %u %x %.3f", "thing", gid, 255u, 0.5f);
    if (gid == 6) os_log_default.log_debug("debug %d", -7);
    if (gid == 7) printf("plain %d%%", 42);
}
"""


def _talk(device, handler=None):
    lib = pm.Library(device, LOGGING)
    pipe = pm.ComputePipelineState(device, lib.make_function("talk"))
    cb = pm.CommandQueue(device).make_command_buffer()
    if handler:
        cb.add_log_handler(handler)
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    b = pm.Buffer.from_numpy(device, np.arange(32, dtype=np.float32))
    enc.set_buffer(b, 0, 0)
    enc.dispatch_threads((8, 1, 1), (4, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    return cb


def test_os_log_messages_reach_python_logging(device, caplog):
    with caplog.at_level(logging.DEBUG, logger="pymetallic.kernel"):
        cb = _talk(device)
    texts = {r.message for r in caplog.records if r.name == "pymetallic.kernel"}
    assert texts, (cb.log_messages, [(r.name, r.message) for r in caplog.records])
    assert "talk thread (3, 0, 0): value 3 is 12.0,13.0,14.0,15.0" in texts
    assert "talk thread (5, 0, 0): bad thing: 5 ff 0.500" in texts
    assert "talk thread (6, 0, 0): debug -7" in texts
    assert "talk thread (7, 0, 0): plain 42%" in texts
    levels = {r.message.split(": ", 1)[1]: r.levelno for r in caplog.records if r.name == "pymetallic.kernel"}
    assert levels["bad thing: 5 ff 0.500"] == logging.ERROR and levels["debug -7"] == logging.DEBUG
    rec = [r for r in caplog.records if "value 3" in r.message][0]
    assert rec.kernel == "talk" and rec.thread_position == (3, 0, 0) and rec.threadgroup_position == (0, 0, 0)
    assert rec.subsystem == "com.example.test" and rec.category == "kernel"
    assert len(cb.log_messages) == 4 and cb.log_messages_dropped == 0


def test_log_handler_replaces_logging(device, caplog):
    got = []
    with caplog.at_level(logging.DEBUG, logger="pymetallic.kernel"):
        _talk(device, got.append)
    assert not [r for r in caplog.records if r.name == "pymetallic.kernel"]
    assert sorted(m.thread[0] for m in got) == [3, 5, 6, 7]
    assert {m.level for m in got} == {0, 1, 2, 16}


def test_log_overflow_is_counted_and_reported(device, caplog):
    src = """
#include <metal_stdlib>
using namespace metal;
kernel void chatty(uint gid [[thread_position_in_grid]]) {
    printf("thread %u says something long enough to fill the log buffer quickly", gid);
}
"""
    lib = pm.Library(device, src)
    pipe = pm.ComputePipelineState(device, lib.make_function("chatty"))
    cb = pm.CommandQueue(device).make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    n = 20000  # ~110 bytes a record: more than the 1 MiB log
    enc.dispatch_threads((n, 1, 1), (64, 1, 1))
    enc.end_encoding()
    with caplog.at_level(logging.INFO, logger="pymetallic.kernel"):
        cb.commit()
        cb.wait_until_completed()
    kept, dropped = len(cb.log_messages), cb.log_messages_dropped
    assert dropped > 0 and kept + dropped == n
    # Every kept message is whole.
    assert all(m.message.startswith("thread ") and m.message.endswith("quickly") for m in cb.log_messages)
    assert any("dropped" in r.message and str(dropped) in r.message for r in caplog.records)


# ---------------------------------------------------------------- CUDA: compiles without a GPU


def _nvrtc():
    try:
        return not pm._core.toolchains().get("nvrtc", "unavailable").startswith("unavailable")
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.parametrize(
    "src",
    [
        OFF_BY_ONE.replace("COMPARE", "<="),
        NEIGHBOUR.replace("BARRIER", ""),
        DIVERGENT,
        UNINIT,
        TEXTURE,
        DEREF,
        TG_DEREF,
        PTR_ARITH.replace("STRIDE", "2"),
    ],
    ids=["oob", "race", "divergence", "uninit", "texture", "deref", "tg_deref", "ptr_arith"],
)
def test_validation_builds_compile_for_cuda(src):
    if not _nvrtc():
        pytest.skip("NVRTC unavailable")
    src = src.replace("OPEN", "").replace("CLOSE", "").replace("LIMIT", "32").replace("SHIFT", "1")
    src = src.replace("BARRIER", "")
    out = pm._core.compile_offline(src, {"validation": True}, "cuda", "sm_90")
    assert out["functions"]


def test_os_log_compiles_for_cuda():
    if not _nvrtc():
        pytest.skip("NVRTC unavailable")
    out = pm._core.compile_offline(LOGGING, None, "cuda", "sm_90")
    assert out["functions"] == ["talk"]
