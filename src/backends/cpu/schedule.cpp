#include "backends/cpu/schedule.h"

#include <cstdlib>
#include <sstream>
#include <string>

#include "metallic/error.h"

namespace metallic::cpu {

Schedule current_schedule() {
  Schedule s;
  const char* env = std::getenv("PYMETALLIC_CPU_SCHEDULE");
  if (!env || !*env) return s;
  std::istringstream words(env);
  std::string w;
  while (std::getline(words, w, ',')) {
    if (w == "auto" || w.empty()) continue;
    if (w == "fibers")
      s.fibers = true;
    else if (w == "nofission")
      s.no_fission = true;
    else if (w == "serial")
      s.serial = true;
    else
      throw Error("PYMETALLIC_CPU_SCHEDULE: unknown word '" + w + "' (expected auto, fibers, nofission, serial)");
  }
  return s;
}

}  // namespace metallic::cpu
