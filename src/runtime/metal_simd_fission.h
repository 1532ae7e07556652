// SIMD-group functions of a kernel split by loop fission (src/msl/barrier_fission.h), CPU only.
//
// A call in uniform control flow, `float s = simd_sum(v);`, becomes three steps of the split
// kernel: a stretch where every thread puts its arguments into its slot of the call site
// (put), then the first thread of the next stretch computes the results of every SIMD group
// of the threadgroup at once (run, through get), and every thread reads its own (get). The
// results are those of the fiber path (metal_simdgroup.h) bit for bit: the active lanes are
// the threads of the SIMD group that have not returned (lanes past the end of a partial group
// do not exist), reductions fold the active lanes in ascending order starting from the first,
// scans fold from the identity in ascending order, a shuffle whose source is out of range or
// inactive returns the caller's own value.
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
  bool done = false;
  template <class S> S* as() {
    static_assert(sizeof(S) <= kSlotBytes, "a SIMD-group value of a split kernel is limited to 40 bytes");
    return reinterpret_cast<S*>(slots);
  }
  template <class R> R* groups() {
    static_assert(sizeof(R) <= kSlotBytes, "a SIMD-group value of a split kernel is limited to 40 bytes");
    return reinterpret_cast<R*>(group_results);
  }
  template <class Op, class... A> void put(unsigned index, const A&... args) {
    typedef typename Op::template slot<A...> S;
    as<S>()[index] = Op::make(args...);
  }
  // The value of this call for thread `index` (T: the type of the first argument).
  template <class Op, class T, class Threads>
  typename Op::template result<T> get(const Threads& threads, unsigned index) {
    if (!done) {
      done = true;
      unsigned n = threads.pm_size();
      for (unsigned base = 0; base < n; base += 32) {
        unsigned mask = 0;
        for (unsigned l = 0; l < 32 && base + l < n; ++l)
          if (threads.pm_live(base + l)) mask |= 1u << l;
        if (mask) Op::template run<T>(*this, base, mask);
      }
    }
    return Op::template read<T>(*this, index);
  }
};

// The folds below must keep their order under fast math (-fassociative-math) to equal the fiber
// path's: no vectorised or unrolled partial sums.
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

template <class Op> struct fission_reduce : fission_per_group<fission_reduce<Op>> {
  template <class T> using slot = fission_value_t<T>;
  template <class T> using result = fission_value_t<T>;
  template <class T> static fission_value_t<T> make(const T& x) { return fission_value_t<T>(x); }
  template <class T> static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    const V* v = s.as<V>() + base;
    unsigned first = fission_lowest(mask);
    V acc = v[first];
    METAL_RT_FISSION_IN_ORDER
    for (unsigned i = first + 1; i < 32; ++i)
      if ((mask >> i) & 1u) acc = Op{}(acc, v[i]);
    s.groups<V>()[base / 32] = acc;
  }
};
typedef fission_reduce<simd_op_sum> fission_simd_sum;
typedef fission_reduce<simd_op_product> fission_simd_product;
typedef fission_reduce<simd_op_min> fission_simd_min;
typedef fission_reduce<simd_op_max> fission_simd_max;
typedef fission_reduce<simd_op_and> fission_simd_and;
typedef fission_reduce<simd_op_or> fission_simd_or;
typedef fission_reduce<simd_op_xor> fission_simd_xor;

template <class Op, bool Inclusive, bool Product> struct fission_scan
    : fission_per_lane<fission_scan<Op, Inclusive, Product>> {
  template <class T> using slot = fission_value_t<T>;
  template <class T> using result = fission_value_t<T>;
  template <class T> static fission_value_t<T> make(const T& x) { return fission_value_t<T>(x); }
  template <class T> static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    V* v = s.as<V>() + base;
    V acc = Product ? simd_one<V>() : simd_zero<V>();
    METAL_RT_FISSION_IN_ORDER
    for (unsigned i = 0; i < 32; ++i) {
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
};
typedef fission_scan<simd_op_sum, true, false> fission_simd_prefix_inclusive_sum;
typedef fission_scan<simd_op_sum, false, false> fission_simd_prefix_exclusive_sum;
typedef fission_scan<simd_op_product, true, true> fission_simd_prefix_inclusive_product;
typedef fission_scan<simd_op_product, false, true> fission_simd_prefix_exclusive_product;

// A shuffle: the value and the lane argument (index, delta or mask, as the ushort MSL takes).
template <class V> struct fission_lane_value {
  V v;
  ushort a;
};
enum class fission_src { index, down, up, xor_, rotate_down, rotate_up };
template <fission_src K> struct fission_shuffle : fission_per_lane<fission_shuffle<K>> {
  template <class T, class L = ushort> using slot = fission_lane_value<fission_value_t<T>>;
  template <class T> using result = fission_value_t<T>;
  template <class T, class L> static slot<T> make(const T& x, const L& lane) {
    return slot<T>{fission_value_t<T>(x), ushort(lane)};
  }
  template <class T> static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    fission_lane_value<V> in[32];
    fission_lane_value<V>* slots = s.as<fission_lane_value<V>>() + base;
    for (unsigned i = 0; i < 32; ++i)
      if ((mask >> i) & 1u) in[i] = slots[i];
    V* out = s.as<V>() + base;  // sizeof(V) <= the slot's: writes stay inside this group's slots
    for (unsigned l = 0; l < 32; ++l) {
      if (!((mask >> l) & 1u)) continue;
      unsigned d = in[l].a, src = 0;
      bool valid = true;
      switch (K) {
        case fission_src::index:
          src = d;
          break;
        case fission_src::down:
          src = l + d;
          break;
        case fission_src::up:
          valid = l >= d;
          src = l - d;
          break;
        case fission_src::xor_:
          src = l ^ d;
          break;
        case fission_src::rotate_down:
          src = (l + d) & 31u;
          break;
        case fission_src::rotate_up:
          src = (l - d) & 31u;
          break;
      }
      out[l] = valid && src < 32u && ((mask >> src) & 1u) ? in[src].v : in[l].v;
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

struct fission_simd_broadcast_first : fission_per_group<fission_simd_broadcast_first> {
  template <class T> using slot = fission_value_t<T>;
  template <class T> using result = fission_value_t<T>;
  template <class T> static fission_value_t<T> make(const T& x) { return fission_value_t<T>(x); }
  template <class T> static void run(fission_simd_site& s, unsigned base, unsigned mask) {
    typedef fission_value_t<T> V;
    s.groups<V>()[base / 32] = s.as<V>()[base + fission_lowest(mask)];
  }
};

// simd_ballot / simd_all / simd_any: a bool per lane.
template <int K> struct fission_vote : fission_per_group<fission_vote<K>> {
  template <class T> using slot = bool;
  template <class T> using result = conditional_t<K == 0, simd_vote, bool>;
  template <class T> static bool make(const T& x) { return bool(x); }
  template <class T> static void run(fission_simd_site& s, unsigned base, unsigned mask) {
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
