// Where does a pointer point: thread, threadgroup or device/constant memory?
//
// Address spaces are erased from generated code, so two MSL overloads that differ only in
// the address space of a parameter (`sum(const device float*)`, `sum(const threadgroup
// float*)`) would be one C++ function. The front end renames such overloads and adds a
// dispatcher that asks these functions where its arguments live (src/msl/
// address_space_overloads.h). Only translation units with such overloads use them.
//
// CUDA answers from the pointer itself (generic addresses carry the state space). The CPU
// keeps bounds: the current thread's stack (from the CPU backend, which knows its fibers),
// the group's dynamic threadgroup arena, and the kernel-scope threadgroup variables a
// worker has seen (their addresses are fixed per worker thread: they are thread_local).
#pragma once

#include "metal_config.h"

namespace metal {
namespace detail {

#if defined(METAL_TARGET_CUDA)

__device__ inline bool in_threadgroup_memory(const volatile void* p) { return __isShared(const_cast<const void*>(p)); }
__device__ inline bool in_thread_memory(const volatile void* p) { return __isLocal(const_cast<const void*>(p)); }

#else

// Defined by the CPU backend's entry wrappers (see backends/cpu/entry_wrapper.cpp).
void cpu_stack_bounds(const char** low, const char** high);

struct threadgroup_bounds {
  static constexpr unsigned kMaxVariables = 32;
  const char* arena_begin = nullptr;  // [[threadgroup(n)]] memory of the running group
  const char* arena_end = nullptr;
  unsigned variables = 0;  // kernel-scope `threadgroup` variables noted on this worker
  const char* begin[kMaxVariables] = {};
  const char* end[kMaxVariables] = {};
};

inline threadgroup_bounds& this_workers_threadgroup_bounds() {
  static thread_local threadgroup_bounds bounds;
  return bounds;
}

inline void set_threadgroup_arena(const unsigned char* arena, unsigned long size) {
  threadgroup_bounds& b = this_workers_threadgroup_bounds();
  b.arena_begin = reinterpret_cast<const char*>(arena);
  b.arena_end = b.arena_begin + size;
}

// Called after each kernel-scope `threadgroup` declaration. A worker sees the same few
// addresses again and again, so this is a short search most of the time.
inline void note_threadgroup_variable(const volatile void* p, unsigned long size) {
  threadgroup_bounds& b = this_workers_threadgroup_bounds();
  const char* begin = reinterpret_cast<const char*>(const_cast<const void*>(p));
  for (unsigned i = 0; i < b.variables; ++i)
    if (b.begin[i] == begin) return;
  if (b.variables == threadgroup_bounds::kMaxVariables) __builtin_trap();  // the front end limits the count
  b.begin[b.variables] = begin;
  b.end[b.variables] = begin + size;
  ++b.variables;
}

inline bool in_threadgroup_memory(const volatile void* p) {
  const threadgroup_bounds& b = this_workers_threadgroup_bounds();
  const char* c = reinterpret_cast<const char*>(const_cast<const void*>(p));
  if (c >= b.arena_begin && c < b.arena_end) return true;
  for (unsigned i = 0; i < b.variables; ++i)
    if (c >= b.begin[i] && c < b.end[i]) return true;
  return false;
}

inline bool in_thread_memory(const volatile void* p) {
  const char* low = nullptr;
  const char* high = nullptr;
  cpu_stack_bounds(&low, &high);
  const char* c = reinterpret_cast<const char*>(const_cast<const void*>(p));
  return c >= low && c < high;
}

#endif

// Device and constant buffers (and program-scope constants): everything else. The two
// cannot be told apart at run time; the front end refuses overloads that differ only there.
METAL_FUNC bool in_device_memory(const volatile void* p) { return !in_threadgroup_memory(p) && !in_thread_memory(p); }

template <typename T> METAL_FUNC const volatile void* address_of(T& object) {
  return reinterpret_cast<const volatile void*>(&reinterpret_cast<const volatile char&>(object));
}

}  // namespace detail
}  // namespace metal
