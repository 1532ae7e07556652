#include "metallic/offline.h"

#include "core/backend.h"
#include "core/front_end_options.h"
#include "metallic/error.h"
#include "metallic/metallic.h"
#include "msl/translation.h"

namespace metallic {

OfflineResult compileOffline(const std::string& source, const CompileOptions& options, const std::string& target,
                             const std::string& arch, bool emit_only, bool indirect_entries) {
  msl::Options o = front_end_options(options);
  o.validation = options.validation;  // compile the checked variant (issue 12)
  msl::TranslatedSource translated;
  try {
    translated = msl::translate(source, o);
  } catch (const msl::TranslationError& e) {
    throw CompileError(e.diagnostic.format(), e.diagnostic.format());
  }
  const backend::Backend* chosen = nullptr;
  std::string names;
  for (const backend::Backend& b : backend::backends()) {
    if (target == b.name) chosen = &b;
    names = std::string(b.name) + (names.empty() ? "" : " or " + names);
  }
  if (!chosen) throw ValidationError("unknown target '" + target + "': use " + names);
  OfflineResult result = chosen->offline_compile(translated, options, {arch, emit_only, indirect_entries});
  for (const auto& k : translated.kernels) result.functions.push_back(k.name);
  return result;
}

}  // namespace metallic
