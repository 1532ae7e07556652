// MSL atomics (MSL.md §5.7): atomic<T> and its aliases, memory_order, thread_scope and
// the atomic_*_explicit functions, for device and threadgroup memory alike (the front
// end erases address spaces, so every function takes a plain pointer).
//
// atomic<T> is a standard-layout struct holding one T: same size and alignment as T,
// trivially default-constructible (CUDA accepts it in __shared__ arrays), so a device
// buffer of uint can be read as atomic_uint. It cannot be copied, as in MSL.
//
// CPU: GCC/Clang __atomic builtins (threadgroups run on different OS threads).
// CUDA: atomicAdd/CAS/Exch/Min/Max/And/Or/Xor, which are relaxed; acquire/release
// orders add __threadfence() after/before. Floats support load, store, exchange,
// compare_exchange, fetch_add and fetch_sub only, as in MSL.
#pragma once
#include "metal_config.h"
#include "metal_sync.h"
#include "metal_type_traits.h"

namespace metal {
enum memory_order {
  memory_order_relaxed = 0,
  memory_order_acquire = 2,
  memory_order_release = 3,
  memory_order_acq_rel = 4,
  memory_order_seq_cst = 5,
};
enum thread_scope {
  thread_scope_thread = 0,
  thread_scope_simdgroup = 1,
  thread_scope_threadgroup = 2,
  thread_scope_device = 3,
};
// MSL 3.2: how far stores to a `coherent` resource are seen. Every store here is seen
// device-wide once fenced, so both values behave as memory_coherence_device.
enum memory_coherence {
  memory_coherence_threadgroup = 0,
  memory_coherence_device = 1,
};

template <class T> struct atomic {
  static_assert(is_same<T, int>::value || is_same<T, uint>::value || is_same<T, bool>::value ||
                    is_same<T, float>::value || is_same<T, ulong>::value || is_same<T, long>::value,
                "MSL atomics exist for int, uint, bool, float and (64-bit) ulong/long");
  typedef T value_type;
  T __value;
  atomic() = default;
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;
};
typedef atomic<int> atomic_int;
typedef atomic<uint> atomic_uint;
typedef atomic<bool> atomic_bool;
typedef atomic<float> atomic_float;
typedef atomic<ulong> atomic_ulong;
typedef atomic<long> atomic_long;
static_assert(sizeof(atomic_uint) == 4 && alignof(atomic_uint) == 4, "atomic_uint is a uint");
static_assert(sizeof(atomic_float) == 4 && sizeof(atomic_bool) == 1 && sizeof(atomic_ulong) == 8,
              "atomic<T> has the size of T");

namespace detail {
template <class T> METAL_FUNC T* atomic_ptr(const volatile atomic<T>* a) { return const_cast<T*>(&a->__value); }
template <class To, class From> METAL_FUNC To atomic_bits(From f) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To t;
  METAL_RT_MEMCPY(&t, &f, sizeof(To));
  return t;
}

template <class T> METAL_FUNC bool atomic_bits_equal(T a, T b) {
  if constexpr (sizeof(T) == 1)
    return atomic_bits<unsigned char>(a) == atomic_bits<unsigned char>(b);
  else if constexpr (sizeof(T) == 4)
    return atomic_bits<unsigned>(a) == atomic_bits<unsigned>(b);
  else
    return atomic_bits<unsigned long>(a) == atomic_bits<unsigned long>(b);
}

#if defined(METAL_TARGET_CPU)
METAL_FUNC constexpr int gcc_order(memory_order o) {
  return o == memory_order_relaxed   ? __ATOMIC_RELAXED
         : o == memory_order_acquire ? __ATOMIC_ACQUIRE
         : o == memory_order_release ? __ATOMIC_RELEASE
         : o == memory_order_acq_rel ? __ATOMIC_ACQ_REL
                                     : __ATOMIC_SEQ_CST;
}
// A load's order may not be release/acq_rel; a store's may not be acquire/acq_rel;
// a CAS failure order may not be release/acq_rel (GCC diagnoses them).
METAL_FUNC constexpr int gcc_load_order(memory_order o) {
  return o == memory_order_relaxed ? __ATOMIC_RELAXED : o == memory_order_seq_cst ? __ATOMIC_SEQ_CST : __ATOMIC_ACQUIRE;
}
METAL_FUNC constexpr int gcc_store_order(memory_order o) {
  return o == memory_order_relaxed ? __ATOMIC_RELAXED : o == memory_order_seq_cst ? __ATOMIC_SEQ_CST : __ATOMIC_RELEASE;
}
#else
// CUDA's atomic functions are relaxed; fences give the stronger orders.
METAL_FUNC void cuda_fence_before(memory_order o) {
  if (o == memory_order_release || o == memory_order_acq_rel || o == memory_order_seq_cst) __threadfence();
}
METAL_FUNC void cuda_fence_after(memory_order o) {
  if (o == memory_order_acquire || o == memory_order_acq_rel || o == memory_order_seq_cst) __threadfence();
}
// The 32-bit CAS used for types without a native one (bool: the word holding the byte).
METAL_FUNC bool cuda_cas_bool(bool* p, bool expected, bool desired) {
  unsigned long addr = reinterpret_cast<unsigned long>(p);
  unsigned* word = reinterpret_cast<unsigned*>(addr & ~3ul);
  unsigned shift = unsigned(addr & 3ul) * 8u;
  unsigned old = *reinterpret_cast<volatile unsigned*>(word);
  for (;;) {
    bool cur = ((old >> shift) & 0xffu) != 0;
    if (cur != expected) return cur;
    unsigned want = (old & ~(0xffu << shift)) | (unsigned(desired) << shift);
    unsigned seen = atomicCAS(word, old, want);
    if (seen == old) return cur;
    old = seen;
  }
}
// The native CAS of T, on its bits; returns the old value.
template <class T> METAL_FUNC T cuda_cas(T* p, T expected, T desired) {
  if constexpr (is_same<T, bool>::value) {
    return cuda_cas_bool(p, expected, desired);
  } else if constexpr (sizeof(T) == 4) {
    unsigned r =
        atomicCAS(reinterpret_cast<unsigned*>(p), atomic_bits<unsigned>(expected), atomic_bits<unsigned>(desired));
    return atomic_bits<T>(r);
  } else {
    unsigned long long r =
        atomicCAS(reinterpret_cast<unsigned long long*>(p), atomic_bits<unsigned long long>(expected),
                  atomic_bits<unsigned long long>(desired));
    return atomic_bits<T>(r);
  }
}
// Native type of CUDA's integer atomics for T (long and ulong go through unsigned long long
// or long long).
template <class T> struct cuda_native {
  typedef T type;
};
template <> struct cuda_native<ulong> {
  typedef unsigned long long type;
};
template <> struct cuda_native<long> {
  typedef long long type;
};
// For the bitwise ops and exchange, 64-bit values go through unsigned long long.
template <class T> struct cuda_bitwise {
  typedef T type;
};
template <> struct cuda_bitwise<ulong> {
  typedef unsigned long long type;
};
template <> struct cuda_bitwise<long> {
  typedef unsigned long long type;
};
template <class T> METAL_FUNC typename cuda_native<T>::type* cuda_native_ptr(T* p) {
  return reinterpret_cast<typename cuda_native<T>::type*>(p);
}
#endif

// Read-modify-write with a function of the old value (CAS loop): float sub on CPU etc.
template <class T, class F> METAL_FUNC T atomic_rmw_cas(T* p, F f, memory_order o) {
#if defined(METAL_TARGET_CPU)
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T want = f(old);
  while (!__atomic_compare_exchange(p, &old, &want, true, gcc_order(o), __ATOMIC_RELAXED)) want = f(old);
  return old;
#else
  cuda_fence_before(o);
  T old = *reinterpret_cast<volatile T*>(p);
  for (;;) {
    T seen = cuda_cas(p, old, f(old));
    if (atomic_bits_equal(seen, old)) break;
    old = seen;
  }
  cuda_fence_after(o);
  return old;
#endif
}
template <class T> constexpr bool atomic_is_int = detail::scalar_integral<T> && !is_same<T, bool>::value;
}  // namespace detail

// ---- load, store, exchange, compare_exchange ---------------------------------------
template <class T> METAL_FUNC T atomic_load_explicit(const volatile atomic<T>* obj, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  T r;
  __atomic_load(p, &r, detail::gcc_load_order(order));
  return r;
#else
  if (order == memory_order_seq_cst) __threadfence();
  T r = *reinterpret_cast<volatile T*>(p);
  detail::cuda_fence_after(order);
  return r;
#endif
}

template <class T>
METAL_FUNC void atomic_store_explicit(volatile atomic<T>* obj, type_identity_t<T> desired, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  __atomic_store(p, &desired, detail::gcc_store_order(order));
#else
  detail::cuda_fence_before(order);
  *reinterpret_cast<volatile T*>(p) = desired;
  if (order == memory_order_seq_cst) __threadfence();
#endif
}

template <class T>
METAL_FUNC T atomic_exchange_explicit(volatile atomic<T>* obj, type_identity_t<T> desired, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  T r;
  __atomic_exchange(p, &desired, &r, detail::gcc_order(order));
  return r;
#else
  detail::cuda_fence_before(order);
  T r;
  if constexpr (is_same<T, bool>::value) {
    r = detail::atomic_rmw_cas(p, [=](bool) { return desired; }, memory_order_relaxed);
  } else {
    typedef typename detail::cuda_bitwise<T>::type N;
    r = T(atomicExch(reinterpret_cast<N*>(p), N(desired)));
  }
  detail::cuda_fence_after(order);
  return r;
#endif
}

// Compares *obj with *expected bit for bit; equal: stores desired and returns true;
// different: writes the current value to *expected and returns false. (Never fails
// spuriously, which the weak form allows.)
template <class T> METAL_FUNC bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* obj, T* expected,
                                                                         type_identity_t<T> desired,
                                                                         memory_order success, memory_order failure) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  (void)failure;
  return __atomic_compare_exchange(p, expected, &desired, false, detail::gcc_order(success),
                                   detail::gcc_load_order(failure));
#else
  detail::cuda_fence_before(success);
  T want = *expected;
  T old = detail::cuda_cas(p, want, desired);
  bool ok = detail::atomic_bits_equal(old, want);
  detail::cuda_fence_after(ok ? success : failure);
  if (!ok) *expected = old;
  return ok;
#endif
}
template <class T> METAL_FUNC bool atomic_compare_exchange_strong_explicit(volatile atomic<T>* obj, T* expected,
                                                                           type_identity_t<T> desired,
                                                                           memory_order success, memory_order failure) {
  return atomic_compare_exchange_weak_explicit(obj, expected, desired, success, failure);
}

// ---- fetch_<op> --------------------------------------------------------------------
#if defined(METAL_TARGET_CPU)
#define METAL_RT_ATOMIC_INT_OP(NAME, BUILTIN, CUDAFN)                                                              \
  template <class T, enable_if_t<detail::atomic_is_int<T>, int> = 0>                                               \
  METAL_FUNC T atomic_fetch_##NAME##_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) { \
    return BUILTIN(detail::atomic_ptr(obj), v, detail::gcc_order(order));                                          \
  }
#else
#define METAL_RT_ATOMIC_INT_OP(NAME, BUILTIN, CUDAFN)                                                              \
  template <class T, enable_if_t<detail::atomic_is_int<T>, int> = 0>                                               \
  METAL_FUNC T atomic_fetch_##NAME##_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) { \
    detail::cuda_fence_before(order);                                                                              \
    typedef typename detail::cuda_bitwise<T>::type N;                                                              \
    T r = T(CUDAFN(reinterpret_cast<N*>(detail::atomic_ptr(obj)), N(v)));                                          \
    detail::cuda_fence_after(order);                                                                               \
    return r;                                                                                                      \
  }
#endif
METAL_RT_ATOMIC_INT_OP(and, __atomic_fetch_and, atomicAnd)
METAL_RT_ATOMIC_INT_OP(or, __atomic_fetch_or, atomicOr)
METAL_RT_ATOMIC_INT_OP(xor, __atomic_fetch_xor, atomicXor)
#undef METAL_RT_ATOMIC_INT_OP

namespace detail {
#if defined(METAL_TARGET_CUDA)
// CUDA has no 64-bit atomicSub and no atomicAnd/Or/Xor for long long; add the negation.
template <class T> METAL_FUNC T cuda_fetch_add(T* p, T v) {
  if constexpr (sizeof(T) == 8)
    return T(atomicAdd(reinterpret_cast<unsigned long long*>(p), (unsigned long long)(v)));
  else
    return T(atomicAdd(p, v));
}
#endif
}  // namespace detail

template <class T, enable_if_t<detail::atomic_is_int<T> || is_same<T, float>::value, int> = 0>
METAL_FUNC T atomic_fetch_add_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  if constexpr (is_same<T, float>::value)
    return detail::atomic_rmw_cas(p, [=](float old) { return old + v; }, order);
  else
    return __atomic_fetch_add(p, v, detail::gcc_order(order));
#else
  detail::cuda_fence_before(order);
  T r = detail::cuda_fetch_add(p, v);
  detail::cuda_fence_after(order);
  return r;
#endif
}

template <class T, enable_if_t<detail::atomic_is_int<T> || is_same<T, float>::value, int> = 0>
METAL_FUNC T atomic_fetch_sub_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  if constexpr (is_same<T, float>::value)
    return detail::atomic_rmw_cas(p, [=](float old) { return old - v; }, order);
  else
    return __atomic_fetch_sub(p, v, detail::gcc_order(order));
#else
  detail::cuda_fence_before(order);
  T r;
  if constexpr (is_same<T, float>::value)
    r = atomicAdd(p, -v);
  else
    r = detail::cuda_fetch_add(p, T(detail::wrap_t<T>(0) - detail::wrap_t<T>(v)));  // wraps, as unsigned sub
  detail::cuda_fence_after(order);
  return r;
#endif
}

template <class T, enable_if_t<detail::atomic_is_int<T>, int> = 0>
METAL_FUNC T atomic_fetch_min_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  return detail::atomic_rmw_cas(p, [=](T old) { return v < old ? v : old; }, order);
#else
  detail::cuda_fence_before(order);
  T r = T(atomicMin(detail::cuda_native_ptr(p), typename detail::cuda_native<T>::type(v)));
  detail::cuda_fence_after(order);
  return r;
#endif
}

template <class T, enable_if_t<detail::atomic_is_int<T>, int> = 0>
METAL_FUNC T atomic_fetch_max_explicit(volatile atomic<T>* obj, type_identity_t<T> v, memory_order order) {
  T* p = detail::atomic_ptr(obj);
#if defined(METAL_TARGET_CPU)
  return detail::atomic_rmw_cas(p, [=](T old) { return old < v ? v : old; }, order);
#else
  detail::cuda_fence_before(order);
  T r = T(atomicMax(detail::cuda_native_ptr(p), typename detail::cuda_native<T>::type(v)));
  detail::cuda_fence_after(order);
  return r;
#endif
}

// ---- scoped atomics (MSL 3.2): the same functions with a thread_scope after the orders.
// Every atomic here is coherent device-wide, which satisfies any narrower scope.
template <class T> METAL_FUNC T atomic_load_explicit(const volatile atomic<T>* obj, memory_order order, thread_scope) {
  return atomic_load_explicit(obj, order);
}
template <class T> METAL_FUNC void atomic_store_explicit(volatile atomic<T>* obj, type_identity_t<T> desired,
                                                         memory_order order, thread_scope) {
  atomic_store_explicit(obj, desired, order);
}
template <class T> METAL_FUNC T atomic_exchange_explicit(volatile atomic<T>* obj, type_identity_t<T> desired,
                                                         memory_order order, thread_scope) {
  return atomic_exchange_explicit(obj, desired, order);
}
template <class T>
METAL_FUNC bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* obj, T* expected, type_identity_t<T> desired,
                                                      memory_order success, memory_order failure, thread_scope) {
  return atomic_compare_exchange_weak_explicit(obj, expected, desired, success, failure);
}
template <class T> METAL_FUNC bool atomic_compare_exchange_strong_explicit(volatile atomic<T>* obj, T* expected,
                                                                           type_identity_t<T> desired,
                                                                           memory_order success, memory_order failure,
                                                                           thread_scope) {
  return atomic_compare_exchange_weak_explicit(obj, expected, desired, success, failure);
}
#define METAL_RT_ATOMIC_SCOPED(NAME)                                                                               \
  template <class T> METAL_FUNC auto atomic_fetch_##NAME##_explicit(volatile atomic<T>* obj, type_identity_t<T> v, \
                                                                    memory_order order, thread_scope)              \
      ->decltype(atomic_fetch_##NAME##_explicit(obj, v, order)) {                                                  \
    return atomic_fetch_##NAME##_explicit(obj, v, order);                                                          \
  }
METAL_RT_ATOMIC_SCOPED(add)
METAL_RT_ATOMIC_SCOPED(sub)
METAL_RT_ATOMIC_SCOPED(min)
METAL_RT_ATOMIC_SCOPED(max)
METAL_RT_ATOMIC_SCOPED(and)
METAL_RT_ATOMIC_SCOPED(or)
METAL_RT_ATOMIC_SCOPED(xor)
#undef METAL_RT_ATOMIC_SCOPED

// ---- fences ------------------------------------------------------------------------
METAL_FUNC void atomic_thread_fence(mem_flags, memory_order order, thread_scope scope = thread_scope_device) {
#if defined(METAL_TARGET_CPU)
  (void)scope;
  if (order != memory_order_relaxed) __atomic_thread_fence(detail::gcc_order(order));
#else
  if (order == memory_order_relaxed) return;
  if (scope == thread_scope_threadgroup || scope == thread_scope_simdgroup)
    __threadfence_block();
  else
    __threadfence();
#endif
}
}  // namespace metal
