"""Libraries of many kernels compile each kernel when its pipeline is first made (issue 13):
the library is checked whole when created (errors still surface at Library(), as Metal
compiles a library), and only the kernels a program uses are built. Each run uses its own
cache folder in a child process, so what was built can be counted."""

import textwrap

import pytest

import pymetallic
from pm_testing import run_in_fresh_process

KERNELS = 6  # more instantiations than the CPU backend compiles whole (cpu_device.cpp: kCompileWholeUpTo)

SOURCE = (
    "#include <metal_stdlib>\nusing namespace metal;\n"
    "template <int I> kernel void k(device float* x [[buffer(0)]], uint t [[thread_position_in_grid]]) "
    "{ x[t] = x[t] * 2.0f + float(I); }\n"
    + "\n".join(f'template [[host_name("k{i}")]] kernel void k<{i}>(device float*, uint);' for i in range(KERNELS))
)

CHILD = textwrap.dedent("""
    import glob, os
    import numpy as np
    src, names, d = args[0], args[1:], device
    cache = os.environ["PYMETALLIC_CACHE_DIR"]
    def objects():
        return sum(len(glob.glob(os.path.join(cache, "**", "*" + ext), recursive=True))
                   for ext in (".so", ".cubin", ".ptx"))
    try:
        lib = pm.Library(d, src)
    except pm.CompileError as e:
        print("COMPILE_ERROR", " | ".join(str(e).splitlines()))
        sys.exit(0)
    print("after_library", objects())
    q = pm.CommandQueue(d)
    for name in names:
        p = pm.ComputePipelineState(d, lib.make_function(name))
        x = np.arange(64, dtype=np.float32)
        b = pm.Buffer.from_numpy(d, x)
        cb = q.make_command_buffer(); e = cb.make_compute_command_encoder()
        e.set_compute_pipeline_state(p); e.set_buffer(b, 0, 0); e.dispatch_threads((64, 1, 1), (32, 1, 1))
        e.end_encoding(); cb.commit(); cb.wait_until_completed()
        i = int(name[1:])
        assert np.array_equal(b.to_numpy(np.float32), x * 2 + i), name
        print("after", name, objects())
""")


KINDS = sorted({d.kind for d in pymetallic.Device.get_all_devices()})


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def run_child(tmp_path, kind, src, *names):
    return run_in_fresh_process(kind, CHILD, src, *names, cache_dir=tmp_path / "cache")


def test_only_used_kernels_are_built(tmp_path, kind):
    out = run_child(tmp_path, kind, SOURCE, "k3", "k5", "k3")
    assert out[:4] == ["after_library 0", "after k3 1", "after k5 2", "after k3 2"], out


def test_small_library_is_built_whole(tmp_path, kind):
    src = "\n".join(SOURCE.split("\n")[:5])  # two instantiations
    out = run_child(tmp_path, kind, src, "k0", "k1")
    assert out[:3] == ["after_library 1", "after k0 1", "after k1 1"], out


def test_library_of_ordinary_kernels_is_built_whole(tmp_path, kind):
    src = "#include <metal_stdlib>\nusing namespace metal;\n" + "\n".join(
        f"kernel void k{i}(device float* x [[buffer(0)]], uint t [[thread_position_in_grid]]) "
        f"{{ x[t] = x[t] * 2.0f + {i}.0f; }}"
        for i in range(KERNELS)
    )
    out = run_child(tmp_path, kind, src, "k2", "k4")
    assert out[:3] == ["after_library 1", "after k2 1", "after k4 1"], out


def test_errors_surface_when_the_library_is_created(tmp_path, kind):
    bad = SOURCE + "\nkernel void broken(device float* x [[buffer(0)]]) {\n  x[0] = undeclared_name;\n}\n"
    line = bad.split("\n").index("  x[0] = undeclared_name;") + 1
    out = run_child(tmp_path, kind, bad, "k0")
    assert out[0].startswith("COMPILE_ERROR"), out
    assert f"program.metal:{line}" in out[0] and "undeclared_name" in out[0], out
