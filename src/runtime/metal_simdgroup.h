// MSL SIMD-group functions (MSL.md §5.8), 32 lanes: reductions, prefix scans, shuffles,
// broadcast, ballot/vote, all/any, active mask. The quad_* functions (metal_quadgroup.h)
// share the machinery here with a segment width of 4.
//
// Semantics common to both targets:
// - Only the ACTIVE lanes take part: a reduction inside `if (lane < 5)` folds 5 lanes, a
//   prefix scan skips inactive lanes, ballot bits of inactive lanes are 0.
// - A shuffle whose source lane is out of range (simd_shuffle_down's upper lanes,
//   simd_shuffle_up's lower lanes, an index >= 32) or inactive returns the caller's own
//   value. (Apple documents "unchanged" for the first two and leaves the rest undefined.)
// - The order of a fold is the same on both targets, so results agree bit for bit: when all
//   32 lanes of the SIMD group are active, CUDA's xor butterfly (a tree: lane i with lane
//   i + 16, then + 8, ..., each step in lane 0's operand order) and its shfl_up ladder for
//   scans; otherwise, over the active lanes in ascending order. Every lane gets the same
//   reduction result bit for bit (on CUDA too: + and * commute exactly).
//
// CPU: every function is one or two calls of detail::cpu_simd_exchange (README.md), which
// blocks the calling lane until no lane of its SIMD group is still running (the others
// wait at this or another SIMD-group call, at a barrier, or returned). Each deposit carries
// the source line of the call (a defaulted trailing parameter): the lanes waiting at the
// call with the lowest line exchange first and are its active lanes; lanes waiting at
// later calls join them there, so divergent lanes reconverge as on a GPU, where divergent
// branches run one after the other. A call reached through a helper function defined
// above the caller can defeat this ordering (only in divergent code).
// CUDA: warp intrinsics over __activemask(): xor butterflies / shfl_up scans when the
// whole warp is active, otherwise a loop over the active mask.
#pragma once
#include "metal_common.h"

namespace metal {
namespace detail {
#if defined(METAL_TARGET_CPU)
// Defined by the CPU backend in every generated translation unit (fibers.h).
unsigned cpu_simd_exchange(const void* value, void* lanes, unsigned bytes, unsigned* lane, unsigned site);
#endif

// The value type of an argument (a swizzle or packed vector reads as its vec).
template <class X> using simd_value_t = typename vinfo_t<X>::value;

// ---- element-wise binary operations used by the folds ------------------------------
template <class V, class F> METAL_FUNC V simd_apply2(const V& a, const V& b, F f) {
  if constexpr (vinfo<V>::is_vector) {
    V r;
    for (int i = 0; i < vinfo<V>::n; ++i) r.s[i] = f(a.s[i], b.s[i]);
    return r;
  } else {
    return f(a, b);
  }
}
// The folds keep their order under fast math (-fassociative-math on the CPU): the tree and
// ladder below must stay what CUDA computes, and the CPU's two paths (fibers and loop fission,
// metal_simd_fission.h) must give the same bits.
#if defined(METAL_TARGET_CPU) && defined(__clang__)
#define METAL_RT_FOLD_IN_ORDER _Pragma("clang fp reassociate(off)")
#else
#define METAL_RT_FOLD_IN_ORDER
#endif
struct simd_op_sum {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const {
    return simd_apply2(a, b, [](auto x, auto y) {
      METAL_RT_FOLD_IN_ORDER
      typedef wrap_t<decltype(x)> W;
      return decltype(x)(W(x) + W(y));
    });
  }
};
struct simd_op_product {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const {
    return simd_apply2(a, b, [](auto x, auto y) {
      METAL_RT_FOLD_IN_ORDER
      typedef wrap_t<decltype(x)> W;
      return decltype(x)(W(x) * W(y));
    });
  }
};
struct simd_op_min {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const { return simd_apply2(a, b, min_fn{}); }
};
struct simd_op_max {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const { return simd_apply2(a, b, max_fn{}); }
};
struct simd_op_and {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const {
    return simd_apply2(a, b, [](auto x, auto y) { return decltype(x)(x & y); });
  }
};
struct simd_op_or {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const {
    return simd_apply2(a, b, [](auto x, auto y) { return decltype(x)(x | y); });
  }
};
struct simd_op_xor {
  template <class V> METAL_FUNC V operator()(const V& a, const V& b) const {
    return simd_apply2(a, b, [](auto x, auto y) { return decltype(x)(x ^ y); });
  }
};
template <class V> constexpr bool simd_is_integral =
    detail::scalar_integral<typename vinfo<V>::elem> && !is_same<typename vinfo<V>::elem, bool>::value;
template <class V> constexpr bool simd_is_arith = vinfo<V>::n > 0 && !is_same<typename vinfo<V>::elem, bool>::value;

// (GCC: no reassociation in these either; clang: METAL_RT_FOLD_IN_ORDER in the operations.)
#if defined(METAL_TARGET_CPU) && !defined(__clang__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("no-associative-math")
#endif
#if defined(METAL_TARGET_CPU) && defined(__clang__)
// The tree of 32 floats or 32-bit integers by + or * in vector registers (the same order: the
// halves' elementwise op, then the halves of that, ...), where the compiler's SLP vectoriser
// leaves the unrolled loops below scalar.
template <class V, class Op> constexpr bool simd_native_tree =
    (is_same<V, float>::value || is_same<V, int>::value || is_same<V, uint>::value) &&
    (is_same<Op, simd_op_sum>::value || is_same<Op, simd_op_product>::value);
template <class V, class Op> METAL_FUNC V simd_native_tree_fold(const V* v) {
  METAL_RT_FOLD_IN_ORDER
  typedef V v16 __attribute__((ext_vector_type(16)));
  typedef V v8 __attribute__((ext_vector_type(8)));
  typedef V v4 __attribute__((ext_vector_type(4)));
  typedef V v2 __attribute__((ext_vector_type(2)));
  v16 a, b;
  __builtin_memcpy(&a, v, sizeof(a));
  __builtin_memcpy(&b, v + 16, sizeof(b));
  if constexpr (is_same<Op, simd_op_sum>::value) {
    v16 s = a + b;
    v8 s8 = s.lo + s.hi;
    v4 s4 = s8.lo + s8.hi;
    v2 s2 = s4.lo + s4.hi;
    return s2.x + s2.y;
  } else {
    v16 s = a * b;
    v8 s8 = s.lo * s.hi;
    v4 s4 = s8.lo * s8.hi;
    v2 s2 = s4.lo * s4.hi;
    return s2.x * s2.y;
  }
}
#endif
// A whole segment of W lanes (32 or 4) folded as CUDA's xor butterfly folds a full warp, seen
// from lane 0: lane i with lane i + W/2, then i + W/4, ... (the CPU's folds of whole SIMD
// groups; CUDA itself shuffles).
template <unsigned W, class V, class Op> METAL_FUNC V simd_tree_fold(const V* v, Op op) {
#if defined(METAL_TARGET_CPU) && defined(__clang__)
  if constexpr (W == 32 && simd_native_tree<V, Op>) return simd_native_tree_fold<V, Op>(v);
#endif
  V t[W / 2];
  for (unsigned i = 0; i < W / 2; ++i) t[i] = op(v[i], v[i + W / 2]);
  for (unsigned w = W / 4; w > 0; w >>= 1)
    for (unsigned i = 0; i < w; ++i) t[i] = op(t[i], t[i + w]);
  return t[0];
}
// The inclusive scan of a whole segment of W lanes, in place, as CUDA's shfl_up ladder
// computes it for a full warp: at step o, lane i >= o becomes op(lane i - o, lane i).
template <unsigned W, class V, class Op> METAL_FUNC void simd_ladder_scan(V* v, Op op) {
  for (unsigned o = 1; o < W; o <<= 1) {
    V u[W];
    for (unsigned i = 0; i < W; ++i) u[i] = i >= o ? op(v[i - o], v[i]) : v[i];
    for (unsigned i = 0; i < W; ++i) v[i] = u[i];
  }
}
#if defined(METAL_TARGET_CPU) && !defined(__clang__) && defined(__GNUC__)
#pragma GCC pop_options
#endif

// ---- target primitives --------------------------------------------------------------
#if defined(METAL_TARGET_CPU)
// All 32 lanes' values, the mask of the lanes that reached this call site, and the caller.
template <class V> struct simd_gathered {
  V v[32];
  unsigned mask;
  unsigned lane;
};
template <class V> METAL_FUNC void simd_gather(const V& x, simd_gathered<V>& g, unsigned site) {
  static_assert(sizeof(V) <= 256, "a SIMD-group value is limited to 256 bytes on the CPU");
  // The scheduler returns the lanes of this call only (fibers.h: the active lanes).
  g.mask = cpu_simd_exchange(&x, g.v, unsigned(sizeof(V)), &g.lane, site);
}
METAL_FUNC unsigned simd_active_mask_and_lane(unsigned* lane, unsigned site) {
  simd_gathered<unsigned char> g;
  simd_gather<unsigned char>(0, g, site);
  *lane = g.lane;
  return g.mask;
}

// Fold of the active lanes of the caller's segment of width W (32 or 4): the tree when the
// whole SIMD group is active, else ascending.
template <unsigned W, class V, class Op> METAL_FUNC V simd_reduce(const V& x, Op op, unsigned site) {
  simd_gathered<V> g;
  simd_gather(x, g, site);
  unsigned base = g.lane & ~(W - 1u);
  if (g.mask == 0xffffffffu) return simd_tree_fold<W>(g.v + base, op);
  V acc = x;
  bool first = true;
  // In order even under fast math (the split path, metal_simd_fission.h, folds the same way).
#if defined(__clang__)
#pragma clang loop vectorize(disable) interleave(disable) unroll(disable)
#endif
  for (unsigned i = base; i < base + W; ++i)
    if ((g.mask >> i) & 1u) {
      acc = first ? g.v[i] : op(acc, g.v[i]);
      first = false;
    }
  return acc;
}
// Prefix fold over the active lanes of the segment below the caller (and the caller when
// inclusive), starting at identity.
template <unsigned W, bool Inclusive, class V, class Op>
METAL_FUNC V simd_scan(const V& x, Op op, const V& identity, unsigned site) {
  simd_gathered<V> g;
  simd_gather(x, g, site);
  unsigned base = g.lane & ~(W - 1u);
  if (g.mask == 0xffffffffu) {
    V t[W];
    for (unsigned i = 0; i < W; ++i) t[i] = g.v[base + i];
    simd_ladder_scan<W>(t, op);
    unsigned idx = g.lane - base;
    if (Inclusive) return t[idx];
    return idx == 0 ? identity : t[idx - 1];
  }
  V acc = identity;
#if defined(__clang__)
#pragma clang loop vectorize(disable) interleave(disable) unroll(disable)
#endif
  for (unsigned i = base; i < g.lane + (Inclusive ? 1u : 0u); ++i)
    if ((g.mask >> i) & 1u) acc = op(acc, g.v[i]);
  return acc;
}
// The value of lane src when valid (src < 32 and active) and `valid` is true, else own.
template <class V, class SrcFn> METAL_FUNC V simd_shuffle_by(const V& x, SrcFn src_of, unsigned site) {
  simd_gathered<V> g;
  simd_gather(x, g, site);
  bool valid = true;
  unsigned src = src_of(g.lane, valid);
  if (valid && src < 32u && ((g.mask >> src) & 1u)) return g.v[src];
  return x;
}
#else  // CUDA
// The lane from the thread's linear index (warps are consecutive runs of 32 threads): unlike
// an asm read of %laneid, the compiler can compute it once for the whole kernel.
METAL_FUNC unsigned cuda_lane() { return ((threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x) & 31u; }
template <class V> struct cuda_words {
  static constexpr int n = int((sizeof(V) + 3) / 4);
  unsigned w[n];
};
template <class V> METAL_FUNC V cuda_shfl(unsigned mask, const V& x, int src) {
  cuda_words<V> a = {};
  METAL_RT_MEMCPY(a.w, &x, sizeof(V));
  for (int i = 0; i < cuda_words<V>::n; ++i) a.w[i] = __shfl_sync(mask, a.w[i], src);
  V r;
  METAL_RT_MEMCPY(&r, a.w, sizeof(V));
  return r;
}
template <class V> METAL_FUNC V cuda_shfl_xor(unsigned mask, const V& x, int lane_mask) {
  cuda_words<V> a = {};
  METAL_RT_MEMCPY(a.w, &x, sizeof(V));
  for (int i = 0; i < cuda_words<V>::n; ++i) a.w[i] = __shfl_xor_sync(mask, a.w[i], lane_mask);
  V r;
  METAL_RT_MEMCPY(&r, a.w, sizeof(V));
  return r;
}
template <class V> METAL_FUNC V cuda_shfl_up(unsigned mask, const V& x, unsigned delta) {
  cuda_words<V> a = {};
  METAL_RT_MEMCPY(a.w, &x, sizeof(V));
  for (int i = 0; i < cuda_words<V>::n; ++i) a.w[i] = __shfl_up_sync(mask, a.w[i], delta);
  V r;
  METAL_RT_MEMCPY(&r, a.w, sizeof(V));
  return r;
}
METAL_FUNC unsigned simd_active_mask_and_lane(unsigned* lane) {
  *lane = cuda_lane();
  return __activemask();
}

template <unsigned W, class V, class Op> METAL_FUNC V simd_reduce(const V& x, Op op) {
  unsigned m = __activemask();
  if (m == 0xffffffffu) {
    V acc = x;
    for (unsigned o = W / 2; o > 0; o >>= 1) acc = op(acc, cuda_shfl_xor(m, acc, int(o)));
    return acc;
  }
  unsigned base = cuda_lane() & ~(W - 1u);
  V acc = x;
  bool first = true;
  for (unsigned i = 0; i < W; ++i) {
    V v = cuda_shfl(m, x, int(base + i));  // every active lane calls it (uniform loop)
    if ((m >> (base + i)) & 1u) {
      acc = first ? v : op(acc, v);
      first = false;
    }
  }
  return acc;
}
template <unsigned W, bool Inclusive, class V, class Op> METAL_FUNC V simd_scan(const V& x, Op op, const V& identity) {
  unsigned m = __activemask();
  unsigned lane = cuda_lane();
  unsigned idx = lane & (W - 1u);
  if (m == 0xffffffffu) {
    V acc = x;
    for (unsigned o = 1; o < W; o <<= 1) {
      V y = cuda_shfl_up(m, acc, o);
      if (idx >= o) acc = op(y, acc);
    }
    if constexpr (Inclusive) return acc;
    V prev = cuda_shfl_up(m, acc, 1);
    return idx == 0 ? identity : prev;
  }
  unsigned base = lane - idx;
  V acc = identity;
  for (unsigned i = 0; i < W; ++i) {
    V v = cuda_shfl(m, x, int(base + i));
    if (((m >> (base + i)) & 1u) && (Inclusive ? i <= idx : i < idx)) acc = op(acc, v);
  }
  return acc;
}
template <class V, class SrcFn> METAL_FUNC V simd_shuffle_by(const V& x, SrcFn src_of) {
  unsigned m = __activemask();
  bool valid = true;
  unsigned src = src_of(cuda_lane(), valid);
  V v = cuda_shfl(m, x, int(src & 31u));
  if (valid && src < 32u && ((m >> src) & 1u)) return v;
  return x;
}
#endif

template <class V> METAL_FUNC V simd_zero() { return V(0); }
template <class V> METAL_FUNC V simd_one() { return V(1); }
}  // namespace detail

// ---- reductions ----------------------------------------------------------------------
#define METAL_RT_SIMD_REDUCE(NAME, OP, COND)                                        \
  template <class T, class V = detail::simd_value_t<T>, enable_if_t<COND, int> = 0> \
  METAL_FUNC V NAME(const T& data METAL_RT_SITE_PARAM) {                            \
    return detail::simd_reduce<32u>(V(data), detail::OP {} METAL_RT_SITE);          \
  }
METAL_RT_SIMD_REDUCE(simd_sum, simd_op_sum, detail::simd_is_arith<V>)
METAL_RT_SIMD_REDUCE(simd_product, simd_op_product, detail::simd_is_arith<V>)
METAL_RT_SIMD_REDUCE(simd_min, simd_op_min, detail::simd_is_arith<V>)
METAL_RT_SIMD_REDUCE(simd_max, simd_op_max, detail::simd_is_arith<V>)
METAL_RT_SIMD_REDUCE(simd_and, simd_op_and, detail::simd_is_integral<V>)
METAL_RT_SIMD_REDUCE(simd_or, simd_op_or, detail::simd_is_integral<V>)
METAL_RT_SIMD_REDUCE(simd_xor, simd_op_xor, detail::simd_is_integral<V>)

#define METAL_RT_SIMD_SCAN(NAME, INCL, OP, ID)                                                          \
  template <class T, class V = detail::simd_value_t<T>, enable_if_t<detail::simd_is_arith<V>, int> = 0> \
  METAL_FUNC V NAME(const T& data METAL_RT_SITE_PARAM) {                                                \
    return detail::simd_scan<32u, INCL>(V(data), detail::OP{}, detail::ID<V>() METAL_RT_SITE);          \
  }
METAL_RT_SIMD_SCAN(simd_prefix_inclusive_sum, true, simd_op_sum, simd_zero)
METAL_RT_SIMD_SCAN(simd_prefix_exclusive_sum, false, simd_op_sum, simd_zero)
METAL_RT_SIMD_SCAN(simd_prefix_inclusive_product, true, simd_op_product, simd_one)
METAL_RT_SIMD_SCAN(simd_prefix_exclusive_product, false, simd_op_product, simd_one)

// ---- shuffles ------------------------------------------------------------------------
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle(const T& data, ushort simd_lane_id METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned, bool&) { return unsigned(simd_lane_id); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_broadcast(const T& data, ushort broadcast_lane_id METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned, bool&) { return unsigned(broadcast_lane_id); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_down(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool&) { return l + delta; } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_up(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool& ok) {
    ok = l >= delta;
    return l - delta;
  } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_xor(const T& data, ushort mask METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool&) { return l ^ unsigned(mask); } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_rotate_down(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool&) { return (l + delta) & 31u; } METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_rotate_up(const T& data, ushort delta METAL_RT_SITE_PARAM) {
  return detail::simd_shuffle_by(V(data), [=](unsigned l, bool&) { return (l - delta) & 31u; } METAL_RT_SITE);
}

namespace detail {
// Within segments of `modulo` lanes (2, 4, 8, 16 or 32; at most W): lane idx + delta of
// the segment, or, past its end, filling_data of lane idx + delta - modulo (down); lane
// idx - delta, or before the segment's start, filling_data of lane idx - delta + modulo (up).
template <unsigned W, bool Down, class V>
METAL_FUNC V simd_fill_shuffle(const V& data, const V& fill, unsigned delta, unsigned modulo METAL_RT_SITE_PARAM) {
  if (modulo == 0u || modulo > W) modulo = W;
  unsigned lane;
  bool use_fill;
  auto source = [&](unsigned l) {
    unsigned base = l - l % modulo, idx = l % modulo;
    if (Down) {
      use_fill = idx + delta >= modulo;
      return base + (use_fill ? (idx + delta - modulo) % modulo : idx + delta);
    }
    use_fill = idx < delta;
    return base + (use_fill ? (idx + modulo - delta % modulo) % modulo : idx - delta);
  };
#if defined(METAL_TARGET_CPU)
  struct pair {
    V d, f;
  };
  simd_gathered<pair> g;
  pair mine;
  mine.d = data;
  mine.f = fill;
  simd_gather(mine, g, metal_site_);
  lane = g.lane;
  unsigned src = source(lane);
  if (!((g.mask >> src) & 1u)) return data;
  return use_fill ? g.v[src].f : g.v[src].d;
#else
  unsigned m = __activemask();
  lane = cuda_lane();
  unsigned src = source(lane);
  V a = cuda_shfl(m, data, int(src));
  V b = cuda_shfl(m, fill, int(src));
  if (!((m >> src) & 1u)) return data;
  return use_fill ? b : a;
#endif
}
}  // namespace detail

// modulo (2, 4, 8, 16 or 32) splits the SIMD group into segments that fill separately.
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_and_fill_down(const T& data, const detail::simd_value_t<T>& filling_data, ushort delta,
                                        ushort modulo = 32 METAL_RT_SITE_PARAM) {
  return detail::simd_fill_shuffle<32u, true>(V(data), filling_data, delta, modulo METAL_RT_SITE);
}
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_shuffle_and_fill_up(const T& data, const detail::simd_value_t<T>& filling_data, ushort delta,
                                      ushort modulo = 32 METAL_RT_SITE_PARAM) {
  return detail::simd_fill_shuffle<32u, false>(V(data), filling_data, delta, modulo METAL_RT_SITE);
}

// The value of the lowest active lane.
template <class T, class V = detail::simd_value_t<T>>
METAL_FUNC V simd_broadcast_first(const T& data METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  detail::simd_gathered<V> g;
  detail::simd_gather(V(data), g, metal_site_);
  return g.v[__builtin_ctz(g.mask)];
#else
  unsigned m = __activemask();
  return detail::cuda_shfl(m, V(data), __ffs(int(m)) - 1);
#endif
}

// ---- votes ---------------------------------------------------------------------------
// simd_vote: a 64-bit mask (bit i = lane i; only 32 lanes exist). all(): every lane of the
// 32-wide SIMD group has its bit set; any(): some bit is set.
class simd_vote {
 public:
  typedef ulong vote_t;
  METAL_FUNC explicit constexpr simd_vote(vote_t v = 0) : v_(v) {}
  METAL_FUNC explicit constexpr operator vote_t() const { return v_; }
  METAL_FUNC constexpr bool all() const { return (v_ & 0xffffffffull) == 0xffffffffull; }
  METAL_FUNC constexpr bool any() const { return v_ != 0; }

 private:
  vote_t v_;
};

METAL_FUNC simd_vote simd_active_threads_mask(METAL_RT_SITE_ONLY_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  return simd_vote(detail::simd_active_mask_and_lane(&lane, metal_site_));
#else
  return simd_vote(detail::simd_active_mask_and_lane(&lane));
#endif
}
METAL_FUNC simd_vote simd_ballot(bool expr METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  detail::simd_gathered<bool> g;
  detail::simd_gather(expr, g, metal_site_);
  unsigned r = 0;
  for (unsigned i = 0; i < 32; ++i)
    if (((g.mask >> i) & 1u) && g.v[i]) r |= 1u << i;
  return simd_vote(r);
#else
  return simd_vote(__ballot_sync(__activemask(), expr));
#endif
}
// True when expr holds on every active lane / on some active lane.
METAL_FUNC bool simd_all(bool expr METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  detail::simd_gathered<bool> g;
  detail::simd_gather(expr, g, metal_site_);
  for (unsigned i = 0; i < 32; ++i)
    if (((g.mask >> i) & 1u) && !g.v[i]) return false;
  return true;
#else
  return __all_sync(__activemask(), expr) != 0;
#endif
}
METAL_FUNC bool simd_any(bool expr METAL_RT_SITE_PARAM) {
#if defined(METAL_TARGET_CPU)
  detail::simd_gathered<bool> g;
  detail::simd_gather(expr, g, metal_site_);
  for (unsigned i = 0; i < 32; ++i)
    if (((g.mask >> i) & 1u) && g.v[i]) return true;
  return false;
#else
  return __any_sync(__activemask(), expr) != 0;
#endif
}
// True on the lowest active lane.
METAL_FUNC bool simd_is_first(METAL_RT_SITE_ONLY_PARAM) {
  unsigned lane;
#if defined(METAL_TARGET_CPU)
  unsigned m = detail::simd_active_mask_and_lane(&lane, metal_site_);
#else
  unsigned m = detail::simd_active_mask_and_lane(&lane);
#endif
#if defined(METAL_TARGET_CPU)
  return unsigned(__builtin_ctz(m)) == lane;
#else
  return unsigned(__ffs(int(m)) - 1) == lane;
#endif
}
// Compute kernels have no helper threads.
METAL_FUNC constexpr bool simd_is_helper_thread() { return false; }
}  // namespace metal
