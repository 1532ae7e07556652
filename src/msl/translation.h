// The front end's one product: MSL source turned into C++17 that compiles against
// the runtime library (src/runtime), plus a description of every kernel in it.
//
// Backends never look at MSL. They take `TranslatedSource`, put their prelude in front
// of `code`, append one entry wrapper per `KernelInfo`, and compile the result.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace metallic::msl {

enum class AddressSpace { None, Device, Constant, Threadgroup, Thread };

// The built-in position attributes of MSL.md §3.3.
enum class BuiltinKind {
  None,
  ThreadPositionInGrid,
  ThreadsPerGrid,
  ThreadPositionInThreadgroup,
  ThreadsPerThreadgroup,
  DispatchThreadsPerThreadgroup,
  ThreadIndexInThreadgroup,
  ThreadgroupPositionInGrid,
  ThreadgroupsPerGrid,
  ThreadIndexInSimdgroup,
  SimdgroupIndexInThreadgroup,
  SimdgroupsPerThreadgroup,
  DispatchSimdgroupsPerThreadgroup,
  ThreadsPerSimdgroup,
  ThreadExecutionWidth,
  ThreadIndexInQuadgroup,
  QuadgroupIndexInThreadgroup,
  QuadgroupsPerThreadgroup,
  DispatchQuadgroupsPerThreadgroup,
  GridOrigin,
  GridSize,
};

// The attribute spelling of a builtin ("thread_position_in_grid"), for messages.
const char* builtin_name(BuiltinKind kind);

enum class ArgKind { Buffer, Threadgroup, Texture, Sampler, Builtin };

// The texture types a kernel argument can be bound to (Other: any other texture or depth
// type: a multisampled or depth texture, which the runtime does not support yet).
enum class TextureShape { Other, Tex1D, Tex1DArray, Tex2D, Tex2DArray, Tex3D, Cube, CubeArray, Buffer };
// Its MSL name ("texture2d_array"; "?" for Other).
const char* texture_shape_name(TextureShape shape);

// A texture argument's type (`texture2d<float, access::read>`), parsed once by the front end
// so that a dispatch checks the bound texture against it without reading type strings.
struct TextureArgType {
  std::string name;  // the type's template name without metal:: ("texture2d"), for messages
  TextureShape shape = TextureShape::Other;
  bool supported = false;   // a texture* type the runtime runs (not depth*, not *_ms)
  std::string element;      // the texel type as written ("float", "half", "uint", ...)
  std::string sample_type;  // the data it reads: "float" (float/half/bfloat), "int", "uint"; else `element`
  bool written = false;     // access::write or access::read_write
};

struct KernelArg {
  std::string name;          // parameter name as written ("" when unnamed)
  std::string type;          // C++ type after address-space erasure: "float*", "const Params&", "uint3"
  std::string element_type;  // pointee/referee type without cv: "float", "Params"; builtins: "uint"/"ushort"
  ArgKind kind = ArgKind::Buffer;
  AddressSpace space = AddressSpace::None;
  bool is_reference = false;  // `T&` rather than `T*`
  bool is_const = false;      // read-only (const-qualified or constant address space)
  int index = -1;  // [[buffer(n)]] / [[threadgroup(n)]] / [[texture(n)]] / [[sampler(n)]], implicit numbering resolved
  BuiltinKind builtin = BuiltinKind::None;
  int components = 1;  // 1..3 for builtins
  int line = 0;
  // The type names a template parameter of a template kernel (`const device T*`): `type` and
  // `element_type` are then as written, meaningful only inside that instantiation.
  bool dependent_type = false;
  // Whether the kernel can touch the argument (MTLArgument.isActive): false when its name
  // appears in the body only inside branches that function constants make dead (or not at
  // all). Such an argument needs no binding; a used one must be bound.
  bool used = true;
  // ArgKind::Texture only: its type, parsed (meaningful unless dependent_type).
  TextureArgType texture;
};

// A division the CPU entry splits by runs of threads (fast_division.h, SplitSite), with its
// `constant` arguments as argument indices: c = [cmin, cmax] + the sum of the terms.
struct FastDivisionSplitTerm {
  int sign = 1;
  size_t arg = 0;
  std::string member;
  bool operator==(const FastDivisionSplitTerm& o) const { return sign == o.sign && arg == o.arg && member == o.member; }
};
struct FastDivisionSplit {
  size_t divisor_arg = 0;
  std::string divisor_member;
  long long cmin = 0, cmax = 0;
  std::vector<FastDivisionSplitTerm> terms;
  bool operator==(const FastDivisionSplit& o) const {
    return divisor_arg == o.divisor_arg && divisor_member == o.divisor_member && cmin == o.cmin && cmax == o.cmax &&
           terms == o.terms;
  }
};

struct KernelInfo {
  std::string name;       // the library's function name ([[host_name]] or the C++ name)
  std::string call_name;  // C++ expression that names the function inside the user namespace
  std::vector<KernelArg> args;
  int max_total_threads_per_threadgroup = 0;  // 0: no attribute (or one only C++ can evaluate)
  // `max_total_threads_per_threadgroup(BM * BN * 32)` on a template kernel: a C++ constant
  // expression, valid after the user code in the user namespace, that the backends evaluate
  // per instantiation ("" when the attribute is absent or its value is known above).
  std::string max_threads_expression;
  bool uses_threadgroup_barrier = false;  // the kernel or a function it calls
  bool uses_simdgroup_functions = false;  // simd_* / quad_* / simdgroup_barrier / simdgroup matrices
  // CPU only: the kernel split at its barriers into loops over the group's threads
  // (barrier_fission.h), a template the CPU backend instantiates; "" when it does not apply.
  std::string fission_call_name;
  bool fission_retires = false;  // its threads may `return` before the last barrier
  // CPU only: a copy whose divisions by `constant` arguments go through reciprocals
  // (fast_division.h), "" when it does not apply; and those divisors, each as the argument's
  // index and the member access after it ("" or ".width"). The entry runs the copy when
  // `::metal::detail::fast_divisor_ok` holds for each.
  std::string fast_division_call_name;
  std::vector<std::pair<size_t, std::string>> fast_divisors;
  // Its divisions of `(t + c)` split by runs of threads (fast_division.h, SplitSite): when not
  // empty, the copy takes the x position of the run's first thread as its last argument.
  std::vector<FastDivisionSplit> fast_division_splits;
  std::string file;
  int line = 0;
};

// A `constant T name [[function_constant(n)]];` declaration (issue 3), for reflection.
struct FunctionConstantInfo {
  std::string name;
  int index = -1;        // -1 when the index expression names something only C++ can evaluate
  std::string type;      // C++ type text: "bool", "int", "float"
  bool defined = false;  // a value was given in Options::function_constants
};

// A file the translation depended on besides the source: an #include'd file as read (its
// content hash, core/hash.h), or an include candidate that did not exist (hash ""): a file
// created there later would have been included instead of a later candidate.
struct InputFile {
  std::string path;
  std::string hash;
};

struct TranslatedSource {
  // User code rewritten to C++17, with `#line` directives pointing at the user's files.
  // It expects to be placed inside `namespace metal_user { ... }` after the runtime's
  // prelude (see src/runtime/README.md); kernels become ordinary functions there.
  std::string code;
  std::vector<KernelInfo> kernels;
  std::vector<FunctionConstantInfo> function_constants;
  // Overloads on address spaces were resolved by run-time checks (address_space_overloads.h):
  // the entry wrappers must record what those checks need.
  bool checks_address_spaces = false;
  // Compiled for validation mode (issue 12): accesses are instrumented (msl/validation.h),
  // kernels keep their barriers (no fission), and the generated code defines PM_VALIDATION.
  bool validation = false;
  // The program calls os_log / printf: entry wrappers tell each thread where messages go.
  bool uses_logging = false;
  // Every file the preprocessor read or looked for (the translation cache checks them).
  std::vector<InputFile> inputs;
};

struct Options {
  std::string filename = "program.metal";                   // the name diagnostics use for the main source
  std::vector<std::string> include_paths;                   // searched for #include "..." and <...>
  std::vector<std::pair<std::string, std::string>> macros;  // -D NAME=VALUE
  std::string runtime_dir;                                  // where src/runtime lives (metal_macros.h)
  int language_version = 320;                               // __METAL_VERSION__ (MSL 3.2)
  bool fast_math = true;                                    // __FAST_MATH__, __METAL_MAYBE_FAST_MATH__ true
  // Function-constant values (issue 3); text of a C++ literal. Keyed by name, or by "#n" for
  // index n. A constant without a value is "undefined": is_function_constant_defined() is false,
  // it reads as T(), and parameters conditional on it are removed.
  std::map<std::string, std::string> function_constants;
  bool validation = false;  // instrument accesses (issue 12)
};

struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string format() const;  // "file:line:col: error: message"
};

// Thrown for invalid MSL: unbalanced brackets, bad attributes, preprocessor errors...
class TranslationError : public std::runtime_error {
 public:
  explicit TranslationError(Diagnostic d) : std::runtime_error(d.format()), diagnostic(std::move(d)) {}
  Diagnostic diagnostic;
};

TranslatedSource translate(const std::string& source, const Options& options);

}  // namespace metallic::msl
