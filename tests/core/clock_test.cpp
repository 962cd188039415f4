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
