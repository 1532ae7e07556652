"""The original pymetallic quick example: add two vectors with a Metal kernel.

Run: python examples/quick_example.py
"""

import numpy as np

import pymetallic

# The default device: the first CUDA GPU, else the CPU (PYMETALLIC_DEVICE=cpu|cuda chooses).
device = pymetallic.Device.get_default_device()
print(f"Using device: {device.name}")
queue = pymetallic.CommandQueue(device)

a = np.random.random(1024).astype(np.float32)
b = np.random.random(1024).astype(np.float32)
buffer_a = pymetallic.Buffer.from_numpy(device, a)
buffer_b = pymetallic.Buffer.from_numpy(device, b)
buffer_result = pymetallic.Buffer(device, a.nbytes)

# Plain Metal Shading Language, unchanged.
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

# Compile, then record one dispatch into a command buffer, commit it and wait.
library = pymetallic.Library(device, shader_source)
pipeline = pymetallic.ComputePipelineState(device, library.make_function("vector_add"))
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

result = buffer_result.to_numpy(np.float32, (len(a),))  # a view of the buffer
print("Computation complete!", "matches NumPy:", np.allclose(result, a + b))
assert np.allclose(result, a + b)
