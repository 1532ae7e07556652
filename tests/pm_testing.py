"""Small helpers shared by the Python tests."""

import pymetallic


def run_kernel(device, source, name, grid, tg, buffers=(), bytes_args=(), tg_memory=(), groups=False):
    """Compile, dispatch once and wait. buffers: [(Buffer, index)], bytes_args: [(np value, index)],
    tg_memory: [(bytes, index)]. groups=True dispatches `grid` threadgroups instead of threads."""
    lib = pymetallic.Library(device, source)
    pipeline = pymetallic.ComputePipelineState(device, lib.make_function(name))
    queue = pymetallic.CommandQueue(device)
    cb = queue.make_command_buffer()
    enc = cb.make_compute_command_encoder()
    enc.set_compute_pipeline_state(pipeline)
    for buf, index in buffers:
        enc.set_buffer(buf, 0, index)
    for value, index in bytes_args:
        enc.set_bytes(value, index)
    for length, index in tg_memory:
        enc.set_threadgroup_memory_length(length, index)
    if groups:
        enc.dispatch_threadgroups(grid, tg)
    else:
        enc.dispatch_threads(grid, tg)
    enc.end_encoding()
    cb.commit()
    cb.wait_until_completed()
    assert cb.get_status() == 1, cb.error
    return cb
