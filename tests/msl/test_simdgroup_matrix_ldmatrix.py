"""simdgroup_load of half and bfloat matrices from threadgroup memory. On CUDA (sm_80+, a program
that never names thread_elements()) a load whose rows start on 16-byte boundaries is two
ldmatrix instructions (the matrix's own fragment, and its transpose for a product's B); any
other load takes the per-lane path. Here the loads sit at every kind of alignment: aligned and
unaligned origins, row strides of 80 and 72 bytes, offset base pointers, transposed, in a
kernel-scope threadgroup array and in threadgroup memory given at dispatch, with offsets and
strides known only at run time. Each loaded matrix is stored back and used as both operands
of products with float and with its own type's accumulation, against NumPy (small integers:
every result is exact, so the comparison is exact). The same kernels run on the CPU.

Without a GPU, the CUDA translation unit is compiled to PTX with NVRTC: the aligned loads of
bench/gemm.metal's half GEMM are ldmatrix with the alignment test folded away, the unaligned
loads here keep the per-lane path, and a program that reads thread_elements() has no ldmatrix.
"""

import os

import numpy as np
import pytest

import pymetallic as pm
from simd_ref import bf16_to_f32, f32_to_bf16

ROWS, COLS = 24, 40  # the tile: 24 rows of 40 elements (80 bytes), plus slack after it
TILE = ROWS * COLS + 64

SRC = r"""
#include <metal_stdlib>
using namespace metal;

// Loads M from t as described by case k; the run-time values come from p.
template <typename T>
void load_case(thread simdgroup_matrix<T, 8, 8>& M, threadgroup const T* t, int k, device const uint* p) {
  switch (k) {
  case 0: simdgroup_load(M, t, 40); break;                                  // aligned base, 80-byte rows
  case 1: simdgroup_load(M, t, 40, ulong2(8, 8)); break;                    // aligned origin
  case 2: simdgroup_load(M, t, 40, ulong2(3, 1)); break;                    // origin 6 bytes into a row
  case 3: simdgroup_load(M, t, 36); break;                                  // 72-byte rows
  case 4: simdgroup_load(M, t + 8, 40, ulong2(0, 0), true); break;          // aligned, transposed
  case 5: simdgroup_load(M, t + 5, 40, ulong2(2, 3), true); break;          // unaligned, transposed
  case 6: simdgroup_load(M, t + p[0], p[2], ulong2(p[1], 2)); break;        // run time: aligned
  case 7: simdgroup_load(M, t + p[3], p[2], ulong2(p[1], 1), true); break;  // run time: unaligned
  case 8: simdgroup_load(M, t, p[4], ulong2(8, 0)); break;                  // run time: 72-byte rows
  default: simdgroup_load(M, t + 16, 40, ulong2(16, 8), true); break;       // aligned, transposed
  }
}

// For each case: the loaded matrix M, M Y and Y M with float accumulation (M as A, then as B),
// and M Y + M with T accumulation.
template <typename T>
void run_cases(threadgroup T* t, device const T* src, device const T* y, device const uint* p,
               device float* out, device T* tout, uint lane) {
  for (uint i = lane; i < 24 * 40 + 64; i += 32) t[i] = src[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_matrix<T, 8, 8> Y;
  simdgroup_load(Y, y, 8);
  for (int k = 0; k < 10; ++k) {
    simdgroup_matrix<T, 8, 8> M, H;
    load_case(M, t, k, p);
    simdgroup_float8x8 P, Q;
    simdgroup_multiply(P, M, Y);
    simdgroup_multiply(Q, Y, M);
    simdgroup_multiply_accumulate(H, M, Y, M);
    simdgroup_store(M, tout + k * 128, 8);
    simdgroup_store(H, tout + k * 128 + 64, 8);
    simdgroup_store(P, out + k * 128, 8);
    simdgroup_store(Q, out + k * 128 + 64, 8);
  }
}

kernel void static_half(device const half* src [[buffer(0)]], device const half* y [[buffer(1)]],
                        device const uint* p [[buffer(2)]], device float* out [[buffer(3)]],
                        device half* tout [[buffer(4)]], uint lane [[thread_index_in_simdgroup]]) {
  threadgroup half t[24 * 40 + 64];
  run_cases(t, src, y, p, out, tout, lane);
}
kernel void static_bfloat(device const bfloat* src [[buffer(0)]], device const bfloat* y [[buffer(1)]],
                          device const uint* p [[buffer(2)]], device float* out [[buffer(3)]],
                          device bfloat* tout [[buffer(4)]], uint lane [[thread_index_in_simdgroup]]) {
  threadgroup bfloat t[24 * 40 + 64];
  run_cases(t, src, y, p, out, tout, lane);
}
kernel void dynamic_half(device const half* src [[buffer(0)]], device const half* y [[buffer(1)]],
                         device const uint* p [[buffer(2)]], device float* out [[buffer(3)]],
                         device half* tout [[buffer(4)]], threadgroup half* t [[threadgroup(0)]],
                         uint lane [[thread_index_in_simdgroup]]) {
  run_cases(t + p[5], src, y, p, out, tout, lane);  // p[5] = 8 elements in: still 16-byte aligned
}
kernel void dynamic_bfloat(device const bfloat* src [[buffer(0)]], device const bfloat* y [[buffer(1)]],
                           device const uint* p [[buffer(2)]], device float* out [[buffer(3)]],
                           device bfloat* tout [[buffer(4)]], threadgroup bfloat* t [[threadgroup(0)]],
                           uint lane [[thread_index_in_simdgroup]]) {
  run_cases(t + p[5], src, y, p, out, tout, lane);
}
"""

# p: [aligned base offset, origin x, stride, unaligned base offset, 72-byte stride, dynamic shift]
PARAMS = np.array([16, 8, 40, 3, 36, 8, 0, 0], np.uint32)


def block(tile, base, stride, x, y, transpose):
    """The 8x8 block simdgroup_load reads (NumPy reference)."""
    idx = base + (y + np.arange(8))[:, None] * stride + x + np.arange(8)[None, :]
    m = tile[idx]
    return m.T if transpose else m


def reference_blocks(tile, p):
    return [
        block(tile, 0, 40, 0, 0, False),
        block(tile, 0, 40, 8, 8, False),
        block(tile, 0, 40, 3, 1, False),
        block(tile, 0, 36, 0, 0, False),
        block(tile, 8, 40, 0, 0, True),
        block(tile, 5, 40, 2, 3, True),
        block(tile, int(p[0]), int(p[2]), int(p[1]), 2, False),
        block(tile, int(p[3]), int(p[2]), int(p[1]), 1, True),
        block(tile, 0, int(p[4]), 8, 0, False),
        block(tile, 16, 40, 16, 8, True),
    ]


@pytest.mark.parametrize("where", ["static", "dynamic"])
@pytest.mark.parametrize("tname", ["half", "bfloat"])
def test_threadgroup_loads_at_every_alignment(device, runner, tname, where):
    rng = np.random.default_rng({"half": 31, "bfloat": 32}[tname] + (where == "dynamic"))
    tile = rng.integers(-4, 5, TILE).astype(np.float64)
    yv = rng.integers(-3, 4, (8, 8)).astype(np.float64)
    if tname == "half":
        enc, dec, dt = (lambda v: v.astype(np.float16)), (lambda v: v.astype(np.float64)), np.float16
    else:
        enc, dec, dt = (
            (lambda v: f32_to_bf16(v.astype(np.float32))),
            (lambda v: bf16_to_f32(v).astype(np.float64)),
            np.uint16,
        )
    args = [enc(tile), enc(yv.ravel()), PARAMS, np.zeros(10 * 128, np.float32), np.zeros(10 * 128, dt)]
    tg_memory = [((TILE + 8) * 2, 0)] if where == "dynamic" else ()
    out, tout = runner.run(device, SRC, f"{where}_{tname}", args, (32,), (32,), tg_memory=tg_memory)[3:5]
    out = out.astype(np.float64).reshape(10, 2, 8, 8)
    tout = dec(tout).reshape(10, 2, 8, 8)
    for k, m in enumerate(reference_blocks(tile, PARAMS)):
        np.testing.assert_array_equal(tout[k, 0], m, err_msg=f"case {k}: the loaded matrix")
        np.testing.assert_array_equal(out[k, 0], m @ yv, err_msg=f"case {k}: M Y (M as A)")
        np.testing.assert_array_equal(out[k, 1], yv @ m, err_msg=f"case {k}: Y M (M as B)")
        np.testing.assert_array_equal(tout[k, 1], m @ yv + m, err_msg=f"case {k}: M Y + M in {tname}")


# --- the CUDA translation, without a GPU -------------------------------------------------

GEMM = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "gemm.metal")


def cuda_ptx(source, extra=()):
    """PTX of source's CUDA translation unit for sm_90 (NVRTC, as the backend compiles it);
    extra: more NVRTC options (e.g. -D switches of the runtime)."""
    import nvrtc_direct

    lib = nvrtc_direct.library()
    generated = pm._core.compile_offline(source, None, "cuda", "sm_90", True)["generated"]
    options = ["--std=c++17", "-default-device", f"--include-path={pm._core.runtime_dir()}", "-w"]
    flags = options + ["-DMETAL_FAST_MATH=1", "--fmad=true", "--gpu-architecture=compute_90", *extra]
    return nvrtc_direct.compile(lib, generated, flags)


def gemm_only(kernel):
    """bench/gemm.metal's template with only one of its instantiations (compiles faster)."""
    text = open(GEMM).read()
    head, tail = text.split("#define GEMM_ARGS", 1)
    lines = tail.splitlines()
    keep = [line for line in lines if "host_name" not in line or f'"{kernel}"' in line]
    return head + "#define GEMM_ARGS" + "\n".join(keep) + "\n"


@pytest.mark.parametrize("a_x2", [False, True])
def test_gemm_loads_are_ldmatrix_on_cuda(a_x2):
    # One load at a time (row pairing off; test_simdgroup_matrix_rowpair.py loads pairs with .x2).
    text = cuda_ptx(
        gemm_only("gemm_half"), ["-DMETAL_SGM_ROWPAIR=0"] + (["-DMETAL_SGM_LDMATRIX_A_X2=1"] if a_x2 else [])
    )
    # 4 A and 8 B fragments per 8-deep step, 4 steps per 32-deep slice: all ldmatrix, the A
    # fragments as .x1 (or with METAL_SGM_LDMATRIX_A_X2 as .x2 pairs), the B ones transposed; no
    # per-lane 2-byte loads and no alignment test left in the code (the tile's rows are 16-byte
    # aligned and the compiler sees it).
    if a_x2:
        assert text.count("ldmatrix.sync.aligned.m8n8.x2.shared.b16") >= 16
    else:
        assert text.count("ldmatrix.sync.aligned.m8n8.x1.shared.b16") >= 16
        assert "ldmatrix.sync.aligned.m8n8.x2" not in text
    assert text.count("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16") >= 32
    assert "ld.shared.u16" not in text and "ld.shared.b16" not in text
    assert "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in text


def test_unaligned_loads_keep_the_lane_path_on_cuda():
    text = cuda_ptx(SRC)
    assert "ldmatrix.sync.aligned.m8n8" in text
    assert "ld.shared.u16" in text or "ld.shared.b16" in text


def test_thread_elements_programs_have_no_ldmatrix_on_cuda():
    src = SRC.replace(
        "simdgroup_store(M, tout + k * 128, 8);",
        "simdgroup_store(M, tout + k * 128, 8); tout[lane] = M.thread_elements()[0];",
    )
    text = cuda_ptx(src)
    assert "ldmatrix" not in text and "mma.sync" in text
