// Validation findings and kernel log messages (issue 12).
#include <nanobind/stl/array.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {
nb::tuple xyz(const std::array<uint32_t, 3>& v) { return nb::make_tuple(v[0], v[1], v[2]); }
}  // namespace

nb::object findings_list(const std::vector<KernelFinding>& findings) {
  nb::list out;
  for (const auto& f : findings) out.append(nb::cast(f));
  return out;
}

// The message object `command_buffer.error` returns: a str with `.findings`.
nb::object command_buffer_error(const std::string& message, const std::vector<KernelFinding>& findings) {
  nb::object cls = nb::module_::import_("pymetallic.errors").attr("CommandBufferError");
  nb::object e = cls(nb::str(message.c_str(), message.size()));
  nb::setattr(e, "findings", findings_list(findings));
  return e;
}

void init_diagnostics(nb::module_& m) {
  nb::class_<KernelFinding>(m, "KernelFinding", "One validation finding: what, where, which thread.")
      .def_ro("kind", &KernelFinding::kind, "'out_of_bounds', 'race', 'barrier_divergence' or 'uninitialized_read'")
      .def_ro("space", &KernelFinding::space,
              "The address space: 'device', 'constant' (set_bytes), 'threadgroup', 'thread', 'texture' or ''.")
      .def_ro("kernel", &KernelFinding::kernel, "The kernel's name.")
      .def_ro("file", &KernelFinding::file, "The source file of the access.")
      .def_ro("line", &KernelFinding::line, "Its line.")
      .def_ro("column", &KernelFinding::column, "Its column.")
      .def_prop_ro(
          "thread", [](const KernelFinding& x) { return xyz(x.thread); }, "thread_position_in_grid")
      .def_prop_ro(
          "threadgroup", [](const KernelFinding& x) { return xyz(x.threadgroup); }, "threadgroup_position_in_grid")
      .def_prop_ro(
          "thread_in_threadgroup", [](const KernelFinding& x) { return xyz(x.thread_in_threadgroup); },
          "thread_position_in_threadgroup (x, y, z).")
      .def_ro("buffer_index", &KernelFinding::buffer_index,
              "The [[buffer(n)]] / [[threadgroup(n)]] index, -1 when none.")
      .def_ro("name", &KernelFinding::name, "The variable as written.")
      .def_ro("offset", &KernelFinding::offset, "Byte offset of the access (element index for arrays).")
      .def_ro("extent", &KernelFinding::extent, "Bytes available (elements for arrays).")
      .def_ro("size", &KernelFinding::size, "Bytes accessed.")
      .def_ro("access", &KernelFinding::access, "'read', 'write' or 'read-write'.")
      .def_ro("other_thread", &KernelFinding::other_thread,
              "Races and divergence: the other thread's index in the group (-2: several; -1: none).")
      .def_ro("other_line", &KernelFinding::other_line, "The other thread's line (0: none).")
      .def_ro("message", &KernelFinding::message, "One line: 'file:line:col: kernel ...: what'.")
      .def("__repr__", [](const KernelFinding& f) { return "<KernelFinding " + f.message + ">"; });

  nb::class_<KernelLogMessage>(m, "KernelLogMessage", "One message a kernel logged (os_log / printf).")
      .def_ro("kernel", &KernelLogMessage::kernel, "The kernel that logged it.")
      .def_ro("level", &KernelLogMessage::level, "os_log_type_t: 0 default, 1 info, 2 debug, 16 error, 17 fault")
      .def_ro("subsystem", &KernelLogMessage::subsystem, "The os_log subsystem (empty for printf).")
      .def_ro("category", &KernelLogMessage::category, "The os_log category (empty for printf).")
      .def_prop_ro(
          "thread", [](const KernelLogMessage& x) { return xyz(x.thread); }, "thread_position_in_grid (x, y, z).")
      .def_prop_ro(
          "threadgroup", [](const KernelLogMessage& x) { return xyz(x.threadgroup); },
          "threadgroup_position_in_grid (x, y, z).")
      .def_ro("message", &KernelLogMessage::message, "The formatted text.")
      .def("__repr__",
           [](const KernelLogMessage& l) { return "<KernelLogMessage " + l.kernel + ": " + l.message + ">"; });

  // Messages of command buffers without handlers go to Python's logging, logger
  // "pymetallic.kernel" (pymetallic/_kernel_log.py formats them).
  CommandBuffer::setDefaultLogSink([](const KernelLogMessage& msg) {
    call_python("pymetallic kernel log", [&] { nb::module_::import_("pymetallic._kernel_log").attr("deliver")(msg); });
  });
}

}  // namespace pymetallic_bindings
