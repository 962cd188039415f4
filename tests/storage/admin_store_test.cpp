// The Store's admin API block (issue #5), run against every backend through StoreTest: settings,
// API-created sources, cursors, run pages, filtered events, the entity browser and run totals.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <variant>

#include "reglo/model/schema.h"
#include "reglo/model/validation.h"
#include "store_test.h"

namespace reglo::storage::testing {
namespace {

using ::testing::ElementsAre;

// The source and run StoreTest::SetUp registers.
constexpr const char* kSourceId = "roma-gestionale";

model::CanonicalRecord Student(const std::string& company, const std::string& external_id,
                               const std::string& first, const std::string& last) {
  model::RawRecord raw;
  raw.entity = "student";
  raw.company_id = company;
  raw.source_system = "gestionale";
  raw.external_id = external_id;
  raw.source_updated_at = "2024-01-01T10:00:00Z";
  raw.fields = {{"firstName", first}, {"lastName", last}};
  raw.origin = "students.csv:" + external_id;
  auto validated = model::Validate(raw);
  EXPECT_TRUE(std::holds_alternative<model::CanonicalRecord>(validated));
  return std::get<model::CanonicalRecord>(std::move(validated));
}

TEST_P(StoreTest, AdminSettingsAreStoredAndReplaced) {
  EXPECT_FALSE(OK_VALUE(store_->GetSetting("admin.token_sha256")).has_value());
  ASSERT_OK(store_->PutSetting("admin.token_sha256", "aa", "2025-06-01T08:00:00.000Z"));
  ASSERT_OK(store_->PutSetting("admin.token_sha256", "bb", "2025-06-01T09:00:00.000Z"));
  Reopen();
  EXPECT_EQ(OK_VALUE(store_->GetSetting("admin.token_sha256")), std::optional<std::string>("bb"));
}

TEST_P(StoreTest, AdminApiSourcesAreKeptReplacedAndDeleted) {
  ApiSourceRow row;
  row.source = {"api-1", "autoscuola-bianchi", "sida", "sida_stub", R"({"seed":1})", true, "new"};
  row.interval_ms = 30'000;
  row.created_at = row.updated_at = "2025-06-01T08:00:00.000Z";
  ASSERT_OK(store_->PutApiSource(row));
  row.source.config_json = R"({"seed":2})";
  row.source.enabled = false;
  row.created_at = "2099-01-01T00:00:00.000Z";  // ignored on a replace
  row.updated_at = "2025-06-01T09:00:00.000Z";
  ASSERT_OK(store_->PutApiSource(row));
  std::vector<ApiSourceRow> listed = OK_VALUE(store_->ListApiSources());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].source.config_json, R"({"seed":2})");
  EXPECT_FALSE(listed[0].source.enabled);
  EXPECT_EQ(listed[0].interval_ms, 30'000);
  EXPECT_EQ(listed[0].created_at, "2025-06-01T08:00:00.000Z");
  EXPECT_EQ(listed[0].updated_at, "2025-06-01T09:00:00.000Z");
  EXPECT_TRUE(OK_VALUE(store_->DeleteApiSource("api-1")));
  EXPECT_FALSE(OK_VALUE(store_->DeleteApiSource("api-1")));
  EXPECT_TRUE(OK_VALUE(store_->ListApiSources()).empty());
}

TEST_P(StoreTest, AdminCursorsAreListedAndResetAndDeleteSourceForgetsThem) {
  CheckpointBatch batch = Batch({});
  batch.cursor = "offset=10";
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  batch = Batch({});
  batch.stream = "cases";
  batch.cursor = "offset=3";
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  std::vector<CursorRow> cursors = OK_VALUE(store_->ListCursors(kSourceId));
  ASSERT_EQ(cursors.size(), 2u);
  EXPECT_EQ(cursors[0].stream, "cases");
  EXPECT_EQ(cursors[0].cursor, std::optional<std::string>("offset=3"));
  EXPECT_EQ(cursors[1].stream, "students");
  EXPECT_EQ(OK_VALUE(store_->ResetCursors(kSourceId)), 2);
  EXPECT_TRUE(OK_VALUE(store_->ListCursors(kSourceId)).empty());
  EXPECT_FALSE(OK_VALUE(store_->GetCursor(kSourceId, "students")).has_value());

  ASSERT_TRUE(store_->CommitCheckpoint(Batch({})).ok());
  EXPECT_TRUE(OK_VALUE(store_->DeleteSource(kSourceId)));
  EXPECT_FALSE(OK_VALUE(store_->DeleteSource(kSourceId)));
  EXPECT_TRUE(OK_VALUE(store_->ListSources()).empty());
  // The history stays.
  EXPECT_EQ(OK_VALUE(store_->GetRun(run_id_)).source_id, kSourceId);
}

TEST_P(StoreTest, AdminRunPagesGoBackwardsFromAnId) {
  std::vector<int64_t> ids = {run_id_};
  for (int i = 0; i < 4; ++i) {
    ids.push_back(OK_VALUE(store_->BeginRun(kSourceId, "2025-06-01T08:00:00.000Z")));
  }
  (void)OK_VALUE(store_->BeginRun("other", "2025-06-01T08:00:00.000Z"));
  ASSERT_OK(store_->SetRunPluginVersion(ids[4], "1.2.0"));
  EXPECT_EQ(OK_VALUE(store_->GetRun(ids[4])).plugin_version, "1.2.0");
  std::vector<RunInfo> first = OK_VALUE(store_->ListRunsBefore(kSourceId, 0, 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, ids[4]);
  EXPECT_EQ(first[0].plugin_version, "1.2.0");
  EXPECT_EQ(first[1].plugin_version, "");
  EXPECT_EQ(first[1].id, ids[3]);
  std::vector<RunInfo> second = OK_VALUE(store_->ListRunsBefore(kSourceId, first[1].id, 2));
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].id, ids[2]);
  EXPECT_EQ(second[1].id, ids[1]);
  std::vector<RunInfo> last = OK_VALUE(store_->ListRunsBefore(kSourceId, second[1].id, 2));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].id, ids[0]);
  EXPECT_FALSE(store_->ListRunsBefore(kSourceId, 0, 0).ok());
}

TEST_P(StoreTest, AdminEventsAreFilteredByTypeAndCompany) {
  Commit({Student("roma", "S1", "Mario", "Rossi"), Student("milano", "S2", "Anna", "Bianchi")});
  Commit({Student("roma", "S1", "Marco", "Rossi")});  // student.updated
  std::vector<StoredEvent> all = OK_VALUE(store_->ReadEventsFiltered(0, 100, {}));
  ASSERT_EQ(all.size(), 3u);
  std::vector<StoredEvent> created =
      OK_VALUE(store_->ReadEventsFiltered(0, 100, {"student.created", ""}));
  EXPECT_EQ(created.size(), 2u);
  std::vector<StoredEvent> roma = OK_VALUE(store_->ReadEventsFiltered(0, 100, {"", "roma"}));
  ASSERT_EQ(roma.size(), 2u);
  EXPECT_EQ(roma[1].event.type, "student.updated");
  std::vector<StoredEvent> after =
      OK_VALUE(store_->ReadEventsFiltered(roma[0].sequence, 100, {"", "roma"}));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].sequence, roma[1].sequence);
  EXPECT_EQ(OK_VALUE(store_->ReadEventsFiltered(0, 1, {})).size(), 1u);
}

// The console's events view: newest first, paged backwards, with the filter's total.
TEST_P(StoreTest, AdminEventsAreReadNewestFirstWithTheirFilteredCount) {
  Commit({Student("roma", "S1", "Mario", "Rossi"), Student("milano", "S2", "Anna", "Bianchi")});
  Commit({Student("roma", "S1", "Marco", "Rossi")});  // student.updated
  std::vector<StoredEvent> all = OK_VALUE(store_->ReadEventsFiltered(0, 100, {}));
  ASSERT_EQ(all.size(), 3u);
  std::vector<StoredEvent> newest = OK_VALUE(store_->ReadEventsBefore(0, 2, {}));
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].sequence, all[2].sequence);
  EXPECT_EQ(newest[1].sequence, all[1].sequence);
  std::vector<StoredEvent> older = OK_VALUE(store_->ReadEventsBefore(newest[1].sequence, 2, {}));
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].sequence, all[0].sequence);
  std::vector<StoredEvent> roma = OK_VALUE(store_->ReadEventsBefore(0, 100, {"", "roma"}));
  ASSERT_EQ(roma.size(), 2u);
  EXPECT_EQ(roma[0].event.type, "student.updated");
  EXPECT_EQ(OK_VALUE(store_->ReadEventsBefore(0, 100, {"student.created", "milano"})).size(), 1u);
  EXPECT_EQ(OK_VALUE(store_->CountEventsFiltered({})), 3);
  EXPECT_EQ(OK_VALUE(store_->CountEventsFiltered({"student.created", ""})), 2);
  EXPECT_EQ(OK_VALUE(store_->CountEventsFiltered({"", "roma"})), 2);
  EXPECT_EQ(OK_VALUE(store_->CountEventsFiltered({"student.updated", "milano"})), 0);
  EXPECT_FALSE(store_->ReadEventsBefore(0, 0, {}).ok());
}

TEST_P(StoreTest, AdminBrowserPagesSearchesAndFiltersByCompany) {
  std::vector<model::CanonicalRecord> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back(Student("roma", fmt::format("R{}", i), "Mario", fmt::format("Rossi{}", i)));
  }
  records.push_back(Student("milano", "M1", "Anna", "Bianchi"));
  records.push_back(Student("milano", "X_%1", "Giulia", "Verdi"));
  Commit(records);
  const model::EntitySpec& student = *model::FindEntity("student");

  RecordPage page = OK_VALUE(store_->BrowseRecords(student, {"", "", 3, 0}));
  EXPECT_EQ(page.total, 7);
  ASSERT_EQ(page.items.size(), 3u);
  EXPECT_EQ(page.items[0].key.company_id, "milano");
  EXPECT_EQ(page.items[0].key.external_id, "M1");
  EXPECT_EQ(page.items[0].version, 1);
  const int first_name = student.FieldIndex("firstName");
  EXPECT_EQ(page.items[0].values.at(static_cast<size_t>(first_name)),
            std::optional<std::string>("Anna"));
  page = OK_VALUE(store_->BrowseRecords(student, {"", "", 3, 6}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].key.external_id, "R4");

  page = OK_VALUE(store_->BrowseRecords(student, {"roma", "", 50, 0}));
  EXPECT_EQ(page.total, 5);
  // By name (any case, first, last or both), by externalId; LIKE wildcards are literal.
  const std::pair<RecordQuery, std::string> finds_one[] = {{{"", "BIANCHI", 50, 0}, "M1"},
                                                           {{"", "mario rossi3", 50, 0}, "R3"},
                                                           {{"roma", "r2", 50, 0}, "R2"},
                                                           {{"", "_%", 50, 0}, "X_%1"}};
  for (const auto& [query, external_id] : finds_one) {
    page = OK_VALUE(store_->BrowseRecords(student, query));
    ASSERT_EQ(page.total, 1) << query.search;
    EXPECT_EQ(page.items[0].key.external_id, external_id);
  }
  EXPECT_FALSE(store_->BrowseRecords(student, {"", "", 0, 0}).ok());
}

TEST_P(StoreTest, AdminRunTotalsSumRunsBySourceAndStatus) {
  Commit({Student("roma", "S1", "Mario", "Rossi"), Student("roma", "S2", "Anna", "Bianchi")});
  ASSERT_OK(store_->FinishRun(run_id_, RunStatus::kSucceeded, "2025-06-01T08:05:00.000Z", "", ""));
  const int64_t second = OK_VALUE(store_->BeginRun(kSourceId, "2025-06-01T09:00:00.000Z"));
  ASSERT_OK(store_->FinishRun(second, RunStatus::kSucceeded, "2025-06-01T09:05:00.000Z", "", ""));
  const int64_t failed = OK_VALUE(store_->BeginRun(kSourceId, "2025-06-01T10:00:00.000Z"));
  ASSERT_OK(store_->FinishRun(failed, RunStatus::kFailed, "2025-06-01T10:05:00.000Z", "RETRY",
                              "unreachable"));
  std::vector<RunTotals> totals = OK_VALUE(store_->ListRunTotals());
  ASSERT_EQ(totals.size(), 2u);
  const RunTotals& bad = totals[0].status == RunStatus::kFailed ? totals[0] : totals[1];
  const RunTotals& good = totals[0].status == RunStatus::kFailed ? totals[1] : totals[0];
  EXPECT_EQ(good.source_id, kSourceId);
  EXPECT_EQ(good.status, RunStatus::kSucceeded);
  EXPECT_EQ(good.runs, 2);
  EXPECT_EQ(good.counters.created, 2);
  EXPECT_EQ(good.last_finished_at, std::optional<std::string>("2025-06-01T09:05:00.000Z"));
  EXPECT_EQ(bad.runs, 1);
  EXPECT_EQ(bad.counters.created, 0);
}

}  // namespace
}  // namespace reglo::storage::testing
