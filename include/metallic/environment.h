// Every environment variable pymetallic reads, in one place. README.md's "Environment" table
// mirrors this list (tests/python/test_environment_list.py checks both against the sources).
#pragma once

namespace metallic::env {

struct Variable {
  const char* name;
  const char* meaning;
};

inline constexpr Variable kVariables[] = {
    // Devices
    {"PYMETALLIC_DEVICE", "cpu, cuda, cuda:N: the default device"},
    {"PYMETALLIC_CPU_DEVICES", "N (at most 16): N CPU devices cpu:0 ... cpu:N-1 sharing host memory"},
    {"PYMETALLIC_CPU_THREADS", "CPU worker threads (default: one per core)"},
    {"PYMETALLIC_CPU_WORKER",
     "the pymetallic-cpu-worker executable of isolated libraries (default: next to the module)"},
    {"PYMETALLIC_CPU_SCHEDULE",
     "how the CPU runs threadgroups, read at each dispatch: auto, or any of fibers, nofission, serial"},
    {"PYMETALLIC_CPU_FISSION", "0: keep every barrier kernel on fibers (no loop fission)"},
    {"PYMETALLIC_CPU_LANE_LOOPS",
     "0: no lane loops on the CPU (data-dependent and variable-trip loops stay in the per-thread loop)"},
    {"PYMETALLIC_CPU_FAST_DIVISION",
     "0: CPU kernels divide by their constant arguments with the hardware's division (no reciprocals)"},
    {"PYMETALLIC_CPU_SPLIT", "0: no index-set splitting of CPU thread loops ((gid.x + c) % n divided per thread)"},
    {"PYMETALLIC_CPU_CXXFLAGS",
     "extra flags for the CPU backend's kernel compiles (make sanitize passes ASan/UBSan here)"},
    {"PYMETALLIC_ZIG", "the zig executable whose `zig c++` compiles CPU kernels when no system compiler is found"},
    {"PYMETALLIC_WHEEL_TESTS",
     "the test files scripts/check_wheel.sh runs from an installed wheel (default: a sample)"},
    {"PYMETALLIC_CUDA_GRAPHS", "0: never replay repeated command buffers as CUDA graphs"},
    {"PYMETALLIC_ICB_PARAMETERS_BY_VALUE",
     "0: indirect command buffers' graphs read constant T& data from its buffer at every launch (default: a "
     "host-written parameter buffer's bytes by value)"},
    {"PYMETALLIC_CUDA_TIERED",
     "1: Library() waits only for the general entries; the uniform entries compile on a background thread (0: "
     "one unit, the default)"},
    {"PYMETALLIC_GPU_TIMESTAMPS", "1: time command buffers with CUDA events"},
    {"PYMETALLIC_VALIDATION", "1: compile every library in validation mode (as MTL_SHADER_VALIDATION=1)"},
    {"PYMETALLIC_LOG_BUFFER_SIZE", "bytes of kernel log records per command buffer (default 1 MiB)"},
    // Files
    {"PYMETALLIC_CACHE_DIR", "the compiled-kernel cache (default ~/.cache/pymetallic)"},
    {"PYMETALLIC_TRANSLATION_CACHE",
     "0: translate MSL again for every library (no cached front-end results; compiled kernels stay cached)"},
    {"PYMETALLIC_CACHE_SIZE_LIMIT",
     "the cache's size cap in bytes, or with K/M/G (default 2G; 0: none); least recently used entries go"},
    {"PYMETALLIC_EXIT_WAIT",
     "seconds the interpreter's exit waits for work in flight and its completed handlers (default 10; a second "
     "without progress ends it sooner; docs/errors.md)"},
    {"PYMETALLIC_KERNEL_TIMEOUT", "seconds a dispatch may run before its command buffer fails (default: no limit)"},
    {"PYMETALLIC_RUNTIME_DIR", "where the runtime headers live (default: the installed package's)"},
    {"PYMETALLIC_NVRTC_PATH", "folders to search for libnvrtc.so"},
    {"PYMETALLIC_CUDA_RUNTIME_SUBSET",
     "0: CUDA kernels include the whole runtime library; strict: no retry with the whole library when the parts a "
     "program names fail to compile (the test suite's setting)"},
    {"PYMETALLIC_CUDA_UNIFORM_ENTRIES",
     "0: CUDA kernels get no second entry for dispatches whose threadgroups are all whole (a faster cold "
     "compile; every dispatch takes the general entry)"},
    {"PYMETALLIC_NVRTC_THREADS",
     "how many NVRTC programs a CUDA library's kernels are compiled as, at once on as many threads (default 1; "
     "NVRTC parses one program at a time, docs/performance.md)"},
    // Debugging
    {"PYMETALLIC_DEBUG_FISSION", "1: print why a barrier kernel keeps fibers (is not split into loops)"},
    {"PYMETALLIC_FRONT_END_TIMES", "1: print the seconds each front-end pass takes to stderr"},
    // Examples and tests
    {"PYMETALLIC_EXAMPLE_SMALL", "1: examples run at a small size (the test suite's setting)"},
    {"PYMETALLIC_MPI_HALO", "views, staging or device: how examples/mpi_halo.py sends halos"},
    {"PYMETALLIC_MPI_GPU_AWARE", "1 or 0: whether examples/mpi_halo.py hands device memory to MPI"},
    {"PYMETALLIC_TEST_DIFFERENTIAL", "0: conformance tests skip re-running each kernel under the other CPU schedules"},
};

}  // namespace metallic::env
