#include "backends/cpu/isolation.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/entry_wrapper.h"
#include "backends/cpu/thread_pool.h"

extern char** environ;

namespace metallic::cpu {
namespace {

constexpr uint32_t kMagic = 0x31494d50;  // "PMI1"
constexpr size_t kMaxMessage = 64 * 1024;

// The fixed part of a request; ranges, the object's path and the samplers follow.
struct WireRequest {
  uint32_t magic;
  uint32_t kernel_index;
  uint32_t synchronises, fission;
  uint32_t fibers, no_fission, serial;
  uint32_t ranges;
  uint32_t path_length;
  uint32_t sampler_bytes;
  uint64_t groups, grain;
  metallic_cpu_launch launch;
};

std::string signal_text(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV (an invalid memory access)";
    case SIGBUS:
      return "SIGBUS (an invalid memory access)";
    case SIGILL:
      return "SIGILL (a trap instruction)";
    case SIGTRAP:
      return "SIGTRAP (a trap instruction)";
    case SIGFPE:
      return "SIGFPE (an integer division by zero)";
    case SIGABRT:
      return "SIGABRT (an abort)";
    case SIGKILL:
      return "SIGKILL";
    default:
      return "signal " + std::to_string(sig);
  }
}

// The worker executable: $PYMETALLIC_CPU_WORKER, else next to the module that holds this
// code (the Python extension, or a C++ program's build folder), following a symbolic link.
std::string worker_path() {
  if (const char* env = std::getenv("PYMETALLIC_CPU_WORKER"); env && *env) return env;
  Dl_info info{};
  std::vector<std::string> dirs;
  if (::dladdr(reinterpret_cast<void*>(&worker_path), &info) && info.dli_fname) {
    std::string f = info.dli_fname;
    dirs.push_back(f.substr(0, f.rfind('/') == std::string::npos ? 0 : f.rfind('/')));
    if (char* real = ::realpath(f.c_str(), nullptr)) {
      std::string r = real;
      std::free(real);
      dirs.push_back(r.substr(0, r.rfind('/')));
    }
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string e(exe, static_cast<size_t>(n));
    dirs.push_back(e.substr(0, e.rfind('/')));
  }
  for (const std::string& d : dirs) {
    std::string p = (d.empty() ? "." : d) + "/pymetallic-cpu-worker";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

class Worker {
 public:
  ~Worker() { stop(); }

  std::string run(const std::vector<unsigned char>& message, double timeout, bool* timed_out) {
    if (pid_ < 0) {
      std::string why = start();
      if (!why.empty()) return why;
    }
    if (::send(sock_, message.data(), message.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(message.size())) {
      std::string why = ended("could not send the dispatch");
      return why;
    }
    pollfd p{sock_, POLLIN, 0};
    int ms = timeout > 0 ? static_cast<int>(std::min(timeout * 1000.0, 2e9)) : -1;
    int r;
    do r = ::poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      *timed_out = true;
      stop();
      return "";
    }
    char reply[4096];
    ssize_t n = ::recv(sock_, reply, sizeof reply, 0);
    if (n <= 0) return ended("ended");
    if (reply[0] == 0) return "";
    std::string text(reply + 1, static_cast<size_t>(n - 1));
    return text.empty() ? "the worker failed" : text;
  }

  void stop() {
    if (sock_ >= 0) ::close(sock_);
    sock_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    }
    pid_ = -1;
  }

 private:
  // The worker is gone: reap it and say how it ended. The next dispatch starts a new one.
  std::string ended(const char* what) {
    int status = 0;
    pid_t pid = pid_;
    if (sock_ >= 0) ::close(sock_);
    sock_ = -1;
    pid_ = -1;
    pid_t r;
    do r = ::waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r == pid && WIFSIGNALED(status))
      return "a crash of the isolated worker process: " + signal_text(WTERMSIG(status));
    if (r == pid && WIFEXITED(status))
      return "the isolated worker process exited with status " + std::to_string(WEXITSTATUS(status));
    return std::string("the isolated worker process ") + what;
  }

  std::string start() {
    SharedRegion region = shared_region();
    if (!region.base) return "no shared memory for an isolated worker (memfd_create failed)";
    std::string path = worker_path();
    if (path.empty())
      return "the isolated worker executable 'pymetallic-cpu-worker' was not found next to the module "
             "(set PYMETALLIC_CPU_WORKER)";
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
      return std::string("socketpair: ") + std::strerror(errno);
    // Copies above 3 and 4 first: dup2 to 3 must not overwrite the memfd when that is fd 3.
    int sock_copy = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10), mem_copy = ::fcntl(region.fd, F_DUPFD_CLOEXEC, 10);
    ::close(fds[1]);
    fds[1] = sock_copy;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sock_copy, 3);  // dup2 clears close-on-exec
    posix_spawn_file_actions_adddup2(&actions, mem_copy, 4);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char base[32], size[32];
    std::snprintf(base, sizeof base, "%llx", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(region.base)));
    std::snprintf(size, sizeof size, "%llx", static_cast<unsigned long long>(region.size));
    char* argv[] = {const_cast<char*>(path.c_str()), base, size, nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    ::close(mem_copy);
    if (rc != 0) {
      ::close(fds[0]);
      return "cannot start the isolated worker '" + path + "': " + std::strerror(rc);
    }
    pid_ = pid;
    sock_ = fds[0];
    // It says when it is ready (the shared region mapped at the same address).
    char hello[512];
    ssize_t n = ::recv(sock_, hello, sizeof hello, 0);
    if (n <= 0) return ended("did not start");
    if (hello[0] != 0) {
      std::string why(hello + 1, static_cast<size_t>(n - 1));
      stop();
      return "the isolated worker could not start: " + why;
    }
    return "";
  }

  pid_t pid_ = -1;
  int sock_ = -1;
};

void reply(int sock, const std::string& error) {
  std::string m(1, error.empty() ? '\0' : '\1');
  m += error.substr(0, 4000);
  ::send(sock, m.data(), m.size(), MSG_NOSIGNAL);
}

}  // namespace

std::string run_isolated(const IsolatedDispatch& d, double timeout, bool* timed_out) {
  WireRequest w{};
  w.magic = kMagic;
  w.kernel_index = d.kernel_index;
  w.synchronises = d.synchronises, w.fission = d.fission;
  w.fibers = d.schedule.fibers, w.no_fission = d.schedule.no_fission, w.serial = d.schedule.serial;
  w.ranges = static_cast<uint32_t>(d.ranges.size());
  w.path_length = static_cast<uint32_t>(d.object_path.size());
  w.sampler_bytes = static_cast<uint32_t>(d.samplers.size());
  w.groups = d.groups, w.grain = d.grain;
  w.launch = d.launch;
  std::vector<unsigned char> m(sizeof w);
  std::memcpy(m.data(), &w, sizeof w);
  for (auto [b, l] : d.ranges) {
    uint64_t pair[2] = {b, l};
    m.insert(m.end(), reinterpret_cast<unsigned char*>(pair), reinterpret_cast<unsigned char*>(pair) + sizeof pair);
  }
  m.insert(m.end(), d.object_path.begin(), d.object_path.end());
  m.insert(m.end(), d.samplers.begin(), d.samplers.end());
  if (m.size() > kMaxMessage) return "internal: an isolated dispatch's request is too large";
  static std::mutex mutex;               // one worker, one dispatch at a time
  static Worker* worker = new Worker();  // never destroyed: queues may run during exit
  std::lock_guard<std::mutex> lock(mutex);
  *timed_out = false;
  return worker->run(m, timeout, timed_out);
}

// ---- the worker -------------------------------------------------------------------------

int isolated_worker_main(int argc, char** argv) {
  const int sock = 3, memfd = 4;
  if (argc < 3) return 2;
  auto* base = reinterpret_cast<unsigned char*>(static_cast<uintptr_t>(std::strtoull(argv[1], nullptr, 16)));
  size_t size = static_cast<size_t>(std::strtoull(argv[2], nullptr, 16));
  // The caller's shared arena, at the same address, inaccessible until a dispatch maps a buffer.
  void* at = ::mmap(base, size, PROT_NONE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, memfd, 0);
  if (at != base) {
    reply(sock, std::string("cannot map the shared buffer region at the caller's addresses: ") +
                    (at == MAP_FAILED ? std::strerror(errno) : "the addresses are taken"));
    return 3;
  }
  reply(sock, "");
  unsigned threads = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("PYMETALLIC_CPU_THREADS"); env && std::atoi(env) > 0) threads = std::atoi(env);
  ThreadPool pool(threads ? threads : 1);
  std::map<std::string, std::shared_ptr<SharedObject>> objects;
  std::vector<unsigned char> message(kMaxMessage);
  std::vector<unsigned char> arena;
  for (;;) {
    ssize_t n = ::recv(sock, message.data(), message.size(), 0);
    if (n <= 0) return 0;  // the caller closed the socket (or is gone)
    WireRequest w;
    if (static_cast<size_t>(n) < sizeof w) return 4;
    std::memcpy(&w, message.data(), sizeof w);
    if (w.magic != kMagic) return 4;
    const unsigned char* p = message.data() + sizeof w;
    std::vector<std::pair<uint64_t, uint64_t>> ranges(w.ranges);
    for (auto& r : ranges) {
      uint64_t pair[2];
      std::memcpy(pair, p, sizeof pair);
      p += sizeof pair;
      r = {pair[0], pair[1]};
    }
    std::string path(reinterpret_cast<const char*>(p), w.path_length);
    p += w.path_length;
    std::vector<unsigned char> samplers(p, p + w.sampler_bytes);
    std::string error;
    try {
      auto& object = objects[path];
      if (!object) object = std::make_shared<SharedObject>(path);
      auto groups = reinterpret_cast<EntryFunction>(object->symbol(entry_symbol(w.kernel_index)));
      auto thread = reinterpret_cast<void (*)(const metallic_cpu_launch*, uint32_t, uint32_t, unsigned char*)>(
          object->symbol(thread_entry_symbol(w.kernel_index)));
      if (!groups || !thread) throw std::runtime_error("the compiled library lacks the kernel's entry point");
      CpuKernel kernel(object, groups, thread, w.synchronises, w.fission, 1024);
      for (auto [b, l] : ranges) {
        if (b < reinterpret_cast<uintptr_t>(base) || b + l > reinterpret_cast<uintptr_t>(base) + size)
          throw std::runtime_error("a buffer outside the shared region");
        if (::mmap(reinterpret_cast<void*>(b), l, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd,
                   static_cast<off_t>(b - reinterpret_cast<uintptr_t>(base))) == MAP_FAILED)
          throw std::runtime_error(std::string("cannot map a shared buffer: ") + std::strerror(errno));
      }
      metallic_cpu_launch launch = w.launch;
      launch.samplers = samplers.empty() ? nullptr : samplers.data();
      launch.textures = nullptr;
      launch.diag = nullptr;
      Schedule schedule;
      schedule.fibers = w.fibers, schedule.no_fission = w.no_fission, schedule.serial = w.serial;
      uint32_t arena_size = launch.threadgroup_arena_size;
      pool.parallel_for(w.groups, w.grain ? w.grain : 1, [&](uint64_t begin, uint64_t end) {
        thread_local std::vector<unsigned char> mem;
        if (mem.size() < arena_size) mem.resize(arena_size);
        if (arena_size) std::memset(mem.data(), 0, arena_size);
        kernel.run_groups(launch, static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                          arena_size ? mem.data() : nullptr, schedule);
      });
    } catch (const std::exception& e) {
      error = e.what();
    }
    for (auto [b, l] : ranges)  // inaccessible again until bound again
      ::mmap(reinterpret_cast<void*>(b), l, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, memfd,
             static_cast<off_t>(b - reinterpret_cast<uintptr_t>(base)));
    reply(sock, error);
  }
}

}  // namespace metallic::cpu
