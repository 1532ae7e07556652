// The runtime library's umbrella: MSL's standard library in C++17 for the CPU (host
// compiler) and CUDA (NVRTC) targets. See README.md for how generated code uses it.
// Everything lives in namespace metal; metal_user_scope.h brings the names into the
// user's namespace.
//
// METAL_RT_OMIT_<GROUP> leaves out an optional part (and its names in metal_user_scope.h):
// the CUDA backend defines it for each group a program does not use, because parsing the
// whole library is most of a cold NVRTC compile (docs/performance.md). Nothing else in the
// library may depend on an omitted part; tests/msl/test_runtime_subsets.py compiles every
// combination the backend can produce.
#pragma once
// clang-format off
#include "metal_address_space.h"     // (internal) which address space a pointer points into
#include "metal_array.h"             // metal::array
#include "metal_as_type.h"           // as_type
#ifndef METAL_RT_OMIT_ATOMIC
#include "metal_atomic.h"            // atomic<T>, memory_order, atomic_*_explicit
#endif
#ifndef METAL_RT_OMIT_FUNCTIONS
#include "metal_common.h"            // clamp, mix, min, max, ...
#endif
#include "metal_config.h"            // target detection, hooks, macros, integer typedefs
#include "metal_elementwise.h"       // (internal) result types and component-wise apply
#include "metal_fast_division.h"     // (internal) division by a dispatch-invariant divisor (CPU)
#ifndef METAL_RT_OMIT_FUNCTIONS
#include "metal_geometric.h"         // dot, cross, normalize, ...
#endif
#include "metal_half.h"              // half, bfloat
#ifndef METAL_RT_OMIT_FUNCTIONS
#include "metal_integer.h"           // clz, popcount, mulhi, ...
#endif
#include "metal_limits.h"            // numeric_limits
#ifndef METAL_RT_OMIT_LOGGING
#include "metal_logging.h"           // os_log, os_log_default, printf (issue 12)
#endif
#ifndef METAL_RT_OMIT_FUNCTIONS
#include "metal_math.h"              // math, with fast:: and precise::
#endif
#ifndef METAL_RT_OMIT_MATRIX
#include "metal_matrix.h"            // floatCxR, halfCxR, transpose, determinant
#endif
#ifndef METAL_RT_OMIT_PACK
#include "metal_pack.h"              // pack_float_to_unorm4x8, unpack_snorm2x16_to_float, ...
#endif
#ifndef METAL_RT_OMIT_SIMDGROUP
#include "metal_quadgroup.h"         // quad_sum, quad_shuffle, ...
#endif
#ifndef METAL_RT_OMIT_FUNCTIONS
#include "metal_relational.h"        // all, any, select, isnan, ...
#endif
#ifndef METAL_RT_OMIT_SIMDGROUP
#include "metal_simd_fission.h"      // (internal) SIMD-group functions of kernels split by loop fission (CPU)
#endif
#ifndef METAL_RT_OMIT_SIMDGROUP
#include "metal_simdgroup.h"         // simd_sum, simd_shuffle, simd_ballot, ...
#endif
#ifndef METAL_RT_OMIT_SIMDGROUP_MATRIX
#include "metal_simdgroup_matrix.h"  // simdgroup_matrix, simdgroup_load/store/multiply_accumulate
#endif
#include "metal_sync.h"              // mem_flags, threadgroup_barrier
#ifndef METAL_RT_OMIT_TEXTURE
#include "metal_texture.h"           // texture1d/2d/3d/2d_array, sampler (linear-memory emulation)
#endif
#include "metal_type_traits.h"       // is_same, enable_if, ...
#ifndef METAL_RT_OMIT_VALIDATION
#include "metal_validation.h"        // (internal) validation-mode checks (issue 12)
#endif
#include "metal_vector_types.h"      // vec<T,N>, swizzles, packed vectors, float4 ...
// clang-format on
