// The conveniences of the original pymetallic API that are written in Python (NumPy
// conversions, DLPack, textures from arrays) are declared here, on the native classes, with
// their signatures and docstrings: the classes are complete as bound, the stub generator sees
// every method, and the Python modules only implement them (they attach nothing).
#include <nanobind/nanobind.h>

#include <initializer_list>

#include "bindings.h"
#include "metallic/metallic.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

namespace {
// A Python function, looked up at each call (its module imports this one). Not kept: a
// reference held past interpreter shutdown would keep the classes alive, and nanobind
// reports them as leaked.
struct PyImpl {
  const char* module;
  const char* name;
  nb::object get() const { return nb::module_::import_(module).attr(name); }
};

// How a member is attached: a method, a class method (the implementation receives the class
// first, as Python's classmethod does) or a read-only property.
enum Kind { method, class_method, property };

// One member of a bound class, implemented by function `function` of Python module `module`;
// `sig` is its Python signature for the stub generator.
struct Member {
  Kind kind;
  const char* name;
  const char* module;
  const char* function;
  const char* sig;
  const char* doc;
};

template <typename T> void attach(nb::module_& m, const char* class_name, std::initializer_list<Member> members) {
  auto cls = nb::borrow<nb::class_<T>>(m.attr(class_name));
  for (const Member& member : members) {
    PyImpl* f = new PyImpl{member.module, member.function};
    switch (member.kind) {
      case method:
        cls.def(
            member.name, [f](nb::args args, nb::kwargs kwargs) { return f->get()(*args, **kwargs); },
            nb::sig(member.sig), member.doc);
        break;
      case class_method:
        cls.def_static(
            member.name, [f](nb::args args, nb::kwargs kwargs) { return f->get()(nb::type<T>(), *args, **kwargs); },
            nb::sig(member.sig), member.doc);
        break;
      case property:
        cls.def_prop_ro(member.name, [f](nb::handle self) { return f->get()(self); }, nb::sig(member.sig), member.doc);
        break;
    }
  }
}

}  // namespace

void init_python_methods(nb::module_& m) {
  const char* api = "pymetallic._api";
  const char* interop = "pymetallic.interop";
  const char* texture = "pymetallic.texture";
  const char* calls = "pymetallic.calls";
  const char* multi = "pymetallic.multi";
  attach<Library>(
      m, "Library",
      {
          {method, "__getattr__", calls, "_library_getattr", "def __getattr__(self, name: str) -> typing.Any",
           "``library.kernel_name``: the kernel as a callable (``pymetallic.calls.KernelCall``).\n"
           "Raises AttributeError for a name that is no kernel of the library."},
      });
  attach<ComputePipelineState>(
      m, "ComputePipelineState",
      {
          {method, "__call__", calls, "_pipeline_call",
           "def __call__(self, *args: object, **kwargs: object) -> CommandBuffer",
           "Runs the kernel as ``pymetallic.calls.KernelCall`` does: buffer arguments in order (arrays\n"
           "or Buffers), ``threads=`` (threads) and ``group_size=`` (threads per group); waits unless\n"
           "``wait=False``. Raises TypeError for missing or extra arguments, MetalError when it fails."},
      });
  attach<SharedEvent>(
      m, "SharedEvent",
      {
          {method, "notify_listener", multi, "_notify_listener",
           "def notify_listener(self, value: int, callback: collections.abc.Callable[[SharedEvent, int], object]) "
           "-> threading.Thread",
           "Calls ``callback(event, value)`` on a background (daemon) thread once ``signaled_value``\n"
           "reaches ``value`` (Metal's notifyListener:atValue:block:); returns the thread.\n"
           "Raises ValueError for a negative value, TypeError for a callback that is not callable."},
      });
  attach<Buffer>(
      m, "Buffer",
      {
          {class_method, "from_numpy", api, "_buffer_from_numpy",
           "def from_numpy(device: Device, array: numpy.typing.ArrayLike, storage_mode: int | None = None, /) "
           "-> Buffer",
           "A new buffer holding a copy of ``array`` (made C-contiguous first); its size in bytes is\n"
           "``array.nbytes``, and its dtype and shape are remembered for ``__dlpack__``.\n\n"
           "Raises ValidationError for an empty array or ``STORAGE_PRIVATE`` (the CPU cannot fill a\n"
           "private buffer: use ``async_buffer_from_numpy``), DeviceError when memory runs out."},
          {method, "to_numpy", api, "_buffer_to_numpy",
           "def to_numpy(self, dtype: numpy.typing.DTypeLike, shape: int | tuple[int, ...] | None = None, /) "
           "-> numpy.ndarray",
           "A NumPy **view** of the contents as ``dtype`` items (writes through it are seen by later\n"
           "kernels); ``shape`` in items, default one dimension of every whole item.\n\n"
           "Raises MetalError when the size in bytes is not a whole number of items or ``shape`` does\n"
           "not hold exactly the buffer's items."},
          {method, "contents", api, "_buffer_contents", "def contents(self) -> memoryview",
           "The contents as a writable memoryview of bytes (the buffer protocol); raises MetalError for\n"
           "a private buffer."},
          {method, "_typed_view", interop, "_buffer_typed_view", "def _typed_view(self) -> object",
           "The buffer as the array it was made from (dtype and shape kept), else as bytes."},
          {method, "view", interop, "_buffer_view",
           "def view(self, dtype: numpy.typing.DTypeLike, shape: int | tuple[int, ...] | None = None, "
           "strides: tuple[int, ...] | None = None, offset: int = 0) -> typing.Any",
           "A ``pymetallic.BufferView`` of the buffer (no copy): ``dtype`` items, ``shape`` in items (default every\n"
           "whole item), ``strides`` in bytes (default C order), ``offset`` in bytes.\n\n"
           "Raises ValidationError when the view does not fit in the buffer."},
          {method, "__dlpack__", interop, "_buffer_dlpack",
           "def __dlpack__(self, *, stream: int | None = None, max_version: tuple[int, int] | None = None, "
           "dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> object",
           "A DLPack capsule of the contents, with the dtype and shape the buffer was made from (bytes\n"
           "otherwise); ``stream`` orders the consumer's stream after our pending work.\n\n"
           "Raises BufferError for an export DLPack cannot express (another device, copy=False that\n"
           "needs a copy)."},
          {method, "__dlpack_device__", interop, "_buffer_dlpack_device",
           "def __dlpack_device__(self) -> tuple[int, int]",
           "The DLPack (device type, device id) of the memory: (1, 0) for the CPU, (2, id) for CUDA."},
          {property, "__cuda_array_interface__", interop, "_buffer_cai",
           "def __cuda_array_interface__(self) -> dict[str, object]",
           "The CUDA array interface (version 3) of a GPU buffer; raises AttributeError on the CPU."},
          {class_method, "from_dlpack", interop, "_buffer_from_dlpack",
           "def from_dlpack(obj: object, device: Device | None = None, copy: bool | None = None) -> Buffer",
           "Wraps another library's array (anything with ``__dlpack__``) in place and returns the\n"
           "Buffer, whose ``__dlpack__`` exports the same dtype and shape when the array is contiguous\n"
           "(``pymetallic.from_dlpack`` gives the typed view of any array).\n\n"
           "Raises ValidationError for an array no device of ours can reach, or copy=False when a\n"
           "copy is needed."},
      });

  m.attr("Device").attr("STORAGE_SHARED") = 0;
  attach<Device>(
      m, "Device",
      {
          {method, "make_buffer", api, "_make_buffer",
           "def make_buffer(self, size: int, storage_mode: int | None = None) -> Buffer",
           "A new buffer of ``size`` bytes (``Buffer.STORAGE_SHARED`` by default).\n\n"
           "Raises TypeError/ValueError for a size that is not a positive int, DeviceError when memory\n"
           "runs out."},
          {method, "make_buffer_from_numpy", api, "_make_buffer_from_numpy",
           "def make_buffer_from_numpy(self, array: numpy.typing.ArrayLike, storage_mode: int | None = None) "
           "-> Buffer",
           "A new buffer holding a copy of ``array`` (``Buffer.from_numpy``); raises ValidationError for\n"
           "an empty array."},
          {method, "make_library", api, "_make_library",
           "def make_library(self, source: str, options: dict[str, object] | None = None) -> Library",
           "Compiles MSL ``source`` for this device (``options``: Metal compile options such as\n"
           "``{\"fast_math\": False}`` and preprocessor macros).\n\n"
           "Raises CompileError naming the file:line of the first error."},
          {method, "make_compute_pipeline_state", api, "_make_compute_pipeline_state",
           "def make_compute_pipeline_state(self, function: Function, support_indirect_command_buffers: bool = "
           "False) -> ComputePipelineState",
           "A pipeline for ``function``, ready to dispatch; raises CompileError when the kernel does not\n"
           "build for this device. ``support_indirect_command_buffers=True`` lets indirect command buffer\n"
           "commands use it (Metal's MTLComputePipelineDescriptor property of that name)."},
          {method, "compute_pipeline_state", api, "_make_compute_pipeline_state",
           "def compute_pipeline_state(self, function: Function, support_indirect_command_buffers: bool = False) "
           "-> ComputePipelineState",
           "The same as ``make_compute_pipeline_state``."},
          {method, "make_kernel", api, "_make_kernel",
           "def make_kernel(self, source: str, func: str, constants: dict[str, object] | None = None, "
           "options: dict[str, object] | None = None) -> typing.Any",
           "A ``pymetallic.Kernel``: function ``func`` of MSL ``source`` compiled through the shared kernel cache,\n"
           "with function constants by name. Raises CompileError."},
          {method, "make_texture", texture, "_device_make_texture",
           "def make_texture(self, descriptor: typing.Any, "
           "pixel_format: int | None = None, texture_type: int | None = None) -> Texture",
           "A texture from a ``pymetallic.TextureDescriptor``, or holding a copy of an array (``Texture.from_numpy``:\n"
           "height x width [x channels] pixels). Raises ValidationError for an unsupported format or shape."},
          {method, "new_texture", texture, "_device_make_texture",
           "def new_texture(self, descriptor: typing.Any, "
           "pixel_format: int | None = None, texture_type: int | None = None) -> Texture",
           "The same as ``make_texture``."},
          {method, "make_sampler_state", texture, "_device_make_sampler_state",
           "def make_sampler_state(self, **kwargs: object) -> SamplerState",
           "A sampler: keyword arguments as ``SamplerState``'s (filters, address modes, normalized\n"
           "coordinates). Raises ValidationError for an unknown mode."},
          {method, "read_scalar", api, "_device_read_scalar",
           "def read_scalar(self, buffer: Buffer | CommandQueue, dtype: numpy.typing.DTypeLike | Buffer, "
           "i: int | numpy.typing.DTypeLike = 0, *more: int) -> int | float | bool",
           "Element ``i`` (in items of ``dtype``) of ``buffer``, after the work already committed to it\n"
           "has finished. Also ``read_scalar(queue, buffer, dtype[, i])``, as the original package's\n"
           "tests call it. Raises ValidationError when ``i`` is out of range."},
          {method, "supports_shader_barycentric_coordinates", api, "_supports_barycentrics",
           "def supports_shader_barycentric_coordinates(self) -> bool",
           "Always False: there is no render pipeline, only compute."},
          {property, "command_queue", api, "_command_queue", "def command_queue(self) -> CommandQueue",
           "A new command queue on this device."},
          {property, "command_buffer", api, "_command_buffer", "def command_buffer(self) -> CommandBuffer",
           "A new command buffer, on a new queue."},
          {property, "command_encoder", api, "_command_encoder", "def command_encoder(self) -> ComputeCommandEncoder",
           "A new compute encoder, on a new command buffer."},
      });
  attach<ComputeCommandEncoder>(
      m, "ComputeCommandEncoder",
      {
          {method, "set_buffers", api, "_set_buffers",
           "def set_buffers(self, buffers: collections.abc.Sequence[Buffer], "
           "offsets: collections.abc.Sequence[int] | None = None, start_index: int = 0) -> None",
           "Binds ``buffers`` to consecutive indices from ``start_index``, each at its offset in bytes\n"
           "(default 0). Raises ValidationError when ``offsets`` and ``buffers`` differ in length."},
          {method, "use_resources", api, "_use_resources",
           "def use_resources(self, buffers: collections.abc.Sequence[Buffer], usage: int = 3) -> None",
           "``use_resource`` for each of ``buffers`` (Metal's useResources:count:usage:)."},
          {method, "commit", api, "_encoder_commit", "def commit(self) -> None",
           "Ends encoding and commits the encoder's command buffer (raises ValidationError when already\n"
           "committed)."},
          {method, "wait_until_completed", api, "_encoder_wait", "def wait_until_completed(self) -> None",
           "Waits for the encoder's command buffer to finish; raises MetalError for a kernel that\n"
           "failed on the device."},
      });
  attach<BlitCommandEncoder>(
      m, "BlitCommandEncoder",
      {
          {method, "fill_buffer", api, "_fill_buffer",
           "def fill_buffer(self, buffer: Buffer, range_: range | tuple[int, int], value: int) -> None",
           "Fills bytes of ``buffer`` with the byte ``value``; ``range_`` is a ``range`` of byte offsets\n"
           "(step 1) or ``(start, length)`` in bytes. Raises ValidationError for a step other than 1 or\n"
           "a range outside the buffer."},
      });
  attach<Texture>(
      m, "Texture",
      {
          {class_method, "from_numpy", texture, "_texture_from_numpy",
           "def from_numpy(device: Device, array: numpy.typing.ArrayLike, pixel_format: int | None = None, "
           "texture_type: int | None = None) -> Texture",
           "A texture holding a copy of ``array``: height x width [x channels] (2D), width (1D) or\n"
           "depth x height x width (3D) pixels; the pixel format follows the dtype and channels unless\n"
           "given. Raises ValidationError for a shape or dtype no format holds."},
          {method, "to_numpy", texture, "_texture_to_numpy",
           "def to_numpy(self, dtype: numpy.typing.DTypeLike | None = None) -> numpy.ndarray",
           "A copy of the pixels (height x width [x channels]), converted to ``dtype`` when given\n"
           "(normalized formats read as floats in [0, 1])."},
          {method, "replace_region", texture, "_replace_region",
           "def replace_region(self, region: tuple[int, ...], data: numpy.typing.ArrayLike, mipmap_level: int = 0, "
           "slice: int = 0) -> None",
           "Copies ``data`` into the pixels of ``region`` (x, y, width, height) of one mip level and\n"
           "array slice. Raises ValidationError when the region is outside the texture or ``data`` has\n"
           "another size."},
          {method, "_buffer_height", texture, "_texture_buffer_height", "def _buffer_height(self) -> int",
           "Rows of the texture's storage."},
          {method, "__repr__", texture, "_texture_repr", "def __repr__(self) -> str", "Type, format, size and device."},
      });
}

}  // namespace pymetallic_bindings
