#include "msl/diagnostics.h"

namespace metallic::msl {

FileName make_file_name(const std::string& name) { return std::make_shared<const std::string>(name); }

std::string Diagnostic::format() const {
  std::string out = file.empty() ? std::string("<input>") : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out + ": error: " + message;
}

void fail(const SourceLocation& where, const std::string& message) {
  Diagnostic d;
  d.file = where.file ? *where.file : std::string();
  d.line = where.line;
  d.column = where.column;
  d.message = message;
  throw TranslationError(std::move(d));
}

const char* builtin_name(BuiltinKind kind) {
  switch (kind) {
    case BuiltinKind::None:
      return "none";
    case BuiltinKind::ThreadPositionInGrid:
      return "thread_position_in_grid";
    case BuiltinKind::ThreadsPerGrid:
      return "threads_per_grid";
    case BuiltinKind::ThreadPositionInThreadgroup:
      return "thread_position_in_threadgroup";
    case BuiltinKind::ThreadsPerThreadgroup:
      return "threads_per_threadgroup";
    case BuiltinKind::DispatchThreadsPerThreadgroup:
      return "dispatch_threads_per_threadgroup";
    case BuiltinKind::ThreadIndexInThreadgroup:
      return "thread_index_in_threadgroup";
    case BuiltinKind::ThreadgroupPositionInGrid:
      return "threadgroup_position_in_grid";
    case BuiltinKind::ThreadgroupsPerGrid:
      return "threadgroups_per_grid";
    case BuiltinKind::ThreadIndexInSimdgroup:
      return "thread_index_in_simdgroup";
    case BuiltinKind::SimdgroupIndexInThreadgroup:
      return "simdgroup_index_in_threadgroup";
    case BuiltinKind::SimdgroupsPerThreadgroup:
      return "simdgroups_per_threadgroup";
    case BuiltinKind::DispatchSimdgroupsPerThreadgroup:
      return "dispatch_simdgroups_per_threadgroup";
    case BuiltinKind::ThreadsPerSimdgroup:
      return "threads_per_simdgroup";
    case BuiltinKind::ThreadExecutionWidth:
      return "thread_execution_width";
    case BuiltinKind::ThreadIndexInQuadgroup:
      return "thread_index_in_quadgroup";
    case BuiltinKind::QuadgroupIndexInThreadgroup:
      return "quadgroup_index_in_threadgroup";
    case BuiltinKind::QuadgroupsPerThreadgroup:
      return "quadgroups_per_threadgroup";
    case BuiltinKind::DispatchQuadgroupsPerThreadgroup:
      return "dispatch_quadgroups_per_threadgroup";
    case BuiltinKind::GridOrigin:
      return "grid_origin";
    case BuiltinKind::GridSize:
      return "grid_size";
  }
  return "unknown";
}

}  // namespace metallic::msl
