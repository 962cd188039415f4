#include "reglo/core/clock.h"

namespace reglo {
namespace {

// The number `text[pos, pos + width)` spells; `bad` is set when one of them is not a digit.
// Plain arithmetic, not std::from_chars: a record's times are parsed as it is stored, and seven
// from_chars calls made up most of a parse (callgrind).
int Digits(std::string_view text, size_t pos, size_t width, bool& bad) {
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    const unsigned digit = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    bad |= digit > 9;
    value = value * 10 + static_cast<int>(digit);
  }
  return value;
}

// Writes `value` (0 <= value < 10^width) as `width` digits over `text[pos, pos + width)`.
void PutDigits(std::string& text, size_t pos, size_t width, int value) {
  for (size_t i = pos + width; i > pos; --i, value /= 10) {
    text[i - 1] = static_cast<char>('0' + value % 10);
  }
}

}  // namespace

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (FormatUtc) to milliseconds since the epoch; nothing else is
// accepted, so that text comparisons of stored expiries stay time comparisons.
bool ParseUtcMillis(std::string_view text, int64_t& out) {
  // The shape "0000-00-00T00:00:00.000Z": its separators here, its digits as they are read.
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return false;
  }
  bool bad = false;
  const int year = Digits(text, 0, 4, bad), month = Digits(text, 5, 2, bad);
  const int day = Digits(text, 8, 2, bad), hour = Digits(text, 11, 2, bad);
  const int minute = Digits(text, 14, 2, bad), second = Digits(text, 17, 2, bad);
  const int millis = Digits(text, 20, 3, bad);
  if (bad) return false;
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
  // The digits written by hand into the fixed shape, not fmt::format: its format string is
  // parsed at every call, 4,400 instructions where this takes a tenth (callgrind), and every
  // stored time read back (a record's three, each event's) comes through here.
  std::string text = "0000-00-00T00:00:00.000Z";
  PutDigits(text, 0, 4, static_cast<int>(date.year()));
  PutDigits(text, 5, 2, static_cast<int>(static_cast<unsigned>(date.month())));
  PutDigits(text, 8, 2, static_cast<int>(static_cast<unsigned>(date.day())));
  PutDigits(text, 11, 2, static_cast<int>(time.hours().count()));
  PutDigits(text, 14, 2, static_cast<int>(time.minutes().count()));
  PutDigits(text, 17, 2, static_cast<int>(time.seconds().count()));
  PutDigits(text, 20, 3, static_cast<int>(time.subseconds().count()));
  return text;
}

}  // namespace reglo
