// MSL quad-group functions: the SIMD-group functions over groups of 4 consecutive lanes
// (lanes 4k..4k+3), built on metal_simdgroup.h's machinery with a segment width of 4.
// Same rules: only active lanes take part; an out-of-quad or inactive source lane gives
// the caller's own value.
#pragma once
#include "metal_simdgroup.h"

namespace metal {
#define METAL_RT_QUAD_REDUCE(NAME, OP, COND)                                        \
  template <class T, class V = detail::simd_value_t<T>, enable_if_t<COND, int> = 0> \
  METAL_FUNC V NAME(const T& data METAL_RT_SITE_PARAM) {                            \
    return detail::simd_reduce<4u>(V(data), detail::OP {} METAL_RT_SITE);           \
  }
METAL_RT_QUAD_REDUCE(quad_sum, simd_op_sum, detail::simd_is_arith<V>)
METAL_RT_QUAD_REDUCE(quad_product, simd_op_product, detail::simd_is_arith<V>)
METAL_RT_QUAD_REDUCE(quad_min, simd_op_min, detail::simd_is_arith<V>)
METAL_RT_QUAD_REDUCE(quad_max, simd_op_max, detail::simd_is_arith<V>)
METAL_RT_QUAD_REDUCE(quad_and, simd_op_and, detail::simd_is_integral<V>)
METAL_RT_QUAD_REDUCE(quad_or, simd_op_or, detail::simd_is_integral<V>)
METAL_RT_QUAD_REDUCE(quad_xor, simd_op_xor, detail::simd_is_integral<V>)
#undef METAL_RT_QUAD_REDUCE

#define METAL_RT_QUAD_SCAN(NAME, INCL, OP, ID)                                                          \
  template <class T, class V = detail::simd_value_t<T>, enable_if_t<detail::simd_is_arith<V>, int> = 0> \
  METAL_FUNC V NAME(const T& data METAL_RT_SITE_PARAM) {                                                \
    return detail::simd_scan<4u, INCL>(V(data), detail::OP{}, detail::ID<V>() METAL_RT_SITE);           \
  }
METAL_RT_QUAD_SCAN(quad_prefix_inclusive_sum, true, simd_op_sum, simd_zero)
METAL_RT_QUAD_SCAN(quad_prefix_exclusive_sum, false, simd_op_sum, simd_zero)
METAL_RT_QUAD_SCAN(quad_prefix_inclusive_product, true, simd_op_product, simd_one)
METAL_RT_QUAD_SCAN(quad_prefix_exclusive_product, false, simd_op_product, simd_one)
#undef METAL_RT_QUAD_SCAN

template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle(const T& data, ushort quad_lane_id METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool& ok) {
    ok = quad_lane_id < 4u;
    return (l & ~3u) | (quad_lane_id & 3u);
  } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_broadcast(const T& data, ushort broadcast_lane_id METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool& ok) {
    ok = broadcast_lane_id < 4u;
    return (l & ~3u) | (broadcast_lane_id & 3u);
  } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_down(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool& ok) {
    ok = (l & 3u) + delta < 4u;
    return l + delta;
  } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_up(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool& ok) {
    ok = (l & 3u) >= delta;
    return l - delta;
  } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_xor(const T& data, ushort mask METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool&) { return l ^ (mask & 3u); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_rotate_down(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data),
                                 [=](unsigned l, bool&) { return (l & ~3u) | ((l + delta) & 3u); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_rotate_up(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data),
                                 [=](unsigned l, bool&) { return (l & ~3u) | ((l - delta) & 3u); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_and_fill_down(const T& data, const detail::simd_value_t<T>& filling_data, ushort delta,
                                        ushort modulo = 4 METAL_RT_SITE_PARAM) {
  return detail::simd_fill_shuffle<4u, true>(V(data), filling_data, delta, modulo METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_shuffle_and_fill_up(const T& data, const detail::simd_value_t<T>& filling_data, ushort delta,
                                      ushort modulo = 4 METAL_RT_SITE_PARAM) {
  return detail::simd_fill_shuffle<4u, false>(V(data), filling_data, delta, modulo METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V quad_broadcast_first(const T& data METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  detail::simd_gathered<V> g;
  detail::simd_gather(V(data), g, metal_site_);
  unsigned q = (g.mask >> (g.lane & ~3u)) & 0xfu;
  return g.v[(g.lane & ~3u) + unsigned(__builtin_ctz(q))];
#else
  unsigned m = __activemask();
  unsigned lane = detail::cuda_lane();
  unsigned q = (m >> (lane & ~3u)) & 0xfu;
  return detail::cuda_shfl(m, V(data), int((lane & ~3u) + unsigned(__ffs(int(q)) - 1)));
#endif
}

// quad_vote: the 4 bits of the caller's quad (bit i = quad lane i).
class quad_vote {
 public:
  typedef ushort vote_t;
  METAL_FUNC explicit constexpr quad_vote(vote_t v = 0) : v_(vote_t(v & 0xfu)) {}
  METAL_FUNC explicit constexpr operator vote_t() const { return v_; }
  METAL_FUNC constexpr bool all() const { return v_ == 0xfu; }
  METAL_FUNC constexpr bool any() const { return v_ != 0; }

 private:
  vote_t v_;
};

METAL_FUNC quad_vote quad_active_threads_mask(METAL_RT_SITE_ONLY_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  unsigned m = detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  unsigned m = detail::simd_active_mask_and_lane(&lane);
#endif
  return quad_vote(ushort((m >> (lane & ~3u)) & 0xfu));
}
METAL_FUNC quad_vote quad_ballot(bool expr METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  simd_vote v = simd_ballot(expr, metal_site_);
  unsigned lane;
  detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  simd_vote v = simd_ballot(expr);
  unsigned lane = detail::cuda_lane();
#endif
  return quad_vote(ushort((ulong(v) >> (lane & ~3u)) & 0xfu));
}
METAL_FUNC bool quad_all(bool expr METAL_RT_SITE_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  ulong v = ulong(simd_ballot(expr, metal_site_));
  unsigned m = detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  ulong v = ulong(simd_ballot(expr));
  unsigned m = detail::simd_active_mask_and_lane(&lane);
#endif
  unsigned sh = lane & ~3u;
  return ((v >> sh) & 0xfu) == ((m >> sh) & 0xfu);
}
METAL_FUNC bool quad_any(bool expr METAL_RT_SITE_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  ulong v = ulong(simd_ballot(expr, metal_site_));
  detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  ulong v = ulong(simd_ballot(expr));
  lane = detail::cuda_lane();
#endif
  return ((v >> (lane & ~3u)) & 0xfu) != 0;
}
METAL_FUNC bool quad_is_first(METAL_RT_SITE_ONLY_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  unsigned m = detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  unsigned m = detail::simd_active_mask_and_lane(&lane);
#endif
  unsigned q = (m >> (lane & ~3u)) & 0xfu;
#if defined(METAL_TARGET_CPU)
  return (lane & 3u) == unsigned(__builtin_ctz(q));
#else
  return (lane & 3u) == unsigned(__ffs(int(q)) - 1);
#endif
}
METAL_FUNC constexpr bool quad_is_helper_thread() { return false; }
}  // namespace metal
