"""Issue 13, item 4: a CUDA translation unit includes only the optional parts of the runtime
library its program names (METAL_RT_OMIT_<GROUP>, src/runtime/metal_runtime.h), because
parsing the whole library was most of a cold NVRTC compile (docs/performance.md). These
tests need no GPU: which parts a program gets (the generated CUDA C++), that every subset the
backend can write compiles with NVRTC, and that the benchmark kernels compile to the same
PTX instructions with the subset as with the whole library."""

import os
import re
import sys

import nvrtc_direct
import pymetallic as pm
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GROUPS = ["ATOMIC", "FUNCTIONS", "LOGGING", "MATRIX", "PACK", "SIMDGROUP", "SIMDGROUP_MATRIX", "TEXTURE", "VALIDATION"]

HEAD = "#include <metal_stdlib>\nusing namespace metal;\n"
PLAIN = (
    HEAD
    + """
kernel void axpy(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                 constant float& a [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    float2 v = float2(x[i], y[i]);
    y[i] = fma(a, v.x, v.y) + clamp(dot(v, v), 0.0f, 1.0f);
}
"""
)
# Names no library function: gets none of the function headers either.
BARE = (
    HEAD
    + """
kernel void scale(device const float2* x [[buffer(0)]], device float* y [[buffer(1)]],
                  constant float& a [[buffer(2)]], uint i [[thread_position_in_grid]],
                  uint n [[threads_per_grid]]) {
    float2 v = x[i].yx;
    y[i] = i + 1 < n ? a * v.x + v.y : as_type<float>(as_type<uint>(v.x) ^ 0x80000000u);
    threadgroup_barrier(mem_flags::mem_none);
}
"""
)
# One kernel per optional group: the group it must get.
USES = {
    "FUNCTIONS": """kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        o[i] = metal::precise::sqrt(o[i]); }""",
    "ATOMIC": """kernel void k(device atomic_uint* c [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        atomic_fetch_add_explicit(c, i, memory_order_relaxed); }""",
    "SIMDGROUP": """kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        o[i] = simd_sum(o[i]); }""",
    "SIMDGROUP_MATRIX": """kernel void k(device float* o [[buffer(0)]]) {
        simdgroup_float8x8 m; simdgroup_load(m, o, 8); simdgroup_store(m, o + 64, 8); }""",
    "PACK": """kernel void k(device uint* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        o[i] = pack_float_to_unorm4x8(float4(0.25f)); }""",
    "MATRIX": """kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        float2x2 m = float2x2(o[0], o[1], o[2], o[3]); o[i] = determinant(m); }""",
    "TEXTURE": """kernel void k(texture2d<float, access::read> t [[texture(0)]], device float* o [[buffer(0)]],
        uint2 g [[thread_position_in_grid]]) { o[g.x] = t.read(g).x; }""",
    "LOGGING": """kernel void k(device int* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
        if (i == 0) os_log_default.log("value %d", o[0]); }""",
}


def nvrtc_available():
    try:
        return not pm._core.toolchains().get("nvrtc", "unavailable").startswith("unavailable")
    except Exception:  # noqa: BLE001
        return False


def generated(src, options=None):
    return pm._core.compile_offline(src, options, "cuda", "sm_90", True)["generated"]


def omitted(text):
    return set(re.findall(r"^#define METAL_RT_OMIT_(\w+) 1$", text, re.M))


def test_the_groups_are_those_of_the_runtime():
    with open(os.path.join(nvrtc_direct.runtime_dir(), "metal_runtime.h")) as f:
        guarded = set(re.findall(r"^#ifndef METAL_RT_OMIT_(\w+)$", f.read(), re.M))
    assert guarded == set(GROUPS)
    with open(os.path.join(nvrtc_direct.runtime_dir(), "metal_user_scope.h")) as f:
        sections = set(re.findall(r"^#ifndef METAL_RT_OMIT_(\w+)$", f.read(), re.M))
    assert sections == set(GROUPS) - {"VALIDATION"}


def test_a_plain_kernel_gets_no_optional_part_but_the_functions_it_calls():
    text = generated(PLAIN)
    assert omitted(text) == set(GROUPS) - {"FUNCTIONS"}
    assert text.index("#define METAL_RT_OMIT_TEXTURE 1") < text.index('#include "metal_runtime.h"')
    # as_type, the barriers, vectors and their swizzles are not in any optional part (and the
    # entry points' own code names no library function).
    assert omitted(generated(BARE)) == set(GROUPS)


def test_a_kernel_without_library_functions_compiles_in_strict_mode(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "strict")
    pm._core.compile_offline(BARE, None, "cuda", "sm_90")


@pytest.mark.parametrize("group", sorted(USES))
def test_a_kernel_gets_the_parts_it_names(group):
    assert omitted(generated(HEAD + USES[group])) == set(GROUPS) - {group}


def test_names_in_comments_or_longer_identifiers_do_not_count_but_qualified_names_do():
    src = (
        PLAIN
        + "// simd_sum texture2d\nkernel void k2(device float* o [[buffer(0)]]) { float simd_sum2 = 1; o[0] = simd_sum2; }\n"
    )
    # The CUDA unit keeps the front end's comments out, and `simd_sum2` is not `simd_sum`.
    assert omitted(generated(src)) == set(GROUPS) - {"FUNCTIONS"}
    qualified = (
        HEAD
        + "kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) { o[i] = metal::simd_max(o[i]); }"
    )
    assert "SIMDGROUP" not in omitted(generated(qualified))


def test_a_validation_build_gets_the_validation_part():
    assert omitted(generated(PLAIN, {"validation": True})) == set(GROUPS) - {"VALIDATION", "FUNCTIONS"}
    assert omitted(generated(BARE, {"validation": True})) == set(GROUPS) - {"VALIDATION"}


def test_the_whole_library_on_request(monkeypatch):
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "0")
    assert omitted(generated(PLAIN)) == set()


@pytest.mark.parametrize("group", sorted(USES))
def test_each_subset_compiles_with_nvrtc(group):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    pm._core.compile_offline(HEAD + USES[group], None, "cuda", "sm_90")


# A name of an optional part that no section of metal_user_scope.h holds (an internal one):
# the detection cannot see it.
UNSEEN = (
    HEAD
    + """kernel void k(device float* o [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    o[i] = metal::detail::pack_clampf(o[i], 0.0f, 1.0f); }"""
)


def test_a_failed_subset_is_retried_with_the_whole_library(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "strict")
    with pytest.raises(pm.CompileError, match="pack_clampf"):
        pm._core.compile_offline(UNSEEN, None, "cuda", "sm_90")
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "1")
    result = pm._core.compile_offline(UNSEEN, None, "cuda", "sm_90")
    assert omitted(result["generated"]) == set()  # what compiled is the whole library
    assert os.listdir(tmp_path / "cuda")  # in the folder the environment names now
    # From the cache (a new process would find the same): still the whole library, and the
    # subset still fails in strict mode (the cache entry of the retry is not the subset's).
    again = pm._core.compile_offline(UNSEEN, None, "cuda", "sm_90")
    assert again["generated"] == result["generated"] and again["binary_size"] == result["binary_size"]
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "strict")
    with pytest.raises(pm.CompileError, match="pack_clampf"):
        pm._core.compile_offline(UNSEEN, None, "cuda", "sm_90")


def test_the_cuda_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    for name in ("a", "b"):
        monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path / name))
        pm._core.compile_offline(PLAIN, None, "cuda", "sm_90")
        assert any(f.endswith(".cubin") for f in os.listdir(tmp_path / name / "cuda")), name


def test_a_program_error_is_reported_as_before_after_the_retry(monkeypatch, tmp_path):
    if not nvrtc_available():
        pytest.skip("NVRTC unavailable")
    monkeypatch.setenv("PYMETALLIC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "1")
    bad = HEAD + "kernel void k(device float* o [[buffer(0)]]) {\n    o[0] = not_declared_anywhere;\n}\n"
    with pytest.raises(pm.CompileError, match=r"program.metal:4: error: identifier \"not_declared_anywhere\""):
        pm._core.compile_offline(bad, None, "cuda", "sm_90")


# ---- NVRTC directly (no GPU): every combination the backend writes compiles, and the
# subset changes no instruction of the benchmark kernels.


@pytest.mark.parametrize("validation", [False, True], ids=["plain", "validation"])
def test_every_subset_of_the_library_compiles(validation):
    """All parts, none, each alone and all but each: a part that needs another it does not
    include, or a name of metal_user_scope.h in the wrong section, fails here."""
    lib = nvrtc_direct.library()
    optional = [g for g in GROUPS if not (validation and g == "VALIDATION")]
    cases = [[], optional] + [[g] for g in optional] + [[o for o in optional if o != g] for g in optional]
    for omit in cases:
        tu = ("#define PM_VALIDATION 1\n" if validation else "") + "#define METAL_TARGET_CUDA 1\n"
        tu += "".join(f"#define METAL_RT_OMIT_{g} 1\n" for g in omit)
        tu += '#include "metal_runtime.h"\nnamespace metal_user {\n#include "metal_user_scope.h"\n}\n'
        nvrtc_direct.compile(lib, tu, nvrtc_direct.options() + ["-fdevice-syntax-only"])


def test_the_benchmark_kernels_compile_to_the_same_instructions(monkeypatch):
    lib = nvrtc_direct.library()
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from gpu_kernels import MSL

    subset = generated(MSL)
    assert {"TEXTURE", "ATOMIC", "PACK", "FUNCTIONS"} <= omitted(subset)
    monkeypatch.setenv("PYMETALLIC_CUDA_RUNTIME_SUBSET", "0")
    whole = generated(MSL)
    assert omitted(whole) == set()
    flags = nvrtc_direct.options() + ["-DMETAL_FAST_MATH=1", "--fmad=true"]
    a = nvrtc_direct.functions(nvrtc_direct.compile(lib, subset, flags))
    b = nvrtc_direct.functions(nvrtc_direct.compile(lib, whole, flags))
    assert len(a) == 18 and a.keys() == b.keys()  # 7 kernels: 4 with constant T& have three entries
    for name in a:
        assert a[name] == b[name], name
