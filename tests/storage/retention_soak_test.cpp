// The retention soak (issue #16) on a real SQLite store and a ManualClock: 100 mostly idle
// sources polled for 30 simulated days, housekeeping every simulated hour. Row counts and the
// store's size level off once the retention ages are reached, and a subscription that lags keeps
// every event it has not passed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "reglo/storage/sqlite_store.h"
#include "soak.h"
#include "temp_dir.h"

namespace reglo::storage {
namespace {

using std::chrono::hours;

TEST(RetentionSoakTest, HundredSourcesForThirtyDaysStayBounded) {
  reglo::testing::TempDir dir;
  const std::filesystem::path db = dir.path() / "hub.db";
  ManualClock clock(std::chrono::sys_days(std::chrono::year(2025) / 1 / 1));
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(db.string(), clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  soak::SoakOptions options;  // 100 sources, 30 days, 2 changes per source and day
  options.lagging_until_day = 20;
  // Polls every 2 hours: idle polls fold into one row, so the poll rate changes only the time
  // the test takes (every poll is still a run begun and finished on the store).
  options.interval = std::chrono::minutes(120);
  // Ages well inside the 30 days, so the store goes through several retention periods.
  options.policy.runs = hours(7 * 24);
  options.policy.run_logs = hours(3 * 24);
  options.policy.events = hours(2 * 24);
  options.policy.deliveries = hours(7 * 24);
  options.policy.dead_letters = hours(7 * 24);
  std::map<int, soak::SoakDay> days;
  ASSERT_TRUE(soak::RunSoak(**store, clock, options, [&](const soak::SoakDay& day) {
                days[day.day] = day;
              }).ok());
  ASSERT_EQ(days.size(), 30u);

  // While "lagging" stays at 0, no event is pruned, however old.
  for (int day = 1; day < 20; ++day) {
    EXPECT_EQ(days[day].first_sequence, 1) << "day " << day;
    EXPECT_EQ(days[day].stats.RowsOf(PruneTarget::kEvents), days[day].events_appended)
        << "day " << day;
  }
  // Each table levels off: 200 busy runs a day, each followed by one row of folded idle runs
  // (without folding: 1,200 rows a day at this poll rate, 144,000 at the default minute).
  const soak::SoakDay& last = days[30];
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kRuns), 100 * 4 * 8);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kRunLogs), 100 * 2 * 4);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kEvents), 100 * 2 * 3);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kDeliveries), 12 * 8);  // one per poll
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kDeadLetters), 10 * 2 * 8);
  for (PruneTarget target : kPruneTargets) {
    EXPECT_LE(last.stats.RowsOf(target), days[15].stats.RowsOf(target) * 11 / 10 + 10)
        << PruneTargetName(target) << " still grows after the retention ages";
  }
  // The file gives pruned pages back: the lagging backlog (3,600 events more than the retained
  // 400 at day 20, about a fifth of the file now that events are stored narrow and compressed)
  // is returned once the subscription has caught up (day 20: 1.21 MB, then 0.95 MB from day 21
  // on; it would stay at 1.21 MB if the pages were kept).
  EXPECT_LE(last.stats.size_bytes, days[20].stats.size_bytes * 5 / 6);
  EXPECT_LE(last.stats.size_bytes, days[22].stats.size_bytes * 11 / 10);
  EXPECT_LE(last.stats.free_bytes, last.stats.size_bytes / 2);
  store->reset();
  EXPECT_LE(static_cast<int64_t>(std::filesystem::file_size(db)), days[20].stats.size_bytes);
}

}  // namespace
}  // namespace reglo::storage
