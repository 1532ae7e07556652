#include "backends/cuda/nvrtc_api.h"

#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <sstream>

namespace metallic::cuda {

using nvrtcProgram = struct _nvrtcProgram*;
using nvrtcResult = int;

struct Nvrtc::Api {
  nvrtcResult (*nvrtcVersion)(int*, int*);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                                    const char* const*);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
  nvrtcResult (*nvrtcGetNumSupportedArchs)(int*);
  nvrtcResult (*nvrtcGetSupportedArchs)(int*);
  const char* (*nvrtcGetErrorString)(nvrtcResult);
};

namespace {

std::vector<std::string> search_dirs() {
  std::vector<std::string> dirs;
  auto split = [&](const char* value) {
    if (!value) return;
    std::stringstream ss(value);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  };
  split(std::getenv("PYMETALLIC_NVRTC_PATH"));
  if (const char* h = std::getenv("CUDA_HOME")) dirs.push_back(std::string(h) + "/lib64");
  if (const char* h = std::getenv("CUDA_PATH")) dirs.push_back(std::string(h) + "/lib64");
  dirs.push_back("/usr/local/cuda/lib64");
  dirs.push_back("");  // the dynamic loader's search path
  return dirs;
}

const char* const kNames[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};

void* open_nvrtc(std::string& tried) {
  for (const auto& dir : search_dirs()) {
    for (const char* name : kNames) {
      std::string path = dir.empty() ? name : dir + "/" + name;
      if (void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    }
    tried += (tried.empty() ? "" : ", ") + (dir.empty() ? std::string("the loader's path") : dir);
  }
  return nullptr;
}

}  // namespace

std::string Nvrtc::identity() {
  for (const auto& dir : search_dirs()) {
    if (dir.empty()) break;
    for (const char* name : kNames) {
      std::string path = dir + "/" + name;
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      char resolved[PATH_MAX];
      std::string real = ::realpath(path.c_str(), resolved) ? resolved : path;
      return real + ":" + std::to_string(static_cast<long long>(st.st_size));
    }
  }
  // Only the loader knows where it is: ask NVRTC itself (slower, still correct).
  const Nvrtc* n = get();
  return n ? "nvrtc " + n->version() : "none";
}

const Nvrtc* Nvrtc::get(std::string* why) {
  static std::once_flag once;
  static Nvrtc* instance = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    void* h = open_nvrtc(tried);
    if (!h) {
      failure = "NVRTC (libnvrtc.so) was not found; looked in " + tried +
                ". Install the CUDA toolkit or set PYMETALLIC_NVRTC_PATH";
      return;
    }
    auto* api = new Api();
    bool ok = true;
#define PM_LOAD(name) ok = ok && (*reinterpret_cast<void**>(&api->name) = ::dlsym(h, #name)) != nullptr
    PM_LOAD(nvrtcVersion);
    PM_LOAD(nvrtcCreateProgram);
    PM_LOAD(nvrtcCompileProgram);
    PM_LOAD(nvrtcGetProgramLogSize);
    PM_LOAD(nvrtcGetProgramLog);
    PM_LOAD(nvrtcGetPTXSize);
    PM_LOAD(nvrtcGetPTX);
    PM_LOAD(nvrtcGetCUBINSize);
    PM_LOAD(nvrtcGetCUBIN);
    PM_LOAD(nvrtcDestroyProgram);
    PM_LOAD(nvrtcGetNumSupportedArchs);
    PM_LOAD(nvrtcGetSupportedArchs);
    PM_LOAD(nvrtcGetErrorString);
#undef PM_LOAD
    if (!ok) {
      failure = "the NVRTC library found is too old (CUDA 11.2 or newer is needed)";
      delete api;
      return;
    }
    instance = new Nvrtc();
    instance->api_ = api;
    api->nvrtcVersion(&instance->major_, &instance->minor_);
  });
  if (!instance && why) *why = failure;
  return instance;
}

std::string Nvrtc::version() const { return std::to_string(major_) + "." + std::to_string(minor_); }

std::vector<int> Nvrtc::architectures() const {
  int n = 0;
  api_->nvrtcGetNumSupportedArchs(&n);
  std::vector<int> archs(static_cast<size_t>(n));
  if (n > 0) api_->nvrtcGetSupportedArchs(archs.data());
  return archs;
}

NvrtcOutput Nvrtc::compile(const std::string& source, const std::string& name, const std::vector<std::string>& options,
                           bool want_cubin) const {
  NvrtcOutput out;
  nvrtcProgram program = nullptr;
  if (int r = api_->nvrtcCreateProgram(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr); r != 0) {
    out.log = std::string("nvrtcCreateProgram failed: ") + api_->nvrtcGetErrorString(r);
    return out;
  }
  std::vector<const char*> argv;
  for (const auto& o : options) argv.push_back(o.c_str());
  int result = api_->nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  size_t log_size = 0;
  api_->nvrtcGetProgramLogSize(program, &log_size);
  if (log_size > 1) {
    out.log.resize(log_size);
    api_->nvrtcGetProgramLog(program, &out.log[0]);
    out.log.resize(log_size - 1);
  }
  if (result == 0) {
    size_t size = 0;
    if (want_cubin) {
      api_->nvrtcGetCUBINSize(program, &size);
      out.binary.resize(size);
      if (size) api_->nvrtcGetCUBIN(program, &out.binary[0]);
    } else {
      api_->nvrtcGetPTXSize(program, &size);
      out.binary.resize(size);
      if (size) api_->nvrtcGetPTX(program, &out.binary[0]);
    }
    out.ok = true;
  } else if (out.log.empty()) {
    out.log = api_->nvrtcGetErrorString(result);
  }
  api_->nvrtcDestroyProgram(&program);
  return out;
}

}  // namespace metallic::cuda
