// Target detection and the few things that differ between the CPU and CUDA targets.
#pragma once

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#ifndef METAL_TARGET_CUDA
#define METAL_TARGET_CUDA 1
#endif
#endif
#if !defined(METAL_TARGET_CUDA) && !defined(METAL_TARGET_CPU)
#define METAL_TARGET_CPU 1
#endif
#if defined(METAL_TARGET_CUDA) && defined(METAL_TARGET_CPU)
#error "define only one of METAL_TARGET_CUDA and METAL_TARGET_CPU"
#endif

// The system headers may define some of MSL's macro names differently (INFINITY,
// FLT_MAX...). The runtime itself includes no system header, but generated code may
// have; metal_macros.h wins.
#undef INFINITY
#undef NAN
#undef HUGE_VALF
#undef FLT_MAX
#undef FLT_MIN
#undef FLT_EPSILON
#undef FLT_DIG
#undef FLT_MANT_DIG
#undef FLT_MAX_EXP
#undef FLT_MIN_EXP
#undef FLT_MAX_10_EXP
#undef FLT_MIN_10_EXP
#undef FLT_RADIX
#undef MAXFLOAT
#undef CHAR_BIT
#undef SCHAR_MAX
#undef SCHAR_MIN
#undef UCHAR_MAX
#undef CHAR_MAX
#undef CHAR_MIN
#undef SHRT_MAX
#undef SHRT_MIN
#undef USHRT_MAX
#undef INT_MAX
#undef INT_MIN
#undef UINT_MAX
#undef LONG_MAX
#undef LONG_MIN
#undef ULONG_MAX
#include "metal_macros.h"

// The source line of a SIMD-group call, a defaulted trailing parameter of the CPU's
// SIMD-group functions (metal_simdgroup.h): the CPU scheduler keeps lanes at different
// calls apart. CUDA's warps need no such help.
#if defined(METAL_TARGET_CPU)
#define METAL_RT_SITE_PARAM , unsigned metal_site_ = __builtin_LINE()
#define METAL_RT_SITE , metal_site_
#define METAL_RT_SITE_ONLY_PARAM unsigned metal_site_ = __builtin_LINE()
#define METAL_RT_SITE_ONLY metal_site_
#else
#define METAL_RT_SITE_PARAM
#define METAL_RT_SITE
#define METAL_RT_SITE_ONLY_PARAM
#define METAL_RT_SITE_ONLY
#endif

// Program-scope `constant` data and kernel-scope `threadgroup` arrays (the front end
// emits these macros; see README.md).
#if defined(METAL_TARGET_CUDA)
// Device data needs constant initialisation (NVRTC refuses dynamic initialisation of a
// __device__ variable), and one constant read in another's initialiser (`uint3 size = ...;
// uint x = size.x;`) is a constant expression only when it is constexpr.
#define METAL_PROGRAM_SCOPE_CONSTANT static constexpr
// 16-byte aligned, so that the compiler can prove vector accesses (ld/st.shared.v4) aligned
// where offsets allow.
#define METAL_THREADGROUP_STORAGE __shared__ __align__(16)
#else
#define METAL_PROGRAM_SCOPE_CONSTANT static const
// One worker thread runs one threadgroup at a time, so thread-local storage is
// exactly "shared by the threadgroup" for the CPU executor.
#define METAL_THREADGROUP_STORAGE static thread_local
#endif
// The same in a kernel's split version (msl/barrier_fission.h), which runs a whole group in one
// call: on the CPU, locals of that call (Metal leaves threadgroup memory uninitialised).
#if defined(METAL_TARGET_CUDA)
#define METAL_THREADGROUP_GROUP_STORAGE __shared__ __align__(16)
#else
#define METAL_THREADGROUP_GROUP_STORAGE alignas(64)
#endif
// After a kernel-scope `threadgroup` variable, in programs that overload functions on address
// spaces: the CPU's run-time checks need its bounds (metal_address_space.h); CUDA asks the pointer.
#if defined(METAL_TARGET_CUDA)
#define METAL_NOTE_THREADGROUP_VARIABLE(name) ((void)0)
#else
#define METAL_NOTE_THREADGROUP_VARIABLE(name) ::metal::detail::note_threadgroup_variable(&(name), sizeof(name))
#endif

// Scalar-level math builtins. No system header is included (NVRTC has none, and
// <cmath> alone costs ~0.2 s per g++ compile), so the CPU target uses GCC/Clang
// builtins, which become libm calls or single instructions.
#if defined(METAL_TARGET_CUDA)
#define METAL_RT_MEMCPY ::memcpy
#define METAL_RT_LIBM(name) ::name##f
#else
#define METAL_RT_MEMCPY __builtin_memcpy
#define METAL_RT_LIBM(name) __builtin_##name##f
#endif

namespace metal {
// MSL's scalar type names. long is 64-bit on every target we support (LP64 Linux and
// macOS hosts, CUDA device code), which is what MSL's long is.
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
typedef unsigned long size_t;
typedef long ptrdiff_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
static_assert(sizeof(long) == 8, "MSL's long is 64-bit: an LP64 target is required");
static_assert(sizeof(void*) == 8, "64-bit target required");

namespace detail {
// The front end wraps every loop's condition in loop_progress (msl/rewrite.h, mark_loops):
// MSL loops may run forever, while C++ lets a compiler delete a loop without side effects.
// The CPU compiles with -fno-finite-loops; NVRTC has no such option, so on CUDA an empty
// `asm volatile` marks each iteration: a side effect that touches no memory and emits no
// instruction (loads still leave loops, loops still unroll: see docs/errors.md).
#if defined(METAL_TARGET_CUDA)
inline void loop_progress_mark() { asm volatile(""); }
template <class T> constexpr bool loop_progress(const T& condition) {
  if (!__builtin_is_constant_evaluated()) loop_progress_mark();  // constexpr functions loop too
  return static_cast<bool>(condition);
}
#else
template <class T> constexpr bool loop_progress(const T& condition) { return static_cast<bool>(condition); }
#endif
}  // namespace detail
}  // namespace metal
