"""Issue 11, item 9: options={"isolate": True} runs a library's CPU kernels in a separate
worker process that shares only the buffers' memory (docs/security.md). A kernel that
crashes there (a wild write, a null dereference, a division by zero) fails its command buffer
with a MetalError; the caller lives on and the next dispatch gets a new worker. Results are
the same as in process. Every case runs in a child process with a time limit."""

from reliability_util import check_child

KERNELS = '''
SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void saxpy(device const float* x [[buffer(0)]], device float* y [[buffer(1)]], constant float& a [[buffer(2)]],
                  uint i [[thread_position_in_grid]]) { y[i] = a * x[i] + y[i]; }
kernel void wild(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) { y[i + (1u << 28)] = 1.0f; }
kernel void null_write(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    device float* p = (device float*)(y - (ulong)y / 4);   // address 0
    p[i] = 2.0f;
}
kernel void divide(device int* y [[buffer(0)]], uint i [[thread_position_in_grid]]) { y[i] = 7 / y[i]; }
kernel void forever(device int* y [[buffer(0)]], uint i [[thread_position_in_grid]]) { for (;;) {} }
kernel void reduce(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                   threadgroup float* tmp [[threadgroup(0)]], uint t [[thread_index_in_threadgroup]],
                   uint g [[threadgroup_position_in_grid]], uint n [[threads_per_threadgroup]]) {
    tmp[t] = x[g * n + t];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint s = n / 2; s > 0; s /= 2) {
        if (t < s) tmp[t] += tmp[t + s];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (t == 0) out[g] = tmp[0];
}
kernel void histogram(device const uint* keys [[buffer(0)]], device atomic_uint* bins [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
    atomic_fetch_add_explicit(&bins[keys[i] % 64], 1u, memory_order_relaxed);
}
"""
'''


def test_a_crashing_kernel_fails_its_command_buffer_and_the_caller_lives_on():
    out = check_child(
        KERNELS
        + """
lib = pm.Library(CPU, SRC, options={"isolate": True})
q = pm.CommandQueue(CPU)
y = pm.Buffer.from_numpy(CPU, np.ones(64, np.int32))
for name, signal in (("wild", "SIGSEGV"), ("null_write", "SIGSEGV"), ("divide", "SIGFPE")):
    if name == "divide":
        y = pm.Buffer.from_numpy(CPU, np.zeros(64, np.int32))
    cb = launch(q, lib, name, [y], 64, 64)
    try:
        cb.wait_until_completed()
        raise SystemExit(name + " completed")
    except pm.MetalError as e:
        assert "crash of the isolated worker process" in str(e) and signal in str(e) and name in str(e), e
    assert cb.get_status() == -1 and signal in cb.error
    # The next dispatch runs in a new worker.
    x = pm.Buffer.from_numpy(CPU, np.arange(256, dtype=np.float32))
    z = pm.Buffer.from_numpy(CPU, np.ones(256, np.float32))
    launch(q, lib, "saxpy", [x, z], 256, 64, np.float32(3)).wait_until_completed()
    np.testing.assert_array_equal(z.to_numpy(np.float32), 3 * np.arange(256, dtype=np.float32) + 1)
print("ok", os.getpid())
""",
        timeout=120,
    )
    assert out.startswith("ok")


def test_isolated_results_match_in_process_results():
    out = check_child(
        KERNELS
        + """
rng = np.random.default_rng(7)
x = rng.standard_normal(4096).astype(np.float32)
keys = rng.integers(0, 1 << 20, 10000).astype(np.uint32)
early = pm.Buffer.from_numpy(CPU, np.ones(4096, np.float32))   # before isolation: staged copies
plain = pm.Library(CPU, SRC)
isolated = pm.Library(CPU, SRC, options={"isolate": True})
results = {}
for tag, lib in (("plain", plain), ("isolated", isolated)):
    q = pm.CommandQueue(CPU)
    bx = pm.Buffer.from_numpy(CPU, x)
    y = pm.Buffer.from_numpy(CPU, np.ones(4096, np.float32))
    launch(q, lib, "saxpy", [bx, y], 4096, 128, np.float32(0.5)).wait_until_completed()
    e = pm.Buffer.from_numpy(CPU, np.ones(4096, np.float32))
    launch(q, lib, "saxpy", [bx, e], 4096, 128, np.float32(2)).wait_until_completed()
    launch(q, lib, "saxpy", [bx, early], 4096, 128, np.float32(2)).wait_until_completed()
    sums = pm.Buffer(CPU, 16 * 4)
    launch(q, lib, "reduce", [bx, sums], 4096, 256, tg_memory=1024).wait_until_completed()
    bins = pm.Buffer.from_numpy(CPU, np.zeros(64, np.uint32))
    launch(q, lib, "histogram", [pm.Buffer.from_numpy(CPU, keys), bins], keys.size, 64).wait_until_completed()
    results[tag] = [y.to_numpy(np.float32).copy(), e.to_numpy(np.float32).copy(),
                    early.to_numpy(np.float32).copy(), sums.to_numpy(np.float32).copy(), bins.to_numpy(np.uint32).copy()]
p, i = results["plain"], results["isolated"]
np.testing.assert_array_equal(p[0], i[0])
np.testing.assert_array_equal(p[0], (0.5 * x.astype(np.float64) + 1).astype(np.float32))
np.testing.assert_array_equal(p[1], i[1])
np.testing.assert_array_equal(i[2], p[2] + 2 * x)          # `early` went through both runs, staged when isolated
np.testing.assert_array_equal(p[3], i[3])
np.testing.assert_allclose(p[3], x.reshape(16, 256).astype(np.float64).sum(1), rtol=1e-4, atol=1e-4)
np.testing.assert_array_equal(p[4], i[4])
np.testing.assert_array_equal(i[4], np.bincount(keys % 64, minlength=64).astype(np.uint32))
print("ok")
""",
        timeout=180,
    )
    assert out.strip() == "ok"


def test_an_endless_isolated_kernel_is_stopped_by_the_watchdog():
    out = check_child(
        KERNELS
        + """
lib = pm.Library(CPU, SRC, options={"isolate": True})
q = pm.CommandQueue(CPU)
y = pm.Buffer(CPU, 256)
t0 = time.time()
cb = launch(q, lib, "forever", [y], 64, 64)
try:
    cb.wait_until_completed()
    raise SystemExit("completed")
except pm.MetalError as e:
    assert "ran longer than 1 s" in str(e) and "forever" in str(e), e
assert time.time() - t0 < 20
x = pm.Buffer.from_numpy(CPU, np.arange(64, dtype=np.float32))
z = pm.Buffer.from_numpy(CPU, np.zeros(64, np.float32))
launch(q, lib, "saxpy", [x, z], 64, 64, np.float32(1)).wait_until_completed()
np.testing.assert_array_equal(z.to_numpy(np.float32), np.arange(64, dtype=np.float32))
print("ok")
""",
        env={"PYMETALLIC_KERNEL_TIMEOUT": "1"},
        timeout=120,
    )
    assert out.strip() == "ok"


def test_what_isolation_cannot_do_yet_is_refused_by_name():
    out = check_child(
        """
src = '''
#include <metal_stdlib>
using namespace metal;
kernel void k(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) { y[i] = 1.0f; }
'''
try:
    pm.Library(CPU, src, options={"isolate": True, "validation": True})
    raise SystemExit("accepted")
except pm.MetalError as e:
    assert "isolate" in str(e) and "validation" in str(e), e
for bad in ("yes", 2):
    try:
        pm.Library(CPU, src, options={"isolate": bad})
        raise SystemExit(f"accepted {bad!r}")
    except pm.ValidationError:
        pass
print("ok")
""",
        timeout=120,
    )
    assert out.strip() == "ok"
