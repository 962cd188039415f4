// Status and Result<T>: how expected failures travel between components (no exceptions across
// them). A Status is a category plus a human-readable message; Result<T> is a value or a non-OK
// Status. Thread-safety: plain values; safe to copy and move between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace reglo {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from a user, a file or a request
  kNotFound,
  kAlreadyExists,
  kRetryable,     // transient: trying again later may succeed
  kRateLimited,   // transient, with a known delay
  kAuthError,     // credentials refused; never retried automatically
  kConfigError,   // configuration wrong; never retried automatically
  kIncompatible,  // version mismatch (plugin ABI, schema)
  kIoError,       // file system or database failure
  kInternal,      // a bug or an unexpected state
  kCancelled,     // stopped on request (shutdown, watchdog)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Retryable(std::string m) { return {StatusCode::kRetryable, std::move(m)}; }
  static Status AuthError(std::string m) { return {StatusCode::kAuthError, std::move(m)}; }
  static Status ConfigError(std::string m) { return {StatusCode::kConfigError, std::move(m)}; }
  static Status Incompatible(std::string m) { return {StatusCode::kIncompatible, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "config error: sources[0].id: missing", for a person to read: control characters in the
  // message are escaped (text.h), since messages quote input. message() is the raw text.
  std::string ToString() const;
  // The same status with `context` prepended to the message ("reading x.csv: ...").
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace reglo

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define REGLO_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::reglo::Status reglo_status_ = (expr);        \
    if (!reglo_status_.ok()) return reglo_status_; \
  } while (false)

// Declares `var` holding the value of `expr` (a Result), or returns its status from the enclosing
// function. It also declares var##_result, so each `var` names one use per scope.
#define REGLO_ASSIGN_OR_RETURN(var, expr)               \
  auto var##_result = (expr);                           \
  if (!var##_result.ok()) return var##_result.status(); \
  auto var = std::move(*var##_result)
