"""MSL SIMD-group functions (MSL.md §5.8): reductions, prefix scans, shuffles, broadcast,
votes, for scalar and vector types, full and divergent SIMD groups, threadgroups of 32,
64, 256 and 100 threads (an edge group that is not a multiple of 32)."""

import numpy as np
import pytest

from simd_ref import TYPES, as_values, assert_close, fold, random_values, simd_groups

RED_OPS = ["sum", "product", "min", "max", "isum", "esum", "iprod", "eprod", "and", "or", "xor"]
K = len(RED_OPS)

HEADER = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T>
void reduce_common(device const T* x, device T* out, uint gid, uint lane, uint pred) {
  T v = x[gid];
  if ((pred >> lane) & 1u) {
    out[gid * 11 + 0] = simd_sum(v);
    out[gid * 11 + 1] = simd_product(v);
    out[gid * 11 + 2] = simd_min(v);
    out[gid * 11 + 3] = simd_max(v);
    out[gid * 11 + 4] = simd_prefix_inclusive_sum(v);
    out[gid * 11 + 5] = simd_prefix_exclusive_sum(v);
    out[gid * 11 + 6] = simd_prefix_inclusive_product(v);
    out[gid * 11 + 7] = simd_prefix_exclusive_product(v);
  }
}
template <typename T>
void reduce_bits(device const T* x, device T* out, uint gid, uint lane, uint pred) {
  T v = x[gid];
  if ((pred >> lane) & 1u) {
    out[gid * 11 + 8] = simd_and(v);
    out[gid * 11 + 9] = simd_or(v);
    out[gid * 11 + 10] = simd_xor(v);
  }
}
"""
KERNEL_F = r"""
kernel void red_{T}(device const {T}* x [[buffer(0)]], device {T}* out [[buffer(1)]], constant uint& pred [[buffer(2)]],
                    constant uint& n [[buffer(3)]], uint gid [[thread_position_in_grid]],
                    uint lane [[thread_index_in_simdgroup]]) {{
  if (gid < n) reduce_common(x, out, gid, lane, pred);
}}
"""
KERNEL_I = r"""
kernel void red_{T}(device const {T}* x [[buffer(0)]], device {T}* out [[buffer(1)]], constant uint& pred [[buffer(2)]],
                    constant uint& n [[buffer(3)]], uint gid [[thread_position_in_grid]],
                    uint lane [[thread_index_in_simdgroup]]) {{
  if (gid < n) {{
    reduce_common(x, out, gid, lane, pred);
    reduce_bits(x, out, gid, lane, pred);
  }}
}}
"""

SHUFFLE = r"""
struct Params { uint pred; ushort delta; ushort mask; ushort lane; ushort modulo; };

template <typename T>
void shuffles(device const T* x, device const T* y, device const ushort* idx, device T* out,
              constant Params& p, uint gid, uint lane) {
  T v = x[gid];
  T f = y[gid];
  if ((p.pred >> lane) & 1u) {
    out[gid * 12 + 0] = simd_shuffle(v, idx[gid]);
    out[gid * 12 + 1] = simd_shuffle_down(v, p.delta);
    out[gid * 12 + 2] = simd_shuffle_up(v, p.delta);
    out[gid * 12 + 3] = simd_shuffle_xor(v, p.mask);
    out[gid * 12 + 4] = simd_shuffle_rotate_down(v, p.delta);
    out[gid * 12 + 5] = simd_shuffle_rotate_up(v, p.delta);
    out[gid * 12 + 6] = simd_shuffle_and_fill_down(v, f, p.delta);
    out[gid * 12 + 7] = simd_shuffle_and_fill_up(v, f, p.delta);
    out[gid * 12 + 8] = simd_shuffle_and_fill_down(v, f, p.delta, p.modulo);
    out[gid * 12 + 9] = simd_shuffle_and_fill_up(v, f, p.delta, p.modulo);
    out[gid * 12 + 10] = simd_broadcast(v, p.lane);
    out[gid * 12 + 11] = simd_broadcast_first(v);
  }
}
kernel void shuf_uint(device const uint* x [[buffer(0)]], device const uint* y [[buffer(1)]],
                      device const ushort* idx [[buffer(2)]], device uint* out [[buffer(3)]],
                      constant Params& p [[buffer(4)]], constant uint& n [[buffer(5)]],
                      uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid < n) shuffles(x, y, idx, out, p, gid, lane);
}
kernel void shuf_float4(device const float4* x [[buffer(0)]], device const float4* y [[buffer(1)]],
                        device const ushort* idx [[buffer(2)]], device float4* out [[buffer(3)]],
                        constant Params& p [[buffer(4)]], constant uint& n [[buffer(5)]],
                        uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid < n) shuffles(x, y, idx, out, p, gid, lane);
}
kernel void shuf_half(device const half* x [[buffer(0)]], device const half* y [[buffer(1)]],
                      device const ushort* idx [[buffer(2)]], device half* out [[buffer(3)]],
                      constant Params& p [[buffer(4)]], constant uint& n [[buffer(5)]],
                      uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid < n) shuffles(x, y, idx, out, p, gid, lane);
}
kernel void shuf_char3(device const char3* x [[buffer(0)]], device const char3* y [[buffer(1)]],
                       device const ushort* idx [[buffer(2)]], device char3* out [[buffer(3)]],
                       constant Params& p [[buffer(4)]], constant uint& n [[buffer(5)]],
                       uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid < n) shuffles(x, y, idx, out, p, gid, lane);
}

// Votes: uint4 per thread: low ballot bits, flags, active mask, simd_sum of lane ids under
// a nested divergence.
kernel void votes(device const uint* x [[buffer(0)]], device uint4* out [[buffer(1)]],
                  constant uint& pred [[buffer(2)]], constant uint& n [[buffer(3)]],
                  uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid >= n) return;
  bool b = (x[gid] & 1u) != 0;
  if ((pred >> lane) & 1u) {
    simd_vote v = simd_ballot(b);
    simd_vote a = simd_active_threads_mask();
    uint flags = uint(simd_all(b)) | (uint(simd_any(b)) << 1) | (uint(simd_is_first()) << 2) |
                 (uint(v.all()) << 3) | (uint(v.any()) << 4) | (uint(simd_is_helper_thread()) << 5) |
                 (uint(a.all()) << 6);
    uint nested = 0;
    if (b) nested = simd_sum(lane + 1u);
    out[gid] = uint4(uint(ulong(v)), flags, uint(ulong(a)), nested);
  }
}

// if/else divergence: each side reduces its own lanes; then all lanes reconverge.
kernel void branches(device const float* x [[buffer(0)]], device float4* out [[buffer(1)]],
                     constant uint& n [[buffer(2)]], uint gid [[thread_position_in_grid]],
                     uint lane [[thread_index_in_simdgroup]]) {
  if (gid >= n) return;
  float v = x[gid];
  float a, b;
  if (lane % 3 == 0) {
    a = simd_sum(v);
    b = simd_max(v);
  } else {
    a = simd_sum(v * 2.0f);
    b = simd_min(v);
  }
  float c = simd_sum(v);
  float d = 0.0f;
  for (uint i = 0; i < lane % 4; ++i) d = simd_sum(d + 1.0f);
  out[gid] = float4(a, b, c, d);
}
"""

SRC = HEADER + "".join((KERNEL_I if TYPES[t][1] == "i" else KERNEL_F).format(T=t) for t in TYPES) + SHUFFLE

TGS = [32, 64, 256, 100]
PREDS = {"full": 0xFFFFFFFF, "5lanes": 0x1F, "mixed": 0x9A3C5F17}


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("pred", list(PREDS), ids=list(PREDS))
@pytest.mark.parametrize("tg", TGS)
@pytest.mark.parametrize("tname", list(TYPES))
def test_reductions_and_scans(device, runner, tname, tg, pred):
    dt, kind, c, sc = TYPES[tname]
    n = 300
    pmask = PREDS[pred]
    rng = np.random.default_rng(hash((tname, tg, pred)) % 2**32)
    product_like = kind != "i"
    store, vals = random_values(rng, tname, n)
    pstore, pvals = random_values(rng, tname, n, for_product=True) if product_like else (store, vals)
    outs = {}
    for which, st in (("plain", store), ("prod", pstore)):
        if which == "prod" and not product_like:
            outs["prod"] = outs["plain"]
            continue
        _, out, _, _ = runner.run(
            device,
            SRC,
            f"red_{tname}",
            [st.reshape(-1), np.zeros(n * K * sc, dt), np.uint32(pmask), np.uint32(n)],
            (n,),
            (tg,),
        )
        outs[which] = as_values(tname, out.reshape(n * K, sc)).reshape(n, K, c)
    ops = RED_OPS if kind == "i" else RED_OPS[:8]
    checked = 0
    for g in simd_groups(n, tg):
        lanes = np.arange(len(g))
        act = g[((pmask >> lanes) & 1) == 1]
        if len(act) == 0:
            continue
        for k, op in enumerate(ops):
            is_prod = op in ("product", "iprod", "eprod")
            v = (pvals if is_prod else vals)[act]
            got = (outs["prod"] if is_prod else outs["plain"])[act, k]
            base = {"isum": "sum", "esum": "sum", "iprod": "product", "eprod": "product"}.get(op, op)
            incl = fold(tname, v, base)
            if op in ("isum", "iprod"):
                want = incl
            elif op in ("esum", "eprod"):
                ident = 0 if base == "sum" else 1
                want = np.concatenate([np.full((1, c), ident, incl.dtype), incl[:-1]])
            else:
                want = np.broadcast_to(incl[-1], incl.shape)
            if kind == "i":
                scale = None
            elif base == "sum":
                scale = np.cumsum(np.abs(v), axis=0) if op in ("isum", "esum") else np.abs(v).sum(axis=0)
                if op == "esum":
                    scale = np.concatenate([np.zeros((1, c)), scale[:-1]])
            else:
                scale = np.abs(want)
            assert_close(tname, got, want, scale, f"{tname} {op} group {g[0]}..{g[-1]}")
            checked += 1
    assert checked > 0


def _shuffle_ref(vals, fills, idx, lanes_active, p):
    """Expected 12 outputs for the active lanes of one SIMD group; vals: list indexed by lane."""
    delta, mask, blane, modulo = p["delta"], p["mask"], p["lane"], p["modulo"]
    act = set(lanes_active)

    def get(src, own, arr=vals):
        return arr[src] if 0 <= src < 32 and src in act else own

    first = min(act)
    res = {}
    for l in lanes_active:
        own = vals[l]
        r = [
            get(int(idx[l]), own),
            get(l + delta, own),
            get(l - delta, own),
            get(l ^ mask, own),
            get((l + delta) % 32, own),
            get((l - delta) % 32, own),
        ]
        for m, down in ((32, True), (32, False), (modulo, True), (modulo, False)):
            base, i = l - l % m, l % m
            if down:
                j = i + delta
                src, arr = (base + j, vals) if j < m else (base + (j - m) % m, fills)
            else:
                j = i - delta
                src, arr = (base + j, vals) if j >= 0 else (base + (j + m) % m, fills)
            r.append(get(src, own, arr))
        r += [get(blane, own), vals[first]]
        res[l] = r
    return res


@pytest.mark.parametrize("pred", list(PREDS), ids=list(PREDS))
@pytest.mark.parametrize("tg", TGS)
@pytest.mark.parametrize("tname", ["uint", "float4", "half", "char3"])
def test_shuffles(device, runner, tname, tg, pred):
    n = 300
    pmask = PREDS[pred]
    rng = np.random.default_rng(hash((tname, tg, pred, "s")) % 2**32)
    sc = {"uint": 1, "float4": 4, "half": 1, "char3": 4}[tname]
    dt = {"uint": np.uint32, "float4": np.float32, "half": np.float16, "char3": np.int8}[tname]
    x = rng.integers(-100, 100, (n, sc)).astype(dt)
    y = rng.integers(-100, 100, (n, sc)).astype(dt)
    if tname == "char3":
        x[:, 3] = 0
        y[:, 3] = 0
    idx = rng.integers(0, 40, n).astype(np.uint16)  # some out of range
    for delta, mask, blane, modulo in ((1, 1, 0, 8), (3, 5, 7, 4), (9, 31, 30, 16)):
        p = np.array(
            [(pmask, delta, mask, blane, modulo)],
            dtype=[("pred", "<u4"), ("delta", "<u2"), ("mask", "<u2"), ("lane", "<u2"), ("modulo", "<u2")],
        )
        out = runner.run(
            device,
            SRC,
            f"shuf_{tname}",
            [x.reshape(-1), y.reshape(-1), idx, np.zeros(n * 12 * sc, dt), p, np.uint32(n)],
            (n,),
            (tg,),
        )[3].reshape(n, 12, sc)
        prm = dict(delta=delta, mask=mask, lane=blane, modulo=modulo)
        for g in simd_groups(n, tg):
            lanes = [l for l in range(len(g)) if (pmask >> l) & 1]
            if not lanes:
                continue
            ref = _shuffle_ref([tuple(x[i]) for i in g], [tuple(y[i]) for i in g], idx[g], lanes, prm)
            for l in lanes:
                got = [tuple(v) for v in out[g[l]]]
                assert got == ref[l], f"{tname} lane {l} of group {g[0]} params {prm}:\n{got}\n{ref[l]}"


@pytest.mark.parametrize("pred", list(PREDS), ids=list(PREDS))
@pytest.mark.parametrize("tg", TGS)
def test_votes(device, runner, tg, pred):
    n = 300
    pmask = PREDS[pred]
    rng = np.random.default_rng(tg + pmask % 1000)
    x = rng.integers(0, 2, n).astype(np.uint32)
    x[:32] = 1  # a group where every lane votes true
    out = runner.run(
        device, SRC, "votes", [x, np.zeros((n, 4), np.uint32), np.uint32(pmask), np.uint32(n)], (n,), (tg,)
    )[1]
    for g in simd_groups(n, tg):
        lanes = [l for l in range(len(g)) if (pmask >> l) & 1]
        if not lanes:
            continue
        act = sum(1 << l for l in lanes)
        ballot = sum(1 << l for l in lanes if x[g[l]] & 1)
        truth = [l for l in lanes if x[g[l]] & 1]
        for l in lanes:
            flags = (
                int(ballot == act)
                | (int(ballot != 0) << 1)
                | (int(l == lanes[0]) << 2)
                | (int(ballot == 0xFFFFFFFF) << 3)
                | (int(ballot != 0) << 4)
                | (int(act == 0xFFFFFFFF) << 6)
            )
            nested = sum(t + 1 for t in truth) if x[g[l]] & 1 else 0
            assert out[g[l]].tolist() == [ballot, flags, act, nested], f"lane {l} of group {g[0]}"


@pytest.mark.parametrize("tg", TGS)
def test_divergent_branches_reconverge(device, runner, tg):
    n = 300
    rng = np.random.default_rng(tg)
    x = rng.integers(-50, 50, n).astype(np.float32)  # exact sums
    out = runner.run(device, SRC, "branches", [x, np.zeros((n, 4), np.float32), np.uint32(n)], (n,), (tg,))[1]
    for g in simd_groups(n, tg):
        lanes = np.arange(len(g))
        a3 = lanes % 3 == 0
        for l in lanes:
            if a3[l]:
                want_a, want_b = x[g[a3]].sum(), x[g[a3]].max()
            else:
                want_a, want_b = (2 * x[g[~a3]]).sum(), x[g[~a3]].min()
            # d: iteration i runs on the lanes with lane % 4 > i; d starts at 0
            d_by_lane = np.zeros(len(g))
            for i in range(3):
                on = lanes % 4 > i
                if on.any():
                    d_by_lane[on] = (d_by_lane[on] + 1).sum()
            assert out[g[l]].tolist() == [want_a, want_b, x[g].sum(), d_by_lane[l]], f"lane {l} group {g[0]}"
