#include "backends/cuda/driver_api.h"

#include <dlfcn.h>

#include <mutex>

#include "metallic/error.h"

namespace metallic::cuda {

namespace {

struct Loaded {
  DriverApi api;
  bool ok = false;
  std::string why;
};

Loaded load() {
  Loaded l;
  void* handle = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    l.why = "libcuda.so.1 (the NVIDIA driver) was not found";
    return l;
  }
#define METALLIC_RESOLVE(name, ret, params)                                      \
  l.api.name = reinterpret_cast<ret(*) params>(::dlsym(handle, #name));          \
  if (!l.api.name) {                                                             \
    l.why = std::string("the NVIDIA driver lacks ") + #name + ": it is too old"; \
    return l;                                                                    \
  }
  METALLIC_CUDA_DRIVER_FUNCTIONS(METALLIC_RESOLVE)
#undef METALLIC_RESOLVE
  for (const char* name : {"cuStreamWaitValue64_v2", "cuStreamWaitValue64"})
    if (!l.api.cuStreamWaitValue64)
      l.api.cuStreamWaitValue64 = reinterpret_cast<decltype(l.api.cuStreamWaitValue64)>(::dlsym(handle, name));
  for (const char* name : {"cuStreamWriteValue64_v2", "cuStreamWriteValue64"})
    if (!l.api.cuStreamWriteValue64)
      l.api.cuStreamWriteValue64 = reinterpret_cast<decltype(l.api.cuStreamWriteValue64)>(::dlsym(handle, name));
  CUresult r = l.api.cuInit(0);
  if (r != CUDA_SUCCESS) {
    l.why = "cuInit failed: error " + std::to_string(r);
    return l;
  }
  l.api.cuDriverGetVersion(&l.api.version);
  l.ok = true;
  return l;
}

}  // namespace

const DriverApi* driver(std::string* why) {
  static Loaded loaded = load();
  if (!loaded.ok) {
    if (why) *why = loaded.why;
    return nullptr;
  }
  return &loaded.api;
}

std::string describe(CUresult result) {
  const DriverApi* api = driver();
  const char* name = nullptr;
  const char* text = nullptr;
  if (api) {
    api->cuGetErrorName(result, &name);
    api->cuGetErrorString(result, &text);
  }
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text) out += std::string(" (") + text + ")";
  return out;
}

void check(CUresult result, const char* what) {
  if (result != CUDA_SUCCESS) throw Error(std::string(what) + ": " + describe(result));
}

}  // namespace metallic::cuda
