// The pipeline driven end to end: a real connector library (the C "counter" test connector) into a
// real store, with a fake clock. Failures are injected by the connector and by the store. Every
// case runs on each backend of PipelineBackends() (pipeline_backends.h): SQLite in pipeline_test,
// PostgreSQL in pipeline_postgres_test.
#include "reglo/pipeline/sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "pipeline_backends.h"
#include "reglo/core/clock.h"
#include "reglo/model/schema.h"
#include "reglo/storage/forwarding_store.h"
#include "reglo/storage/subject_sql.h"

namespace reglo::pipeline {
namespace {

using storage::testing::BackendName;
using storage::testing::BackendParam;
using ::testing::HasSubstr;

std::shared_ptr<plugin_host::LoadedPlugin> Counter() {
  static std::shared_ptr<plugin_host::LoadedPlugin> plugin = [] {
    auto loaded = plugin_host::LoadedPlugin::Load(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) /
                                                  "counter.so");
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return *loaded;
  }();
  return plugin;
}

// The same connector as Counter(), built as its version 2.0.0: a plugin upgrade.
std::shared_ptr<plugin_host::LoadedPlugin> CounterV2() {
  static std::shared_ptr<plugin_host::LoadedPlugin> plugin = [] {
    auto loaded = plugin_host::LoadedPlugin::Load(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) /
                                                  "v2" / "counter.so");
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return *loaded;
  }();
  return plugin;
}

// Forwards to a real store, but fails the n-th CommitCheckpoint (1-based) when asked to.
class FailingStore final : public storage::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  void FailCommit(int n) { fail_at_ = n; }

  Result<storage::CheckpointResult> CommitCheckpoint(
      const storage::CheckpointBatch& batch) override {
    if (++commits_ == fail_at_) return Status::IoError("disk I/O error (injected)");
    return ForwardingStore::CommitCheckpoint(batch);
  }

 private:
  int commits_ = 0;
  int fail_at_ = 0;
};

// SetUp opens a fresh, empty database of the parameter's backend.
class SyncTest : public storage::testing::FreshDatabaseTest {
 protected:
  storage::SourceRow Source(const std::string& id, const std::string& config) {
    storage::SourceRow source{id, "autoscuola-rossi", "counter-db", "counter", config, true, "new"};
    EXPECT_TRUE(store_->UpsertSource(source).ok());
    return source;
  }

  SyncReport Run(const storage::SourceRow& source, storage::SyncStore* store = nullptr,
                 const plugin_host::LoadedPlugin* plugin = nullptr, SyncOptions options = {}) {
    auto instance = (plugin ? *plugin : *Counter()).CreateInstance(source.config_json);
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    SyncRunner runner(store ? *store : *store_, clock_, options);
    clock_.Advance(std::chrono::seconds(1));
    return runner.RunOnce(source, **instance);
  }

  int64_t Students() { return *store_->CountRecords(*model::FindEntity("student")); }

  std::vector<storage::StoredEvent> Events() {
    auto events = store_->ReadEvents(0, 100000);
    EXPECT_TRUE(events.ok());
    return *events;
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1790000000))};
};

INSTANTIATE_TEST_SUITE_P(Backends, SyncTest, ::testing::ValuesIn(PipelineBackends()), BackendName);

TEST_P(SyncTest, FirstSyncCreatesEverythingAndCommitsTheCursor) {
  const auto source = Source("counter-1", R"({"records": 10, "checkpoint_every": 4})");
  SyncReport report = Run(source);
  EXPECT_EQ(report.status, storage::RunStatus::kSucceeded) << report.error.ToString();
  EXPECT_EQ(report.counters.seen, 10);
  EXPECT_EQ(report.counters.created, 10);
  EXPECT_EQ(report.events, 10);
  EXPECT_EQ(Students(), 10);
  EXPECT_EQ(*store_->GetCursor(source.id, "student"), "10");
  auto run = store_->GetRun(report.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->counters.created, 10);
  EXPECT_EQ(run->status, storage::RunStatus::kSucceeded);
  EXPECT_TRUE(run->finished_at.has_value());
  auto sources = store_->ListSources();
  ASSERT_TRUE(sources.ok());
  ASSERT_EQ(sources->size(), 1u);
  EXPECT_EQ((*sources)[0].status, "ok");
}

TEST_P(SyncTest, RedeliveredRecordsWriteNothingAndEmitNoEvent) {
  Run(Source("counter-1", R"({"records": 10})"));
  const size_t events_before = Events().size();
  // Another source of the same company and system delivers the same records from the start.
  SyncReport again = Run(Source("counter-again", R"({"records": 10})"));
  EXPECT_EQ(again.status, storage::RunStatus::kSucceeded);
  EXPECT_EQ(again.counters.unchanged, 10);
  EXPECT_EQ(again.counters.created + again.counters.updated, 0);
  EXPECT_EQ(again.events, 0);
  EXPECT_EQ(Events().size(), events_before);
}

// Issue #19: a source row that hashes as the row its stored record was mapped from costs a hash
// and a lookup, not a mapping and a validation, and still counts as unchanged everywhere.
TEST_P(SyncTest, UnchangedSourceRowsCountUnchangedWithoutBeingMapped) {
  SyncReport first = Run(Source("counter-1", R"({"records": 10, "checkpoint_every": 4})"));
  EXPECT_EQ(first.counters.created, 10);
  EXPECT_EQ(first.unchanged_unmapped, 0);
  const size_t events_before = Events().size();
  // Another source of the same company, system, plugin and options: the same rows from the start.
  SyncReport again = Run(Source("counter-again", R"({"records": 10, "checkpoint_every": 4})"));
  EXPECT_EQ(again.status, storage::RunStatus::kSucceeded) << again.error.ToString();
  EXPECT_EQ(again.counters.seen, 10);
  EXPECT_EQ(again.counters.unchanged, 10);
  EXPECT_EQ(again.unchanged_unmapped, 10);
  EXPECT_EQ(again.by_entity["student"].seen, 10);
  EXPECT_EQ(again.by_entity["student"].unchanged, 10);
  EXPECT_EQ(again.events, 0);
  EXPECT_EQ(Events().size(), events_before);
  auto run = store_->GetRun(again.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->counters.seen, 10);
  EXPECT_EQ(run->counters.unchanged, 10);
  EXPECT_EQ(*store_->GetCursor("counter-again", "student"), "10");

  // Switched off, every row is mapped (and found unchanged by the store).
  SyncOptions mapping_all;
  mapping_all.skip_unchanged_source_rows = false;
  SyncReport mapped = Run(Source("counter-mapped", R"({"records": 10, "checkpoint_every": 4})"),
                          nullptr, nullptr, mapping_all);
  EXPECT_EQ(mapped.counters.unchanged, 10);
  EXPECT_EQ(mapped.unchanged_unmapped, 0);
}

// What a row maps to depends on the plugin's version and the source's options: a change of either
// maps every row again (here: found unchanged), and stores the new hashes, so only the first
// pull after the change pays for it.
TEST_P(SyncTest, APluginUpgradeOrNewOptionsMapEveryRowAgainOnce) {
  Run(Source("counter-1", R"({"records": 6})"));
  SyncReport upgraded = Run(Source("counter-v2", R"({"records": 6})"), nullptr, CounterV2().get());
  EXPECT_EQ(upgraded.status, storage::RunStatus::kSucceeded) << upgraded.error.ToString();
  EXPECT_EQ(upgraded.counters.unchanged, 6);
  EXPECT_EQ(upgraded.unchanged_unmapped, 0);
  SyncReport after =
      Run(Source("counter-v2-again", R"({"records": 6})"), nullptr, CounterV2().get());
  EXPECT_EQ(after.counters.unchanged, 6);
  EXPECT_EQ(after.unchanged_unmapped, 6);

  SyncReport options = Run(Source("counter-options", R"({"records": 6, "checkpoint_every": 2})"),
                           nullptr, CounterV2().get());
  EXPECT_EQ(options.counters.unchanged, 6);
  EXPECT_EQ(options.unchanged_unmapped, 0);
}

// Counts the reads of stored source hashes.
class ScanCountingStore final : public storage::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Status ScanSourceHashes(const model::EntitySpec& entity, const std::string& company_id,
                          const std::string& source_system, const SourceHashRow& row) override {
    ++scans;
    return ForwardingStore::ScanSourceHashes(entity, company_id, source_system, row);
  }
  int scans = 0;
};

// The hashes are read at a stream's first record: a pull that brings nothing reads none (a
// no-op resync of a million records stays as cheap as it was).
TEST_P(SyncTest, APullThatBringsNothingReadsNoSourceHashes) {
  const auto source = Source("counter-1", R"({"records": 5})");
  ScanCountingStore counting(*store_);
  SyncReport first = Run(source, &counting);
  EXPECT_EQ(first.counters.created, 5);
  EXPECT_EQ(counting.scans, 1);
  SyncReport idle = Run(source, &counting);  // from the stored cursor: nothing new
  EXPECT_EQ(idle.counters.seen, 0);
  EXPECT_EQ(counting.scans, 1);
}

// Counts the writes of a pull.
class WriteCountingStore final : public storage::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override {
    ++begun;
    return ForwardingStore::BeginRun(source_id, started_at);
  }
  Result<storage::CheckpointResult> CommitCheckpoint(
      const storage::CheckpointBatch& batch) override {
    ++commits;
    return ForwardingStore::CommitCheckpoint(batch);
  }
  Result<storage::IdlePullResult> RecordIdlePull(const storage::IdlePull& pull) override {
    ++idle_pulls;
    return ForwardingStore::RecordIdlePull(pull);
  }
  int begun = 0;
  int commits = 0;
  int idle_pulls = 0;
};

// Issue #19: a pull that brings nothing (no record, warning or new cursor) begins no run and
// commits no checkpoint: one RecordIdlePull, which folds the next idle pull into the same row.
// A pull that brings something begins its run at its first batch, with the lines logged before.
TEST_P(SyncTest, APullThatBringsNothingIsOneIdlePullWrite) {
  const auto source = Source("counter-1", R"({"records": 3, "log_each_record": 1})");
  WriteCountingStore counting(*store_);
  SyncReport first = Run(source, &counting);
  EXPECT_EQ(first.counters.created, 3);
  EXPECT_EQ(counting.begun, 1);
  EXPECT_EQ(counting.idle_pulls, 0);
  std::vector<storage::RunLogLine> lines = *store_->GetRunLog(first.run_id);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].message, "emitting a record");

  const int commits = counting.commits;
  ASSERT_TRUE(store_->SetSourceStatus(source.id, "warning").ok());
  SyncReport idle = Run(source, &counting);
  EXPECT_EQ(idle.stored_status, "ok");  // in the idle pull's transaction
  EXPECT_EQ(store_->ListSources()->front().status, "ok");
  EXPECT_EQ(idle.status, storage::RunStatus::kSucceeded);
  EXPECT_EQ(counting.begun, 1);
  EXPECT_EQ(counting.commits, commits);
  EXPECT_EQ(counting.idle_pulls, 1);
  ASSERT_NE(idle.run_id, first.run_id);
  storage::RunInfo run = *store_->GetRun(idle.run_id);
  EXPECT_EQ(run.status, storage::RunStatus::kSucceeded);
  EXPECT_EQ(run.runs, 1);
  EXPECT_TRUE(store_->GetRunLog(idle.run_id)->empty());

  SyncReport again = Run(source, &counting);
  EXPECT_EQ(counting.begun, 1);
  EXPECT_EQ(counting.idle_pulls, 2);
  EXPECT_EQ(again.run_id, idle.run_id);
  run = *store_->GetRun(idle.run_id);
  EXPECT_EQ(run.runs, 2);
  EXPECT_LT(run.started_at, *run.finished_at);
  EXPECT_EQ(store_->ListRuns(source.id, 10)->size(), 2u);
  EXPECT_EQ(*store_->GetCursor(source.id, "student"), "3");
}

// Records stored without a source hash (before the hashes existed) are mapped once, found
// unchanged, and given the hash then, so the pull after that skips them.
TEST_P(SyncTest, RecordsStoredWithoutASourceHashGetOneWhenFoundUnchanged) {
  SyncOptions without_hashes;
  without_hashes.skip_unchanged_source_rows = false;
  Run(Source("counter-1", R"({"records": 5})"), nullptr, nullptr, without_hashes);
  SyncReport mapped = Run(Source("counter-2", R"({"records": 5})"));
  EXPECT_EQ(mapped.counters.unchanged, 5);
  EXPECT_EQ(mapped.unchanged_unmapped, 0);
  SyncReport skipped = Run(Source("counter-3", R"({"records": 5})"));
  EXPECT_EQ(skipped.counters.unchanged, 5);
  EXPECT_EQ(skipped.unchanged_unmapped, 5);
}

// A changed row is mapped and updates its record, and the record keeps the new row's hash.
TEST_P(SyncTest, AChangedRowIsMappedAndItsNewHashKept) {
  Run(Source("counter-1", R"({"records": 4})"));
  SyncReport changed = Run(Source("counter-2", R"({"records": 4, "revision": 2})"));
  EXPECT_EQ(changed.counters.updated, 4);
  EXPECT_EQ(changed.unchanged_unmapped, 0);
  EXPECT_EQ(changed.events, 4);
  SyncReport again = Run(Source("counter-3", R"({"records": 4, "revision": 2})"));
  EXPECT_EQ(again.counters.unchanged, 4);
  EXPECT_EQ(again.unchanged_unmapped, 4);
  EXPECT_EQ(again.events, 0);
}

// Issue #18 with #19 §2: an erasure blanks a record and clears its source hash, so a later pull
// maps its unchanged source row again and brings it to the checkpoint, where the after-erasure
// rule applies; the other rows are still skipped by their hashes.
class ErasedSourceRowTest : public SyncTest {
 protected:
  static constexpr std::string_view kErased = "S000002";

  void EraseStudent() {
    storage::SubjectQuery query;
    query.company_id = "autoscuola-rossi";
    query.entity = "student";
    query.external_id = std::string(kErased);
    auto erased = store_->EraseSubject(query, FormatUtc(clock_.Now()));
    ASSERT_TRUE(erased.ok()) << erased.status().ToString();
    ASSERT_EQ(erased->records, 1);
  }

  std::optional<std::string> FirstName() {
    auto stored = store_->GetRecord(*model::FindEntity("student"),
                                    {"autoscuola-rossi", "counter-db", std::string(kErased)});
    EXPECT_TRUE(stored.ok() && stored->has_value());
    return (*stored)->state.values[0];
  }

  int64_t RunUnchanged(const SyncReport& report) {
    auto run = store_->GetRun(report.run_id);
    EXPECT_TRUE(run.ok());
    return run->counters.unchanged;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, ErasedSourceRowTest, ::testing::ValuesIn(PipelineBackends()),
                         BackendName);

TEST_P(ErasedSourceRowTest, StaysErasedByDefaultThoughItsSourceRowIsUnchanged) {
  Run(Source("counter-1", R"({"records": 5})"));
  ASSERT_NO_FATAL_FAILURE(EraseStudent());
  const size_t events_before = Events().size();
  for (const char* id : {"counter-2", "counter-3"}) {  // mapped, and left erased, on every pull
    SyncReport again = Run(Source(id, R"({"records": 5})"));
    EXPECT_EQ(again.status, storage::RunStatus::kSucceeded) << again.error.ToString();
    EXPECT_EQ(again.counters.unchanged, 5) << id;
    EXPECT_EQ(again.unchanged_unmapped, 4) << id;
    EXPECT_EQ(RunUnchanged(again), 5) << id;
    EXPECT_EQ(again.events, 0) << id;
    EXPECT_FALSE(FirstName().has_value()) << id;
  }
  EXPECT_EQ(Events().size(), events_before);
}

TEST_P(ErasedSourceRowTest, IsRecreatedFromItsUnchangedSourceRowWhenTheRuleSaysSo) {
  Run(Source("counter-1", R"({"records": 5})"));
  const std::optional<std::string> name = FirstName();
  ASSERT_TRUE(name.has_value());
  ASSERT_TRUE(store_
                  ->PutSetting(storage::AfterErasureSettingKey(""),
                               std::string(storage::kRecreateErased), FormatUtc(clock_.Now()))
                  .ok());
  ASSERT_NO_FATAL_FAILURE(EraseStudent());
  SyncReport recreated = Run(Source("counter-2", R"({"records": 5})"));
  EXPECT_EQ(recreated.status, storage::RunStatus::kSucceeded) << recreated.error.ToString();
  EXPECT_EQ(recreated.counters.updated, 1);
  EXPECT_EQ(recreated.counters.unchanged, 4);
  EXPECT_EQ(recreated.unchanged_unmapped, 4);
  EXPECT_EQ(recreated.events, 1);
  EXPECT_EQ(FirstName(), name);
  // Re-created with its source hash: the next pull skips it too.
  SyncReport after = Run(Source("counter-3", R"({"records": 5})"));
  EXPECT_EQ(after.counters.unchanged, 5);
  EXPECT_EQ(after.unchanged_unmapped, 5);
}

TEST_P(SyncTest, ChangedRecordsBecomeVersionTwoWithChangedFieldNames) {
  Run(Source("counter-1", R"({"records": 3})"));
  SyncReport changed = Run(Source("counter-2", R"({"records": 3, "revision": 2})"));
  EXPECT_EQ(changed.counters.updated, 3);
  EXPECT_EQ(changed.events, 3);
  auto events = Events();
  ASSERT_EQ(events.size(), 6u);
  const auto envelope = nlohmann::json::parse(model::CloudEventJson(events.back().event));
  EXPECT_EQ(envelope["type"], "student.updated");
  EXPECT_EQ(envelope["data"]["version"], 2);
  EXPECT_EQ(envelope["data"]["changedFields"], nlohmann::json::array({"firstName"}));
  auto stored = store_->GetRecord(*model::FindEntity("student"),
                                  {"autoscuola-rossi", "counter-db", "S000002"});
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state.version, 2);
}

TEST_P(SyncTest, FailureAfterCheckpointKThenRerunStoresAndEmitsEverythingOnce) {
  // 20 records, checkpoints every 4; the connector fails one record after checkpoint 3.
  const auto failing =
      Source("counter-1", R"({"records": 20, "checkpoint_every": 4, "fail_after_checkpoint": 3})");
  SyncReport failed = Run(failing);
  EXPECT_EQ(failed.status, storage::RunStatus::kFailed);
  EXPECT_EQ(failed.error.code(), StatusCode::kRetryable);
  EXPECT_THAT(failed.error.message(), HasSubstr("injected failure"));
  EXPECT_EQ(Students(), 12);  // three checkpoints of four; the record in flight is not committed
  EXPECT_EQ(*store_->GetCursor(failing.id, "student"), "12");
  auto run = store_->GetRun(failed.run_id);
  EXPECT_EQ(run->status, storage::RunStatus::kFailed);
  EXPECT_EQ(run->error_category, "retryable error");

  storage::SourceRow healed = failing;
  healed.config_json = R"({"records": 20, "checkpoint_every": 4})";
  SyncReport rerun = Run(healed);
  EXPECT_EQ(rerun.status, storage::RunStatus::kSucceeded);
  EXPECT_EQ(rerun.counters.created, 8);
  EXPECT_EQ(Students(), 20);
  std::set<std::string> ids;
  for (const auto& event : Events()) {
    EXPECT_EQ(event.event.type, "student.created");
    EXPECT_TRUE(ids.insert(event.event.external_id).second)
        << "second event for " << event.event.external_id;
  }
  EXPECT_EQ(ids.size(), 20u);
}

TEST_P(SyncTest, StoreFailureLeavesTheCursorAndCommitsNothingOfThatCheckpoint) {
  const auto source = Source("counter-1", R"({"records": 12, "checkpoint_every": 4})");
  FailingStore failing(*store_);
  failing.FailCommit(2);
  SyncReport report = Run(source, &failing);
  EXPECT_EQ(report.status, storage::RunStatus::kFailed);
  EXPECT_EQ(report.error.code(), StatusCode::kIoError);
  EXPECT_EQ(Students(), 4);
  EXPECT_EQ(*store_->GetCursor(source.id, "student"), "4");
  SyncReport rerun = Run(source);
  EXPECT_EQ(rerun.counters.created, 8);
  EXPECT_EQ(Events().size(), 12u);
}

TEST_P(SyncTest, RunLogLinesAreStoredMasked) {
  // A failing pull logs its error; no personal value of the records may reach the log.
  const auto source =
      Source("counter-1", R"({"records": 5, "checkpoint_every": 2, "fail_after_checkpoint": 1})");
  SyncReport report = Run(source);
  auto lines = store_->GetRunLog(report.run_id);
  ASSERT_TRUE(lines.ok());
  ASSERT_FALSE(lines->empty());
  bool error_logged = false;
  for (const auto& line : *lines) {
    EXPECT_EQ(line.message.find("RSSMRA85T10A562S"), std::string::npos);
    EXPECT_EQ(line.message.find("@example.com"), std::string::npos);
    error_logged |= line.level == storage::LogLevel::kError;
  }
  EXPECT_TRUE(error_logged);
}

// The re-entrancy connector.h states, as the pipeline does it: each record is mapped from inside
// the plugin's emit_record, while its pull_changes is on the stack. The plugin counts those calls
// and reports them in a warning, which lands in the run log.
TEST_P(SyncTest, RecordsAreMappedFromInsideThePluginsEmitRecord) {
  auto plugin = plugin_host::LoadedPlugin::Load(std::filesystem::path(REGLO_TEST_PLUGIN_DIR) /
                                                "reentrancy.so");
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  const auto source = Source("reentrancy-1", R"({"records": 3})");
  auto instance = (*plugin)->CreateInstance(source.config_json);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  SyncRunner runner(*store_, clock_);
  SyncReport report = runner.RunOnce(source, **instance);
  EXPECT_EQ(report.counters.created, 3);
  auto lines = store_->GetRunLog(report.run_id);
  ASSERT_TRUE(lines.ok());
  std::vector<std::string> messages;
  for (const auto& line : *lines) messages.push_back(line.message);
  EXPECT_THAT(messages,
              ::testing::Contains(HasSubstr("map_to_canonical ran 3 times inside pull_changes")));
}

TEST_P(SyncTest, PreviewPrintsMappedRecordsAndCommitsNothing) {
  const auto source = Source("counter-1", R"({"records": 5})");
  auto instance = Counter()->CreateInstance(source.config_json);
  ASSERT_TRUE(instance.ok());
  std::ostringstream out;
  PreviewOptions options;
  options.limit = 3;
  ASSERT_TRUE(Preview(source, **instance, store_.get(), options, out).ok());
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["entity"], "student");
    EXPECT_EQ(json["record"]["lastName"], "Rossi");
    EXPECT_TRUE(json["warnings"].empty());
    ++count;
  }
  EXPECT_EQ(count, 3);
  EXPECT_EQ(Students(), 0);
  EXPECT_EQ(*store_->GetCursor(source.id, "student"), std::nullopt);
}

}  // namespace
}  // namespace reglo::pipeline
