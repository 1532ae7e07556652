// NVRTC, loaded at run time: compiles the generated CUDA C++ to a cubin (or PTX) without
// nvcc and without a GPU, so `pymetallic compile --target cuda` works anywhere NVRTC is.
#pragma once

#include <string>
#include <vector>

namespace metallic::cuda {

struct NvrtcOutput {
  bool ok = false;
  std::string log;
  std::string binary;  // cubin, or PTX text when compiled for a virtual architecture
};

class Nvrtc {
 public:
  // nullptr when no libnvrtc was found (the reason in *why). Searched: $PYMETALLIC_NVRTC_PATH
  // (folders, ':'-separated), $CUDA_HOME/lib64, $CUDA_PATH/lib64, /usr/local/cuda/lib64, then
  // the loader's own search path.
  static const Nvrtc* get(std::string* why = nullptr);
  // Which NVRTC `get` would load, without loading it (a 100 MB library takes ~10 ms to
  // open): its resolved path and size. Part of cache keys, so a warm start never loads it.
  static std::string identity();

  std::string version() const;             // "13.0"
  std::vector<int> architectures() const;  // real architectures NVRTC can emit cubins for, e.g. 90
  NvrtcOutput compile(const std::string& source, const std::string& name, const std::vector<std::string>& options,
                      bool want_cubin) const;

 private:
  Nvrtc() = default;
  struct Api;
  Api* api_ = nullptr;
  int major_ = 0, minor_ = 0;
};

}  // namespace metallic::cuda
