// ComputeCommandEncoder (MTLComputeCommandEncoder): argument bindings, and dispatches
// checked against the kernel's reflected arguments and the device's limits, then recorded
// as a DispatchCommand (a snapshot of everything the backend needs to run it).
#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/backend.h"
#include "core/commands.h"
#include "core/device_checks.h"
#include "core/encoder_checks.h"
#include "metallic/buffer.h"
#include "metallic/command.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "metallic/indirect.h"
#include "metallic/library.h"
#include "metallic/texture.h"
#include "msl/translation.h"

namespace metallic {

namespace {

bool is_three_component_vector(std::string_view t) {  // (a view: checked on every dispatch)
  if (t.substr(0, 7) == "metal::") t.remove_prefix(7);
  if (t.size() < 2 || t.back() != '3') return false;
  t.remove_suffix(1);
  static const char* scalars[] = {"float",  "half", "bfloat", "int",  "uint", "short",
                                  "ushort", "char", "uchar",  "bool", "long", "ulong"};
  for (const char* s : scalars)
    if (t == s) return true;
  return false;
}

// The front end's shape for a texture type (the bound texture must match the argument's).
msl::TextureShape shape_of(TextureType t) {
  static const std::pair<TextureType, msl::TextureShape> shapes[] = {
      {TextureType::Type1D, msl::TextureShape::Tex1D},
      {TextureType::Type1DArray, msl::TextureShape::Tex1DArray},
      {TextureType::Type2D, msl::TextureShape::Tex2D},
      {TextureType::Type2DArray, msl::TextureShape::Tex2DArray},
      {TextureType::Type3D, msl::TextureShape::Tex3D},
      {TextureType::TypeCube, msl::TextureShape::Cube},
      {TextureType::TypeCubeArray, msl::TextureShape::CubeArray},
      {TextureType::TypeTextureBuffer, msl::TextureShape::Buffer}};
  for (const auto& [type, shape] : shapes)
    if (type == t) return shape;
  return msl::TextureShape::Other;
}

}  // namespace

ComputeCommandEncoder::ComputeCommandEncoder(std::shared_ptr<CommandBuffer> buffer) : buffer_(std::move(buffer)) {
  if (buffer_->committed())
    throw ValidationError("this command buffer was already committed; make a new one for more work");
  buffer_->markEncoderOpen(true);
}

void ComputeCommandEncoder::ensureOpen(const char* what) const { check_encoder_open(ended_, *buffer_, what); }

void ComputeCommandEncoder::setComputePipelineState(std::shared_ptr<ComputePipelineState> pipeline) {
  ensureOpen("set_compute_pipeline_state");
  if (!pipeline) throw ValidationError("set_compute_pipeline_state needs a pipeline, not None");
  check_same_device(*pipeline->device(), *buffer_->commandQueue()->device(), "the pipeline");
  pipeline_ = std::move(pipeline);
}

void ComputeCommandEncoder::setBuffer(std::shared_ptr<Buffer> buffer, uint64_t offset, uint32_t index) {
  ensureOpen("set_buffer");
  check_slot(index, "buffer");
  check_buffer_binding(buffer.get(), offset, index, *buffer_->commandQueue()->device(), "set_buffer");
  auto& b = binding(index);
  b.buffer = std::move(buffer);
  b.offset = offset;
  b.clear_bytes();
  b.bound = true;
}

void ComputeCommandEncoder::setBufferOffset(uint64_t offset, uint32_t index) {
  ensureOpen("set_buffer_offset");
  check_slot(index, "buffer");
  if (index >= bindings_.size() || !bindings_[index].buffer)
    throw ValidationError("set_buffer_offset: no buffer is bound at index " + std::to_string(index));
  auto& b = bindings_[index];
  if (offset >= b.buffer->length())
    throw ValidationError("set_buffer_offset " + std::to_string(offset) + " is past the end of the buffer");
  b.offset = offset;
}

void ComputeCommandEncoder::useResource(const std::shared_ptr<Buffer>& buffer, uint32_t usage) {
  ensureOpen("use_resource");
  if (!buffer) throw ValidationError("use_resource needs a buffer, not None");
  if (usage == 0 || usage > 3) throw ValidationError("use_resource usage must be 1 (read), 2 (write) or 3 (both)");
  check_same_device(*buffer->device(), *buffer_->commandQueue()->device(), "use_resource: the buffer");
  for (auto& [b, written] : used_resources_)
    if (b == buffer) {
      written = written || (usage & 2);
      return;
    }
  used_resources_.emplace_back(buffer, (usage & 2) != 0);
}

void ComputeCommandEncoder::setBytes(const void* data, uint64_t length, uint32_t index) {
  ensureOpen("set_bytes");
  check_slot(index, "buffer");
  if (length == 0) throw ValidationError("set_bytes needs at least 1 byte (index " + std::to_string(index) + ")");
  if (length > 4096)
    throw ValidationError("set_bytes takes at most 4096 bytes (Metal's limit), got " + std::to_string(length) +
                          ": use a buffer for larger data");
  auto& b = binding(index);
  b.buffer.reset();
  b.offset = 0;
  b.set_bytes(data, length);
  b.bound = true;
}

void ComputeCommandEncoder::setThreadgroupMemoryLength(uint64_t length, uint32_t index) {
  ensureOpen("set_threadgroup_memory_length");
  threadgroup_lengths_[index] = threadgroup_memory_length(length, index, *buffer_->commandQueue()->device());
}

void ComputeCommandEncoder::setTexture(const std::shared_ptr<Texture>& texture, uint32_t index) {
  ensureOpen("set_texture");
  if (index > 127)
    throw ValidationError("texture index " + std::to_string(index) + " is out of range: Metal has 128 slots, 0 to 127");
  if (texture)
    check_same_device(*texture->device(), *buffer_->commandQueue()->device(),
                      "the texture at index " + std::to_string(index));
  if (textures_.size() <= index) textures_.resize(index + 1);
  textures_[index] = texture;
}

void ComputeCommandEncoder::setSamplerState(const std::shared_ptr<SamplerState>& sampler, uint32_t index) {
  ensureOpen("set_sampler_state");
  if (index > 15)
    throw ValidationError("sampler index " + std::to_string(index) + " is out of range: Metal has 16 slots, 0 to 15");
  if (sampler)
    check_same_device(*sampler->device(), *buffer_->commandQueue()->device(),
                      "the sampler at index " + std::to_string(index));
  if (samplers_.size() <= index) samplers_.resize(index + 1);
  samplers_[index] = sampler;
}

namespace {

// ceil(n / d) without overflow (n + d - 1 wraps for n near 2^64).
uint64_t ceil_div(uint64_t n, uint64_t d) { return d == 0 ? 0 : n / d + (n % d != 0); }

// a * b, or UINT64_MAX when it does not fit.
uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? ~0ull : r;
}

}  // namespace

void ComputeCommandEncoder::dispatchThreads(Size3 grid, Size3 tg) {
  Size3 groups{ceil_div(grid.width, tg.width), ceil_div(grid.height, tg.height), ceil_div(grid.depth, tg.depth)};
  dispatch(grid, groups, tg, true);
}

void ComputeCommandEncoder::dispatchThreadgroups(Size3 groups, Size3 tg) {
  Size3 grid{saturating_mul(groups.width, tg.width), saturating_mul(groups.height, tg.height),
             saturating_mul(groups.depth, tg.depth)};
  dispatch(grid, groups, tg, false);
}

void ComputeCommandEncoder::dispatchThreadgroupsWithIndirectBuffer(const std::shared_ptr<Buffer>& indirect,
                                                                   uint64_t offset, Size3 tg) {
  const char* what = "dispatch_threadgroups_with_indirect_buffer";
  ensureOpen(what);
  if (!indirect) throw ValidationError(std::string(what) + ": the indirect buffer is None");
  check_same_device(*indirect->device(), *buffer_->commandQueue()->device(),
                    std::string(what) + ": the indirect buffer");
  if (offset % 4 != 0 || offset > indirect->length() || indirect->length() - offset < 12)
    throw ValidationError(std::string(what) + ": offset " + std::to_string(offset) +
                          " must be a multiple of 4 with 12 bytes (three uints) after it in the " +
                          std::to_string(indirect->length()) + "-byte buffer");
  dispatch({0, 0, 0}, {0, 0, 0}, tg, false, indirect, offset);
}

void ComputeCommandEncoder::dispatch(Size3 grid, Size3 groups, Size3 tg, bool exact,
                                     const std::shared_ptr<Buffer>& indirect, uint64_t indirect_offset) {
  const char* what = exact ? "dispatch_threads" : "dispatch_threadgroups";
  ensureOpen(what);
  if (!pipeline_) throw ValidationError(std::string(what) + " before set_compute_pipeline_state: no kernel to run");
  const auto& info = pipeline_->function()->info();
  check_dispatch_size(what, grid, tg, exact);
  if (!indirect && (grid.width == 0 || grid.height == 0 || grid.depth == 0)) return;  // nothing to run, as on Metal
  if (!indirect) check_threadgroup_count(what, groups);

  // Built in place (a dispatch's snapshot is about a kilobyte: no copy of it), and taken
  // back out if validation fails below.
  auto& list = buffer_->commands();
  auto& cmd = std::get<DispatchCommand>(list.commands.emplace_back(std::in_place_type<DispatchCommand>));
  struct Unrecord {
    CommandList& list;
    bool keep = false;
    ~Unrecord() {
      if (!keep) list.commands.pop_back();
    }
  } unrecord{list};
  cmd.pipeline = pipeline_;
  for (const auto& [b, written] : used_resources_) cmd.resources.emplace_back(b->impl_ptr(), written);
  if (indirect) cmd.indirect = indirect->impl_ptr(), cmd.indirect_offset = indirect_offset;
  cmd.threads_per_grid = grid;
  cmd.threads_per_threadgroup = tg;
  cmd.threadgroups_per_grid = groups;
  uint64_t tg_memory = pipeline_->staticThreadgroupMemoryLength();
  // The argument slots in one allocation (bind_buffer would otherwise grow them argument by
  // argument: three allocations for [[buffer(0)]], (1), (2)).
  int highest_buffer = -1;
  for (const auto& arg : info.args)
    if (arg.used && arg.kind == msl::ArgKind::Buffer) highest_buffer = std::max(highest_buffer, arg.index);
  if (highest_buffer >= 0) cmd.buffers.resize(static_cast<size_t>(highest_buffer) + 1);
  for (const auto& arg : info.args) {
    // An argument the kernel cannot touch (MTLArgument.isActive false) needs no binding, as on
    // Metal; the backends pass it a placeholder it never reads.
    if (!arg.used) continue;
    if (arg.kind == msl::ArgKind::Buffer) {
      bind_buffer(info, arg, list, cmd);
    } else if (arg.kind == msl::ArgKind::Threadgroup) {
      uint32_t len = threadgroup_lengths_[arg.index];
      if (len == 0)
        throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[threadgroup(" +
                              std::to_string(arg.index) + ")]] has no memory: call set_threadgroup_memory_length(" +
                              "bytes, " + std::to_string(arg.index) + ") before dispatching");
      cmd.threadgroup_lengths[arg.index] = len;
      tg_memory += len;
    } else if (arg.kind == msl::ArgKind::Texture) {
      bind_texture(info, arg, cmd);
    } else if (arg.kind == msl::ArgKind::Sampler) {
      bind_sampler(info, arg, cmd);
    }
  }
  auto limit = buffer_->commandQueue()->device()->limits().max_threadgroup_memory_length;
  if (tg_memory > limit)
    throw ValidationError("kernel '" + info.name + "' needs " + std::to_string(tg_memory) +
                          " bytes of threadgroup memory; the device allows " + std::to_string(limit));
  if (indirect) pipeline_->kernel().prepareIndirectDispatch(tg);
  unrecord.keep = true;
}

// Threads per threadgroup against the kernel's limit, and the grid against MSL's 32-bit positions.
void ComputeCommandEncoder::check_dispatch_size(const char* what, Size3 grid, Size3 tg, bool exact) const {
  const auto& info = pipeline_->function()->info();
  check_threadgroup_size(tg, what);
  uint64_t tg_total = saturating_mul(saturating_mul(tg.width, tg.height), tg.depth);
  uint32_t max_threads = pipeline_->maxTotalThreadsPerThreadgroup();
  if (tg_total > max_threads)
    throw ValidationError(std::string(what) + ": a threadgroup of " + size3_text(tg) + " = " +
                          (tg_total == ~0ull ? std::string("over 2^64") : std::to_string(tg_total)) +
                          " threads exceeds kernel '" + info.name + "''s limit of " + std::to_string(max_threads) +
                          " (max_total_threads_per_threadgroup)");
  // Every count checked with overflow-safe arithmetic against this device's limits: MSL's
  // positions are 32-bit, and the backend runs at most so many threadgroups per dispatch.
  const uint64_t max32 = 0xffffffffull;
  if (grid.width > max32 || grid.height > max32 || grid.depth > max32)
    throw ValidationError(std::string(what) + ": " + (exact ? "grid " : "threadgroups x threads per threadgroup ") +
                          size3_text(grid) +
                          " has a dimension of 2^32 threads or more (MSL's thread positions are "
                          "32-bit uints)");
}

// The threadgroup counts against this device's limits (per axis and per dispatch).
void ComputeCommandEncoder::check_threadgroup_count(const char* what, Size3 groups) const {
  const auto& limits = buffer_->commandQueue()->device()->limits();
  const uint64_t n[3] = {groups.width, groups.height, groups.depth};
  static const char* axis[3] = {"x", "y", "z"};
  for (int i = 0; i < 3; ++i)
    if (n[i] > limits.max_threadgroups_per_grid[i])
      throw ValidationError(std::string(what) + ": " + std::to_string(n[i]) + " threadgroups along " + axis[i] +
                            " (of " + size3_text(groups) + ") exceed this device's limit of " +
                            std::to_string(limits.max_threadgroups_per_grid[i]) +
                            "; use larger threadgroups or "
                            "split the work into several dispatches");
  uint64_t total = saturating_mul(saturating_mul(groups.width, groups.height), groups.depth);
  if (total > limits.max_total_threadgroups)
    throw ValidationError(std::string(what) + ": " + size3_text(groups) + " = " +
                          (total == ~0ull ? std::string("more than 2^64") : std::to_string(total)) +
                          " threadgroups exceed this device's limit of " +
                          std::to_string(limits.max_total_threadgroups) +
                          " per dispatch; use larger threadgroups or split the work into several dispatches");
}

void ComputeCommandEncoder::bind_buffer(const msl::KernelInfo& info, const msl::KernelArg& arg, CommandList& list,
                                        DispatchCommand& cmd) {
  static const Binding unbound;
  const auto& b = static_cast<size_t>(arg.index) < bindings_.size() ? bindings_[arg.index] : unbound;
  if (!b.bound)
    throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[buffer(" +
                          std::to_string(arg.index) + ")]] is not bound: call set_buffer(buffer, 0, " +
                          std::to_string(arg.index) + ") or set_bytes(data, " + std::to_string(arg.index) +
                          ") before dispatching");
  if (arg.is_reference) {
    // A `T&` reads sizeof(T) bytes: shorter data would be read past its end.
    uint64_t need = pipeline_->kernel().referenceArgumentSize(static_cast<size_t>(&arg - info.args.data()));
    // A 3-component vector (uint3, float3) is padded to 4: its 4th element is never read,
    // and passing three values (np.array([x, y, z], np.uint32)) is common and harmless.
    if (is_three_component_vector(arg.element_type)) need = need / 4 * 3;
    uint64_t have = b.buffer ? b.buffer->length() - b.offset : b.bytes_size();
    if (need > 0 && have < need)
      throw ValidationError(
          "kernel '" + info.name + "' argument '" + arg.name + "' [[buffer(" + std::to_string(arg.index) + ")]] is a " +
          arg.type + " of " + std::to_string(need) + " bytes, but " +
          (b.buffer ? "the buffer bound there has only " + std::to_string(have) + " bytes after its offset"
                    : "set_bytes gave only " + std::to_string(have) + " bytes") +
          " (pass a value of the kernel's type, e.g. a NumPy scalar or structured array of " + std::to_string(need) +
          " bytes)");
  }
  if (cmd.buffers.size() <= static_cast<size_t>(arg.index)) cmd.buffers.resize(arg.index + 1);
  auto& out = cmd.buffers[arg.index];
  if (b.buffer) {
    out.buffer = b.buffer->impl_ptr();
    out.offset = b.offset;
    out.length = b.buffer->length() - b.offset;
  } else {
    // Inline bytes live in the command list's arena, 16-byte aligned for any struct.
    out.offset = list.bytes.append(b.bytes_data(), b.bytes_size(), 16);
    out.length = b.bytes_size();
  }
  cmd.bound_mask |= 1u << arg.index;
}

void ComputeCommandEncoder::bind_sampler(const msl::KernelInfo& info, const msl::KernelArg& arg, DispatchCommand& cmd) {
  if (arg.index < 0 || arg.index > 15 || static_cast<size_t>(arg.index) >= samplers_.size() || !samplers_[arg.index])
    throw ValidationError("kernel '" + info.name + "' argument '" + arg.name + "' [[sampler(" +
                          std::to_string(arg.index) + ")]] is not bound: call set_sampler_state(sampler, " +
                          std::to_string(arg.index) + ") before dispatching");
  if (cmd.samplers.size() <= static_cast<size_t>(arg.index)) cmd.samplers.resize(arg.index + 1);
  std::memcpy(&cmd.samplers[arg.index], samplers_[arg.index]->bytes(), sizeof(metal_sampler_abi));
}

void ComputeCommandEncoder::executeCommandsInBuffer(const std::shared_ptr<IndirectCommandBuffer>& icb,
                                                    uint64_t location, uint64_t length) {
  const char* what = "execute_commands_in_buffer";
  ensureOpen(what);
  if (!icb) throw ValidationError(std::string(what) + " needs an indirect command buffer, not None");
  check_same_device(*icb->device(), *buffer_->commandQueue()->device(), "the indirect command buffer");
  if (location > icb->size() || length > icb->size() - location)
    throw ValidationError(std::string(what) + ": range (location " + std::to_string(location) + ", length " +
                          std::to_string(length) + ") is outside the indirect command buffer's " +
                          std::to_string(icb->size()) + " commands");
  if (length == 0) return;
  const auto& desc = icb->descriptor();
  auto& list = buffer_->commands();
  if (desc.inheritPipelineState || desc.inheritBuffers) {
    // The commands take the encoder's current state: recorded as plain dispatches each time.
    record_indirect(*icb, location, length);
    return;
  }
  std::shared_ptr<const IndirectSnapshot> snapshot = icb->snapshot(location, length);
  if (!snapshot) {
    uint64_t version = 0;
    const size_t before = list.commands.size();
    record_indirect(*icb, location, length, &version);
    auto built = std::make_shared<IndirectSnapshot>();
    built->id = IndirectSnapshot::next_id();
    built->dispatches.reserve(list.commands.size() - before);
    for (size_t i = before; i < list.commands.size(); ++i)
      built->dispatches.push_back(std::move(std::get<DispatchCommand>(list.commands[i])));
    list.commands.resize(before);
    for (const auto& d : built->dispatches) {
      const auto& info = d.pipeline->function()->info();
      for (const auto& arg : info.args) {
        if (!arg.used || arg.kind != msl::ArgKind::Buffer || !d.buffers[arg.index].buffer) continue;
        const auto& b = d.buffers[arg.index].buffer;
        auto it = std::find_if(built->buffers.begin(), built->buffers.end(), [&](auto& e) { return e.first == b; });
        if (it == built->buffers.end())
          built->buffers.emplace_back(b, !arg.is_const);
        else
          it->second = it->second || !arg.is_const;
      }
    }
    snapshot = built;
    icb->keepSnapshot(location, length, version, snapshot);
  }
  if (snapshot->dispatches.empty()) return;  // every command empty: nothing to run
  auto& cmd = std::get<ExecuteIndirectCommand>(list.commands.emplace_back(std::in_place_type<ExecuteIndirectCommand>));
  cmd.snapshot = std::move(snapshot);
  for (const auto& [b, written] : used_resources_) cmd.resources.emplace_back(b->impl_ptr(), written);
}

void ComputeCommandEncoder::record_indirect(const IndirectCommandBuffer& icb, uint64_t location, uint64_t length,
                                            uint64_t* version) {
  const auto& desc = icb.descriptor();
  std::vector<IndirectCommandBuffer::Command> commands = icb.commands(location, length, version);
  auto& list = buffer_->commands();
  const size_t before = list.commands.size();
  // The encoder's own state, put back however this ends.
  struct Saved {
    ComputeCommandEncoder& e;
    std::shared_ptr<ComputePipelineState> pipeline;
    Bindings bindings;
    std::array<uint32_t, 31> threadgroup_lengths;
    std::vector<std::pair<std::shared_ptr<Buffer>, bool>> used;
    ~Saved() {
      e.pipeline_ = std::move(pipeline);
      e.bindings_ = std::move(bindings);
      e.threadgroup_lengths_ = threadgroup_lengths;
      e.used_resources_ = std::move(used);
    }
  } saved{*this, pipeline_, std::move(bindings_), threadgroup_lengths_, std::move(used_resources_)};
  // With inherit_buffers, each command binds the encoder's buffers (and set_bytes data).
  if (desc.inheritBuffers) bindings_ = saved.bindings;
  // The encoder's use_resource list applies to inherited commands as to its own dispatches.
  if (desc.inheritPipelineState || desc.inheritBuffers) used_resources_ = saved.used;
  try {
    for (size_t i = 0; i < commands.size(); ++i) {
      const auto& c = commands[i];
      const std::string where = "execute_commands_in_buffer: command " + std::to_string(location + i);
      if (c.dispatch == IndirectCommandBuffer::Command::Dispatch::None) continue;  // empty: skipped, as on Metal
      pipeline_ = desc.inheritPipelineState ? saved.pipeline : c.pipeline;
      if (!pipeline_)
        throw ValidationError(
            where + " has a dispatch but no pipeline: " +
            (desc.inheritPipelineState
                 ? std::string("set_compute_pipeline_state on the encoder first (the ICB inherits it)")
                 : std::string("call set_compute_pipeline_state on the command")));
      if (!desc.inheritBuffers) {
        bindings_.assign(c.buffers.size(), Binding{});
        for (size_t b = 0; b < c.buffers.size(); ++b)
          if (c.buffers[b].first)
            bindings_[b].buffer = c.buffers[b].first, bindings_[b].offset = c.buffers[b].second,
            bindings_[b].bound = true;
      }
      threadgroup_lengths_ = c.threadgroup_lengths;
      try {
        if (c.dispatch == IndirectCommandBuffer::Command::Dispatch::Threads)
          dispatchThreads(c.size, c.threads_per_threadgroup);
        else
          dispatchThreadgroups(c.size, c.threads_per_threadgroup);
      } catch (const ValidationTypeError& e) {
        throw ValidationTypeError(where + ": " + e.what());
      } catch (const ValidationError& e) {
        std::string m = e.what();
        // An unbound buffer is fixed on the command (which has no set_bytes), not on the encoder.
        const auto at = m.find(" is not bound: call set_buffer(");
        if (!desc.inheritBuffers && at != std::string::npos) {
          const auto slot = m.rfind("[[buffer(", at);
          const std::string index = slot == std::string::npos ? "n" : m.substr(slot + 9, m.find(')', slot) - slot - 9);
          m = m.substr(0, at) + " is not bound: call set_kernel_buffer(buffer, 0, " + index + ") on the command";
        }
        throw ValidationError(where + ": " + m);
      }
    }
  } catch (...) {
    list.commands.resize(before);  // nothing of a failed execution stays recorded
    throw;
  }
}

void ComputeCommandEncoder::endEncoding() {
  if (ended_) return;
  ended_ = true;
  buffer_->markEncoderOpen(false);
}

void ComputeCommandEncoder::bind_texture(const msl::KernelInfo& info, const msl::KernelArg& arg, DispatchCommand& cmd) {
  const std::string where =
      "kernel '" + info.name + "' argument '" + arg.name + "' [[texture(" + std::to_string(arg.index) + ")]]";
  if (arg.index < 0 || arg.index > 127 || static_cast<size_t>(arg.index) >= textures_.size() || !textures_[arg.index])
    throw ValidationError(where + " is not bound: call set_texture(texture, " + std::to_string(arg.index) +
                          ") before dispatching");
  const Texture& t = *textures_[arg.index];
  const auto& d = t.descriptor();
  const msl::TextureArgType& type = arg.texture;  // parsed once by the front end
  bool written = true;                            // unknown (template kernels): assume the kernel writes
  if (!arg.dependent_type) {
    if (!type.supported)
      throw Error(where + ": " + type.name +
                  " is not supported yet (texture1d, texture1d_array, texture2d, "
                  "texture2d_array, texture3d, texturecube, texturecube_array and texture_buffer are)");
    if (type.shape != shape_of(d.type))
      throw ValidationError(where + " is a " + type.name + " but the bound texture is a " +
                            msl::texture_shape_name(shape_of(d.type)));
    const std::string want = pixel_format_sample_type(d.pixel_format);
    if (type.sample_type != want)
      throw ValidationError(where + " reads " + type.element + " texels but the bound texture's pixel format " +
                            std::to_string(d.pixel_format) + " holds " + want +
                            " data (float/half kernels take float, unorm and half formats; int/uint kernels the "
                            "matching integer formats)");
    written = type.written;
  }
  if (cmd.textures.size() <= static_cast<size_t>(arg.index)) cmd.textures.resize(arg.index + 1);
  BoundTexture& out = cmd.textures[arg.index];
  out.buffer = t.buffer()->impl_ptr();
  out.written = written;
  out.abi.data = nullptr;
  out.abi.width = static_cast<unsigned>(d.width);
  out.abi.height = static_cast<unsigned>(d.height);
  out.abi.depth = static_cast<unsigned>(t.slices());
  out.abi.row_pitch = static_cast<unsigned>(t.bytesPerRow());
  out.abi.slice_pitch = t.bytesPerImage();
  out.abi.format = d.pixel_format;
  out.abi.texel_bytes = pixel_format_bytes(d.pixel_format);
}

}  // namespace metallic
