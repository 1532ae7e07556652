// Barriers and memory flags. The CPU backend defines the two cpu_* functions (a
// threadgroup's threads are fibers or threads it schedules; only it knows how to wait).
#pragma once
#include "metal_config.h"

namespace metal {
enum class mem_flags : uint {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16,
};
METAL_FUNC constexpr mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(uint(a) | uint(b)); }
METAL_FUNC constexpr mem_flags operator&(mem_flags a, mem_flags b) { return mem_flags(uint(a) & uint(b)); }

namespace detail {
#if defined(METAL_TARGET_CPU)
void cpu_threadgroup_barrier();             // defined by the CPU backend
void cpu_simdgroup_barrier(unsigned site);  // defined by the CPU backend
#endif
#if defined(METAL_TARGET_CUDA) && defined(PM_VALIDATION)
// Validation builds (metal_validation.h): which barrier each thread reaches, and how many it passed.
inline void v_barrier_arrive();
inline void v_barrier_passed();
inline void v_simd_barrier_passed();
#endif
}  // namespace detail

METAL_FUNC void threadgroup_barrier(mem_flags) {
#if defined(METAL_TARGET_CUDA) && defined(PM_VALIDATION)
  detail::v_barrier_arrive();
  __syncthreads();
  detail::v_barrier_passed();
#elif defined(METAL_TARGET_CUDA)
  __syncthreads();
#else
  detail::cpu_threadgroup_barrier();
#endif
}
METAL_FUNC void simdgroup_barrier(mem_flags METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CUDA)
  __syncwarp();
#if defined(PM_VALIDATION)
  detail::v_simd_barrier_passed();
#endif
#else
  detail::cpu_simdgroup_barrier(metal_site_);
#endif
}
}  // namespace metal
