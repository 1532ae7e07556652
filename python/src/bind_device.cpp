#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <climits>

#include "bindings.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

void init_device(nb::module_& m) {
  nb::class_<SharedEvent>(m, "SharedEvent",
                          "A 64-bit counter queues of any device signal and wait for (Metal's MTLSharedEvent).")
      .def_prop_ro("device", &SharedEvent::device, "The device that made the event.")
      .def_prop_rw(
          "signaled_value", &SharedEvent::signaledValue,
          [](SharedEvent& e, long long value) {
            if (value < 0) throw nb::value_error("signaled_value must not be negative");
            e.setSignaledValue(static_cast<uint64_t>(value));
          },
          "The value last signalled; setting it signals the event (it only ever rises, as on Metal).")
      .def(
          "wait_until_signaled_value",
          [](SharedEvent& e, long long value, long long timeout_ms) {
            if (value < 0) throw nb::value_error("the value must not be negative");
            if (timeout_ms < 0) throw nb::value_error("timeout_ms must not be negative");
            ReleaseGil release;
            return e.waitUntilSignaledValue(static_cast<uint64_t>(value), static_cast<uint64_t>(timeout_ms));
          },
          nb::arg("value"), nb::arg("timeout_ms"),
          "Blocks (without the GIL) until signaled_value >= value: True, or False after timeout_ms milliseconds "
          "(Metal's waitUntilSignaledValue:timeoutMS:).")
      .def("__repr__", [](const SharedEvent& e) {
        return "<pymetallic.SharedEvent signaled_value=" + std::to_string(e.signaledValue()) + ">";
      });

  auto new_icb = [](Device& d, nb::handle descriptor, nb::handle max_command_count, nb::handle options) {
    const char* what = "new_indirect_command_buffer";
    if (!nb::isinstance<IndirectCommandBufferDescriptor>(descriptor))
      throw ValidationTypeError(std::string(what) + "(descriptor) must be an IndirectCommandBufferDescriptor, not " +
                                type_name(descriptor.ptr()));
    long long count =
        to_integer(max_command_count, "new_indirect_command_buffer max_command_count", LLONG_MIN, LLONG_MAX);
    long long opts = to_integer(options, "new_indirect_command_buffer options", LLONG_MIN, LLONG_MAX);
    if (count < 0 || opts < 0)
      throw ValidationError(std::string(what) + ": max_command_count and options must not be negative");
    return d.newIndirectCommandBuffer(nb::cast<const IndirectCommandBufferDescriptor&>(descriptor),
                                      static_cast<uint64_t>(count), static_cast<uint64_t>(opts));
  };
  nb::class_<Device>(m, "Device", "A place kernels run: a CUDA GPU or the CPU (Metal's MTLDevice).")
      .def_static("get_default_device", &Device::default_device,
                  "The first CUDA GPU, else the CPU; PYMETALLIC_DEVICE=cpu|cuda|cuda:N overrides.")
      .def_static("get_all_devices", &Device::all, "Every device of every backend present.")
      .def_prop_ro("name", &Device::name, "The device's name (the GPU's, or the CPU model).")
      .def_prop_ro("kind", &Device::kind, "\"cuda\" or \"cpu\"")
      .def_prop_ro("ordinal", &Device::ordinal, "Index among the devices of its kind (cuda:N, cpu:N).")
      .def_prop_ro(
          "max_threads_per_threadgroup", [](const Device& d) { return d.limits().max_threads_per_threadgroup; },
          "The most threads (x, y, z) a threadgroup may have on this device.")
      .def_prop_ro(
          "max_threadgroup_memory_length", [](const Device& d) { return d.limits().max_threadgroup_memory_length; },
          "Threadgroup memory per threadgroup, in bytes.")
      .def_prop_ro(
          "thread_execution_width", [](const Device& d) { return d.limits().thread_execution_width; },
          "Threads of a SIMD-group (32 on CUDA GPUs and on the CPU).")
      .def_prop_ro(
          "recommended_working_set_size", [](const Device& d) { return d.limits().recommended_working_set_size; },
          "Memory kernels may use at once, in bytes.")
      .def_prop_ro(
          "has_unified_memory", [](const Device& d) { return d.limits().has_unified_memory; },
          "Whether host and device share one memory (the CPU: True).")
      .def("make_command_queue", &Device::newCommandQueue,
           "A new command queue (Metal's newCommandQueue); raises DeviceError when the device cannot make one.")
      .def("make_shared_event", &Device::newSharedEvent,
           "A shared event (Metal's newSharedEvent): queues of every device may signal and wait for it.")
      .def("new_indirect_command_buffer", new_icb, nb::arg("descriptor").none(), nb::arg("max_command_count"),
           nb::arg("options") = 0,
           nb::sig("def new_indirect_command_buffer(self, descriptor: IndirectCommandBufferDescriptor, "
                   "max_command_count: int, options: int = 0) -> IndirectCommandBuffer"),
           "An indirect command buffer of ``max_command_count`` empty commands (Metal's\n"
           "newIndirectCommandBufferWithDescriptor:maxCommandCount:options:). ``options``: resource\n"
           "options (a storage mode), accepted and otherwise unused. Raises ValidationError for a\n"
           "descriptor without compute command types or a count of 0.")
      .def("make_indirect_command_buffer", new_icb, nb::arg("descriptor").none(), nb::arg("max_command_count"),
           nb::arg("options") = 0,
           nb::sig("def make_indirect_command_buffer(self, descriptor: IndirectCommandBufferDescriptor, "
                   "max_command_count: int, options: int = 0) -> IndirectCommandBuffer"),
           "The same as ``new_indirect_command_buffer``.")
      .def("__eq__", [](const Device& a, const Device& b) { return &a == &b; })
      .def("__hash__", [](const Device& d) { return reinterpret_cast<uintptr_t>(&d); })
      .def("__repr__", [](const Device& d) {
        std::string id = d.kind() == "cpu" && d.ordinal() == 0 ? "cpu" : d.kind() + ":" + std::to_string(d.ordinal());
        return "<pymetallic.Device " + id + " '" + d.name() + "'>";
      });
}

}  // namespace pymetallic_bindings
