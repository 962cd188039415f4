// Fault test of the PostgreSQL backend (DESIGN §5, issue 3): the server is restarted
// (pg_ctl restart -m fast) in the middle of a series of commits. The commit caught by the restart
// fails with a retryable error and leaves nothing half-committed; after the server is back the
// same store reconnects, a new store works as well, and every record and event is there exactly
// once. Restarting drops every connection of the server, so CTest runs this binary alone
// (RUN_SERIAL), against the throwaway cluster only.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "poll.h"
#include "postgres_test_support.h"
#include "reglo/model/validation.h"
#include "reglo/storage/postgres_store.h"

namespace reglo::storage::testing {
namespace {

constexpr int kPerBatch = 250;

// Batch `n` of the series: its own records, and the cursor "page-<n>".
CheckpointBatch SeriesBatch(int64_t run_id, int n) {
  CheckpointBatch batch;
  batch.run_id = run_id;
  batch.source_id = kBackendSourceId;
  batch.stream = "students";
  for (int i = 0; i < kPerBatch; ++i) {
    batch.records.push_back(AStudent(fmt::format("S{:02}-{:04}", n, i)));
  }
  batch.seen = kPerBatch;
  batch.cursor = fmt::format("page-{}", n);
  batch.committed_at = fmt::format("2025-06-01T08:{:02}:00.000Z", n);
  return batch;
}

TEST(PostgresRestartTest, RestartMidCommitLeavesNothingHalfDoneAndEverythingLandsOnce) {
  ASSERT_TRUE(UsingThrowawayCluster())
      << "this test restarts the server: it needs the pg_cluster_start fixture's throwaway "
         "cluster (REGLO_TEST_PG_URL points at a server it must not restart)";
  PostgresBackend backend;
  Result<std::unique_ptr<Store>> opened = backend.Open();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> store = std::move(*opened);
  ASSERT_OK(RegisterBackendSource(*store));
  const int64_t run = store->BeginRun(kBackendSourceId, "2025-06-01T08:00:00.000Z").value();

  for (int n = 1; n <= 3; ++n) {
    Result<CheckpointResult> committed = store->CommitCheckpoint(SeriesBatch(run, n));
    ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  }

  // Batch 4 sleeps inside its transaction (after writing its records and events, before its
  // cursor) while the server restarts.
  ASSERT_TRUE(backend
                  .ExecuteSql("CREATE FUNCTION reglo_test_slow() RETURNS trigger LANGUAGE plpgsql "
                              "AS $$BEGIN IF NEW.cursor = 'page-4' THEN PERFORM pg_sleep(30); "
                              "END IF; RETURN NEW; END$$; CREATE TRIGGER reglo_test_slow BEFORE "
                              "INSERT OR UPDATE ON integration_cursors FOR EACH ROW EXECUTE "
                              "FUNCTION reglo_test_slow()")
                  .ok());
  Result<CheckpointResult> caught = Status::Internal("not run");
  std::thread writer([&] { caught = store->CommitCheckpoint(SeriesBatch(run, 4)); });
  const bool sleeping = reglo::testing::WaitUntil(
      [&] {
        Result<int64_t> count =
            backend.QueryInt("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
        return count.ok() && *count > 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  const auto restarted_at = std::chrono::steady_clock::now();
  const Status restarted = RestartThrowawayCluster();
  writer.join();
  ASSERT_TRUE(sleeping) << "batch 4 never reached its sleep";
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - restarted_at, std::chrono::seconds(20));

  ASSERT_FALSE(caught.ok());
  EXPECT_EQ(caught.status().code(), StatusCode::kRetryable) << caught.status().ToString();
  EXPECT_THAT(caught.status().message(), ::testing::HasSubstr(backend.url().database));

  // Nothing of batch 4 is there: not its records, events, counters or cursor.
  ASSERT_TRUE(backend.ExecuteSql("DROP TRIGGER reglo_test_slow ON integration_cursors").ok());
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students").value(), 3 * kPerBatch);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), 3 * kPerBatch);
  EXPECT_EQ(backend.QueryInt("SELECT created FROM integration_runs").value(), 3 * kPerBatch);
  EXPECT_EQ(backend.QueryText("SELECT cursor FROM integration_cursors").value(), "page-3");

  // The same store reconnects at its next call and goes on: batch 4 again, then 5 and 6.
  for (int n = 4; n <= 6; ++n) {
    Result<CheckpointResult> committed = store->CommitCheckpoint(SeriesBatch(run, n));
    ASSERT_TRUE(committed.ok()) << "batch " << n << ": " << committed.status().ToString();
    EXPECT_EQ(committed->counters.created, kPerBatch);
    EXPECT_EQ(committed->events, kPerBatch);
  }

  // Restarted again while idle: the next call notices the closed connection and just works.
  ASSERT_TRUE(RestartThrowawayCluster().ok());
  Result<CheckpointResult> after_idle = store->CommitCheckpoint(SeriesBatch(run, 7));
  ASSERT_TRUE(after_idle.ok()) << after_idle.status().ToString();
  EXPECT_EQ(after_idle->counters.created, kPerBatch);

  // A new store replaying everything (a resumed pull from an older cursor) adds nothing.
  store.reset();
  opened = backend.Open();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store = std::move(*opened);
  for (int n = 1; n <= 7; ++n) {
    Result<CheckpointResult> replayed = store->CommitCheckpoint(SeriesBatch(run, n));
    ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
    EXPECT_EQ(replayed->counters.unchanged, kPerBatch);
    EXPECT_EQ(replayed->events, 0);
  }

  // Exactly once: every record of batches 1-7 with one created event, in sequence order.
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students").value(), 7 * kPerBatch);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), 7 * kPerBatch);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(DISTINCT external_id) FROM integration_events").value(),
            7 * kPerBatch);
  EXPECT_EQ(backend.QueryText("SELECT cursor FROM integration_cursors").value(), "page-7");
}

}  // namespace
}  // namespace reglo::storage::testing
