"""What Metal's compiler rejects, pymetallic rejects: a CompileError in Metal's words that names
the user's file and line (src/msl/metal_rules.cpp; docs/msl-support.md, "What Metal rejects").
Also what is not MSL and would reach the host process on the CPU device (issue 11)."""

import os

import numpy as np
import pytest

import pymetallic as pm

HEAD = "#include <metal_stdlib>\nusing namespace metal;\n"  # lines 1-2


def src_with(body_lines, before=()):
    """HEAD, then `before` (program scope, from line 3), then a kernel whose body follows."""
    lines = HEAD.splitlines() + list(before)
    lines.append("kernel void k(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],")
    lines.append("              uint i [[thread_position_in_grid]]) {")
    lines += ["  " + b for b in body_lines]
    lines.append("}")
    return "\n".join(lines) + "\n"


def kernel_line(before=(), body_index=0):
    """The line number of body line `body_index` in src_with(...)."""
    return 2 + len(before) + 2 + body_index + 1


# (id, program-scope lines, kernel body lines, the offending line's index, message regex)
# index >= 0: in the body; index < 0: -1 is the first program-scope line, -2 the second...
CASES = [
    (
        "vla_thread",
        [],
        ["float tmp[n];", "tmp[0] = 1;", "out[i] = tmp[0];"],
        0,
        r"variable length arrays are not supported.*'tmp'.*'n'",
    ),
    (
        "vla_local_size",
        [],
        ["uint m = n + 1;", "float tmp[m];", "out[i] = tmp[0];"],
        1,
        r"variable length arrays are not supported.*'m'",
    ),
    (
        "vla_const_from_argument",
        [],
        ["const uint m = n * 2;", "float tmp[2][m];", "out[i] = tmp[0][0];"],
        1,
        r"variable length arrays are not supported",
    ),
    (
        "vla_threadgroup",
        [],
        ["threadgroup float tile[n];", "out[i] = tile[0];"],
        0,
        r"variable length arrays are not supported.*'tile'",
    ),
    (
        "program_scope_threadgroup",
        ["threadgroup int total;"],
        ["out[i] = total;"],
        -1,
        r"program scope variable must reside in constant address space.*'total'",
    ),
    (
        "program_scope_device_pointer",
        ["device int* p;"],
        ["out[i] = p[0];"],
        -1,
        r"program scope variable must reside in constant address space.*'p'",
    ),
    (
        "program_scope_plain",
        ["int g = 3;"],
        ["out[i] = g;"],
        -1,
        r"program scope variable must reside in constant address space.*'g'",
    ),
    (
        "program_scope_template_type",
        ["vec<float, 4> g4;"],
        ["out[i] = g4.x;"],
        -1,
        r"program scope variable must reside in constant address space.*'g4'",
    ),
    (
        "program_scope_after_struct",
        ["struct S { float v; } s;"],
        ["out[i] = s.v;"],
        -1,
        r"program scope variable must reside in constant address space.*'s'",
    ),
    (
        "static_local",
        [],
        ["static float acc = 0;", "out[i] = acc;"],
        0,
        r"static local variable must reside in constant address space",
    ),
    (
        "recursion_direct",
        ["uint factorial_r(uint v) {", "  return v < 2 ? 1 : v * factorial_r(v - 1);", "}"],
        ["out[i] = float(factorial_r(n));"],
        -2,
        r"recursive function calls are not supported.*'factorial_r' calls itself",
    ),
    (
        "recursion_mutual",
        [
            "uint pong_r(uint v);",
            "uint ping_r(uint v) { return v == 0 ? 0 : pong_r(v - 1); }",
            "uint pong_r(uint v) { return v == 0 ? 1 : ping_r(v - 1); }",
        ],
        ["out[i] = float(ping_r(n));"],
        -1,
        r"recursive function calls are not supported.*'ping_r' calls 'pong_r', which calls 'ping_r'",
    ),
    (
        "function_pointer",
        ["float twice(float v) { return 2 * v; }"],
        ["float (*fp)(float) = twice;", "out[i] = fp(1);"],
        0,
        r"function pointers are not supported.*'fp'",
    ),
    (
        "function_pointer_parameter",
        ["float apply_r(float (*fn)(float), float v) { return fn(v); }"],
        ["out[i] = 0;"],
        -1,
        r"function pointers are not supported.*'fn'",
    ),
    ("goto", [], ["if (n == 0) goto done;", "out[i] = 1;", "done:", "out[i] += 0;"], 0, r"'goto' is not supported"),
    ("try", [], ["try { out[i] = 1; } catch (...) { out[i] = 0; }"], 0, r"exception handling \('try'\)"),
    ("throw", [], ["if (n == 0) throw 1;", "out[i] = 1;"], 0, r"exception handling \('throw'\)"),
    ("new", [], ["device float* q = new float[4];", "out[i] = q[0];"], 0, r"'new' is not supported"),
    ("delete", [], ["device float* q = out;", "delete q;"], 1, r"'delete' is not supported"),
    (
        "virtual",
        ["struct Shape { virtual float area() const { return 0; } };"],
        ["out[i] = Shape().area();"],
        -1,
        r"virtual functions are not supported",
    ),
    (
        "dynamic_cast",
        ["struct B { float v; };"],
        ["thread B b{1};", "out[i] = dynamic_cast<thread B*>(&b)->v;"],
        1,
        r"'dynamic_cast' is not supported",
    ),
    ("thread_local", ["thread_local float cache;"], ["out[i] = cache;"], -1, r"'thread_local' is not supported"),
    # Not MSL, and it would reach the host process on the CPU device (issue 11).
    ("asm", [], ['asm volatile("" ::: "memory");', "out[i] = 1;"], 0, r"inline assembly \('asm'\)"),
    ("gnu_asm", [], ['__asm__("nop");', "out[i] = 1;"], 0, r"inline assembly \('__asm__'\)"),
    (
        "attribute_constructor",
        ["__attribute__((constructor)) void at_load() {}"],
        ["out[i] = 1;"],
        -1,
        r"attribute '__attribute__\(\(constructor\)\)' is not supported",
    ),
    (
        "attribute_cxx11_gnu",
        ["[[gnu::destructor]] void at_unload() {}"],
        ["out[i] = 1;"],
        -1,
        r"attribute '\[\[gnu::destructor\]\]' is not supported",
    ),
    (
        "builtin_trap",
        [],
        ["if (n == 12345) __builtin_trap();", "out[i] = 1;"],
        0,
        r"'__builtin_trap' is a host compiler builtin",
    ),
    (
        "builtin_frame_address",
        [],
        ["out[i] = float(ulong(__builtin_frame_address(0)) & 1);"],
        0,
        r"'__builtin_frame_address' is a host compiler builtin",
    ),
    (
        "extern_c",
        ['extern "C" int system(constant char* command);'],
        ["out[i] = 1;"],
        -1,
        r"'extern \"C\"' is not supported",
    ),
]


@pytest.mark.parametrize("before,body,index,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_metal_rejects_it_and_so_do_we(device, before, body, index, message):
    src = src_with(body, before)
    line = kernel_line(before, index) if index >= 0 else 2 + len(before) + index + 1
    with pytest.raises(pm.CompileError, match=rf"program\.metal:{line}:\d+: error: {message}"):
        pm.Library(device, src)


def test_as_type_between_sizes_names_the_users_line(device):
    src = HEAD + (
        "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  short s = short(i);\n"
        "  out[i] = as_type<float>(s);\n"
        "}\n"
    )
    with pytest.raises(
        pm.CompileError,
        match=r"program\.metal:5(:\d+)?: error: .*as_type: invalid reinterpretation: "
        r"sizes of the source and destination types must match",
    ) as e:
        pm.Library(device, src)
    assert "metal_as_type.h" not in str(e.value).splitlines()[1]


# What Metal accepts stays accepted: the look-alikes of every rule above, in one kernel.
ACCEPTED = (
    HEAD
    + r"""
constant float scale = 2.0f;                       // program scope in constant
constexpr constant int kSize = 4;
constexpr float kOffset = 0.5f;                    // constexpr: implicitly constant in Metal
constant float table[kSize] = {1, 2, 3, 4};
template <typename T> constant T one = T(1);        // a variable template in constant
typedef struct { float a; } Pair;
struct Acc {
  float v;
  Acc(float x) : v(x) {}
  Acc(const Acc&) = default;
  Acc& operator=(const Acc&) = default;
  static constexpr int lanes = 4;                  // a constexpr static member
  static Acc zero() { return Acc(0); }
  float get() const { return v; }
};
struct NoCopy { NoCopy() = default; NoCopy(const NoCopy&) = delete; };
template <int N> float sum_to(float x) {            // compile-time recursion through templates
  if constexpr (N == 0) return x; else return sum_to<N - 1>(x + float(N));
}
float4 mix(float4 a, float4 b, float t) { return mix(a, b, float4(t)); }   // overloads a Metal function
inline __attribute__((always_inline)) float twice(float v) { return 2 * v; }
METAL_FUNC float thrice(float v) { return 3 * v; }
__attribute__((noinline)) float plus_one(float v) { return v + 1; }
template <typename T, uint N> struct Buf { T data[N]; };   // bound from a template parameter
template <float (*F)(float)> float call_twice(float v) { return F(F(v)); }  // function as a template argument
typedef float (*unary_fn)(float);                  // a function-pointer type alias (no variable)
kernel void k(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
              uint i [[thread_position_in_grid]]) {
  constexpr uint M = 3;
  const uint L = 2;
  float local[M + L + sizeof(n) / 4];              // constant bounds
  Buf<float, kSize> b;
  static constexpr float half_v = 0.5f;
  static constant float third = 1.0f / 3.0f;
  for (uint j = 0; j < M + L + 1; ++j) local[j] = float(j) * table[j % kSize];
  for (uint j = 0; j < kSize; ++j) b.data[j] = float(j);
  auto add = [&](float x) { return x + local[1]; };
  Pair p = {scale};
  Acc acc = Acc::zero();
  acc = Acc(acc.get() + float(Acc::lanes));
  float v = mix(float4(0), float4(1), 0.25f).x;     // 0.25
  out[i] = add(local[2]) + b.data[3] + p.a + acc.get() + v + sum_to<2>(0.0f) + twice(1) + thrice(1)
         + plus_one(0) + half_v + third * 3 + one<float> + kOffset + float(__builtin_expect(n, 1u) > 0 ? 0 : 1)
         + call_twice<plus_one>(0.0f);
}
"""
)


def test_what_metal_accepts_still_compiles_and_runs(device):
    lib = pm.Library(device, ACCEPTED)
    pipe = pm.ComputePipelineState(device, lib.make_function("k"))
    out = pm.Buffer(device, 4 * 4)
    q = pm.CommandQueue(device)
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(out, 0, 0)
    enc.set_bytes(np.uint32(1), 1)
    enc.dispatch_threads((4, 1, 1), (4, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    table = [1, 2, 3, 4]
    local2 = 2.0 * table[2]
    local1 = 1.0 * table[1]
    want = (local2 + local1) + 3 + 2 + 4 + 0.25 + 3 + 2 + 3 + 1 + 0.5 + 1 + 1 + 0.5 + 0 + 2
    np.testing.assert_allclose(out.to_numpy(np.float32, (4,)), np.full(4, want, np.float32), rtol=1e-6)


def test_include_outside_the_sources_folder_is_refused_before_reading(device, tmp_path):
    secret = tmp_path / "secret.h"
    secret.write_text("SECRET_CONTENTS_42\n")
    for name in (str(secret), "/etc/passwd"):
        with pytest.raises(pm.CompileError, match=r"program\.metal:1:\d+: error: #include of an absolute path") as e:
            pm.Library(device, f'#include "{name}"\nkernel void k(device float* o [[buffer(0)]]) {{ o[0] = 1; }}\n')
        assert "SECRET_CONTENTS_42" not in str(e.value) and "root:" not in str(e.value)
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "ok.h").write_text("#define OK_VALUE 7.0f\n")
    src = '#include "ok.h"\n#include "../secret.h"\nkernel void k(device float* o [[buffer(0)]]) { o[0] = OK_VALUE; }\n'
    with pytest.raises(
        pm.CompileError,
        match=r"program\.metal:2:\d+: error: #include '\.\./secret\.h' resolves "
        r"outside",
    ) as e:
        pm.Library(device, src, {"include_paths": [str(inc)]})
    assert "SECRET_CONTENTS_42" not in str(e.value)
    (inc / "link.h").symlink_to(secret)
    with pytest.raises(pm.CompileError, match=r"resolves outside"):
        pm.Library(
            device,
            '#include "link.h"\nkernel void k(device float* o [[buffer(0)]]) { o[0] = 1; }\n',
            {"include_paths": [str(inc)]},
        )
    # Inside the include path, including a sibling through `..` of a subfolder, is fine.
    (inc / "sub").mkdir()
    (inc / "sub" / "up.h").write_text('#include "../ok.h"\n')
    pm.Library(
        device,
        '#include "sub/up.h"\nkernel void k(device float* o [[buffer(0)]]) { o[0] = OK_VALUE; }\n',
        {"include_paths": [str(inc)]},
    )
    assert os.path.exists(secret)


def test_accepted_kernel_compiles_for_cuda(cuda_compile):
    cuda_compile(ACCEPTED)


def test_as_type_between_sizes_names_the_users_line_in_nvrtc(cuda_compile):
    # NVRTC reports the static_assert inside the runtime "at line 5 of program.metal".
    src = HEAD + (
        "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  short s = short(i);\n"
        "  out[i] = as_type<float>(s);\n"
        "}\n"
    )
    with pytest.raises(pm.CompileError, match=r"program\.metal:5: error: .*as_type: invalid reinterpretation"):
        cuda_compile(src)
