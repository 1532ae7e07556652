// options={"isolate": True}: CPU kernels run in a separate worker process that shares only
// the buffers' memory with the caller (docs/security.md, docs/architecture.md).
//
// Buffers: once a library asks for isolation, new CPU buffers come from a second arena backed
// by one memfd (cpu_device.cpp). The worker maps that memfd at the same addresses, so the
// dispatch's pointers mean the same thing in both processes; for each dispatch it maps only
// the pages of the buffers bound to it (everything else stays inaccessible: out-of-bounds
// accesses fault as they do in process). Memory that is not in the shared arena (buffers made
// before, NumPy memory used in place, set_bytes data) is copied into shared staging memory
// for the dispatch and back after it.
//
// Worker: `pymetallic-cpu-worker`, started with posix_spawn next to the module (or
// $PYMETALLIC_CPU_WORKER). It receives one request per dispatch over a SOCK_SEQPACKET socket,
// loads the kernel's shared object (dlopen), runs the threadgroups on its own threads and
// answers. A crash (SIGSEGV, SIGILL, SIGFPE, abort) ends only the worker: the caller reads
// the end of the socket, reports the signal as the command buffer's error and starts a new
// worker for the next dispatch. PYMETALLIC_KERNEL_TIMEOUT kills the worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/cpu_abi.h"
#include "backends/cpu/schedule.h"

namespace metallic::cpu {

// ---- the shared buffer arena (implemented in cpu_device.cpp) ------------------------------
struct SharedRegion {
  unsigned char* base = nullptr;
  size_t size = 0;
  int fd = -1;
};
// From now on, CPU buffers are allocated in the shared arena; false when it is unavailable.
bool enable_shared_buffers();
bool shared_buffers_enabled();
SharedRegion shared_region();
// The pages [begin, begin + length) of the shared-arena buffer that holds p.
bool shared_allocation(const void* p, uintptr_t* begin, size_t* length);
// `bytes` (a multiple of the page size) of zeroed shared memory, followed by a guard.
unsigned char* allocate_shared(size_t bytes);
void release_shared(unsigned char* p, size_t bytes);

// ---- one dispatch in the worker -----------------------------------------------------------
struct IsolatedDispatch {
  std::string object_path;  // the kernel's shared object
  uint32_t kernel_index = 0;
  bool synchronises = false, fission = false;
  Schedule schedule;
  uint64_t groups = 0, grain = 1;
  metallic_cpu_launch launch{};                       // pointers into shared memory only
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // pages the worker maps for it
  std::vector<unsigned char> samplers;                // launch.samplers' array, copied
};

// Runs `d` in the worker; "" on success, else what went wrong. `timeout` > 0: the worker is
// killed after that many seconds and *timed_out is set.
std::string run_isolated(const IsolatedDispatch& d, double timeout, bool* timed_out);

// The worker's main (src/worker/main.cpp): argv = {name, base, size} in hex; fd 3 is the
// socket, fd 4 the memfd.
int isolated_worker_main(int argc, char** argv);

}  // namespace metallic::cpu
