// Matrices floatCxR / halfCxR: C columns of vec<T,R>, column-major, each column with
// its vector's alignment (float3x3 = 48 bytes, half3x3 = 24). m[i] is column i.
#pragma once
#include "metal_geometric.h"

namespace metal {
template <class T, int C, int R> struct matrix {
  vec<T, R> columns[C];
  matrix() = default;
  // A scalar fills the diagonal (float3x3(1) is the identity).
  // constexpr, column by column: program-scope constants need constant initialisation on CUDA.
  METAL_FUNC constexpr explicit matrix(T d) : matrix(d, make_index_sequence<C>{}) {}
  template <unsigned long... I> METAL_FUNC constexpr matrix(T d, index_sequence<I...>)
      : columns{diagonal_column(d, int(I))...} {}
  static METAL_FUNC constexpr vec<T, R> diagonal_column(T d, int c) {
    const T z = T(0);
    if constexpr (R == 2) {
      return vec<T, R>(c == 0 ? d : z, c == 1 ? d : z);
    } else if constexpr (R == 3) {
      return vec<T, R>(c == 0 ? d : z, c == 1 ? d : z, c == 2 ? d : z);
    } else {
      return vec<T, R>(c == 0 ? d : z, c == 1 ? d : z, c == 2 ? d : z, c == 3 ? d : z);
    }
  }
  // C column vectors, or C*R scalars in column-major order.
  template <class... V, enable_if_t<sizeof...(V) == C && (true && ... && (detail::ncomp<V> == R)) && (R > 1), int> = 0>
  METAL_FUNC constexpr matrix(const V&... cols) : columns{vec<T, R>(cols)...} {}
  template <
      class... S,
      enable_if_t<sizeof...(S) == C * R && (sizeof...(S) > C) && (true && ... && detail::is_scalar_arg<S>), int> = 0>
  METAL_FUNC matrix(const S&... s) {
    const T v[] = {T(s)...};
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r) columns[c][r] = v[c * R + r];
  }
  template <class U> METAL_FUNC explicit matrix(const matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = vec<T, R>(m.columns[c]);
  }
  METAL_FUNC vec<T, R>& operator[](int i) { return columns[i]; }
  METAL_FUNC const vec<T, R>& operator[](int i) const { return columns[i]; }

  friend METAL_FUNC matrix operator+(const matrix& a, const matrix& b) {
    matrix r;
    for (int c = 0; c < C; ++c) r.columns[c] = a.columns[c] + b.columns[c];
    return r;
  }
  friend METAL_FUNC matrix operator-(const matrix& a, const matrix& b) {
    matrix r;
    for (int c = 0; c < C; ++c) r.columns[c] = a.columns[c] - b.columns[c];
    return r;
  }
  friend METAL_FUNC matrix operator-(const matrix& a) {
    matrix r;
    for (int c = 0; c < C; ++c) r.columns[c] = -a.columns[c];
    return r;
  }
  friend METAL_FUNC matrix operator*(const matrix& a, T s) {
    matrix r;
    for (int c = 0; c < C; ++c) r.columns[c] = a.columns[c] * s;
    return r;
  }
  friend METAL_FUNC matrix operator*(T s, const matrix& a) { return a * s; }
  // m * v: a combination of the columns.
  friend METAL_FUNC vec<T, R> operator*(const matrix& m, const vec<T, C>& v) {
    vec<T, R> r = m.columns[0] * v[0];
    for (int c = 1; c < C; ++c) r += m.columns[c] * v[c];
    return r;
  }
  // v * m: the row vector v times m, one dot product per column.
  friend METAL_FUNC vec<T, C> operator*(const vec<T, R>& v, const matrix& m) {
    vec<T, C> r;
    for (int c = 0; c < C; ++c) r[c] = dot(v, m.columns[c]);
    return r;
  }
  template <int K> friend METAL_FUNC matrix<T, K, R> operator*(const matrix& a, const matrix<T, K, C>& b) {
    matrix<T, K, R> r;
    for (int k = 0; k < K; ++k) r.columns[k] = a * b.columns[k];
    return r;
  }
  METAL_FUNC matrix& operator+=(const matrix& o) { return *this = *this + o; }
  METAL_FUNC matrix& operator-=(const matrix& o) { return *this = *this - o; }
  METAL_FUNC matrix& operator*=(T s) { return *this = *this * s; }
  METAL_FUNC matrix& operator*=(const matrix<T, C, C>& o) { return *this = *this * o; }
};

template <class T, int C, int R> METAL_FUNC matrix<T, R, C> transpose(const matrix<T, C, R>& m) {
  matrix<T, R, C> t;
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) t.columns[r][c] = m.columns[c][r];
  return t;
}
template <class T> METAL_FUNC T determinant(const matrix<T, 2, 2>& m) {
  return T(float(m[0][0]) * float(m[1][1]) - float(m[1][0]) * float(m[0][1]));
}
template <class T> METAL_FUNC T determinant(const matrix<T, 3, 3>& m) {
  return T(dot(float3(m[0]), cross(float3(m[1]), float3(m[2]))));
}
template <class T> METAL_FUNC T determinant(const matrix<T, 4, 4>& m) {
  // Laplace expansion along the first column, with 3x3 minors.
  float d = 0.0f;
  for (int i = 0; i < 4; ++i) {
    float3 c[3];
    for (int k = 1; k < 4; ++k) {
      int r = 0;
      for (int j = 0; j < 4; ++j)
        if (j != i) c[k - 1][r++] = float(m[k][j]);
    }
    float minor = dot(c[0], cross(c[1], c[2]));
    d += ((i & 1) ? -1.0f : 1.0f) * float(m[0][i]) * minor;
  }
  return T(d);
}

#define METAL_RT_MATRICES(T)      \
  typedef matrix<T, 2, 2> T##2x2; \
  typedef matrix<T, 2, 3> T##2x3; \
  typedef matrix<T, 2, 4> T##2x4; \
  typedef matrix<T, 3, 2> T##3x2; \
  typedef matrix<T, 3, 3> T##3x3; \
  typedef matrix<T, 3, 4> T##3x4; \
  typedef matrix<T, 4, 2> T##4x2; \
  typedef matrix<T, 4, 3> T##4x3; \
  typedef matrix<T, 4, 4> T##4x4;
METAL_RT_MATRICES(float)
METAL_RT_MATRICES(half)
#undef METAL_RT_MATRICES
}  // namespace metal
