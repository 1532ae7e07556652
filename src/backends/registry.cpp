// The one table of backends (core/backend.h). Adding a backend: a folder under src/backends
// with a backend.cpp that fills its entry, and one line here.
#include "core/backend.h"

namespace metallic::backend {

const Backend& cuda_backend();  // backends/cuda/backend.cpp
const Backend& cpu_backend();   // backends/cpu/backend.cpp

const std::vector<Backend>& backends() {
  static const std::vector<Backend> all{cuda_backend(), cpu_backend()};  // GPUs are listed first
  return all;
}

}  // namespace metallic::backend
