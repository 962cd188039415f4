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

}  // namespace
}  // namespace reglo
