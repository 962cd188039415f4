#include "reglo/core/status.h"

#include "reglo/core/text.h"

namespace reglo {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kAlreadyExists: return "already exists";
    case StatusCode::kRetryable: return "retryable error";
    case StatusCode::kRateLimited: return "rate limited";
    case StatusCode::kAuthError: return "authentication error";
    case StatusCode::kConfigError: return "config error";
    case StatusCode::kIncompatible: return "incompatible";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string text(StatusCodeName(code_));
  if (!message_.empty()) text += ": " + EscapeControlCharacters(message_);
  return text;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace reglo
