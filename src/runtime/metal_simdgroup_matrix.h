// MSL SIMD-group matrices (MSL.md §5.9): simdgroup_matrix<T, 8, 8> (float, half, bfloat),
// load/store, multiply, multiply-accumulate, make_filled_simdgroup_matrix, and
// thread_elements() with Apple's lane <-> element layout, observable by kernels that
// write fragments directly (MLX):
//
//   q = lane / 4;  row = (q & 4) + (lane / 2) % 4;  col = (q & 2) * 2 + (lane % 2) * 2
//   lane holds elements (row, col) and (row, col + 1): thread_elements()[0] and [1].
//
// Lanes 0-7 cover rows 0-3 x cols 0-3, lanes 8-15 rows 0-3 x cols 4-7, lanes 16-23 rows
// 4-7 x cols 0-3, lanes 24-31 rows 4-7 x cols 4-7: the 32 lanes hold the 64 elements
// exactly once. All 32 lanes of the SIMD group must take part in the functions that
// exchange data (multiply, multiply_accumulate, the diagonal constructor; on CUDA in the
// native layout below also load from threadgroup memory, and store, which may add a pending
// product).
//
// The products are generic on the CPU and for float matrices on CUDA: each lane gathers
// what its two outputs need (the 64 elements of A and B in one exchange each on the CPU;
// its row of A and two columns of B in 12 warp shuffles on CUDA), then computes them,
// accumulating in float in k order and rounding once to the type of d.
// On sm_80 and later, half x half and bfloat x bfloat products of a whole SIMD group run on
// the tensor cores (mma.sync m16n8k8 with float accumulation; rows 8-15 of A zero, or a copy
// of rows 0-7, and the matching rows of D never read):
// a few warp shuffles move Apple's layout into the instruction's fragments and back, so
// thread_elements() keeps Apple's layout. A program that never names thread_elements()
// cannot see the layout; the CUDA backend then defines METAL_SGM_NATIVE_LAYOUT and the
// matrices live in the fragments' own layout (no shuffles): a half or bfloat matrix also
// carries its transpose (the B fragment, loaded from memory or made by one movmatrix where
// it is computed) and a float one the unused rows 8-15 of the instruction's accumulator
// (sgm_extra), so a product is one mma.sync and nothing else; two products accumulated in
// turn into one float matrix are one m16n8k16 (METAL_SGM_KFUSE, at sgm_extra<float>). There, a
// load from threadgroup memory whose rows start on 16-byte boundaries is ldmatrix (its A
// fragment from .x1 beside a zero, or with METAL_SGM_LDMATRIX_A_X2 an .x2 pair that repeats
// the rows in the instruction's unused rows 8-15; its transpose from .x1.trans); other loads
// read two elements per lane for each fragment.
// Float matrices never use TF32.
#pragma once
#include "metal_simdgroup.h"

// Row pairing (see simdgroup_multiply_accumulate__pm_rows2 and simdgroup_load__pm_rows2).
#ifndef METAL_SGM_ROWPAIR
#define METAL_SGM_ROWPAIR 1
#endif
#ifndef METAL_SGM_ROWPAIR_PEND
#define METAL_SGM_ROWPAIR_PEND 0
#endif
#ifndef METAL_SGM_ROWPAIR_LOADS  // loads only (measuring): 0 keeps one ldmatrix .x1 per fragment
#define METAL_SGM_ROWPAIR_LOADS METAL_SGM_ROWPAIR
#endif

namespace metal {
namespace detail {
#if defined(METAL_TARGET_CUDA) && defined(METAL_SGM_NATIVE_LAYOUT)
// The program never reads thread_elements(): lane 4g + t holds (g, 2t) and (g, 2t + 1), the
// layout of the tensor cores' A, C and D fragments (PTX ISA, mma.m16n8k8) and of movmatrix.
METAL_FUNC constexpr unsigned sgm_row(unsigned lane) { return lane / 4u; }
METAL_FUNC constexpr unsigned sgm_col(unsigned lane) { return (lane % 4u) * 2u; }
METAL_FUNC constexpr unsigned sgm_lane_of(unsigned row, unsigned col) { return row * 4u + col / 2u; }
#else
METAL_FUNC constexpr unsigned sgm_row(unsigned lane) { return ((lane / 4u) & 4u) + (lane / 2u) % 4u; }
METAL_FUNC constexpr unsigned sgm_col(unsigned lane) { return ((lane / 4u) & 2u) * 2u + (lane % 2u) * 2u; }
// The lane that holds (row, col) and (row, col + 1) (col even): the inverse of sgm_row/sgm_col.
METAL_FUNC constexpr unsigned sgm_lane_of(unsigned row, unsigned col) {
  return (((row >> 2) & 1u) << 4) | (((col >> 2) & 1u) << 3) | (((row >> 1) & 1u) << 2) | ((row & 1u) << 1) |
         ((col >> 1) & 1u);
}
#endif
}  // namespace detail

#if defined(METAL_TARGET_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define METAL_RT_SGM_TENSOR_CORES 1
#endif
namespace detail {
// In the fragments' own layout, a half or bfloat matrix also keeps its transpose (the
// tensor cores' B fragment: lane 4g + t holds (2t, g) and (2t + 1, g)), made once where the
// matrix is written rather than at each product that reads it as B (a movmatrix there was
// repeated for every product: the compiler does not merge asm statements).
template <class T> struct sgm_extra {};
#if defined(METAL_RT_SGM_TENSOR_CORES) && defined(METAL_SGM_NATIVE_LAYOUT)
#define METAL_RT_SGM_KEEPS_TRANSPOSE 1
// __ahi: rows 8-15 of the instruction's A fragment when the matrix is a product's A. The
// upper half of D is never read back (only a float accumulator's sgm_extra carries it, into the
// next product's upper half), so they may hold anything: zero, or the matrix's own rows again
// where one ldmatrix .x2 loads both (they then sit in the register pair the instruction reads,
// with no copy into a pair next to a zero register per product).
template <> struct sgm_extra<half> {
  unsigned __bt;
  unsigned __ahi;
};
template <> struct sgm_extra<bfloat> {
  unsigned __bt;
  unsigned __ahi;
};
// A float matrix carries rows 8-15 of the instruction's C/D (never read back: what A's rows
// 8-15 add there is discarded with them): the accumulator stays in place in the four registers
// the instruction writes, instead of being copied in and out of them at every product.
// Never read for float x float products, so the compiler drops them there. (Passing zeros for
// them instead, bench/gemm.metal's gemm_half for sm_90 keeps its 200 registers and its K loop
// grows from 225 to 507 instructions: ptxas zeroes the upper half before every product.)
// With METAL_SGM_KFUSE (the default), a float matrix also carries one pending product: the A
// and B fragments of a half or bfloat product not yet added (__pend: 0 none, 1 half, 2 bfloat).
// Its value is __elems + A * B. Accumulating into it along k (acc = a0 * b0 + acc; acc = a1 * b1
// + acc, MLX's inner loop) then issues one mma.sync m16n8k16 for two products instead of two
// m16n8k8: the first is deferred, the second adds both (A's k 0-7 and 8-15 are the two products'
// A fragments, B's the two B fragments). Whatever reads the elements (store, thread_elements,
// a product that reads the matrix as A or B, or as C of a different kind) adds the pending
// product first (sgm_flush, in place: the fields are mutable so a const matrix can be
// resolved). A copy carries the pending product with it (it is part of the value). With the
// fragment loops unrolled the flag is a constant and the tests fold away.
#ifndef METAL_SGM_KFUSE
#define METAL_SGM_KFUSE 1
#endif
template <> struct sgm_extra<float> {
  float __hi[2];
#if METAL_SGM_KFUSE
  mutable unsigned __pend;
  mutable unsigned __pa, __pahi, __pb;
#endif
};
#endif
}  // namespace detail

template <class T, int Cols, int Rows> struct simdgroup_matrix;
namespace detail {
// See sgm_extra<float>: adds a float matrix's pending product to its elements (no-op otherwise).
template <class T> METAL_FUNC void sgm_flush(const simdgroup_matrix<T, 8, 8>& m);
template <class T> METAL_FUNC void sgm_no_pending(simdgroup_matrix<T, 8, 8>& m) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_KFUSE
  if constexpr (is_same<T, float>::value) m.__pend = 0u;
#else
  (void)m;
#endif
}
}  // namespace detail

template <class T, int Cols, int Rows> struct simdgroup_matrix : detail::sgm_extra<T> {
  static_assert(Cols == 8 && Rows == 8, "simdgroup_matrix supports 8x8 only");
  static_assert(is_same<T, float>::value || is_same<T, half>::value || is_same<T, bfloat>::value,
                "simdgroup_matrix elements are float, half or bfloat");
  typedef T value_type;
  typedef vec<T, 2> storage_type;  // what one thread holds (thread_elements())
  vec<T, 2> __elems;

  simdgroup_matrix() = default;
  // A diagonal matrix with d on the diagonal (every lane of the SIMD group must call it).
  METAL_FUNC explicit simdgroup_matrix(T d METAL_RT_SITE_PARAM) {
    unsigned lane;
#if defined(METAL_TARGET_CPU)
    detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
    detail::simd_active_mask_and_lane(&lane);
#endif
    unsigned r = detail::sgm_row(lane), c = detail::sgm_col(lane);
    __elems[0] = r == c ? d : T(0);
    __elems[1] = r == c + 1 ? d : T(0);
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
    if constexpr (is_same<T, half>::value || is_same<T, bfloat>::value) {
      unsigned w;
      METAL_RT_MEMCPY(&w, &__elems, 4);
      asm("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(this->__bt) : "r"(w));
      this->__ahi = 0u;
    } else if constexpr (is_same<T, float>::value) {
      this->__hi[0] = this->__hi[1] = 0.0f;
      detail::sgm_no_pending(*this);
    }
#endif
  }
  METAL_FUNC vec<T, 2>& thread_elements() {
    detail::sgm_flush(*this);
    return __elems;
  }
  METAL_FUNC const vec<T, 2>& thread_elements() const {
    detail::sgm_flush(*this);
    return __elems;
  }
};

namespace detail {
// Called wherever a matrix's elements are written (see sgm_extra).
template <class T> METAL_FUNC void sgm_written(simdgroup_matrix<T, 8, 8>& m) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
  if constexpr (is_same<T, half>::value || is_same<T, bfloat>::value) {
    unsigned w;
    METAL_RT_MEMCPY(&w, &m.__elems, 4);
    asm("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(m.__bt) : "r"(w));
    m.__ahi = 0u;
  }
  sgm_no_pending(m);
#else
  (void)m;
#endif
}
}  // namespace detail

typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;
typedef simdgroup_matrix<half, 8, 8> simdgroup_half8x8;
typedef simdgroup_matrix<bfloat, 8, 8> simdgroup_bfloat8x8;

namespace detail {
#if defined(METAL_RT_SGM_TENSOR_CORES)
// D = A * B + C on the tensor cores with float C and D (PTX ISA, mma.m16n8k8 and m16n8k16:
// lane 4g + t holds A(g, 2t..2t+1) and A(g + 8, 2t..2t+1) in a0, a1 (k16: a2, a3 the same at
// k + 8), B(2t..2t+1, g) in b0 (k16: b1 at k + 8) and C/D(g, 2t..2t+1), (g + 8, 2t..2t+1)).
template <class T>
METAL_FUNC void sgm_mma_k8(float (&d)[4], unsigned a0, unsigned a1, unsigned b0, const float (&c)[4]) {
  if constexpr (is_same<T, half>::value) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a0), "r"(a1), "r"(b0), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  } else {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a0), "r"(a1), "r"(b0), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  }
}
template <class T> METAL_FUNC void sgm_mma_k16(float (&d)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                               unsigned b0, unsigned b1, const float (&c)[4]) {
  if constexpr (is_same<T, half>::value) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  }
}
#endif

template <class T> METAL_FUNC void sgm_flush(const simdgroup_matrix<T, 8, 8>& m) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_KFUSE
  if constexpr (is_same<T, float>::value) {
    if (m.__pend != 0u) {
      float c[4] = {m.__elems[0], m.__elems[1], m.__hi[0], m.__hi[1]}, d[4];
      if (m.__pend == 1u)
        sgm_mma_k8<half>(d, m.__pa, m.__pahi, m.__pb, c);
      else
        sgm_mma_k8<bfloat>(d, m.__pa, m.__pahi, m.__pb, c);
      auto& w = const_cast<simdgroup_matrix<T, 8, 8>&>(m);  // the elements are the value's cache
      w.__elems[0] = d[0];
      w.__elems[1] = d[1];
      w.__hi[0] = d[2];
      w.__hi[1] = d[3];
      m.__pend = 0u;
    }
  }
#else
  (void)m;
#endif
}
}  // namespace detail

template <class T, int Cols, int Rows = Cols>
METAL_FUNC simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(const T value) {
  simdgroup_matrix<T, Cols, Rows> m;
  m.__elems = vec<T, 2>(value, value);
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
  if constexpr (is_same<T, float>::value) m.__hi[0] = m.__hi[1] = 0.0f;
#endif
  detail::sgm_written(m);
  return m;
}

namespace detail {
// The caller's lane without an exchange on CUDA; on the CPU only the exchange knows it.
template <class T> METAL_FUNC unsigned sgm_lane(METAL_RT_SITE_ONLY_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  simd_active_mask_and_lane(&lane, metal_site_);
#else
  lane = cuda_lane();
#endif
  return lane;
}
// All 64 elements of a matrix (row-major, as float); returns the caller's lane.
template <class T>
METAL_FUNC unsigned sgm_gather(const simdgroup_matrix<T, 8, 8>& m, float (&all)[64] METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  simd_gathered<vec<T, 2>> g;
  simd_gather(m.__elems, g, metal_site_);
  for (unsigned i = 0; i < 32; ++i) {
    vec<T, 2> v = ((g.mask >> i) & 1u) ? g.v[i] : vec<T, 2>(T(0));
    all[sgm_row(i) * 8 + sgm_col(i)] = float(v[0]);
    all[sgm_row(i) * 8 + sgm_col(i) + 1] = float(v[1]);
  }
  return g.lane;
#else
  unsigned mask = __activemask();
  for (unsigned i = 0; i < 32; ++i) {
    vec<T, 2> v = cuda_shfl(mask, m.__elems, int(i));
    all[sgm_row(i) * 8 + sgm_col(i)] = float(v[0]);
    all[sgm_row(i) * 8 + sgm_col(i) + 1] = float(v[1]);
  }
  return cuda_lane();
#endif
}
}  // namespace detail

#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
// Switches for measuring the variants side by side (bench/gpu_gemm_sweep.py --variants, which
// compiles against a copy of the runtime with them changed; METAL_SGM_KFUSE is the third):
// ldmatrix for loads from threadgroup memory at all, and the A fragment as an .x2 pair rather
// than .x1 beside a zero (.x1 the default: 151 against 145 TFLOP/s for bench/gemm.metal's
// 128 x 128 half GEMM on the H200, without METAL_SGM_KFUSE).
#ifndef METAL_SGM_LDMATRIX
#define METAL_SGM_LDMATRIX 1
#endif
#ifndef METAL_SGM_LDMATRIX_A_X2
#define METAL_SGM_LDMATRIX_A_X2 0
#endif
namespace detail {
// simdgroup_load of a half or bfloat matrix from threadgroup memory whose rows start on 16-byte
// boundaries: each of the two fragments the matrix carries is one ldmatrix (PTX ISA,
// ldmatrix.m8n8.x1.b16: lanes 0-7 give the shared-window addresses of rows 0-7; lane 4g + t
// receives elements (g, 2t) and (g, 2t + 1), or with .trans (2t, g) and (2t + 1, g)), instead of
// four 2-byte loads per lane. Returns false, loading nothing, where src is not in threadgroup
// memory or a row is not 16-byte aligned (origin, row stride): the caller's per-lane loads then.
// MSL has every lane of the SIMD group call simdgroup_load with the same arguments, so the test
// takes the same branch in all of them (ldmatrix.sync.aligned needs the whole warp).
template <class T> METAL_FUNC bool sgm_load_shared(simdgroup_matrix<T, 8, 8>& d, const T* src, ulong elements_per_row,
                                                   ulong2 matrix_origin, bool transpose_matrix, unsigned lane) {
  if (!__isShared(src)) return false;
  const unsigned base = unsigned(__cvta_generic_to_shared(src));
  const ulong offset = (matrix_origin.y * elements_per_row + matrix_origin.x) * sizeof(T);
  const ulong stride = elements_per_row * sizeof(T);
  // src, the origin's offset and the row stride each a multiple of 16 bytes (a little stricter
  // than needed): the compiler folds the last two where they are constants, and the test of
  // src is one for all the loads of a kernel that vary only the origin (as MLX's do).
  if (((base | unsigned(offset) | unsigned(stride)) & 15u) != 0) return false;
  const unsigned row = base + unsigned(offset) + unsigned(stride) * (lane & 7u);  // lanes 8-31 repeat 0-7
  unsigned w, w2 = 0u, wt, wt2 = 0u, b, bt;
  // volatile + memory: ordered with the stores and barriers around them; ptxas still drops
  // those whose results no product reads. The matrix's own fragment (a product's A) comes in a
  // register pair, .x2 of the same rows (lanes 8-15 give rows 0-7 again: see sgm_extra's __ahi);
  // its transpose (a product's B) from .x1.
#if METAL_SGM_LDMATRIX_A_X2
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];" : "=r"(w), "=r"(w2) : "r"(row) : "memory");
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
               : "=r"(wt), "=r"(wt2)
               : "r"(row)
               : "memory");
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(w) : "r"(row) : "memory");
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(wt) : "r"(row) : "memory");
#endif
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(b) : "r"(row) : "memory");
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(bt) : "r"(row) : "memory");
  // Not transposed: the A fragment is the rows, the transpose (B fragment) the columns.
  const unsigned e = transpose_matrix ? wt : w;
  d.__ahi = transpose_matrix ? wt2 : w2;
  d.__bt = transpose_matrix ? b : bt;
  METAL_RT_MEMCPY(&d.__elems, &e, 4);
  return true;
}
}  // namespace detail
#endif

// Loads the 8x8 block at matrix_origin (x = column, y = row, in elements of the source) of
// a row-major matrix with elements_per_row elements per row; transpose_matrix transposes
// the block as it is loaded. No exchange: each lane reads its own two elements.
template <class T, int C, int R, class U>
METAL_FUNC void simdgroup_load(simdgroup_matrix<T, C, R>& d, const U* src, ulong elements_per_row = C,
                               ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false METAL_RT_SITE_PARAM) {
  unsigned lane = detail::sgm_lane<T>(METAL_RT_SITE_ONLY);
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
  if constexpr (METAL_SGM_LDMATRIX && (is_same<T, half>::value || is_same<T, bfloat>::value) && is_same<U, T>::value) {
    if (detail::sgm_load_shared(d, src, elements_per_row, matrix_origin, transpose_matrix, lane)) return;
  }
#endif
  ulong r = detail::sgm_row(lane), c = detail::sgm_col(lane);
  for (ulong j = 0; j < 2; ++j) {
    ulong row = transpose_matrix ? c + j : r, col = transpose_matrix ? r : c + j;
    d.__elems[int(j)] = T(src[(matrix_origin.y + row) * elements_per_row + matrix_origin.x + col]);
  }
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
  // The transpose straight from memory (elements (2t, g) and (2t + 1, g)): plain loads, which
  // the compiler drops for matrices that are never a product's B.
  if constexpr (is_same<T, half>::value || is_same<T, bfloat>::value) {
    vec<T, 2> t;
    for (ulong j = 0; j < 2; ++j) {
      ulong row = transpose_matrix ? r : c + j, col = transpose_matrix ? c + j : r;
      t[int(j)] = T(src[(matrix_origin.y + row) * elements_per_row + matrix_origin.x + col]);
    }
    METAL_RT_MEMCPY(&d.__bt, &t, 4);
    d.__ahi = 0u;
  } else if constexpr (is_same<T, float>::value) {
    d.__hi[0] = d.__hi[1] = 0.0f;
    detail::sgm_no_pending(d);
  }
#else
  detail::sgm_written(d);
#endif
}

// Row pairing of loads (src/msl/simdgroup_pairing.h): a loop of simdgroup_load(a[i], src, ...) with
// an even constant bound loads rows i and i + 1 in one call, simdgroup_load__pm_rows2 (two
// consecutive loads of the loop: simdgroup_load__pm_rows2_k2, four matrices). Its value is the
// loads in order. On CUDA, in the fragments' own layout, half and bfloat matrices from
// threadgroup memory whose rows start on 16-byte boundaries are one ldmatrix .x2 (.x4) for their
// fragments and one .trans for their transposes (lanes 8q..8q+7 give the row addresses of matrix
// q), instead of one .x1 each: the tensor cores' m16n8k16 A fragment of two paired rows is one
// .x4 (a0[i], a0[i + 1], a1[i], a1[i + 1]), its B fragments for two columns one .x4.trans.
namespace detail {
template <class U> struct sgm_load_args_t {
  const U* src;
  ulong elements_per_row;
  ulong2 matrix_origin;
  bool transpose_matrix;
};
// simdgroup_load's arguments after the matrix, with its defaults.
template <class U> METAL_FUNC sgm_load_args_t<U> sgm_load_args(const U* src, ulong elements_per_row = 8,
                                                               ulong2 matrix_origin = ulong2(0),
                                                               bool transpose_matrix = false) {
  return {src, elements_per_row, matrix_origin, transpose_matrix};
}
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR_LOADS && METAL_SGM_LDMATRIX
template <class T> constexpr bool sgm_pair_loads() { return is_same<T, half>::value || is_same<T, bfloat>::value; }
// N = 2 or 4 matrices in one ldmatrix (and one .trans); false, loading nothing, where one is not
// in threadgroup memory or a row is not 16-byte aligned. MSL has every lane call the load with the
// same arguments, so the test takes the same branch in all of them.
template <int N, class T> METAL_FUNC bool sgm_load_shared_n(simdgroup_matrix<T, 8, 8>* const (&d)[N],
                                                            const sgm_load_args_t<T>* const (&l)[N], unsigned lane) {
  unsigned addr[N], bad = 0u;
  for (int q = 0; q < N; ++q) {
    if (!__isShared(l[q]->src)) return false;
    const unsigned base = unsigned(__cvta_generic_to_shared(l[q]->src));
    const ulong offset = (l[q]->matrix_origin.y * l[q]->elements_per_row + l[q]->matrix_origin.x) * sizeof(T);
    const ulong stride = l[q]->elements_per_row * sizeof(T);
    bad |= (base | unsigned(offset) | unsigned(stride)) & 15u;
    addr[q] = base + unsigned(offset) + unsigned(stride) * (lane & 7u);
  }
  if (bad != 0u) return false;
  // Lanes 8q..8q+7 give matrix q's rows (lanes 16-31 of .x2 repeat 0-15), chosen by arithmetic:
  // a select over addr[] became an indexed local-memory array.
  const unsigned lo = (lane >> 3) & 1u, hi = (lane >> 4) & 1u;
  unsigned row = addr[0] + lo * (addr[1] - addr[0]);
  if constexpr (N == 4) row += hi * (addr[2] - addr[0]) + lo * hi * (addr[3] - addr[2] - addr[1] + addr[0]);
  unsigned w[N], t[N];
  if constexpr (N == 2) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
                 : "=r"(w[0]), "=r"(w[1])
                 : "r"(row)
                 : "memory");
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
                 : "=r"(t[0]), "=r"(t[1])
                 : "r"(row)
                 : "memory");
  } else {
    static_assert(N == 4, "two or four matrices");
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(w[0]), "=r"(w[1]), "=r"(w[2]), "=r"(w[3])
                 : "r"(row)
                 : "memory");
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(t[0]), "=r"(t[1]), "=r"(t[2]), "=r"(t[3])
                 : "r"(row)
                 : "memory");
  }
  for (int q = 0; q < N; ++q) {  // as sgm_load_shared: the fragment and its transpose
    const unsigned e = l[q]->transpose_matrix ? t[q] : w[q];
    d[q]->__bt = l[q]->transpose_matrix ? w[q] : t[q];
    d[q]->__ahi = 0u;
    METAL_RT_MEMCPY(&d[q]->__elems, &e, 4);
  }
  return true;
}
#endif
}  // namespace detail

template <class M0, class M1, class U0, class U1>
METAL_FUNC void simdgroup_load__pm_rows2(M0& d0, M1& d1, const detail::sgm_load_args_t<U0>& l0,
                                         const detail::sgm_load_args_t<U1>& l1 METAL_RT_SITE_PARAM) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR_LOADS && METAL_SGM_LDMATRIX
  using T = typename M0::value_type;
  if constexpr (is_same<M0, simdgroup_matrix<T, 8, 8>>::value && is_same<M1, M0>::value && is_same<U0, T>::value &&
                is_same<U1, T>::value && detail::sgm_pair_loads<T>()) {
    simdgroup_matrix<T, 8, 8>* const d[2] = {&d0, &d1};
    const detail::sgm_load_args_t<T>* const l[2] = {&l0, &l1};
    if (detail::sgm_load_shared_n<2, T>(d, l, detail::cuda_lane())) return;
  }
#endif
  simdgroup_load(d0, l0.src, l0.elements_per_row, l0.matrix_origin, l0.transpose_matrix METAL_RT_SITE);
  simdgroup_load(d1, l1.src, l1.elements_per_row, l1.matrix_origin, l1.transpose_matrix METAL_RT_SITE);
}

// d0, d1: the first statement's rows i, i + 1; d2, d3: the second's (in the loop: d0, d2, d1, d3).
template <class M0, class M1, class M2, class M3, class U0, class U1, class U2, class U3>
METAL_FUNC void simdgroup_load__pm_rows2_k2(M0& d0, M1& d1, M2& d2, M3& d3, const detail::sgm_load_args_t<U0>& l0,
                                            const detail::sgm_load_args_t<U1>& l1,
                                            const detail::sgm_load_args_t<U2>& l2,
                                            const detail::sgm_load_args_t<U3>& l3 METAL_RT_SITE_PARAM) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR_LOADS && METAL_SGM_LDMATRIX
  using T = typename M0::value_type;
  if constexpr (is_same<M0, simdgroup_matrix<T, 8, 8>>::value && is_same<M1, M0>::value && is_same<M2, M0>::value &&
                is_same<M3, M0>::value && is_same<U0, T>::value && is_same<U1, T>::value && is_same<U2, T>::value &&
                is_same<U3, T>::value && detail::sgm_pair_loads<T>()) {
    simdgroup_matrix<T, 8, 8>* const d[4] = {&d0, &d1, &d2, &d3};
    const detail::sgm_load_args_t<T>* const l[4] = {&l0, &l1, &l2, &l3};
    if (detail::sgm_load_shared_n<4, T>(d, l, detail::cuda_lane())) return;
  }
#endif
  simdgroup_load(d0, l0.src, l0.elements_per_row, l0.matrix_origin, l0.transpose_matrix METAL_RT_SITE);
  simdgroup_load(d2, l2.src, l2.elements_per_row, l2.matrix_origin, l2.transpose_matrix METAL_RT_SITE);
  simdgroup_load(d1, l1.src, l1.elements_per_row, l1.matrix_origin, l1.transpose_matrix METAL_RT_SITE);
  simdgroup_load(d3, l3.src, l3.elements_per_row, l3.matrix_origin, l3.transpose_matrix METAL_RT_SITE);
}

// Stores the matrix at matrix_origin of a row-major destination (transposed if asked).
template <class T, int C, int R, class U>
METAL_FUNC void simdgroup_store(const simdgroup_matrix<T, C, R>& a, U* dst, ulong elements_per_row = C,
                                ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false METAL_RT_SITE_PARAM) {
  unsigned lane = detail::sgm_lane<T>(METAL_RT_SITE_ONLY);
  detail::sgm_flush(a);
  ulong r = detail::sgm_row(lane), c = detail::sgm_col(lane);
  for (ulong j = 0; j < 2; ++j) {
    ulong row = transpose_matrix ? c + j : r, col = transpose_matrix ? r : c + j;
    dst[(matrix_origin.y + row) * elements_per_row + matrix_origin.x + col] = U(a.__elems[int(j)]);
  }
}

#if defined(METAL_RT_SGM_TENSOR_CORES)
namespace detail {
template <class T> METAL_FUNC unsigned sgm_word(const vec<T, 2>& v) {
  unsigned w;
  METAL_RT_MEMCPY(&w, &v, 4);
  return w;
}
// d = a * b + c on the tensor cores (PTX ISA, mma.m16n8k8: lane 4g + t holds A(g, 2t..2t+1),
// B(2t..2t+1, g) and C/D(g, 2t..2t+1); rows 8-15 of A, C and D are unused here).
template <class TD, class T, class TC>
METAL_FUNC void sgm_mma(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<T, 8, 8>& a,
                        const simdgroup_matrix<T, 8, 8>& b, const simdgroup_matrix<TC, 8, 8>& c) {
  const unsigned full = 0xffffffffu;
  unsigned ahi = 0u, aw, bw;  // A's rows 8-15 (see sgm_extra's __ahi)
  float c0, c1, zf = 0.0f, d0, d1, d2, d3;
#if defined(METAL_SGM_NATIVE_LAYOUT)
  // Already the A, C and D fragments; B's (column pairs) is the transpose each matrix carries.
  aw = sgm_word(a.__elems);
  ahi = a.__ahi;
  bw = b.__bt;
  if constexpr (!(is_same<TD, float>::value && is_same<TC, float>::value)) sgm_flush(c);
  c0 = float(c.__elems[0]);
  c1 = float(c.__elems[1]);
#else
  unsigned lane = cuda_lane();
  unsigned g = lane >> 2, t = lane & 3u;
  vec<T, 2> av = cuda_shfl(full, a.__elems, int(sgm_lane_of(g, 2u * t)));
  vec<T, 2> b0 = cuda_shfl(full, b.__elems, int(sgm_lane_of(2u * t, g & ~1u)));
  vec<T, 2> b1 = cuda_shfl(full, b.__elems, int(sgm_lane_of(2u * t + 1u, g & ~1u)));
  vec<T, 2> bv(b0[int(g & 1u)], b1[int(g & 1u)]);
  vec<TC, 2> cv = cuda_shfl(full, c.__elems, int(sgm_lane_of(g, 2u * t)));
  c0 = float(cv[0]);
  c1 = float(cv[1]);
  aw = sgm_word(av);
  bw = sgm_word(bv);
#endif
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE)
  if constexpr (is_same<TD, float>::value && is_same<TC, float>::value) {
#if METAL_SGM_KFUSE
    constexpr unsigned kind = is_same<T, half>::value ? 1u : 2u;
    if (c.__pend == kind) {  // c's pending product and this one: one m16n8k16, k 0-7 the earlier
      float cc[4] = {c.__elems[0], c.__elems[1], c.__hi[0], c.__hi[1]}, dd[4];
      sgm_mma_k16<T>(dd, c.__pa, c.__pahi, aw, ahi, c.__pb, bw, cc);
      d.__elems[0] = dd[0];
      d.__elems[1] = dd[1];
      d.__hi[0] = dd[2];
      d.__hi[1] = dd[3];
      d.__pend = 0u;
      return;
    }
    // d = c with this product pending (d may be c), c's pending product of the other element
    // type (if any) added first.
    float cc[4] = {c.__elems[0], c.__elems[1], c.__hi[0], c.__hi[1]};
    if (c.__pend != 0u) {
      using Other = conditional_t<is_same<T, half>::value, bfloat, half>;
      sgm_mma_k8<Other>(cc, c.__pa, c.__pahi, c.__pb, cc);
    }
    d.__elems[0] = cc[0];
    d.__elems[1] = cc[1];
    d.__hi[0] = cc[2];
    d.__hi[1] = cc[3];
    d.__pend = kind;
    d.__pa = aw;
    d.__pahi = ahi;
    d.__pb = bw;
    return;
#else
    float cc[4] = {c0, c1, c.__hi[0], c.__hi[1]}, dd[4];
    sgm_mma_k8<T>(dd, aw, ahi, bw, cc);
    d.__elems[0] = dd[0];
    d.__elems[1] = dd[1];
    d.__hi[0] = dd[2];
    d.__hi[1] = dd[3];
    return;
#endif
  }
#endif
  if constexpr (is_same<T, half>::value) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
        : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
        : "r"(aw), "r"(ahi), "r"(bw), "f"(c0), "f"(c1), "f"(zf), "f"(zf));
  } else {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%8,%9,%10};"
        : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
        : "r"(aw), "r"(ahi), "r"(bw), "f"(c0), "f"(c1), "f"(zf), "f"(zf));
  }
  (void)d2, (void)d3, (void)full;
#if defined(METAL_SGM_NATIVE_LAYOUT)
  d.__elems[0] = TD(d0);
  d.__elems[1] = TD(d1);
  sgm_written(d);
#else
  int src = int(4u * sgm_row(lane) + sgm_col(lane) / 2u);
  d.__elems[0] = TD(__shfl_sync(full, d0, src));
  d.__elems[1] = TD(__shfl_sync(full, d1, src));
#endif
}
}  // namespace detail
#endif

// d = a * b + c (d may be any of a, b, c). Element types may differ (ggml mixes half and
// float); products and sums are in float, rounded once to d's type.
template <class TD, class TA, class TB, class TC>
METAL_FUNC void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                              const simdgroup_matrix<TB, 8, 8>& b,
                                              const simdgroup_matrix<TC, 8, 8>& c METAL_RT_SITE_PARAM) {
#if defined(METAL_RT_SGM_TENSOR_CORES)
  // MSL: every lane of the SIMD group calls the matrix operations, so the whole warp takes
  // part (no test of __activemask(): a fallback path doubled the code and its registers).
  if constexpr (is_same<TA, TB>::value && (is_same<TA, half>::value || is_same<TA, bfloat>::value)) {
    detail::sgm_mma(d, a, b, c);
    return;
  } else
#endif
  {
    detail::sgm_flush(a);
    detail::sgm_flush(b);
    detail::sgm_flush(c);
#if defined(METAL_TARGET_CUDA)
    // Each lane fetches only what its two outputs need: row r of A (4 shuffles of a pair) and
    // rows k of B at its columns (8 shuffles of a pair), then folds k = 0..7 in order.
    const unsigned mask = 0xffffffffu;  // every lane takes part (MSL's rule)
    unsigned lane = detail::cuda_lane();
    unsigned r = detail::sgm_row(lane), col = detail::sgm_col(lane);
    float acc0 = float(c.__elems[0]), acc1 = float(c.__elems[1]);
    for (unsigned k = 0; k < 8; k += 2) {
      vec<TA, 2> ak = detail::cuda_shfl(mask, a.__elems, int(detail::sgm_lane_of(r, k)));
      vec<TB, 2> b0 = detail::cuda_shfl(mask, b.__elems, int(detail::sgm_lane_of(k, col)));
      vec<TB, 2> b1 = detail::cuda_shfl(mask, b.__elems, int(detail::sgm_lane_of(k + 1u, col)));
      acc0 = METAL_RT_LIBM(fma)(float(ak[0]), float(b0[0]), acc0);
      acc1 = METAL_RT_LIBM(fma)(float(ak[0]), float(b0[1]), acc1);
      acc0 = METAL_RT_LIBM(fma)(float(ak[1]), float(b1[0]), acc0);
      acc1 = METAL_RT_LIBM(fma)(float(ak[1]), float(b1[1]), acc1);
    }
#else
    float A[64], B[64];
    detail::sgm_gather(a, A METAL_RT_SITE);
    unsigned lane = detail::sgm_gather(b, B METAL_RT_SITE);
    unsigned r = detail::sgm_row(lane), col = detail::sgm_col(lane);
    float acc0 = float(c.__elems[0]), acc1 = float(c.__elems[1]);
    for (unsigned k = 0; k < 8; ++k) {
      acc0 = METAL_RT_LIBM(fma)(A[r * 8 + k], B[k * 8 + col], acc0);
      acc1 = METAL_RT_LIBM(fma)(A[r * 8 + k], B[k * 8 + col + 1], acc1);
    }
#endif
    d.__elems[0] = TD(acc0);
    d.__elems[1] = TD(acc1);
    detail::sgm_written(d);
  }
}

// Row pairing (issue 13): the translator (src/msl/simdgroup_pairing.cpp) rewrites a fragment loop
//   for (int i = 0; i < TM; ++i) for (int j = 0; j < TN; ++j) simdgroup_multiply_accumulate(c[i][j], a[i], b[j], c[i][j]);
// with an even constant bound to step 2 and call simdgroup_multiply_accumulate__pm_rows2(c[i][j], c[i + 1][j], a[i], a[i + 1], b[j]):
// two products that share B, into two accumulators. Its value is the two calls in order (what the
// CPU and every other type do). On CUDA, for float accumulators of half or bfloat products in the
// fragments' own layout, both are one mma.sync: the instruction's A rows 0-7 are a0 and rows 8-15
// a1, its C/D rows 0-7 d0 and rows 8-15 d1 (PTX ISA, mma.m16n8k8: lane 4g + t holds A(g, 2t..2t+1)
// in a0 and A(g + 8, 2t..2t+1) in a1, C/D(g, 2t..2t+1) in d0, d1 and C/D(g + 8, 2t..2t+1) in d2,
// d3), so no row of the instruction is wasted, and nothing is left pending. Two consecutive
// statements into the same accumulators (MLX's 16-deep step) become simdgroup_multiply_accumulate__pm_rows2_k2: one
// m16n8k16 for the four products. A pair that finds both accumulators pending (METAL_SGM_KFUSE)
// with products of its kind adds the four products in one m16n8k16 where the two pending
// products share their B fragment on every lane (__all_sync: a uniform branch), each pending
// product alone otherwise; either way nothing is left pending, so the flags stay constants.
// METAL_SGM_ROWPAIR_PEND=1 (measuring): a pair leaves both products pending, so that the next
// pair (gemm's 8-deep steps) fuses into one m16n8k16; the compiler keeps that test (the vote
// does not fold), so it costs a branch per pair and registers (bench/gemm.metal's gemm_half on
// sm_90: 255 registers with spills, against 212 without pairing).
// METAL_SGM_ROWPAIR=0 makes the pairs the ordinary calls.
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR
namespace detail {
// d0 = a0 * b + d0, d1 = a1 * b + d1 in one m16n8k8 (float d0 != d1, pendings already added).
template <class T> METAL_FUNC void sgm_rows2_k8(simdgroup_matrix<float, 8, 8>& d0, simdgroup_matrix<float, 8, 8>& d1,
                                                unsigned a0, unsigned a1, unsigned b) {
  float cc[4] = {d0.__elems[0], d0.__elems[1], d1.__elems[0], d1.__elems[1]}, dd[4];
  sgm_mma_k8<T>(dd, a0, a1, b, cc);
  d0.__elems[0] = dd[0];
  d0.__elems[1] = dd[1];
  d1.__elems[0] = dd[2];
  d1.__elems[1] = dd[3];
}
// d0 += a00 * b0 + a10 * b1, d1 += a01 * b0 + a11 * b1 in one m16n8k16 (A's k 0-7 the first
// products, k 8-15 the second ones).
template <class T> METAL_FUNC void sgm_rows2_k16(simdgroup_matrix<float, 8, 8>& d0, simdgroup_matrix<float, 8, 8>& d1,
                                                 unsigned a00, unsigned a01, unsigned b0, unsigned a10, unsigned a11,
                                                 unsigned b1) {
  float cc[4] = {d0.__elems[0], d0.__elems[1], d1.__elems[0], d1.__elems[1]}, dd[4];
  sgm_mma_k16<T>(dd, a00, a01, a10, a11, b0, b1, cc);
  d0.__elems[0] = dd[0];
  d0.__elems[1] = dd[1];
  d1.__elems[0] = dd[2];
  d1.__elems[1] = dd[3];
}
template <class T> METAL_FUNC void sgm_mma_rows2(simdgroup_matrix<float, 8, 8>& d0, simdgroup_matrix<float, 8, 8>& d1,
                                                 const simdgroup_matrix<T, 8, 8>& a0,
                                                 const simdgroup_matrix<T, 8, 8>& a1,
                                                 const simdgroup_matrix<T, 8, 8>& b) {
  const unsigned aw0 = sgm_word(a0.__elems), aw1 = sgm_word(a1.__elems), bw = b.__bt;
#if METAL_SGM_KFUSE
  constexpr unsigned kind = is_same<T, half>::value ? 1u : 2u;
  if (d0.__pend == kind && d1.__pend == kind) {
    // Both pending with this kind: one m16n8k16 for the four products where the two pending
    // products share their B fragment on every lane (a uniform branch); otherwise each pending
    // product alone, then this pair. Either way nothing is left pending, so the flags stay
    // constants for the compiler.
    if (__all_sync(0xffffffffu, d0.__pb == d1.__pb)) {
      sgm_rows2_k16<T>(d0, d1, d0.__pa, d1.__pa, d0.__pb, aw0, aw1, bw);
    } else {
      sgm_flush(d0);
      sgm_flush(d1);
      sgm_rows2_k8<T>(d0, d1, aw0, aw1, bw);
    }
    d0.__pend = d1.__pend = 0u;
    return;
  }
  sgm_flush(d0);
  sgm_flush(d1);
#if METAL_SGM_ROWPAIR_PEND
  d0.__pend = d1.__pend = kind;
  d0.__pa = aw0;
  d0.__pahi = a0.__ahi;
  d0.__pb = bw;
  d1.__pa = aw1;
  d1.__pahi = a1.__ahi;
  d1.__pb = bw;
  return;
#endif
#endif
  sgm_rows2_k8<T>(d0, d1, aw0, aw1, bw);
}
template <class D, class A> constexpr bool sgm_rows2_tensor() {
  return is_same<D, simdgroup_matrix<float, 8, 8>>::value &&
         (is_same<A, simdgroup_matrix<half, 8, 8>>::value || is_same<A, simdgroup_matrix<bfloat, 8, 8>>::value);
}
}  // namespace detail
#endif

template <class D0, class D1, class A0, class A1, class B>
METAL_FUNC void simdgroup_multiply_accumulate__pm_rows2(D0& d0, D1& d1, const A0& a0, const A1& a1,
                                                        const B& b METAL_RT_SITE_PARAM) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR
  if constexpr (detail::sgm_rows2_tensor<D0, A0>() && is_same<D1, D0>::value && is_same<A1, A0>::value &&
                is_same<B, A0>::value) {
    if (&d0 != &d1) {  // the same accumulator twice (c[i / 2]): the two calls in order
      detail::sgm_mma_rows2(d0, d1, a0, a1, b);
      return;
    }
  }
#endif
  simdgroup_multiply_accumulate(d0, a0, b, d0 METAL_RT_SITE);
  simdgroup_multiply_accumulate(d1, a1, b, d1 METAL_RT_SITE);
}

// Two consecutive statements of a paired loop into the same accumulators (MLX's 16-deep step):
// d0 = a00 * b0 + d0; d0 = a10 * b1 + d0; d1 = a01 * b0 + d1; d1 = a11 * b1 + d1 (in this order on
// the CPU and for other types). On CUDA's tensor cores one m16n8k16 (with METAL_SGM_KFUSE; two
// paired m16n8k8 without), and no product left pending.
template <class D0, class D1, class A0, class A1, class B0, class A2, class A3, class B1>
METAL_FUNC void simdgroup_multiply_accumulate__pm_rows2_k2(D0& d0, D1& d1, const A0& a00, const A1& a01, const B0& b0,
                                                           const A2& a10, const A3& a11,
                                                           const B1& b1 METAL_RT_SITE_PARAM) {
#if defined(METAL_RT_SGM_KEEPS_TRANSPOSE) && METAL_SGM_ROWPAIR
  if constexpr (detail::sgm_rows2_tensor<D0, A0>() && is_same<D1, D0>::value && is_same<A1, A0>::value &&
                is_same<B0, A0>::value && is_same<A2, A0>::value && is_same<A3, A0>::value && is_same<B1, A0>::value) {
    if (&d0 != &d1) {
#if METAL_SGM_KFUSE
      using T = typename A0::value_type;
      detail::sgm_flush(d0);
      detail::sgm_flush(d1);
      detail::sgm_rows2_k16<T>(d0, d1, detail::sgm_word(a00.__elems), detail::sgm_word(a01.__elems), b0.__bt,
                               detail::sgm_word(a10.__elems), detail::sgm_word(a11.__elems), b1.__bt);
#else
      detail::sgm_mma_rows2(d0, d1, a00, a01, b0);
      detail::sgm_mma_rows2(d0, d1, a10, a11, b1);
#endif
      return;
    }
  }
#endif
  simdgroup_multiply_accumulate(d0, a00, b0, d0 METAL_RT_SITE);
  simdgroup_multiply_accumulate(d0, a10, b1, d0 METAL_RT_SITE);
  simdgroup_multiply_accumulate(d1, a01, b0, d1 METAL_RT_SITE);
  simdgroup_multiply_accumulate(d1, a11, b1, d1 METAL_RT_SITE);
}

// d = a * b.
template <class TD, class TA, class TB>
METAL_FUNC void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                   const simdgroup_matrix<TB, 8, 8>& b METAL_RT_SITE_PARAM) {
  simdgroup_matrix<TD, 8, 8> zero = make_filled_simdgroup_matrix<TD, 8, 8>(TD(0));
  simdgroup_multiply_accumulate(d, a, b, zero METAL_RT_SITE);
}
}  // namespace metal
