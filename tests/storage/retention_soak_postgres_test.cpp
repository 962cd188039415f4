// The retention soak (issue #16) on PostgreSQL, scaled down (20 sources, 12 days, ages of 2-3
// days): row counts level off once the ages are reached, and a subscription that lags keeps every
// event it has not passed. The SQLite soak (retention_soak_test.cpp) is the full-size one.
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "postgres_test_support.h"
#include "reglo/storage/postgres_store.h"
#include "soak.h"

namespace reglo::storage {
namespace {

using std::chrono::hours;

TEST(RetentionSoakPostgresTest, TwentySourcesForTwelveDaysStayBounded) {
  testing::PostgresBackend backend;
  ManualClock clock(std::chrono::sys_days(std::chrono::year(2025) / 1 / 1));
  // The store on the soak's clock: deliveries are dated by the store itself.
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(backend.url(), clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  soak::SoakOptions options;
  options.sources = 20;
  options.days = 12;
  options.interval = std::chrono::minutes(240);
  options.lagging_until_day = 6;
  options.policy.runs = hours(3 * 24);
  options.policy.run_logs = hours(2 * 24);
  options.policy.events = hours(2 * 24);
  options.policy.deliveries = hours(3 * 24);
  options.policy.dead_letters = hours(3 * 24);
  std::map<int, soak::SoakDay> days;
  Status ran = soak::RunSoak(**store, clock, options,
                             [&](const soak::SoakDay& day) { days[day.day] = day; });
  ASSERT_TRUE(ran.ok()) << ran.ToString();
  ASSERT_EQ(days.size(), 12u);
  for (int day = 1; day < 6; ++day) {
    EXPECT_EQ(days[day].stats.RowsOf(PruneTarget::kEvents), days[day].events_appended)
        << "day " << day;
  }
  const soak::SoakDay& last = days[12];
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kRuns), 20 * 4 * 4);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kRunLogs), 20 * 2 * 3);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kEvents), 20 * 2 * 3);
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kDeliveries), 6 * 4);  // one per poll
  EXPECT_LE(last.stats.RowsOf(PruneTarget::kDeadLetters), 2 * 2 * 4);
  for (PruneTarget target : kPruneTargets) {
    EXPECT_LE(last.stats.RowsOf(target), days[8].stats.RowsOf(target) * 11 / 10 + 5)
        << PruneTargetName(target);
  }
  EXPECT_GT(last.stats.size_bytes, 0);
}

}  // namespace
}  // namespace reglo::storage
