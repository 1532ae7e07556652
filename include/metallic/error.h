// Every failure the library reports is a metallic::Error (Python: MetalError).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace metallic {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Invalid MSL source. `log()` holds the full compiler output, with the user's file:line.
class CompileError : public Error {
 public:
  CompileError(const std::string& message, std::string log) : Error(message), log_(std::move(log)) {}
  const std::string& log() const { return log_; }

 private:
  std::string log_;
};

// A device that is missing, lost, or poisoned by an earlier fault.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// API misuse that the caller can fix: bad sizes, indices, states.
class ValidationError : public Error {
 public:
  using Error::Error;
};

// API misuse by a value of the wrong type (Python: ValidationTypeError, also a TypeError).
class ValidationTypeError : public ValidationError {
 public:
  using ValidationError::ValidationError;
};

// Validation mode found errors in a kernel (issue 12): out-of-bounds accesses, races,
// barrier divergence, reads of unwritten threadgroup memory. `findings()` are the first ones.
struct KernelFinding;
class ShaderValidationError : public ValidationError {
 public:
  ShaderValidationError(const std::string& message, std::shared_ptr<const std::vector<KernelFinding>> findings)
      : ValidationError(message), findings_(std::move(findings)) {}
  const std::vector<KernelFinding>& findings() const { return *findings_; }

 private:
  std::shared_ptr<const std::vector<KernelFinding>> findings_;
};

}  // namespace metallic
