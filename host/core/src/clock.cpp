#include "reglo/core/clock.h"

#include <fmt/format.h>

#include <ctime>

namespace reglo {

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
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis % 1000);
}

}  // namespace reglo
