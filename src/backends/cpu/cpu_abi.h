// The contract between the CPU executor and the entry wrappers it compiles: one plain C
// struct per dispatch, and one entry point per kernel that runs a range of threadgroups.
// The struct's text is pasted into generated code, so both sides see one definition.
#pragma once

#include <cstdint>

#define METALLIC_CPU_LAUNCH_STRUCT                                                               \
  struct metallic_cpu_launch {                                                                   \
    void* buffers[31];                /* base + offset of each bound buffer or inline bytes */   \
    uint32_t threadgroup_offsets[31]; /* [[threadgroup(n)]] offset in the group's arena */       \
    uint32_t threadgroup_arena_size;  /* bytes of dynamic threadgroup memory per group */        \
    uint32_t grid[3];                 /* threads per grid (exact) */                             \
    uint32_t threads_per_threadgroup[3];                                                         \
    uint32_t threadgroups[3];                                                                    \
    const void* textures; /* metal_texture_abi per [[texture(n)]] index, data = host address */  \
    const void* samplers; /* metal_sampler_abi per [[sampler(n)]] index */                       \
    void* diag;           /* metal_diag (metal_diag_abi.h): findings and log records */          \
    uint32_t disjoint;    /* 1: no two bound buffers (or used resources) overlap, no textures */ \
  };

METALLIC_CPU_LAUNCH_STRUCT

#define METALLIC_STRINGIFY_(...) #__VA_ARGS__
#define METALLIC_STRINGIFY(...) METALLIC_STRINGIFY_(__VA_ARGS__)

namespace metallic::cpu {

inline const char* launch_struct_text() { return METALLIC_STRINGIFY(METALLIC_CPU_LAUNCH_STRUCT); }

// extern "C" void metallic_entry_<n>(const metallic_cpu_launch*, uint32_t first_group,
//                                    uint32_t end_group, unsigned char* threadgroup_arena)
using EntryFunction = void (*)(const metallic_cpu_launch*, uint32_t, uint32_t, unsigned char*);

}  // namespace metallic::cpu
