// Lease helpers shared by every backend.
#include <fmt/format.h>

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

Status CheckLeaseHolder(const CheckpointBatch& batch, const std::optional<std::string>& holder) {
  if (batch.lease_owner.empty() || holder == batch.lease_owner) return Status::Ok();
  return Status::Retryable(fmt::format(
      "the lease of source {} is {}: this pull was fenced and nothing of it was committed",
      batch.source_id,
      holder ? "held by another hub instance" : "no longer held by this hub instance"));
}

}  // namespace reglo::storage
