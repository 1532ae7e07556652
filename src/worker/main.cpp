// pymetallic-cpu-worker: runs the CPU kernels of isolated libraries (options={"isolate": True})
// in a process of their own; started by the runtime (src/backends/cpu/isolation.h).
#include "backends/cpu/isolation.h"

int main(int argc, char** argv) { return metallic::cpu::isolated_worker_main(argc, argv); }
