import faulthandler; faulthandler.enable()
import numpy as np, pymetallic
d = pymetallic.Device.get_default_device(); print(d, flush=True)
b = pymetallic.Buffer(d, 64); print("buffer ok", flush=True)
src = "kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = i * 2.0; }"
lib = pymetallic.Library(d, src); print("lib ok", flush=True)
p = pymetallic.ComputePipelineState(d, lib.make_function("k")); print("pipe ok", p.max_total_threads_per_threadgroup, flush=True)
pymetallic.Kernel(d, src, "k")(pymetallic.CommandQueue(d), 16, buffers=[(b, 0)])
print(b.to_numpy(np.float32), flush=True)
