"""Issue 11, item 2: loops stay loops on CUDA. C++ lets a compiler delete a loop without side
effects on the assumption that it ends; MSL does not. The CPU compiles with -fno-finite-loops
(tests/python/test_runaway_kernels.py runs such kernels); NVRTC has no such option, so the
front end wraps every loop condition in ::metal::detail::loop_progress, an empty
`asm volatile` on CUDA. These tests compile the generated CUDA translation unit to PTX with
NVRTC (no GPU needed): the endless loop survives, and ordinary kernels compile to the same
instructions as without the marks (loads still leave loops, loops still unroll)."""

import collections
import re

import numpy as np
import nvrtc_direct
import pymetallic as pm
import pytest

SRC = """
#include <metal_stdlib>
using namespace metal;
kernel void forever(device int* out [[buffer(0)]]) { for (;;) {} }
kernel void spin(volatile device int* flag [[buffer(0)]], device int* out [[buffer(1)]], uint i [[thread_position_in_grid]]) {
    while (flag[0] == 0) {}
    out[i] = 1;
}
kernel void dot16(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                  device float* o [[buffer(2)]], uint t [[thread_position_in_grid]]) {
    float s = 0;
    for (int i = 0; i < 16; ++i) s += a[t * 16 + i] * b[i];
    o[t] = s;
}
kernel void scale(device const float* a [[buffer(0)]], device float* o [[buffer(1)]], constant float* k [[buffer(2)]],
                  constant uint& n [[buffer(3)]], uint t [[thread_position_in_grid]]) {
    uint i = t;
    do { o[i] = a[i] * k[0]; i += 1024; } while (i < n);
}
constexpr int triangle(int n) { int s = 0; for (int i = 0; i < n; ++i) s += i; return s; }
kernel void folded(device int* o [[buffer(0)]], uint t [[thread_position_in_grid]]) {
    static_assert(triangle(5) == 10, "constexpr loops still fold");
    int s = 0;
    for (uint j = 0; j < 8; ++j) s += int(j) * o[j];
    o[t] = s + triangle(4);
}
"""
KERNELS = ["forever", "spin", "dot16", "scale", "folded"]


def entries(text):
    """PTX body of each metallic_entry_<n> (the non-uniform one), by kernel name."""
    found = {}
    for m in re.finditer(r"\.entry (metallic_entry_(\d+))\((.*?)\n}\n", text, re.S):
        found[KERNELS[int(m.group(2))]] = m.group(0)
    return found


def instructions(body):
    lines = [line.strip() for line in body.splitlines()[1:]]
    return collections.Counter(
        line.split()[0].rstrip(";")
        for line in lines
        if line and not line.startswith(("$", ".", "//", "{", "}", ")", "@"))
    ) + collections.Counter("@branch" for line in lines if line.startswith("@"))


def loops_back(body):
    """Whether some branch goes to a label defined above it (a loop)."""
    seen = set()
    for line in body.splitlines():
        line = line.strip()
        if line.endswith(":") and line.startswith("$"):
            seen.add(line[:-1])
        m = re.search(r"bra(?:\.uni)?\s+(\$\S+);", line)
        if m and m.group(1) in seen:
            return True
    return False


@pytest.fixture(scope="module")
def compiled():
    lib = nvrtc_direct.library()
    generated = pm._core.compile_offline(SRC, None, "cuda", "sm_90")["generated"]
    assert "::metal::detail::loop_progress(" in generated
    marked = entries(nvrtc_direct.compile(lib, generated, nvrtc_direct.options()))
    plain = generated.replace("::metal::detail::loop_progress(", "(")
    unmarked = entries(nvrtc_direct.compile(lib, plain, nvrtc_direct.options()))
    assert set(marked) == set(KERNELS) == set(unmarked)
    return marked, unmarked


def test_endless_loops_stay_loops_on_cuda(compiled):
    marked, unmarked = compiled
    assert loops_back(marked["forever"]) and loops_back(marked["spin"])
    # Without the marks NVRTC deletes `for (;;) {}`: the kernel would "complete" at once.
    assert not loops_back(unmarked["forever"])


def test_marks_cost_nothing_in_ordinary_kernels(compiled):
    marked, unmarked = compiled
    for name in ("dot16", "scale", "folded"):
        assert instructions(marked[name]) == instructions(unmarked[name]), name
    assert not loops_back(marked["dot16"])  # still fully unrolled
    # k[0] is loaded once, before the loop, in both.
    assert marked["scale"].count("ld.global.nc.f32") + marked["scale"].count("ld.global.f32") == (
        unmarked["scale"].count("ld.global.nc.f32") + unmarked["scale"].count("ld.global.f32")
    )


FORMS = """
#include <metal_stdlib>
using namespace metal;
struct Flag { int v; explicit operator bool() const { return v != 0; } };
struct Bits { uint a : 3; uint b : 5; };
kernel void forms(device int* o [[buffer(0)]], device Bits* bits [[buffer(1)]], uint t [[thread_position_in_grid]]) {
    int s = 0;
    for (int i = 0, j = 4; i < j; ++i, --j) s += i;                 // 0 + 1
    for (;;) { if (s > 3) break; ++s; }                              // 4
    for (int i = 0; i < 3; ++i) for (int j = 0; j < 3; ++j) s += i * j;  // + 9
    int arr[3] = {1, 2, 3};
    for (int x : arr) s += x;                                        // + 6
    Flag f{o[t]};
    while (f) { f.v = f.v - 1; s += 100; }                           // + 100 * o[t]
    if (t == 0) while (bits[0].a) { bits[0].a = bits[0].a - 1; s += 1000; }
    do s += 1; while (s % 7 != 0);
    for (int k = 0; k < min(3, s); k += [](int d) { return d; }(1)) s += k;  // + 3
    o[t] = s;
}
"""


def test_loop_forms_compile_for_cuda(cuda_compile):
    cuda_compile(FORMS)


def test_loop_forms_run(runner, device):
    o = np.arange(8, dtype=np.int32) % 3
    bits = np.array([5 | (9 << 3)], np.uint32)  # a = 5, b = 9
    out, bits_out, _ = runner.run(device, FORMS, "forms", [o.copy(), bits, None], (8,), (8,), order_dependent=True)
    expect = []
    for t, v in enumerate(o):
        s = 4 + 9 + 6 + 100 * int(v) + (5000 if t == 0 else 0)
        s += 1
        while s % 7:
            s += 1
        expect.append(s + 3)
    np.testing.assert_array_equal(out, np.array(expect, np.int32))
    assert bits_out[0] == 9 << 3
