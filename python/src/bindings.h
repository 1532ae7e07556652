// One binding file per API area; module.cpp calls each init function.
#pragma once

#include <nanobind/nanobind.h>

#include <string>
#include <vector>

#include "metallic/diagnostics.h"

namespace pymetallic_bindings {
void init_errors(nanobind::module_& m);
void init_device(nanobind::module_& m);
void init_memory(nanobind::module_& m);
void init_library(nanobind::module_& m);
void init_commands(nanobind::module_& m);
void init_offline(nanobind::module_& m);
void init_texture(nanobind::module_& m);
void init_python_methods(nanobind::module_& m);  // after every class is bound
void init_diagnostics(nanobind::module_& m);
// Python objects for findings (bind_diagnostics.cpp).
nanobind::object findings_list(const std::vector<metallic::KernelFinding>& findings);
nanobind::object command_buffer_error(const std::string& message, const std::vector<metallic::KernelFinding>& findings);
}  // namespace pymetallic_bindings
