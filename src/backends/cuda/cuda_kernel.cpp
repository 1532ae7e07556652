#include "backends/cuda/cuda_kernel.h"

#include <algorithm>

#include "backends/cuda/cuda_toolchain.h"
#include "backends/cuda/entry_wrapper.h"
#include "metallic/error.h"

namespace metallic::cuda {

CudaModule::CudaModule(std::shared_ptr<CudaContext> context, const std::string& image) : context_(std::move(context)) {
  context_->ensure_usable();
  context_->make_current();
  context_->check(context_->api().cuModuleLoadData(&module_, image.data()), "loading the compiled kernels");
}

CudaModule::~CudaModule() {
  // Unloading waits for running kernels: deferred while there are any (CudaContext::release).
  if (module_) context_->release([api = &context_->api(), m = module_] { api->cuModuleUnload(m); });
}

std::shared_ptr<CudaModule> IndirectModule::get() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!module_) {
    context_->ensure_usable();
    CudaBinary binary = build(source_, options_, context_->sm_version(), context_->api().version, Entries::Indirect);
    module_ = std::make_shared<CudaModule>(context_, binary.image);
  }
  return module_;
}

namespace {

// The uniform entries of kernel `index` in `module` (entry_wrapper.h): "_uniform", or for a
// kernel with `constant T&` arguments "_uniform_inline" (also returned as `uniform`) and
// "_uniform_buffers"; null where the module has none.
void uniform_entry_functions(const CudaModule& module, size_t index, CUfunction& uniform, CUfunction& in_line,
                             CUfunction& buffers) {
  const auto& api = module.context()->api();
  const std::string e = entry_symbol(index);
  uniform = in_line = buffers = nullptr;
  if (api.cuModuleGetFunction(&in_line, module.handle(), (e + "_uniform_inline").c_str()) == 0 &&
      api.cuModuleGetFunction(&buffers, module.handle(), (e + "_uniform_buffers").c_str()) == 0) {
    uniform = in_line;
    return;
  }
  in_line = buffers = nullptr;
  if (api.cuModuleGetFunction(&uniform, module.handle(), (e + "_uniform").c_str()) != 0) uniform = nullptr;
}

}  // namespace

CudaKernel::CudaKernel(std::shared_ptr<CudaModule> module, std::shared_ptr<IndirectModule> indirect, size_t index,
                       const msl::KernelInfo& info, bool validation_build, bool logging_build)
    : validation(validation_build),
      logging(logging_build),
      module_(std::move(module)),
      indirect_module_(std::move(indirect)),
      index_(index),
      arg_count_(info.args.size()),
      name_(info.name) {
  const auto& ctx = *module_->context();
  const auto& api = ctx.api();
  ctx.make_current();
  ctx.check(api.cuModuleGetFunction(&function_, module_->handle(), entry_symbol(index).c_str()),
            "finding kernel '" + info.name + "'");
  // No "_uniform" entry in a module built with PYMETALLIC_CUDA_UNIFORM_ENTRIES=0: the general
  // entry serves every dispatch.
  // A tiered library's module (or one built with PYMETALLIC_CUDA_UNIFORM_ENTRIES=0) has no
  // uniform entries: the general entry serves every dispatch.
  CUfunction u = nullptr, u_inline = nullptr, u_buffers = nullptr;
  uniform_entry_functions(*module_, index, u, u_inline, u_buffers);
  uniform_buffers_ = u_buffers;
  uniform_inline_ = u_inline;
  uniform_ = u ? u : function_;
  CUdeviceptr table = 0;
  size_t bytes = 0;
  ctx.check(api.cuModuleGetGlobal_v2(&table, &bytes, module_->handle(), layout_symbol(index).c_str()),
            "reading the parameter layout of '" + info.name + "'");
  layout_.resize(1 + 2 * arg_count_);
  if (bytes != layout_.size() * sizeof(uint32_t))
    throw Error("the parameter layout of kernel '" + info.name + "' has an unexpected size");
  ctx.check(api.cuMemcpyDtoH_v2(layout_.data(), table, bytes), "reading the parameter layout");
  offsets_.resize(arg_count_);
  slot_offsets(layout_.data() + 1, arg_count_, offsets_.data(), &params_size_);
  if (has_diag()) {  // the pm_diag slot after the last one (entry_wrapper.cpp)
    diag_offset_ = params_size_;
    params_size_ += 16;
  }
  if (params_size_ != layout_[0])
    throw Error("internal error: the parameter layout of kernel '" + info.name + "' does not match (" +
                std::to_string(params_size_) + " vs " + std::to_string(layout_[0]) + " bytes)");
  int v = 0;
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, function_);
  max_threads_ = static_cast<uint32_t>(v);
  for (CUfunction f : {uniform_.load(), uniform_buffers_.load()}) {
    if (!f) continue;
    api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f);
    if (static_cast<uint32_t>(v) < max_threads_) max_threads_ = static_cast<uint32_t>(v);
  }
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, function_);
  static_shared_ = static_cast<uint32_t>(v);
}

void CudaKernel::set_dynamic_limit(CUfunction f, uint32_t bytes) const {
  const auto& ctx = *module_->context();
  ctx.check(ctx.api().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)),
            "raising the threadgroup memory limit of '" + name_ + "'");
}

void CudaKernel::ensure_dynamic_shared(uint32_t bytes) {
  if (bytes <= dynamic_limit_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(indirect_mutex_);
  if (bytes <= dynamic_limit_) return;
  for (CUfunction f : {function_, uniform_.load(), uniform_buffers_.load(), indirect_})
    if (f) set_dynamic_limit(f, bytes);
  dynamic_limit_ = bytes;
}

bool CudaKernel::attach_uniform(std::shared_ptr<CudaModule> module) {
  const auto& ctx = *module_->context();
  const auto& api = ctx.api();
  ctx.make_current();
  CUfunction u = nullptr, u_inline = nullptr, u_buffers = nullptr;
  uniform_entry_functions(*module, index_, u, u_inline, u_buffers);
  if (!u) return false;
  // The pipeline reported max_threads_ from the general entry: an entry that holds fewer
  // threads (more registers) would fail some dispatch the general one runs.
  for (CUfunction f : {u, u_buffers}) {
    int v = 0;
    if (f && (api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f) != 0 ||
              static_cast<uint32_t>(v) < max_threads_))
      return false;
  }
  std::lock_guard<std::mutex> lock(indirect_mutex_);  // as ensure_dynamic_shared
  if (dynamic_limit_ > 48 * 1024)
    for (CUfunction f : {u, u_buffers})
      if (f) set_dynamic_limit(f, dynamic_limit_);
  uniform_module_ = std::move(module);
  if (u_inline) {
    uniform_buffers_.store(u_buffers, std::memory_order_release);
    uniform_inline_.store(u_inline, std::memory_order_release);
  }
  uniform_.store(u, std::memory_order_release);
  return true;
}

CUfunction CudaKernel::load_indirect() {
  if (indirect_) return indirect_;
  auto module = indirect_module_->get();
  const auto& ctx = *module_->context();
  const auto& api = ctx.api();
  ctx.make_current();
  CUfunction f = nullptr;
  ctx.check(api.cuModuleGetFunction(&f, module->handle(), (entry_symbol(index_) + "_indirect").c_str()),
            "finding the indirect entry of kernel '" + name_ + "'");
  int v = 0;
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f);
  indirect_max_threads_ = static_cast<uint32_t>(v);
  if (dynamic_limit_ > 48 * 1024) set_dynamic_limit(f, dynamic_limit_);
  multiprocessors_ = ctx.attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  indirect_loaded_ = std::move(module);
  indirect_ = f;
  return f;
}

void CudaKernel::prepareIndirectDispatch(Size3 tg) {
  std::lock_guard<std::mutex> lock(indirect_mutex_);
  load_indirect();
  // The loop over groups may need a few more registers than the direct entries, so the
  // indirect entry can hold fewer threads (rare: only kernels near the register limit).
  if (tg.count() > indirect_max_threads_)
    throw ValidationError("dispatch_threadgroups_with_indirect_buffer: a threadgroup of " + std::to_string(tg.count()) +
                          " threads exceeds the " + std::to_string(indirect_max_threads_) + " that kernel '" + name_ +
                          "' can run in an indirect dispatch on this GPU");
}

CUfunction CudaKernel::indirect_function() {
  std::lock_guard<std::mutex> lock(indirect_mutex_);
  return load_indirect();
}

// The grid of an indirect dispatch cannot depend on the counts (they are in device memory),
// so it is one full wave: every block the GPU can hold at once for this shape. More blocks
// could not run any sooner; fewer would leave SMs idle while the counts are large. Blocks
// past the count leave at once, which costs a few microseconds when the count is small.
unsigned CudaKernel::indirect_blocks(unsigned threads, unsigned shared) {
  std::lock_guard<std::mutex> lock(indirect_mutex_);
  auto [it, fresh] = indirect_grids_.try_emplace({threads, shared}, 0u);
  if (fresh) {
    int per_sm = 0;
    const auto& ctx = *module_->context();
    if (ctx.api().cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, load_indirect(), static_cast<int>(threads),
                                                              shared) != CUDA_SUCCESS ||
        per_sm < 1)
      per_sm = 1;
    it->second = static_cast<unsigned>(std::max(multiprocessors_, 1) * per_sm);
  }
  return it->second;
}

CudaLibrary::CudaLibrary(std::shared_ptr<CudaContext> context, std::shared_ptr<CudaModule> module,
                         const msl::TranslatedSource& source, const CompileOptions& options, Builder build)
    : module_(std::move(module)),
      build_(std::move(build)),
      indirect_(std::make_shared<IndirectModule>(std::move(context), source, options)) {
  for (const auto& k : source.kernels) names_.push_back(k.name);
  validation_ = source.validation;
  logging_ = source.uses_logging;
  per_kernel_.resize(names_.size());
  kernels_.resize(names_.size());
  // Everything the driver needs of a kernel is asked for now, with the library, as Metal
  // compiles a library: with CUDA's lazy module loading the first cuModuleGetFunction of a
  // kernel loads it, and loading waits for the kernels running on the device. A pipeline
  // made later, while a kernel spins on a flag that the new pipeline's work would set, would
  // otherwise wait for good (tests/python/test_runaway_kernels.py).
  if (module_)
    for (size_t i = 0; i < names_.size(); ++i)
      kernels_[i] = std::make_shared<CudaKernel>(module_, indirect_, i, source.kernels[i], validation_, logging_);
}

CudaLibrary::CudaLibrary(std::shared_ptr<CudaContext> context, std::vector<std::shared_ptr<CudaModule>> per_kernel,
                         const msl::TranslatedSource& source, const CompileOptions& options)
    : CudaLibrary(std::move(context), nullptr, source, options) {
  if (per_kernel.size() != names_.size()) throw Error("internal error: one module per kernel expected");
  per_kernel_ = std::move(per_kernel);
  // As for a single module: everything the driver needs of each kernel, now.
  for (size_t i = 0; i < names_.size(); ++i)
    kernels_[i] = std::make_shared<CudaKernel>(per_kernel_[i], indirect_, i, source.kernels[i], validation_, logging_);
}

std::shared_ptr<backend::KernelImpl> CudaLibrary::kernel(const msl::KernelInfo& info) {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != info.name) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!kernels_[i]) {  // a kernel built on first use: its own module, loaded now
      if (!per_kernel_[i]) per_kernel_[i] = build_(static_cast<long>(i));
      kernels_[i] = std::make_shared<CudaKernel>(per_kernel_[i], indirect_, i, info, validation_, logging_);
    }
    return kernels_[i];
  }
  throw Error("kernel '" + info.name + "' is not in the compiled library");
}

}  // namespace metallic::cuda
