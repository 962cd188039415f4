// Clock: the one seam through which the hub reads time, so tests can fake it without sleeping.
// SystemClock reads the real clocks; ManualClock is advanced by hand. Both are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reglo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps that are stored or shown.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for measuring durations and timeouts.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point Monotonic() const override;
  // The process-wide instance.
  static SystemClock& Instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start);
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point Monotonic() const override;
  void Advance(std::chrono::nanoseconds by);

 private:
  std::chrono::system_clock::time_point start_;
  std::atomic<int64_t> elapsed_ns_{0};
};

// "2026-11-26T05:39:19.123Z" (UTC, millisecond precision): the hub's one timestamp format.
std::string FormatUtc(std::chrono::system_clock::time_point at);
// The inverse of FormatUtc; false (and `out` untouched) for any other text, and for a time a
// system_clock time point cannot hold (nanoseconds: from 1677-09-21 to 2262-04-11).
bool ParseUtc(std::string_view text, std::chrono::system_clock::time_point& out);
// The same, as milliseconds since the Unix epoch: every year FormatUtc's shape can hold
// (0000-9999), where a system_clock time point (nanoseconds) ends in 2262.
bool ParseUtcMillis(std::string_view text, int64_t& out);
// The inverse of ParseUtcMillis: the FormatUtc text of `millis` since the Unix epoch, for every
// year 0000-9999; nullopt outside them (no FormatUtc text gives such a number).
std::optional<std::string> FormatUtcMillis(int64_t millis);

}  // namespace reglo
