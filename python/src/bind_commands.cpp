#include <nanobind/stl/array.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "bindings.h"
#include "core/backend.h"
#include "metallic/metallic.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {

// A plain Python int that fits in a long long: the common case, without a detour. On
// CPython 3.12+ (not the limited API) an int of one digit (|n| < 2^30: every size, index and
// offset a dispatch usually passes) is read inline, without PyLong_AsLongLongAndOverflow's call
// (a dispatch reads ten or so ints).
__attribute__((always_inline)) inline bool exact_int(PyObject* v, long long& n) {
  if (!PyLong_CheckExact(v)) return false;
#if !defined(Py_LIMITED_API) && PY_VERSION_HEX >= 0x030C0000
  if (PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(v))) {
    n = static_cast<long long>(PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(v)));
    return true;
  }
#endif
  int overflow = 0;
  n = PyLong_AsLongLongAndOverflow(v, &overflow);
  return !overflow;
}

// (w, h, d), (w, h), (w,) or w: Metal's MTLSize, missing dimensions are 1. Read with the
// C API: this runs twice per dispatch, and nanobind's generic conversions cost ~1 us here.
Size3 size3(nb::handle value, const char* what) {
  uint64_t dims[3] = {1, 1, 1};
  auto component = [&](PyObject* v, int i) {
    long long n;
    if (!exact_int(v, n)) {
      if (PyBool_Check(v) || !PyIndex_Check(v))
        throw ValidationTypeError(std::string(what) + " must hold ints, not " + type_name(v));
      n = to_integer(nb::handle(v), what, LLONG_MIN, LLONG_MAX);
    }
    if (n < 0) throw ValidationError(std::string(what) + " has a negative dimension: " + std::to_string(n));
    dims[i] = static_cast<uint64_t>(n);
  };
  PyObject* obj = value.ptr();
  // The usual argument first, (w, h, d) of plain ints: read without the general path's checks
  // (anything else, and every error, takes the general path below).
  if (PyTuple_CheckExact(obj) && Py_SIZE(obj) == 3) {
    long long w, h, d;
    if (exact_int(tuple_or_list_item(obj, 0), w) && exact_int(tuple_or_list_item(obj, 1), h) &&
        exact_int(tuple_or_list_item(obj, 2), d) && (w | h | d) >= 0)
      return {static_cast<uint64_t>(w), static_cast<uint64_t>(h), static_cast<uint64_t>(d)};
  }
  if (PyLong_Check(obj) || (PyIndex_Check(obj) && !PySequence_Check(obj))) {
    component(obj, 0);
  } else if (PyTuple_Check(obj) || PyList_Check(obj)) {
    Py_ssize_t n = Py_SIZE(obj);
    if (n < 1 || n > 3) throw ValidationError(std::string(what) + " must have 1 to 3 dimensions");
    for (Py_ssize_t i = 0; i < n; ++i) component(tuple_or_list_item(obj, i), static_cast<int>(i));
  } else {
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || !nb::isinstance<nb::sequence>(value))
      throw ValidationTypeError(std::string(what) + " must be a tuple of 1 to 3 ints");
    nb::sequence seq = nb::borrow<nb::sequence>(value);
    size_t n = nb::len(seq);
    if (n < 1 || n > 3) throw ValidationError(std::string(what) + " must have 1 to 3 dimensions");
    for (size_t i = 0; i < n; ++i) component(nb::object(seq[i]).ptr(), static_cast<int>(i));
  }
  return {dims[0], dims[1], dims[2]};
}

uint32_t slot(long long index, const char* what) {
  if (index < 0 || index > 30)
    throw ValidationError(std::string(what) + " index " + std::to_string(index) +
                          " is out of range: Metal has 31 slots, 0 to 30");
  return static_cast<uint32_t>(index);
}

__attribute__((always_inline)) inline bool exact_integer(nb::handle v, long long& n) { return exact_int(v.ptr(), n); }

// An int argument: NumPy integers and the like through __index__.
long long integer(nb::handle v, const char* what) {
  long long n;
  return exact_integer(v, n) ? n : to_integer(v, what, LLONG_MIN, LLONG_MAX);
}

double number(nb::handle v, const char* what) {
  if (PyBool_Check(v.ptr()) ||
      !(PyFloat_Check(v.ptr()) || PyLong_Check(v.ptr()) || PyIndex_Check(v.ptr()) || PyNumber_Check(v.ptr())))
    throw ValidationTypeError(std::string(what) + " must be a number");
  double d = PyFloat_AsDouble(v.ptr());
  if (d == -1.0 && PyErr_Occurred()) throw nb::python_error();
  return d;
}

uint64_t non_negative(long long v, const char* what) {
  if (v < 0) throw ValidationError(std::string(what) + " must not be negative, got " + std::to_string(v));
  return static_cast<uint64_t>(v);
}

// Arrays of other libraries (DLPack, CUDA array interface, NumPy) as buffers: a Python hook
// (pymetallic.interop) wraps them in place on the encoder's device -> (Buffer, byte offset).
nb::object& array_hook() {
  static nb::object* hook = new nb::object();  // never destroyed: outlives the interpreter
  return *hook;
}

std::pair<std::shared_ptr<Buffer>, uint64_t> as_buffer(nb::handle obj, const std::shared_ptr<Device>& device) {
  if (obj.is_none()) return {nullptr, 0};
  if (is_instance<Buffer>(obj) && nb::inst_ready(obj)) return {shared_of<Buffer>(obj), 0};
  std::shared_ptr<Buffer> b;
  if (nb::try_cast<std::shared_ptr<Buffer>>(obj, b)) return {b, 0};
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) || PyLong_Check(obj.ptr()))
    throw ValidationTypeError(std::string("set_buffer needs a pymetallic.Buffer or an array, not ") +
                              type_name(obj.ptr()));
  if (!array_hook().is_valid() || array_hook().is_none())
    throw ValidationTypeError(std::string("expected a pymetallic.Buffer (or an array), not ") + type_name(obj.ptr()));
  nb::tuple r = nb::borrow<nb::tuple>(array_hook()(obj, nb::cast(device)));
  return {nb::cast<std::shared_ptr<Buffer>>(r[0]), nb::cast<uint64_t>(r[1])};
}

// ---- The bindings a compute encoder shares with the commands of indirect command buffers.
// Metal gives MTLIndirectComputeCommand the encoder's methods (its buffers bound with
// set_kernel_buffer, its dispatches named concurrent_*): here one template binds each for
// both, so both take the same arguments and refuse one misuse with one message.

// The buffer a set_buffer binds, and the byte offset it starts at: the encoder's takes a
// pymetallic Buffer or any array on its device (wrapped in place; the command buffer holds it
// until its work is done); an indirect command keeps what it binds, a Buffer.
std::pair<std::shared_ptr<Buffer>, uint64_t> bound_buffer(ComputeCommandEncoder& e, nb::handle buffer) {
  return as_buffer(buffer, e.commandBuffer()->commandQueue()->device());
}
std::pair<std::shared_ptr<Buffer>, uint64_t> bound_buffer(IndirectComputeCommand&, nb::handle buffer) {
  return {to_object<Buffer>(buffer, "set_kernel_buffer(buffer)", "Buffer", /*allow_none=*/true), 0};
}

// An int argument `method` `what` (say "set_buffer" "offset"): the message is made on failure only.
long long argument(nb::handle v, const char* method, const char* what) {
  long long n;
  return exact_integer(v, n) ? n : to_integer(v, (std::string(method) + " " + what).c_str(), LLONG_MIN, LLONG_MAX);
}

// set_buffer (encoder) / set_kernel_buffer (indirect command): `buffer` from `offset` bytes at [[buffer(index)]].
template <auto Bind, class Target>
void def_buffer_binding(nb::class_<Target>& cls, const char* method, const char* sig, const char* doc) {
  cls.def(
      method,
      [method](Target& t, nb::handle buffer, nb::handle offset, nb::handle index) {
        auto [b, base] = bound_buffer(t, buffer);
        long long o = argument(offset, method, "offset");
        if (o < 0)
          throw ValidationError(std::string(method) + " offset must not be negative, got " + std::to_string(o));
        (t.*Bind)(std::move(b), base + static_cast<uint64_t>(o), slot(argument(index, method, "index"), "buffer"));
      },
      nb::arg("buffer").none(), nb::arg("offset").none(), nb::arg("index").none(), nb::sig(sig), doc);
}

template <class Target> void def_compute_pipeline_state(nb::class_<Target>& cls, const char* doc) {
  cls.def(
      "set_compute_pipeline_state",
      [](Target& t, nb::handle pipeline) {
        t.setComputePipelineState(
            to_object<ComputePipelineState>(pipeline, "set_compute_pipeline_state(pipeline)", "ComputePipelineState"));
      },
      nb::arg("pipeline").none(), doc);
}

template <class Target> void def_threadgroup_memory_length(nb::class_<Target>& cls, const char* doc) {
  cls.def(
      "set_threadgroup_memory_length",
      [](Target& t, nb::handle length, nb::handle index) {
        t.setThreadgroupMemoryLength(
            non_negative(integer(length, "threadgroup memory length"), "threadgroup memory length"),
            slot(integer(index, "threadgroup memory index"), "threadgroup memory"));
      },
      nb::arg("length").none(), nb::arg("index").none(), doc);
}

// A dispatch (dispatch_threads, concurrent_dispatch_threadgroups, ...): `grid` names its first
// size, threads_per_grid or threadgroups_per_grid; each size an int or 1 to 3 of them.
template <auto Dispatch, class Target>
void def_dispatch(nb::class_<Target>& cls, const char* method, const char* grid, const char* doc) {
  const char* size = "tuple[int, int, int] | int";
  const std::string sig = std::string("def ") + method + "(self, " + grid + ": " + size +
                          ", threads_per_threadgroup: " + size + ") -> None";  // nanobind copies it
  cls.def(
      method,
      [grid](Target& t, nb::handle g, nb::handle tg) {
        (t.*Dispatch)(size3(g, grid), size3(tg, "threads_per_threadgroup"));
      },
      nb::arg(grid), nb::arg("threads_per_threadgroup"), nb::sig(sig.c_str()), doc);
}

// A command range: a Python range (step 1) or (location, length), Metal's NSRange.
std::pair<uint64_t, uint64_t> command_range(nb::handle r, const char* what) {
  if (PyRange_Check(r.ptr())) {
    long long start = integer(r.attr("start"), what), step = integer(r.attr("step"), what);
    long long stop = integer(r.attr("stop"), what);
    if (step != 1) throw ValidationError(std::string(what) + " needs a contiguous range (step 1)");
    if (start < 0) throw ValidationError(std::string(what) + ": the range starts at a negative index");
    return {static_cast<uint64_t>(start), stop > start ? static_cast<uint64_t>(stop - start) : 0};
  }
  if ((PyTuple_Check(r.ptr()) || PyList_Check(r.ptr())) && Py_SIZE(r.ptr()) == 2) {
    long long location = integer(tuple_or_list_item(r.ptr(), 0), what);
    long long length = integer(tuple_or_list_item(r.ptr(), 1), what);
    return {non_negative(location, "the range's location"), non_negative(length, "the range's length")};
  }
  throw ValidationTypeError(std::string(what) + " needs a range or a (location, length) pair, not " +
                            type_name(r.ptr()));
}

// An int property of an IndirectCommandBufferDescriptor, 0 to `most` (`expected` says which).
template <uint32_t IndirectCommandBufferDescriptor::* Field>
void def_descriptor_int(nb::class_<IndirectCommandBufferDescriptor>& cls, const char* name, long long most,
                        const char* expected, const char* doc) {
  cls.def_prop_rw(
      name, [](const IndirectCommandBufferDescriptor& d) { return d.*Field; },
      [name, most, expected](IndirectCommandBufferDescriptor& d, nb::handle v) {
        long long n = integer(v, name);
        if (n < 0 || n > most)
          throw ValidationError(std::string(name) + " must be " + expected + ", not " + std::to_string(n));
        d.*Field = static_cast<uint32_t>(n);
      },
      doc);
}

std::string descriptor_text(const IndirectCommandBufferDescriptor& d) {
  return "command_types=" + std::to_string(d.commandTypes) +
         ", inherit_pipeline_state=" + (d.inheritPipelineState ? "True" : "False") +
         ", inherit_buffers=" + (d.inheritBuffers ? "True" : "False") +
         ", max_kernel_buffer_bind_count=" + std::to_string(d.maxKernelBufferBindCount);
}

// The encoder is built in place inside its Python object: returned by value, nanobind would
// allocate the object, move a temporary encoder into it and destroy the temporary. If the
// constructor throws (a committed buffer), the object is released unconstructed.
nb::object new_compute_encoder(CommandBuffer& b) {
  static PyTypeObject* const type = reinterpret_cast<PyTypeObject*>(nb::type<ComputeCommandEncoder>().ptr());
  nb::object o = nb::inst_alloc(nb::handle(reinterpret_cast<PyObject*>(type)));
  new (nb::inst_ptr<ComputeCommandEncoder>(o)) ComputeCommandEncoder(b.shared_from_this());
  nb::inst_mark_ready(o);
  return o;
}

int status_code(CommandBufferStatus s) {
  if (s == CommandBufferStatus::Completed) return 1;
  if (s == CommandBufferStatus::Error) return -1;
  return 0;
}

}  // namespace

void init_commands(nb::module_& m) {
  m.def(
      "_buffer_wait_idle",
      [](std::shared_ptr<Buffer> buffer, nb::handle timeout) {
        if (!buffer) throw ValidationTypeError("expected a Buffer, got None");
        double limit = timeout.is_none() ? -1 : number(timeout, "timeout");
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        for (;;) {
          double slice = 0.05;
          if (limit >= 0)
            slice = std::max(0.0, std::min(slice, limit - std::chrono::duration<double>(clock::now() - start).count()));
          bool idle;
          {
            ReleaseGil release;
            idle = backend::wait_until_idle(buffer->impl(), slice);
          }
          if (idle) return true;
          if (PyErr_CheckSignals() != 0) throw nb::python_error();
          if (limit >= 0 && std::chrono::duration<double>(clock::now() - start).count() >= limit) return false;
        }
      },
      nb::arg("buffer").none(), nb::arg("timeout") = nb::none(),
      "Waits until no committed command buffer uses `buffer` (True), or `timeout` seconds passed (False).");

  m.def("_set_array_hook", [](nb::object hook) { array_hook() = hook; }, nb::arg("hook").none());
  nb::enum_<CommandBufferStatus>(m, "CommandBufferStatus",
                                 "Where a command buffer is in its life (Metal's MTLCommandBufferStatus).")
      .value("NOT_ENQUEUED", CommandBufferStatus::NotEnqueued)
      .value("ENQUEUED", CommandBufferStatus::Enqueued)
      .value("COMMITTED", CommandBufferStatus::Committed)
      .value("SCHEDULED", CommandBufferStatus::Scheduled)
      .value("COMPLETED", CommandBufferStatus::Completed)
      .value("ERROR", CommandBufferStatus::Error);

  nb::class_<CommandQueue>(m, "CommandQueue", "Runs command buffers in order (Metal's MTLCommandQueue).")
      .def(nb::new_([](nb::handle device) {
             return to_object<Device>(device, "CommandQueue(device)", "Device")->newCommandQueue();
           }),
           nb::arg("device").none())
      .def_prop_ro("device", &CommandQueue::device, "The device the queue runs on.")
      .def("make_command_buffer", &CommandQueue::commandBuffer, "A new command buffer on this queue.")
      .def("__repr__", [](const CommandQueue& q) { return "<pymetallic.CommandQueue on " + q.device()->name() + ">"; });

  nb::class_<CommandBuffer>(m, "CommandBuffer", "Recorded work, committed once (Metal's MTLCommandBuffer).")
      .def(nb::new_([](nb::handle queue) {
             return to_object<CommandQueue>(queue, "CommandBuffer(queue)", "CommandQueue")->commandBuffer();
           }),
           nb::arg("queue").none())
      .def_prop_ro("command_queue", &CommandBuffer::commandQueue, "The queue the command buffer runs on.")
      // The encoder is returned by value: it lives inside its Python object (no shared_ptr,
      // nothing for nanobind to keep alive beside it; C++ never holds an encoder).
      .def("make_compute_command_encoder", &new_compute_encoder,
           nb::sig("def make_compute_command_encoder(self) -> ComputeCommandEncoder"),
           "A new compute encoder (one at a time: end the last one first); raises ValidationError after commit.")
      .def("compute_command_encoder", &new_compute_encoder,
           nb::sig("def compute_command_encoder(self) -> ComputeCommandEncoder"),
           "The same as make_compute_command_encoder.")
      .def("make_blit_command_encoder", &CommandBuffer::blitCommandEncoder,
           "A new blit encoder for copies and fills; raises ValidationError after commit.")
      .def("blit_command_encoder", &CommandBuffer::blitCommandEncoder, "The same as make_blit_command_encoder.")
      .def(
          "encode_signal_event",
          [](CommandBuffer& b, std::shared_ptr<SharedEvent> event, long long value) {
            b.encodeSignalEvent(event, non_negative(value, "the event value"));
          },
          nb::arg("event").none(), nb::arg("value"),
          "The event takes `value` once every command encoded before this point has completed.")
      .def(
          "encode_wait_for_event",
          [](CommandBuffer& b, std::shared_ptr<SharedEvent> event, long long value) {
            b.encodeWaitForEvent(event, non_negative(value, "the event value"));
          },
          nb::arg("event").none(), nb::arg("value"),
          "Commands encoded after this point start once the event's value is >= `value`.")
      .def("commit", &CommandBuffer::commit,
           "Sends the recorded work to the queue; returns at once. Raises ValidationError when committed twice or "
           "while an encoder is open.")
      .def(
          "wait_until_completed",
          [](CommandBuffer& b, nb::handle timeout) {
            double limit = -1;  // none: wait for as long as it takes
            if (!timeout.is_none()) {
              limit = number(timeout, "wait_until_completed timeout");
              if (!(limit >= 0)) throw ValidationError("wait_until_completed timeout must be >= 0 seconds (or None)");
            }
            // In slices, without the GIL: between slices Ctrl-C (KeyboardInterrupt) gets through.
            // (The clock is read only for a timeout: a wait for as long as it takes needs none.)
            using clock = std::chrono::steady_clock;
            const auto start = limit >= 0 ? clock::now() : clock::time_point();
            for (;;) {
              double slice = 0.05;
              if (limit >= 0) {
                double left = limit - std::chrono::duration<double>(clock::now() - start).count();
                slice = std::max(0.0, std::min(slice, left));
              }
              bool done;
              {
                ReleaseGil release;
                done = b.waitUntilCompleted(slice);
              }
              if (done) return true;
              if (PyErr_CheckSignals() != 0) throw nb::python_error();
              if (limit >= 0 && std::chrono::duration<double>(clock::now() - start).count() >= limit) return false;
            }
          },
          nb::arg("timeout") = nb::none(),
          "Blocks (without holding the GIL) until the work is done; True when it is, False when "
          "`timeout` seconds passed first. Ctrl-C interrupts the wait (not the work).")
      .def(
          "get_status", [](const CommandBuffer& b) { return status_code(b.status()); },
          "1 completed, 0 in progress, -1 error")
      .def_prop_ro("status", &CommandBuffer::status,
                   "The CommandBufferStatus: not enqueued, committed, completed or error.")
      .def_prop_ro(
          "error",
          [](const CommandBuffer& b) -> nb::object {
            std::string e = b.error();
            if (e.empty()) return nb::none();
            std::vector<KernelFinding> f = b.findings();
            if (!f.empty()) return command_buffer_error(e, f);
            return nb::str(e.c_str());
          },
          "None, or the failure as a str; with validation findings, a CommandBufferError whose .findings lists them")
      .def_prop_ro(
          "findings", [](const CommandBuffer& b) { return findings_list(b.findings()); },
          "validation findings (the first few distinct ones) after completion")
      .def_prop_ro("findings_total", &CommandBuffer::findingsTotal, "every finding, including repeats at one site")
      .def_prop_ro("log_messages", &CommandBuffer::logMessages, "messages the kernels logged (os_log, printf)")
      .def_prop_ro("log_messages_dropped", &CommandBuffer::logMessagesDropped,
                   "messages that did not fit in the log buffer (PYMETALLIC_LOG_BUFFER_SIZE)")
      .def(
          "add_log_handler",
          [](CommandBuffer& b, nb::callable fn) {
            auto keep = hold_python(nb::object(fn));
            b.addLogHandler([keep](const KernelLogMessage& m) {
              call_python("pymetallic log handler", [&] { (*keep)(nb::cast(m)); });
            });
          },
          nb::arg("handler"), "handler(message: KernelLogMessage), called after completion instead of logging")
      .def("__repr__",
           [](const CommandBuffer& b) {
             static const char* names[] = {"not enqueued", "enqueued", "committed", "scheduled", "completed", "error"};
             return std::string("<pymetallic.CommandBuffer ") + names[static_cast<int>(b.status())] + ", on " +
                    b.commandQueue()->device()->name() + ">";
           })
      .def_prop_ro("gpu_start_time", &CommandBuffer::gpuStartTime,
                   "When the work started on the device, in seconds (0 until completed).")
      .def_prop_ro("gpu_end_time", &CommandBuffer::gpuEndTime,
                   "When the work finished on the device, in seconds (0 until completed).")
      .def(
          "add_completed_handler",
          [](CommandBuffer& b, nb::callable fn) {
            // Handlers are called (and later destroyed) on the handler thread: through
            // PythonCall, which holds the GIL and stops them once the interpreter is exiting.
            auto keep = hold_python(nb::object(fn));
            b.addCompletedHandler([keep](CommandBuffer& done) {
              call_python("pymetallic completed handler", [&] { (*keep)(nb::cast(done.shared_from_this())); });
            });
          },
          "Calls fn(command_buffer) once the work has finished (from another thread). Raises ValidationError after "
          "commit.");

  auto encoder =
      nb::class_<ComputeCommandEncoder>(m, "ComputeCommandEncoder",
                                        "Records dispatches (MTLComputeCommandEncoder)."
#if NB_VERSION_MAJOR > 3 || (NB_VERSION_MAJOR == 3 && NB_VERSION_MINOR >= 1)
                                        // One made per dispatch in the usual pattern: freed objects are kept
                                        // for reuse (no allocation, no registration in nanobind's instance map).
                                        ,
                                        nb::pooled()
#endif
      );
  def_compute_pipeline_state(encoder, "The kernel the following dispatches run.");
  def_buffer_binding<&ComputeCommandEncoder::setBuffer>(
      encoder, "set_buffer", "def set_buffer(self, buffer: Buffer | object | None, offset: int, index: int) -> None",
      "Binds ``buffer`` (a Buffer, or any DLPack/CUDA-array-interface array on this device, used in\n"
      "place) to ``[[buffer(index)]]`` from ``offset`` bytes. Raises ValidationError for a negative\n"
      "offset, an index past the 31 buffer slots or an array on another device.");
  def_threadgroup_memory_length(encoder,
                                "Bytes of [[threadgroup(index)]] memory each threadgroup gets. Raises ValidationError "
                                "past the device's max_threadgroup_memory_length.");
  def_dispatch<&ComputeCommandEncoder::dispatchThreads>(
      encoder, "dispatch_threads", "threads_per_grid",
      "Runs the pipeline over ``threads_per_grid`` threads (1 to 3 dimensions, an int or a tuple),\n"
      "``threads_per_threadgroup`` threads per group; partial groups at the edges are allowed.\n"
      "Raises ValidationError for a zero or negative size or a group over the pipeline's\n"
      "max_total_threads_per_threadgroup.");
  def_dispatch<&ComputeCommandEncoder::dispatchThreadgroups>(
      encoder, "dispatch_threadgroups", "threadgroups_per_grid",
      "Runs ``threadgroups_per_grid`` whole threadgroups (counted in groups, not threads) of\n"
      "``threads_per_threadgroup`` threads each. Raises ValidationError as ``dispatch_threads``.");
  encoder
      .def(
          "use_resource",
          [](ComputeCommandEncoder& e, std::shared_ptr<Buffer> buffer, long long usage) {
            e.useResource(buffer, static_cast<uint32_t>(non_negative(usage, "usage")));
          },
          nb::arg("buffer").none(), nb::arg("usage") = 3,
          "A buffer the following dispatches reach through an argument buffer (1 read, 2 write, 3 both).")
      .def(
          "set_buffer_offset",
          [](ComputeCommandEncoder& e, long long offset, long long index) {
            e.setBufferOffset(non_negative(offset, "offset"), slot(index, "buffer"));
          },
          nb::arg("offset"), nb::arg("index"),
          "Moves the offset (bytes) of the buffer bound at index. Raises ValidationError for a negative offset or an "
          "index without a buffer.")
      .def(
          "set_bytes",
          [](ComputeCommandEncoder& e, nb::handle data, nb::handle index_object) {
            long long index = integer(index_object, "set_bytes index");
            // Anything with contiguous bytes: NumPy scalars and arrays, bytes, memoryviews.
            // Plain Python numbers are refused: their C type would be a guess.
            if (PyFloat_Check(data.ptr()) || PyLong_Check(data.ptr()) || PyBool_Check(data.ptr()))
              throw ValidationError(
                  "set_bytes needs a typed value: pass a NumPy scalar or array such as np.float32(2.0) or "
                  "np.uint32(7), so the kernel sees the type it expects");
            Py_buffer view;
            if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
              PyErr_Clear();
              throw ValidationTypeError("set_bytes needs a NumPy scalar or array, bytes or a memoryview");
            }
            try {
              e.setBytes(view.buf, static_cast<uint64_t>(view.len), slot(index, "buffer"));
            } catch (...) {
              PyBuffer_Release(&view);
              throw;
            }
            PyBuffer_Release(&view);
          },
          nb::arg("data").none(), nb::arg("index").none(),
          nb::sig("def set_bytes(self, data: numpy.generic | numpy.ndarray | bytes | memoryview, index: int) -> None"),
          "Raises ValidationError for a plain Python number (its C type would be a guess), TypeError for\n"
          "an object without contiguous bytes.\n\n"
          "Copies a small struct or scalar (<= 4 KB) for a `constant T&` argument.")
      .def(
          "dispatch_threadgroups_with_indirect_buffer",
          [](ComputeCommandEncoder& e, std::shared_ptr<Buffer> indirect, long long offset, nb::handle tg) {
            e.dispatchThreadgroupsWithIndirectBuffer(indirect, non_negative(offset, "indirect buffer offset"),
                                                     size3(tg, "threads_per_threadgroup"));
          },
          nb::arg("indirect_buffer").none(), nb::arg("indirect_buffer_offset"), nb::arg("threads_per_threadgroup"),
          nb::sig("def dispatch_threadgroups_with_indirect_buffer(self, indirect_buffer: Buffer, "
                  "indirect_buffer_offset: int, threads_per_threadgroup: tuple[int, int, int] | int) -> None"),
          "Threadgroup counts (three uints) read from a buffer when the command runs.")
      .def(
          "execute_commands_in_buffer",
          [](ComputeCommandEncoder& e, nb::handle icb, nb::handle range) {
            auto [location, length] = command_range(range, "execute_commands_in_buffer");
            e.executeCommandsInBuffer(
                to_object<IndirectCommandBuffer>(icb, "execute_commands_in_buffer(icb)", "IndirectCommandBuffer"),
                location, length);
          },
          nb::arg("indirect_command_buffer").none(), nb::arg("execution_range"),
          nb::sig("def execute_commands_in_buffer(self, indirect_command_buffer: IndirectCommandBuffer, "
                  "execution_range: range | tuple[int, int]) -> None"),
          "Runs the commands of ``execution_range`` (a ``range`` or ``(location, length)``) of an\n"
          "indirect command buffer here, in order (Metal's executeCommandsInBuffer:withRange:). Empty\n"
          "(reset) commands are skipped; the others are checked as direct dispatches are, and read\n"
          "now: changing the ICB later affects later executions only. Raises ValidationError for a\n"
          "range outside the ICB or a command that cannot run (no pipeline, an unbound argument).")
      .def("end_encoding", &ComputeCommandEncoder::endEncoding,
           "Ends recording; the command buffer may then be committed.")
      .def_prop_ro("command_buffer", &ComputeCommandEncoder::commandBuffer,
                   "The command buffer the encoder records into.")
      .def("__repr__", [](const ComputeCommandEncoder& e) {
        return "<pymetallic.ComputeCommandEncoder on " + e.commandBuffer()->commandQueue()->device()->name() + ">";
      });

  auto descriptor = nb::class_<IndirectCommandBufferDescriptor>(
      m, "IndirectCommandBufferDescriptor",
      "How an indirect command buffer is made (Metal's MTLIndirectCommandBufferDescriptor): the\n"
      "command types it holds, whether its commands inherit the executing encoder's pipeline and\n"
      "buffers, and how many buffer slots each command may bind.");
  def_descriptor_int<&IndirectCommandBufferDescriptor::commandTypes>(
      descriptor, "command_types", 0xffffffffll, "IndirectCommandType bits",
      "IndirectCommandType bits: CONCURRENT_DISPATCH (concurrent_dispatch_threadgroups) and/or\n"
      "CONCURRENT_DISPATCH_THREADS (concurrent_dispatch_threads).");
  def_descriptor_int<&IndirectCommandBufferDescriptor::maxKernelBufferBindCount>(
      descriptor, "max_kernel_buffer_bind_count", 31, "0 to 31",
      "Buffer indices each command may bind: 0 to this count - 1.");
  descriptor.def(nb::init<>())
      .def_rw("inherit_pipeline_state", &IndirectCommandBufferDescriptor::inheritPipelineState,
              "True: commands run the executing encoder's pipeline (and may not set their own).")
      .def_rw("inherit_buffers", &IndirectCommandBufferDescriptor::inheritBuffers,
              "True: commands use the executing encoder's buffers and set_bytes data (and may not set their own).")
      .def("__repr__", [](const IndirectCommandBufferDescriptor& d) {
        return "<pymetallic.IndirectCommandBufferDescriptor " + descriptor_text(d) + ">";
      });

  auto command_at = [](IndirectCommandBuffer& b, nb::handle index) {
    return IndirectComputeCommand(b.shared_from_this(), non_negative(integer(index, "command index"), "command index"));
  };
  nb::class_<IndirectCommandBuffer>(
      m, "IndirectCommandBuffer",
      "Compute commands recorded once and executed by any number of compute encoders (Metal's\n"
      "MTLIndirectCommandBuffer). Make one with ``device.new_indirect_command_buffer``.")
      .def_prop_ro("size", &IndirectCommandBuffer::size, "How many commands it holds (max_command_count).")
      .def_prop_ro("device", &IndirectCommandBuffer::device, "The device it was made for.")
      .def_prop_ro(
          "descriptor", [](const IndirectCommandBuffer& b) { return b.descriptor(); },
          "A copy of the descriptor it was made with.")
      .def("indirect_compute_command", command_at, nb::arg("index"),
           "Command ``index`` (Metal's indirectComputeCommandAtIndex:); raises ValidationError past ``size``.")
      .def("indirect_compute_command_at_index", command_at, nb::arg("index"),
           "The same as ``indirect_compute_command``.")
      .def(
          "reset",
          [](IndirectCommandBuffer& b, nb::handle range) {
            auto [location, length] = command_range(range, "reset");
            b.reset(location, length);
          },
          nb::arg("range"), nb::sig("def reset(self, range: range | tuple[int, int]) -> None"),
          "Empties the commands of ``range`` (a ``range`` or ``(location, length)``): executions skip them.")
      .def("__len__", &IndirectCommandBuffer::size)
      .def("__repr__", [](const IndirectCommandBuffer& b) {
        return "<pymetallic.IndirectCommandBuffer " + std::to_string(b.size()) + " commands, " +
               descriptor_text(b.descriptor()) + ", on " + b.device()->name() + ">";
      });

  auto command = nb::class_<IndirectComputeCommand>(
      m, "IndirectComputeCommand",
      "One command of an indirect command buffer (Metal's MTLIndirectComputeCommand): a pipeline,\n"
      "buffers, threadgroup memory and a dispatch, kept until changed or reset. There is no\n"
      "set_bytes: put parameters in a small buffer.");
  def_compute_pipeline_state(command,
                             "The kernel the command runs; the pipeline must have been made with\n"
                             "support_indirect_command_buffers=True (ValidationError otherwise, as on Metal).");
  def_buffer_binding<&IndirectComputeCommand::setKernelBuffer>(
      command, "set_kernel_buffer", "def set_kernel_buffer(self, buffer: Buffer, offset: int, index: int) -> None",
      "Binds ``buffer`` from ``offset`` bytes to ``[[buffer(index)]]``; ``index`` must be below the\n"
      "descriptor's max_kernel_buffer_bind_count. The command keeps the buffer alive. Raises\n"
      "ValidationError as the encoder's ``set_buffer`` (which also takes arrays; this takes Buffers).");
  def_threadgroup_memory_length(command,
                                "Bytes of [[threadgroup(index)]] memory each threadgroup gets. Raises ValidationError "
                                "past the device's max_threadgroup_memory_length.");
  def_dispatch<&IndirectComputeCommand::concurrentDispatchThreadgroups>(
      command, "concurrent_dispatch_threadgroups", "threadgroups_per_grid",
      "The command dispatches whole threadgroups, as ``dispatch_threadgroups`` (needs\n"
      "IndirectCommandType.CONCURRENT_DISPATCH).");
  def_dispatch<&IndirectComputeCommand::concurrentDispatchThreads>(
      command, "concurrent_dispatch_threads", "threads_per_grid",
      "The command dispatches exactly ``threads_per_grid`` threads, as ``dispatch_threads`` (needs\n"
      "IndirectCommandType.CONCURRENT_DISPATCH_THREADS).");
  command.def_prop_ro("index", &IndirectComputeCommand::index, "Its index in the indirect command buffer.")
      .def_prop_ro("indirect_command_buffer", &IndirectComputeCommand::indirectCommandBuffer,
                   "The indirect command buffer it belongs to.")
      .def("set_barrier", &IndirectComputeCommand::setBarrier,
           "The command starts only after the commands before it finish (here commands always run in\n"
           "order, so this always holds).")
      .def("clear_barrier", &IndirectComputeCommand::clearBarrier, "Removes the command's barrier.")
      .def_prop_ro(
          "has_barrier",
          [](const IndirectComputeCommand& c) { return c.indirectCommandBuffer()->hasBarrier(c.index()); },
          "Whether set_barrier was called (and not cleared or reset since).")
      .def_prop_ro(
          "is_empty", [](const IndirectComputeCommand& c) { return c.indirectCommandBuffer()->isEmpty(c.index()); },
          "True when the command has no dispatch (reset, or never encoded): executions skip it.")
      .def("reset", &IndirectComputeCommand::reset,
           "Empties the command: executions skip it until it is encoded again.")
      .def("__repr__", [](const IndirectComputeCommand& c) {
        const auto& icb = *c.indirectCommandBuffer();
        return "<pymetallic.IndirectComputeCommand " + std::to_string(c.index()) + " of " + std::to_string(icb.size()) +
               (icb.isEmpty(c.index()) ? ", empty" : "") + ", on " + icb.device()->name() + ">";
      });

  nb::class_<BlitCommandEncoder>(m, "BlitCommandEncoder", "Records copies and fills (MTLBlitCommandEncoder).")
      .def(
          "copy_from_buffer",
          [](BlitCommandEncoder& e, std::shared_ptr<Buffer> src, long long src_offset, std::shared_ptr<Buffer> dst,
             long long dst_offset, long long size) {
            e.copyFromBuffer(src, non_negative(src_offset, "source_offset"), dst,
                             non_negative(dst_offset, "destination_offset"), non_negative(size, "size"));
          },
          nb::arg("source_buffer").none(), nb::arg("source_offset"), nb::arg("dest_buffer").none(),
          nb::arg("dest_offset"), nb::arg("size"),
          "Copies size bytes from source at source_offset to destination at destination_offset (all in bytes). Raises "
          "ValidationError for a range outside either buffer.")
      .def(
          "_fill_buffer",
          [](BlitCommandEncoder& e, std::shared_ptr<Buffer> buffer, long long start, long long length, int value) {
            if (value < 0 || value > 255) throw ValidationError("fill_buffer value must be a byte (0 to 255)");
            e.fillBuffer(buffer, non_negative(start, "start"), non_negative(length, "length"),
                         static_cast<uint8_t>(value));
          },
          nb::arg("buffer").none(), nb::arg("start"), nb::arg("length"), nb::arg("value"))
      .def("synchronize_resource", &BlitCommandEncoder::synchronizeResource, nb::arg("buffer").none(),
           "Makes a managed buffer's device writes visible to the host after the command buffer completes.")
      .def("end_encoding", &BlitCommandEncoder::endEncoding, "Ends recording.")
      .def("__repr__", [](const BlitCommandEncoder&) { return std::string("<pymetallic.BlitCommandEncoder>"); });
}

}  // namespace pymetallic_bindings
