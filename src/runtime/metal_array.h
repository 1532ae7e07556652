// metal::array<T, N>: a fixed-size array usable as a value (MSL's <metal_array>).
#pragma once
#include "metal_config.h"

namespace metal {
template <class T, size_t N> struct array {
  T elems[N > 0 ? N : 1];
  typedef T value_type;
  typedef size_t size_type;
  METAL_FUNC constexpr T& operator[](size_t i) { return elems[i]; }
  METAL_FUNC constexpr const T& operator[](size_t i) const { return elems[i]; }
  METAL_FUNC constexpr T& front() { return elems[0]; }
  METAL_FUNC constexpr const T& front() const { return elems[0]; }
  METAL_FUNC constexpr T& back() { return elems[N - 1]; }
  METAL_FUNC constexpr const T& back() const { return elems[N - 1]; }
  METAL_FUNC constexpr T* data() { return elems; }
  METAL_FUNC constexpr const T* data() const { return elems; }
  METAL_FUNC constexpr T* begin() { return elems; }
  METAL_FUNC constexpr const T* begin() const { return elems; }
  METAL_FUNC constexpr T* end() { return elems + N; }
  METAL_FUNC constexpr const T* end() const { return elems + N; }
  METAL_FUNC static constexpr size_t size() { return N; }
  METAL_FUNC static constexpr bool empty() { return N == 0; }
};
}  // namespace metal
