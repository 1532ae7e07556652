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
// exchange data (multiply, multiply_accumulate, the diagonal constructor).
//
// The products are generic on both targets (correctness first): each lane gathers the
// 64 elements of A and B (one exchange each on the CPU, 32 warp shuffles each on CUDA),
// then computes its two outputs, accumulating in float and rounding once to the type of d.
#pragma once
#include "metal_simdgroup.h"

namespace metal {
namespace detail {
METAL_FUNC constexpr unsigned sgm_row(unsigned lane) { return ((lane / 4u) & 4u) + (lane / 2u) % 4u; }
METAL_FUNC constexpr unsigned sgm_col(unsigned lane) { return ((lane / 4u) & 2u) * 2u + (lane % 2u) * 2u; }
}  // namespace detail

template <class T, int Cols, int Rows> struct simdgroup_matrix {
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
  }
  METAL_FUNC vec<T, 2>& thread_elements() { return __elems; }
  METAL_FUNC const vec<T, 2>& thread_elements() const { return __elems; }
};

typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;
typedef simdgroup_matrix<half, 8, 8> simdgroup_half8x8;
typedef simdgroup_matrix<bfloat, 8, 8> simdgroup_bfloat8x8;

template <class T, int Cols, int Rows = Cols>
METAL_FUNC simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(const T value) {
  simdgroup_matrix<T, Cols, Rows> m;
  m.__elems = vec<T, 2>(value, value);
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

// Loads the 8x8 block at matrix_origin (x = column, y = row, in elements of the source) of
// a row-major matrix with elements_per_row elements per row; transpose_matrix transposes
// the block as it is loaded. No exchange: each lane reads its own two elements.
template <class T, int C, int R, class U>
METAL_FUNC void simdgroup_load(simdgroup_matrix<T, C, R>& d, const U* src, ulong elements_per_row = C,
                               ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false
                                   METAL_RT_SITE_PARAM) {
  unsigned lane = detail::sgm_lane<T>(METAL_RT_SITE_ONLY);
  ulong r = detail::sgm_row(lane), c = detail::sgm_col(lane);
  for (ulong j = 0; j < 2; ++j) {
    ulong row = transpose_matrix ? c + j : r, col = transpose_matrix ? r : c + j;
    d.__elems[int(j)] = T(src[(matrix_origin.y + row) * elements_per_row + matrix_origin.x + col]);
  }
}

// Stores the matrix at matrix_origin of a row-major destination (transposed if asked).
template <class T, int C, int R, class U>
METAL_FUNC void simdgroup_store(const simdgroup_matrix<T, C, R>& a, U* dst, ulong elements_per_row = C,
                                ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false
                                    METAL_RT_SITE_PARAM) {
  unsigned lane = detail::sgm_lane<T>(METAL_RT_SITE_ONLY);
  ulong r = detail::sgm_row(lane), c = detail::sgm_col(lane);
  for (ulong j = 0; j < 2; ++j) {
    ulong row = transpose_matrix ? c + j : r, col = transpose_matrix ? r : c + j;
    dst[(matrix_origin.y + row) * elements_per_row + matrix_origin.x + col] = U(a.__elems[int(j)]);
  }
}

// d = a * b + c (d may be any of a, b, c). Element types may differ (ggml mixes half and
// float); products and sums are in float, rounded once to d's type.
template <class TD, class TA, class TB, class TC>
METAL_FUNC void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                              const simdgroup_matrix<TB, 8, 8>& b,
                                              const simdgroup_matrix<TC, 8, 8>& c METAL_RT_SITE_PARAM) {
  float A[64], B[64];
  detail::sgm_gather(a, A METAL_RT_SITE);
  unsigned lane = detail::sgm_gather(b, B METAL_RT_SITE);
  unsigned r = detail::sgm_row(lane), col = detail::sgm_col(lane);
  float acc0 = float(c.__elems[0]), acc1 = float(c.__elems[1]);
  for (unsigned k = 0; k < 8; ++k) {
    acc0 = METAL_RT_LIBM(fma)(A[r * 8 + k], B[k * 8 + col], acc0);
    acc1 = METAL_RT_LIBM(fma)(A[r * 8 + k], B[k * 8 + col + 1], acc1);
  }
  d.__elems[0] = TD(acc0);
  d.__elems[1] = TD(acc1);
}

// d = a * b.
template <class TD, class TA, class TB>
METAL_FUNC void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                                   const simdgroup_matrix<TB, 8, 8>& b METAL_RT_SITE_PARAM) {
  simdgroup_matrix<TD, 8, 8> zero = make_filled_simdgroup_matrix<TD, 8, 8>(TD(0));
  simdgroup_multiply_accumulate(d, a, b, zero METAL_RT_SITE);
}
}  // namespace metal
