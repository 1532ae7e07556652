"""MSL function constants (MSL.md §4): bool/int/float/short constants by name and by index,
is_function_constant_defined, conditional parameters, pymetallic.Kernel(constants=...)."""

import numpy as np
import pytest

import pymetallic as pm

SRC = r"""
#include <metal_stdlib>
using namespace metal;

constant bool has_bias [[function_constant(0)]];
constant int k [[function_constant(1)]];
constant float alpha [[function_constant(2)]];
constant short mode [[function_constant(3)]];
#define FC_BASE 10
constant uint extra [[function_constant(FC_BASE + 1)]];         // index 11, ggml-style expression
constant bool use_alpha = is_function_constant_defined(alpha);
constant int k_or_1 = is_function_constant_defined(k) ? k : 1;
constant bool extra_defined = is_function_constant_defined(extra);

kernel void fc(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
               device const float* bias [[buffer(2), function_constant(has_bias)]],
               uint i [[thread_position_in_grid]]) {
  float v = x[i] * float(k_or_1);
  if (use_alpha) v *= alpha;
  if (has_bias) v += bias[i];
  if (mode == 2) v = -v;
  y[i] = v + (extra_defined ? float(extra) : 0.0f);
}
"""


def run_fc(device, fn, x, bias=None):
    pipe = pm.ComputePipelineState(device, fn)
    q = pm.CommandQueue(device)
    bx = pm.Buffer.from_numpy(device, x)
    by = pm.Buffer.from_numpy(device, np.zeros_like(x))
    cb = q.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipe)
    enc.set_buffer(bx, 0, 0)
    enc.set_buffer(by, 0, 1)
    if bias is not None:
        enc.set_buffer(pm.Buffer.from_numpy(device, bias), 0, 2)
    enc.dispatch_threads((x.size, 1, 1), (32, 1, 1))
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    return by.to_numpy(np.float32).copy()


@pytest.fixture(scope="module")
def lib(device):
    return pm.Library(device, SRC)


def test_compiles_for_cuda(cuda_compile):
    cuda_compile(SRC)


def test_by_name_with_conditional_parameter(device, lib):
    rng = np.random.default_rng()
    x, b = rng.standard_normal(100).astype(np.float32), rng.standard_normal(100).astype(np.float32)
    y = run_fc(device, lib.make_function("fc", constants={"has_bias": True, "k": 3, "alpha": 0.5}), x, b)
    np.testing.assert_allclose(y, x.astype(np.float64) * 3 * 0.5 + b, rtol=1e-6, atol=1e-6)


def test_bool_false_drops_parameter_and_undefined_constants(device, lib):
    rng = np.random.default_rng()
    x = rng.standard_normal(64).astype(np.float32)
    y = run_fc(device, lib.make_function("fc", constants={"has_bias": False}), x)  # k, alpha undefined
    np.testing.assert_array_equal(y, x)


def test_by_index_and_expression_index(device, lib):
    rng = np.random.default_rng()
    x, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    y = run_fc(device, lib.make_function("fc", constants={0: True, 1: 2, 3: 2, 11: 7}), x, b)
    np.testing.assert_allclose(y, -(x.astype(np.float64) * 2 + b) + 7, rtol=1e-6, atol=1e-6)


def test_kernel_class_with_constants(device):
    rng = np.random.default_rng()
    x = rng.standard_normal(50).astype(np.float32)
    k = pm.Kernel(device, SRC, "fc", constants={"has_bias": False, "k": 4, "mode": 2})
    q = pm.CommandQueue(device)
    bx, by = pm.Buffer.from_numpy(device, x), pm.Buffer.from_numpy(device, np.zeros(50, np.float32))
    k(q, 50, 32, buffers=[(bx, 0), (by, 1)])
    np.testing.assert_allclose(by.to_numpy(np.float32), -4.0 * x, rtol=1e-6)
    k2 = pm.Kernel(device, SRC, "fc", constants={"has_bias": False, "k": 5})
    assert k2.pipeline is not k.pipeline
    k2(q, 50, 32, buffers=[(bx, 0), (by, 1)])
    np.testing.assert_allclose(by.to_numpy(np.float32), 5.0 * x, rtol=1e-6)


SRC_VAR_INDEX = r"""
#include <metal_stdlib>
using namespace metal;
constant int base_index = 10;
constant uint extra [[function_constant(base_index + 1)]];   // index 11 through a program-scope constant
kernel void fc_var(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  y[i] = is_function_constant_defined(extra) ? float(extra) : -1.0f;
}
"""


def test_index_given_by_program_scope_constant_by_name(device):
    fn = pm.Library(device, SRC_VAR_INDEX).make_function("fc_var", constants={"extra": 7})
    q = pm.CommandQueue(device)
    k = pm.Kernel(device, SRC_VAR_INDEX, "fc_var", constants={"extra": 7})
    by = pm.Buffer.from_numpy(device, np.zeros(32, np.float32))
    k(q, 32, 32, buffers=[(by, 0)])
    assert fn.name == "fc_var" and np.all(by.to_numpy(np.float32) == 7)


def test_index_given_by_program_scope_constant_by_index(device):
    # [[function_constant(base_index + 1)]] with a program-scope `constant int base_index`
    q = pm.CommandQueue(device)
    k = pm.Kernel(device, SRC_VAR_INDEX, "fc_var", constants={11: 7})
    by = pm.Buffer.from_numpy(device, np.zeros(32, np.float32))
    k(q, 32, 32, buffers=[(by, 0)])
    assert np.all(by.to_numpy(np.float32) == 7)
