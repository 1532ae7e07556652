// (internal, CPU) Integer division and remainder by a divisor that does not change during a
// dispatch (a kernel's `constant` argument), as a multiply-high by a reciprocal.
//
// x86 has no vector integer division, so a thread loop with `(gid.x + n + dx) % n` stays
// scalar. The front end (msl/fast_division.h) gives such a kernel a CPU-only copy whose
// divisions by a `constant` argument read `x % ::metal::detail::fast_divisor(n)`; the CPU
// entry runs that copy when fast_divisor_ok() holds for every such argument (not 0; for
// `int`, not 0 or -1) and the kernel as written otherwise. fast_divisor() computes the
// reciprocal without an integer division, so the compiler can compute it once, before the
// loop, and the loop vectorises. The results are exact for every dividend and divisor: the
// same values as C++'s (and MSL's) `/` and `%`, with the usual arithmetic conversions.
// Division by 0 (and INT_MIN / -1) still runs the hardware division, which traps as before.
//
// Unsigned: T. Granlund and P. L. Montgomery, "Division by Invariant Integers using
// Multiplication", PLDI 1994, Figure 4.1 (N = 32): with l = ceil(log2 d) and
// m' = floor(2^N (2^l - d) / d) + 1, q = SRL(t1 + SRL(n - t1, min(l, 1)), max(l - 1, 0)) where
// t1 = MULUH(m', n). Signed: the same paper, Figure 5.2: with l = max(ceil(log2 |d|), 1),
// m' = 1 + floor(2^(N+l-1) / |d|) - 2^N (a negative N-bit value), q0 = n + MULSH(m', n),
// q0 = SRA(q0, l - 1) - XSIGN(n), q = EOR(q0, dsign) - dsign. Written here from the paper.
#pragma once
#include "metal_config.h"
#include "metal_type_traits.h"

namespace metal {
namespace detail {

#if defined(METAL_TARGET_CPU)

// floor(num / d) for 1 <= d < 2^32, num = k * 2^j < 2^64 (exact in a double) and a quotient
// below 2^33, without an integer division: a double-precision estimate (relative error
// below 2^-51 even where the compiler multiplies by a reciprocal under fast math, so off by
// at most one) and one correction step. No instruction here can trap, so the compiler may
// hoist it out of a loop whatever the loop's control flow.
METAL_FUNC uint64_t fd_floor_div(uint64_t num, uint32_t d) {
  const uint64_t d64 = d == 0 ? 1u : d;  // 0: any finite value (the caller never uses it)
  uint64_t q = uint64_t(double(num) / double(d64));
  // q is floor(num / d) - 1, + 0 or + 1; (q + 1) * d64 cannot wrap where it is selected.
  q = q * d64 > num ? q - 1 : ((q + 1) * d64 <= num ? q + 1 : q);
  return q;
}

struct fd_unsigned {
  uint32_t d;
  uint32_t m;       // m'
  uint32_t s1, s2;  // min(l, 1), max(l - 1, 0)
};
METAL_FUNC fd_unsigned fd_make_unsigned(uint32_t d) {
  const uint32_t l = d <= 1 ? 0u : 32u - uint32_t(__builtin_clz(d - 1));  // ceil(log2 d)
  const uint64_t num = uint64_t(uint32_t((uint64_t(1) << l) - d)) << 32;  // 2^32 (2^l - d)
  return fd_unsigned{d, uint32_t(fd_floor_div(num, d)) + 1u, l < 1u ? l : 1u, l > 1u ? l - 1u : 0u};
}
METAL_FUNC uint32_t fd_quotient(uint32_t n, const fd_unsigned& v) {
  const uint32_t t1 = uint32_t((uint64_t(v.m) * n) >> 32);
  return (t1 + ((n - t1) >> v.s1)) >> v.s2;
}

struct fd_signed {
  int32_t d;
  int32_t m;      // m'
  uint32_t sh;    // l - 1
  int32_t dsign;  // -1 when d < 0
};
METAL_FUNC fd_signed fd_make_signed(int32_t d) {
  const uint32_t ad = d < 0 ? 0u - uint32_t(d) : uint32_t(d);               // |d| (2^31 for INT_MIN)
  const uint32_t l = ad <= 2 ? 1u : 32u - uint32_t(__builtin_clz(ad - 1));  // max(ceil(log2 |d|), 1)
  // 1 + floor(2^(31+l) / |d|) - 2^32, as a 32-bit pattern (|d| = 1: 2^32 + 1 - 2^32 = 1).
  const uint32_t m = uint32_t(fd_floor_div(uint64_t(1) << (31 + l), ad) + 1u);
  return fd_signed{d, int32_t(m), l - 1u, d < 0 ? -1 : 0};
}
METAL_FUNC int32_t fd_quotient(int32_t n, const fd_signed& v) {
  const int32_t mulsh = int32_t((int64_t(v.m) * int64_t(n)) >> 32);
  int32_t q0 = int32_t(uint32_t(n) + uint32_t(mulsh));     // floor(n (2^32 + m') / 2^32): fits
  q0 = int32_t(uint32_t(q0 >> v.sh) - uint32_t(n >> 31));  // SRA, then + 1 for a negative n (wraps as MSL)
  return int32_t(uint32_t(q0 ^ v.dsign) - uint32_t(v.dsign));
}

// The divisor as the front end passes it: the value and its reciprocal.
struct fast_divisor_u32 {
  uint32_t value;
  fd_unsigned r;
};
struct fast_divisor_i32 {
  int32_t value;
  fd_signed r;
};

// Other types (float, vectors, 64-bit, enums, ...): the value itself, so `x / fast_divisor(v)`
// is `x / v`.
template <class T> METAL_FUNC T fast_divisor(T v) { return v; }
METAL_FUNC fast_divisor_u32 fast_divisor(uint32_t v) { return fast_divisor_u32{v, fd_make_unsigned(v)}; }
METAL_FUNC fast_divisor_i32 fast_divisor(int32_t v) { return fast_divisor_i32{v, fd_make_signed(v)}; }

// The CPU entry runs the copy with fast divisors only when each divisor passes this test.
template <class T> METAL_FUNC bool fast_divisor_ok(T) { return true; }
METAL_FUNC bool fast_divisor_ok(uint32_t v) { return v != 0; }
METAL_FUNC bool fast_divisor_ok(int32_t v) { return v != 0 && v != -1; }

// Built-in integer scalars whose usual arithmetic conversions with a 32-bit divisor give
// R (uint32_t or int32_t): bool, char, short, int, uint and their unsigned/signed kinds.
template <class L, class D, class R> constexpr bool fd_scalar_is =
    scalar_integral<L> && is_same<decltype(declval<L>() / declval<D>()), R>::value;

// The hardware division of the rare cases, with a divisor the compiler cannot see through
// (it would otherwise treat a division by a known 0 as impossible and drop the branch).
template <class T> METAL_FUNC T fd_opaque(T v) {
  asm("" : "+r"(v));
  return v;
}

template <class L> METAL_FUNC auto operator/(const L& x, const fast_divisor_u32& d) {
  if constexpr (fd_scalar_is<L, uint32_t, uint32_t>) {
    if (__builtin_expect(d.value == 0, 0)) return uint32_t(uint32_t(x) / fd_opaque(d.value));  // traps, as before
    return fd_quotient(uint32_t(x), d.r);
  } else {
    return x / d.value;
  }
}
template <class L> METAL_FUNC auto operator%(const L& x, const fast_divisor_u32& d) {
  if constexpr (fd_scalar_is<L, uint32_t, uint32_t>) {
    if (__builtin_expect(d.value == 0, 0)) return uint32_t(uint32_t(x) % fd_opaque(d.value));
    return uint32_t(uint32_t(x) - fd_quotient(uint32_t(x), d.r) * d.value);
  } else {
    return x % d.value;
  }
}
template <class L> METAL_FUNC auto operator/(const L& x, const fast_divisor_i32& d) {
  if constexpr (fd_scalar_is<L, int32_t, int32_t>) {
    if (__builtin_expect(d.value == 0 || d.value == -1, 0)) return int32_t(int32_t(x) / fd_opaque(d.value));
    return fd_quotient(int32_t(x), d.r);
  } else if constexpr (fd_scalar_is<L, int32_t, uint32_t>) {  // uint / int: unsigned division
    const uint32_t ud = uint32_t(d.value);
    if (__builtin_expect(ud == 0, 0)) return uint32_t(uint32_t(x) / fd_opaque(ud));
    return fd_quotient(uint32_t(x), fd_make_unsigned(ud));
  } else {
    return x / d.value;
  }
}
template <class L> METAL_FUNC auto operator%(const L& x, const fast_divisor_i32& d) {
  if constexpr (fd_scalar_is<L, int32_t, int32_t>) {
    if (__builtin_expect(d.value == 0 || d.value == -1, 0)) return int32_t(int32_t(x) % fd_opaque(d.value));
    const int32_t n = int32_t(x);
    return int32_t(uint32_t(n) - uint32_t(fd_quotient(n, d.r)) * uint32_t(d.value));
  } else if constexpr (fd_scalar_is<L, int32_t, uint32_t>) {
    const uint32_t ud = uint32_t(d.value);
    if (__builtin_expect(ud == 0, 0)) return uint32_t(uint32_t(x) % fd_opaque(ud));
    return uint32_t(uint32_t(x) - fd_quotient(uint32_t(x), fd_make_unsigned(ud)) * ud);
  } else {
    return x % d.value;
  }
}

#else  // CUDA: the copy is never called; the divisions stay as written.

template <class T> METAL_FUNC T fast_divisor(T v) { return v; }
template <class T> METAL_FUNC bool fast_divisor_ok(T) { return true; }

#endif

}  // namespace detail
}  // namespace metal
