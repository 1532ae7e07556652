"""The runtime library compiles under NVRTC (compute_90) in the layout the backends use.

Compile only: no GPU is needed. Skips cleanly when libnvrtc cannot be found.
"""

import ctypes
import glob
import os
import pathlib
import sys
import time

import pytest

RUNTIME_DIR = pathlib.Path(__file__).resolve().parents[2] / "src" / "runtime"
OPTIONS = ["-std=c++17", "-default-device", "--gpu-architecture=compute_90", f"--include-path={RUNTIME_DIR}"]


def _nvrtc_candidates():
    dirs = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            dirs.append(os.path.join(os.environ[var], "lib64"))
            dirs.append(os.path.join(os.environ[var], "lib"))
    dirs.append("/usr/local/cuda/lib64")
    for p in sys.path:  # the nvidia-cuda-nvrtc pip wheels
        dirs.append(os.path.join(p, "nvidia", "cuda_nvrtc", "lib"))
        dirs.append(os.path.join(p, "nvidia", "cu13", "lib"))
    for d in dirs:
        yield from sorted(glob.glob(os.path.join(d, "libnvrtc.so*")))
    yield "libnvrtc.so"


@pytest.fixture(scope="module")
def nvrtc():
    for path in _nvrtc_candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.nvrtcCreateProgram  # noqa: B018 (it is a real NVRTC)
            return lib
        except OSError:
            continue
    pytest.skip("libnvrtc not found (set CUDA_HOME or install nvidia-cuda-nvrtc)")


def compile_source(lib, src):
    """Compiles src; returns (ok, log, seconds)."""
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"kernel.cu", 0, None, None) == 0
    opts = [o.encode() for o in OPTIONS]
    t0 = time.perf_counter()
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    dt = time.perf_counter() - t0
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return rc == 0, log.value.decode(errors="replace"), dt


# The translation unit as the README lays it out: runtime, then user code inside
# metal_user with the using-declarations, then an extern "C" entry wrapper.
USER_TU = r"""
#include "metal_runtime.h"
namespace metal_user {
#include "metal_user_scope.h"
using namespace metal;

METAL_PROGRAM_SCOPE_CONSTANT float3 kUp = float3(0, 1, 0);
METAL_PROGRAM_SCOPE_CONSTANT half kHalfTable[] = {half(1.0f), half(0.5f), M_PI_H};

struct Params { float scale; uint n; packed_float3 offset; };

template <typename T> METAL_FUNC T square(T x) { return x * x; }

void kernel_body(const Params& p, float4* out, const half4* hin, uint3 gid, uint3 lid) {
  METAL_THREADGROUP_STORAGE float shared_vals[64];
  float2 uv = float2(gid.xy) * p.scale;          // unqualified float2 is metal's
  float4 c(uv, 0, 1);
  c.zw = c.yx + 1.0f;
  c.xyz *= 0.5f;
  float3 n = normalize(cross(c.xyz, kUp) + float3(p.offset));
  half4 h = hin[gid.x] * half(2) + kHalfTable[gid.x % 3];
  float s = sqrt(2.0f) + sqrt(2) + fast::exp(uv.x) + precise::sin(uv.y) + powr(1.5f, p.scale);
  s += length(n.xy) + dot(c, float4(h)) + clamp(s, 0.0f, 1.0f) + mix(0.0f, 1.0f, 0.25f);
  s += fmedian3(1.0f, 2.0f, 3.0f) + fract(s) + sinpi(s) + rsqrt(4.0f) + exp10(0.5f);
  bool4 m = c < 0.5f;
  float4 sel = select(c, float4(0), m);
  int4 iv = int4(sel * 8.0f);
  uint pc = popcount(gid.x) + clz(gid.y) + mulhi(gid.z, 7u) + rotate(gid.x, 3u) + reverse_bits(lid.x);
  uint2 bits = as_type<uint2>(c.xy);
  half hh = sqrt(h.x) + max(h.y, half(1)) + half(numeric_limits<half>::epsilon());
  bool bad = any(isnan(c)) || all(isinf(sel)) || signbit(s);
  shared_vals[lid.x % 64] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_barrier(mem_flags::mem_none);
  float t = shared_vals[(lid.x + 1) % 64];
  int e;
  float fr = frexp(t, e);
  metal::array<float, 2> arr = {{fr, float(e)}};
  out[gid.x] = float4(t + float(hh) + float(pc) + float(bits.x & 1u) + arr[0],
                      float(iv.x + iv.y) + square(s), bad ? 1.0f : 0.0f, INFINITY) + sel;
  float3x3 rot(1.0f);
  float4x4 proj(2.0f);
  out[0] += float4(rot * n, determinant(proj)) + transpose(proj) * c;
  if (p.n > 3 && is_same<decltype(uv), vec<float, 2>>::value) out[gid.x].w = FLT_MAX;
}
}  // namespace metal_user

extern "C" __global__ void entry(metal_user::Params* p, metal::float4* out, const metal::half4* hin) {
  metal::uint3 gid(blockIdx.x * blockDim.x + threadIdx.x, blockIdx.y, blockIdx.z);
  metal::uint3 lid(threadIdx.x, threadIdx.y, threadIdx.z);
  metal_user::kernel_body(*p, out, hin, gid, lid);
}
"""


def test_user_translation_unit_compiles(nvrtc):
    ok, log, dt = compile_source(nvrtc, USER_TU)
    assert ok, "NVRTC failed:\n" + log
    print(f"NVRTC compile of the kernel TU: {dt:.3f} s")


def test_umbrella_compiles_quickly(nvrtc):
    src = (
        '#include "metal_runtime.h"\nnamespace metal_user {\n#include "metal_user_scope.h"\n'
        "void body(float* o) { o[0] = 1.0f; }\n}\n"
        'extern "C" __global__ void entry(float* o) { metal_user::body(o); }\n'
    )
    ok, log, dt = compile_source(nvrtc, src)
    assert ok, "NVRTC failed:\n" + log
    print(f"NVRTC compile of the bare umbrella: {dt:.3f} s")
    assert dt < 2.0  # generous bound; typically ~0.1 s


def test_static_layouts_hold_under_nvrtc(nvrtc):
    src = (
        '#define METAL_RUNTIME_SELF_CHECK 1\n#include "metal_runtime.h"\n'
        'static_assert(sizeof(metal::float3) == 16 && alignof(metal::float3) == 16, "");\n'
        'static_assert(sizeof(metal::packed_float3) == 12, "");\n'
        'static_assert(sizeof(metal::half3) == 8 && alignof(metal::half3) == 8, "");\n'
        'static_assert(metal::half(1.0f).bits == 0x3c00, "");\n'
        'extern "C" __global__ void entry(metal::float3* o) { o[0] = metal::float3(1); }\n'
    )
    ok, log, _ = compile_source(nvrtc, src)
    assert ok, "NVRTC failed:\n" + log


def test_errors_are_reported(nvrtc):
    # A swizzle with a repeated component cannot be assigned: the log must say so.
    src = (
        '#include "metal_runtime.h"\n'
        'extern "C" __global__ void entry(metal::float4* o) { o[0].xx = metal::float2(1, 2); }\n'
    )
    ok, log, _ = compile_source(nvrtc, src)
    assert not ok
    assert "repeats a component" in log
