#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <climits>

#include "bindings.h"
#include "metallic/metallic.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {
StorageMode storage_mode(nb::handle mode) {
  if (mode.is_none()) return StorageMode::Shared;
  if (PyBool_Check(mode.ptr()) || !PyIndex_Check(mode.ptr()))
    throw ValidationTypeError("storage_mode must be Buffer.STORAGE_SHARED (0), STORAGE_MANAGED (1) or STORAGE_PRIVATE (2)");
  long long m = to_integer(mode, "storage_mode", LLONG_MIN, LLONG_MAX);
  if (m < 0 || m > 2)
    throw ValidationError("unknown storage mode " + std::to_string(m) +
                          ": use Buffer.STORAGE_SHARED (0), STORAGE_MANAGED (1) or STORAGE_PRIVATE (2)");
  return static_cast<StorageMode>(m);
}

int64_t checked_size(nb::handle size) {
  // An int or a NumPy integer; sizes beyond what an allocation can be are refused here.
  long long n = to_integer(size, "a buffer size (bytes)", LLONG_MIN, (1ll << 48));
  if (n <= 0) throw ValidationError("a buffer size must be at least 1 byte, got " + std::to_string(n));
  return n;
}
// The buffer protocol: memoryview(buffer), np.frombuffer(buffer, ...), bytes(buffer) see the
// contents directly (the same view as to_numpy; a discrete GPU keeps it current while open).
int buffer_get(PyObject* self, Py_buffer* view, int flags) {
  Buffer* b = nb::inst_ptr<Buffer>(self);
  void* data = nullptr;
  try {
    data = b->contents();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    view->obj = nullptr;
    return -1;
  }
  b->viewOpened();
  auto* shape = new Py_ssize_t[1]{static_cast<Py_ssize_t>(b->length())};
  view->buf = data;
  view->obj = self;
  Py_INCREF(self);
  view->len = shape[0];
  view->readonly = 0;
  view->itemsize = 1;
  view->format = (flags & PyBUF_FORMAT) ? const_cast<char*>("B") : nullptr;
  view->ndim = 1;
  view->shape = (flags & PyBUF_ND) ? shape : nullptr;
  view->strides = nullptr;  // C-contiguous
  view->suboffsets = nullptr;
  view->internal = shape;
  return 0;
}

void buffer_release(PyObject* self, Py_buffer* view) {
  delete[] static_cast<Py_ssize_t*>(view->internal);
  nb::inst_ptr<Buffer>(self)->viewClosed();
}

PyType_Slot buffer_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(buffer_get)},
                              {Py_bf_releasebuffer, reinterpret_cast<void*>(buffer_release)},
                              {0, nullptr}};

}  // namespace

void init_memory(nb::module_& m) {
  nb::class_<Buffer>(m, "Buffer", "Linear memory a kernel reads and writes (Metal's MTLBuffer).",
                     nb::type_slots(buffer_slots))
      .def(nb::new_([](nb::handle device_object, nb::handle size, nb::handle mode) {
             auto device = to_object<Device>(device_object, "Buffer(device)", "Device");
             return device->newBuffer(static_cast<uint64_t>(checked_size(size)), storage_mode(mode));
           }),
           nb::arg("device").none(), nb::arg("size").none(), nb::arg("storage_mode") = nb::none())
      .def_ro_static("STORAGE_SHARED", [] { static int v = 0; return &v; }())
      .def_ro_static("STORAGE_MANAGED", [] { static int v = 1; return &v; }())
      .def_ro_static("STORAGE_PRIVATE", [] { static int v = 2; return &v; }())
      .def_prop_ro("size", &Buffer::length, "Length in bytes.")
      .def_prop_ro("length", &Buffer::length, "Length in bytes.")
      .def_prop_ro("storage_mode", [](const Buffer& b) { return static_cast<int>(b.storageMode()); })
      .def_prop_ro("device", &Buffer::device)
      .def(
          "_bytes_view",
          [](std::shared_ptr<Buffer> b) {
            void* data = b->contents();  // raises for private buffers
            size_t shape[1] = {static_cast<size_t>(b->length())};
            // The array's owner keeps the buffer alive and tells the backend while a view
            // exists: writes through it reach later kernels, kernel writes reach it.
            auto* holder = new std::shared_ptr<Buffer>(b);
            b->viewOpened();
            nb::capsule owner(holder, [](void* p) noexcept {
              auto* h = static_cast<std::shared_ptr<Buffer>*>(p);
              (*h)->viewClosed();
              delete h;
            });
            return nb::ndarray<nb::numpy, uint8_t, nb::ndim<1>>(data, 1, shape, owner);
          },
          "The contents as a writable uint8 NumPy view.")
      .def("did_modify_range", &Buffer::didModifyRange, nb::arg("start"), nb::arg("length"))
      .def_prop_ro("gpu_address", &Buffer::gpuAddress,
                   "The address kernels see (Metal's gpuAddress), for argument buffers; pair with "
                   "encoder.use_resource(buffer).")
      .def("__repr__", [](const Buffer& b) {
        static const char* modes[] = {"shared", "managed", "private"};
        return "<pymetallic.Buffer " + std::to_string(b.length()) + " bytes, " +
               modes[static_cast<int>(b.storageMode())] + ", on " + b.device()->name() + ">";
      });

  m.def(
      "_make_buffer",
      [](std::shared_ptr<Device> device, nb::handle size, nb::handle mode) {
        return device->newBuffer(static_cast<uint64_t>(checked_size(size)), storage_mode(mode));
      },
      nb::arg("device"), nb::arg("size"), nb::arg("storage_mode") = nb::none());
}

}  // namespace pymetallic_bindings
