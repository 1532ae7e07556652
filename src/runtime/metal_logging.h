// MSL 3.2's shader logging (<metal_logging>): `metal::os_log` with log / log_debug /
// log_info / log_error / log_fault / log_with_type, the `os_log_default` logger, and a
// printf-like `metal::printf` (not MSL; what every kernel author reaches for).
//
// A call builds one binary record (format string and typed arguments, see
// metal_diag_abi.h) and hands it to the executor, which appends it whole to the command
// buffer's log; the host formats the records after completion and delivers them to Python's
// `logging` (logger "pymetallic.kernel") or to the command buffer's log handlers.
// Formats are printf's, plus OpenCL's vector conversions (`%v4f`, `%v2d`, `%v3hlf`): a
// vector argument prints as its components separated by commas.
//
// Both targets build the same records; the CPU hands each to the executor's callback, CUDA
// appends it to a log buffer in device memory that the host reads after completion.
#pragma once

#include "metal_config.h"
#include "metal_diag_abi.h"
#include "metal_diag_cuda.h"

namespace metal {

enum os_log_type_t : unsigned {
  OS_LOG_TYPE_DEFAULT = 0x00,
  OS_LOG_TYPE_INFO = 0x01,
  OS_LOG_TYPE_DEBUG = 0x02,
  OS_LOG_TYPE_ERROR = 0x10,
  OS_LOG_TYPE_FAULT = 0x11,
};

namespace detail {

#if defined(METAL_TARGET_CPU)

// The running thread, for messages (the entry wrapper sets it; fibers save and restore it).
struct lg_thread {
  metal_diag* diag = nullptr;
  unsigned tpos[3] = {0, 0, 0}, gpos[3] = {0, 0, 0};
};
inline lg_thread& lg_me() {
  static thread_local lg_thread t;
  return t;
}
inline void lg_enter(const void* diag, const unsigned tg[3], const unsigned gpos[3], const unsigned lid[3]) {
  lg_thread& t = lg_me();
  t.diag = static_cast<metal_diag*>(const_cast<void*>(diag));
  for (int k = 0; k < 3; ++k) t.gpos[k] = gpos[k], t.tpos[k] = gpos[k] * tg[k] + lid[k];
}

#endif

struct lg_record {
  unsigned char bytes[METAL_DIAG_MAX_RECORD];
  unsigned size = 0;
  bool full = false;
  void put(const void* p, unsigned n) {
    if (size + n > sizeof bytes) {
      full = true;
      return;
    }
    const unsigned char* c = static_cast<const unsigned char*>(p);
    for (unsigned i = 0; i < n; ++i) bytes[size + i] = c[i];
    size += n;
  }
  void u8(unsigned char c) { put(&c, 1); }
  void u32(unsigned v) { put(&v, 4); }
  void str(const char* s) {
    if (!s) s = "(null)";
    unsigned n = 0;
    while (s[n]) ++n;
    put(s, n);
    u8(0);
  }
};

template <class T> struct lg_kind {
  static constexpr char value = 0;
};
#define METAL_LG_KIND(T, K)          \
  template <> struct lg_kind<T> {    \
    static constexpr char value = K; \
  };
METAL_LG_KIND(bool, 'u')
METAL_LG_KIND(char, 'i')
METAL_LG_KIND(signed char, 'i')
METAL_LG_KIND(unsigned char, 'u')
METAL_LG_KIND(short, 'i')
METAL_LG_KIND(unsigned short, 'u')
METAL_LG_KIND(int, 'i')
METAL_LG_KIND(unsigned int, 'u')
METAL_LG_KIND(long, 'i')
METAL_LG_KIND(unsigned long, 'u')
METAL_LG_KIND(long long, 'i')
METAL_LG_KIND(unsigned long long, 'u')
METAL_LG_KIND(float, 'f')
METAL_LG_KIND(half, 'f')
METAL_LG_KIND(bfloat, 'f')
#undef METAL_LG_KIND

template <char kind, class T> inline void lg_value(lg_record& r, const T& v) {
  if constexpr (kind == 'f') {
    double d = static_cast<double>(static_cast<float>(v));
    r.put(&d, 8);
  } else if constexpr (kind == 'i') {
    long long i = static_cast<long long>(v);
    r.put(&i, 8);
  } else {
    unsigned long long u = static_cast<unsigned long long>(v);
    r.put(&u, 8);
  }
}

template <class T> inline void lg_arg(lg_record& r, const T& v) {
  constexpr char k = lg_kind<T>::value;
  static_assert(k != 0, "os_log: this argument type cannot be logged (scalars, vectors and strings can)");
  r.u8(static_cast<unsigned char>(k));
  lg_value<k>(r, v);
}
template <class T, int N> inline void lg_arg(lg_record& r, const vec<T, N>& v) {
  constexpr char k = lg_kind<T>::value;
  r.u8('v');
  r.u8(static_cast<unsigned char>(k));
  r.u8(static_cast<unsigned char>(N));
  for (int i = 0; i < N; ++i) lg_value<k>(r, static_cast<T>(v[i]));
}
inline void lg_arg(lg_record& r, const char* s) {
  r.u8('s');
  r.str(s);
}
inline void lg_arg(lg_record& r, char* s) { lg_arg(r, static_cast<const char*>(s)); }
template <class T> inline void lg_arg(lg_record& r, T* p) {
  r.u8('p');
  unsigned long long a = reinterpret_cast<unsigned long long>(p);
  r.put(&a, 8);
}

// Hands a finished record to the command buffer's log.
#if defined(METAL_TARGET_CPU)
inline bool lg_position(unsigned tpos[3], unsigned gpos[3]) {
  lg_thread& t = lg_me();
  if (!t.diag || !t.diag->log) return false;
  for (int k = 0; k < 3; ++k) tpos[k] = t.tpos[k], gpos[k] = t.gpos[k];
  return true;
}
inline void lg_deliver(const lg_record& r) { lg_me().diag->log(lg_me().diag, r.bytes, r.size); }
#else
inline bool lg_position(unsigned tpos[3], unsigned gpos[3]) {
  const cu_block& b = cu_blk();
  if (!b.diag || !b.diag->log) return false;
  unsigned lid[3];
  cu_positions(tpos, gpos, lid);
  return true;
}
// Claims room for the record with one atomic, so records never interleave; what does not
// fit is counted.
inline void lg_deliver(const lg_record& r) {
  metal_diag_dev* d = cu_blk().diag;
  const unsigned size = (r.size + 3u) & ~3u;
  const unsigned at = atomicAdd(&d->log_used, size + 4u);
  if (static_cast<unsigned long long>(at) + size + 4u > d->log_capacity) {
    atomicAdd(&d->log_dropped, 1u);
    return;
  }
  unsigned char* out = reinterpret_cast<unsigned char*>(d->log) + at;
  *reinterpret_cast<unsigned*>(out) = r.size;
  for (unsigned i = 0; i < r.size; ++i) out[4 + i] = r.bytes[i];
}
#endif

template <class... A>
inline void lg_emit(const char* subsystem, const char* category, unsigned level, const char* format, const A&... args) {
  unsigned tpos[3], gpos[3];
  if (!lg_position(tpos, gpos)) return;
  lg_record r;
  r.u32(level);
  for (int k = 0; k < 3; ++k) r.u32(tpos[k]);
  for (int k = 0; k < 3; ++k) r.u32(gpos[k]);
  r.str(subsystem ? subsystem : "");
  r.str(category ? category : "");
  r.str(format);
  int expand[] = {0, (lg_arg(r, args), 0)...};
  (void)expand;
  if (r.full) {
    // Too long for one record: the message says so instead of printing half of it.
    r.size = 0;
    r.full = false;
    r.u32(level);
    for (int k = 0; k < 3; ++k) r.u32(tpos[k]);
    for (int k = 0; k < 3; ++k) r.u32(gpos[k]);
    r.str(subsystem ? subsystem : "");
    r.str(category ? category : "");
    r.str("(log message longer than the 1 KB record limit)");
  }
  lg_deliver(r);
}

#define METAL_LG_EMIT(sub, cat, level, format, args) ::metal::detail::lg_emit(sub, cat, level, format, args...)

}  // namespace detail

struct os_log {
  const char* subsystem;
  const char* category;
  constexpr os_log(const char* s, const char* c) : subsystem(s), category(c) {}
  template <class... A> METAL_FUNC void log(const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, OS_LOG_TYPE_DEFAULT, format, args);
  }
  template <class... A> METAL_FUNC void log_debug(const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, OS_LOG_TYPE_DEBUG, format, args);
  }
  template <class... A> METAL_FUNC void log_info(const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, OS_LOG_TYPE_INFO, format, args);
  }
  template <class... A> METAL_FUNC void log_error(const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, OS_LOG_TYPE_ERROR, format, args);
  }
  template <class... A> METAL_FUNC void log_fault(const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, OS_LOG_TYPE_FAULT, format, args);
  }
  template <class... A> METAL_FUNC void log_with_type(os_log_type_t type, const char* format, A... args) const {
    METAL_LG_EMIT(subsystem, category, type, format, args);
  }
};

// The default logger (subsystem and category empty).
#if defined(METAL_TARGET_CUDA)
__device__ constexpr os_log os_log_default(nullptr, nullptr);
#else
constexpr os_log os_log_default(nullptr, nullptr);
#endif

// printf from a kernel: one message at the default level.
template <class... A> METAL_FUNC void printf(const char* format, A... args) {
  METAL_LG_EMIT(nullptr, nullptr, OS_LOG_TYPE_DEFAULT, format, args);
}

}  // namespace metal
