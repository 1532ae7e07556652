"""pymetallic.fast.metal_kernel: MLX's mx.fast.metal_kernel. The generated signatures are
compared with MLX's documented rules; kernels in MLX's style run on NumPy inputs (and on
PyTorch CPU tensors when PyTorch is installed) against NumPy references."""

import numpy as np
import pytest

import pymetallic as pm
from pymetallic.fast import _Input, metal_kernel

CPU = next(d for d in pm.Device.get_all_devices() if d.kind == "cpu")


def params_of(source):
    """The parameter lines of the generated kernel."""
    start = source.index("[[kernel]] void")
    head = source[start : source.index(") {", start)]
    return [p.strip().rstrip(",") for p in head.split("\n")[1:]]


# ------------------------------------------------------------------ signature rules


def test_docs_example_signature():
    k = metal_kernel(
        name="myexp",
        input_names=["inp"],
        output_names=["out"],
        source="uint elem = thread_position_in_grid.x;\nT tmp = inp[elem];\nout[elem] = metal::exp(tmp);",
    )
    name, src = k.signature([_Input(np.float16, (4, 16))], [np.float16], template=[("T", np.float32)])
    assert name == "custom_kernel_myexp_float"
    assert "template <typename T>\n[[kernel]] void custom_kernel_myexp_float(" in src
    assert params_of(src) == [
        "const device float16_t* inp [[buffer(0)]]",
        "device float16_t* out [[buffer(1)]]",
        "uint3 thread_position_in_grid [[thread_position_in_grid]]",
    ]
    assert (
        'template [[host_name("custom_kernel_myexp_float")]] [[kernel]] '
        "decltype(custom_kernel_myexp_float<float>) custom_kernel_myexp_float<float>;"
    ) in src


def test_shape_strides_ndim_only_when_used():
    body = (
        "uint e = thread_position_in_grid.x; uint loc = elem_to_loc(e, inp_shape, inp_strides, inp_ndim);"
        "out[e] = inp[loc];"
    )
    k = metal_kernel("strided", ["inp"], ["out"], body, ensure_row_contiguous=False)
    _, src = k.signature([_Input(np.float32, (3, 5))], [np.float32])
    assert params_of(src) == [
        "const device float* inp [[buffer(0)]]",
        "const constant int* inp_shape [[buffer(1)]]",
        "const constant int64_t* inp_strides [[buffer(2)]]",
        "const constant int& inp_ndim [[buffer(3)]]",
        "device float* out [[buffer(4)]]",
        "uint3 thread_position_in_grid [[thread_position_in_grid]]",
    ]
    k2 = metal_kernel("some", ["a", "b"], ["out"], "uint i = thread_position_in_grid.x; out[i] = a[i] + b_shape[0];")
    _, src2 = k2.signature([_Input(np.int32, (10,)), _Input(np.int32, (9,))], [np.int32])
    assert params_of(src2)[:3] == [
        "const device int32_t* a [[buffer(0)]]",
        "const device int32_t* b [[buffer(1)]]",
        "const constant int* b_shape [[buffer(2)]]",
    ]


def test_small_and_zero_d_inputs_live_in_constant_space():
    k = metal_kernel("c", ["big", "small", "scalar"], ["out"], "out[0] = big[0] + small[0] + scalar;")
    _, src = k.signature([_Input(np.float32, (8,)), _Input(np.float32, (7,)), _Input(np.float32, ())], [np.float32])
    assert params_of(src) == [
        "const device float* big [[buffer(0)]]",
        "const constant float* small [[buffer(1)]]",
        "const constant float& scalar [[buffer(2)]]",
        "device float* out [[buffer(3)]]",
    ]


def test_atomic_outputs_attributes_and_template_values():
    body = (
        "uint t = thread_index_in_simdgroup; uint g = threadgroup_position_in_grid.x;"
        "uint n = threads_per_threadgroup.x; out[0] = 0;"
    )
    k = metal_kernel("red", ["x"], ["out"], body, atomic_outputs=True)
    name, src = k.signature(
        [_Input(np.float32, (64,))], [np.float32], template=[("T", "bfloat16"), ("N", 4), ("FLAG", True), ("M", -2)]
    )
    assert name == "custom_kernel_red_bfloat16_t_4_true_n2"
    assert "template <typename T, int N, bool FLAG, int M>" in src
    assert params_of(src) == [
        "const device float* x [[buffer(0)]]",
        "device atomic<float>* out [[buffer(1)]]",
        "uint thread_index_in_simdgroup [[thread_index_in_simdgroup]]",
        "uint3 threadgroup_position_in_grid [[threadgroup_position_in_grid]]",
        "uint3 threads_per_threadgroup [[threads_per_threadgroup]]",
    ]
    assert "custom_kernel_red_bfloat16_t_4_true_n2<bfloat16_t, 4, true, -2>" in src


@pytest.mark.parametrize(
    "dtype,name",
    [
        (np.float32, "float"),
        (np.float16, "float16_t"),
        ("bfloat16", "bfloat16_t"),
        (np.int8, "int8_t"),
        (np.uint64, "uint64_t"),
        (np.bool_, "bool"),
    ],
)
def test_type_names(dtype, name):
    assert pm.fast.type_name(dtype) == name


# ------------------------------------------------------------------ running


def test_docs_example_runs_and_verbose_prints(capsys):
    k = metal_kernel(
        name="myexp",
        input_names=["inp"],
        output_names=["out"],
        source="uint elem = thread_position_in_grid.x;\nT tmp = inp[elem];\nout[elem] = metal::exp(tmp);",
    )
    a = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float16)
    (b,) = k(
        inputs=[a],
        template=[("T", np.float32)],
        grid=(a.size, 1, 1),
        threadgroup=(256, 1, 1),
        output_shapes=[a.shape],
        output_dtypes=[a.dtype],
        verbose=True,
        device=CPU,
    )
    assert isinstance(b, np.ndarray) and b.dtype == np.float16 and b.shape == (4, 16)
    np.testing.assert_allclose(b.astype(np.float64), np.exp(a.astype(np.float64)), rtol=2e-3)
    assert "custom_kernel_myexp_float" in capsys.readouterr().out


def test_strided_input_with_elem_to_loc():
    body = """
        uint elem = thread_position_in_grid.x;
        uint loc = elem_to_loc(elem, inp_shape, inp_strides, inp_ndim);
        out[elem] = inp[loc] * 10;
    """
    k = metal_kernel("strided_copy", ["inp"], ["out"], body, ensure_row_contiguous=False)
    a = np.arange(60, dtype=np.float32).reshape(6, 10)
    src = a.T[::2]  # a transposed, every other row: not contiguous, used in place
    (out,) = k(
        inputs=[src],
        grid=(src.size, 1, 1),
        threadgroup=(32, 1, 1),
        output_shapes=[src.shape],
        output_dtypes=[np.float32],
        device=CPU,
    )
    np.testing.assert_array_equal(out, src * 10)


def test_row_contiguous_copy_by_default():
    k = metal_kernel("flat", ["inp"], ["out"], "uint i = thread_position_in_grid.x; out[i] = inp[i];")
    a = np.arange(30, dtype=np.int32).reshape(5, 6).T
    (out,) = k(
        inputs=[a],
        grid=(30, 1, 1),
        threadgroup=(32, 1, 1),
        output_shapes=[(6, 5)],
        output_dtypes=[np.int32],
        device=CPU,
    )
    np.testing.assert_array_equal(out, a)


def test_reduction_with_simd_sum_atomics_and_init_value():
    body = """
        uint i = thread_position_in_grid.x;
        float v = i < n ? x[i] : 0.0f;
        float s = simd_sum(v);
        if (thread_index_in_simdgroup == 0) {
            atomic_fetch_add_explicit(&total[0], s, memory_order_relaxed);
        }
    """
    k = metal_kernel("simd_total", ["x", "n"], ["total"], body, atomic_outputs=True)
    x = np.random.default_rng(2).random(1000).astype(np.float32)
    (total,) = k(
        inputs=[x, np.uint32(1000)],
        grid=(1024, 1, 1),
        threadgroup=(128, 1, 1),
        output_shapes=[(1,)],
        output_dtypes=[np.float32],
        init_value=0,
        device=CPU,
    )
    np.testing.assert_allclose(total[0], x.astype(np.float64).sum(), rtol=1e-5)
    (again,) = k(
        inputs=[x, np.uint32(1000)],
        grid=(1024, 1, 1),
        threadgroup=(128, 1, 1),
        output_shapes=[(1,)],
        output_dtypes=[np.float32],
        init_value=5,
        device=CPU,
    )
    np.testing.assert_allclose(again[0], 5 + x.astype(np.float64).sum(), rtol=1e-5)


def test_python_scalars_take_mlx_default_types():
    k = metal_kernel("axpb", ["x", "a", "b"], ["y"], "uint i = thread_position_in_grid.x; y[i] = a * x[i] + b;")
    x = np.arange(10, dtype=np.float32)
    name, src = k.signature([_Input(np.float32, (10,)), _Input(np.float32, ()), _Input(np.int32, ())], [np.float32])
    assert "const constant float& a [[buffer(1)]]" in src and "const constant int32_t& b [[buffer(2)]]" in src
    (y,) = k(
        inputs=[x, 0.5, 3],
        grid=(10, 1, 1),
        threadgroup=(10, 1, 1),
        output_shapes=[(10,)],
        output_dtypes=[np.float32],
        device=CPU,
    )
    np.testing.assert_array_equal(y, 0.5 * x + 3)


def test_template_kernel_instantiations():
    body = """
        uint i = thread_position_in_grid.x;
        T v = T(inp[i]);
        out[i] = FLIP ? T(N) - v : v + T(N);
    """
    k = metal_kernel("shift", ["inp"], ["out"], body)
    a = np.arange(16, dtype=np.int32)
    for dtype, n, flip in ((np.int32, 3, False), (np.float32, 100, True), (np.int16, -5, False)):
        (out,) = k(
            inputs=[a],
            template=[("T", dtype), ("N", n), ("FLIP", flip)],
            grid=(16, 1, 1),
            threadgroup=(16, 1, 1),
            output_shapes=[(16,)],
            output_dtypes=[dtype],
            device=CPU,
        )
        ref = (n - a) if flip else (a + n)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out, ref.astype(dtype))


def test_header_helpers_and_multiple_outputs():
    header = "inline float sq(float x) { return x * x; }\n"
    body = """
        uint2 p = thread_position_in_grid.xy;
        uint i = p.y * a_shape[1] + p.x;
        sq_out[i] = sq(a[i]);
        sum_out[i] = a[i] + b[i];
    """
    k = metal_kernel("two", ["a", "b"], ["sq_out", "sum_out"], body, header=header)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.ones((3, 4), np.float32)
    sq, sm = k(
        inputs=[a, b],
        grid=(4, 3, 1),
        threadgroup=(4, 3, 1),
        output_shapes=[a.shape, a.shape],
        output_dtypes=[np.float32, np.float32],
        device=CPU,
    )
    np.testing.assert_array_equal(sq, a * a)
    np.testing.assert_array_equal(sm, a + b)


def test_errors_point_at_the_users_source_lines():
    body = "uint i = thread_position_in_grid.x;\nout[i] = inp[i];\nout[i] += undefined_thing;\n"
    k = metal_kernel("broken", ["inp"], ["out"], body)
    with pytest.raises(pm.CompileError) as e:
        k(
            inputs=[np.zeros(4, np.float32)],
            grid=(4, 1, 1),
            threadgroup=(4, 1, 1),
            output_shapes=[(4,)],
            output_dtypes=[np.float32],
            device=CPU,
        )
    assert "broken:3" in str(e.value)
    k2 = metal_kernel(
        "broken_header",
        ["inp"],
        ["out"],
        "out[0] = helper(inp[0]);",
        header="inline float helper(float x) {\n  return x +;\n}\n",
    )
    with pytest.raises(pm.CompileError) as e2:
        k2(
            inputs=[np.zeros(4, np.float32)],
            grid=(1, 1, 1),
            threadgroup=(1, 1, 1),
            output_shapes=[(1,)],
            output_dtypes=[np.float32],
            device=CPU,
        )
    assert "broken_header_header:2" in str(e2.value)


def test_argument_count_errors():
    k = metal_kernel("k", ["a", "b"], ["out"], "out[0] = a[0] + b[0];")
    with pytest.raises(pm.ValidationError, match="2 inputs"):
        k(
            inputs=[np.zeros(2)],
            grid=(1, 1, 1),
            threadgroup=(1, 1, 1),
            output_shapes=[(1,)],
            output_dtypes=[np.float32],
            device=CPU,
        )


def test_torch_cpu_inputs_give_torch_outputs():
    torch = pytest.importorskip("torch")
    k = metal_kernel("neg", ["x"], ["y"], "uint i = thread_position_in_grid.x; y[i] = -x[i];")
    x = torch.arange(10, dtype=torch.float32)
    (y,) = k(
        inputs=[x],
        grid=(10, 1, 1),
        threadgroup=(10, 1, 1),
        output_shapes=[(10,)],
        output_dtypes=[torch.float32],
        device=CPU,
    )
    assert isinstance(y, torch.Tensor)
    np.testing.assert_array_equal(y.numpy(), -np.arange(10, dtype=np.float32))
