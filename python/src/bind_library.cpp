#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <climits>
#include <cstdio>

#include "bindings.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {

// Function-constant values arrive as Python bools/ints/floats; the front end wants C++ literals.
std::string constant_literal(nb::handle v) {
  PyObject* o = v.ptr();
  std::string numpy_type = numpy_scalar_type(o);  // "float64" for numpy.float64
  if (PyBool_Check(o) || numpy_type == "bool_" || numpy_type == "bool")
    return PyObject_IsTrue(o) == 1 ? "true" : "false";
  if (PyIndex_Check(o) && !PyFloat_Check(o))
    return std::to_string(to_integer(v, "a function-constant value", LLONG_MIN, LLONG_MAX));
  if (PyFloat_Check(o) || (PyNumber_Check(o) && numpy_type.rfind("float", 0) == 0)) {
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) throw nb::python_error();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", d);
    std::string s = buf;
    if (s.find_first_of(".eEni") == std::string::npos) s += ".0";
    return s;
  }
  throw ValidationTypeError("function-constant values must be bool, int or float, not " + c_type_name(o));
}

std::map<std::string, std::string> constants_map(nb::handle constants) {
  std::map<std::string, std::string> out;
  if (constants.is_none()) return out;
  if (!nb::isinstance<nb::dict>(constants))
    throw ValidationTypeError(std::string("constants must be a dict {name or index: value}, not ") +
                              type_name(constants.ptr()));
  for (auto [k, v] : nb::borrow<nb::dict>(constants)) {
    std::string key = PyUnicode_Check(k.ptr())
                          ? to_text(k, "a function-constant name")
                          : "#" + std::to_string(to_integer(k, "a function-constant name or index", 0, 65535));
    out[key] = constant_literal(v);
  }
  return out;
}

// "3.2", 3.2 or 320 -> 320 (__METAL_VERSION__); only versions Metal has.
int language_version(nb::handle v) {
  std::string text = nb::cast<std::string>(nb::str(v));
  static const char* const kVersions[] = {"1.0", "1.1", "1.2", "2.0", "2.1", "2.2",
                                          "2.3", "2.4", "3.0", "3.1", "3.2", "4.0"};
  for (const char* known : kVersions) {
    int number = (known[0] - '0') * 100 + (known[2] - '0') * 10;
    if (text == known || text == std::to_string(number)) return number;
  }
  throw ValidationError("unknown language_version '" + text + "': use a Metal version from '1.0' to '4.0', e.g. '3.1'");
}

CompileOptions compile_options(nb::handle options) {
  CompileOptions o;
  if (options.is_none()) return o;
  if (!nb::isinstance<nb::dict>(options))
    throw ValidationTypeError(
        std::string("options must be a dict with keys macros, include_paths, math_mode, fast_math, "
                    "language_version, filename, constants, validation, debug; not ") +
        type_name(options.ptr()));
  for (auto [k, v] : nb::borrow<nb::dict>(options)) {
    std::string key = to_text(k, "a compile option name");
    if (key == "macros" || key == "defines") {
      if (!nb::isinstance<nb::dict>(v))
        throw ValidationTypeError("options['" + key + "'] must be a dict {NAME: value}, not " + type_name(v.ptr()));
      for (auto [mk, mv] : nb::borrow<nb::dict>(v)) {
        std::string value =
            PyBool_Check(mv.ptr()) ? (mv.ptr() == Py_True ? "1" : "0") : nb::cast<std::string>(nb::str(mv));
        o.macros.emplace_back(to_text(mk, "a macro name"), value);
      }
    } else if (key == "include_paths") {
      o.include_paths = to_path_list(v, "options['include_paths']");
    } else if (key == "fast_math") {  // the older spelling (MTLCompileOptions.fastMathEnabled)
      o.math_mode = to_bool(v, "options['fast_math']") ? MathMode::Fast : MathMode::Safe;
    } else if (key == "math_mode") {
      std::string mode = to_text(v, "options['math_mode']");
      if (mode == "safe")
        o.math_mode = MathMode::Safe;
      else if (mode == "relaxed")
        o.math_mode = MathMode::Relaxed;
      else if (mode == "fast")
        o.math_mode = MathMode::Fast;
      else
        throw ValidationError("unknown math_mode '" + mode + "': use 'safe', 'relaxed' or 'fast'");
    } else if (key == "language_version") {
      o.language_version = language_version(v);
    } else if (key == "validation") {
      o.validation = to_bool(v, "options['validation']");
    } else if (key == "debug") {
      o.debug = to_bool(v, "options['debug']");
    } else if (key == "filename") {
      o.filename = to_text(v, "options['filename']");
    } else if (key == "constants") {
      o.function_constants = constants_map(v);
    } else if (key == "isolate") {
      o.isolate = to_bool(v, "options['isolate']");
    } else {
      throw ValidationError(
          "unknown compile option '" + key +
          "': use macros, include_paths, math_mode, fast_math, language_version, filename, constants, "
          "validation, debug or isolate");
    }
  }
  return o;
}

}  // namespace

CompileOptions compile_options_from(nb::handle options) { return compile_options(options); }

void init_library(nb::module_& m) {
  nb::class_<ArgumentInfo>(m, "Argument", "One kernel argument, for reflection.")
      .def_ro("name", &ArgumentInfo::name)
      .def_ro("kind", &ArgumentInfo::kind)
      .def_ro("index", &ArgumentInfo::index)
      .def_ro("type", &ArgumentInfo::type)
      .def_ro("access", &ArgumentInfo::access)
      .def_ro("active", &ArgumentInfo::active)
      .def("__repr__", [](const ArgumentInfo& a) {
        return "<Argument " + a.name + ": " + a.kind + " " + std::to_string(a.index) + " " + a.type + ">";
      });

  nb::class_<Library>(m, "Library", "Compiled MSL source (Metal's MTLLibrary).")
      .def(nb::new_([](nb::handle device_object, nb::handle source_object, nb::handle options) {
             auto device = to_object<Device>(device_object, "Library(device)", "Device");
             std::string source = to_text(source_object, "Library(source) (MSL source text)");
             CompileOptions o = compile_options(options);
             ReleaseGil release;  // compiling can take a while
             return device->newLibrary(source, o);
           }),
           nb::arg("device").none(), nb::arg("source").none(), nb::arg("options") = nb::none())
      .def_prop_ro("device", &Library::device, "The device the library was compiled for.")
      .def_prop_ro("function_names", &Library::functionNames, "The names of the library's kernels, in source order.")
      .def("__repr__",
           [](const Library& l) {
             std::string names;
             for (const auto& n : l.functionNames()) names += (names.empty() ? "" : ", ") + n;
             return "<pymetallic.Library [" + names + "] on " + l.device()->name() + ">";
           })
      .def(
          "make_function",
          [](Library& lib, const std::string& name, nb::handle constants) {
            auto c = constants_map(constants);
            ReleaseGil release;
            return lib.newFunction(name, c);
          },
          nb::arg("name"), nb::arg("constants") = nb::none(),
          nb::sig("def make_function(self, name: str, constants: dict[str, object] | None = None) -> Function"),
          "The kernel ``name`` with function constants by name (``[[function_constant]]``).\n"
          "Raises CompileError for an unknown name or a constant of the wrong type.");

  nb::class_<Function>(m, "Function", "One kernel of a library (Metal's MTLFunction).")
      .def_prop_ro("name", &Function::name, "The kernel's name.")
      .def_prop_ro("library", &Function::library, "The library it comes from.")
      .def_prop_ro("arguments", &Function::arguments,
                   "The kernel's arguments (buffers, textures, threadgroup memory), for reflection.")
      .def("__repr__", [](const Function& f) { return "<pymetallic.Function " + f.name() + ">"; });

  nb::class_<ComputePipelineState>(m, "ComputePipelineState", "A kernel ready to dispatch.")
      .def(nb::new_([](nb::handle device, nb::handle function, bool support_icb) {
             return to_object<Device>(device, "ComputePipelineState(device)", "Device")
                 ->newComputePipelineState(to_object<Function>(function, "ComputePipelineState(function)", "Function"),
                                           support_icb);
           }),
           nb::arg("device").none(), nb::arg("function").none(), nb::arg("support_indirect_command_buffers") = false)
      .def_prop_ro("device", &ComputePipelineState::device, "The device the pipeline runs on.")
      .def_prop_ro("support_indirect_command_buffers", &ComputePipelineState::supportIndirectCommandBuffers,
                   "Whether indirect command buffer commands may use it (Metal requires it; set at creation).")
      .def_prop_ro("function", &ComputePipelineState::function, "The kernel it runs.")
      .def_prop_ro("max_total_threads_per_threadgroup", &ComputePipelineState::maxTotalThreadsPerThreadgroup,
                   "The most threads a threadgroup of this kernel may have on its device.")
      .def_prop_ro("thread_execution_width", &ComputePipelineState::threadExecutionWidth, "Threads of a SIMD-group.")
      .def_prop_ro("static_threadgroup_memory_length", &ComputePipelineState::staticThreadgroupMemoryLength,
                   "Threadgroup memory the kernel declares itself, in bytes.")
      .def("__repr__", [](const ComputePipelineState& p) {
        return "<pymetallic.ComputePipelineState " + p.function()->name() + " on " + p.device()->name() + ">";
      });
}

}  // namespace pymetallic_bindings
