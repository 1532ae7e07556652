#include <sys/stat.h>

#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/toolchain.h"
#include "core/backend.h"

namespace metallic::backend {

OfflineResult offline_compile_cpu(const msl::TranslatedSource& source, const CompileOptions& options, bool emit_only) {
  OfflineResult r;
  r.generated = cpu::generate_translation_unit(source);
  r.artifact = "shared object";
  if (emit_only) return r;
  cpu::Toolchain toolchain;
  std::string path = toolchain.build(r.generated, options.filename, options.fast_math());
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) r.binary_size = static_cast<uint64_t>(st.st_size);
  r.artifact = "shared object (" + toolchain.fingerprint() + ")";
  return r;
}

}  // namespace metallic::backend
