// What validation mode finds and what kernels log (issue 12), as the host sees it after a
// command buffer completes.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace metallic {

struct KernelFinding {
  std::string kind;   // "out_of_bounds", "race", "barrier_divergence", "uninitialized_read"
  std::string space;  // "device", "constant" (set_bytes), "threadgroup", "thread", "texture", ""
  std::string kernel;
  std::string file;
  int line = 0, column = 0;
  std::array<uint32_t, 3> thread{}, threadgroup{}, thread_in_threadgroup{};
  int buffer_index = -1;  // [[buffer(n)]] / [[threadgroup(n)]] index, -1 when none
  std::string name;       // the variable as written
  int64_t offset = 0;     // byte offset (element index for arrays)
  uint64_t extent = 0;    // bytes (elements for arrays) available
  uint32_t size = 0;      // bytes accessed
  std::string access;     // "read", "write", "read-write"
  int other_thread = -1;  // races / divergence: the other thread's index in the group (-2: several)
  int other_line = 0;
  std::string message;  // one line: "file:line:col: kernel 'k': ..."
};

struct KernelLogMessage {
  std::string kernel;
  int level = 0;  // os_log_type_t: 0 default, 1 info, 2 debug, 16 error, 17 fault
  std::string subsystem, category;
  std::array<uint32_t, 3> thread{}, threadgroup{};
  std::string message;
};

}  // namespace metallic
