// SIMD-group functions of a kernel split by loop fission (src/msl/barrier_fission.h), CPU only.
//
// A call in uniform control flow, `float s = simd_sum(v);`, becomes three steps of the split
// kernel: a stretch where every thread puts its arguments into its slot of the call site (put:
// the slots of a SIMD group are 32 contiguous values), then, at group level, one pass that
// computes the results of every SIMD group of the threadgroup (run: for a whole SIMD group a
// fixed tree or ladder over its 32 contiguous values, a few vector instructions), then a stretch
// where every thread reads its own (get, a plain load the thread loop vectorises). The results
// are those of the fiber path (metal_simdgroup.h) bit for bit, and of CUDA's: the active lanes
// are the threads of the SIMD group that have not returned (lanes past the end of a partial
// group do not exist); when all 32 are active, reductions fold as CUDA's xor butterfly and scans
// as its shfl_up ladder (metal_simdgroup.h), otherwise reductions fold the active lanes in
// ascending order starting from the first and scans fold from the identity in ascending order;
// a shuffle whose source is out of range or inactive returns the caller's own value. The quad_*
// functions are the same over segments of 4 lanes.
//
// NVRTC parses the fission templates that name these and never instantiates them.
#pragma once
#include "metal_simdgroup.h"

#if defined(METAL_TARGET_CPU) && !defined(__clang__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("no-associative-math")
#endif
namespace metal {
namespace detail {

// One call site of a split kernel: a slot per thread (arguments in, per-lane results out) and
// one result per SIMD group for the functions whose result is the same on every lane.
struct fission_simd_site {
  static constexpr unsigned kSlotBytes = 40;
  alignas(64) unsigned char slots[1024 * kSlotBytes];
  alignas(64) unsigned char group_results[32 * kSlotBytes];
  template <class S> S* as() {
    static_assert(sizeof(S) <= kSlotBytes, "a SIMD-group value of a split kernel is limited to 40 bytes");
    return reinterpret_cast<S*>(slots);
  }
  template <class R> R* groups() {
    static_assert(sizeof(R) <= kSlotBytes, "a SIMD-group value of a split kernel is limited to 40 bytes");
    return reinterpret_cast<R*>(group_results);
  }
  template <class Op, class... A> METAL_FUNC void put(unsigned index, const A&... args) {
    typedef typename Op::template slot<A...> S;
    as<S>()[index] = Op::make(args...);
  }
  // Every SIMD group's results, after every thread's put (T: the type of the first argument).
  // Without early returns every lane below the group's size is active.
  template <class Op, class T, class Threads> METAL_FUNC void run(const Threads& threads) {
    const unsigned n = threads.pm_size();
    if (threads.pm_all_live()) {
      const unsigned whole = n & ~31u;
      for (unsigned base = 0; base < whole; base += 32) Op::template run<T>(*this, base, ~0u);
      if (whole < n) Op::template run<T>(*this, whole, (1u << (n - whole)) - 1u);
      return;
    }
    for (unsigned base = 0; base < n; base += 32) {
      unsigned mask = 0;
      for (unsigned l = 0; l < 32 && base + l < n; ++l)
        if (threads.pm_live(base + l)) mask |= 1u << l;
      if (mask) Op::template run<T>(*this, base, mask);
    }
  }
  // run() for a call inside `if (...)`: the active lanes are the live threads whose flag is set.
  template <class Op, class T, class Threads> METAL_FUNC void run_masked(const Threads& threads, const bool* active) {
    const unsigned n = threads.pm_size();
    for (unsigned base = 0; base < n; base += 32) {
      unsigned mask = 0;
      for (unsigned l = 0; l < 32 && base + l < n; ++l)
        if (threads.pm_live(base + l) && active[base + l]) mask |= 1u << l;
      if (mask) Op::template run<T>(*this, base, mask);
    }
  }
  // The value of this call for thread `index`, after run().
  template <class Op, class T, class Threads>
  METAL_FUNC typename Op::template result<T> get(const Threads&, unsigned index) {
    return Op::template read<T>(*this, index);
  }
};

// The folds below must keep their order under fast math (-fassociative-math) to equal the fiber
// path's: no vectorised or unrolled partial sums of the ascending folds (the tree and ladder of
// whole groups are fixed by their data flow; metal_simdgroup.h keeps + and * from reassociating).
#if defined(__clang__)
#define METAL_RT_FISSION_IN_ORDER _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")
#else
#define METAL_RT_FISSION_IN_ORDER
#endif

template <class T> using fission_value_t = simd_value_t<remove_cvref_t<T>>;
inline unsigned fission_lowest(unsigned mask) {
  unsigned i = 0;
  while (!((mask >> i) & 1u)) ++i;
  return i;
}

// Functions whose result is one value per SIMD group.
template <class Derived> struct fission_per_group {
  template <class T> static auto read(fission_simd_site& s, unsigned index) {
    typedef typename Derived::template result<T> R;
    return s.groups<R>()[index / 32];
  }
};
// Functions with a result per lane (written over the lane's slot: a group's 32 slots are read first).
template <class Derived> struct fission_per_lane {
  template <class T> static auto read(fission_simd_site& s, unsigned index) {
    typedef typename Derived::template result<T> R;
    return s.as<R>()[index];
  }
};

// The functions of one value (simd_sum(x), quad_broadcast_first(x), ...): its slot holds the
// value as the fold's type, and so does the result.
struct fission_one_value {
  template <class T> using slot = fission_value_t<T>;
  template <class T> using result = fission_value_t<T>;
  template <class T> static fission_value_t<T> make(const T& x) { return fission_value_t<T>(x); }
};

// The fold of the lanes of `mask` among v[0..W): the tree for a whole SIMD group, else ascending.
template <unsigned W, class Op, class V> METAL_FUNC V fission_fold(const V* v, unsigned mask, bool whole) {
  if (whole) return simd_tree_fold<W>(v, Op{});
  unsigned first = fission_lowest(mask);
  V acc = v[first];
  METAL_RT_FISSION_IN_ORDER
  for (unsigned i = first + 1; i < W; ++i)
    if ((mask >> i) & 1u) acc = Op{}(acc, v[i]);
  return acc;
}

// simd_sum and the other reductions: one result per SIMD group.
template <class Op> struct fission_reduce : fission_per_group<fission_reduce<Op>>, fission_one_value {
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    s.groups<V>()[base / 32] = fission_fold<32, Op>(s.as<V>() + base, mask, mask == ~0u);
  }
};
typedef fission_reduce<simd_op_sum> fission_simd_sum;
typedef fission_reduce<simd_op_product> fission_simd_product;
typedef fission_reduce<simd_op_min> fission_simd_min;
typedef fission_reduce<simd_op_max> fission_simd_max;
typedef fission_reduce<simd_op_and> fission_simd_and;
typedef fission_reduce<simd_op_or> fission_simd_or;
typedef fission_reduce<simd_op_xor> fission_simd_xor;

// quad_sum and the other quad reductions: a result per quad, written to each of its active lanes.
template <class Op> struct fission_quad_reduce : fission_per_lane<fission_quad_reduce<Op>>, fission_one_value {
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    V* v = s.as<V>() + base;
    for (unsigned q = 0; q < 32; q += 4) {
      unsigned m = (mask >> q) & 0xfu;
      if (!m) continue;
      V r = fission_fold<4, Op>(v + q, m, mask == ~0u);
      for (unsigned i = 0; i < 4; ++i)
        if ((m >> i) & 1u) v[q + i] = r;
    }
  }
};
typedef fission_quad_reduce<simd_op_sum> fission_quad_sum;
typedef fission_quad_reduce<simd_op_product> fission_quad_product;
typedef fission_quad_reduce<simd_op_min> fission_quad_min;
typedef fission_quad_reduce<simd_op_max> fission_quad_max;
typedef fission_quad_reduce<simd_op_and> fission_quad_and;
typedef fission_quad_reduce<simd_op_or> fission_quad_or;
typedef fission_quad_reduce<simd_op_xor> fission_quad_xor;

// Prefix scans over segments of W lanes (32: simd_prefix_*, 4: quad_prefix_*).
template <class Op, bool Inclusive, bool Product, unsigned W = 32>
struct fission_scan : fission_per_lane<fission_scan<Op, Inclusive, Product, W>>, fission_one_value {
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    V* v = s.as<V>() + base;
    const V identity = Product ? simd_one<V>() : simd_zero<V>();
    if (mask == ~0u) {
      for (unsigned q = 0; q < 32; q += W) {
        V t[W];
        for (unsigned i = 0; i < W; ++i) t[i] = v[q + i];
        simd_ladder_scan<W>(t, Op{});
        for (unsigned i = 0; i < W; ++i) v[q + i] = Inclusive ? t[i] : (i == 0 ? identity : t[i - 1]);
      }
      return;
    }
    for (unsigned q = 0; q < 32; q += W) {
      V acc = identity;
      METAL_RT_FISSION_IN_ORDER
      for (unsigned i = q; i < q + W; ++i) {
        if (!((mask >> i) & 1u)) continue;
        if (Inclusive) {
          acc = Op{}(acc, v[i]);
          v[i] = acc;
        } else {
          V x = v[i];
          v[i] = acc;
          acc = Op{}(acc, x);
        }
      }
    }
  }
};
typedef fission_scan<simd_op_sum, true, false> fission_simd_prefix_inclusive_sum;
typedef fission_scan<simd_op_sum, false, false> fission_simd_prefix_exclusive_sum;
typedef fission_scan<simd_op_product, true, true> fission_simd_prefix_inclusive_product;
typedef fission_scan<simd_op_product, false, true> fission_simd_prefix_exclusive_product;
typedef fission_scan<simd_op_sum, true, false, 4> fission_quad_prefix_inclusive_sum;
typedef fission_scan<simd_op_sum, false, false, 4> fission_quad_prefix_exclusive_sum;
typedef fission_scan<simd_op_product, true, true, 4> fission_quad_prefix_inclusive_product;
typedef fission_scan<simd_op_product, false, true, 4> fission_quad_prefix_exclusive_product;

// A shuffle: the value and the lane argument (index, delta or mask, as the ushort MSL takes).
template <class V> struct fission_lane_value {
  V v;
  ushort a;
};
enum class fission_src { index, down, up, xor_, rotate_down, rotate_up };
// The source lane of lane l for argument d, over segments of W lanes (metal_simdgroup.h and
// metal_quadgroup.h); `valid` false: the lane keeps its own value.
template <fission_src K, unsigned W> METAL_FUNC unsigned fission_source(unsigned l, unsigned d, bool& valid) {
  valid = true;
  if (W == 32) {
    switch (K) {
      case fission_src::index:
        return d;
      case fission_src::down:
        return l + d;
      case fission_src::up:
        valid = l >= d;
        return l - d;
      case fission_src::xor_:
        return l ^ d;
      case fission_src::rotate_down:
        return (l + d) & 31u;
      case fission_src::rotate_up:
        return (l - d) & 31u;
    }
  }
  switch (K) {
    case fission_src::index:
      valid = d < 4u;
      return (l & ~3u) | (d & 3u);
    case fission_src::down:
      valid = (l & 3u) + d < 4u;
      return l + d;
    case fission_src::up:
      valid = (l & 3u) >= d;
      return l - d;
    case fission_src::xor_:
      return l ^ (d & 3u);
    case fission_src::rotate_down:
      return (l & ~3u) | ((l + d) & 3u);
    case fission_src::rotate_up:
      return (l & ~3u) | ((l - d) & 3u);
  }
  return l;
}
template <fission_src K, unsigned W = 32> struct fission_shuffle : fission_per_lane<fission_shuffle<K, W>> {
  template <class T, class L = ushort> using slot = fission_lane_value<fission_value_t<T>>;
  template <class T> using result = fission_value_t<T>;
  template <class T, class L> static slot<T> make(const T& x, const L& lane) {
    return slot<T>{fission_value_t<T>(x), ushort(lane)};
  }
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    V in[32];
    ushort arg[32];
    fission_lane_value<V>* slots = s.as<fission_lane_value<V>>() + base;
    for (unsigned i = 0; i < 32; ++i) {  // lanes past a partial group's end: never read
      in[i] = slots[i].v;
      arg[i] = slots[i].a;
    }
    V* out = s.as<V>() + base;  // sizeof(V) <= the slot's: writes stay inside this group's slots
    for (unsigned l = 0; l < 32; ++l) {
      bool valid;
      unsigned src = fission_source<K, W>(l, arg[l], valid);
      bool take = valid && src < 32u && ((mask >> src) & 1u);
      if ((mask >> l) & 1u) out[l] = take ? in[src] : in[l];
    }
  }
};
typedef fission_shuffle<fission_src::index> fission_simd_shuffle;
typedef fission_shuffle<fission_src::index> fission_simd_broadcast;
typedef fission_shuffle<fission_src::down> fission_simd_shuffle_down;
typedef fission_shuffle<fission_src::up> fission_simd_shuffle_up;
typedef fission_shuffle<fission_src::xor_> fission_simd_shuffle_xor;
typedef fission_shuffle<fission_src::rotate_down> fission_simd_shuffle_rotate_down;
typedef fission_shuffle<fission_src::rotate_up> fission_simd_shuffle_rotate_up;
typedef fission_shuffle<fission_src::index, 4> fission_quad_shuffle;
typedef fission_shuffle<fission_src::index, 4> fission_quad_broadcast;
typedef fission_shuffle<fission_src::down, 4> fission_quad_shuffle_down;
typedef fission_shuffle<fission_src::up, 4> fission_quad_shuffle_up;
typedef fission_shuffle<fission_src::xor_, 4> fission_quad_shuffle_xor;
typedef fission_shuffle<fission_src::rotate_down, 4> fission_quad_shuffle_rotate_down;
typedef fission_shuffle<fission_src::rotate_up, 4> fission_quad_shuffle_rotate_up;

struct fission_simd_broadcast_first : fission_per_group<fission_simd_broadcast_first>, fission_one_value {
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    s.groups<V>()[base / 32] = s.as<V>()[base + fission_lowest(mask)];
  }
};
// The value of the lowest active lane of each quad, to the quad's active lanes.
struct fission_quad_broadcast_first : fission_per_lane<fission_quad_broadcast_first>, fission_one_value {
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    V* v = s.as<V>() + base;
    for (unsigned q = 0; q < 32; q += 4) {  // as fission_quad_reduce's (a shared helper changed the code clang makes)
      unsigned m = (mask >> q) & 0xfu;
      if (!m) continue;
      V r = v[q + fission_lowest(m)];
      for (unsigned i = 0; i < 4; ++i)
        if ((m >> i) & 1u) v[q + i] = r;
    }
  }
};

// simd_ballot / simd_all / simd_any: a bool per lane.
template <int K> struct fission_vote : fission_per_group<fission_vote<K>> {
  template <class T> using slot = bool;
  template <class T> using result = conditional_t<K == 0, simd_vote, bool>;
  template <class T> static bool make(const T& x) { return bool(x); }
  template <class T> METAL_FUNC static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    const bool* v = s.as<bool>() + base;
    unsigned bits = 0;
    for (unsigned i = 0; i < 32; ++i)
      if (((mask >> i) & 1u) && v[i]) bits |= 1u << i;
    if (K == 0) s.groups<simd_vote>()[base / 32] = simd_vote(bits);
    if (K == 1) s.groups<bool>()[base / 32] = bits == mask;
    if (K == 2) s.groups<bool>()[base / 32] = bits != 0;
  }
};
typedef fission_vote<0> fission_simd_ballot;
typedef fission_vote<1> fission_simd_all;
typedef fission_vote<2> fission_simd_any;

}  // namespace detail
}  // namespace metal
#if defined(METAL_TARGET_CPU) && !defined(__clang__) && defined(__GNUC__)
#pragma GCC pop_options
#endif
