// A tiled GEMM written the way ML libraries write Metal kernels: threadgroup tiles of A and B,
// SIMD-group 8x8 matrix fragments (simdgroup_load / simdgroup_multiply_accumulate /
// simdgroup_store), float accumulators. C (M x N, float) = A (M x K) * B (K x N), row-major.
//
// gemm_<type>: a BM x BN tile per threadgroup of SGM x SGN SIMD groups, each computing a
// (BM / SGM) x (BN / SGN) block as 8x8 fragments held in registers. The K loop walks BK-deep
// slices; the next slice is read from device memory into registers while the SIMD groups
// multiply the current one (two threadgroup buffers, one barrier per slice). Threadgroup rows
// are padded by 8 elements so that the lanes of a fragment load hit different banks.
// Fragments are loaded at an origin from one tile pointer per slice, as MLX does (on CUDA the
// 16-byte alignment test of a threadgroup load's rows, for ldmatrix, is then one per slice,
// which the compiler folds away). Device reads are 16 bytes per thread (M, N multiples of BM, BN; K a multiple of BK; rows of
// A and B 16-byte aligned).
// gemm_small_<type>: the first version (64 x 64 tiles, 4 SIMD groups, single buffered),
// kept to measure what the tiling is worth.
// gemm_pipe_<type>: gemm pipelined by hand (one or two buffers, 64- or 32-deep slices, reads
// through advancing pointers, a threadgroup swizzle); see its comment. bench/gpu_gemm_sweep.py
// times both templates in one run (configs with a pB[sS] field are gemm_pipe).
#include <metal_stdlib>
using namespace metal;

// As MLX's GEMMs do: fragment loops are unrolled, so the accumulators stay in registers.
#define UNROLL _Pragma("clang loop unroll(full)")

struct GemmShape { uint M, N, K; };

template <typename T, int BM, int BN, int BK, int SGM, int SGN>
kernel void gemm(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]], device float* C [[buffer(2)]],
                 constant GemmShape& shape [[buffer(3)]],
                 uint2 tgid [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                 uint sg [[simdgroup_index_in_threadgroup]]) {
  constexpr int NT = SGM * SGN * 32;            // threads per threadgroup
  constexpr int FM = BM / SGM / 8, FN = BN / SGN / 8;  // fragments per SIMD group
  constexpr int AP = BK + 8, BP = BN + 8;       // padded threadgroup rows
  constexpr int VE = 16 / sizeof(T);            // elements per 16-byte read
  constexpr int AV = BM * BK / VE / NT, BV = BK * BN / VE / NT;  // reads per thread and slice
  threadgroup T As[2 * BM * AP];
  threadgroup T Bs[2 * BK * BP];
  const uint K = shape.K, N = shape.N;
  const uint row0 = tgid.y * BM, col0 = tgid.x * BN;
  const uint sg_row = (sg / SGN) * (BM / SGM), sg_col = (sg % SGN) * (BN / SGN);
  uint4 ra[AV], rb[BV];
  simdgroup_matrix<float, 8, 8> acc[FM][FN];
  UNROLL for (int i = 0; i < FM; ++i)
    UNROLL for (int j = 0; j < FN; ++j) acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);

  // Slice k0 of A (BM x BK) and B (BK x BN) from device memory into registers.
#define READ_SLICE(k0)                                                                        \
  UNROLL for (int v = 0; v < AV; ++v) {                                                       \
    const uint c = tid + v * NT, r = c / (BK / VE), e = (c % (BK / VE)) * VE;                 \
    ra[v] = *(device const uint4*)(A + (row0 + r) * K + (k0) + e);                            \
  }                                                                                           \
  UNROLL for (int v = 0; v < BV; ++v) {                                                       \
    const uint c = tid + v * NT, r = c / (BN / VE), e = (c % (BN / VE)) * VE;                 \
    rb[v] = *(device const uint4*)(B + ((k0) + r) * N + col0 + e);                            \
  }
  // ... and from registers into threadgroup buffer `buf`.
#define WRITE_SLICE(buf)                                                                      \
  UNROLL for (int v = 0; v < AV; ++v) {                                                       \
    const uint c = tid + v * NT, r = c / (BK / VE), e = (c % (BK / VE)) * VE;                 \
    *(threadgroup uint4*)(As + (buf) * BM * AP + r * AP + e) = ra[v];                         \
  }                                                                                           \
  UNROLL for (int v = 0; v < BV; ++v) {                                                       \
    const uint c = tid + v * NT, r = c / (BN / VE), e = (c % (BN / VE)) * VE;                 \
    *(threadgroup uint4*)(Bs + (buf) * BK * BP + r * BP + e) = rb[v];                         \
  }

  READ_SLICE(0)
  WRITE_SLICE(0)
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint buf = 0;
  for (uint k0 = 0; k0 < K; k0 += BK) {
    const bool more = k0 + BK < K;
    if (more) { READ_SLICE(k0 + BK) }
    threadgroup const T* as = As + buf * BM * AP + sg_row * AP;
    threadgroup const T* bs = Bs + buf * BK * BP + sg_col;
    UNROLL for (int kk = 0; kk < BK; kk += 8) {
      simdgroup_matrix<T, 8, 8> a[FM], b[FN];
      UNROLL for (int i = 0; i < FM; ++i) simdgroup_load(a[i], as, AP, ulong2(kk, i * 8));
      UNROLL for (int j = 0; j < FN; ++j) simdgroup_load(b[j], bs, BP, ulong2(j * 8, kk));
      UNROLL for (int i = 0; i < FM; ++i)
        UNROLL for (int j = 0; j < FN; ++j) simdgroup_multiply_accumulate(acc[i][j], a[i], b[j], acc[i][j]);
    }
    if (more) { WRITE_SLICE(buf ^ 1) }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    buf ^= 1;
  }
  device float* c = C + (row0 + sg_row) * N + col0 + sg_col;
  UNROLL for (int i = 0; i < FM; ++i)
    UNROLL for (int j = 0; j < FN; ++j) simdgroup_store(acc[i][j], c + i * 8 * N + j * 8, N);
}

// gemm_pipe<..., NBUF, SWZ>: the same tiles, written the way a hand-pipelined Metal GEMM is.
//  - NBUF threadgroup buffers: 2 as in gemm (one barrier per slice), or 1 (a barrier before and
//    after the slice is written), which leaves room for 64-deep slices of 64 x 128 tiles within
//    Metal's 32 KB of threadgroup memory (26 KB): half as many slices, each with twice the
//    products between barriers. Either way the next slice's device reads (16 bytes per thread)
//    are issued before the SIMD groups multiply the current one, and land in threadgroup memory
//    after it.
//  - The slice is walked 16 deep: the fragments of both 8-deep steps are loaded first, then each
//    accumulator takes its two products in turn (on CUDA the translator pairs rows i and i + 1:
//    one m16n8k16 for the four products of two accumulators, one ldmatrix .x4 for the four
//    fragments a0[i], a0[i + 1], a1[i], a1[i + 1] and for b0[j], b0[j + 1], b1[j], b1[j + 1]).
//  - SWZ > 0: threadgroups are renumbered in column-major groups of 2^SWZ tile rows (MLX's
//    "swizzle"), so the threadgroups resident at once share panels of A and B in the cache.
template <typename T, int BM, int BN, int BK, int SGM, int SGN, int NBUF, int SWZ>
kernel void gemm_pipe(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]], device float* C [[buffer(2)]],
                      constant GemmShape& shape [[buffer(3)]],
                      uint2 tgid [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  static_assert(NBUF == 1 || NBUF == 2, "one or two threadgroup buffers");
  static_assert(BK % 16 == 0, "slices are walked 16 deep");
  constexpr int NT = SGM * SGN * 32;
  constexpr int FM = BM / SGM / 8, FN = BN / SGN / 8;
  constexpr int AP = BK + 8, BP = BN + 8;
  constexpr int VE = 16 / sizeof(T);
  constexpr int AV = BM * BK / VE / NT, BV = BK * BN / VE / NT;
  static_assert(NBUF * (BM * AP + BK * BP) * sizeof(T) <= 32768, "Metal's 32 KB of threadgroup memory");
  threadgroup T As[NBUF * BM * AP];
  threadgroup T Bs[NBUF * BK * BP];
  const uint K = shape.K, N = shape.N;
  uint tx = tgid.x, ty = tgid.y;
  if (SWZ > 0) {
    const uint gx = N / BN, gy = shape.M / BM, G = 1u << SWZ;
    const uint id = ty * gx + tx, group = id / (G * gx), first = group * G;
    const uint rows = min(G, gy - first), in = id - group * G * gx;
    ty = first + in % rows;
    tx = in / rows;
  }
  const uint row0 = ty * BM, col0 = tx * BN;
  const uint sg_row = (sg / SGN) * (BM / SGM), sg_col = (sg % SGN) * (BN / SGN);
  uint4 ra[AV], rb[BV];
  simdgroup_matrix<float, 8, 8> acc[FM][FN];
  UNROLL for (int i = 0; i < FM; ++i)
    UNROLL for (int j = 0; j < FN; ++j) acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);

  // Device reads through two pointers that advance by one slice, each thread's reads a fixed
  // stride apart: the addresses are one add per slice, not recomputed from (row, k) each time.
  device const T* pa = A + (row0 + tid / (BK / VE)) * K + (tid % (BK / VE)) * VE;
  device const T* pb = B + (tid / (BN / VE)) * N + col0 + (tid % (BN / VE)) * VE;
  const uint sa = NT / (BK / VE) * K, sb = NT / (BN / VE) * N;  // elements between a thread's reads
#define READ_NEXT                                                                             \
  UNROLL for (int v = 0; v < AV; ++v) ra[v] = *(device const uint4*)(pa + v * sa);            \
  UNROLL for (int v = 0; v < BV; ++v) rb[v] = *(device const uint4*)(pb + v * sb);            \
  pa += BK;                                                                                   \
  pb += BK * N;
  READ_NEXT
  WRITE_SLICE(0)
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint buf = 0;
  for (uint k0 = 0; k0 < K; k0 += BK) {
    const bool more = k0 + BK < K;
    if (more) { READ_NEXT }
    threadgroup const T* as = As + buf * BM * AP + sg_row * AP;
    threadgroup const T* bs = Bs + buf * BK * BP + sg_col;
    UNROLL for (int kk = 0; kk < BK; kk += 16) {
      simdgroup_matrix<T, 8, 8> a0[FM], a1[FM], b0[FN], b1[FN];
      UNROLL for (int i = 0; i < FM; ++i) {
        simdgroup_load(a0[i], as, AP, ulong2(kk, i * 8));
        simdgroup_load(a1[i], as, AP, ulong2(kk + 8, i * 8));
      }
      UNROLL for (int j = 0; j < FN; ++j) {
        simdgroup_load(b0[j], bs, BP, ulong2(j * 8, kk));
        simdgroup_load(b1[j], bs, BP, ulong2(j * 8, kk + 8));
      }
      UNROLL for (int i = 0; i < FM; ++i)
        UNROLL for (int j = 0; j < FN; ++j) {
          simdgroup_multiply_accumulate(acc[i][j], a0[i], b0[j], acc[i][j]);
          simdgroup_multiply_accumulate(acc[i][j], a1[i], b1[j], acc[i][j]);
        }
    }
    if (NBUF == 2) {
      if (more) { WRITE_SLICE(buf ^ 1) }
      threadgroup_barrier(mem_flags::mem_threadgroup);
      buf ^= 1;
    } else if (more) {
      threadgroup_barrier(mem_flags::mem_threadgroup);  // every SIMD group is done with the slice
      WRITE_SLICE(0)
      threadgroup_barrier(mem_flags::mem_threadgroup);
    }
  }
  device float* c = C + (row0 + sg_row) * N + col0 + sg_col;
  UNROLL for (int i = 0; i < FM; ++i)
    UNROLL for (int j = 0; j < FN; ++j) simdgroup_store(acc[i][j], c + i * 8 * N + j * 8, N);
}

template <typename T, int BM, int BN, int BK>
kernel void gemm_small(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]], device float* C [[buffer(2)]],
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

#define GEMM_ARGS(T) device const T*, device const T*, device float*, constant GemmShape&, uint2, uint, uint
// half and bfloat: 64 x 128 tiles, 4 SIMD groups of 32 x 64 (4 x 8 fragments), 32-deep slices (the
// best of bench/gpu_gemm_sweep.py on the H200); float: 128 x 128 tiles, 8 SIMD groups of 64 x 32,
// 16-deep slices.
template [[host_name("gemm_half")]] kernel void gemm<half, 64, 128, 32, 2, 2>(GEMM_ARGS(half));
template [[host_name("gemm_bfloat")]] kernel void gemm<bfloat, 64, 128, 32, 2, 2>(GEMM_ARGS(bfloat));
template [[host_name("gemm_float")]] kernel void gemm<float, 128, 128, 16, 2, 4>(GEMM_ARGS(float));
// Other shapes, to compare (bench/gpu_gemm.py --all).
template [[host_name("gemm_half_128")]] kernel void gemm<half, 128, 128, 32, 2, 4>(GEMM_ARGS(half));
template [[host_name("gemm_half_sg2x2")]] kernel void gemm<half, 128, 128, 32, 2, 2>(GEMM_ARGS(half));
template [[host_name("gemm_half_64")]] kernel void gemm<half, 64, 64, 32, 2, 2>(GEMM_ARGS(half));
template [[host_name("gemm_half_128x64")]] kernel void gemm<half, 128, 64, 32, 2, 2>(GEMM_ARGS(half));
template [[host_name("gemm_float_64")]] kernel void gemm<float, 64, 64, 16, 2, 2>(GEMM_ARGS(float));
template [[host_name("gemm_float_128x64")]] kernel void gemm<float, 128, 64, 16, 2, 2>(GEMM_ARGS(float));
// gemm_pipe (bench/gpu_gemm_sweep.py --configs half:64x128x64:2x2:p1s3,...): 64-deep slices in one
// buffer, and 32-deep in two, each with and without the threadgroup swizzle.
template [[host_name("gemm_pipe_half")]] kernel void gemm_pipe<half, 64, 128, 64, 2, 2, 1, 3>(GEMM_ARGS(half));
template [[host_name("gemm_pipe_bfloat")]] kernel void gemm_pipe<bfloat, 64, 128, 64, 2, 2, 1, 3>(GEMM_ARGS(bfloat));
template [[host_name("gemm_pipe2_half")]] kernel void gemm_pipe<half, 64, 128, 32, 2, 2, 2, 3>(GEMM_ARGS(half));
template [[host_name("gemm_small_half")]] kernel void gemm_small<half, 64, 64, 32>(GEMM_ARGS(half));
template [[host_name("gemm_small_float")]] kernel void gemm_small<float, 64, 64, 16>(GEMM_ARGS(float));
