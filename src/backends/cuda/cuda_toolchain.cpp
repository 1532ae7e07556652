#include "backends/cuda/cuda_toolchain.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "backends/cuda/entry_wrapper.h"
#include "backends/cuda/nvrtc_api.h"
#include "core/disk_cache.h"
#include "core/runtime_files.h"
#include "metallic/error.h"
#include "metallic/metallic.h"

namespace metallic::cuda {

namespace {

// NVRTC writes "file(12): error: ..."; every other tool (and our CPU backend) writes
// "file:12: error: ...". Use the common form so messages look the same on every device.
std::string normalize_locations(const std::string& log) {
  std::string out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    size_t open = line.find('(');
    size_t close = line.find("): ", open == std::string::npos ? 0 : open);
    if (open != std::string::npos && close != std::string::npos && close > open + 1 &&
        line.find_first_not_of("0123456789", open + 1) == close)
      line = line.substr(0, open) + ":" + line.substr(open + 1, close - open - 1) + ":" + line.substr(close + 2);
    out += line + "\n";
  }
  return out;
}

// The user's diagnostics first: NVRTC names the user's file thanks to #line.
std::string summarize(const std::string& log, const std::string& display_name) {
  std::istringstream in(log);
  std::string line, user, first;
  int kept = 0;
  while (std::getline(in, line)) {
    if (first.empty() && line.find("error") != std::string::npos) first = line;
    // "program.metal:12: error: ..." (not NVRTC's closing "1 error detected in ... program.metal.cu").
    if (line.find(display_name + ":") != std::string::npos && line.find("error") != std::string::npos && kept < 8) {
      user += line + "\n";
      ++kept;
    }
  }
  if (!user.empty()) return user;
  // An error inside the runtime (a static_assert of metal_as_type.h, ...): NVRTC names the
  // user's line as "detected during instantiation of ... at line 5 of program.metal".
  size_t message = first.find("error: ");
  std::string marker = " of " + display_name;
  std::istringstream again(log);
  while (message != std::string::npos && std::getline(again, line)) {
    size_t of = line.find(marker);
    size_t at = line.rfind("at line ", of);
    if (of == std::string::npos || at == std::string::npos) continue;
    std::string number = line.substr(at + 8, of - at - 8);
    if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos) continue;
    return display_name + ":" + number + ": " + first.substr(message) + "\n";
  }
  return first.empty() ? log.substr(0, 2000) : first + "\n";
}

// PYMETALLIC_CUDA_RUNTIME_SUBSET: "0" includes the whole runtime library in every unit;
// "strict" compiles the subset a program names and reports its failure as it is (the test
// suite's setting: a name missed by entry_wrapper.cpp's detection then fails loudly);
// anything else (the default) retries a failed subset with the whole library.
enum class Subset { Whole, Retry, Strict };
Subset subset_mode() {
  const char* v = std::getenv("PYMETALLIC_CUDA_RUNTIME_SUBSET");
  std::string s = v ? v : "";
  if (s == "0") return Subset::Whole;
  return s == "strict" ? Subset::Strict : Subset::Retry;
}

// PYMETALLIC_NVRTC_THREADS, else 1: NVRTC runs the front end of one program at a time in a
// process (measured: a second thread's compile starts only when the first has finished parsing,
// docs/performance.md), and our front end is about as long as all of one program's back end,
// so more programs on threads only add front ends.
size_t nvrtc_threads() {
  if (const char* v = std::getenv("PYMETALLIC_NVRTC_THREADS"); v && *v) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end && *end == '\0' && n >= 1) return static_cast<size_t>(std::min(n, 64L));
    throw ValidationError(std::string("PYMETALLIC_NVRTC_THREADS must be a whole number of at least 1, not '") + v +
                          "'");
  }
  return 1;
}

// A counting semaphore of nvrtc_threads() slots (C++17 has none).
class CompileSlot {
 public:
  CompileSlot() {
    std::unique_lock<std::mutex> lock(mutex());
    const size_t limit = std::max<size_t>(1, nvrtc_threads());
    cv().wait(lock, [&] { return busy() < limit; });
    ++busy();
  }
  ~CompileSlot() {
    {
      std::lock_guard<std::mutex> lock(mutex());
      --busy();
    }
    cv().notify_all();
  }
  // Until no compile holds a slot (a background compile then starts; one that begins
  // later overlaps it, NVRTC parsing one program at a time).
  static void wait_until_idle() {
    std::unique_lock<std::mutex> lock(mutex());
    cv().wait(lock, [] { return busy() == 0; });
  }
  CompileSlot(const CompileSlot&) = delete;
  CompileSlot& operator=(const CompileSlot&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::condition_variable& cv() {
    static std::condition_variable c;
    return c;
  }
  static size_t& busy() {
    static size_t n = 0;
    return n;
  }
};

}  // namespace

size_t nvrtc_programs(size_t kernels) { return std::max<size_t>(1, std::min(kernels, nvrtc_threads())); }

std::vector<CudaBinary> build_programs(const msl::TranslatedSource& source, const CompileOptions& options,
                                       int sm_version, int driver_version, size_t programs) {
  programs = std::max<size_t>(1, std::min(programs, source.kernels.size()));
  if (programs == 1) return {build(source, options, sm_version, driver_version)};
  std::vector<CudaBinary> out(programs);
  std::vector<std::exception_ptr> failed(programs);
  auto one = [&](size_t p) {
    try {
      out[p] = build(source, options, sm_version, driver_version, Entries::Direct, KernelSet{programs, p});
    } catch (...) {
      failed[p] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t p = 1; p < programs; ++p) threads.emplace_back(one, p);
  one(0);
  for (auto& t : threads) t.join();
  // The first program's error: every program holds the whole translated code, so an error
  // in it is reported by each, and program 0's message is the one a single program gives.
  for (auto& e : failed)
    if (e) std::rethrow_exception(e);
  return out;
}

bool whole_runtime_requested() { return subset_mode() == Subset::Whole; }

int parse_arch(const std::string& arch) {
  int v = 0;
  if (arch.rfind("sm_", 0) == 0 || arch.rfind("compute_", 0) == 0) {
    std::string digits = arch.substr(arch.find('_') + 1);
    while (!digits.empty() && !std::isdigit(static_cast<unsigned char>(digits.back()))) digits.pop_back();
    if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit)) v = std::stoi(digits);
  }
  if (v < 50) throw ValidationError("unknown CUDA architecture '" + arch + "': use the form sm_90 (sm_50 or newer)");
  return v;
}

CudaBinary build(const msl::TranslatedSource& source, const CompileOptions& options, int sm_version, int driver_version,
                 Entries entries, KernelSet only, bool syntax_only, bool cached_only, bool background) {
  CudaBinary out;
  const Subset subset = subset_mode();
  out.source = generate_translation_unit(source, entries, only, subset == Subset::Whole);
  std::vector<std::string> flags = {"--std=c++17", "-default-device", "--include-path=" + runtime_dir(), "-w"};
  // No -fwrapv here: NVRTC has no such option. Signed + - * << compile to PTX add/sub/mul.lo/shl,
  // which wrap, so values known only at run time wrap as in Metal; the runtime's own integer
  // code is unsigned (detail::wrap_t). What can still differ is an overflow the optimiser
  // proves at compile time (e.g. folding `x + 1 > x` to true) - docs/msl-support.md.
  // Metal's fast math: the unqualified math functions are the fast ones (METAL_FAST_MATH
  // makes the runtime pick fast:: intrinsics) and multiply-adds contract. Not
  // --use_fast_math: it would turn precise::sin into __sinf too. Denormals are kept (no
  // --ftz): comparisons and classification then agree with the CPU, at no cost on sm_70+.
  if (options.fast_math()) {
    flags.push_back("-DMETAL_FAST_MATH=1");
    flags.push_back("--fmad=true");
  }
  if (syntax_only) flags.push_back("-fdevice-syntax-only");

  // The key names the requested GPU, not what NVRTC will make of it, so a warm start can
  // find the binary without loading NVRTC at all.
  const std::vector<std::string> key_flags = flags;  // before the architecture NVRTC is given
  auto key_of = [&](const std::string& unit) {
    std::string text = unit + "\n" + Nvrtc::identity() + "\nsm_" + std::to_string(sm_version) + "\n" +
                       std::to_string(driver_version) + "\n" + runtime_files_hash();
    for (auto& f : key_flags) text += f + "\n";
    return cache::hash_hex(text);
  };
  std::string key = key_of(out.source);
  // Made per call: the folder follows $PYMETALLIC_CACHE_DIR as it is now (a process that
  // changes it, as the tests do, must not keep writing to the first one).
  cache::DiskCache disk("cuda");
  // A subset that failed and compiled whole (below) left a ".whole" mark under the subset's
  // key: the binary is under the whole unit's. Strict mode ignores the mark (it must fail).
  if (subset == Subset::Retry && disk.read(key, ".whole")) {
    out.source = generate_translation_unit(source, entries, only, /*whole_runtime=*/true);
    key = key_of(out.source);
  }
  if (syntax_only && disk.read(key, ".ok")) return out;
  if (auto cached = disk.read(key, ".cubin")) {
    out.image = *cached, out.is_cubin = true, out.arch = "sm_" + std::to_string(sm_version);
    return out;
  }
  if (auto cached = disk.read(key, ".ptx")) {
    out.image = *cached, out.arch = "compute (PTX) for sm_" + std::to_string(sm_version);
    return out;
  }

  if (cached_only) return out;

  std::string why;
  const Nvrtc* nvrtc = Nvrtc::get(&why);
  if (!nvrtc) throw Error("cannot compile for CUDA: " + why);
  auto archs = nvrtc->architectures();
  bool cubin = std::find(archs.begin(), archs.end(), sm_version) != archs.end();
  int target = sm_version;
  if (!cubin) {
    // Newer GPU than this NVRTC knows: PTX for the newest architecture below it; the
    // driver finishes the compile.
    int best = 0;
    for (int a : archs)
      if (a <= sm_version) best = std::max(best, a);
    if (best == 0) throw Error("NVRTC " + nvrtc->version() + " cannot compile for sm_" + std::to_string(sm_version));
    target = best;
  }
  out.is_cubin = cubin;
  out.arch = (cubin ? "sm_" : "compute_") + std::to_string(target);
  flags.push_back("--gpu-architecture=" + out.arch);

  // At most nvrtc_threads() NVRTC compiles at once (each takes 100-300 MB): the programs of
  // build_programs run together, other compiles of the process wait.
  std::optional<CompileSlot> slot;
  if (background)
    CompileSlot::wait_until_idle();
  else
    slot.emplace();
  NvrtcOutput result = nvrtc->compile(out.source, options.filename + ".cu", flags, cubin);
  if (!result.ok && subset == Subset::Retry && out.source.find("#define METAL_RT_OMIT_") != std::string::npos) {
    // The subset of the runtime library failed: a program error (the whole library reports
    // it just the same, with every name in scope), or a name the detection missed.
    std::string whole = generate_translation_unit(source, entries, only, /*whole_runtime=*/true);
    result = nvrtc->compile(whole, options.filename + ".cu", flags, cubin);
    if (result.ok) disk.write(key, ".whole", "whole\n");
    out.source = whole;
    key = key_of(whole);
  }
  result.log = normalize_locations(result.log);
  if (!result.ok) {
    std::string saved = disk.path(key, ".cu");
    disk.write(key, ".cu", out.source);
    throw CompileError("cannot compile '" + options.filename + "' for CUDA (" + out.arch + "):\n" +
                           summarize(result.log, options.filename) + "(generated CUDA C++ saved as " + saved + ")",
                       result.log);
  }
  if (syntax_only) {
    disk.write(key, ".ok", "ok\n");
    return out;
  }
  out.image = result.binary;
  if (!cubin && (out.image.empty() || out.image.back() != '\0')) out.image.push_back('\0');
  disk.write(key, cubin ? ".cubin" : ".ptx", out.image);
  return out;
}

}  // namespace metallic::cuda
