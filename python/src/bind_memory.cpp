#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <climits>

#include "bindings.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {
StorageMode storage_mode(nb::handle mode) {
  if (mode.is_none()) return StorageMode::Shared;
  if (PyBool_Check(mode.ptr()) || !PyIndex_Check(mode.ptr()))
    throw ValidationTypeError(
        "storage_mode must be Buffer.STORAGE_SHARED (0), STORAGE_MANAGED (1) or STORAGE_PRIVATE (2)");
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

// A Python reference held from C++ (python_gate.h): released with the GIL held, from whatever
// thread drops the last C++ reference (a queue's worker, for instance), and not at all once
// the interpreter is exiting.
template <class T> std::shared_ptr<void> hold(T value) { return hold_python(std::move(value)); }

// DLPack device types (dlpack.h).
constexpr int kDLCPU = 1, kDLCUDA = 2;

int dl_device_type(const Device& d) { return d.kind() == "cpu" ? kDLCPU : kDLCUDA; }

}  // namespace

void init_memory(nb::module_& m) {
  nb::class_<Buffer>(m, "Buffer", "Linear memory a kernel reads and writes (Metal's MTLBuffer).",
                     nb::type_slots(buffer_slots), nb::is_weak_referenceable(), nb::dynamic_attr())
      .def(nb::new_([](nb::handle device_object, nb::handle size, nb::handle mode) {
             auto device = to_object<Device>(device_object, "Buffer(device)", "Device");
             return device->newBuffer(static_cast<uint64_t>(checked_size(size)), storage_mode(mode));
           }),
           nb::arg("device").none(), nb::arg("size").none(), nb::arg("storage_mode") = nb::none())
      .def_ro_static(
          "STORAGE_SHARED",
          [] {
            static int v = 0;
            return &v;
          }(),
          "Storage mode 0: one memory the host and kernels share (the default).")
      .def_ro_static(
          "STORAGE_MANAGED",
          [] {
            static int v = 1;
            return &v;
          }(),
          "Storage mode 1: host and device copies, kept in step on commit and did_modify_range.")
      .def_ro_static(
          "STORAGE_PRIVATE",
          [] {
            static int v = 2;
            return &v;
          }(),
          "Storage mode 2: device memory only; the host cannot read or write it.")
      .def_prop_ro("size", &Buffer::length, "Length in bytes.")
      .def_prop_ro("length", &Buffer::length, "Length in bytes.")
      .def_prop_ro(
          "storage_mode", [](const Buffer& b) { return static_cast<int>(b.storageMode()); },
          "The storage mode: STORAGE_SHARED (0), STORAGE_MANAGED (1) or STORAGE_PRIVATE (2).")
      .def_prop_ro("device", &Buffer::device, "The device that holds the buffer.")
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
      .def("did_modify_range", &Buffer::didModifyRange, nb::arg("start"), nb::arg("length"),
           "Tells a managed buffer that the host wrote bytes [start, start + length) (in bytes).\nRaises "
           "ValidationError for a range outside the buffer.")
      .def_prop_ro("is_foreign", &Buffer::foreign, "Whether the memory belongs to another library (wrapped in place).")
      .def(
          "_prepare_export",
          [](Buffer& b, long long stream) {
            ReleaseGil release;  // may wait for the CPU queue
            b.prepareExport(static_cast<uintptr_t>(stream));
          },
          nb::arg("stream"))
      .def(
          "_dlpack_view",
          [](std::shared_ptr<Buffer> b, uint8_t code, uint8_t bits, uint16_t lanes, std::vector<size_t> shape,
             std::vector<int64_t> strides, uint64_t byte_offset) {
            auto* data = reinterpret_cast<void*>(static_cast<uintptr_t>(b->gpuAddress() + byte_offset));
            nb::capsule owner(new std::shared_ptr<Buffer>(b),
                              [](void* p) noexcept { delete static_cast<std::shared_ptr<Buffer>*>(p); });
            nb::dlpack::dtype dt{code, bits, lanes};
            return nb::ndarray<nb::array_api>(data, shape.size(), shape.data(), owner,
                                              strides.empty() ? nullptr : strides.data(), dt,
                                              dl_device_type(*b->device()), b->device()->ordinal());
          },
          nb::arg("code"), nb::arg("bits"), nb::arg("lanes"), nb::arg("shape"), nb::arg("strides"),
          nb::arg("byte_offset"), "A DLPack-exporting view of the memory (strides in items).")
      .def_prop_ro("gpu_address", &Buffer::gpuAddress,
                   "The address kernels see (Metal's gpuAddress), for argument buffers; pair with "
                   "encoder.use_resource(buffer).")
      .def("__repr__", [](const Buffer& b) {
        static const char* modes[] = {"shared", "managed", "private"};
        return "<pymetallic.Buffer " + std::to_string(b.length()) + " bytes, " +
               modes[static_cast<int>(b.storageMode())] + ", on " + b.device()->name() + ">";
      });

  m.def(
      "_wrap_dlpack",
      [](std::shared_ptr<Device> device, nb::ndarray<nb::ro> a, long long ready_stream) {
        // The array's span: a view may have negative or zero strides.
        const size_t item = (static_cast<size_t>(a.dtype().bits) * a.dtype().lanes + 7) / 8;
        int64_t lo = 0, hi = 0, expect = 1;
        std::vector<int64_t> shape, strides;
        for (size_t i = a.ndim(); i-- > 0;) {
          int64_t n = a.shape(i), st = a.stride_ptr() ? a.stride(i) : expect;
          expect *= n;
          shape.insert(shape.begin(), n);
          strides.insert(strides.begin(), st);
          if (n > 1) (st < 0 ? lo : hi) += st * (n - 1);
        }
        if (a.size() == 0) throw ValidationError("cannot use an empty array (no items) as a buffer");
        uint64_t base = reinterpret_cast<uintptr_t>(a.data()) + lo * static_cast<int64_t>(item);
        uint64_t length = static_cast<uint64_t>(hi - lo + 1) * item;
        auto buffer = device->newBufferWithBytesNoCopy(base, length, hold(a), static_cast<uintptr_t>(ready_stream));
        nb::object dtype = nb::make_tuple(a.dtype().code, a.dtype().bits, a.dtype().lanes);
        return nb::make_tuple(buffer, dtype, nb::cast(shape), nb::cast(strides), -lo * static_cast<int64_t>(item),
                              a.device_type(), a.device_id());
      },
      nb::arg("device"), nb::arg("array"), nb::arg("ready_stream") = 0,
      "Wraps a DLPack tensor (a capsule, or an object with __dlpack__) in place: (buffer, (code, bits, lanes), "
      "shape, strides in items, byte offset of the first item, device type, device id).");
  m.def(
      "_wrap_pointer",
      [](std::shared_ptr<Device> device, uint64_t address, uint64_t length, nb::object owner, long long ready_stream) {
        return device->newBufferWithBytesNoCopy(address, length, hold(owner), static_cast<uintptr_t>(ready_stream));
      },
      nb::arg("device"), nb::arg("address"), nb::arg("length"), nb::arg("owner"), nb::arg("ready_stream") = 0,
      "Memory at `address` (host on the CPU, device on a GPU) used in place; `owner` is kept alive with it.");
  m.def("_interop_stream",
        [](std::shared_ptr<Device> device) { return static_cast<uint64_t>(device->interopStream()); });

  m.def(
      "_make_buffer",
      [](std::shared_ptr<Device> device, nb::handle size, nb::handle mode) {
        return device->newBuffer(static_cast<uint64_t>(checked_size(size)), storage_mode(mode));
      },
      nb::arg("device"), nb::arg("size"), nb::arg("storage_mode") = nb::none());
}

}  // namespace pymetallic_bindings
