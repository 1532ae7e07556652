// pymetallic._core: the C++ library `metallic` for Python. The pure-Python package
// (python/pymetallic) adds the conveniences of the original API on top.
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;

NB_MODULE(_core, m) {
  m.doc() = "pymetallic's native core: MSL compute kernels on CUDA GPUs and CPUs";
  pymetallic_bindings::init_python_gate(m);
  pymetallic_bindings::init_errors(m);
  pymetallic_bindings::init_device(m);
  pymetallic_bindings::init_memory(m);
  pymetallic_bindings::init_library(m);
  pymetallic_bindings::init_diagnostics(m);
  pymetallic_bindings::init_commands(m);
  pymetallic_bindings::init_texture(m);
  pymetallic_bindings::init_offline(m);
  pymetallic_bindings::init_python_methods(m);
  m.def("set_runtime_dir", &metallic::set_runtime_dir, "Where the runtime library headers live.");
  m.def("runtime_dir", &metallic::runtime_dir);
  m.attr("__version__") = metallic::version();
}
