// Library, Function, ComputePipelineState: compiled MSL and its entry points.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metallic/types.h"

namespace metallic {

namespace msl {
struct TranslatedSource;
struct KernelInfo;
}  // namespace msl
namespace backend {
class LibraryImpl;
class KernelImpl;
}  // namespace backend
class Device;

// One argument of a kernel, for reflection (Function::arguments).
struct ArgumentInfo {
  std::string name;
  std::string kind;  // "buffer", "threadgroup", "texture", "sampler", "builtin"
  int index = -1;
  std::string type;    // C++ type as translated ("const float*", "uint3")
  std::string access;  // "read_only" or "read_write" for resources
  bool active = true;  // MTLArgument.isActive: false when the kernel never touches it (needs no binding)
};

class Function;

class Library : public std::enable_shared_from_this<Library> {
 public:
  // Translates and compiles; throws CompileError on invalid source.
  Library(std::shared_ptr<Device> device, std::string source, CompileOptions options);
  ~Library();

  const std::shared_ptr<Device>& device() const { return device_; }
  const std::string& source() const { return source_; }
  std::vector<std::string> functionNames() const;

  // constants: function-constant values by name or "#index" (C++ literal text).
  std::shared_ptr<Function> newFunction(const std::string& name,
                                        const std::map<std::string, std::string>& constants = {});

 private:
  struct Variant;  // one compiled specialisation (function-constant values)
  std::shared_ptr<Variant> variant(const std::map<std::string, std::string>& constants);

  std::shared_ptr<Device> device_;
  std::string source_;
  CompileOptions options_;
  std::mutex mutex_;
  std::map<std::map<std::string, std::string>, std::shared_ptr<Variant>> variants_;
  std::shared_ptr<Variant> base_;
};

class Function : public std::enable_shared_from_this<Function> {  // (see Buffer)
 public:
  Function(std::shared_ptr<Library> library, std::shared_ptr<const msl::TranslatedSource> source,
           const msl::KernelInfo* info, std::shared_ptr<backend::LibraryImpl> compiled);

  const std::string& name() const;
  const std::shared_ptr<Library>& library() const { return library_; }
  const msl::KernelInfo& info() const { return *info_; }
  std::vector<ArgumentInfo> arguments() const;
  const std::shared_ptr<backend::LibraryImpl>& compiled() const { return compiled_; }

 private:
  std::shared_ptr<Library> library_;
  std::shared_ptr<const msl::TranslatedSource> source_;  // owns *info_
  const msl::KernelInfo* info_;
  std::shared_ptr<backend::LibraryImpl> compiled_;
};

class ComputePipelineState : public std::enable_shared_from_this<ComputePipelineState> {  // (see Buffer)
 public:
  // `support_indirect_command_buffers`: MTLComputePipelineDescriptor's property of that name;
  // only such pipelines may be set on indirect command buffer commands, as on Metal.
  ComputePipelineState(std::shared_ptr<Device> device, std::shared_ptr<Function> function,
                       bool support_indirect_command_buffers = false);

  const std::shared_ptr<Device>& device() const { return device_; }
  const std::shared_ptr<Function>& function() const { return function_; }
  uint32_t maxTotalThreadsPerThreadgroup() const { return max_total_threads_; }
  uint32_t threadExecutionWidth() const { return 32; }
  uint32_t staticThreadgroupMemoryLength() const;
  bool supportIndirectCommandBuffers() const { return support_indirect_command_buffers_; }
  backend::KernelImpl& kernel() const { return *kernel_; }
  const std::shared_ptr<backend::KernelImpl>& kernel_ptr() const { return kernel_; }

 private:
  std::shared_ptr<Device> device_;
  std::shared_ptr<Function> function_;
  std::shared_ptr<backend::KernelImpl> kernel_;
  uint32_t max_total_threads_;
  bool support_indirect_command_buffers_ = false;
};

}  // namespace metallic
