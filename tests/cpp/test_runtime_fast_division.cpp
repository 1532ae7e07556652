// The CPU runtime's division by a dispatch-invariant divisor (metal_fast_division.h): the
// reciprocal is exact (compared with the integer division that defines it) and every
// quotient and remainder equals the hardware's, for divisors 1..2^16, powers of two and
// their neighbours, the extremes, and pseudo-random divisors, each with edge and random
// dividends; signed and unsigned, and the mixed `uint % int` case.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#define METAL_TARGET_CPU 1
#include "runtime/metal_runtime.h"

namespace {

using metal::detail::fast_divisor;

template <class T> __attribute__((noinline)) T opaque(T x) { return x; }

std::vector<uint32_t> unsigned_divisors() {
  std::vector<uint32_t> d;
  for (uint32_t i = 1; i <= 65536; ++i) d.push_back(i);
  for (int b = 16; b < 32; ++b)
    for (int64_t k = -3; k <= 3; ++k) d.push_back(uint32_t((int64_t(1) << b) + k));
  d.push_back(0xFFFFFFFFu);
  d.push_back(0xFFFFFFFEu);
  d.push_back(0x80000000u);
  d.push_back(0x80000001u);
  d.push_back(0x7FFFFFFFu);
  std::mt19937 rng(13);
  for (int i = 0; i < 20000; ++i) d.push_back(rng() | 1u << (rng() % 32));
  return d;
}

std::vector<uint32_t> unsigned_dividends(uint32_t d, std::mt19937& rng) {
  std::vector<uint32_t> n = {0u, 1u, 2u, 3u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
  for (uint64_t k : {uint64_t(1), uint64_t(2), uint64_t(3), uint64_t(0xFFFFFFFFu) / d, uint64_t(0xFFFFFFFFu) / d - 1}) {
    const uint64_t m = k * d;
    for (int64_t e = -1; e <= 1; ++e)
      if (int64_t(m) + e >= 0 && int64_t(m) + e <= 0xFFFFFFFFll) n.push_back(uint32_t(int64_t(m) + e));
  }
  for (int i = 0; i < 16; ++i) n.push_back(rng());
  return n;
}

TEST(RuntimeFastDivision, UnsignedReciprocalIsExact) {
  for (uint32_t d : unsigned_divisors()) {
    const uint32_t l = d <= 1 ? 0 : 32 - __builtin_clz(d - 1);
    const uint64_t num = uint64_t(uint32_t((uint64_t(1) << l) - d)) << 32;
    const uint32_t expect = uint32_t(num / d) + 1;
    ASSERT_EQ(metal::detail::fd_make_unsigned(opaque(d)).m, expect) << "d = " << d;
  }
}

TEST(RuntimeFastDivision, UnsignedQuotientsAndRemainders) {
  std::mt19937 rng(7);
  for (uint32_t d : unsigned_divisors()) {
    const auto fd = fast_divisor(opaque(d));
    for (uint32_t n : unsigned_dividends(d, rng)) {
      ASSERT_EQ(opaque(n) / fd, n / d) << n << " / " << d;
      ASSERT_EQ(opaque(n) % fd, n % d) << n << " % " << d;
    }
  }
}

TEST(RuntimeFastDivision, SignedQuotientsAndRemainders) {
  std::mt19937 rng(11);
  std::vector<int32_t> ds;
  for (uint32_t d : unsigned_divisors()) {
    ds.push_back(int32_t(d));
    ds.push_back(int32_t(0u - d));
  }
  ds.push_back(INT32_MIN);
  ds.push_back(INT32_MAX);
  ds.push_back(INT32_MIN + 1);
  for (int32_t d : ds) {
    if (d == 0) continue;
    const auto fd = fast_divisor(opaque(d));
    std::vector<int32_t> ns = {
        0, 1, -1, 2, -2, INT32_MAX, INT32_MIN + 1, d, int32_t(uint32_t(d) + 1u), int32_t(uint32_t(d) - 1u)};
    if (d != -1) ns.push_back(INT32_MIN);  // INT_MIN / -1 traps, as the hardware's division does
    for (uint32_t u : unsigned_dividends(d < 0 ? 0u - uint32_t(d) : uint32_t(d), rng)) ns.push_back(int32_t(u));
    for (int32_t n : ns) {
      if (d == -1 && n == INT32_MIN) continue;
      ASSERT_EQ(opaque(n) / fd, n / d) << n << " / " << d;
      ASSERT_EQ(opaque(n) % fd, n % d) << n << " % " << d;
      // uint by int: the usual arithmetic conversions make it an unsigned division.
      const uint32_t un = uint32_t(n);
      ASSERT_EQ(opaque(un) / fd, un / uint32_t(d)) << un << " / (int)" << d;
      ASSERT_EQ(opaque(un) % fd, un % uint32_t(d)) << un << " % (int)" << d;
      // short and char dividends promote to int.
      const short sn = short(n);
      ASSERT_EQ(opaque(sn) / fd, sn / d);
      ASSERT_EQ(opaque(sn) % fd, sn % d);
    }
  }
}

TEST(RuntimeFastDivision, OtherTypesDivideAsWritten) {
  const uint32_t d = opaque(7u);
  const auto fd = fast_divisor(d);
  EXPECT_EQ(opaque(int64_t(-50)) / fd, int64_t(-50) / d);  // long / uint: a 64-bit signed division
  EXPECT_EQ(opaque(int64_t(-50)) % fd, int64_t(-50) % d);
  EXPECT_EQ(opaque(-50) / fd, uint32_t(-50) / d);  // int / uint: unsigned
  EXPECT_FLOAT_EQ(opaque(10.0f) / fd, 10.0f / 7.0f);
  const metal::uint2 v(opaque(15u), opaque(22u));
  EXPECT_EQ((v / fd).x, 2u);
  EXPECT_EQ((v % fd).y, 1u);
  EXPECT_EQ(opaque(10.0f) / fast_divisor(opaque(4.0f)), 2.5f);  // not an integer: the value itself
  EXPECT_EQ(opaque(uint64_t(1) << 40) / fast_divisor(opaque(uint64_t(3))), (uint64_t(1) << 40) / 3);
}

TEST(RuntimeFastDivision, EntryTest) {
  EXPECT_FALSE(metal::detail::fast_divisor_ok(opaque(0u)));
  EXPECT_TRUE(metal::detail::fast_divisor_ok(opaque(1u)));
  EXPECT_FALSE(metal::detail::fast_divisor_ok(opaque(0)));
  EXPECT_FALSE(metal::detail::fast_divisor_ok(opaque(-1)));
  EXPECT_TRUE(metal::detail::fast_divisor_ok(opaque(-2)));
  EXPECT_TRUE(metal::detail::fast_divisor_ok(opaque(0.0f)));  // not replaced: nothing to test
}

}  // namespace
