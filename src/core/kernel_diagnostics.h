// Host side of kernel findings and log records (issue 12): one collector per dispatch, fed
// through the callbacks of a metal_diag (src/runtime/metal_diag_abi.h), turned into
// KernelFinding / KernelLogMessage for the command buffer.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "metallic/diagnostics.h"
#include "runtime/metal_diag_abi.h"

namespace metallic::diag {

// The most findings a command buffer keeps (the rest are counted), and the size of its log.
constexpr size_t kMaxFindings = 16;
size_t log_capacity();  // bytes of records per command buffer: PYMETALLIC_LOG_BUFFER_SIZE, default 1 MiB

class Collector {
 public:
  // One collector per command buffer; begin() prepares `d` for one dispatch of `kernel`.
  void begin(metal_diag& d, const std::string& kernel, bool validation);

  std::vector<KernelFinding> findings;
  uint64_t findings_total = 0;  // including those not kept
  std::vector<KernelLogMessage> logs;
  uint64_t log_dropped = 0;  // records that did not fit

 private:
  static void report(metal_diag* d, const metal_diag_finding* f);
  static void log(metal_diag* d, const unsigned char* record, unsigned size);
  std::mutex mutex_;
  std::string kernel_;
  uint64_t log_bytes_ = 0;
};

// A finding in words: "file:line:col: kernel 'k': out-of-bounds write to buffer(1) 'out' ...".
KernelFinding describe(const metal_diag_finding& f, const std::string& kernel);
// A log record formatted (printf conversions, OpenCL-style %vN vectors); false if malformed.
bool format_record(const unsigned char* record, size_t size, const std::string& kernel, KernelLogMessage& out);

}  // namespace metallic::diag
