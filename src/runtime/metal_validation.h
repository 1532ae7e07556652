// Validation mode (issue 12): the checks generated code runs when a library is compiled with
// options={"validation": True}. The front end (src/msl/validation.cpp) rewrites
//   name[i]            -> metal::detail::v_acc(name, KIND, LINE, COL, "file", "name")[i]
//   *p                 -> *metal::detail::v_dp(p, KIND, LINE, COL, "file", "p")
//   p->m               -> (*metal::detail::v_fld(p, &(p->m), KIND, LINE, COL, "file", "p"))
//   tg_scalar (use)    -> metal::detail::v_tgs(tg_scalar, KIND, LINE, COL, "file", "name")
//   tex.read(...)      -> metal::detail::v_at(tex, LINE, COL, "file", "tex").read(...)
//   threadgroup_barrier(...) -> metal::detail::v_here(LINE, COL, "file"), threadgroup_barrier(...)
// and notes every kernel-scope threadgroup variable after its declaration (v_note_tg).
//
// An access through a pointer is checked against the range its base pointer lies in: a
// bound buffer (metal_diag ranges, filled by the executor) or the group's threadgroup memory.
// Arrays are checked against their declared size. Threadgroup bytes carry shadow state
// (last writer, last reader, the barrier epoch of each, written-at-all) per group, which
// finds races, reads of never-written memory; barrier counts per thread find divergence.
// A bad access is reported once per site and redirected to a scratch location, so the
// kernel runs to the end and the command buffer completes with an error.
//
// Both targets implement the checks: the CPU with thread-local state and a callback per
// finding, CUDA with block state in shared memory and findings, shadow words and log
// records in device memory the host reads back (metal_diag_dev in metal_diag_abi.h).
#pragma once

#include "metal_config.h"
#include "metal_diag_abi.h"

#if defined(METAL_TARGET_CPU) && defined(PM_VALIDATION)
#include <string.h>
#endif
#include "metal_diag_cuda.h"

namespace metal {
namespace detail {

enum : unsigned { v_read = 1, v_write = 2, v_rw = 3, v_addr = 4 };

template <class T> struct v_rmref {
  using type = T;
};
template <class T> struct v_rmref<T&> {
  using type = T;
};
template <class T> struct v_rmref<T&&> {
  using type = T;
};
template <class T> struct v_rmcv {
  using type = T;
};
template <class T> struct v_rmcv<const T> {
  using type = T;
};
template <class T> struct v_rmcv<volatile T> {
  using type = T;
};
template <class T> struct v_rmcv<const volatile T> {
  using type = T;
};
template <class T> struct v_is_ptr {
  static constexpr bool value = false;
};
template <class T> struct v_is_ptr<T*> {
  static constexpr bool value = true;
};
template <class T> struct v_is_arr {
  static constexpr bool value = false;
};
template <class T, unsigned long N> struct v_is_arr<T[N]> {
  static constexpr bool value = true;
};

// The address of any object or pointer as bytes (volatile and const pointers included).
template <class T> METAL_FUNC const char* v_bytes(T* p) { return (const char*)(const volatile void*)p; }

#if defined(METAL_TARGET_CPU) && defined(PM_VALIDATION)

// Threads of a SIMD group run one at a time here: nothing to bring back together (CUDA: below).
struct v_converge {};

// ----------------------------------------------------------------------------- CPU checks

struct v_site {
  const char* file = nullptr;
  unsigned line = 0, column = 0;
};

// The running thread (set by the entry wrapper; saved and restored around every switch
// between fibers, see the barrier functions of the CPU backend's generated code).
struct v_thread {
  metal_diag* diag = nullptr;
  unsigned tpos[3] = {0, 0, 0}, gpos[3] = {0, 0, 0}, lid[3] = {0, 0, 0};
  unsigned tidx = 0;
  unsigned barriers = 0;       // threadgroup barriers this thread has passed in this group
  unsigned simd_barriers = 0;  // simdgroup barriers
  v_site site;                 // the last site noted by v_here / v_at
};

inline v_thread& v_me() {
  static thread_local v_thread t;
  return t;
}

// Shadow state of one threadgroup byte.
struct v_shadow {
  unsigned short writer, reader;  // thread index + 1; reader 0xffff: several readers
  unsigned short w_epoch, r_epoch;
  unsigned short w_simd, r_simd;
  unsigned short w_line, r_line;
  unsigned char written;
};

struct v_tg_range {
  const char* begin = nullptr;
  const char* end = nullptr;
  int index = -1;  // [[threadgroup(n)]], or -1 for a kernel-scope variable
  const char* name = "";
  bool escaped = false;  // its address was taken: writes may happen untracked
  v_shadow* shadow = nullptr;
  unsigned long capacity = 0;
};

struct v_group {
  static constexpr unsigned kMaxRanges = 64;
  static constexpr unsigned kMaxThreads = 1024;
  static constexpr unsigned kMaxBarriers = 256;
  unsigned serial = ~0u, group = ~0u;
  unsigned ntotal = 0, finished = 0;
  unsigned ntg[3] = {1, 1, 1}, tg[3] = {1, 1, 1}, gpos[3] = {0, 0, 0};
  unsigned nranges = 0;
  v_tg_range ranges[kMaxRanges];
  unsigned barrier_count[kMaxThreads];
  v_site barrier_last[kMaxThreads];      // the last barrier each thread passed
  v_site barrier_site[kMaxBarriers];     // the barrier the first thread reached as its k-th
  unsigned barrier_first[kMaxBarriers];  // ... and which thread that was
  unsigned nsites = 0;
  bool divergence_reported = false;
};

inline v_group& v_grp() {
  static thread_local v_group* g = nullptr;
  if (!g) g = new v_group();  // one per worker, for the life of the process
  return *g;
}

inline void v_copy(char* dst, const char* src, unsigned cap) {
  unsigned i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; ++i) dst[i] = src[i];
  dst[i] = 0;
}

inline void v_report(metal_diag_finding& f, const char* file, unsigned line, unsigned column, const char* name) {
  v_thread& me = v_me();
  if (!me.diag || !me.diag->report) return;
  f.line = line;
  f.column = column;
  for (int k = 0; k < 3; ++k) f.thread[k] = me.tpos[k], f.group[k] = me.gpos[k], f.local[k] = me.lid[k];
  v_copy(f.file, file, sizeof f.file);
  v_copy(f.name, name, sizeof f.name);
  me.diag->report(me.diag, &f);
}

inline metal_diag_finding v_finding(unsigned kind) {
  metal_diag_finding f;
  memset(&f, 0, sizeof f);
  f.kind = kind;
  f.index = -1;
  f.other_thread = -1;
  return f;
}

// Scratch memory that a rejected access reads or writes instead.
inline char* v_sink(unsigned long bytes) {
  alignas(64) static thread_local char sink[1 << 16];
  memset(sink, 0, bytes < sizeof sink ? bytes : sizeof sink);
  return sink;
}

inline v_tg_range* v_tg_find(const char* p) {
  v_group& g = v_grp();
  for (unsigned r = 0; r < g.nranges; ++r)
    if (p >= g.ranges[r].begin && p < g.ranges[r].end) return &g.ranges[r];
  return nullptr;
}

inline void v_tg_add(const char* begin, unsigned long size, int index, const char* name) {
  v_group& g = v_grp();
  for (unsigned r = 0; r < g.nranges; ++r)
    if (g.ranges[r].begin == begin) return;
  if (g.nranges == v_group::kMaxRanges || size == 0) return;
  v_tg_range& r = g.ranges[g.nranges++];
  r.begin = begin;
  r.end = begin + size;
  r.index = index;
  r.name = name;
  r.escaped = false;
  if (r.capacity < size) {
    delete[] r.shadow;
    r.shadow = new v_shadow[size];
    r.capacity = size;
  }
  memset(r.shadow, 0, sizeof(v_shadow) * size);
}

// Called by the entry wrapper for each thread before it runs: starts the group's state
// when this is the first thread of a new group (the fiber path has no per-group hook).
inline void v_enter(const void* diag_ptr, unsigned group, const unsigned char* arena, const unsigned* tg_offsets,
                    unsigned arena_size, const unsigned tg[3], const unsigned ntg[3], const unsigned gpos[3],
                    const unsigned lid[3], unsigned tidx) {
  const unsigned ntotal = ntg[0] * ntg[1] * ntg[2];
  unsigned tpos[3];
  for (int k = 0; k < 3; ++k) tpos[k] = gpos[k] * tg[k] + lid[k];
  metal_diag* diag = static_cast<metal_diag*>(const_cast<void*>(diag_ptr));
  v_thread& me = v_me();
  me.diag = diag;
  for (int k = 0; k < 3; ++k) me.tpos[k] = tpos[k], me.gpos[k] = gpos[k], me.lid[k] = lid[k];
  me.tidx = tidx;
  me.barriers = 0;
  me.simd_barriers = 0;
  me.site = v_site();
  v_group& g = v_grp();
  unsigned serial = diag ? diag->serial : 0;
  if (g.serial == serial && g.group == group) return;
  g.serial = serial;
  g.group = group;
  g.ntotal = ntotal < v_group::kMaxThreads ? ntotal : v_group::kMaxThreads;
  for (int k = 0; k < 3; ++k) g.ntg[k] = ntg[k], g.tg[k] = tg[k], g.gpos[k] = gpos[k];
  g.finished = 0;
  g.nsites = 0;
  g.divergence_reported = false;
  for (unsigned t = 0; t < g.ntotal; ++t) g.barrier_count[t] = 0, g.barrier_last[t] = v_site();
  for (unsigned r = 0; r < g.nranges; ++r) g.ranges[r].begin = g.ranges[r].end = nullptr;
  g.nranges = 0;
  // [[threadgroup(n)]] allocations: consecutive in the arena (lengths are multiples of 16).
  for (unsigned i = 0; i < 31; ++i) {
    unsigned end = i + 1 < 31 ? tg_offsets[i + 1] : arena_size;
    if (end > tg_offsets[i] && arena) v_tg_add(v_bytes(arena) + tg_offsets[i], end - tg_offsets[i], int(i), "");
  }
}

// Thread `a` of the group did not reach barrier `at` as thread `b` did (b passed `other`).
inline void v_divergence(unsigned a, unsigned b, const v_site& at, const v_site& other) {
  v_group& g = v_grp();
  if (g.divergence_reported) return;
  g.divergence_reported = true;
  metal_diag_finding f = v_finding(metal_diag_barrier_divergence);
  f.other_thread = int(b);
  f.other_line = other.line;
  f.other_column = other.column;
  f.offset = a;
  v_thread& me = v_me();
  unsigned saved[3][3];
  for (int c = 0; c < 3; ++c) saved[0][c] = me.tpos[c], saved[1][c] = me.gpos[c], saved[2][c] = me.lid[c];
  // The finding names thread `a`, whichever thread notices.
  unsigned lid[3] = {a % g.ntg[0], (a / g.ntg[0]) % g.ntg[1], a / (g.ntg[0] * g.ntg[1])};
  for (int c = 0; c < 3; ++c) me.lid[c] = lid[c], me.gpos[c] = g.gpos[c], me.tpos[c] = g.gpos[c] * g.tg[c] + lid[c];
  v_report(f, at.file, at.line, at.column, "threadgroup_barrier");
  for (int c = 0; c < 3; ++c) me.tpos[c] = saved[0][c], me.gpos[c] = saved[1][c], me.lid[c] = saved[2][c];
}

// A thread returned from the kernel. The last one of its group checks that every thread
// passed the same number of barriers.
inline void v_leave() {
  v_thread& me = v_me();
  v_group& g = v_grp();
  if (me.tidx < g.ntotal) g.barrier_count[me.tidx] = me.barriers;
  if (++g.finished < g.ntotal) return;
  unsigned hi = 0, lo = 0;
  for (unsigned t = 1; t < g.ntotal; ++t) {
    if (g.barrier_count[t] > g.barrier_count[hi]) hi = t;
    if (g.barrier_count[t] < g.barrier_count[lo]) lo = t;
  }
  if (g.barrier_count[hi] != g.barrier_count[lo]) {
    // The barrier that thread `lo` never reached, as thread `hi` reached it.
    unsigned k = g.barrier_count[lo];
    v_site missed = k < g.nsites ? g.barrier_site[k] : g.barrier_last[hi];
    v_divergence(lo, hi, missed, g.barrier_last[lo]);
  }
}

// Before a threadgroup barrier: this thread's k-th barrier must be the one the others reach.
inline void v_barrier_arrive() {
  v_thread& me = v_me();
  v_group& g = v_grp();
  unsigned k = me.barriers;
  if (k < v_group::kMaxBarriers) {
    if (k >= g.nsites) {
      g.barrier_site[k] = me.site;
      g.barrier_first[k] = me.tidx;
      g.nsites = k + 1;
    } else if (g.barrier_site[k].line != me.site.line || g.barrier_site[k].column != me.site.column ||
               g.barrier_site[k].file != me.site.file) {
      v_divergence(me.tidx, g.barrier_first[k], me.site, g.barrier_site[k]);
    }
  }
  if (me.tidx < g.ntotal) g.barrier_last[me.tidx] = me.site;
}
inline void v_barrier_passed() { ++v_me().barriers; }
inline void v_simd_barrier_passed() { ++v_me().simd_barriers; }

// Shadow bookkeeping of one access to threadgroup bytes [p, p + n).
inline void v_track(v_tg_range& r, const char* p, unsigned long n, unsigned kind, const char* file, unsigned line,
                    unsigned column, const char* name) {
  if (kind & v_addr) {
    r.escaped = true;
    return;
  }
  v_thread& me = v_me();
  const unsigned short self = static_cast<unsigned short>(me.tidx + 1);
  const unsigned short epoch = static_cast<unsigned short>(me.barriers);
  const unsigned short simd = static_cast<unsigned short>(me.simd_barriers);
  bool reported = false;
  for (unsigned long b = 0; b < n; ++b) {
    v_shadow& s = r.shadow[(p - r.begin) + b];
    // Lanes of one SIMD group are ordered by a simdgroup_barrier between their accesses.
    auto ordered = [&](unsigned short other, unsigned short other_simd) {
      return (unsigned(other - 1) / 32u == me.tidx / 32u) && other_simd != simd;
    };
    if (!reported) {
      int other = -1;
      unsigned other_line = 0;
      if (s.writer && s.writer != self && s.w_epoch == epoch && !ordered(s.writer, s.w_simd))
        other = s.writer - 1, other_line = s.w_line;
      else if ((kind & v_write) && s.reader && s.reader != self && s.r_epoch == epoch &&
               (s.reader == 0xffff || !ordered(s.reader, s.r_simd)))
        other = s.reader == 0xffff ? -2 : s.reader - 1, other_line = s.r_line;
      if (other != -1) {
        metal_diag_finding f = v_finding(metal_diag_race);
        f.index = r.index;
        f.offset = p - r.begin;
        f.extent = static_cast<unsigned long long>(r.end - r.begin);
        f.size = static_cast<unsigned>(n);
        f.access = kind & 3;
        f.other_thread = other;
        f.other_line = other_line;
        v_report(f, file, line, column, name);
        reported = true;
      } else if ((kind & v_read) && !(kind & v_write) && !s.written && !r.escaped) {
        metal_diag_finding f = v_finding(metal_diag_uninitialized);
        f.index = r.index;
        f.offset = p - r.begin;
        f.extent = static_cast<unsigned long long>(r.end - r.begin);
        f.size = static_cast<unsigned>(n);
        f.access = 1;
        v_report(f, file, line, column, name);
        reported = true;
      }
    }
    if (kind & v_read) {
      if (s.r_epoch != epoch || !s.reader)
        s.reader = self, s.r_epoch = epoch, s.r_simd = simd;
      else if (s.reader != self)
        s.reader = 0xffff;
      s.r_line = static_cast<unsigned short>(line);
    }
    if (kind & v_write) {
      s.writer = self, s.w_epoch = epoch, s.w_simd = simd, s.written = 1;
      s.w_line = static_cast<unsigned short>(line);
    }
  }
}

// An access of `n` bytes at `a` through a pointer whose base is `base`.
inline bool v_check(const char* base, const char* a, unsigned long n, unsigned kind, const char* file, unsigned line,
                    unsigned column, const char* name) {
  v_thread& me = v_me();
  if (!me.diag || !me.diag->validation) return true;
  if (v_tg_range* r = v_tg_find(base)) {
    if (a < r->begin || a + n > r->end) {
      if (kind & v_addr) return true;  // forming an address is not an access
      metal_diag_finding f = v_finding(metal_diag_oob_threadgroup);
      f.index = r->index;
      f.offset = a - r->begin;
      f.extent = static_cast<unsigned long long>(r->end - r->begin);
      f.size = static_cast<unsigned>(n);
      f.access = kind & 3;
      v_report(f, file, line, column, name);
      return false;
    }
    v_track(*r, a, n, kind, file, line, column, name);
    return true;
  }
  // The range the base lies in; else one it ends (a pointer one past the end, then used).
  const metal_diag_range* hit = nullptr;
  for (unsigned i = 0; i < me.diag->nranges && !hit; ++i) {
    const metal_diag_range& r = me.diag->ranges[i];
    if (base >= r.begin && base < r.begin + r.length) hit = &r;
  }
  for (unsigned i = 0; i < me.diag->nranges && !hit; ++i) {
    const metal_diag_range& r = me.diag->ranges[i];
    if (base == r.begin + r.length) hit = &r;
  }
  if (hit) {
    const metal_diag_range& r = *hit;
    if (kind & v_addr) return true;
    if (a < r.begin || a + n > r.begin + r.length) {
      metal_diag_finding f = v_finding(metal_diag_oob_buffer);
      f.index = r.index;
      f.offset = a - r.begin;
      f.extent = r.length;
      f.size = static_cast<unsigned>(n);
      f.access = kind & 3;
      v_report(f, file, line, column, name);
      return false;
    }
    return true;
  }
  return true;  // thread memory, or a pointer the executor does not know: not checked
}

inline bool v_active() { return v_me().diag && v_me().diag->validation; }
inline int v_tg_index(const char* p) {
  v_tg_range* r = v_tg_find(p);
  return r ? r->index : -1;
}
inline void v_tg_track(const char* p, unsigned long n, unsigned kind, const char* file, unsigned line, unsigned column,
                       const char* name) {
  if (v_tg_range* r = v_tg_find(p)) v_track(*r, p, n, kind, file, line, column, name);
}
inline void v_tg_escape(const char* p) {
  if (v_tg_range* r = v_tg_find(p)) r->escaped = true;
}

// After a kernel-scope `threadgroup` declaration.
template <class X> void v_note_tg(X& x, const char* name) { v_tg_add(v_bytes(&x), sizeof(X), -1, name); }

// Notes the site of the next barrier or texture call.
inline int v_here(unsigned line, unsigned column, const char* file) {
  v_site& s = v_me().site;
  s.file = file, s.line = line, s.column = column;
  return 0;
}
template <class X> X& v_at(X& x, unsigned line, unsigned column, const char* file, const char*) {
  v_here(line, column, file);
  return x;
}

inline void v_texture_oob(unsigned x, unsigned y, unsigned z, unsigned w, unsigned h, unsigned d, bool write) {
  v_thread& me = v_me();
  if (!me.diag || !me.diag->validation) return;
  metal_diag_finding f = v_finding(metal_diag_oob_texture);
  f.coord[0] = x, f.coord[1] = y, f.coord[2] = z;
  f.size3[0] = w, f.size3[1] = h, f.size3[2] = d;
  f.access = write ? 2 : 1;
  v_report(f, me.site.file, me.site.line, me.site.column, "texture");
}

#define METAL_V_TEXTURE_OOB(x, y, z, d, write) \
  ::metal::detail::v_texture_oob((x), (y), (z), (d).width, (d).height, (d).depth, (write))

#elif defined(METAL_TARGET_CUDA) && defined(PM_VALIDATION)

// ----------------------------------------------------------------------------- CUDA checks
// The same checks as the CPU's, for threads that really run at once: the block's state is
// in shared memory (metal_diag_cuda.h, and v_cu_state below), findings and the shadow words
// of threadgroup memory in the dispatch's metal_diag_dev, updated with atomics.

static constexpr unsigned v_kMaxBarriers = 64;
static constexpr unsigned v_kMaxThreads = 1024;
static constexpr unsigned v_kMaxVars = 16;

struct v_cu_state {
  unsigned finished, nsites, divergence_reported, escaped;
  const char* file;                           // the file of the barrier sites (the main file, in practice)
  unsigned site_key[v_kMaxBarriers];          // the barrier each k-th was first reached at (line << 12 | column)
  unsigned short site_first[v_kMaxBarriers];  // ... by which thread
  unsigned short barriers[v_kMaxThreads];     // threadgroup barriers each thread has passed
  unsigned short simd_barriers[v_kMaxThreads];
  unsigned site[v_kMaxThreads];  // the last site each thread noted (v_here, v_at)
  // Kernel-scope threadgroup variables (v_note_tg): shared-window offset + 1 (0: free slot), size.
  unsigned var_begin[v_kMaxVars], var_size[v_kMaxVars];
};
// The lanes of a warp that enter a check leave it together. A check branches (a finding is
// reported, a shadow word is retried), and with independent thread scheduling the lanes of a
// warp need not come back together on their own: a SIMD-group function after the check
// (which runs over the lanes that reach it together) would then see only part of its SIMD
// group — a wrong sum in validation builds only.
struct v_converge {
  unsigned mask = __activemask();
  ~v_converge() { __syncwarp(mask); }
};

inline v_cu_state& v_st() {
  __shared__ v_cu_state s;
  return s;
}

inline void v_block_reset() {  // thread 0 of the block, before the block's __syncthreads
  v_cu_state& s = v_st();
  s.finished = s.nsites = s.divergence_reported = s.escaped = 0;
  s.file = nullptr;
  for (unsigned k = 0; k < v_kMaxBarriers; ++k) s.site_key[k] = 0, s.site_first[k] = 0;
  for (unsigned k = 0; k < v_kMaxVars; ++k) s.var_begin[k] = 0, s.var_size[k] = 0;
  cu_block& b = cu_blk();
  unsigned n = b.ntotal < v_kMaxThreads ? b.ntotal : v_kMaxThreads;
  for (unsigned t = 0; t < n; ++t) s.barriers[t] = 0, s.simd_barriers[t] = 0, s.site[t] = 0;
  b.block = ~0ull;
  metal_diag_dev* d = b.diag;
  if (!d || !d->validation || !d->shadow_bytes || !d->shadow_slots) return;
  // A free shadow slot: the holders are resident blocks that finish without waiting on
  // this one, so the wait ends.
  unsigned* busy = reinterpret_cast<unsigned*>(d->busy);
  const unsigned long long linear =
      (static_cast<unsigned long long>(blockIdx.z) * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  unsigned k = static_cast<unsigned>(linear % d->shadow_slots);
  while (atomicCAS(&busy[k], 0u, 1u) != 0u) {
    k = (k + 1) % d->shadow_slots;
    if (k == 0) __nanosleep(1000);
  }
  __threadfence();
  b.block = k;
}

inline void v_block_clear() {  // every thread of the block, after v_block_reset
  const cu_block& b = cu_blk();
  if (b.block == ~0ull) return;
  const unsigned long long words = 2ull * b.diag->shadow_bytes;
  unsigned long long* w = reinterpret_cast<unsigned long long*>(b.diag->shadow) + b.block * words;
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned me = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  for (unsigned long long i = me; i < words; i += threads) w[i] = 0;
}

inline bool v_active() {
  const cu_block& b = cu_blk();
  return b.diag && b.diag->validation;
}
inline unsigned v_self() {
  unsigned t = cu_tidx();
  return t < v_kMaxThreads ? t : v_kMaxThreads - 1;
}
inline unsigned v_site_key(unsigned line, unsigned column) {
  unsigned k = (line << 12) | (column & 0xfffu);
  return k ? k : 1u;
}

inline void v_copy(char* dst, const char* src, unsigned cap) {
  unsigned i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; ++i) dst[i] = src[i];
  dst[i] = 0;
}

inline metal_diag_finding v_finding(unsigned kind) {
  metal_diag_finding f;
  unsigned char* z = reinterpret_cast<unsigned char*>(&f);
  for (unsigned i = 0; i < sizeof f; ++i) z[i] = 0;
  f.kind = kind;
  f.index = -1;
  f.other_thread = -1;
  return f;
}

// Keeps the first finding of each kind and site (one atomic claim per slot); counts all.
inline void v_store(metal_diag_finding& f) {
  metal_diag_dev* d = cu_blk().diag;
  atomicAdd(&d->findings_total, 1u);
  const unsigned key = ((f.kind & 7u) << 29) ^ v_site_key(f.line, f.column);
  metal_diag_finding* out = reinterpret_cast<metal_diag_finding*>(d->findings);
  for (unsigned k = 0; k < METAL_DIAG_DEV_FINDINGS; ++k) {
    const unsigned old = atomicCAS(&d->finding_keys[k], 0u, key);
    if (old == 0) {
      out[k] = f;
      return;
    }
    if (old == key) return;
  }
}

inline void v_report(metal_diag_finding& f, const char* file, unsigned line, unsigned column, const char* name) {
  if (!cu_blk().diag) return;
  f.line = line;
  f.column = column;
  cu_positions(f.thread, f.group, f.local);
  v_copy(f.file, file, sizeof f.file);
  v_copy(f.name, name, sizeof f.name);
  v_store(f);
}

// Scratch memory a rejected access reads or writes instead (shared by all threads: what it
// holds is meaningless, as the access was).
__device__ __align__(64) char v_sink_bytes[1 << 16];
inline char* v_sink(unsigned long) { return v_sink_bytes; }

// The [[threadgroup(n)]] allocation that shared-window offset `off` lies in, or -1.
inline int v_tg_slot(unsigned long long off) {
  const cu_block& b = cu_blk();
  if (off < b.dyn_base) return -1;
  const unsigned long long rel = off - b.dyn_base;
  for (int i = 0; i < 31; ++i)
    if (b.diag->tg_length[i] && rel >= b.diag->tg_offset[i] && rel < b.diag->tg_offset[i] + b.diag->tg_length[i])
      return i;
  return -1;
}
inline unsigned long long v_shared_offset(const char* p) { return __cvta_generic_to_shared(p); }

// The threadgroup allocation a shared-window offset lies in: a [[threadgroup(n)]] one
// (index n) or a kernel-scope variable (index -1); begin and size as window offsets.
struct v_region {
  bool found;
  int index;
  unsigned long long begin, size;
};
inline v_region v_region_of(unsigned long long off) {
  const cu_block& b = cu_blk();
  const int slot = v_tg_slot(off);
  if (slot >= 0) return {true, slot, b.dyn_base + b.diag->tg_offset[slot], b.diag->tg_length[slot]};
  const v_cu_state& s = v_st();
  for (unsigned k = 0; k < v_kMaxVars; ++k) {
    const unsigned begin = s.var_begin[k], size = s.var_size[k];
    if (begin && size && off >= begin - 1 && off < begin - 1 + size) return {true, -1, begin - 1ull, size};
  }
  return {false, -1, 0, 0};
}

inline int v_tg_index(const char* p) { return __isShared(p) ? v_tg_slot(v_shared_offset(p)) : -1; }
inline void v_tg_escape(const char* p) {
  if (__isShared(p)) v_st().escaped = 1;
}

// Shadow words of one threadgroup byte: bits 0-15 the thread index + 1 (0xffff: several
// readers), 16-31 the source line, 32-47 the SIMD-barrier count, 48-63 the barrier count.
inline unsigned long long v_word(unsigned self, unsigned line, unsigned simd, unsigned epoch) {
  return (static_cast<unsigned long long>(epoch & 0xffffu) << 48) |
         (static_cast<unsigned long long>(simd & 0xffffu) << 32) | ((line & 0xffffu) << 16) | (self & 0xffffu);
}
inline unsigned v_w_tid(unsigned long long w) { return static_cast<unsigned>(w & 0xffffu); }
inline unsigned v_w_line(unsigned long long w) { return static_cast<unsigned>((w >> 16) & 0xffffu); }
inline unsigned v_w_simd(unsigned long long w) { return static_cast<unsigned>((w >> 32) & 0xffffu); }
inline unsigned v_w_epoch(unsigned long long w) { return static_cast<unsigned>(w >> 48); }

// Shadow bookkeeping of one access to the threadgroup bytes at shared-window offset `off`.
inline void v_track_at(unsigned long long off, unsigned long n, unsigned kind, const char* file, unsigned line,
                       unsigned column, const char* name) {
  if (kind & v_addr) {
    v_st().escaped = 1;
    return;
  }
  const cu_block& b = cu_blk();
  metal_diag_dev* d = b.diag;
  if (b.block == ~0ull || off + n > d->shadow_bytes) return;
  unsigned long long* W = reinterpret_cast<unsigned long long*>(d->shadow) + b.block * 2ull * d->shadow_bytes;
  unsigned long long* R = W + d->shadow_bytes;
  v_cu_state& s = v_st();
  const unsigned me = v_self();
  const unsigned self = me + 1, epoch = s.barriers[me], simd = s.simd_barriers[me];
  const unsigned long long mine = v_word(self, line, simd, epoch);
  // Lanes of one SIMD group are ordered by a simdgroup_barrier between their accesses.
  auto ordered = [&](unsigned other, unsigned other_simd) {
    return (other - 1) / 32u == me / 32u && other_simd != simd;
  };
  bool reported = false;
  for (unsigned long j = 0; j < n; ++j) {
    const unsigned long long w = *reinterpret_cast<volatile unsigned long long*>(&W[off + j]);
    int other = -1;
    unsigned other_line = 0;
    if (v_w_tid(w) && v_w_tid(w) != self && v_w_epoch(w) == (epoch & 0xffffu) && !ordered(v_w_tid(w), v_w_simd(w)))
      other = int(v_w_tid(w)) - 1, other_line = v_w_line(w);
    if (kind & v_read) {
      unsigned long long r = *reinterpret_cast<volatile unsigned long long*>(&R[off + j]);
      for (;;) {
        const bool fresh = !v_w_tid(r) || v_w_epoch(r) != (epoch & 0xffffu) || v_w_tid(r) == self;
        const unsigned long long next = fresh ? mine : (mine | 0xffffull);
        const unsigned long long seen = atomicCAS(&R[off + j], r, next);
        if (seen == r) break;
        r = seen;
      }
    }
    if (kind & v_write) {
      if (other < 0) {
        const unsigned long long r = *reinterpret_cast<volatile unsigned long long*>(&R[off + j]);
        if (v_w_tid(r) && v_w_tid(r) != self && v_w_epoch(r) == (epoch & 0xffffu) &&
            (v_w_tid(r) == 0xffffu || !ordered(v_w_tid(r), v_w_simd(r))))
          other = v_w_tid(r) == 0xffffu ? -2 : int(v_w_tid(r)) - 1, other_line = v_w_line(r);
      }
      const unsigned long long old = atomicExch(&W[off + j], mine);
      if (other < 0 && v_w_tid(old) && v_w_tid(old) != self && v_w_epoch(old) == (epoch & 0xffffu) &&
          !ordered(v_w_tid(old), v_w_simd(old)))
        other = int(v_w_tid(old)) - 1, other_line = v_w_line(old);
    }
    if (reported) continue;
    const v_region g = v_region_of(off);
    if (other != -1) {
      metal_diag_finding f = v_finding(metal_diag_race);
      f.index = g.index;
      f.offset = g.found ? static_cast<long long>(off - g.begin) : 0;
      f.extent = g.size;
      f.size = static_cast<unsigned>(n);
      f.access = kind & 3;
      f.other_thread = other;
      f.other_line = other_line;
      v_report(f, file, line, column, name);
      reported = true;
    } else if ((kind & v_read) && !(kind & v_write) && w == 0 && !s.escaped) {
      metal_diag_finding f = v_finding(metal_diag_uninitialized);
      f.index = g.index;
      f.offset = g.found ? static_cast<long long>(off - g.begin) : 0;
      f.extent = g.size;
      f.size = static_cast<unsigned>(n);
      f.access = 1;
      v_report(f, file, line, column, name);
      reported = true;
    }
  }
}

inline void v_tg_track(const char* p, unsigned long n, unsigned kind, const char* file, unsigned line, unsigned column,
                       const char* name) {
  v_converge converge;
  if (__isShared(p)) v_track_at(v_shared_offset(p), n, kind, file, line, column, name);
}

// An access of `n` bytes at `a` through a pointer whose base is `base`.
inline bool v_check(const char* base, const char* a, unsigned long n, unsigned kind, const char* file, unsigned line,
                    unsigned column, const char* name) {
  v_converge converge;
  if (!v_active()) return true;
  metal_diag_dev* d = cu_blk().diag;
  if (__isShared(base)) {
    const unsigned long long boff = v_shared_offset(base);
    const long long aoff = static_cast<long long>(boff) + (a - base);
    const v_region g = v_region_of(boff);
    if (g.found) {
      const long long begin = static_cast<long long>(g.begin);
      const long long end = begin + static_cast<long long>(g.size);
      if (aoff < begin || aoff + static_cast<long long>(n) > end) {
        if (kind & v_addr) return true;  // forming an address is not an access
        metal_diag_finding f = v_finding(metal_diag_oob_threadgroup);
        f.index = g.index;
        f.offset = aoff - begin;
        f.extent = g.size;
        f.size = static_cast<unsigned>(n);
        f.access = kind & 3;
        v_report(f, file, line, column, name);
        return false;
      }
    }
    if (aoff >= 0) v_track_at(static_cast<unsigned long long>(aoff), n, kind, file, line, column, name);
    return true;
  }
  // The range the base lies in; else one it ends (a pointer one past the end, then used).
  const metal_diag_range* hit = nullptr;
  for (unsigned i = 0; i < d->nranges && !hit; ++i) {
    const metal_diag_range& r = d->ranges[i];
    if (base >= r.begin && base < r.begin + r.length) hit = &r;
  }
  for (unsigned i = 0; i < d->nranges && !hit; ++i) {
    const metal_diag_range& r = d->ranges[i];
    if (base == r.begin + r.length) hit = &r;
  }
  if (!hit || (kind & v_addr)) return true;
  if (a < hit->begin || a + n > hit->begin + hit->length) {
    metal_diag_finding f = v_finding(metal_diag_oob_buffer);
    f.index = hit->index;
    f.offset = a - hit->begin;
    f.extent = hit->length;
    f.size = static_cast<unsigned>(n);
    f.access = kind & 3;
    v_report(f, file, line, column, name);
    return false;
  }
  return true;
}

// Thread `a` of the group did not reach the barrier at `at` as thread `b` did (b passed `other`).
inline void v_divergence(unsigned a, unsigned b, unsigned at, unsigned other) {
  v_cu_state& s = v_st();
  if (atomicExch(&s.divergence_reported, 1u)) return;
  const cu_block& blk = cu_blk();
  metal_diag_finding f = v_finding(metal_diag_barrier_divergence);
  f.other_thread = int(b);
  f.other_line = other >> 12;
  f.other_column = other & 0xfffu;
  f.offset = a;
  f.line = at >> 12;
  f.column = at & 0xfffu;
  // The finding names thread `a`, whichever thread notices.
  const unsigned lid[3] = {a % blk.ntg[0], (a / blk.ntg[0]) % blk.ntg[1], a / (blk.ntg[0] * blk.ntg[1])};
  for (int c = 0; c < 3; ++c)
    f.local[c] = lid[c], f.group[c] = blk.gpos[c], f.thread[c] = blk.gpos[c] * blk.tg[c] + lid[c];
  v_copy(f.file, s.file, sizeof f.file);
  v_copy(f.name, "threadgroup_barrier", sizeof f.name);
  v_store(f);
}

// Before a threadgroup barrier: this thread's k-th barrier must be the one the others reach.
inline void v_barrier_arrive() {
  if (!v_active()) return;
  v_cu_state& s = v_st();
  const unsigned me = v_self();
  const unsigned k = s.barriers[me];
  const unsigned key = s.site[me] ? s.site[me] : 1u;
  if (k < v_kMaxBarriers) {
    const unsigned old = atomicCAS(&s.site_key[k], 0u, key);
    if (old == 0) {
      s.site_first[k] = static_cast<unsigned short>(me);
      atomicMax(&s.nsites, k + 1);
    } else if (old != key) {
      v_divergence(me, s.site_first[k], key, old);
    }
  }
}
inline void v_barrier_passed() {
  if (v_active()) ++v_st().barriers[v_self()];
}
inline void v_simd_barrier_passed() {
  if (v_active()) ++v_st().simd_barriers[v_self()];
}

// A thread returned from the kernel. The last one of its group checks that every thread
// passed the same number of barriers.
inline void v_leave() {
  if (!v_active()) return;
  v_cu_state& s = v_st();
  const cu_block& b = cu_blk();
  __threadfence_block();
  const unsigned n = b.ntotal < v_kMaxThreads ? b.ntotal : v_kMaxThreads;
  if (atomicAdd(&s.finished, 1u) + 1 != n) return;
  __threadfence_block();
  if (b.block != ~0ull) {  // every thread of the group is done with the shadow slot
    __threadfence();
    atomicExch(reinterpret_cast<unsigned*>(b.diag->busy) + b.block, 0u);
  }
  unsigned hi = 0, lo = 0;
  for (unsigned t = 1; t < n; ++t) {
    if (s.barriers[t] > s.barriers[hi]) hi = t;
    if (s.barriers[t] < s.barriers[lo]) lo = t;
  }
  if (s.barriers[hi] != s.barriers[lo]) {
    const unsigned k = s.barriers[lo];
    const unsigned missed = k < s.nsites && k < v_kMaxBarriers ? s.site_key[k] : s.site[hi];
    v_divergence(lo, hi, missed, s.site[lo]);
  }
}

// After a kernel-scope `threadgroup` declaration: every thread notes it, the first claims a slot.
template <class X> void v_note_tg(X& x, const char*) {
  v_converge converge;
  if (!v_active()) return;
  v_cu_state& s = v_st();
  const unsigned key = static_cast<unsigned>(v_shared_offset(v_bytes(&x))) + 1u;
  for (unsigned k = 0; k < v_kMaxVars; ++k) {
    const unsigned old = atomicCAS(&s.var_begin[k], 0u, key);
    if (old == 0) {
      s.var_size[k] = sizeof(X);
      return;
    }
    if (old == key) return;
  }
}

// Notes the site of the next barrier or texture call.
inline int v_here(unsigned line, unsigned column, const char* file) {
  if (v_active()) {
    v_cu_state& s = v_st();
    s.site[v_self()] = v_site_key(line, column);
    s.file = file;
  }
  return 0;
}
template <class X> X& v_at(X& x, unsigned line, unsigned column, const char* file, const char*) {
  v_here(line, column, file);
  return x;
}

inline void v_texture_oob(unsigned x, unsigned y, unsigned z, unsigned w, unsigned h, unsigned d, bool write) {
  v_converge converge;
  if (!v_active()) return;
  metal_diag_finding f = v_finding(metal_diag_oob_texture);
  f.coord[0] = x, f.coord[1] = y, f.coord[2] = z;
  f.size3[0] = w, f.size3[1] = h, f.size3[2] = d;
  f.access = write ? 2 : 1;
  const unsigned key = v_st().site[v_self()];
  v_report(f, v_st().file, key >> 12, key & 0xfffu, "texture");
}

#define METAL_V_TEXTURE_OOB(x, y, z, d, write) \
  ::metal::detail::v_texture_oob((x), (y), (z), (d).width, (d).height, (d).depth, (write))

#endif

#if defined(PM_VALIDATION)
// ----------------------------------------------------------------------------- both targets

struct v_loc {
  unsigned kind, line, column;
  const char* file;
  const char* name;
};

template <class T> struct v_ptr {
  T* p;
  v_loc l;
  template <class I> T& operator[](I i) const {
    T* a = p + static_cast<long long>(i);
    if (v_check(v_bytes(p), v_bytes(a), sizeof(T), l.kind, l.file, l.line, l.column, l.name)) return *a;
    return *reinterpret_cast<T*>(v_sink(sizeof(T)));
  }
  T& operator*() const { return (*this)[0]; }
};

template <class T, unsigned long N> struct v_arr;
template <class U, unsigned long M> v_arr<U, M> v_acc_array(U (&x)[M], const v_loc& l);

template <class T, unsigned long N> struct v_arr {
  T (&a)[N];
  v_loc l;
  template <class I> decltype(auto) operator[](I i) const {
    [[maybe_unused]] v_converge converge;
    long long k = static_cast<long long>(i);
    bool ok = k >= 0 && static_cast<unsigned long long>(k) < N;
    if (!ok && !(l.kind & v_addr) && v_active()) {
      metal_diag_finding f = v_finding(metal_diag_oob_array);
      f.offset = k;
      f.extent = N;
      f.size = sizeof(T);
      f.access = l.kind & 3;
      f.index = v_tg_index(v_bytes(&a[0]));
      v_report(f, l.file, l.line, l.column, l.name);
    }
    T& elem = ok ? a[k] : *reinterpret_cast<T*>(v_sink(sizeof(T)));
    if constexpr (v_is_arr<typename v_rmcv<T>::type>::value) {
      return v_acc_array(elem, l);
    } else {
      if (ok && v_active()) v_tg_track(v_bytes(&elem), sizeof(T), l.kind, l.file, l.line, l.column, l.name);
      return static_cast<T&>(elem);
    }
  }
};

template <class U, unsigned long M> v_arr<U, M> v_acc_array(U (&x)[M], const v_loc& l) { return v_arr<U, M>{x, l}; }

template <class X>
decltype(auto) v_acc(X&& x, unsigned kind, unsigned line, unsigned column, const char* file, const char* name) {
  using D = typename v_rmcv<typename v_rmref<X>::type>::type;
  if constexpr (v_is_ptr<D>::value) {
    return v_ptr<typename v_rmref<decltype(*x)>::type>{x, {kind, line, column, file, name}};
  } else if constexpr (v_is_arr<D>::value) {
    return v_acc_array(x, v_loc{kind, line, column, file, name});
  } else {
    return static_cast<X&&>(x);
  }
}

// `*p`: a pointer is checked as p[0]; anything else (an array, a class with its own
// operator*) is left alone.
template <class X>
decltype(auto) v_dp(X&& x, unsigned kind, unsigned line, unsigned column, const char* file, const char* name) {
  using D = typename v_rmcv<typename v_rmref<X>::type>::type;
  if constexpr (v_is_ptr<D>::value)
    return v_ptr<typename v_rmref<decltype(*x)>::type>{x, {kind, line, column, file, name}};
  else
    return static_cast<X&&>(x);
}

// `p->m`: the member's bytes, at address `m`, against the range the pointer `p` lies in.
template <class P, class M>
M* v_fld(const P& p, M* m, unsigned kind, unsigned line, unsigned column, const char* file, const char* name) {
  if constexpr (v_is_ptr<typename v_rmcv<P>::type>::value) {
    if (!v_check(v_bytes(p), v_bytes(m), sizeof(M), kind, file, line, column, name))
      return reinterpret_cast<M*>(v_sink(sizeof(M)));
  }
  return m;
}

// A use of a kernel-scope threadgroup scalar (not an array).
template <class X> X& v_tgs(X& x, unsigned kind, unsigned line, unsigned column, const char* file, const char* name) {
  if (v_active()) v_tg_track(v_bytes(&x), sizeof(X), kind, file, line, column, name);
  return x;
}

// A bare use of a threadgroup array or pointer: its address leaves the instrumented
// accesses, so its bytes may be written untracked (no uninitialised-read findings for it).
template <class X> X&& v_esc(X&& x) {
  using D = typename v_rmcv<typename v_rmref<X>::type>::type;
  if (v_active()) {
    const char* p;
    if constexpr (v_is_ptr<D>::value)
      p = v_bytes(x);
    else
      p = v_bytes(&x);
    v_tg_escape(p);
  }
  return static_cast<X&&>(x);
}

#else  // ----------------------------------------------------- no checks (not validating)

template <class X> METAL_FUNC X&& v_acc(X&& x, unsigned, unsigned, unsigned, const char*, const char*) {
  return static_cast<X&&>(x);
}
template <class X> METAL_FUNC X&& v_esc(X&& x) { return static_cast<X&&>(x); }
template <class X> METAL_FUNC X&& v_dp(X&& x, unsigned, unsigned, unsigned, const char*, const char*) {
  return static_cast<X&&>(x);
}
template <class P, class M>
METAL_FUNC M* v_fld(const P&, M* m, unsigned, unsigned, unsigned, const char*, const char*) {
  return m;
}
template <class X> METAL_FUNC X& v_tgs(X& x, unsigned, unsigned, unsigned, const char*, const char*) { return x; }
template <class X> METAL_FUNC void v_note_tg(X&, const char*) {}
METAL_FUNC int v_here(unsigned, unsigned, const char*) { return 0; }
template <class X> METAL_FUNC X& v_at(X& x, unsigned, unsigned, const char*, const char*) { return x; }
#define METAL_V_TEXTURE_OOB(x, y, z, d, write) ((void)0)

#endif

}  // namespace detail
}  // namespace metal
