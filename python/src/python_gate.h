// Every way a C++ thread (a queue's worker, the completed-handler thread, the deferred
// submitter, a pool worker) enters Python goes through PythonCall, and every blocking call that
// releases the GIL uses ReleaseGil. Hence: no nb::gil_scoped_acquire or nb::gil_scoped_release
// outside python_gate.cpp, no nanobind/stl/function.h (its wrapper of a Python callable takes
// the GIL by itself), and every bound class that C++ keeps in a shared_ptr derives from
// std::enable_shared_from_this (otherwise nanobind hands C++ a shared_ptr whose deleter takes
// the GIL by itself; to_object() asserts it).
//
// Why: once Python's finalisation has begun, a thread other than the main one that takes the
// GIL is ended by the interpreter with pthread_exit(). That unwinds the thread's C++ stack with
// abi::__forced_unwind, and where it meets a noexcept frame (a shared_ptr deleter, a
// destructor) the process aborts: "terminate called without an active exception".
//
// So: pymetallic registers an atexit hook, which Python runs before finalisation begins
// (after the threading module has joined its threads). It waits, with the GIL released, for
// the command buffers committed until then to finish and their completed handlers to run
// (until none is left, or none finished for a second); then PythonCall refuses entry (a late handler is
// skipped, a Python object that C++ still holds is leaked), and the hook waits until every
// thread that had already entered has left. Both waits are bounded by PYMETALLIC_EXIT_WAIT
// seconds (default 10). Only the thread that runs the hook (and finalises) may still enter.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace pymetallic_bindings {

class PythonCall {
 public:
  PythonCall();
  ~PythonCall();
  PythonCall(const PythonCall&) = delete;
  PythonCall& operator=(const PythonCall&) = delete;
  // False: the interpreter is shutting down (or gone); do not touch Python.
  explicit operator bool() const { return mode_ != Mode::Refused; }
  // The interpreter is ending this thread (abi::__forced_unwind is passing through): the
  // GIL must not be touched again on the way out.
  static void thread_exiting();

 private:
  enum class Mode { Refused, Counted, Uncounted };
  Mode mode_ = Mode::Refused;
  PyGILState_STATE state_{};
};

// Releases the GIL around a blocking call made from Python (a wait, a compile), like
// nb::gil_scoped_release. Taking the GIL back once the exit hook has closed the gate would let
// the interpreter end the thread (a daemon thread, during finalisation) with pthread_exit, which
// aborts in the destructor; such a thread instead waits here until the process ends, as daemon
// threads do in Python 3.14. Only the thread that runs the exit hook goes on.
class ReleaseGil {
 public:
  ReleaseGil();
  ~ReleaseGil();
  ReleaseGil(const ReleaseGil&) = delete;
  ReleaseGil& operator=(const ReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

// Calls fn() with the GIL held if Python may still be entered; returns whether it ran.
// A Python exception escaping fn is reported as unraisable under `where`.
template <class F> bool call_python(const char* where, F&& fn) {
  PythonCall py;
  if (!py) return false;
  try {
    fn();
  } catch (nanobind::python_error& e) {
    e.discard_as_unraisable(where);
  }
#if defined(__GLIBCXX__)
  catch (abi::__forced_unwind&) {
    // Only after the exit hook stopped waiting for this thread (PYMETALLIC_EXIT_WAIT): it
    // asked for the GIL during finalisation. Let it end, without entering noexcept frames.
    PythonCall::thread_exiting();
    throw;
  }
#endif
  return true;
}

// A Python value (an object, an ndarray) kept alive from C++: released through PythonCall on
// whichever thread drops the last reference, and leaked once the interpreter is exiting.
template <class T> std::shared_ptr<T> hold_python(T value) {
  return std::shared_ptr<T>(new T(std::move(value)), [](T* p) {
    PythonCall py;
    if (py) delete p;
  });
}

// Registers the atexit hook (module.cpp, once).
void init_python_gate(nanobind::module_& m);

// Threads inside Python through PythonCall now (tests).
int python_calls_in_flight();

}  // namespace pymetallic_bindings
