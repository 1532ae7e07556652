"""MSL quad-group functions: the SIMD-group functions over groups of 4 lanes, full and
divergent, against NumPy."""

import numpy as np
import pytest

from simd_ref import simd_groups

SRC = r"""
#include <metal_stdlib>
using namespace metal;

kernel void quads(device const int* x [[buffer(0)]], device int* out [[buffer(1)]],
                  constant uint& pred [[buffer(2)]], constant uint& n [[buffer(3)]],
                  uint gid [[thread_position_in_grid]], uint lane [[thread_index_in_simdgroup]]) {
  if (gid >= n || !((pred >> lane) & 1u)) return;
  int v = x[gid];
  device int* o = out + gid * 20;
  o[0] = quad_sum(v); o[1] = quad_product(v); o[2] = quad_min(v); o[3] = quad_max(v);
  o[4] = quad_and(v); o[5] = quad_or(v); o[6] = quad_xor(v);
  o[7] = quad_prefix_inclusive_sum(v); o[8] = quad_prefix_exclusive_sum(v);
  o[9] = quad_prefix_inclusive_product(v); o[10] = quad_prefix_exclusive_product(v);
  o[11] = quad_shuffle(v, ushort(x[gid] & 3));
  o[12] = quad_shuffle_xor(v, 2); o[13] = quad_shuffle_down(v, 1); o[14] = quad_shuffle_up(v, 1);
  o[15] = quad_broadcast(v, 2); o[16] = quad_shuffle_rotate_down(v, 1);
  o[17] = int(ushort(quad_ballot(v > 0)));
  o[18] = int(quad_all(v > 0)) | (int(quad_any(v > 0)) << 1) | (int(quad_is_first()) << 2) |
          (int(ushort(quad_active_threads_mask())) << 4);
  o[19] = quad_shuffle_and_fill_down(v, -v, 1);
}
"""


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


@pytest.mark.parametrize("pred", [0xFFFFFFFF, 0x9A3C5F17], ids=["full", "mixed"])
@pytest.mark.parametrize("tg", [32, 64, 256, 100])
def test_quad_functions(device, runner, tg, pred):
    n = 300
    rng = np.random.default_rng(tg ^ pred)
    x = rng.integers(-9, 10, n).astype(np.int32)
    out = runner.run(device, SRC, "quads", [x, np.zeros(n * 20, np.int32), np.uint32(pred), np.uint32(n)], (n,), (tg,))[
        1
    ].reshape(n, 20)
    for sg in simd_groups(n, tg):
        for q0 in range(0, len(sg), 4):
            lanes = [q0 + i for i in range(4) if q0 + i < len(sg) and (pred >> (q0 + i)) & 1]
            if not lanes:
                continue
            v = {l: int(x[sg[l]]) for l in lanes}
            act = list(v.values())

            def get(src, own):
                return v.get(src, own)

            prod = int(np.prod(act))
            ballot = sum(1 << (l - q0) for l in lanes if v[l] > 0)
            amask = sum(1 << (l - q0) for l in lanes)
            for l in lanes:
                before = [v[k] for k in lanes if k < l]
                own = v[l]
                j = (l - q0) + 1
                fill = get(q0 + j, own) if j < 4 else (-v[q0] if q0 in v else own)
                want = [
                    sum(act),
                    prod,
                    min(act),
                    max(act),
                    int(np.bitwise_and.reduce(act)),
                    int(np.bitwise_or.reduce(act)),
                    int(np.bitwise_xor.reduce(act)),
                    sum(before) + own,
                    sum(before),
                    int(np.prod(before)) * own,
                    int(np.prod(before)),
                    get(q0 + (own & 3), own),
                    get(l ^ 2, own),
                    get(l + 1, own) if (l - q0) + 1 < 4 else own,
                    get(l - 1, own) if l > q0 else own,
                    get(q0 + 2, own),
                    get(q0 + ((l - q0 + 1) & 3), own),
                    ballot,
                    int(ballot == amask) | (int(ballot != 0) << 1) | (int(l == lanes[0]) << 2) | (amask << 4),
                    fill,
                ]
                assert out[sg[l]].tolist() == want, f"lane {l} of group {sg[0]}"
