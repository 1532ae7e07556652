// Pieces of kernel entry wrappers that every backend writes the same way: the value of
// each built-in position attribute, and how a bound buffer becomes the parameter's type.
//
// A wrapper defines these uint32_t variables before calling the kernel (x/y/z each):
//   pm_grid_*    threads per grid (the exact dispatch_threads grid)
//   pm_tg_*      threads per threadgroup as requested
//   pm_ntg_*     threads in *this* threadgroup (smaller at the grid's edge)
//   pm_groups_*  threadgroups per grid
//   pm_gid_*     this threadgroup's position in the grid
//   pm_lid_*     this thread's position in its threadgroup
//   pm_tidx      thread index in the threadgroup (flattened over pm_ntg_*)
//   pm_ntotal    threads in this threadgroup (pm_ntg_x * pm_ntg_y * pm_ntg_z)
//   pm_simd_tidx the index SIMD lanes and groups are cut from: on a GPU the hardware's
//                linear thread index, so lane ids match the lanes that shuffle together
// Wrappers are emitted inside `namespace metal_user`, so argument types resolve as in user code.
#pragma once

#include <string>

#include "msl/translation.h"

namespace metallic::codegen {

// C++ helpers the expressions below rely on; emit once before the wrappers.
const char* wrapper_support_code();

// Expression of the parameter's type for a built-in, e.g. "metal::uint3(pm_gid_x * pm_tg_x + pm_lid_x, ...)".
std::string builtin_expression(const msl::KernelArg& arg);

// The C++ type of parameter `a` as the wrapper can spell it: the type as written, or for a
// template kernel's dependent parameter (`const T*`), the type taken from the instantiation.
std::string parameter_type(const msl::KernelInfo& kernel, size_t a);

// Expression that turns `pointer` (a void* or unsigned char*) into parameter `a`.
std::string resource_expression(const msl::KernelInfo& kernel, size_t a, const std::string& pointer);

// A texture or sampler argument made from a pointer to its descriptor (metal_texture_abi /
// metal_sampler_abi, see src/runtime/metal_texture_abi.h).
std::string texture_expression(const msl::KernelInfo& kernel, size_t a, const std::string& pointer);
std::string sampler_expression(const std::string& pointer);

// `constant T&` arguments of up to 64 bytes are passed as a private copy, like a by-value
// parameter: the compiler then knows the values cannot change, which lets it unroll and
// vectorise loops bounded by them (read through a pointer it cannot). Metal's constant
// address space is read-only, so a copy means the same. Larger ones are read in place.
bool is_constant_reference(const msl::KernelArg& arg);
// The declaration of argument `a`'s copy, made from `pointer`; the call then uses
// constant_reference_use(a).
std::string constant_reference_declaration(const msl::KernelInfo& kernel, size_t a, const std::string& pointer);
// The same, where the data is either in the launch parameters (`bytes`, when `in_params` is
// true: set_bytes data inline) or in a buffer (`pointer`): the copy then reads each from its
// own address space (CUDA: ld.param, or ld.global), not through one pointer selected between
// them, which NVPTX can only read with generic loads (measured: ~0.3 us more per fluid kernel
// on the H200, bench/gpu_fluid_nodes.py under Nsight Compute).
std::string constant_reference_declaration(const msl::KernelInfo& kernel, size_t a, const std::string& in_params,
                                           const std::string& bytes, const std::string& pointer);
std::string constant_reference_use(size_t a);

// What an argument the kernel never touches (KernelArg::used false) receives, bound or not:
// a null pointer, or for references, textures and samplers zeroed storage of the right size
// (a reference must not be null: compilers may load through it early).
std::string unused_expression(const msl::KernelInfo& kernel, size_t a);

// Does the kernel read this builtin? Lets wrappers skip computing what nobody uses.
bool uses_builtin(const msl::KernelInfo& kernel, msl::BuiltinKind kind);

}  // namespace metallic::codegen
