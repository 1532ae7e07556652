// Matrices: layout (MSL.md §1.4) and arithmetic against hand-computed values.
#include <gtest/gtest.h>

#define METAL_TARGET_CPU 1
#include "runtime/metal_runtime.h"

namespace {
using namespace metal;
static_assert(sizeof(float3x3) == 48 && alignof(float3x3) == 16, "");
static_assert(sizeof(float2x2) == 16 && alignof(float2x2) == 8, "");
static_assert(sizeof(float4x4) == 64 && alignof(float4x4) == 16, "");
static_assert(sizeof(half3x3) == 24 && alignof(half3x3) == 8, "");
static_assert(sizeof(float2x3) == 32, "two float3 columns");

TEST(RuntimeMatrix, ConstructAndIndex) {
  float2x3 m(float3(1, 2, 3), float3(4, 5, 6));  // 2 columns of 3 rows
  EXPECT_EQ(m[1][0], 4);
  EXPECT_EQ(m[0][2], 3);
  float3x3 id(1.0f);
  EXPECT_EQ(id[0][0], 1);
  EXPECT_EQ(id[1][0], 0);
  EXPECT_EQ(id[2][2], 1);
  float2x2 s(1, 2, 3, 4);  // column-major scalars
  EXPECT_EQ(s[0][1], 2);
  EXPECT_EQ(s[1][0], 3);
}

TEST(RuntimeMatrix, Products) {
  float2x2 a(1, 2, 3, 4);  // columns (1,2), (3,4): rows [1 3; 2 4]
  float2 v(5, 6);
  float2 mv = a * v;  // [1*5+3*6, 2*5+4*6]
  EXPECT_EQ(mv.x, 23);
  EXPECT_EQ(mv.y, 34);
  float2 vm = v * a;  // [5*1+6*2, 5*3+6*4]
  EXPECT_EQ(vm.x, 17);
  EXPECT_EQ(vm.y, 39);
  float2x2 b(5, 6, 7, 8);  // rows [5 7; 6 8]
  float2x2 ab = a * b;     // [1*5+3*6, 1*7+3*8; 2*5+4*6, 2*7+4*8] = [23 31; 34 46]
  EXPECT_EQ(ab[0][0], 23);
  EXPECT_EQ(ab[1][0], 31);
  EXPECT_EQ(ab[0][1], 34);
  EXPECT_EQ(ab[1][1], 46);
  float3x2 r(1, 2, 3, 4, 5, 6);  // 3 columns, 2 rows
  float2 r3 = r * float3(1, 1, 1);
  EXPECT_EQ(r3.x, 9);
  EXPECT_EQ(r3.y, 12);
  float2x3 t = transpose(r);
  EXPECT_EQ(t[0][2], 5);
  EXPECT_EQ(t[1][0], 2);
  float2x2 sum = a + b, sc = a * 2.0f, df = b - a;
  EXPECT_EQ(sum[1][1], 12);
  EXPECT_EQ(sc[1][0], 6);
  EXPECT_EQ(df[0][0], 4);
}

TEST(RuntimeMatrix, Determinants) {
  EXPECT_EQ(determinant(float2x2(1, 2, 3, 4)), -2);
  EXPECT_EQ(determinant(float3x3(2, 0, 0, 0, 3, 0, 0, 0, 4)), 24);
  EXPECT_EQ(determinant(float3x3(1, 2, 3, 0, 1, 4, 5, 6, 0)), 1);
  float4x4 m(1, 0, 2, -1, 3, 0, 0, 5, 2, 1, 4, -3, 1, 0, 5, 0);
  EXPECT_NEAR(determinant(m), 30, 1e-4);  // known result for this matrix (transposed: same det)
  EXPECT_EQ(determinant(float4x4(2.0f)), 16);
  EXPECT_EQ(float(determinant(half2x2(1.0f, 2.0f, 3.0f, 4.0f))), -2.0f);
}
}  // namespace
