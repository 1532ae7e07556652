// PythonCall and the exit hook: see python_gate.h.
#include "python_gate.h"

#include "metallic/command.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace nb = nanobind;

namespace pymetallic_bindings {

namespace {

// Never destroyed: C++ threads may still pass through PythonCall while the process runs its
// static destructors at exit.
std::mutex& g_mutex = *new std::mutex();
std::condition_variable& g_left = *new std::condition_variable();
// Threads that entered through PythonCall (or are taking the GIL back in ~ReleaseGil) and have
// not left. Atomic: ~ReleaseGil counts itself without g_mutex while no exit hook has run (below).
std::atomic<int>& g_inside = *new std::atomic<int>(0);
bool g_closing = false;  // the exit hook ran: no new entries but the exiting thread's
// g_closing, readable without g_mutex (set with it, under g_mutex, by the exit hook).
std::atomic<bool>& g_closing_flag = *new std::atomic<bool>(false);
bool g_gone = false;     // Py_FinalizeEx has finished (Py_AtExit)
uint64_t g_refused = 0;  // entries refused after the exit hook
// Threads between a ReleaseGil and its end: a daemon thread still waiting there when the
// interpreter has finished keeps what its Python frames hold.
std::atomic<int>& g_released = *new std::atomic<int>(0);
std::thread::id g_exit_thread;  // the thread that ran the exit hook, and then finalises
thread_local int t_depth = 0;   // PythonCalls open on this thread

#if defined(__GLIBCXX__)
// Set while the interpreter ends this thread (pthread_exit from a GIL request after the exit
// hook gave up waiting): PythonCall then must not touch the GIL again on the way out.
thread_local bool t_thread_exiting = false;
#endif

#if !defined(Py_LIMITED_API)
bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}
#endif

double exit_wait_seconds() {
  const char* env = std::getenv("PYMETALLIC_EXIT_WAIT");
  if (!env || !*env) return 10.0;
  char* end = nullptr;
  double s = std::strtod(env, &end);
  return (end != env && s >= 0) ? s : 10.0;
}

// Functions the package runs at exit after the work in flight (_add_exit_callback); only
// touched with the GIL held. Never destroyed: emptied by the exit hook.
std::vector<nb::object>& exit_callbacks() {
  static auto* callbacks = new std::vector<nb::object>();
  return *callbacks;
}

// Python's atexit runs this on the main thread with the GIL held, before finalisation.
void on_python_exit() {
  double limit = exit_wait_seconds();
  nb::gil_scoped_release release;  // the threads waited for may need the GIL to finish
  // First the work in flight, so that its completed handlers still run and the Python objects
  // it holds are released normally; a second without progress ends the wait.
  metallic::CommandBuffer::waitAllFinished(1.0, limit);
  {
    // The package's own clean-ups (interop's array hook, the default queues), after the work
    // that may still need them.
    nb::gil_scoped_acquire gil;
    std::vector<nb::object> callbacks;
    callbacks.swap(exit_callbacks());
    for (auto it = callbacks.rbegin(); it != callbacks.rend(); ++it) {
      try {
        (*it)();
      } catch (nb::python_error& e) {
        e.discard_as_unraisable("pymetallic exit callback");
      }
    }
  }
  std::unique_lock<std::mutex> lock(g_mutex);
  g_closing = true;
  g_closing_flag.store(true);  // (seq_cst: see ~ReleaseGil) before g_inside is read below
  g_exit_thread = std::this_thread::get_id();
  g_left.wait_for(lock, std::chrono::duration<double>(limit), [] { return g_inside.load() == 0; });
}

void on_finalized() {  // Py_AtExit: after finalisation, before nanobind's own clean-up
  std::lock_guard<std::mutex> lock(g_mutex);
  g_gone = true;
  // What was refused stays referenced on purpose: not a reference-counting bug to report.
  // So does a thread still waiting with the GIL released (it will park when it wakes).
  if (g_refused || g_released.load() > 0) nb::set_leak_warnings(false);
}

}  // namespace

PythonCall::PythonCall() {
#if defined(__GLIBCXX__)
  if (t_thread_exiting) return;
#endif
  std::unique_lock<std::mutex> lock(g_mutex);
  if (g_gone) return;
  if (g_closing) {
    // Still allowed: the thread that finalises (it holds the GIL, and may drop C++ objects
    // that hold Python ones), and a thread already inside a PythonCall (the hook waits for it).
    if (std::this_thread::get_id() == g_exit_thread)
      mode_ = Mode::Uncounted;
    else if (t_depth > 0)
      mode_ = Mode::Counted;
    else {
      ++g_refused;
      return;
    }
  } else {
    if (!Py_IsInitialized()) return;
#if !defined(Py_LIMITED_API)
    if (finalizing()) return;  // no exit hook ran (an embedding that skipped atexit)
#endif
    mode_ = Mode::Counted;
  }
  if (mode_ == Mode::Counted) ++g_inside;
  lock.unlock();
  ++t_depth;
  state_ = PyGILState_Ensure();  // also where this thread holds the GIL already: it nests
}

PythonCall::~PythonCall() {
  if (mode_ == Mode::Refused) return;
#if defined(__GLIBCXX__)
  if (!t_thread_exiting)
#endif
    PyGILState_Release(state_);
  --t_depth;
  if (mode_ != Mode::Counted) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  --g_inside;
  g_left.notify_all();
}

ReleaseGil::ReleaseGil() : state_(PyEval_SaveThread()) { g_released.fetch_add(1); }

// Every wait_until_completed passes here, so the usual case takes no lock: this thread counts
// itself in g_inside, then reads g_closing_flag; the exit hook sets the flag, then reads
// g_inside (all seq_cst). So either this thread sees the hook has run (and takes the locked
// path, as before), or the hook sees this thread inside and waits until it has taken the GIL
// back (it is woken under g_mutex by the last one to leave once the flag is set).
ReleaseGil::~ReleaseGil() {
  g_inside.fetch_add(1);  // the exit hook waits until this thread holds the GIL
  if (!g_closing_flag.load()) {
    g_released.fetch_sub(1);
    PyEval_RestoreThread(state_);
    if (g_inside.fetch_sub(1) == 1 && g_closing_flag.load()) {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_left.notify_all();
    }
    return;
  }
  {
    std::unique_lock<std::mutex> lock(g_mutex);
    g_released.fetch_sub(1);  // under the lock: on_finalized sees it released or refused
    if (g_closing && std::this_thread::get_id() != g_exit_thread) {
      g_inside.fetch_sub(1);
      g_left.notify_all();
      ++g_refused;  // what this thread holds stays referenced: not a leak to report
      lock.unlock();
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // until the process ends
    }
  }
  PyEval_RestoreThread(state_);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_inside.fetch_sub(1);
  g_left.notify_all();
}

void PythonCall::thread_exiting() {
#if defined(__GLIBCXX__)
  t_thread_exiting = true;
#endif
}

int python_calls_in_flight() { return g_inside.load(); }

void init_python_gate(nb::module_& m) {
  m.def("_on_python_exit", &on_python_exit,
        "Run by atexit: C++ threads stop entering Python, and those inside are waited for.");
  m.def("_python_calls_in_flight", &python_calls_in_flight);
  m.def(
      "_add_exit_callback", [](nb::callable fn) { exit_callbacks().push_back(nb::borrow(fn)); },
      "fn() runs at exit once the work in flight has finished (and its handlers ran), last added first.");
  nb::module_::import_("atexit").attr("register")(m.attr("_on_python_exit"));
  Py_AtExit(&on_finalized);
}

}  // namespace pymetallic_bindings
