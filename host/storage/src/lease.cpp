// Lease helpers shared by every backend, and the Store defaults for stores without leases.
#include <charconv>
#include <chrono>
#include <string_view>

#include "reglo/core/clock.h"
#include "reglo/storage/store.h"

namespace reglo::storage {
namespace {

// Parses `text[pos, pos + width)` as a non-negative decimal number.
bool ReadNumber(std::string_view text, size_t pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  const char* first = text.data() + pos;
  const char* last = first + width;
  auto [end, error] = std::from_chars(first, last, out);
  return error == std::errc() && end == last && out >= 0;
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (FormatUtc) to a time point; nothing else is accepted, so that text
// comparisons of stored expiries stay time comparisons.
bool ParseUtc(std::string_view text, std::chrono::system_clock::time_point& out) {
  static constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";
  if (text.size() != kShape.size()) return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == '0' ? !digit : text[i] != kShape[i]) return false;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!ReadNumber(text, 0, 4, year) || !ReadNumber(text, 5, 2, month) ||
      !ReadNumber(text, 8, 2, day) || !ReadNumber(text, 11, 2, hour) ||
      !ReadNumber(text, 14, 2, minute) || !ReadNumber(text, 17, 2, second) ||
      !ReadNumber(text, 20, 3, millis)) {
    return false;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return false;
  out = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
        std::chrono::seconds(second) + std::chrono::milliseconds(millis);
  return true;
}

}  // namespace

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
