#include "core/kernel_diagnostics.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace metallic::diag {

size_t log_capacity() {
  static const size_t bytes = [] {
    const char* v = std::getenv("PYMETALLIC_LOG_BUFFER_SIZE");
    if (v && *v) {
      long long n = std::atoll(v);
      if (n >= 1024) return static_cast<size_t>(n);
    }
    return static_cast<size_t>(1) << 20;
  }();
  return bytes;
}

namespace {
std::atomic<unsigned> next_serial{1};

std::string xyz(const std::array<uint32_t, 3>& v) {
  return "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ", " + std::to_string(v[2]) + ")";
}
const char* access_word(unsigned a) { return a == 2 ? "write" : a == 3 ? "read-write" : "read"; }
}  // namespace

void Collector::begin(metal_diag& d, const std::string& kernel, bool validation) {
  std::memset(&d, 0, sizeof d);
  d.serial = next_serial.fetch_add(1);
  d.validation = validation ? 1 : 0;
  d.host = this;
  d.report = &Collector::report;
  d.log = &Collector::log;
  std::lock_guard<std::mutex> lock(mutex_);
  kernel_ = kernel;
}

void Collector::report(metal_diag* d, const metal_diag_finding* f) {
  auto* self = static_cast<Collector*>(d->host);
  std::lock_guard<std::mutex> lock(self->mutex_);
  ++self->findings_total;
  // One finding per kind and site: the first thread that hits it speaks for the others.
  for (const KernelFinding& k : self->findings)
    if (k.line == static_cast<int>(f->line) && k.column == static_cast<int>(f->column) && k.file == f->file &&
        k.kernel == self->kernel_ && describe(*f, self->kernel_).kind == k.kind)
      return;
  if (self->findings.size() < kMaxFindings) self->findings.push_back(describe(*f, self->kernel_));
}

void Collector::log(metal_diag* d, const unsigned char* record, unsigned size) {
  auto* self = static_cast<Collector*>(d->host);
  std::lock_guard<std::mutex> lock(self->mutex_);
  if (self->log_bytes_ + size > log_capacity()) {
    ++self->log_dropped;
    return;
  }
  self->log_bytes_ += size;
  KernelLogMessage m;
  if (format_record(record, size, self->kernel_, m)) self->logs.push_back(std::move(m));
}

KernelFinding describe(const metal_diag_finding& f, const std::string& kernel) {
  KernelFinding k;
  k.kernel = kernel;
  k.file = f.file;
  k.line = static_cast<int>(f.line);
  k.column = static_cast<int>(f.column);
  for (int c = 0; c < 3; ++c)
    k.thread[c] = f.thread[c], k.threadgroup[c] = f.group[c], k.thread_in_threadgroup[c] = f.local[c];
  k.buffer_index = f.index;
  k.name = f.name;
  k.offset = f.offset;
  k.extent = f.extent;
  k.size = f.size;
  k.access = access_word(f.access);
  k.other_thread = f.other_thread;
  k.other_line = static_cast<int>(f.other_line);
  std::string what;
  std::string name = k.name.empty() ? "" : " '" + k.name + "'";
  switch (f.kind) {
    case metal_diag_oob_buffer:
      k.kind = "out_of_bounds";
      k.space = "device";
      what = "out-of-bounds " + k.access + " of " + std::to_string(f.size) + " bytes through" + name +
             " at byte offset " + std::to_string(f.offset) + " of buffer(" + std::to_string(f.index) +
             "), whose bound extent is " + std::to_string(f.extent) + " bytes";
      if (f.index < 0)
        what = "out-of-bounds " + k.access + " through" + name + " at byte offset " + std::to_string(f.offset) +
               " of an argument-buffer resource of " + std::to_string(f.extent) + " bytes";
      break;
    case metal_diag_oob_threadgroup:
      k.kind = "out_of_bounds";
      k.space = "threadgroup";
      what = "out-of-bounds " + k.access + " of " + std::to_string(f.size) + " bytes through" + name +
             " at byte offset " + std::to_string(f.offset) + " of " +
             (f.index >= 0 ? "threadgroup(" + std::to_string(f.index) + ")" : std::string("threadgroup memory")) +
             ", whose allocation is " + std::to_string(f.extent) + " bytes";
      break;
    case metal_diag_oob_array:
      k.kind = "out_of_bounds";
      k.space = f.index >= -1 ? "array" : "array";
      what = "out-of-bounds " + k.access + ": index " + std::to_string(f.offset) + " of array" + name + " of " +
             std::to_string(f.extent) + " elements";
      break;
    case metal_diag_oob_texture:
      k.kind = "out_of_bounds";
      k.space = "texture";
      k.offset = f.coord[0];
      k.extent = f.size3[0];
      what = "texture " + k.access + " at (" + std::to_string(f.coord[0]) + ", " + std::to_string(f.coord[1]) + ", " +
             std::to_string(f.coord[2]) + ") outside the texture's size " + std::to_string(f.size3[0]) + " x " +
             std::to_string(f.size3[1]) + " x " + std::to_string(f.size3[2]);
      break;
    case metal_diag_race:
      k.kind = "race";
      k.space = "threadgroup";
      what = "threadgroup race: " + k.access + " of" + name + " (byte offset " + std::to_string(f.offset) + " of " +
             (f.index >= 0 ? "threadgroup(" + std::to_string(f.index) + ")" : std::string("the variable")) + ") " +
             (f.other_thread == -2 ? std::string("after reads by several other threads")
                                   : "after an access by thread " + std::to_string(f.other_thread) + " of the group") +
             (f.other_line ? " at line " + std::to_string(f.other_line) : std::string()) +
             ", with no threadgroup_barrier between";
      break;
    case metal_diag_barrier_divergence:
      k.kind = "barrier_divergence";
      k.space = "";
      what = "barrier divergence: thread " + std::to_string(f.offset) +
             " of the threadgroup did not reach this threadgroup_barrier, which thread " +
             std::to_string(f.other_thread) + " reached" +
             (f.other_line ? " (thread " + std::to_string(f.offset) + " was last at the barrier of line " +
                                 std::to_string(f.other_line) + ")"
                           : std::string(" (it returned or took another path)"));
      break;
    case metal_diag_uninitialized:
      k.kind = "uninitialized_read";
      k.space = "threadgroup";
      what = "read of threadgroup memory never written in this dispatch:" + name + " at byte offset " +
             std::to_string(f.offset) + " (" + std::to_string(f.size) + " bytes)";
      break;
    default:
      k.kind = "unknown";
      what = "unknown finding";
  }
  k.message = k.file + ":" + std::to_string(k.line) + ":" + std::to_string(k.column) + ": kernel '" + kernel +
              "': " + what + "; thread " + xyz(k.thread) + " (threadgroup " + xyz(k.threadgroup) + ", thread " +
              xyz(k.thread_in_threadgroup) + " in it)";
  return k;
}

namespace {

struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  bool ok = true;
  uint32_t u32() {
    uint32_t v = 0;
    if (end - p < 4) return ok = false, 0;
    std::memcpy(&v, p, 4);
    p += 4;
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (end - p < 8) return ok = false, 0;
    std::memcpy(&v, p, 8);
    p += 8;
    return v;
  }
  int u8() {
    if (p >= end) return ok = false, -1;
    return *p++;
  }
  std::string str() {
    const unsigned char* z = static_cast<const unsigned char*>(std::memchr(p, 0, static_cast<size_t>(end - p)));
    if (!z) return ok = false, std::string();
    std::string s(reinterpret_cast<const char*>(p), reinterpret_cast<const char*>(z));
    p = z + 1;
    return s;
  }
};

struct Arg {
  char kind = 0;  // 'i', 'u', 'f', 's', 'p'
  std::vector<uint64_t> values;
  std::string text;
  bool vector = false;
};

// One printf conversion of one scalar value.
std::string convert(const std::string& flags_width, char conv, char kind, uint64_t bits) {
  char buf[128];
  std::string spec = "%" + flags_width;
  double d;
  std::memcpy(&d, &bits, 8);
  int64_t i = static_cast<int64_t>(bits);
  switch (conv) {
    case 'd':
    case 'i':
      spec += "lld";
      std::snprintf(buf, sizeof buf, spec.c_str(), kind == 'f' ? static_cast<long long>(d) : static_cast<long long>(i));
      break;
    case 'u':
    case 'x':
    case 'X':
    case 'o':
      spec += std::string("ll") + conv;
      std::snprintf(buf, sizeof buf, spec.c_str(),
                    kind == 'f' ? static_cast<unsigned long long>(d) : static_cast<unsigned long long>(bits));
      break;
    case 'c':
      spec += "c";
      std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<int>(i));
      break;
    case 'p':
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(bits));
      break;
    default:  // f F e E g G a A
      spec += conv;
      std::snprintf(buf, sizeof buf, spec.c_str(),
                    kind == 'f'   ? d
                    : kind == 'i' ? static_cast<double>(i)
                                  : static_cast<double>(bits));
  }
  return buf;
}

}  // namespace

bool format_record(const unsigned char* record, size_t size, const std::string& kernel, KernelLogMessage& out) {
  Reader r{record, record + size};
  out.kernel = kernel;
  out.level = static_cast<int>(r.u32());
  for (int k = 0; k < 3; ++k) out.thread[k] = r.u32();
  for (int k = 0; k < 3; ++k) out.threadgroup[k] = r.u32();
  out.subsystem = r.str();
  out.category = r.str();
  std::string format = r.str();
  if (!r.ok) return false;
  std::vector<Arg> args;
  while (r.ok && r.p < r.end) {
    Arg a;
    int t = r.u8();
    if (t == 'v') {
      a.vector = true;
      a.kind = static_cast<char>(r.u8());
      int n = r.u8();
      for (int i = 0; i < n && r.ok; ++i) a.values.push_back(r.u64());
    } else if (t == 's') {
      a.kind = 's';
      a.text = r.str();
    } else {
      a.kind = static_cast<char>(t);
      a.values.push_back(r.u64());
    }
    if (r.ok) args.push_back(std::move(a));
  }
  std::string msg;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      msg += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      msg += '%';
      ++i;
      continue;
    }
    // %[{public}][flags][width][.precision][vN][length]conversion
    size_t j = i + 1;
    if (j < format.size() && format[j] == '{') {  // os_log privacy annotations: ignored
      size_t close = format.find('}', j);
      if (close != std::string::npos) j = close + 1;
    }
    std::string flags_width;
    while (j < format.size() && std::strchr("-+ #0123456789.", format[j])) flags_width += format[j++];
    bool vector = false;
    if (j < format.size() && format[j] == 'v') {
      vector = true;
      ++j;
      while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) ++j;
      // OpenCL writes the precision before the vector size (%.2v4f); accept it after too.
      while (j < format.size() && std::strchr("-+ #0123456789.", format[j])) flags_width += format[j++];
    }
    while (j < format.size() && std::strchr("hlLqjzt", format[j])) ++j;
    if (j >= format.size()) {
      msg += format.substr(i);
      break;
    }
    char conv = format[j];
    if (!std::strchr("diuxXocpsfFeEgGaA", conv)) {  // not a conversion we print: keep the text
      msg += format.substr(i, j + 1 - i);
      i = j;
      continue;
    }
    i = j;
    if (next >= args.size()) {
      msg += "<missing argument>";
      continue;
    }
    const Arg& a = args[next++];
    if (conv == 's' || a.kind == 's') {
      msg += a.kind == 's' ? a.text : std::string("<not a string>");
      continue;
    }
    if (a.vector || vector) {
      for (size_t v = 0; v < a.values.size(); ++v) {
        if (v) msg += ',';
        msg += convert(flags_width, conv, a.kind, a.values[v]);
      }
    } else if (!a.values.empty()) {
      msg += convert(flags_width, conv, a.kind, a.values[0]);
    }
  }
  out.message = msg;
  return true;
}

}  // namespace metallic::diag
