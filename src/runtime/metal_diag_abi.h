// The contract between generated kernel code and the executor for validation findings and
// kernel log messages (issue 12). Plain C structs: the executor (C++) and the generated code
// (CPU: C++, compiled separately) both include this file.
//
// One `metal_diag` per dispatch. The executor fills the ranges kernels may reach (bound
// buffers, set_bytes data, argument-buffer resources) and two callbacks; generated code calls
// them with a finding or a finished log record. Nothing is formatted on the device side:
// the host turns records into text after the command buffer completes.
#pragma once

#define METAL_DIAG_MAX_RANGES 96

// What a finding is about (metal_diag_finding::kind).
enum {
  metal_diag_oob_buffer = 1,       // device/constant access outside the bound buffer's extent
  metal_diag_oob_threadgroup = 2,  // threadgroup access outside the group's allocation
  metal_diag_oob_array = 3,        // index outside an array's bounds (thread or threadgroup array)
  metal_diag_oob_texture = 4,      // texture coordinate outside the texture's size
  metal_diag_race = 5,             // two threads, same threadgroup address, no barrier between
  metal_diag_barrier_divergence = 6,
  metal_diag_uninitialized = 7,  // read of threadgroup memory never written in this dispatch
};

// Range kinds (metal_diag_range::kind).
enum { metal_diag_range_buffer = 0, metal_diag_range_bytes = 1, metal_diag_range_resource = 2 };

struct metal_diag_range {
  const char* begin;
  unsigned long long length;
  int index;      // [[buffer(n)]] index; -1 for argument-buffer resources
  unsigned kind;  // metal_diag_range_*
};

struct metal_diag_finding {
  unsigned kind;
  int index;                  // buffer / threadgroup / texture index; -1 when none
  long long offset;           // offending byte offset (or element index for arrays, coordinate for textures)
  unsigned long long extent;  // bytes (or elements, or texture size) available
  unsigned size;              // bytes accessed
  unsigned access;            // 1 read, 2 write, 3 read-write
  unsigned line, column;
  unsigned thread[3];                 // thread_position_in_grid
  unsigned group[3];                  // threadgroup_position_in_grid
  unsigned local[3];                  // thread_position_in_threadgroup
  int other_thread;                   // the other thread's index in its threadgroup (races, divergence); -1 none
  unsigned other_line, other_column;  // the other access / barrier; 0 when unknown
  unsigned coord[3];                  // texture coordinate; texture size in `extent` (width) and size3
  unsigned size3[3];
  char file[128];
  char name[64];  // the variable or argument as written
};

// A log record, as the generated code writes it (all little-endian, packed bytes):
//   u32 level, u32 thread[3], u32 group[3], subsystem, category and format strings (each NUL-terminated),
//   then per argument a type byte and its value:
//     'i' int64, 'u' uint64, 'f' double, 's' NUL-terminated string, 'p' uint64 address,
//     'v' then a type byte ('i','u','f'), a count byte, and that many 8-byte values.
#define METAL_DIAG_MAX_RECORD 1024

struct metal_diag {
  unsigned serial;      // distinct per dispatch (groups key their per-worker state on it)
  unsigned validation;  // 1: the kernel was compiled with validation
  unsigned nranges;
  struct metal_diag_range ranges[METAL_DIAG_MAX_RANGES];
  void* host;  // the executor's own state
  void (*report)(struct metal_diag* d, const struct metal_diag_finding* f);
  void (*log)(struct metal_diag* d, const unsigned char* record, unsigned size);
};

// ---------------------------------------------------------------------------- CUDA
// On CUDA the kernel cannot call the host: one `metal_diag_dev` per dispatch lives in device
// memory (its address travels in the kernel's parameters), with the ranges the host filled,
// room for findings and log records the kernel appends with atomics, and the shadow words
// of threadgroup memory. The host copies it back after completion and hands each finding
// and record to the same collector as the CPU's callbacks do.
#define METAL_DIAG_DEV_FINDINGS 64

struct metal_diag_dev {
  unsigned validation;  // 1: the kernel was compiled with validation
  unsigned nranges;
  struct metal_diag_range ranges[METAL_DIAG_MAX_RANGES];  // device addresses
  unsigned tg_offset[31], tg_length[31];           // [[threadgroup(n)]]: offset and length in the dynamic shared memory
  unsigned findings_total;                         // every report, kept or not (atomic)
  unsigned finding_keys[METAL_DIAG_DEV_FINDINGS];  // kind, line and column of findings[k]; 0: free
  unsigned log_capacity;                           // bytes at `log`
  unsigned log_used;                               // bytes claimed (atomic; may pass the capacity)
  unsigned log_dropped;                            // records that did not fit (atomic)
  unsigned shadow_slots;                           // blocks that may hold shadow state at once
  unsigned long long shadow_bytes;  // threadgroup bytes tracked per block (0: no race / uninitialised checks)
  unsigned long long findings;      // device address of metal_diag_finding[METAL_DIAG_DEV_FINDINGS]
  unsigned long long log;           // device address: records, each a u32 size (a multiple of 4) and the record
  unsigned long long busy;          // device address: unsigned[shadow_slots], 1 while a block holds the slot
  unsigned long long shadow;        // device address: per slot, 2 x shadow_bytes words of 8 bytes
};
