#include "metallic/library.h"

#include <cstdlib>

#include "core/backend.h"
#include "core/front_end_options.h"
#include "core/translation_cache.h"
#include "metallic/device.h"
#include "metallic/error.h"
#include "metallic/metallic.h"
#include "msl/translation.h"

namespace metallic {

// One specialisation: the translated source and what the backend compiled from it.
struct Library::Variant {
  std::shared_ptr<const msl::TranslatedSource> translated;
  std::shared_ptr<backend::LibraryImpl> compiled;
};

msl::Options front_end_options(const CompileOptions& options) {
  msl::Options o;
  o.filename = options.filename;
  o.include_paths = options.include_paths;
  o.macros = options.macros;
  o.runtime_dir = runtime_dir();
  o.language_version = options.language_version;
  o.fast_math = options.fast_math();
  o.function_constants = options.function_constants;
  return o;
}

namespace {

msl::Options front_end_options(const CompileOptions& options, const std::map<std::string, std::string>& constants) {
  msl::Options o = front_end_options(options);
  o.validation = options.validation;
  for (auto& [k, v] : constants) o.function_constants[k] = v;
  return o;
}

}  // namespace

bool validation_from_environment() {
  for (const char* name : {"PYMETALLIC_VALIDATION", "MTL_SHADER_VALIDATION"}) {
    const char* v = std::getenv(name);
    if (v && *v && std::string(v) != "0") return true;
  }
  return false;
}

Library::Library(std::shared_ptr<Device> device, std::string source, CompileOptions options)
    : device_(std::move(device)), source_(std::move(source)), options_(std::move(options)) {
  if (validation_from_environment()) options_.validation = true;
  base_ = variant({});
}

Library::~Library() = default;

std::shared_ptr<Library::Variant> Library::variant(const std::map<std::string, std::string>& constants) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = variants_.find(constants); it != variants_.end()) return it->second;
  auto v = std::make_shared<Variant>();
  try {
    v->translated = std::make_shared<const msl::TranslatedSource>(
        translation_cache::translate(source_, front_end_options(options_, constants)));
  } catch (const msl::TranslationError& e) {
    throw CompileError(e.diagnostic.format(), e.diagnostic.format());
  }
  v->compiled = device_->impl().compile(*v->translated, options_);
  variants_[constants] = v;
  return v;
}

std::vector<std::string> Library::functionNames() const {
  std::vector<std::string> names;
  for (auto& k : base_->translated->kernels) names.push_back(k.name);
  return names;
}

std::shared_ptr<Function> Library::newFunction(const std::string& name,
                                               const std::map<std::string, std::string>& constants) {
  auto v = constants.empty() ? base_ : variant(constants);
  for (auto& k : v->translated->kernels)
    if (k.name == name) return std::make_shared<Function>(shared_from_this(), v->translated, &k, v->compiled);
  std::string known;
  for (auto& k : v->translated->kernels) known += (known.empty() ? "" : ", ") + k.name;
  throw Error("no kernel function named '" + name + "' in the library" +
              (known.empty() ? std::string(" (it has no kernel functions)") : " (it has: " + known + ")"));
}

Function::Function(std::shared_ptr<Library> library, std::shared_ptr<const msl::TranslatedSource> source,
                   const msl::KernelInfo* info, std::shared_ptr<backend::LibraryImpl> compiled)
    : library_(std::move(library)), source_(std::move(source)), info_(info), compiled_(std::move(compiled)) {}

const std::string& Function::name() const { return info_->name; }

std::vector<ArgumentInfo> Function::arguments() const {
  static const char* kinds[] = {"buffer", "threadgroup", "texture", "sampler", "builtin"};
  std::vector<ArgumentInfo> out;
  for (auto& a : info_->args) {
    ArgumentInfo r;
    r.name = a.name;
    r.kind = kinds[static_cast<int>(a.kind)];
    r.index = a.index;
    r.type = a.type;
    r.active = a.used;
    if (a.kind != msl::ArgKind::Builtin) r.access = a.is_const ? "read_only" : "read_write";
    if (a.kind == msl::ArgKind::Builtin) r.name = a.name.empty() ? msl::builtin_name(a.builtin) : a.name;
    out.push_back(r);
  }
  return out;
}

ComputePipelineState::ComputePipelineState(std::shared_ptr<Device> device, std::shared_ptr<Function> function,
                                           bool support_indirect_command_buffers)
    : device_(std::move(device)),
      function_(std::move(function)),
      support_indirect_command_buffers_(support_indirect_command_buffers) {
  if (!function_) throw ValidationError("a compute pipeline needs a function");
  if (function_->library()->device() != device_)
    throw ValidationError("the function '" + function_->name() + "' was compiled for device '" +
                          function_->library()->device()->name() + "', not for '" + device_->name() + "'");
  kernel_ = function_->compiled()->kernel(function_->info());
  max_total_threads_ = kernel_->maxTotalThreadsPerThreadgroup();
  if (uint32_t declared = function_->info().max_total_threads_per_threadgroup;
      declared && declared < max_total_threads_)
    max_total_threads_ = declared;
}

uint32_t ComputePipelineState::staticThreadgroupMemoryLength() const {
  return kernel_->staticThreadgroupMemoryLength();
}

}  // namespace metallic
