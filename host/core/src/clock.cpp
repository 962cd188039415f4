#include "reglo/core/clock.h"

#include <fmt/format.h>

#include <charconv>

namespace reglo {
namespace {

// Parses `text[pos, pos + width)` as a non-negative decimal number.
bool ReadNumber(std::string_view text, size_t pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  const char* first = text.data() + pos;
  const char* last = first + width;
  auto [end, error] = std::from_chars(first, last, out);
  return error == std::errc() && end == last && out >= 0;
}

}  // namespace

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (FormatUtc) to milliseconds since the epoch; nothing else is
// accepted, so that text comparisons of stored expiries stay time comparisons.
bool ParseUtcMillis(std::string_view text, int64_t& out) {
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
  const std::chrono::milliseconds since_epoch =
      std::chrono::sys_days(date).time_since_epoch() + std::chrono::hours(hour) +
      std::chrono::minutes(minute) + std::chrono::seconds(second) +
      std::chrono::milliseconds(millis);
  out = since_epoch.count();
  return true;
}

bool ParseUtc(std::string_view text, std::chrono::system_clock::time_point& out) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  int64_t millis = 0;
  if (!ParseUtcMillis(text, millis)) return false;
  // Milliseconds to nanoseconds would overflow outside system_clock's range.
  constexpr int64_t kFirst =
      duration_cast<milliseconds>(system_clock::time_point::min().time_since_epoch()).count();
  constexpr int64_t kLast =
      duration_cast<milliseconds>(system_clock::time_point::max().time_since_epoch()).count();
  if (millis < kFirst || millis > kLast) return false;
  out = system_clock::time_point(milliseconds(millis));
  return true;
}

std::chrono::system_clock::time_point SystemClock::Now() const {
  return std::chrono::system_clock::now();
}

std::chrono::steady_clock::time_point SystemClock::Monotonic() const {
  return std::chrono::steady_clock::now();
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

ManualClock::ManualClock(std::chrono::system_clock::time_point start) : start_(start) {}

std::chrono::system_clock::time_point ManualClock::Now() const {
  return start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                      std::chrono::nanoseconds(elapsed_ns_.load()));
}

std::chrono::steady_clock::time_point ManualClock::Monotonic() const {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(elapsed_ns_.load()));
}

void ManualClock::Advance(std::chrono::nanoseconds by) {
  elapsed_ns_ += by.count();
}

std::string FormatUtc(std::chrono::system_clock::time_point at) {
  // Every system_clock time point (1677-2262) lies within FormatUtcMillis's years.
  return *FormatUtcMillis(
      std::chrono::floor<std::chrono::milliseconds>(at).time_since_epoch().count());
}

std::optional<std::string> FormatUtcMillis(int64_t since_epoch) {
  // Calendar arithmetic (std::chrono), not gmtime_r: that takes glibc's time-zone lock on every
  // call, and every pull formats a few of these (4 % of an idle pull's CPU, measured).
  using namespace std::chrono;
  constexpr int64_t kFirst = -62'167'219'200'000;  // 0000-01-01T00:00:00.000Z
  constexpr int64_t kLast = 253'402'300'799'999;   // 9999-12-31T23:59:59.999Z
  if (since_epoch < kFirst || since_epoch > kLast) return std::nullopt;
  const sys_time<milliseconds> millis{milliseconds(since_epoch)};
  const auto days = floor<std::chrono::days>(millis);
  const year_month_day date(days);
  const hh_mm_ss<milliseconds> time(millis - days);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count(),
                     time.subseconds().count());
}

}  // namespace reglo
