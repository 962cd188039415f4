// serve's background housekeeper (issue #16) on a real SQLite store: a pass at start on its own
// connection, its totals for /metrics, a disabled policy that only measures, and a prompt stop.
#include "reglo/app/housekeeping.h"

#include <gtest/gtest.h>

#include <chrono>

#include "poll.h"
#include "reglo/storage/sqlite_store.h"
#include "temp_dir.h"

namespace reglo::app {
namespace {

class BackgroundHousekeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->UpsertSource({"s", "c", "db", "csv", "{}", true, "new"}).ok());
    // One run from last year, one from yesterday (the clock's now is 2025-06-01).
    for (const char* at : {"2024-06-01T00:00:00.000Z", "2025-05-31T00:00:00.000Z"}) {
      auto run = (*store)->BeginRun("s", at);
      ASSERT_TRUE(run.ok());
      ASSERT_TRUE((*store)->FinishRun(*run, storage::RunStatus::kFailed, at, "io", "x").ok());
    }
  }
  Result<std::unique_ptr<storage::Store>> Open() {
    return storage::OpenSqliteStore((dir_.path() / "hub.db").string(), clock_);
  }
  size_t Runs() {
    auto store = Open();
    return store.ok() ? (*store)->ListRuns("s", 10)->size() : 0;
  }

  reglo::testing::TempDir dir_;
  ManualClock clock_{std::chrono::sys_days(std::chrono::year(2025) / 6 / 1)};
};

TEST_F(BackgroundHousekeeperTest, PrunesAtStartAndStopsWithoutWaitingForTheInterval) {
  RetentionSettings settings;
  settings.interval_ms = 3'600'000;  // the next pass would be an hour away
  BackgroundHousekeeper housekeeper(
      settings, [this] { return Open(); }, clock_);
  housekeeper.Start();
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return housekeeper.totals().Read().passes == 1; }));
  housekeeper.Stop();  // wakes the wait: a Stop that waited for the interval would hang the test
  const storage::HousekeepingTotals::Snapshot totals = housekeeper.totals().Read();
  EXPECT_EQ(totals.pruned[0], 1);  // runs: last year's
  ASSERT_TRUE(totals.stats.has_value());
  EXPECT_EQ(totals.stats->table_rows[0].second, 1);
  EXPECT_EQ(Runs(), 1u);
}

TEST_F(BackgroundHousekeeperTest, ADisabledPolicyOnlyMeasures) {
  RetentionSettings settings;
  settings.policy = NothingPruned(settings.policy);
  BackgroundHousekeeper housekeeper(
      settings, [this] { return Open(); }, clock_);
  housekeeper.Start();
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return housekeeper.totals().Read().passes == 1; }));
  housekeeper.Stop();
  const storage::HousekeepingTotals::Snapshot totals = housekeeper.totals().Read();
  EXPECT_EQ(totals.pruned[0], 0);
  ASSERT_TRUE(totals.stats.has_value());
  EXPECT_EQ(totals.stats->table_rows[0].second, 2);
  EXPECT_EQ(Runs(), 2u);
}

}  // namespace
}  // namespace reglo::app
