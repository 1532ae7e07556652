// A tiled GEMM written the way ML libraries write Metal kernels: threadgroup tiles of A and B,
// SIMD-group 8x8 matrix fragments (simdgroup_load / simdgroup_multiply_accumulate /
// simdgroup_store), float accumulators. C (M x N, float) = A (M x K) * B (K x N), row-major.
// 128 threads = 4 SIMD groups in a 2 x 2 arrangement, each computing a 32 x 32 block of the
// threadgroup's 64 x 64 tile. M, N multiples of 64 and K a multiple of BK; rows of A and B
// start 4-element aligned (K, N multiples of 4).
#include <metal_stdlib>
using namespace metal;

// As MLX's GEMMs do: fragment loops are unrolled, so the accumulators stay in registers.
#define UNROLL _Pragma("clang loop unroll(full)")

struct GemmShape { uint M, N, K; };

template <typename T, int BM, int BN, int BK>
kernel void gemm(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]], device float* C [[buffer(2)]],
                 constant GemmShape& shape [[buffer(3)]],
                 uint2 tgid [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                 uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup T As[BM * BK];
  threadgroup T Bs[BK * BN];
  const uint row0 = tgid.y * BM, col0 = tgid.x * BN;
  const uint sg_row = (sg / 2) * 32, sg_col = (sg % 2) * 32;
  simdgroup_matrix<float, 8, 8> acc[4][4];
  UNROLL for (int i = 0; i < 4; ++i)
    UNROLL for (int j = 0; j < 4; ++j) acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  for (uint k0 = 0; k0 < shape.K; k0 += BK) {
    // Four consecutive elements per thread and step (BK and BN are multiples of 4).
    for (uint e = tid * 4; e < BM * BK; e += 128 * 4) {
      vec<T, 4> v = *(device const vec<T, 4>*)(A + (row0 + e / BK) * shape.K + k0 + e % BK);
      *(threadgroup vec<T, 4>*)(As + e) = v;
    }
    for (uint e = tid * 4; e < BK * BN; e += 128 * 4) {
      vec<T, 4> v = *(device const vec<T, 4>*)(B + (k0 + e / BN) * shape.N + col0 + e % BN);
      *(threadgroup vec<T, 4>*)(Bs + e) = v;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    UNROLL for (int kk = 0; kk < BK; kk += 8) {
      simdgroup_matrix<T, 8, 8> a[4], b[4];
      UNROLL for (int i = 0; i < 4; ++i) simdgroup_load(a[i], As + (sg_row + i * 8) * BK + kk, BK);
      UNROLL for (int j = 0; j < 4; ++j) simdgroup_load(b[j], Bs + kk * BN + sg_col + j * 8, BN);
      UNROLL for (int i = 0; i < 4; ++i)
        UNROLL for (int j = 0; j < 4; ++j) simdgroup_multiply_accumulate(acc[i][j], a[i], b[j], acc[i][j]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  UNROLL for (int i = 0; i < 4; ++i)
    UNROLL for (int j = 0; j < 4; ++j)
      simdgroup_store(acc[i][j], C + (row0 + sg_row + i * 8) * shape.N + col0 + sg_col + j * 8, shape.N);
}

template [[host_name("gemm_half")]] kernel void gemm<half, 64, 64, 32>(
    device const half*, device const half*, device float*, constant GemmShape&, uint2, uint, uint);
template [[host_name("gemm_bfloat")]] kernel void gemm<bfloat, 64, 64, 32>(
    device const bfloat*, device const bfloat*, device float*, constant GemmShape&, uint2, uint, uint);
template [[host_name("gemm_float")]] kernel void gemm<float, 64, 64, 16>(
    device const float*, device const float*, device float*, constant GemmShape&, uint2, uint, uint);
