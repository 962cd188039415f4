#include "reglo/storage/store.h"

namespace reglo::storage {

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

RunCounters& RunCounters::operator+=(const RunCounters& other) {
  seen += other.seen;
  created += other.created;
  updated += other.updated;
  unchanged += other.unchanged;
  stale += other.stale;
  warnings += other.warnings;
  rejected += other.rejected;
  return *this;
}

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kSucceeded: return "succeeded";
    case RunStatus::kSucceededWithWarnings: return "succeeded_with_warnings";
    case RunStatus::kFailed: return "failed";
  }
  return "unknown";
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace reglo::storage
