#include "backends/cuda/cuda_kernel.h"

#include "backends/cuda/entry_wrapper.h"
#include "metallic/error.h"

namespace metallic::cuda {

CudaModule::CudaModule(std::shared_ptr<CudaContext> context, const std::string& image)
    : context_(std::move(context)) {
  context_->ensure_usable();
  context_->make_current();
  context_->check(context_->api().cuModuleLoadData(&module_, image.data()), "loading the compiled kernels");
}

CudaModule::~CudaModule() {
  if (module_ && context_->healthy()) {
    context_->make_current();
    context_->api().cuModuleUnload(module_);
  }
}

CudaKernel::CudaKernel(std::shared_ptr<CudaModule> module, size_t index, const msl::KernelInfo& info)
    : module_(std::move(module)), arg_count_(info.args.size()), name_(info.name) {
  const auto& ctx = *module_->context();
  const auto& api = ctx.api();
  ctx.make_current();
  ctx.check(api.cuModuleGetFunction(&function_, module_->handle(), entry_symbol(index).c_str()),
            "finding kernel '" + info.name + "'");
  ctx.check(api.cuModuleGetFunction(&uniform_, module_->handle(), (entry_symbol(index) + "_uniform").c_str()),
            "finding kernel '" + info.name + "'");
  CUdeviceptr table = 0;
  size_t bytes = 0;
  ctx.check(api.cuModuleGetGlobal_v2(&table, &bytes, module_->handle(), layout_symbol(index).c_str()),
            "reading the parameter layout of '" + info.name + "'");
  layout_.resize(1 + arg_count_);
  if (bytes != layout_.size() * sizeof(uint32_t))
    throw Error("the parameter layout of kernel '" + info.name + "' has an unexpected size");
  ctx.check(api.cuMemcpyDtoH_v2(layout_.data(), table, bytes), "reading the parameter layout");
  offsets_.resize(arg_count_);
  slot_offsets(layout_.data() + 1, arg_count_, offsets_.data(), &params_size_);
  if (params_size_ != layout_[0])
    throw Error("internal error: the parameter layout of kernel '" + info.name + "' does not match (" +
                std::to_string(params_size_) + " vs " + std::to_string(layout_[0]) + " bytes)");
  int v = 0;
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, function_);
  max_threads_ = static_cast<uint32_t>(v);
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, uniform_);
  if (static_cast<uint32_t>(v) < max_threads_) max_threads_ = static_cast<uint32_t>(v);
  api.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, function_);
  static_shared_ = static_cast<uint32_t>(v);
}

void CudaKernel::ensure_dynamic_shared(uint32_t bytes) {
  if (bytes <= dynamic_limit_) return;
  const auto& ctx = *module_->context();
  for (CUfunction f : {function_, uniform_})
    ctx.check(ctx.api().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)),
              "raising the threadgroup memory limit of '" + name_ + "'");
  dynamic_limit_ = bytes;
}

CudaLibrary::CudaLibrary(std::shared_ptr<CudaModule> module, const msl::TranslatedSource& source)
    : module_(std::move(module)) {
  for (const auto& k : source.kernels) names_.push_back(k.name);
}

std::shared_ptr<backend::KernelImpl> CudaLibrary::kernel(const msl::KernelInfo& info) {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == info.name) return std::make_shared<CudaKernel>(module_, i, info);
  throw Error("kernel '" + info.name + "' is not in the compiled library");
}

}  // namespace metallic::cuda
