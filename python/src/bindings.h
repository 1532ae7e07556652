// One binding file per API area; module.cpp calls each init function.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/shared_ptr.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metallic/error.h"

#include <string>
#include <vector>

#include "metallic/diagnostics.h"

namespace pymetallic_bindings {

// Argument conversions that speak Python: a wrong type is a ValidationTypeError (also a
// TypeError), a bad value a ValidationError (also a ValueError); NumPy scalars are accepted
// wherever Python numbers are.

// The module uses only the limited C API (Py_LIMITED_API, set by nanobind's STABLE_ABI where
// scikit-build-core builds the abi3 wheel, CPython >= 3.12): no PyTypeObject fields (tp_name),
// no PyUnicode_AsUTF8 (limited only from 3.13), no PyTuple_GET_ITEM-style macros.
// `make limited-api-check` compiles these sources so against the Python at hand.

// A str attribute of a type (`__name__`, `__module__`) in UTF-8; "" when missing or not a str.
inline std::string type_attribute(PyObject* type, const char* attribute) {
  PyObject* value = PyObject_GetAttrString(type, attribute);
  Py_ssize_t size = 0;
  const char* s = value && PyUnicode_Check(value) ? PyUnicode_AsUTF8AndSize(value, &size) : nullptr;
  std::string out = s ? std::string(s, static_cast<size_t>(size)) : std::string();
  if (!s) PyErr_Clear();
  Py_XDECREF(value);
  return out;
}

// A Python object's type as Python's own messages name it (`type(o).__name__`: "Buffer",
// "float64"), not tp_name, which nanobind versions spell differently ("pymetallic._core.Buffer").
inline std::string type_name(PyObject* o) {
  std::string name = type_attribute(reinterpret_cast<PyObject*>(Py_TYPE(o)), "__name__");
  return name.empty()
             ? std::string(nanobind::type_name(nanobind::handle(reinterpret_cast<PyObject*>(Py_TYPE(o)))).c_str())
             : name;
}

// The type's tp_name, which the limited API hides, rebuilt from `__module__` and `__name__`:
// exact for types defined in C (NumPy's scalars: "numpy.float64", "numpy.bool_" in NumPy 1.x,
// "numpy.bool" in 2.x; "str" for builtins), `__name__` for a heap type (a class statement's
// tp_name; nanobind's Buffer is "Buffer").
inline std::string c_type_name(PyObject* o) {
  std::string name = type_name(o);
  if (PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE)) return name;
  std::string module = type_attribute(reinterpret_cast<PyObject*>(Py_TYPE(o)), "__module__");
  return module.empty() || module == "builtins" ? name : module + "." + name;
}

// The name of a NumPy scalar's type without "numpy." ("float64"; "bool_" in NumPy 1.x, "bool"
// in 2.x), "" for any other object; by name, so NumPy need not be imported.
inline std::string numpy_scalar_type(PyObject* o) {
  PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(o));
  return type_attribute(type, "__module__") == "numpy" ? type_attribute(type, "__name__") : std::string();
}

// A tuple's or list's item `i` (borrowed), where `i` < Py_SIZE(o): the macro of the full API,
// the checked function of the limited one.
inline PyObject* tuple_or_list_item(PyObject* o, Py_ssize_t i) {
#if defined(Py_LIMITED_API)
  PyObject* item = PyTuple_Check(o) ? PyTuple_GetItem(o, i) : PyList_GetItem(o, i);
  if (!item) throw nanobind::python_error();
  return item;
#else
  return PyTuple_Check(o) ? PyTuple_GET_ITEM(o, i) : PyList_GET_ITEM(o, i);
#endif
}

// An integer (int, NumPy integer, anything with __index__; not bool) in [lo, hi].
inline long long to_integer(nanobind::handle v, const char* what, long long lo, long long hi) {
  PyObject* o = v.ptr();
  if (PyBool_Check(o) || !PyIndex_Check(o))
    throw metallic::ValidationTypeError(std::string(what) + " must be an int, not " + type_name(o));
  PyObject* index = PyNumber_Index(o);
  if (!index) throw nanobind::python_error();
  int overflow = 0;
  long long n = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  if (n == -1 && PyErr_Occurred()) throw nanobind::python_error();
  if (overflow > 0 || (overflow == 0 && n > hi))
    throw metallic::ValidationError(std::string(what) + " is too large (at most " + std::to_string(hi) + ")");
  if (overflow < 0 || n < lo)
    throw metallic::ValidationError(std::string(what) + " must be at least " + std::to_string(lo) + ", got " +
                                    (overflow ? std::string("a huge negative number") : std::to_string(n)));
  return n;
}

// True/False (or a NumPy bool); 0 and 1 are refused: an option is either on or off.
inline bool to_bool(nanobind::handle v, const char* what) {
  PyObject* o = v.ptr();
  if (PyBool_Check(o)) return o == Py_True;
  std::string numpy_type = numpy_scalar_type(o);
  if (numpy_type == "bool_" || numpy_type == "bool") return PyObject_IsTrue(o) == 1;
  throw metallic::ValidationTypeError(std::string(what) + " must be True or False, not " + type_name(o));
}

inline std::string to_text(nanobind::handle v, const char* what) {
  if (!PyUnicode_Check(v.ptr()))
    throw metallic::ValidationTypeError(std::string(what) + " must be a str, not " + type_name(v.ptr()));
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(v.ptr(), &size);
  if (!text) throw nanobind::python_error();
  return std::string(text, static_cast<size_t>(size));
}

// The C++ object behind a bound Python object of class T (`expected`: its name for messages); None
// is refused unless `allow_none`, a value of another type is a ValidationTypeError.
// "`what` must be a(n) `expected`, not `got`": made only when a conversion fails.
[[noreturn]] inline void wrong_object(const char* what, const char* expected, const std::string& got) {
  const char* article = std::string(expected).find_first_of("AEIOU") == 0 ? " must be an " : " must be a ";
  throw metallic::ValidationTypeError(std::string(what) + article + expected + ", not " + got);
}

// The shared_ptr of `v`, a ready instance of T (checked by the caller), by shared_from_this:
// one atomic operation, where nanobind's conversion copies and locks the object's weak_ptr
// (three). An object no shared_ptr owns (constructed in place by Python) takes nanobind's way,
// which makes one that holds the Python object.
template <class T> std::shared_ptr<T> shared_of(nanobind::handle v) {
  try {
    return nanobind::inst_ptr<T>(v)->shared_from_this();
  } catch (const std::bad_weak_ptr&) {
    return nanobind::cast<std::shared_ptr<T>>(v);
  }
}

// Whether `v` is an instance of the bound class T: its exact type first (one comparison with the
// type object, looked up once), then nanobind's check (which looks the type up in a hash table
// on every call; needed for subclasses defined in Python).
template <class T> bool is_instance(nanobind::handle v) {
  static PyTypeObject* const exact = reinterpret_cast<PyTypeObject*>(nanobind::type<T>().ptr());
  return (exact && Py_TYPE(v.ptr()) == exact) || nanobind::isinstance<T>(v);
}

template <class T>
std::shared_ptr<T> to_object(nanobind::handle v, const char* what, const char* expected, bool allow_none = false) {
  if (v.is_none()) {
    if (allow_none) return nullptr;
    wrong_object(what, expected, "None");
  }
  if (!is_instance<T>(v)) wrong_object(what, expected, type_name(v.ptr()));
  // Without enable_shared_from_this, nanobind would give C++ a shared_ptr whose deleter takes
  // the GIL on whichever thread drops it, also while the interpreter exits (python_gate.h).
  static_assert(nanobind::detail::has_shared_from_this_v<T>,
                "a class C++ keeps in a shared_ptr must derive from std::enable_shared_from_this");
  if (!nanobind::inst_ready(v)) return nanobind::cast<std::shared_ptr<T>>(v);  // raises nanobind's error
  return shared_of<T>(v);
}

// A list (tuple, any iterable but a string) of str or os.PathLike: a single string is
// refused rather than read letter by letter.
inline std::vector<std::string> to_path_list(nanobind::handle v, const char* what) {
  PyObject* o = v.ptr();
  if (PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__"))
    throw metallic::ValidationTypeError(std::string(what) + " must be a list of folders, not a single " + type_name(o) +
                                        " (write [path])");
  PyObject* it = PyObject_GetIter(o);
  if (!it) {
    PyErr_Clear();
    throw metallic::ValidationTypeError(std::string(what) + " must be a list of folders, not " + type_name(o));
  }
  std::vector<std::string> out;
  while (PyObject* item = PyIter_Next(it)) {
    PyObject* path = PyOS_FSPath(item);
    Py_DECREF(item);
    if (!path || !PyUnicode_Check(path)) {
      Py_XDECREF(path);
      Py_DECREF(it);
      PyErr_Clear();
      throw metallic::ValidationTypeError(std::string(what) + " must hold str paths");
    }
    const char* text = PyUnicode_AsUTF8AndSize(path, nullptr);
    if (text) out.emplace_back(text);
    Py_DECREF(path);
    if (!text) {
      Py_DECREF(it);
      throw nanobind::python_error();
    }
  }
  Py_DECREF(it);
  if (PyErr_Occurred()) throw nanobind::python_error();
  return out;
}
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
