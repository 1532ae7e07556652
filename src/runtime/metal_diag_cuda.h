// CUDA side of validation and kernel logging (issue 12): who the running thread is. The
// entry wrapper calls cu_enter with every thread of the block before a thread leaves (the
// extra threads of a partial threadgroup leave after it), so the block's state is set once
// and a __syncthreads publishes it. Threads then find their own position from threadIdx.
// Validation builds also claim one of the dispatch's shadow slots for the block (as many as
// blocks can be resident at once) and clear it; the group's last thread gives it back.
#pragma once

#include "metal_config.h"
#include "metal_diag_abi.h"

#if defined(METAL_TARGET_CUDA)

namespace metal {
namespace detail {

struct cu_block {
  metal_diag_dev* diag;
  unsigned gpos[3], tg[3], ntg[3];
  unsigned ntotal;
  unsigned long long block;  // the shadow slot this block holds (validation builds)
  unsigned dyn_base;         // shared-window offset of the dynamic threadgroup memory
};

inline cu_block& cu_blk() {
  __shared__ cu_block b;
  return b;
}

// This thread's index in its threadgroup, as MSL counts it (x fastest, over the group's real size).
inline unsigned cu_tidx() {
  const cu_block& b = cu_blk();
  return (threadIdx.z * b.ntg[1] + threadIdx.y) * b.ntg[0] + threadIdx.x;
}
inline void cu_positions(unsigned tpos[3], unsigned gpos[3], unsigned lid[3]) {
  const cu_block& b = cu_blk();
  const unsigned l[3] = {threadIdx.x, threadIdx.y, threadIdx.z};
  for (int k = 0; k < 3; ++k) lid[k] = l[k], gpos[k] = b.gpos[k], tpos[k] = b.gpos[k] * b.tg[k] + l[k];
}

inline void v_block_reset();  // metal_validation.h (validation builds): thread 0, claims a shadow slot
inline void v_block_clear();  // every thread: clears the slot

inline void cu_enter(const void* diag, unsigned gx, unsigned gy, unsigned gz, unsigned tx, unsigned ty, unsigned tz,
                     unsigned nx, unsigned ny, unsigned nz, const void* dynamic_shared) {
  cu_block& b = cu_blk();
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) {
    b.diag = static_cast<metal_diag_dev*>(const_cast<void*>(diag));
    b.gpos[0] = gx, b.gpos[1] = gy, b.gpos[2] = gz;
    b.tg[0] = tx, b.tg[1] = ty, b.tg[2] = tz;
    b.ntg[0] = nx, b.ntg[1] = ny, b.ntg[2] = nz;
    b.ntotal = nx * ny * nz;
    b.dyn_base = static_cast<unsigned>(__cvta_generic_to_shared(dynamic_shared));
#if defined(PM_VALIDATION)
    v_block_reset();
#endif
  }
  __syncthreads();
#if defined(PM_VALIDATION)
  v_block_clear();
  __syncthreads();
#endif
}

}  // namespace detail
}  // namespace metal

#endif
