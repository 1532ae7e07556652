// as_type<T>(x): reinterpret the bits of x as T (same size required), including vectors
// (as_type<uint4>(float4), as_type<half2>(uint)). A swizzle or packed vector is read
// as its value first.
#pragma once
#include "metal_vector_types.h"

namespace metal {
namespace detail {
template <class X, bool = is_vec_like<X>> struct as_type_src {
  typedef X type;
};
template <class X> struct as_type_src<X, true> {
  typedef typename vinfo_t<X>::value type;
};
}  // namespace detail

template <class To, class From> METAL_FUNC To as_type(const From& x) {
  typedef typename detail::as_type_src<From>::type Src;
  // Reported at the user's call by the backends' log summaries (toolchain.cpp).
  static_assert(sizeof(To) == sizeof(Src),
                "as_type: invalid reinterpretation: sizes of the source and destination types must match");
  Src src(x);
  To r;
  METAL_RT_MEMCPY(static_cast<void*>(&r), static_cast<const void*>(&src), sizeof(To));
  return r;
}
}  // namespace metal
