#include "reglo/core/clock.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

namespace reglo {
namespace {

TEST(ClockTest, ManualClockMovesOnlyWhenAdvanced) {
  ManualClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1790000000)));
  const auto start = clock.Monotonic();
  EXPECT_EQ(FormatUtc(clock.Now()), "2026-09-21T14:13:20.000Z");
  clock.Advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(FormatUtc(clock.Now()), "2026-09-21T14:13:21.500Z");
  EXPECT_EQ(clock.Monotonic() - start, std::chrono::milliseconds(1500));
}

TEST(ClockTest, FormatUtcWritesTheCalendarOfAnyInstant) {
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  EXPECT_EQ(FormatUtc(system_clock::time_point(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatUtc(system_clock::time_point(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatUtc(system_clock::time_point(milliseconds(951'782'400'000))),
            "2000-02-29T00:00:00.000Z");  // a leap day
  EXPECT_EQ(FormatUtc(system_clock::time_point(milliseconds(4'107'542'399'999))),
            "2100-02-28T23:59:59.999Z");  // 2100 is not a leap year
  // Sub-millisecond parts are cut, not rounded.
  EXPECT_EQ(FormatUtc(system_clock::time_point(std::chrono::microseconds(1'999))),
            "1970-01-01T00:00:00.001Z");
}

TEST(ClockTest, ParseUtcReadsBackFormatUtcAndNothingElse) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1790000000123));
  std::chrono::system_clock::time_point parsed;
  ASSERT_TRUE(ParseUtc(FormatUtc(at), parsed));
  EXPECT_EQ(parsed, at);
  for (const char* bad :
       {"", "2026-09-21T14:13:20Z", "2026-13-21T14:13:20.000Z", "2026-09-21 14:13:20.000Z",
        "2026-09-21T14:13:20.000+01", "2262-04-11T23:47:16.855Z", "9999-12-31T23:59:59.999Z",
        "1677-09-21T00:12:43.145Z"}) {
    EXPECT_FALSE(ParseUtc(bad, parsed)) << bad;
  }
}

TEST(ClockTest, ParseUtcMillisReadsEveryYearFormatUtcCanHold) {
  int64_t millis = 0;
  ASSERT_TRUE(ParseUtcMillis("1970-01-01T00:00:00.000Z", millis));
  EXPECT_EQ(millis, 0);
  ASSERT_TRUE(ParseUtcMillis("2026-12-05T06:30:08.075Z", millis));
  EXPECT_EQ(millis, 1'796'452'208'075);
  // Past 2262, where a system_clock time point (nanoseconds) overflows.
  ASSERT_TRUE(ParseUtcMillis("9999-12-31T23:59:59.999Z", millis));
  EXPECT_EQ(millis, 253'402'300'799'999);
  ASSERT_TRUE(ParseUtcMillis("0000-01-01T00:00:00.000Z", millis));
  EXPECT_EQ(millis, -62'167'219'200'000);
  millis = 7;
  EXPECT_FALSE(ParseUtcMillis("2026-12-05T06:30:08Z", millis));
  EXPECT_FALSE(ParseUtcMillis("2026-02-30T00:00:00.000Z", millis));
  // Only digits where the shape has them: no sign, space or letter reads as a number.
  for (const char* bad :
       {"+026-12-05T06:30:08.075Z", " 026-12-05T06:30:08.075Z", "2026-12-05T06:3a:08.075Z",
        "2026-12-05T06:30:08.07 Z", "2026-12-05T06:30:08.075z", "2026/12/05T06:30:08.075Z"}) {
    EXPECT_FALSE(ParseUtcMillis(bad, millis)) << bad;
  }
  EXPECT_EQ(millis, 7);  // untouched
}

// Every millisecond of the years 0000-9999 formats to the text that parses back to it: a walk
// over the whole range in uneven steps, so every field takes many values.
TEST(ClockTest, FormatUtcMillisAndParseUtcMillisAgreeAcrossTheWholeRange) {
  constexpr int64_t kFirst = -62'167'219'200'000;
  constexpr int64_t kLast = 253'402'300'799'999;
  constexpr int64_t kStep = 3'155'692'597'963;  // ~100 years, a prime number of milliseconds
  int checked = 0;
  for (int64_t start = kFirst; start < kFirst + kStep; start += kStep / 997) {
    for (int64_t at = start; at <= kLast; at += kStep) {
      const std::optional<std::string> text = FormatUtcMillis(at);
      ASSERT_TRUE(text) << at;
      int64_t parsed = 0;
      ASSERT_TRUE(ParseUtcMillis(*text, parsed)) << *text;
      ASSERT_EQ(parsed, at) << *text;
      ++checked;
    }
  }
  EXPECT_GT(checked, 90'000);
}

TEST(ClockTest, FormatUtcMillisWritesEveryYearParseUtcMillisReads) {
  for (const char* text :
       {"0000-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "2026-12-05T06:30:08.075Z",
        "2262-04-11T23:47:16.855Z", "2400-02-29T12:00:00.001Z", "9999-12-31T23:59:59.999Z"}) {
    int64_t millis = 0;
    ASSERT_TRUE(ParseUtcMillis(text, millis)) << text;
    EXPECT_EQ(FormatUtcMillis(millis), text);
  }
  EXPECT_EQ(FormatUtcMillis(-62'167'219'200'001), std::nullopt);  // before year 0000
  EXPECT_EQ(FormatUtcMillis(253'402'300'800'000), std::nullopt);  // after year 9999
  EXPECT_EQ(FormatUtcMillis(INT64_MAX), std::nullopt);
  EXPECT_EQ(FormatUtcMillis(INT64_MIN), std::nullopt);
}

}  // namespace
}  // namespace reglo
