#include "backends/cpu/toolchain.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cctype>
#include <climits>
#include <cstring>
#include <mutex>
#include <set>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/disk_cache.h"
#include "core/runtime_files.h"
#include "metallic/error.h"
#include "metallic/metallic.h"

extern char** environ;  // what the compiler runs with: our own environment

namespace metallic::cpu {

namespace {

// Runs a program (found on $PATH) with these arguments, no shell in between; returns its
// exit status (-1 when it could not start or did not exit) and its combined stdout/stderr.
int run_program(const std::vector<std::string>& args, std::string& output) {
  output.clear();
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;  // CLOEXEC: compiles started meanwhile do not inherit it
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  pid_t pid;
  int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) != 0) {
    if (n > 0)
      output.append(buf, static_cast<size_t>(n));
    else if (errno != EINTR)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The compiler, then each of the space-separated flags, then the rest.
std::vector<std::string> command_line(const std::string& compiler, const std::string& flags,
                                      std::initializer_list<std::string> rest) {
  std::vector<std::string> args;
  std::istringstream words(compiler + " " + flags);  // the compiler may be words too: "zig c++"
  for (std::string w; words >> w;) args.push_back(w);
  args.insert(args.end(), rest);
  return args;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0 || line.rfind("flags", 0) == 0) return line;
  return "unknown-cpu";
}

// The user's diagnostics first: lines naming the user's file come before runtime noise.
std::string summarize_log(const std::string& log, const std::string& display_name) {
  std::istringstream in(log);
  std::string line, user, first;
  int kept = 0;
  while (std::getline(in, line)) {
    if (first.empty() && line.find("error") != std::string::npos) first = line;
    if (line.find(display_name + ":") != std::string::npos && line.find("error") != std::string::npos && kept < 8) {
      user += line + "\n";
      ++kept;
    }
  }
  if (!user.empty()) return user;
  // An error inside the runtime (a static_assert of metal_as_type.h, ...): report it at the
  // user's line that instantiated it ("program.metal:5:10: required from here" / "note: in
  // instantiation of ... requested here"), which is where Metal reports it.
  size_t message = first.find("error: ");
  std::istringstream again(log);
  while (message != std::string::npos && std::getline(again, line)) {
    size_t at = line.find(display_name + ":");
    if (at == std::string::npos) continue;
    size_t end = at + display_name.size();
    while (end < line.size() && (line[end] == ':' || std::isdigit(static_cast<unsigned char>(line[end])))) ++end;
    std::string where = line.substr(at, end - at);
    while (!where.empty() && where.back() == ':') where.pop_back();
    if (where.size() > display_name.size()) return where + ": " + first.substr(message) + "\n";
  }
  return first.empty() ? log.substr(0, 2000) : first + "\n";
}

}  // namespace

namespace {

// The file a command name runs ("clang++" → "/usr/bin/clang++-14"), found on $PATH without
// starting a process; empty when there is none.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// "ccache g++" -> {"ccache", "g++"}: $CXX may hold a command with arguments.
std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

const char kNoCompiler[] =
    "the CPU device needs a C++ compiler and found none (looked for $CXX, clang++, c++ and g++ on PATH, "
    "and the ziglang package). Get one with: pip install 'metallic-compute[cpu]' (zig's clang, from the "
    "package index, nothing else needed); or the system's: apt-get install g++ (Debian/Ubuntu), "
    "dnf install gcc-c++ (Fedora), xcode-select --install (macOS); or set CXX to a compiler's path";

}  // namespace

Toolchain::Toolchain() {
  // $CXX when set; else clang++ when installed, since LLVM's vectoriser turns more GPU-style
  // kernels into SIMD loops (stencils with edge conditions: the fluid demo runs 1.7x faster
  // than with g++ 12); else the system's c++ (or g++); else zig's clang, which the Python
  // package finds in the `ziglang` wheel (the [cpu] extra) and names in $PYMETALLIC_ZIG.
  const char* cxx = std::getenv("CXX");
  const char* zig = std::getenv("PYMETALLIC_ZIG");
  std::vector<std::string> command;
  if (cxx && *cxx) {
    command = split_words(cxx);
    if (command.empty() || find_program(command[0]).empty())
      throw DeviceError(std::string("CXX names '") + cxx + "', which is not an executable on PATH; " + kNoCompiler);
  } else {
    for (const char* name : {"clang++", "c++", "g++"})
      if (!find_program(name).empty()) {
        command = {name};
        break;
      }
    if (command.empty() && zig && *zig && !find_program(zig).empty()) command = {zig, "c++"};
    if (command.empty()) throw DeviceError(kNoCompiler);
  }
  for (const auto& word : command) {
    compiler_ += (compiler_.empty() ? "" : " ") + word;
  }
  // The compiler's `--version` line is part of every cache key. Asking for it starts a
  // process (tens of milliseconds for clang), so it is remembered per compiler file (path,
  // size, modification time): a cache hit in a new process starts no process at all.
  std::string program = find_program(command[0]);
  struct stat st;
  std::string identity;
  if (!program.empty() && ::stat(program.c_str(), &st) == 0) {
    char resolved[PATH_MAX];
    identity = std::string(::realpath(program.c_str(), resolved) ? resolved : program.c_str()) + ":" +
               std::to_string(static_cast<long long>(st.st_size)) + ":" +
               std::to_string(static_cast<long long>(st.st_mtime));
  }
  cache::DiskCache disk("cpu");  // per call: follows $PYMETALLIC_CACHE_DIR as it is now
  std::string key = "compiler-" + cache::hash_hex(identity + "\n" + compiler_);
  if (!identity.empty())
    if (auto known = disk.read(key, ".txt")) {
      fingerprint_ = *known;
      return;
    }
  std::string out;
  if (run_program(command_line(compiler_, "--version", {}), out) != 0 || out.empty())
    throw DeviceError("the C++ compiler '" + compiler_ + "' does not run (" + out.substr(0, out.find('\n')) + "); " +
                      kNoCompiler);
  fingerprint_ = out.substr(0, out.find('\n'));
  if (!identity.empty()) disk.write(key, ".txt", fingerprint_);
}

std::string Toolchain::compile_flags(bool fast_math, bool debug) const {
  // -march=native: the cache key includes the CPU, so a cached object never runs elsewhere.
  // -fno-semantic-interposition: kernels may be inlined into the entry loops (with -fPIC
  // alone GCC assumes another library could replace them, and inlines nothing).
  // Metal's fast math allows reassociation and contraction but keeps NaN/Inf semantics
  // that isnan/isinf rely on, so no -ffinite-math-only here.
  // -fwrapv: signed integer arithmetic wraps in user code too (INT_MAX + 1 == INT_MIN), as
  // the GPU's instructions do; the runtime computes it unsigned (detail::wrap_t) regardless.
  // -fno-finite-loops: C++ lets the compiler assume every loop without side effects ends
  // (and delete it); MSL makes no such promise, so `for (;;) {}` or a spin on a value the
  // loop cannot change stays a loop (and PYMETALLIC_KERNEL_TIMEOUT can stop it) instead of
  // vanishing, or running into the next function (GCC >= 10, Clang >= 12).
  std::string flags =
      "-std=c++17 -O3 -march=native -fPIC -shared -fno-semantic-interposition -w -fno-math-errno -fno-trapping-math";
  flags += " -fwrapv -fno-finite-loops";
  if (fast_math)
    flags += " -DMETAL_FAST_MATH=1 -fno-signed-zeros -freciprocal-math -fassociative-math -ffp-contract=fast";
  // options={"debug": True}: no optimisation, full debug information; the generated code's
  // #line directives make gdb/lldb show (and break in) the user's .metal lines.
  if (debug) flags.replace(flags.find(" -O3"), 4, " -O0 -g");
  return flags;
}

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether the object at `path` is the one that was built: its checksum (kept beside it
// when it was published) matches its bytes. A truncated object would kill the process
// with SIGBUS when loaded, one with damaged bytes compute wrong results.
bool verified(const cache::DiskCache& disk, const std::string& key, const std::string& path) {
  static std::mutex mutex;
  static std::set<std::string> known;  // verified in this process already (path, size, time)
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) return false;
  std::string id = path + ":" + std::to_string(static_cast<long long>(st.st_size)) + ":" +
                   std::to_string(static_cast<long long>(st.st_mtime));
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (known.count(id)) return true;
  }
  auto sum = disk.read(key, ".sum");
  if (!sum || *sum != cache::hash_hex(file_bytes(path))) return false;
  std::lock_guard<std::mutex> lock(mutex);
  known.insert(id);
  return true;
}

}  // namespace

std::string Toolchain::build(const std::string& tu, const std::string& display_name, bool fast_math, bool debug) {
  cache::DiskCache disk("cpu");  // per call: follows $PYMETALLIC_CACHE_DIR as it is now
  std::string flags = compile_flags(fast_math, debug);
  // Extra flags for every kernel compile (make sanitize: -fsanitize=address,undefined);
  // part of the cache key like the others.
  if (const char* extra = std::getenv("PYMETALLIC_CPU_CXXFLAGS"); extra && *extra) flags += std::string(" ") + extra;
  std::string key =
      cache::hash_hex(tu + "\n" + flags + "\n" + fingerprint_ + "\n" + cpu_model() + "\n" + runtime_files_hash());
  std::string so_path = disk.path(key, ".so");
  if (verified(disk, key, so_path)) {
    disk.touch(so_path);
    return so_path;
  }

  // One compile per key at a time (different kernels compile in parallel).
  std::shared_ptr<std::mutex> key_mutex;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& m = key_mutexes_[key];
    if (!m) m = std::make_shared<std::mutex>();
    key_mutex = m;
  }
  std::lock_guard<std::mutex> key_lock(*key_mutex);
  if (verified(disk, key, so_path)) return so_path;  // built meanwhile
  std::string source_path = disk.path(key, ".cpp");  // kept beside the object, for debugging
  {
    std::string tmp = disk.temporary_path(source_path);
    std::ofstream out(tmp, std::ios::binary);
    out << tu;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error("cannot write to the kernel cache folder " + disk.directory() + " (" + std::strerror(errno) +
                  "): free some space, or set PYMETALLIC_CACHE_DIR to a writable folder");
    }
    disk.publish(tmp, source_path);
  }
  std::string tmp_so = disk.temporary_path(so_path);
  std::string log;
  int status = run_program(command_line(compiler_, flags, {"-I" + runtime_dir(), "-o", tmp_so, source_path}), log);
  if (status == -1 && log.empty()) {
    std::remove(tmp_so.c_str());
    throw DeviceError("the CPU device cannot run its C++ compiler '" + compiler_ +
                      "': install g++ or clang++, or set CXX to one");
  }
  if (status != 0) {
    std::remove(tmp_so.c_str());
    throw CompileError("cannot compile '" + display_name + "' for the CPU:\n" + summarize_log(log, display_name) +
                           "(generated C++ saved as " + source_path + ")",
                       log);
  }
  std::string object = file_bytes(tmp_so);
  if (object.size() < 4 || object.compare(0, 4,
                                          "\x7f"
                                          "ELF") != 0) {
    std::remove(tmp_so.c_str());
    throw DeviceError("the C++ compiler '" + compiler_ + "' reported success but wrote no shared object (" +
                      std::to_string(object.size()) + " bytes): set CXX to g++ or clang++");
  }
  disk.publish(tmp_so, so_path);
  disk.write(key, ".sum", cache::hash_hex(object));
  return so_path;
}

void Toolchain::check(const std::string& tu, const std::string& display_name, bool fast_math) {
  cache::DiskCache disk("cpu");  // per call: follows $PYMETALLIC_CACHE_DIR as it is now
  // Only the flags that change what the code means (the language, fast-math macros).
  std::string flags = "-std=c++17 -fsyntax-only -w";
  if (fast_math) flags += " -DMETAL_FAST_MATH=1";
  std::string key = cache::hash_hex(tu + "\n" + flags + "\n" + fingerprint_ + "\n" + runtime_files_hash());
  std::string ok_path = disk.path(key, ".ok");
  std::error_code ec;
  if (std::filesystem::exists(ok_path, ec)) return;
  std::string source_path = disk.path(key, ".check.cpp");
  {
    std::string tmp = disk.temporary_path(source_path);
    std::ofstream(tmp, std::ios::binary) << tu;
    disk.publish(tmp, source_path);
  }
  std::string log;
  int status = run_program(command_line(compiler_, flags, {"-I" + runtime_dir(), source_path}), log);
  if (status != 0)
    throw CompileError("cannot compile '" + display_name + "' for the CPU:\n" + summarize_log(log, display_name) +
                           "(generated C++ saved as " + source_path + ")",
                       log);
  std::remove(source_path.c_str());
  std::string tmp = disk.temporary_path(ok_path);
  std::ofstream(tmp, std::ios::binary) << "ok\n";
  disk.publish(tmp, ok_path);
}

}  // namespace metallic::cpu
