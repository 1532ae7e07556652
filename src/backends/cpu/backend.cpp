// The CPU backend's entry in the registry (core/backend.h): its devices, offline
// compilation and toolchain.
#include <filesystem>

#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/toolchain.h"
#include "core/backend.h"

namespace metallic::backend {

std::vector<std::shared_ptr<DeviceImpl>> enumerate_cpu_devices();  // cpu_device.cpp

namespace {

OfflineResult offline_compile(const msl::TranslatedSource& source, const CompileOptions& options,
                              const OfflineRequest& request) {
  OfflineResult r;
  r.generated = cpu::generate_translation_unit(source);
  r.artifact = "shared object";
  if (request.emit_only) return r;
  cpu::Toolchain toolchain;
  std::string path = toolchain.build(r.generated, options.filename, options.fast_math());
  std::error_code ec;
  if (auto size = std::filesystem::file_size(path, ec); !ec) r.binary_size = static_cast<uint64_t>(size);
  r.artifact = "shared object (" + toolchain.fingerprint() + ")";
  return r;
}

std::pair<std::string, std::string> describe_toolchain() {
  try {
    cpu::Toolchain t;
    return {"cpu", t.compiler() + ": " + t.fingerprint()};
  } catch (const Error& e) {
    return {"cpu", std::string("unavailable: ") + e.what()};
  }
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend b{"cpu", enumerate_cpu_devices, offline_compile, describe_toolchain};
  return b;
}

}  // namespace metallic::backend
