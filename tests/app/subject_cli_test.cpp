// `reglo-hub subject export | erase` as an operator runs them (issue #18), on a SQLite store a
// test fills through the Store interface; and the personal-data retention of serve's background
// housekeeper on a fake clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "hub_cli_test.h"
#include "poll.h"
#include "raw_record.h"
#include "reglo/app/housekeeping.h"
#include "reglo/app/subject.h"
#include "reglo/model/validation.h"
#include "reglo/storage/sqlite_store.h"

namespace reglo::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

model::CanonicalRecord Student(const std::string& id, const std::string& last_name,
                               const std::string& cf) {
  auto result = model::Validate(
      reglo::testing::Raw("student", "rossi", "csv", id, "2024-01-01T10:00:00Z",
                          {{"firstName", "Anna"}, {"lastName", last_name}, {"fiscalCode", cf}}));
  return std::get<model::CanonicalRecord>(std::move(result));
}

class SubjectCliTest : public reglo::testing::HubCliTest {
 protected:
  SubjectCliTest() : HubCliTest("reglo-subject-cli", "sqlite:hub.db") {}

  void SetUp() override {
    HubCliTest::SetUp();
    auto store = storage::OpenSqliteStore((dir_ / "hub.db").string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(
        (*store)->UpsertSource({"rossi-csv", "rossi", "csv", "csv", "{}", true, "new"}).ok());
    storage::CheckpointBatch batch;
    batch.run_id = *(*store)->BeginRun("rossi-csv", "2025-06-01T08:00:00.000Z");
    batch.source_id = "rossi-csv";
    batch.stream = "allievi";
    batch.records = {Student("A1", "Bellomonte", "RSSMRA85T10A562S"),
                     Student("A2", "Castellani", "LMBBRC92C45F205R")};
    batch.committed_at = "2025-06-01T08:00:01.000Z";
    ASSERT_TRUE((*store)->CommitCheckpoint(batch).ok());
  }

  static nlohmann::json JsonOf(const std::string& text) {
    const size_t start = text.find('{');
    return start == std::string::npos ? nlohmann::json()
                                      : nlohmann::json::parse(text.substr(start), nullptr, false);
  }
};

TEST_F(SubjectCliTest, ExportPrintsEverythingStoredAboutTheSubject) {
  const auto out = Hub("subject export --company rossi --cf RSSMRA85T10A562S");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  const nlohmann::json document = JsonOf(out.text);
  ASSERT_TRUE(document.is_object()) << out.text;
  EXPECT_EQ(document["found"], true);
  ASSERT_EQ(document["records"].size(), 1u);
  EXPECT_EQ(document["records"][0]["record"]["lastName"], "Bellomonte");
  EXPECT_EQ(document["events"][0]["type"], "student.created");
  EXPECT_THAT(out.text, Not(HasSubstr("Castellani")));
  // By id, the same student.
  const auto by_id = Hub("subject export --company rossi --entity student --external-id A1");
  ASSERT_EQ(by_id.exit_code, 0) << by_id.text;
  EXPECT_EQ(JsonOf(by_id.text)["records"][0]["externalId"], "A1");
}

TEST_F(SubjectCliTest, EraseNeedsYesThenErasesOnceAndSaysSo) {
  const auto unconfirmed = Hub("subject erase --company rossi --cf RSSMRA85T10A562S");
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.text;
  EXPECT_THAT(unconfirmed.text, HasSubstr("--yes"));
  EXPECT_THAT(unconfirmed.text, HasSubstr("1 records"));
  // The codice fiscale is shown masked, never in clear.
  EXPECT_THAT(unconfirmed.text, Not(HasSubstr("RSSMRA85T10A562S")));
  EXPECT_THAT(unconfirmed.text, HasSubstr("cf#"));

  const auto erased = Hub("subject erase --company rossi --cf RSSMRA85T10A562S --yes");
  ASSERT_EQ(erased.exit_code, 0) << erased.text;
  const nlohmann::json result = JsonOf(erased.text);
  EXPECT_EQ(result["found"], true);
  EXPECT_EQ(result["records"], 1);
  EXPECT_EQ(result["erasedEvents"].size(), 1u);

  const auto again = Hub("subject erase --company rossi --entity student --external-id A1 --yes");
  ASSERT_EQ(again.exit_code, 0) << again.text;
  EXPECT_THAT(again.text, HasSubstr("erased already"));
  EXPECT_EQ(JsonOf(again.text)["erasedEvents"].size(), 0u);

  const auto gone = Hub("subject export --company rossi --cf RSSMRA85T10A562S");
  EXPECT_EQ(gone.exit_code, 1) << gone.text;
  EXPECT_THAT(gone.text, HasSubstr("nothing is stored"));
  const auto tombstone = Hub("subject export --company rossi --entity student --external-id A1");
  ASSERT_EQ(tombstone.exit_code, 0) << tombstone.text;
  EXPECT_EQ(JsonOf(tombstone.text)["records"][0]["erased"], true);
  EXPECT_THAT(tombstone.text, Not(HasSubstr("Bellomonte")));
  // The other student is untouched.
  EXPECT_THAT(Hub("subject export --company rossi --cf LMBBRC92C45F205R").text,
              HasSubstr("Castellani"));
  // Each erasure that ran left its audit row, committed with it: actor cli, the student named by
  // its id, no value of theirs (the unconfirmed one changed nothing and left none).
  auto store = storage::OpenSqliteStore((dir_ / "hub.db").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  storage::AuditQuery query;
  query.action = "subject.erase";
  const auto rows = (*store)->ListAudit(query);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  for (const storage::AuditRow& row : *rows) {
    EXPECT_EQ(row.actor, "cli");
    EXPECT_EQ(row.outcome, "ok");
    EXPECT_EQ(row.target, "student/A1");
    for (const std::string& text : {row.before, row.after, row.detail, row.target}) {
      EXPECT_THAT(text, Not(HasSubstr("RSSMRA85T10A562S")));
      EXPECT_THAT(text, Not(HasSubstr("Bellomonte")));
    }
  }
}

TEST_F(SubjectCliTest, BadUsageExitsTwoWithAClearMessage) {
  const std::pair<std::string, std::string> cases[] = {
      {"subject export --cf RSSMRA85T10A562S", "--company is required"},
      {"subject export --company rossi", "name the subject"},
      {"subject export --company rossi --cf X --entity student --external-id A1", "not both"},
      {"subject export --company rossi --entity lesson --external-id A1", "not an entity"},
      {"subject export --company rossi --entity vehicle --external-id V1",
       "does not belong to a student"},
  };
  for (const auto& [args, expected] : cases) {
    const auto out = Hub(args);
    EXPECT_EQ(out.exit_code, 2) << args << "\n" << out.text;
    EXPECT_THAT(out.text, HasSubstr(expected)) << args;
  }
}

// serve's background pass, at a fake clock's time: a source's own ages expire its dead letters and
// run log lines, and its inactive students are flagged, while another source keeps its own.
TEST(SubjectRetentionTest, TheBackgroundPassExpiresPersonalDataPerSource) {
  reglo::testing::TempDir dir;
  ManualClock clock{std::chrono::sys_days(std::chrono::year(2025) / 6 / 1)};
  auto open = [&] { return storage::OpenSqliteStore((dir.path() / "hub.db").string(), clock); };
  {
    auto store = open();
    ASSERT_TRUE(store.ok());
    for (const char* id : {"short", "long"}) {
      ASSERT_TRUE((*store)->UpsertSource({id, "rossi", id, "csv", "{}", true, "new"}).ok());
      storage::CheckpointBatch batch;
      batch.run_id = *(*store)->BeginRun(id, "2025-05-20T00:00:00.000Z");
      batch.source_id = id;
      batch.stream = "allievi";
      auto student = model::Validate(reglo::testing::Raw("student", "rossi", id, "A1", std::nullopt,
                                                         {{"lastName", "Bellomonte"}}));
      batch.records = {std::get<model::CanonicalRecord>(std::move(student))};
      batch.rejections = {{"student", {"rossi", id, "A9"}, "allievi.csv:9", "Bellomonte: bad"}};
      batch.log_lines = {{"2025-05-20T00:00:00.000Z", storage::LogLevel::kWarn, "Bellomonte"}};
      batch.committed_at = "2025-05-20T00:00:00.000Z";
      ASSERT_TRUE((*store)->CommitCheckpoint(batch).ok());
    }
  }
  RetentionSettings settings;
  settings.interval_ms = 3'600'000;
  PersonalDataSettings strict;
  strict.policy.dead_letters = std::chrono::hours(24 * 7);
  strict.policy.run_logs = std::chrono::hours(24 * 7);
  strict.policy.inactive_after = std::chrono::hours(24 * 7);
  settings.personal_data_by_source = {{"short", strict}};
  settings.source_ids = {"short", "long"};  // "long" has the hub default
  BackgroundHousekeeper housekeeper(settings, open, clock);
  housekeeper.Start();
  ASSERT_TRUE(reglo::testing::WaitUntil([&] { return housekeeper.totals().Read().passes == 1; }));
  housekeeper.Stop();
  auto store = open();
  ASSERT_TRUE(store.ok());
  const auto letters = (*store)->ReadDeadLetters(0, 10);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].source_id, "long");
  const auto flagged = (*store)->ListInactiveStudents(10);
  ASSERT_EQ(flagged->size(), 1u);
  EXPECT_EQ((*flagged)[0].key.source_system, "short");
  EXPECT_EQ((*flagged)[0].flagged_at, "2025-06-01T00:00:00.000Z");
  EXPECT_EQ((*store)->GetRunLog((*store)->ListRuns("short", 1)->at(0).id)->size(), 0u);
  EXPECT_EQ((*store)->GetRunLog((*store)->ListRuns("long", 1)->at(0).id)->size(), 1u);
}

}  // namespace
}  // namespace reglo::app
