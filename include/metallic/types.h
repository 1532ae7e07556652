// Small value types shared by the whole public API.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace metallic {

// Metal's MTLSize: a 3-D extent in threads or threadgroups.
struct Size3 {
  uint64_t width = 1, height = 1, depth = 1;
  uint64_t count() const { return width * height * depth; }
};

// Metal's storage modes, numbered as the original pymetallic numbered them.
enum class StorageMode : int { Shared = 0, Managed = 1, Private = 2 };

enum class CommandBufferStatus { NotEnqueued, Enqueued, Committed, Scheduled, Completed, Error };

// What a device can do; the numbers a program sizes its dispatches by.
struct DeviceLimits {
  uint32_t max_threads_per_threadgroup = 1024;
  uint32_t max_threadgroup_memory_length = 32768;
  uint32_t thread_execution_width = 32;
  uint64_t recommended_working_set_size = 0;
  bool has_unified_memory = true;
  // The most threadgroups one dispatch may have along each axis and in all (positions are
  // 32-bit in MSL: threads per grid are below 2^32 along each axis everywhere).
  uint64_t max_threadgroups_per_grid[3] = {0xffffffffull, 0xffffffffull, 0xffffffffull};
  uint64_t max_total_threadgroups = 0xffffffffull;
};

// MTLMathMode. Here `relaxed` and `fast` compile alike: both allow reassociation,
// contraction and the fast math functions, and neither assumes away infinities and NaNs.
enum class MathMode { Safe, Relaxed, Fast };

// Metal's MTLCompileOptions, plus function-constant values for libraries built at once.
struct CompileOptions {
  std::vector<std::pair<std::string, std::string>> macros;  // preprocessor NAME -> value
  std::vector<std::string> include_paths;
  MathMode math_mode = MathMode::Fast;  // Metal's default (fastMathEnabled = YES)
  int language_version = 320;           // MTLLanguageVersion as __METAL_VERSION__: 100 * major + 10 * minor
  bool fast_math() const { return math_mode != MathMode::Safe; }
  std::string filename = "program.metal";
  std::map<std::string, std::string> function_constants;  // name or "#index" -> C++ literal
  // Validation mode (issue 12): instrumented accesses, races, barrier divergence. Also on
  // for every library when PYMETALLIC_VALIDATION=1 or MTL_SHADER_VALIDATION=1.
  bool validation = false;
  // CPU: compile the kernel's C++ with -O0 -g (its #line directives point at the .metal file).
  bool debug = false;
  // CPU: run the library's kernels in a separate worker process that shares only the buffers'
  // memory (docs/security.md); a crash there fails the command buffer, not the caller.
  bool isolate = false;
};

// Whether PYMETALLIC_VALIDATION / MTL_SHADER_VALIDATION ask for validation of every library.
bool validation_from_environment();

}  // namespace metallic
