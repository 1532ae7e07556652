"""The original pymetallic README's quick example, verbatim (only wrapped in a function)."""

import numpy as np


def test_original_quick_example_verbatim(capsys):
    import numpy as np
    import pymetallic

    # Get default Metal device
    device = pymetallic.Device.get_default_device()
    print(f"Using device: {device.name}")

    # Create command queue
    queue = pymetallic.CommandQueue(device)

    # Create test data
    a = np.random.random(1024).astype(np.float32)
    b = np.random.random(1024).astype(np.float32)

    # Create Metal buffers
    buffer_a = pymetallic.Buffer.from_numpy(device, a)
    buffer_b = pymetallic.Buffer.from_numpy(device, b)
    buffer_result = pymetallic.Buffer(device, len(a) * 4)

    # Metal compute shader
    shader_source = """
#include <metal_stdlib>
using namespace metal;

kernel void vector_add(device float* a [[buffer(0)]],
                      device float* b [[buffer(1)]],
                      device float* result [[buffer(2)]],
                      uint index [[thread_position_in_grid]]) {
    result[index] = a[index] + b[index];
}
"""

    # Compile and execute
    library = pymetallic.Library(device, shader_source)
    function = library.make_function("vector_add")
    pipeline = pymetallic.ComputePipelineState(device, function)

    command_buffer = queue.make_command_buffer()
    encoder = command_buffer.make_compute_command_encoder()

    encoder.set_compute_pipeline_state(pipeline)
    encoder.set_buffer(buffer_a, 0, 0)
    encoder.set_buffer(buffer_b, 0, 1)
    encoder.set_buffer(buffer_result, 0, 2)

    encoder.dispatch_threads((len(a), 1, 1), (32, 1, 1))
    encoder.end_encoding()

    command_buffer.commit()
    command_buffer.wait_until_completed()

    # Get results
    result = buffer_result.to_numpy(np.float32, (len(a),))
    print("Computation complete!")

    np.testing.assert_array_equal(result, (a.astype(np.float64) + b).astype(np.float32))
    assert "Computation complete!" in capsys.readouterr().out


def test_quick_example_on_every_device(device):
    import pymetallic

    a = np.arange(1000, dtype=np.float32)
    b = np.full(1000, 0.5, dtype=np.float32)
    out = pymetallic.Buffer(device, a.nbytes)
    k = pymetallic.Kernel(
        device,
        """
kernel void vadd(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
                 device float* r [[buffer(2)]], uint i [[thread_position_in_grid]]) { r[i] = a[i] + b[i]; }
""",
        "vadd",
    )
    k(
        pymetallic.CommandQueue(device),
        (1000, 1, 1),
        (64, 1, 1),
        buffers=[(pymetallic.Buffer.from_numpy(device, a), 0), (pymetallic.Buffer.from_numpy(device, b), 1), (out, 2)],
    )
    np.testing.assert_array_equal(out.to_numpy(np.float32), a + b)
