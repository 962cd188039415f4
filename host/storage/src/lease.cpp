// Lease helpers shared by every backend, and the Store defaults for stores without leases.
#include <chrono>
#include <string_view>

#include "reglo/core/clock.h"
#include "reglo/storage/store.h"

namespace reglo::storage {

Result<std::string> LeaseExpiry(const std::string& now, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return Status::InvalidArgument("a lease time must be positive");
  std::chrono::system_clock::time_point at;
  if (!ParseUtc(now, at)) {
    return Status::InvalidArgument(
        "a lease needs the current time as YYYY-MM-DDTHH:MM:SS.mmmZ (FormatUtc)");
  }
  return FormatUtc(at + ttl);
}

Result<bool> Store::TryAcquireLease(const std::string& /*source_id*/, const std::string& /*owner*/,
                                    std::chrono::milliseconds /*ttl*/, const std::string& /*now*/) {
  return Status::Internal("this store does not support leases");
}

Status Store::ReleaseLease(const std::string& /*source_id*/, const std::string& /*owner*/) {
  return Status::Internal("this store does not support leases");
}

}  // namespace reglo::storage
