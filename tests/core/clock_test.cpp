#include "reglo/core/clock.h"

#include <gtest/gtest.h>

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
  for (const char* bad : {"", "2026-09-21T14:13:20Z", "2026-13-21T14:13:20.000Z",
                          "2026-09-21 14:13:20.000Z", "2026-09-21T14:13:20.000+01"}) {
    EXPECT_FALSE(ParseUtc(bad, parsed)) << bad;
  }
}

}  // namespace
}  // namespace reglo
