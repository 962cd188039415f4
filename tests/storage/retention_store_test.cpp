// The Store contract of retention (issue #16), on every backend through StoreTest: runs carry
// their events count, consecutive idle runs fold into one row, and each HousekeepingStore::Prune
// target deletes only what its rules allow, a batch at a time.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "store_test.h"

namespace reglo::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// StoreTest::SetUp registers this source and begins one run (run_id_) at 2025-06-01T08:00.
constexpr const char* kSourceId = "roma-gestionale";

model::CanonicalRecord Student(const std::string& external_id, const std::string& first_name) {
  return AStudent(external_id, first_name);
}

// StoreTest's run of the source (run_id_) stays open: it is the source's first run everywhere.
class RetentionTest : public StoreTest {
 protected:
  // A run of kSourceId from `start` to `end` (minutes after 2025-06-02T00:00) that delivers
  // `seen` records and stores nothing new, finished as `status`; returns its id.
  int64_t IdleRun(int start, int end, int64_t seen = 0, RunStatus status = RunStatus::kSucceeded) {
    const int64_t run = OK_VALUE(store_->BeginRun(kSourceId, At(start)));
    if (seen > 0) {
      CheckpointBatch batch;
      batch.run_id = run;
      batch.source_id = kSourceId;
      batch.stream = "students";
      batch.seen = seen;
      batch.committed_at = At(start);
      EXPECT_TRUE(store_->CommitCheckpoint(batch).ok());
    }
    EXPECT_TRUE(store_->FinishRun(run, status, At(end), "", "").ok());
    return run;
  }
  // A run that creates a student `external_id`.
  int64_t BusyRun(int start, const std::string& external_id) {
    const int64_t run = OK_VALUE(store_->BeginRun(kSourceId, At(start)));
    CheckpointBatch batch;
    batch.run_id = run;
    batch.source_id = kSourceId;
    batch.stream = "students";
    batch.records = {Student(external_id, "Mario")};
    batch.seen = 1;
    batch.committed_at = At(start);
    EXPECT_TRUE(store_->CommitCheckpoint(batch).ok());
    EXPECT_TRUE(store_->FinishRun(run, RunStatus::kSucceeded, At(start + 1), "", "").ok());
    return run;
  }
  static std::string At(int minutes) {
    return fmt::format("2025-06-02T{:02}:{:02}:00.000Z", minutes / 60, minutes % 60);
  }
  std::vector<RunInfo> Runs() { return OK_VALUE(store_->ListRuns(kSourceId, 100)); }
  int64_t Rows(PruneTarget target) { return OK_VALUE(store_->ReadStoreStats()).RowsOf(target); }
};

TEST_P(RetentionTest, ARunRecordsTheEventsItAppended) {
  const int64_t run = BusyRun(0, "S1");
  EXPECT_EQ(OK_VALUE(store_->GetRun(run)).events, 1);
  EXPECT_EQ(OK_VALUE(store_->GetRun(IdleRun(5, 6))).events, 0);
}

TEST_P(RetentionTest, ConsecutiveIdleRunsFoldIntoTheLatestRow) {
  BusyRun(0, "S1");
  IdleRun(1, 2, 3);
  IdleRun(3, 4, 3);
  const int64_t last = IdleRun(5, 6, 3);
  std::vector<RunInfo> runs = Runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, last);  // the latest id lives on: the engine and console know it
  EXPECT_EQ(runs[0].runs, 3);
  EXPECT_EQ(runs[0].started_at, At(1));
  EXPECT_EQ(runs[0].finished_at, At(6));
  EXPECT_EQ(runs[0].counters.seen, 9);
  EXPECT_EQ(runs[1].runs, 1);
  EXPECT_EQ(runs[1].counters.created, 1);
  // Metrics count runs, not rows.
  int64_t succeeded = 0;
  for (const RunTotals& totals : OK_VALUE(store_->ListRunTotals())) {
    if (totals.status == RunStatus::kSucceeded) succeeded += totals.runs;
  }
  EXPECT_EQ(succeeded, 4);
}

TEST_P(RetentionTest, OnlyAlikeIdleRunsFold) {
  IdleRun(0, 1, 2);
  IdleRun(2, 3, 5);  // other records seen per run
  EXPECT_EQ(Runs().size(), 3u);
  IdleRun(4, 5, 0, RunStatus::kFailed);
  IdleRun(6, 7, 5);  // after a failure: a new streak
  EXPECT_EQ(Runs().size(), 5u);
  BusyRun(8, "S2");
  IdleRun(10, 11, 5);  // after a busy run
  EXPECT_EQ(Runs().size(), 7u);
  // A run that logged a warning keeps its own row and log.
  const int64_t warned = OK_VALUE(store_->BeginRun(kSourceId, At(12)));
  ASSERT_OK(store_->AppendRunLog(warned, {At(12), LogLevel::kWarn, "file is old"}));
  ASSERT_OK(store_->FinishRun(warned, RunStatus::kSucceeded, At(13), "", ""));
  EXPECT_EQ(Runs().size(), 8u);
  EXPECT_EQ(OK_VALUE(store_->GetRunLog(warned)).size(), 1u);
  // Another plugin version.
  const int64_t upgraded = OK_VALUE(store_->BeginRun(kSourceId, At(14)));
  ASSERT_OK(store_->SetRunPluginVersion(upgraded, "2.0.0"));
  ASSERT_OK(store_->FinishRun(upgraded, RunStatus::kSucceeded, At(15), "", ""));
  IdleRun(16, 17);
  EXPECT_EQ(Runs().size(), 10u);
}

// Issue #19: an idle pull recorded without a run of its own (SyncStore::RecordIdlePull).
TEST_P(RetentionTest, AnIdlePullFoldsIntoTheLatestIdleRunInPlaceOrStartsARowOfItsOwn) {
  auto idle_pull = [&](int start, int end, const std::string& version,
                       const std::string& release = "") {
    IdlePull pull;
    pull.source_id = kSourceId;
    pull.started_at = At(start);
    pull.finished_at = At(end);
    pull.plugin_version = version;
    pull.release_lease_of = release;
    return OK_VALUE(store_->RecordIdlePull(pull)).run_id;
  };
  BusyRun(0, "S1");
  const int64_t first = idle_pull(1, 2, "1.0.0");  // after a busy run: a row of its own
  RunInfo run = OK_VALUE(store_->GetRun(first));
  EXPECT_EQ(run.status, RunStatus::kSucceeded);
  EXPECT_EQ(run.runs, 1);
  EXPECT_EQ(run.started_at, At(1));
  EXPECT_EQ(run.finished_at, At(2));
  EXPECT_EQ(run.plugin_version, "1.0.0");
  EXPECT_EQ(idle_pull(3, 4, "1.0.0"), first);  // counted in the same row
  run = OK_VALUE(store_->GetRun(first));
  EXPECT_EQ(run.runs, 2);
  EXPECT_EQ(run.started_at, At(1));
  EXPECT_EQ(run.finished_at, At(4));
  EXPECT_EQ(Runs().size(), 3u);                // StoreTest's open run, the busy one, the idle ones
  EXPECT_NE(idle_pull(5, 6, "2.0.0"), first);  // another plugin version: a new row
  // After a run that logged a warning, or one that saw records: a new row.
  const int64_t warned = OK_VALUE(store_->BeginRun(kSourceId, At(7)));
  ASSERT_OK(store_->AppendRunLog(warned, {At(7), LogLevel::kWarn, "file is old"}));
  ASSERT_OK(store_->FinishRun(warned, RunStatus::kSucceeded, At(8), "", ""));
  const int64_t after_warning = idle_pull(9, 10, "");
  EXPECT_NE(after_warning, warned);
  IdleRun(11, 12, 4);
  EXPECT_EQ(Runs().size(), 7u);
  // An idle run begun and finished the long way folds an idle pull too (nothing seen).
  const int64_t long_way = IdleRun(13, 14);
  EXPECT_EQ(idle_pull(15, 16, ""), long_way);
  EXPECT_EQ(OK_VALUE(store_->GetRun(long_way)).runs, 2);
  // Metrics count runs, not rows: busy 1 + idle pulls 2 + 1 + 1 + seen-4 run 1 + 2.
  int64_t succeeded = 0;
  for (const RunTotals& totals : OK_VALUE(store_->ListRunTotals())) {
    if (totals.status == RunStatus::kSucceeded) succeeded += totals.runs;
  }
  EXPECT_EQ(succeeded, 9);
}

TEST_P(RetentionTest, AnIdlePullReleasesTheLeaseOnlyOfItsOwnerAndClosesAbandonedRuns) {
  const std::string now = At(0);
  const std::chrono::milliseconds ttl(60'000);
  ASSERT_TRUE(OK_VALUE(store_->TryAcquireLease(kSourceId, "hub-a", ttl, now)));
  IdlePull pull;
  pull.source_id = kSourceId;
  pull.started_at = At(0);
  pull.finished_at = At(1);
  pull.release_lease_of = "hub-b";  // not the holder: the lease stays
  EXPECT_EQ(OK_VALUE(store_->RecordIdlePull(pull)).abandoned_closed, 0);
  EXPECT_FALSE(OK_VALUE(store_->TryAcquireLease(kSourceId, "hub-c", ttl, now)));
  EXPECT_EQ(OK_VALUE(store_->GetRun(run_id_)).status, RunStatus::kRunning);
  pull.release_lease_of = "hub-a";
  pull.close_abandoned_as = "abandoned: test";  // StoreTest's run, left open
  EXPECT_EQ(OK_VALUE(store_->RecordIdlePull(pull)).abandoned_closed, 1);
  EXPECT_TRUE(OK_VALUE(store_->TryAcquireLease(kSourceId, "hub-c", ttl, now)));
  const RunInfo abandoned = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(abandoned.status, RunStatus::kFailed);
  EXPECT_EQ(abandoned.error_message, "abandoned: test");
}

TEST_P(RetentionTest, AFoldedRunKeepsOnlyItsOwnLogLines) {
  const int64_t first = OK_VALUE(store_->BeginRun(kSourceId, At(0)));
  ASSERT_OK(store_->AppendRunLog(first, {At(0), LogLevel::kInfo, "read 0 rows"}));
  ASSERT_OK(store_->FinishRun(first, RunStatus::kSucceeded, At(1), "", ""));
  const int64_t second = OK_VALUE(store_->BeginRun(kSourceId, At(2)));
  ASSERT_OK(store_->AppendRunLog(second, {At(2), LogLevel::kInfo, "read 0 rows again"}));
  ASSERT_OK(store_->FinishRun(second, RunStatus::kSucceeded, At(3), "", ""));
  EXPECT_EQ(store_->GetRun(first).status().code(), StatusCode::kNotFound);
  std::vector<RunLogLine> log = OK_VALUE(store_->GetRunLog(second));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].message, "read 0 rows again");
  EXPECT_EQ(Rows(PruneTarget::kRunLogs), 1);
}

TEST_P(RetentionTest, OldFinishedRunsArePrunedWithTheirLogsInBatches) {
  // StoreTest's own run (run_id_) is still running: never pruned.
  std::vector<int64_t> old;
  for (int i = 0; i < 5; ++i) {
    old.push_back(BusyRun(i * 10, fmt::format("S{}", i)));
    ASSERT_OK(store_->AppendRunLog(old.back(), {At(i * 10), LogLevel::kInfo, "pulled"}));
  }
  const int64_t young = BusyRun(200, "S9");
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kRuns, At(100), 3)), 3);
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kRuns, At(100), 3)), 2);
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kRuns, At(100), 3)), 0);
  EXPECT_EQ(store_->GetRun(old[0]).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetRun(young).ok());
  EXPECT_TRUE(store_->GetRun(run_id_).ok());
  EXPECT_EQ(Rows(PruneTarget::kRuns), 2);
  EXPECT_EQ(Rows(PruneTarget::kRunLogs), 0);
}

TEST_P(RetentionTest, RunLogLinesArePrunedByTheirTime) {
  ASSERT_OK(store_->AppendRunLog(run_id_, {At(1), LogLevel::kInfo, "old"}));
  ASSERT_OK(store_->AppendRunLog(run_id_, {At(50), LogLevel::kInfo, "young"}));
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kRunLogs, At(10), 500)), 1);
  std::vector<RunLogLine> log = OK_VALUE(store_->GetRunLog(run_id_));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].message, "young");
}

class EventRetentionTest : public RetentionTest {
 protected:
  // Six events, sequences in commit order, at minutes 0..5.
  void SetUp() override {
    RetentionTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 6; ++i) BusyRun(i, fmt::format("E{}", i));
    for (const StoredEvent& event : OK_VALUE(store_->ReadEvents(0, 100))) {
      sequences_.push_back(event.sequence);
    }
    ASSERT_EQ(sequences_.size(), 6u);
  }
  void Subscribe(const std::string& id, std::optional<int64_t> position, bool enabled = true) {
    SubscriptionRow row;
    row.id = id;
    row.url = "https://example.com/hook";
    row.secret_protected = "v1:sealed";
    row.enabled = enabled;
    row.created_at = row.updated_at = At(0);
    ASSERT_OK(store_->UpsertSubscription(row, true));
    if (position) ASSERT_OK(store_->SaveRelayProgress(id, *position, {}));
  }
  std::vector<int64_t> Remaining() {
    std::vector<int64_t> left;
    for (const StoredEvent& event : OK_VALUE(store_->ReadEvents(0, 100))) {
      left.push_back(event.sequence);
    }
    return left;
  }
  std::vector<int64_t> sequences_;
};

TEST_P(EventRetentionTest, WithoutSubscriptionsOnlyTheMinimumAgeKeepsEvents) {
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kEvents, At(3), 500)), 3);
  EXPECT_THAT(Remaining(), ElementsAre(sequences_[3], sequences_[4], sequences_[5]));
}

TEST_P(EventRetentionTest, ACutoffThatIsNotAUtcTimestampIsRefusedAndPrunesNothing) {
  for (PruneTarget target : kPruneTargets) {
    const Result<int64_t> pruned = store_->Prune(target, "2026-12-05 08:00", 500);
    ASSERT_FALSE(pruned.ok()) << PruneTargetName(target);
    EXPECT_EQ(pruned.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(pruned.status().message(), HasSubstr("prune cutoff"));
  }
  EXPECT_EQ(Remaining().size(), 6u);
}

TEST_P(EventRetentionTest, ASubscriptionThatIsBehindKeepsItsEvents) {
  Subscribe("ahead", sequences_[5]);
  Subscribe("behind", sequences_[1]);
  Subscribe("off", 0, /*enabled=*/false);  // a disabled subscription holds nothing back
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kEvents, At(100), 500)), 2);
  EXPECT_EQ(Remaining().front(), sequences_[2]);
  // A subscription the relay has not started yet keeps every event.
  Subscribe("new", std::nullopt);
  ASSERT_OK(store_->SaveRelayProgress("behind", sequences_[5], {}));
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kEvents, At(100), 500)), 0);
}

TEST_P(EventRetentionTest, AnEventWithAPendingOrDeadDeliveryIsKept) {
  Subscribe("wf", sequences_[5]);
  auto delivery = [&](int64_t sequence, const std::string& status) {
    DeliveryRow row;
    row.subscription_id = "wf";
    row.sequence = sequence;
    row.event_id = fmt::format("id-{}", sequence);
    row.event_type = "student.created";
    row.entity_key = fmt::format("k{}", sequence);
    row.status = status;
    row.attempts = 3;
    row.next_attempt_at = At(0);
    return row;
  };
  ASSERT_OK(store_->SaveRelayProgress(
      "wf", std::nullopt,
      {delivery(sequences_[0], "dead"), delivery(sequences_[1], "pending"),
       delivery(sequences_[2], "delivered")}));
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kEvents, At(100), 500)), 4);
  EXPECT_THAT(Remaining(), ElementsAre(sequences_[0], sequences_[1]));
  // Deliveries: delivered and dead ones go by age, pending ones stay.
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kDeliveries, "1970-01-01T00:00:00.000Z", 500)), 0);
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kDeliveries, "9999-01-01T00:00:00.000Z", 500)), 2);
  EXPECT_EQ(Rows(PruneTarget::kDeliveries), 1);
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kEvents, At(100), 500)), 1);
  EXPECT_THAT(Remaining(), ElementsAre(sequences_[1]));
}

TEST_P(RetentionTest, DeadLettersArePrunedByAge) {
  for (int i = 0; i < 2; ++i) {
    CheckpointBatch batch;
    batch.run_id = run_id_;
    batch.source_id = kSourceId;
    batch.stream = "students";
    model::Rejection rejected;
    rejected.stage = "validate";
    rejected.entity = "student";
    rejected.reason = "externalId: missing";
    batch.rejections = {rejected};
    batch.committed_at = At(i * 60);
    ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  }
  EXPECT_EQ(Rows(PruneTarget::kDeadLetters), 2);
  EXPECT_EQ(OK_VALUE(store_->Prune(PruneTarget::kDeadLetters, At(30), 500)), 1);
  std::vector<DeadLetter> left = OK_VALUE(store_->ReadDeadLetters(0, 10));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].created_at, At(60));
}

TEST_P(RetentionTest, StatsCountEveryTargetAndMeasureTheStore) {
  BusyRun(0, "S1");
  const StoreStats stats = OK_VALUE(store_->ReadStoreStats());
  EXPECT_THAT(stats.table_rows,
              ElementsAre(Pair("runs", 2), Pair("run_logs", 0), Pair("events", 1),
                          Pair("deliveries", 0), Pair("dead_letters", 0), Pair("audit", 0)));
  EXPECT_GT(stats.size_bytes, 0);
  EXPECT_EQ(store_->Prune(PruneTarget::kRuns, At(0), 0).status().code(),
            StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backend, RetentionTest, ::testing::Values(ThisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(Backend, EventRetentionTest, ::testing::Values(ThisBackend()),
                         BackendName);

}  // namespace
}  // namespace reglo::storage::testing
