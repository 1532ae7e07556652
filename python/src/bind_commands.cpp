#include <nanobind/stl/function.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/array.h>

#include "bindings.h"
#include "metallic/metallic.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {

// (w, h, d), (w, h), (w,) or w: Metal's MTLSize, missing dimensions are 1. Read with the
// C API: this runs twice per dispatch, and nanobind's generic conversions cost ~1 us here.
Size3 size3(nb::handle value, const char* what) {
  uint64_t dims[3] = {1, 1, 1};
  auto component = [&](PyObject* v, int i) {
    if (!PyLong_Check(v) && !PyIndex_Check(v))
      throw nb::type_error((std::string(what) + " must hold ints").c_str());
    long long n = PyLong_Check(v) ? PyLong_AsLongLong(v) : -1;
    if (!PyLong_Check(v)) {
      nb::object as_int = nb::steal(PyNumber_Index(v));
      if (!as_int.is_valid()) throw nb::python_error();
      n = PyLong_AsLongLong(as_int.ptr());
    }
    if (n == -1 && PyErr_Occurred()) throw nb::python_error();
    if (n < 0) throw nb::value_error((std::string(what) + " has a negative dimension: " + std::to_string(n)).c_str());
    dims[i] = static_cast<uint64_t>(n);
  };
  PyObject* obj = value.ptr();
  if (PyLong_Check(obj)) {
    component(obj, 0);
  } else if (PyTuple_Check(obj) || PyList_Check(obj)) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
    if (n < 1 || n > 3) throw nb::value_error((std::string(what) + " must have 1 to 3 dimensions").c_str());
    for (Py_ssize_t i = 0; i < n; ++i) component(PySequence_Fast_GET_ITEM(obj, i), static_cast<int>(i));
  } else {
    if (!nb::isinstance<nb::sequence>(value))
      throw nb::type_error((std::string(what) + " must be a tuple of 1 to 3 ints").c_str());
    nb::sequence seq = nb::borrow<nb::sequence>(value);
    size_t n = nb::len(seq);
    if (n < 1 || n > 3) throw nb::value_error((std::string(what) + " must have 1 to 3 dimensions").c_str());
    for (size_t i = 0; i < n; ++i) component(nb::object(seq[i]).ptr(), static_cast<int>(i));
  }
  return {dims[0], dims[1], dims[2]};
}

uint32_t slot(long long index, const char* what) {
  if (index < 0 || index > 30)
    throw nb::value_error((std::string(what) + " index " + std::to_string(index) +
                           " is out of range: Metal has 31 slots, 0 to 30")
                              .c_str());
  return static_cast<uint32_t>(index);
}

uint64_t non_negative(long long v, const char* what) {
  if (v < 0) throw nb::value_error((std::string(what) + " must not be negative, got " + std::to_string(v)).c_str());
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
  std::shared_ptr<Buffer> b;
  if (nb::try_cast<std::shared_ptr<Buffer>>(obj, b)) return {b, 0};
  if (!array_hook().is_valid() || array_hook().is_none())
    throw nb::type_error("expected a pymetallic.Buffer");
  nb::tuple r = nb::borrow<nb::tuple>(array_hook()(obj, nb::cast(device)));
  return {nb::cast<std::shared_ptr<Buffer>>(r[0]), nb::cast<uint64_t>(r[1])};
}

int status_code(CommandBufferStatus s) {
  if (s == CommandBufferStatus::Completed) return 1;
  if (s == CommandBufferStatus::Error) return -1;
  return 0;
}

}  // namespace

void init_commands(nb::module_& m) {
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
      .def(nb::new_([](std::shared_ptr<Device> device) {
             if (!device) throw nb::type_error("CommandQueue needs a Device");
             return device->newCommandQueue();
           }),
           nb::arg("device"))
      .def_prop_ro("device", &CommandQueue::device, "The device the queue runs on.")
      .def("make_command_buffer", &CommandQueue::commandBuffer, "A new command buffer on this queue.");

  nb::class_<CommandBuffer>(m, "CommandBuffer", "Recorded work, committed once (Metal's MTLCommandBuffer).")
      .def(nb::new_([](std::shared_ptr<CommandQueue> queue) {
             if (!queue) throw nb::type_error("CommandBuffer needs a CommandQueue");
             return queue->commandBuffer();
           }),
           nb::arg("queue"))
      .def_prop_ro("command_queue", &CommandBuffer::commandQueue, "The queue the command buffer runs on.")
      .def("make_compute_command_encoder", &CommandBuffer::computeCommandEncoder, "A new compute encoder (one at a time: end the last one first); raises ValidationError after commit.")
      .def("compute_command_encoder", &CommandBuffer::computeCommandEncoder, "The same as make_compute_command_encoder.")
      .def("make_blit_command_encoder", &CommandBuffer::blitCommandEncoder, "A new blit encoder for copies and fills; raises ValidationError after commit.")
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
      .def("commit", &CommandBuffer::commit, "Sends the recorded work to the queue; returns at once. Raises ValidationError when committed twice or while an encoder is open.")
      .def(
          "wait_until_completed",
          [](CommandBuffer& b) {
            {
              nb::gil_scoped_release release;
              b.waitUntilCompleted();
            }
          },
          "Blocks (without holding the GIL) until the work is done.")
      .def("get_status", [](const CommandBuffer& b) { return status_code(b.status()); },
           "1 completed, 0 in progress, -1 error")
      .def_prop_ro("status", &CommandBuffer::status, "The CommandBufferStatus: not enqueued, committed, completed or error.")
      .def_prop_ro("error", [](const CommandBuffer& b) -> nb::object {
        std::string e = b.error();
        if (e.empty()) return nb::none();
        std::vector<KernelFinding> f = b.findings();
        if (!f.empty()) return command_buffer_error(e, f);
        return nb::str(e.c_str());
      }, "None, or the failure as a str; with validation findings, a CommandBufferError whose .findings lists them")
      .def_prop_ro("findings", [](const CommandBuffer& b) { return findings_list(b.findings()); },
                   "validation findings (the first few distinct ones) after completion")
      .def_prop_ro("findings_total", &CommandBuffer::findingsTotal, "every finding, including repeats at one site")
      .def_prop_ro("log_messages", &CommandBuffer::logMessages, "messages the kernels logged (os_log, printf)")
      .def_prop_ro("log_messages_dropped", &CommandBuffer::logMessagesDropped,
                   "messages that did not fit in the log buffer (PYMETALLIC_LOG_BUFFER_SIZE)")
      .def("add_log_handler", [](CommandBuffer& b, nb::callable fn) {
        std::shared_ptr<nb::object> keep(new nb::object(fn), [](nb::object* o) {
          nb::gil_scoped_acquire gil;
          delete o;
        });
        b.addLogHandler([keep](const KernelLogMessage& m) {
          nb::gil_scoped_acquire gil;
          try {
            (*keep)(nb::cast(m));
          } catch (nb::python_error& e) {
            e.discard_as_unraisable("pymetallic log handler");
          }
        });
      }, nb::arg("handler"), "handler(message: KernelLogMessage), called after completion instead of logging")
      .def_prop_ro("gpu_start_time", &CommandBuffer::gpuStartTime, "When the work started on the device, in seconds (0 until completed).")
      .def_prop_ro("gpu_end_time", &CommandBuffer::gpuEndTime, "When the work finished on the device, in seconds (0 until completed).")
      .def("add_completed_handler", [](CommandBuffer& b, nb::callable fn) {
        // The executor calls (and later destroys) handlers on its own thread: the GIL must be
        // held there both to call the function and to drop the last reference to it.
        std::shared_ptr<nb::object> keep(new nb::object(fn), [](nb::object* o) {
          nb::gil_scoped_acquire gil;
          delete o;
        });
        b.addCompletedHandler([keep](CommandBuffer& done) {
          nb::gil_scoped_acquire gil;
          try {
            (*keep)(nb::cast(done.shared_from_this()));
          } catch (nb::python_error& e) {
            e.discard_as_unraisable("pymetallic completed handler");
          }
        });
      }, "Calls fn(command_buffer) once the work has finished (from another thread). Raises ValidationError after commit.");

  nb::class_<ComputeCommandEncoder>(m, "ComputeCommandEncoder", "Records dispatches (MTLComputeCommandEncoder).")
      .def("set_compute_pipeline_state", &ComputeCommandEncoder::setComputePipelineState, nb::arg("pipeline"), "The kernel the following dispatches run.")
      .def(
          "set_buffer",
          [](ComputeCommandEncoder& e, nb::handle buffer, long long offset, long long index) {
            // A pymetallic Buffer, or any array on the encoder's device (wrapped in place; the
            // command buffer holds it until its work is done).
            auto [b, base] = as_buffer(buffer, e.commandBuffer()->commandQueue()->device());
            e.setBuffer(b, base + non_negative(offset, "set_buffer offset"), slot(index, "buffer"));
          },
          nb::arg("buffer").none(), nb::arg("offset"), nb::arg("index"),
          nb::sig("def set_buffer(self, buffer: Buffer | object | None, offset: int, index: int) -> None"),
          "Binds ``buffer`` (a Buffer, or any DLPack/CUDA-array-interface array on this device, used in\n"
          "place) to ``[[buffer(index)]]`` from ``offset`` bytes. Raises ValidationError for a negative\n"
          "offset, an index past the 31 buffer slots or an array on another device.")
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
          nb::arg("offset"), nb::arg("index"), "Moves the offset (bytes) of the buffer bound at index. Raises ValidationError for a negative offset or an index without a buffer.")
      .def(
          "set_bytes",
          [](ComputeCommandEncoder& e, nb::handle data, long long index) {
            // Anything with contiguous bytes: NumPy scalars and arrays, bytes, memoryviews.
            // Plain Python numbers are refused: their C type would be a guess.
            if (PyFloat_Check(data.ptr()) || PyLong_Check(data.ptr()) || PyBool_Check(data.ptr()))
              throw ValidationError(
                  "set_bytes needs a typed value: pass a NumPy scalar or array such as np.float32(2.0) or "
                  "np.uint32(7), so the kernel sees the type it expects");
            Py_buffer view;
            if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
              PyErr_Clear();
              throw nb::type_error("set_bytes needs a NumPy scalar or array, bytes or a memoryview");
            }
            try {
              e.setBytes(view.buf, static_cast<uint64_t>(view.len), slot(index, "buffer"));
            } catch (...) {
              PyBuffer_Release(&view);
              throw;
            }
            PyBuffer_Release(&view);
          },
          nb::arg("data"), nb::arg("index"),
          nb::sig("def set_bytes(self, data: numpy.generic | numpy.ndarray | bytes | memoryview, index: int) -> None"),
          "Raises ValidationError for a plain Python number (its C type would be a guess), TypeError for\n"
          "an object without contiguous bytes.\n\n"
          "Copies a small struct or scalar (<= 4 KB) for a `constant T&` argument.")
      .def(
          "set_threadgroup_memory_length",
          [](ComputeCommandEncoder& e, long long length, long long index) {
            e.setThreadgroupMemoryLength(non_negative(length, "threadgroup memory length"),
                                         slot(index, "threadgroup memory"));
          },
          nb::arg("length"), nb::arg("index"), "Bytes of [[threadgroup(index)]] memory each threadgroup gets. Raises ValidationError past the device's max_threadgroup_memory_length.")
      .def(
          "dispatch_threads",
          [](ComputeCommandEncoder& e, nb::handle grid, nb::handle tg) {
            e.dispatchThreads(size3(grid, "threads_per_grid"), size3(tg, "threads_per_threadgroup"));
          },
          nb::arg("threads_per_grid"), nb::arg("threads_per_threadgroup"),
          nb::sig("def dispatch_threads(self, threads_per_grid: tuple[int, int, int] | int, "
                  "threads_per_threadgroup: tuple[int, int, int] | int) -> None"),
          "Runs the pipeline over ``threads_per_grid`` threads (1 to 3 dimensions, an int or a tuple),\n"
          "``threads_per_threadgroup`` threads per group; partial groups at the edges are allowed.\n"
          "Raises ValidationError for a zero or negative size or a group over the pipeline's\n"
          "max_total_threads_per_threadgroup.")
      .def(
          "dispatch_threadgroups",
          [](ComputeCommandEncoder& e, nb::handle groups, nb::handle tg) {
            e.dispatchThreadgroups(size3(groups, "threadgroups_per_grid"), size3(tg, "threads_per_threadgroup"));
          },
          nb::arg("threadgroups_per_grid"), nb::arg("threads_per_threadgroup"),
          nb::sig("def dispatch_threadgroups(self, threadgroups_per_grid: tuple[int, int, int] | int, "
                  "threads_per_threadgroup: tuple[int, int, int] | int) -> None"),
          "Runs ``threadgroups_per_grid`` whole threadgroups (counted in groups, not threads) of\n"
          "``threads_per_threadgroup`` threads each. Raises ValidationError as ``dispatch_threads``.")
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
      .def("end_encoding", &ComputeCommandEncoder::endEncoding, "Ends recording; the command buffer may then be committed.")
      .def_prop_ro("command_buffer", &ComputeCommandEncoder::commandBuffer, "The command buffer the encoder records into.");

  nb::class_<BlitCommandEncoder>(m, "BlitCommandEncoder", "Records copies and fills (MTLBlitCommandEncoder).")
      .def(
          "copy_from_buffer",
          [](BlitCommandEncoder& e, std::shared_ptr<Buffer> src, long long src_offset, std::shared_ptr<Buffer> dst,
             long long dst_offset, long long size) {
            e.copyFromBuffer(src, non_negative(src_offset, "source_offset"), dst,
                             non_negative(dst_offset, "destination_offset"), non_negative(size, "size"));
          },
          nb::arg("source_buffer").none(), nb::arg("source_offset"), nb::arg("dest_buffer").none(),
          nb::arg("dest_offset"), nb::arg("size"), "Copies size bytes from source at source_offset to destination at destination_offset (all in bytes). Raises ValidationError for a range outside either buffer.")
      .def(
          "_fill_buffer",
          [](BlitCommandEncoder& e, std::shared_ptr<Buffer> buffer, long long start, long long length, int value) {
            if (value < 0 || value > 255) throw nb::value_error("fill_buffer value must be a byte (0 to 255)");
            e.fillBuffer(buffer, non_negative(start, "start"), non_negative(length, "length"),
                         static_cast<uint8_t>(value));
          },
          nb::arg("buffer").none(), nb::arg("start"), nb::arg("length"), nb::arg("value"))
      .def("synchronize_resource", &BlitCommandEncoder::synchronizeResource, nb::arg("buffer").none(), "Makes a managed buffer's device writes visible to the host after the command buffer completes.")
      .def("end_encoding", &BlitCommandEncoder::endEncoding, "Ends recording.");
}

}  // namespace pymetallic_bindings
