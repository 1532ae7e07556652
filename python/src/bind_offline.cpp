// Offline compilation and toolchain discovery, for `pymetallic compile` and `pymetallic info`.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "core/backend.h"
#include "core/disk_cache.h"
#include "metallic/error.h"
#include "metallic/metallic.h"
#include "metallic/offline.h"
#include "python_gate.h"

namespace nb = nanobind;
using namespace metallic;

namespace pymetallic_bindings {

CompileOptions compile_options_from(nb::handle options);  // bind_library.cpp

void init_offline(nb::module_& m) {
  m.def(
      "compile_offline",
      [](const std::string& source, nb::handle options, const std::string& target, const std::string& arch,
         bool emit_only, bool indirect_entries) {
        CompileOptions o = compile_options_from(options);
        OfflineResult r;
        {
          ReleaseGil release;
          r = compileOffline(source, o, target, arch, emit_only, indirect_entries);
        }
        nb::dict out;
        out["functions"] = r.functions;
        out["generated"] = r.generated;
        out["artifact"] = r.artifact;
        out["binary_size"] = r.binary_size;
        out["programs"] = r.programs;
        out["units"] = r.units;
        return out;
      },
      nb::arg("source"), nb::arg("options") = nb::none(), nb::arg("target") = "cpu", nb::arg("arch") = "",
      nb::arg("emit_only") = false, nb::arg("indirect_entries") = false,
      nb::sig("def compile_offline(source: str, options: dict[str, object] | None = None, target: str = 'cpu', "
              "arch: str = '', emit_only: bool = False, indirect_entries: bool = False) -> dict[str, object]"),
      "Translate and compile for a target without running; raises CompileError on invalid source. "
      "indirect_entries: for cuda, the entry points of dispatch_threadgroups_with_indirect_buffer instead.");

  m.def(
      "_cache_info",
      [] {
        cache::Summary s = cache::summarize();
        nb::dict out;
        out["directory"] = s.directory;
        out["entries"] = s.entries;
        out["files"] = s.files;
        out["bytes"] = s.bytes;
        out["limit"] = s.limit;
        nb::dict backends;
        for (const auto& [name, bytes] : s.by_backend) backends[name.c_str()] = bytes;
        out["backends"] = backends;
        return out;
      },
      "The kernel cache: folder, entries, files, bytes, size limit, bytes per backend.");
  m.def("_cache_clear", &cache::clear, "Removes every entry of the kernel cache; returns the number of files removed.");

  m.def(
      "toolchains",
      [] {
        nb::dict out;
        for (const backend::Backend& b : backend::backends()) {
          auto [label, description] = b.describe_toolchain();
          out[label.c_str()] = description;
        }
        return out;
      },
      "Each backend's compiler: {label: version, or 'unavailable: why'} (labels 'cpu', 'nvrtc').");
}

}  // namespace pymetallic_bindings
