"""Row pairing of SIMD-group matrix products (MSL.md §5.9; src/msl/simdgroup_pairing.h): the
translator rewrites MLX-style fragment loops

    for (int i = 0; i < TM; ++i) for (int j = 0; j < TN; ++j) simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);

with an even constant bound to step 2 and call ::metal::simdgroup_multiply_accumulate__pm_rows2 for rows i and i + 1 (two
consecutive statements into the same accumulators: simdgroup_multiply_accumulate__pm_rows2_k2). On CUDA's tensor cores a
pair is one mma.sync with both rows of the instruction used; elsewhere it is the calls as written.
Loops of simdgroup_load pair the same way (on CUDA one ldmatrix .x2, or .x4 for two statements).

Here: which loops the rewrite takes (and which it leaves: odd, run-time or unknown bounds, a loop
variable written, mismatched arguments, accumulators that might be the same for rows i and i + 1);
kernels of every form it takes, with small-integer inputs (exact in float), equal to NumPy's
float64 product and to the same kernels unpaired (written with run-time bounds); products left
pending by single calls before a pair (both with the same B and with different B: the CUDA pair
either fuses them or adds them first); a program that names thread_elements(). Without a GPU, the
CUDA translation of bench/gemm.metal's GEMMs is compiled to PTX with NVRTC: half as many mma.sync
in the K loop as with METAL_SGM_ROWPAIR=0, fragment loads as ldmatrix .x2/.x4, and fewer registers
(ptxas, when installed). Paired loads from threadgroup memory, aligned and not, equal NumPy's.
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import pymetallic as pm
from simd_ref import f32_to_bf16

PAIR = "simdgroup_multiply_accumulate__pm_rows2"


def generated(src):
    return pm._core.compile_offline(src, None, "cuda", "sm_90", True)["generated"]


HEAD = """
#include <metal_stdlib>
using namespace metal;
"""


def kernel_with(loop, decls="", params=""):
    return (
        HEAD
        + f"""
kernel void k(device const half* A [[buffer(0)]], device float* out [[buffer(1)]]{params}) {{
  simdgroup_half8x8 a[4], b[4];
  simdgroup_float8x8 c[4][4], f[16];
  {decls}
  for (int q = 0; q < 4; ++q) {{ simdgroup_load(a[q], A + q * 64); simdgroup_load(b[q], A + 256 + q * 64); }}
  {loop}
  simdgroup_store(c[0][0], out);
  simdgroup_store(f[0], out + 64);
}}
"""
    )


MMA = "simdgroup_multiply_accumulate"
FIRES = {
    "literal": f"for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "unroll pragmas, braces": '_Pragma("clang loop unroll(full)") for (int i = 0; i < 2; i++) {\n'
    f"#pragma unroll\n for (uint j = 0; j < 4; j += 1) {{ {MMA}(c[i][j], a[i], b[j], c[i][j]); }} }}",
    "swapped loops": f"for (int j = 0; j < 4; ++j) for (int i = 0; i < 4; ++i) metal::{MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "flat index": f"for (int i = 0; i < 4; ++i) for (int j = 0; j < TN; ++j) {MMA}(f[i * TN + j], a[i], b[j], f[i * TN + j]);",
    "constexpr bound": f"for (int i = 0; i < TM; ++i) for (int j = 0; j < 3; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "one loop": f"for (int i = 0; i < 4; ++i) {MMA}(c[i][0], a[i], b[0], c[i][0]);",
    "pair on the inner index": f"for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) {MMA}(c[i][j], a[j], b[i], c[i][j]);",
}
LEAVES = {
    "odd literal": f"for (int i = 0; i < 3; ++i) for (int j = 0; j < 3; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "odd constexpr": f"for (int i = 0; i < TM3; ++i) for (int j = 0; j < 3; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "run-time bound": f"for (int i = 0; i < n; ++i) for (int j = 0; j < 3; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "loop variable written": f"for (int i = 0; i < 4; ++i) {{ {MMA}(c[i][0], a[i], b[0], c[i][0]); i += 0; }}",
    "loop variable stepped in an argument": f"for (int i = 0; i < 4; ++i) {MMA}(c[i][0], a[i++], b[0], c[i][0]);",
    "first and fourth differ": f"for (int i = 0; i < 4; ++i) {MMA}(c[i][0], a[i], b[0], c[i][1]);",
    "B names the row": f"for (int i = 0; i < 4; ++i) {MMA}(c[i][0], a[i], b[i], c[i][0]);",
    "rows may share an accumulator": f"for (int i = 0; i < 4; ++i) {MMA}(c[i / 2][0], a[i], b[0], c[i / 2][0]);",
    "flat index with another bound": f"for (int i = 0; i < 4; ++i) for (int j = 0; j < 2; ++j) {MMA}(f[i * 4 + j], a[i], b[j], f[i * 4 + j]);",
    "triangular": f"for (int i = 0; i < 4; ++i) for (int j = 0; j < i; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);",
    "start not zero": f"for (int i = 2; i < 4; ++i) {MMA}(c[i][0], a[i], b[0], c[i][0]);",
    "other statements": f"for (int i = 0; i < 4; ++i) {{ {MMA}(c[i][0], a[i], b[0], c[i][0]); simdgroup_barrier(mem_flags::mem_none); }}",
}
DECLS = "constexpr int TM = 2 * 2, TN = 4, TM3 = 3;"


@pytest.mark.parametrize("name", sorted(FIRES))
def test_rewrite_fires(name):
    text = generated(kernel_with(FIRES[name], DECLS))
    assert text.count(PAIR) == 1, text[-3000:]


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_rewrite_leaves(name):
    text = generated(kernel_with(LEAVES[name], DECLS, ", constant int& n [[buffer(2)]]"))
    assert PAIR not in text


def test_template_bound_is_guarded():
    src = (
        HEAD
        + f"""
template <int TM, int TN>
kernel void k(device const half* A [[buffer(0)]], device float* out [[buffer(1)]]) {{
  constexpr int FM = TM / 2;
  simdgroup_half8x8 a[TM], b[TN];
  simdgroup_float8x8 c[TM][TN];
  for (int i = 0; i < FM; ++i) for (int j = 0; j < TN; ++j) {MMA}(c[i][j], a[i], b[j], c[i][j]);
  simdgroup_store(c[0][0], out);
}}
template [[host_name("k4")]] kernel void k<4, 2>(device const half*, device float*);
"""
    )
    text = generated(src)
    # The compiler folds the test; an odd bound keeps the statements as written.
    assert re.search(r"i \+= \( \( \( FM \) % 2 == 0 \) \? 2 : 1 \)", text)
    assert re.search(
        r"if \( \( \( FM \) % 2 == 0 \) \) \{ :: metal :: simdgroup_multiply_accumulate__pm_rows2 \(", text
    )
    assert f"}} else {{ {MMA}(c[i][j], a[i], b[j], c[i][j]); }}" in text


# --- results ---------------------------------------------------------------------------

SRC = r"""
#include <metal_stdlib>
using namespace metal;
#define UNROLL _Pragma("clang loop unroll(full)")

// C (TM*8 x TN*8, float) = sum over S steps of A_s (TM*8 x 8) * B_s (8 x TN*8), every form of
// fragment loop the rewrite takes (forms 0-2); forms 3 and 4: the same loops with run-time bounds (n = TM, TN),
// which the rewrite leaves alone.
template <typename T, int TM, int TN, int S>
void products(device const T* A, device const T* B, device float* C, uint form, uint n_m, uint n_n) {
  simdgroup_float8x8 c[TM][TN], f[TM * TN];
  UNROLL for (int i = 0; i < TM; ++i)
    UNROLL for (int j = 0; j < TN; ++j) c[i][j] = f[i * TN + j] = make_filled_simdgroup_matrix<float, 8>(float(i - j));
  for (int s = 0; s < S; s += 2) {
    simdgroup_matrix<T, 8, 8> a[TM], b[TN], a1[TM], b1[TN];
    UNROLL for (int i = 0; i < TM; ++i) {
      simdgroup_load(a[i], A + (s * TM + i) * 64);
      simdgroup_load(a1[i], A + ((s + 1) * TM + i) * 64);
    }
    UNROLL for (int j = 0; j < TN; ++j) {
      simdgroup_load(b[j], B + (s * TN + j) * 64);
      simdgroup_load(b1[j], B + ((s + 1) * TN + j) * 64);
    }
    if (form == 0) {  // literal / template bounds, one product per trip, two steps
      UNROLL for (int i = 0; i < TM; ++i)
        UNROLL for (int j = 0; j < TN; ++j) simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) simdgroup_multiply_accumulate(c[i][j], a1[i], b1[j], c[i][j]);
    } else if (form == 1) {  // swapped loops, two statements (k2), flat accumulators
      UNROLL for (int j = 0; j < TN; ++j)
        UNROLL for (int i = 0; i < TM; ++i) {
          simdgroup_multiply_accumulate(f[i * TN + j], a[i], b[j], f[i * TN + j]);
          simdgroup_multiply_accumulate(f[i * TN + j], a1[i], b1[j], f[i * TN + j]);
        }
    } else if (form == 2) {  // three statements: a k2 pair and a single pair
      UNROLL for (int i = 0; i < TM; ++i) {
        UNROLL for (int j = 0; j < TN; ++j) {
          simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
          simdgroup_multiply_accumulate(c[i][j], a1[i], b1[j], c[i][j]);
          simdgroup_multiply_accumulate(c[i][j], a[i], b1[j], c[i][j]);
        }
      }
    } else {  // not paired: run-time bounds
      for (uint i = 0; i < n_m; ++i)
        for (uint j = 0; j < n_n; ++j) {
          simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
          simdgroup_multiply_accumulate(c[i][j], a1[i], b1[j], c[i][j]);
          if (form == 4) simdgroup_multiply_accumulate(c[i][j], a[i], b1[j], c[i][j]);
        }
    }
  }
  UNROLL for (int i = 0; i < TM; ++i)
    UNROLL for (int j = 0; j < TN; ++j) {
      simdgroup_store(form == 1 ? f[i * TN + j] : c[i][j], C + i * 8 * TN * 8 + j * 8, TN * 8);
    }
}

template <typename T>
kernel void tiles(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]], device float* C [[buffer(2)]],
                  constant uint& form [[buffer(3)]], constant uint2& n [[buffer(4)]]) {
  products<T, 4, 2, 4>(A, B, C, form, n.x, n.y);
}
template [[host_name("tiles_half")]] kernel void tiles<half>(device const half*, device const half*, device float*,
                                                               constant uint&, constant uint2&);
template [[host_name("tiles_bfloat")]] kernel void tiles<bfloat>(device const bfloat*, device const bfloat*,
                                                                   device float*, constant uint&, constant uint2&);
template [[host_name("tiles_float")]] kernel void tiles<float>(device const float*, device const float*,
                                                                 device float*, constant uint&, constant uint2&);
// An odd template bound: the paired loops' tests fold to the statements as written.
kernel void tiles_odd(device const half* A [[buffer(0)]], device const half* B [[buffer(1)]], device float* C [[buffer(2)]],
                      constant uint& form [[buffer(3)]], constant uint2& n [[buffer(4)]]) {
  products<half, 3, 2, 4>(A, B, C, form, n.x, n.y);
}

// Products left pending by single calls before a pair (on CUDA with METAL_SGM_KFUSE): out 0-1 with
// different B (added one by one first), out 2-3 with the same B (the four products as one), out 4-5
// a pair after a single product into one of its accumulators only.
kernel void pending(device const half* x [[buffer(0)]], device float* out [[buffer(1)]]) {
  simdgroup_half8x8 m[6];
  UNROLL for (int k = 0; k < 6; ++k) simdgroup_load(m[k], x + k * 64);
  simdgroup_float8x8 c[2], d[2], e[2];
  UNROLL for (int k = 0; k < 2; ++k) {
    c[k] = make_filled_simdgroup_matrix<float, 8>(1.0f);
    d[k] = make_filled_simdgroup_matrix<float, 8>(2.0f);
    e[k] = make_filled_simdgroup_matrix<float, 8>(3.0f);
  }
  simdgroup_multiply_accumulate(c[0], m[0], m[1], c[0]);
  simdgroup_multiply_accumulate(c[1], m[2], m[3], c[1]);
  for (int i = 0; i < 2; ++i) simdgroup_multiply_accumulate(c[i], m[4 + i], m[0], c[i]);
  simdgroup_multiply_accumulate(d[0], m[0], m[5], d[0]);
  simdgroup_multiply_accumulate(d[1], m[1], m[5], d[1]);
  for (int i = 0; i < 2; ++i) simdgroup_multiply_accumulate(d[i], m[2 + i], m[4], d[i]);
  simdgroup_multiply_accumulate(e[1], m[3], m[2], e[1]);
  for (int i = 0; i < 2; ++i) simdgroup_multiply_accumulate(e[i], m[i], m[5], e[i]);
  simdgroup_store(c[0], out);
  simdgroup_store(c[1], out + 64);
  simdgroup_store(d[0], out + 128);
  simdgroup_store(d[1], out + 192);
  simdgroup_store(e[0], out + 256);
  simdgroup_store(e[1], out + 320);
}
"""

TN, S = 2, 4


def encode(tname, v):
    if tname == "half":
        return v.astype(np.float16)
    if tname == "bfloat":
        return f32_to_bf16(v.astype(np.float32))
    return v.astype(np.float32)


def test_pairs_fire_in_the_conformance_kernels():
    text = generated(SRC)
    # form 0: both nests; form 1: one k2; form 2: one k2 and one single pair; pending: three.
    assert len(re.findall(r"simdgroup_multiply_accumulate__pm_rows2\s*\(", text)) == 2 + 1 + 3
    assert len(re.findall(r"simdgroup_multiply_accumulate__pm_rows2_k2\s*\(", text)) == 2


@pytest.mark.parametrize(
    "kernel, tname, TM",
    [("tiles_half", "half", 4), ("tiles_bfloat", "bfloat", 4), ("tiles_float", "float", 4), ("tiles_odd", "half", 3)],
)
def test_paired_products_equal_numpy_and_unpaired(device, runner, kernel, tname, TM):
    rng = np.random.default_rng({"tiles_half": 51, "tiles_bfloat": 52, "tiles_float": 53, "tiles_odd": 57}[kernel])
    a = rng.integers(-3, 4, (S, TM, 8, 8)).astype(np.float64)
    b = rng.integers(-3, 4, (S, TN, 8, 8)).astype(np.float64)
    want = np.zeros((TM * 8, TN * 8))
    want3 = np.zeros((TM * 8, TN * 8))
    for i in range(TM):
        for j in range(TN):
            block = (i - j) + sum(a[s, i] @ b[s, j] for s in range(S))
            want[i * 8 : i * 8 + 8, j * 8 : j * 8 + 8] = block
            # forms 2 and 4 also add a[s] * b[s + 1] for even s
            extra = sum(a[s, i] @ b[s + 1, j] for s in range(0, S, 2))
            want3[i * 8 : i * 8 + 8, j * 8 : j * 8 + 8] = block + extra
    got = {}
    for form in range(5):
        args = [encode(tname, a.ravel()), encode(tname, b.ravel()), np.zeros(TM * 8 * TN * 8, np.float32)]
        args += [np.array([form], np.uint32), np.array([TM, TN], np.uint32)]
        out = runner.run(device, SRC, kernel, args, (32,), (32,))[2]
        got[form] = out.astype(np.float64).reshape(TM * 8, TN * 8)
    for form in (0, 1, 3):
        np.testing.assert_array_equal(got[form], want, err_msg=f"form {form}")
    for form in (2, 4):
        np.testing.assert_array_equal(got[form], want3, err_msg=f"form {form}")


def test_pairs_after_pending_products(device, runner):
    rng = np.random.default_rng(54)
    m = rng.integers(-3, 4, (6, 8, 8)).astype(np.float64)
    out = runner.run(device, SRC, "pending", [m.astype(np.float16).ravel(), np.zeros(6 * 64, np.float32)], (32,), (32,))
    out = out[1].astype(np.float64).reshape(6, 8, 8)
    want = [
        1 + m[0] @ m[1] + m[4] @ m[0],
        1 + m[2] @ m[3] + m[5] @ m[0],
        2 + m[0] @ m[5] + m[2] @ m[4],
        2 + m[1] @ m[5] + m[3] @ m[4],
        3 + m[0] @ m[5],
        3 + m[3] @ m[2] + m[1] @ m[5],
    ]
    for i, w in enumerate(want):
        np.testing.assert_array_equal(out[i], w, err_msg=f"output {i}")


SRC_ELEMENTS = r"""
#include <metal_stdlib>
using namespace metal;
// Names thread_elements(): Apple's layout on CUDA too, where a pair is the two calls.
kernel void rows(device const half* x [[buffer(0)]], device float* out [[buffer(1)]]) {
  simdgroup_half8x8 a[2], b;
  simdgroup_float8x8 c[2];
  simdgroup_load(a[0], x);
  simdgroup_load(a[1], x + 64);
  simdgroup_load(b, x + 128);
  for (int i = 0; i < 2; ++i) {
    c[i] = make_filled_simdgroup_matrix<float, 8>(0.0f);
    c[i].thread_elements()[0] += float(i);
  }
  for (int i = 0; i < 2; ++i) simdgroup_multiply_accumulate(c[i], a[i], b, c[i]);
  simdgroup_store(c[0], out);
  simdgroup_store(c[1], out + 64);
}
"""


def test_pairs_with_thread_elements(device, runner):
    assert generated(SRC_ELEMENTS).count(PAIR) == 1
    rng = np.random.default_rng(55)
    m = rng.integers(-3, 4, (3, 8, 8)).astype(np.float64)
    out = runner.run(
        device, SRC_ELEMENTS, "rows", [m.astype(np.float16).ravel(), np.zeros(128, np.float32)], (32,), (32,)
    )
    out = out[1].astype(np.float64).reshape(2, 8, 8)
    ones = np.zeros((8, 8))
    ones[:, 0::2] = 1.0  # thread_elements()[0] of every lane: the even columns
    np.testing.assert_array_equal(out[0], m[0] @ m[2])
    np.testing.assert_array_equal(out[1], ones + m[1] @ m[2])


# --- the CUDA translation, without a GPU -------------------------------------------------


def entry_ptx(kernel, *defines):
    import nvrtc_direct
    from test_simdgroup_matrix_ldmatrix import cuda_ptx, gemm_only

    ptx = cuda_ptx(gemm_only(kernel), list(defines))
    return ptx, nvrtc_direct.functions(ptx)["metallic_entry_0"]


def registers(ptx):
    ptxas = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
    if not os.path.exists(ptxas):
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.ptx")
        with open(path, "w") as f:
            f.write(ptx)
        info = subprocess.run(
            [ptxas, "-arch=sm_90", "-v", path, "-o", os.path.join(tmp, "k.cubin")], capture_output=True, text=True
        )
    used = re.findall(r"Used (\d+) registers", info.stderr)
    return max(int(u) for u in used) if used else None


def test_gemm_pipe_pairs_rows_on_cuda():
    paired_ptx, paired = entry_ptx("gemm_pipe_half")
    plain_ptx, plain = entry_ptx("gemm_pipe_half", "-DMETAL_SGM_ROWPAIR=0")
    k16 = "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
    # 4 x 8 fragments per SIMD group, 64-deep slices walked 16 deep: 256 products per slice, 128
    # m16n8k16 unpaired (two along k each), 64 paired (two along k, two rows).
    assert plain.count(k16) == 128 and paired.count(k16) == 64 and "m16n8k8" not in paired
    assert "vote" not in paired and paired.count("bra") == plain.count("bra")
    # Fragment loads four at a time (rows i, i + 1 of both 8-deep steps): per 16-deep step 2 of A
    # and 4 of B, each an .x4 and an .x4.trans (ptxas keeps the one the products read); no .x1 and
    # no per-lane fallback left (the alignment test folds).
    assert paired.count("ldmatrix.sync.aligned.m8n8.x4.shared.b16") == 24
    assert paired.count("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16") == 24
    assert ".x1." not in paired and "ld.shared.u16" not in paired and "ld.shared.b16" not in paired
    r_paired, r_plain = registers(paired_ptx), registers(plain_ptx)
    if r_paired is not None:
        assert r_paired < r_plain, (r_paired, r_plain)  # 166 against 230 with CUDA 13.0


def test_gemm_pairs_rows_on_cuda():
    paired_ptx, paired = entry_ptx("gemm_half")
    plain_ptx, plain = entry_ptx("gemm_half", "-DMETAL_SGM_ROWPAIR=0")
    # 8-deep steps: 128 products per 32-deep slice; unpaired 64 m16n8k16 (k fusion), paired 64
    # m16n8k8 with both halves of each instruction used, nothing pending, no test left.
    assert plain.count("m16n8k16") == 64 and "m16n8k8" not in plain
    assert paired.count("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32") == 64 and "m16n8k16" not in paired
    assert "vote" not in paired and paired.count("@%p") == plain.count("@%p")
    # Loads two at a time (rows i, i + 1): .x2 (A) and .x2.trans (B), 6 pairs per 8-deep step.
    assert paired.count("ldmatrix.sync.aligned.m8n8.x2.shared.b16") == 24
    assert paired.count("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16") == 24 and ".x1." not in paired
    r_paired, r_plain = registers(paired_ptx), registers(plain_ptx)
    if r_paired is not None:
        assert r_paired < r_plain, (r_paired, r_plain)  # 128 against 212 with CUDA 13.0


def test_conformance_kernels_compile_for_cuda():
    """The CUDA translation of the kernels above, to PTX: pairs of half products on the tensor
    cores (the pending kernel's two pairs that find both accumulators pending test their B
    fragments with a vote)."""
    import nvrtc_direct
    from test_simdgroup_matrix_ldmatrix import cuda_ptx

    ptx = cuda_ptx(SRC)
    entries = nvrtc_direct.functions(ptx).values()  # every kernel's entries
    assert any(e.count("vote.sync.all") == 2 and "m16n8k16" in e for e in entries)  # pending


SRC_CLASS = r"""
#include <metal_stdlib>
using namespace metal;
// A fragment loop in a member function: bounds from the class's template parameters and members.
template <typename T, int TM>
struct Tile {
  static constant constexpr int TN = 2;
  simdgroup_float8x8 c[TM][TN];
  void clear() {
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) c[i][j] = make_filled_simdgroup_matrix<float, 8>(float(i + j));
  }
  void mma(thread const simdgroup_matrix<T, 8, 8>* a, thread const simdgroup_matrix<T, 8, 8>* b) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < TM; ++i)
      _Pragma("clang loop unroll(full)") for (int j = 0; j < TN; ++j)
        simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
  }
};
kernel void member(device const half* x [[buffer(0)]], device float* out [[buffer(1)]]) {
  Tile<half, 4> t;
  t.clear();
  simdgroup_half8x8 a[4], b[2];
  for (int k = 0; k < 4; ++k) simdgroup_load(a[k], x + k * 64);
  for (int k = 0; k < 2; ++k) simdgroup_load(b[k], x + 256 + k * 64);
  t.mma(a, b);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) simdgroup_store(t.c[i][j], out + (i * 2 + j) * 64);
}
"""


def test_pairs_in_member_functions(device, runner):
    assert generated(SRC_CLASS).count(PAIR) == 1
    rng = np.random.default_rng(56)
    m = rng.integers(-3, 4, (6, 8, 8)).astype(np.float64)
    out = runner.run(
        device, SRC_CLASS, "member", [m.astype(np.float16).ravel(), np.zeros(8 * 64, np.float32)], (32,), (32,)
    )
    out = out[1].astype(np.float64).reshape(4, 2, 8, 8)
    for i in range(4):
        for j in range(2):
            np.testing.assert_array_equal(out[i, j], (i + j) + m[i] @ m[4 + j], err_msg=f"c[{i}][{j}]")


SRC_LOADS = r"""
#include <metal_stdlib>
using namespace metal;
// Paired loads from threadgroup memory: 16-byte aligned rows (on CUDA one ldmatrix .x4 for a[i],
// a[i + 1], b[i], b[i + 1], b transposed), and rows that are not (t + 1; a 40-byte stride): the
// loads one by one.
kernel void tg_loads(device const half* x [[buffer(0)]], device float* out [[buffer(1)]],
                     uint lane [[thread_index_in_simdgroup]]) {
  threadgroup half t[32 * 40];
  for (uint k = lane; k < 32 * 40; k += 32) t[k] = x[k];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_half8x8 a[4], b[4], c[2], d[2];
  for (int i = 0; i < 4; ++i) {
    simdgroup_load(a[i], t, 40, ulong2(8, i * 8));
    simdgroup_load(b[i], t, 40, ulong2(16, i * 8), true);
  }
  for (int i = 0; i < 2; ++i) simdgroup_load(c[i], t + 1, 40, ulong2(0, i * 8));
  for (int i = 0; i < 2; ++i) simdgroup_load(d[i], t, 20, ulong2(0, i * 8));
  for (int i = 0; i < 4; ++i) simdgroup_store(a[i], out + i * 64);
  for (int i = 0; i < 4; ++i) simdgroup_store(b[i], out + 256 + i * 64);
  for (int i = 0; i < 2; ++i) simdgroup_store(c[i], out + 512 + i * 64);
  for (int i = 0; i < 2; ++i) simdgroup_store(d[i], out + 640 + i * 64);
}
"""


def test_paired_loads(device, runner):
    text = generated(SRC_LOADS)
    assert len(re.findall(r"simdgroup_load__pm_rows2_k2\s*\(", text)) == 1
    assert len(re.findall(r"simdgroup_load__pm_rows2\s*\(", text)) == 2
    rng = np.random.default_rng(58)
    x = rng.integers(-100, 101, 32 * 40).astype(np.float64)
    out = runner.run(device, SRC_LOADS, "tg_loads", [x.astype(np.float16), np.zeros(12 * 64, np.float32)], (32,), (32,))
    out = out[1].astype(np.float64).reshape(12, 8, 8)
    t = x.reshape(32, 40)
    for i in range(4):
        np.testing.assert_array_equal(out[i], t[i * 8 : i * 8 + 8, 8:16], err_msg=f"a[{i}]")
        np.testing.assert_array_equal(out[4 + i], t[i * 8 : i * 8 + 8, 16:24].T, err_msg=f"b[{i}]")
    for i in range(2):
        c = np.array([[x[1 + (i * 8 + r) * 40 + k] for k in range(8)] for r in range(8)])
        d = np.array([[x[(i * 8 + r) * 20 + k] for k in range(8)] for r in range(8)])
        np.testing.assert_array_equal(out[8 + i], c, err_msg=f"c[{i}]")
        np.testing.assert_array_equal(out[10 + i], d, err_msg=f"d[{i}]")


@pytest.mark.parametrize(
    "loop",
    [
        "for (int i = 0; i < 4; ++i) simdgroup_load(a[i], A + i * 64, 8, ulong2(0), b_t);",  # fires (the transpose flag a name)
        "for (int i = 0; i < 3; ++i) simdgroup_load(a[i], A + i * 64);",  # odd
        "for (int i = 0; i < 4; ++i) simdgroup_load(a[i / 2], A + i * 64);",  # rows may share a matrix
        "for (int i = 0; i < 4; ++i) simdgroup_load(a[i], A + a_off(i));",  # a call
        "for (int i = 0; i < 4; ++i) { simdgroup_load(a[i], A); simdgroup_multiply_accumulate(f[i], a[i], b[0], f[i]); }",
    ],
)
def test_load_rewrite_cases(loop):
    def loads(body):
        src = kernel_with(body, "const bool b_t = false;")
        src = src.replace("kernel void", "int a_off(int i) { return i * 64; }\nkernel void")
        return generated(src).count("simdgroup_load__pm_rows2")

    # kernel_with's own loads are one pair of loads
    assert loads(loop) == loads("") + ("b_t);" in loop)
