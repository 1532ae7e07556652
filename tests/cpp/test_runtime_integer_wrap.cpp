// The runtime's integer operations at INT_MIN/INT_MAX wrap like MSL's, without undefined
// behaviour in C++ (they compute in the unsigned type: detail::wrap_t). Built with
// -fsanitize=undefined these must stay silent; the values are checked against 64-bit/128-bit
// arithmetic reduced modulo 2^bits.
#include <gtest/gtest.h>

#include <cstdint>

#define METAL_TARGET_CPU 1
#include "runtime/metal_runtime.h"

namespace {

// Opaque to the optimiser: the operations run at run time, not in constant folding.
template <class T> __attribute__((noinline)) T opaque(T x) { return x; }

int32_t wrap32(int64_t v) { return int32_t(uint32_t(uint64_t(v))); }

TEST(RuntimeIntegerWrap, ScalarFunctionsAtTheEdges) {
  const int mn = opaque(INT32_MIN), mx = opaque(INT32_MAX);
  EXPECT_EQ(metal::abs(mn), mn);
  EXPECT_EQ(metal::abs(opaque(short(-32768))), short(-32768));
  EXPECT_EQ(metal::abs(opaque(int64_t(INT64_MIN))), INT64_MIN);
  EXPECT_EQ(metal::mul24(opaque(-8388608), opaque(-8388608)), wrap32(int64_t(-8388608) * -8388608));
  EXPECT_EQ(metal::mad24(opaque(-8388608), opaque(-8388608), mx), wrap32(int64_t(-8388608) * -8388608 + INT32_MAX));
  EXPECT_EQ(metal::madhi(mx, mx, mx), wrap32(((int64_t(INT32_MAX) * INT32_MAX) >> 32) + INT32_MAX));
  EXPECT_EQ(metal::mulhi(mn, mn), int32_t((int64_t(INT32_MIN) * INT32_MIN) >> 32));
  EXPECT_EQ(metal::addsat(mx, 1), INT32_MAX);
  EXPECT_EQ(metal::subsat(mn, 1), INT32_MIN);
  EXPECT_EQ(metal::rotate(mn, 1), 1);
  EXPECT_EQ(metal::extract_bits(opaque(short(-1)), 0u, 5u), short(-1));
  EXPECT_EQ(metal::insert_bits(opaque(short(0)), opaque(short(-1)), 15u, 1u), short(-32768));
}

TEST(RuntimeIntegerWrap, VectorOperatorsAtTheEdges) {
  metal::int4 a(opaque(INT32_MIN)), b(opaque(INT32_MAX));
  EXPECT_EQ((a + b).x, -1);
  EXPECT_EQ((a - b).x, 1);
  EXPECT_EQ((a * b).x, INT32_MIN);
  EXPECT_EQ((-a).x, INT32_MIN);
  EXPECT_EQ((b << metal::int4(31)).x, INT32_MIN);
  EXPECT_EQ((a >> metal::int4(31)).x, -1);  // arithmetic shift
  metal::int4 c = b;
  c++;
  EXPECT_EQ(c.w, INT32_MIN);
  metal::ushort2 u(opaque(ushort(65535)));
  EXPECT_EQ((u * u).x, ushort(1));  // 65535 * 65535 overflows int after promotion
  metal::short2 s(opaque(short(-32768)));
  EXPECT_EQ((s * s).y, short(0));
  metal::long2 l(opaque(int64_t(INT64_MIN)));
  EXPECT_EQ((l + l).x, 0);
  EXPECT_EQ((-l).y, INT64_MIN);
}

}  // namespace
