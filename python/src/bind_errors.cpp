// C++ errors become the Python exception classes of pymetallic.errors, which the package
// hands over at import (_set_exception_types), so the hierarchy is plain Python.
#include <string>

#include "bindings.h"
#include "metallic/diagnostics.h"
#include "metallic/error.h"

namespace nb = nanobind;

namespace pymetallic_bindings {

namespace {
nb::object g_metal_error, g_compile_error, g_device_error, g_validation_error;

void raise(const nb::object& type, const char* message) {
  if (!type.is_valid()) {
    PyErr_SetString(PyExc_RuntimeError, message);
    return;
  }
  PyErr_SetString(type.ptr(), message);
}
}  // namespace

void init_errors(nb::module_& m) {
  m.def("_set_exception_types", [](nb::object metal, nb::object compile, nb::object device, nb::object validation) {
    g_metal_error = metal;
    g_compile_error = compile;
    g_device_error = device;
    g_validation_error = validation;
  });
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const metallic::CompileError& e) {
      if (!g_compile_error.is_valid()) return raise(g_compile_error, e.what());
      nb::object exc = g_compile_error(nb::str(e.what()));
      nb::setattr(exc, "log", nb::str(e.log().c_str(), e.log().size()));
      PyErr_SetObject(g_compile_error.ptr(), exc.ptr());
    } catch (const metallic::ShaderValidationError& e) {
      nb::object cls = nb::module_::import_("pymetallic.errors").attr("ShaderValidationError");
      nb::object exc = cls(nb::str(e.what()));
      nb::setattr(exc, "findings", findings_list(e.findings()));
      PyErr_SetObject(cls.ptr(), exc.ptr());
    } catch (const metallic::ValidationError& e) {
      raise(g_validation_error, e.what());
    } catch (const metallic::DeviceError& e) {
      raise(g_device_error, e.what());
    } catch (const metallic::Error& e) {
      raise(g_metal_error, e.what());
    }
  });
}

}  // namespace pymetallic_bindings
