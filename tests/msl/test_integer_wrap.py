"""Integer arithmetic at the INT_MIN/INT_MAX edges wraps (two's complement), in user code and
in the runtime's functions, for scalars and vectors of every width: the results must equal
NumPy's exact (int64, or Python-int for 64-bit types) results reduced modulo 2**bits."""

import numpy as np
import pytest

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// One row of `out` per operation; n elements per row.
template <typename T>
METAL_FUNC void wrap_ops(device const T* a, device const T* b, device const T* s, device T* out, uint i, uint n) {
  T x = a[i], y = b[i], k = s[i];
  int r = 0;
  out[r++ * n + i] = x + y;
  out[r++ * n + i] = x - y;
  out[r++ * n + i] = x * y;
  out[r++ * n + i] = -x;
  out[r++ * n + i] = x << k;
  out[r++ * n + i] = x >> k;
  out[r++ * n + i] = abs(x);
  out[r++ * n + i] = mulhi(x, y);
  out[r++ * n + i] = addsat(x, y);
  out[r++ * n + i] = subsat(x, y);
  out[r++ * n + i] = rotate(x, k);
  out[r++ * n + i] = madhi(x, y, x);
  out[r++ * n + i] = hadd(x, y);
  out[r++ * n + i] = rhadd(x, y);
  out[r++ * n + i] = absdiff(x, y);
  T z = x;
  z += y;
  z *= y;
  out[r++ * n + i] = z;
  T w = x;
  w++;
  out[r++ * n + i] = w;
  T v = x;
  v--;
  out[r++ * n + i] = v;
}
#define WRAP_KERNEL(NAME, T, N)                                                                   \
  kernel void NAME(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],              \
                   device const T* s [[buffer(2)]], device T* out [[buffer(3)]],                  \
                   uint i [[thread_position_in_grid]]) { wrap_ops(a, b, s, out, i, N); }
WRAP_KERNEL(wrap_int, int, 64)
WRAP_KERNEL(wrap_short, short, 64)
WRAP_KERNEL(wrap_char, char, 64)
WRAP_KERNEL(wrap_long, long, 64)
WRAP_KERNEL(wrap_int4, int4, 16)
WRAP_KERNEL(wrap_short2, short2, 32)
WRAP_KERNEL(wrap_char4, char4, 16)

kernel void wrap_int_only(device const int* a [[buffer(0)]], device const int* b [[buffer(1)]],
                          device int* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  const uint n = 64;
  int x = a[i], y = b[i];
  out[0 * n + i] = mul24(x, y);
  out[1 * n + i] = mad24(x, y, x);
  out[2 * n + i] = madsat(x, y, x);
}

kernel void wrap_simd(device const int* a [[buffer(0)]], device int* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  out[i] = simd_sum(a[i]);
  out[32 + i] = simd_product(a[i]);
  out[64 + i] = simd_prefix_inclusive_sum(a[i]);
}
"""

INFO = {np.int8: 8, np.int16: 16, np.int32: 32, np.int64: 64}


def wrap(v, bits):
    """Exact integers reduced to signed `bits`-bit two's complement: int64 arrays (exact for the
    8-32-bit types) in NumPy, object arrays of Python ints (64-bit types, wide shifts) per element."""
    m = 1 << bits
    v = np.asarray(v)
    if v.dtype == object:
        return np.array([((int(t) + (m >> 1)) % m) - (m >> 1) for t in v.ravel()], dtype=np.int64)
    return ((v.astype(np.int64) + (m >> 1)) % m) - (m >> 1)


def exact(arr, bits):
    # int64 holds every product of two 32-bit values exactly; 64-bit types use Python ints.
    return arr.astype(object) if bits == 64 else arr.astype(np.int64)


def edge_inputs(dtype, count):
    info = np.iinfo(dtype)
    bits = INFO[dtype]
    edges = [info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max]
    pairs = [(p, q) for p in edges for q in edges]
    rng = np.random.default_rng(bits)
    while len(pairs) < count:
        pairs.append(tuple(int(t) for t in rng.integers(info.min, info.max, 2, endpoint=True)))
    a = np.array([p for p, _ in pairs[:count]], dtype)
    b = np.array([q for _, q in pairs[:count]], dtype)
    s = np.array([(bits - 1) if j % 3 == 0 else (j * 7) % bits for j in range(count)], dtype)
    return a, b, s


def reference(a, b, s, bits):
    x, y, k = exact(a, bits), exact(b, bits), [int(t) for t in s]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    xs, ys = [int(t) for t in x], [int(t) for t in y]
    m = 1 << bits
    rows = [
        x + y,
        x - y,
        x * y,
        -x,
        [p << q for p, q in zip(xs, k)],
        [p >> q for p, q in zip(xs, k)],  # arithmetic: floor division by 2**k
        [abs(p) for p in xs],
        [(p * q) >> bits for p, q in zip(xs, ys)],
        [min(max(p + q, lo), hi) for p, q in zip(xs, ys)],
        [min(max(p - q, lo), hi) for p, q in zip(xs, ys)],
        [((p % m) << q | (p % m) >> (bits - q)) if q else p for p, q in zip(xs, k)],
        [((p * q) >> bits) + p for p, q in zip(xs, ys)],
        [(p + q) >> 1 for p, q in zip(xs, ys)],
        [(p + q + 1) >> 1 for p, q in zip(xs, ys)],
        [abs(p - q) for p, q in zip(xs, ys)],
        [(p + q) * q for p, q in zip(xs, ys)],
        x + 1,
        x - 1,
    ]
    return [wrap(np.array(r, dtype=object), bits) for r in rows]


CASES = [  # kernel, scalar dtype, vector width
    ("wrap_int", np.int32, 1),
    ("wrap_short", np.int16, 1),
    ("wrap_char", np.int8, 1),
    ("wrap_long", np.int64, 1),
    ("wrap_int4", np.int32, 4),
    ("wrap_short2", np.int16, 2),
    ("wrap_char4", np.int8, 4),
]
NAMES = [
    "add",
    "sub",
    "mul",
    "neg",
    "shl",
    "shr",
    "abs",
    "mulhi",
    "addsat",
    "subsat",
    "rotate",
    "madhi",
    "hadd",
    "rhadd",
    "absdiff",
    "compound",
    "increment",
    "decrement",
]


@pytest.mark.parametrize("kernel,dtype,width", CASES, ids=[c[0] for c in CASES])
def test_integer_operations_wrap_at_the_edges(device, runner, kernel, dtype, width):
    bits, count = INFO[dtype], 64
    a, b, s = edge_inputs(dtype, count)
    out = np.zeros(len(NAMES) * count, dtype)
    _, _, _, got = runner.run(device, SRC, kernel, [a, b, s, out], (count // width,), (count // width,))
    got = got.reshape(len(NAMES), count)
    for name, row, want in zip(NAMES, got, reference(a, b, s, bits)):
        np.testing.assert_array_equal(row.astype(np.int64), want.astype(np.int64), err_msg=f"{kernel}: {name}")


def test_int_only_functions_wrap(device, runner):
    a, b, _ = edge_inputs(np.int32, 64)
    out = np.zeros(3 * 64, np.int32)
    _, _, got = runner.run(device, SRC, "wrap_int_only", [a, b, out], (64,), (64,))
    got = got.reshape(3, 64).astype(np.int64)

    def sext24(v):
        v = v.astype(np.int64) & 0xFFFFFF
        return np.where(v >= 1 << 23, v - (1 << 24), v)

    x, y = a.astype(np.int64), b.astype(np.int64)
    mul24 = wrap(sext24(x) * sext24(y), 32)
    np.testing.assert_array_equal(got[0], mul24, err_msg="mul24")
    np.testing.assert_array_equal(got[1], wrap(mul24 + x, 32), err_msg="mad24")
    madsat = np.array([min(max(int(p) * int(q) + int(p), -(2**31)), 2**31 - 1) for p, q in zip(x, y)], np.int64)
    np.testing.assert_array_equal(got[2], madsat, err_msg="madsat")


def test_simd_reductions_of_integers_wrap(device, runner):
    a = np.array([2**31 - 1] * 16 + [-(2**31)] * 8 + [3, -5, 7, 2**30, -(2**30), 65537, -1, 2], np.int32)
    out = np.zeros(96, np.int32)
    _, got = runner.run(device, SRC, "wrap_simd", [a, out], (32,), (32,))
    x = a.astype(np.int64)
    np.testing.assert_array_equal(got[:32], wrap(np.full(32, x.sum()), 32), err_msg="simd_sum")
    prod = 1
    for t in x:
        prod = wrap(np.array([prod * int(t)]), 32)[0]
    np.testing.assert_array_equal(got[32:64], np.full(32, prod), err_msg="simd_product")
    np.testing.assert_array_equal(got[64:], wrap(np.cumsum(x), 32), err_msg="simd_prefix_inclusive_sum")


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)
