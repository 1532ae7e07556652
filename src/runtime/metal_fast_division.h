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

// Index-set splitting of the thread loop (msl/fast_division.h): a remainder or quotient of
// `(t + c)` by `d`, t the thread's x position in the grid and c a sum of terms that do not
// change during a dispatch (literals, `constant` arguments, counters of loops with literal
// bounds), has one quotient for every thread of a run [a, b) that the CPU entry picks with
// split_run(). The kernel's CPU copy evaluates the dividend a second time at t = a (`elo`)
// and divides that, once per run (the compiler hoists it out of the loop over t):
// `e % d == e - (elo / d) * d` is then `t + constant`, contiguous across the threads, and the
// loop reads the neighbours with plain vector loads instead of gathers. Exact whenever the
// quotients agree; the entry passes a = t itself (a run of one thread) where it cannot show it.
template <class E, class L, class D> METAL_FUNC auto split_rem(const E& e, const L& elo, const D& d) {
  using R = decltype(e % d);
  if constexpr (scalar_integral<R> && scalar_integral<E> && scalar_integral<L>) {
    using W = wrap_t<R>;
    const R q = R(elo / fast_divisor(d));
    return R(W(R(e)) - W(q) * W(R(d)));
  } else {
    return e % fast_divisor(d);
  }
}
template <class E, class L, class D> METAL_FUNC auto split_quo(const E& e, const L& elo, const D& d) {
  using R = decltype(e / d);
  if constexpr (scalar_integral<R> && scalar_integral<E> && scalar_integral<L>) {
    return R(elo / fast_divisor(d));
  } else {
    return e / fast_divisor(d);
  }
}

// One split division as the entry sees it: c lies in [cmin, cmax]; d is the divisor. `ok`
// when every term and the divisor could be read as the values the kernel computes with (see
// split_run).
struct split_site {
  int64_t cmin = 0, cmax = 0, d = 1;
  bool ok = true;
};
// A term of c: a scalar integer of at most 32 bits (the dividend is then computed in 32-bit
// arithmetic, modulo 2^32, whatever the terms' signs).
template <class T> METAL_FUNC void split_add(split_site& s, const T& v, int sign) {
  if constexpr ((scalar_integral<T> || __is_enum(T)) && sizeof(T) <= 4) {
    const int64_t x = static_cast<int64_t>(v);
    s.cmin += sign * x;
    s.cmax += sign * x;
  } else {
    (void)v;
    (void)sign;
    s.ok = false;
  }
}
template <class T> METAL_FUNC void split_divisor(split_site& s, const T& v) {
  if constexpr (scalar_integral<T> || __is_enum(T)) {
    const int64_t x = static_cast<int64_t>(v);
    if (x >= 1 && x < (int64_t(1) << 31))  // an unsigned 64-bit value >= 2^63 reads as negative
      s.d = x;
    else
      s.ok = false;
  } else {
    (void)v;
    s.ok = false;
  }
}
// How many threads from x position a on (at most `limit`, at least 1) have, for every site
// and every c of its range, one quotient. The values t + c of such a run lie in
// [0, 2^31), where the 32-bit dividend the kernel computes (modulo 2^32, as int or uint) is
// the integer t + c itself and C++'s truncating quotient is the floor; they lie between two
// multiples of d. Anything else gives a run of one thread, exact by construction.
METAL_FUNC uint32_t split_run(const split_site* s, uint32_t count, uint32_t a, uint32_t limit) {
  int64_t len = limit;
  constexpr int64_t top = (int64_t(1) << 31) - 1;
  for (uint32_t i = 0; i < count; ++i) {
    if (!s[i].ok) return 1;
    const int64_t lo = int64_t(a) + s[i].cmin, hi = int64_t(a) + s[i].cmax, d = s[i].d;
    if (lo < 0 || hi > top || lo / d != hi / d) return 1;
    const int64_t to_multiple = d - 1 - hi % d, to_top = top - hi;
    const int64_t room = 1 + (to_multiple < to_top ? to_multiple : to_top);
    if (room < len) len = room;
  }
  return uint32_t(len < 1 ? 1 : len);
}

#else  // CUDA: the copy is never called; the divisions stay as written.

template <class T> METAL_FUNC T fast_divisor(T v) { return v; }
template <class T> METAL_FUNC bool fast_divisor_ok(T) { return true; }
template <class E, class L, class D> METAL_FUNC auto split_rem(const E& e, const L&, const D& d) { return e % d; }
template <class E, class L, class D> METAL_FUNC auto split_quo(const E& e, const L&, const D& d) { return e / d; }

#endif

}  // namespace detail
}  // namespace metal
