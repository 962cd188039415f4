// The Store contract of data subjects' rights (issue #18), on every backend through StoreTest:
// export, erasure (every text column of every table scanned generically, and on SQLite the file's
// bytes), idempotence, the re-pull rule both ways, and the personal-data retention.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reglo/storage/subject_sql.h"
#include "store_test.h"

namespace reglo::storage::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// StoreTest::SetUp registers this source (company autoscuola-roma, system gestionale).
constexpr const char* kCompany = "autoscuola-roma";
constexpr const char* kSystem = "gestionale";
constexpr const char* kSource = "roma-gestionale";

// What identifies subject A (erased) and subject B (kept) in any column.
const std::vector<std::string> kSubjectA = {
    "Gianfranco",    "Quagliarella",  "RSSMRA85T10A562S", "gianfranco.q@example.it",
    "+393331234567", "Via Garibaldi", "AX1234567"};
const std::vector<std::string> kSubjectB = {"Beatrice", "Lombardini", "LMBBRC92C45F205R",
                                            "bea.lombardini@example.it", "+393339876543"};

model::CanonicalRecord Valid(const std::string& entity, const std::string& external_id,
                             reglo::testing::RawFields fields,
                             const std::string& updated_at = "2024-01-01T10:00:00Z") {
  auto result = model::Validate(
      reglo::testing::Raw(entity, kCompany, kSystem, external_id, updated_at, std::move(fields)));
  return std::get<model::CanonicalRecord>(std::move(result));
}

model::CanonicalRecord StudentA(const std::string& first_name = "Gianfranco") {
  return Valid("student", "S1",
               {{"firstName", first_name},
                {"lastName", "Quagliarella"},
                {"fiscalCode", "RSSMRA85T10A562S"},
                {"birthDate", "1985-12-10"},
                {"email", "gianfranco.q@example.it"},
                {"phone", "+393331234567"},
                {"indirizzo", "Via Garibaldi 12, Roma"}},
               "2024-03-01T10:00:00Z");
}

model::CanonicalRecord StudentB() {
  return Valid("student", "S2",
               {{"firstName", "Beatrice"},
                {"lastName", "Lombardini"},
                {"fiscalCode", "LMBBRC92C45F205R"},
                {"email", "bea.lombardini@example.it"},
                {"phone", "+393339876543"}});
}

class SubjectStoreTest : public StoreTest {
 protected:
  // Subject A with a case, a document and a payment, a log line, a dead letter of its own, one
  // quoting its e-mail and a delivery error naming it; subject B with the same kinds of rows.
  void Populate() {
    CheckpointBatch batch =
        Batch({StudentA(), StudentB(),
               Valid("case", "C1",
                     {{"studentExternalId", "S1"},
                      {"licenseCategory", "B"},
                      {"status", "open"},
                      {"note", "Quagliarella paga in contanti"}}),
               Valid("document", "D1",
                     {{"ownerEntity", "student"},
                      {"ownerExternalId", "S1"},
                      {"kind", "identity_card"},
                      {"number", "AX1234567"}}),
               Valid("payment", "P1", {{"studentExternalId", "S1"}, {"amountCents", "5000"}}),
               Valid("case", "C2", {{"studentExternalId", "S2"}, {"licenseCategory", "B"}})});
    model::Rejection own{"student",
                         {kCompany, kSystem, "S1"},
                         "allievi.csv:3",
                         "student.birthDate: not a date (Gianfranco Quagliarella)"};
    model::Rejection quoting{"student",
                             {kCompany, kSystem, "S9"},
                             "allievi.csv:9",
                             "duplicate e-mail gianfranco.q@example.it"};
    model::Rejection other{
        "student", {kCompany, kSystem, "S2"}, "allievi.csv:4", "Lombardini: not a date"};
    batch.rejections = {own, quoting, other};
    batch.log_lines = {{"2025-06-01T09:00:00.000Z", LogLevel::kWarn,
                        "allievi.csv:3: Quagliarella has two phone numbers"},
                       {"2025-06-01T09:00:00.000Z", LogLevel::kWarn,
                        "allievi.csv:4: Lombardini has two phone numbers"}};
    const CheckpointResult result = OK_VALUE(store_->CommitCheckpoint(batch));
    ASSERT_EQ(result.counters.created, 6);
    // A webhook that keeps failing on A's first event and B's.
    SubscriptionRow subscription;
    subscription.id = "workflows";
    subscription.url = "http://127.0.0.1:9/hook";
    subscription.created_at = subscription.updated_at = "2025-06-01T09:00:00.000Z";
    ASSERT_OK(store_->UpsertSubscription(subscription, true));
    std::vector<DeliveryRow> deliveries;
    for (const StoredEvent& event : Events()) {
      if (event.event.external_id != "S1" && event.event.external_id != "S2") continue;
      DeliveryRow row;
      row.subscription_id = "workflows";
      row.sequence = event.sequence;
      row.event_id = event.event.event_id;
      row.event_type = event.event.type;
      row.entity_key = "student/" + event.event.external_id;
      row.attempts = 2;
      row.next_attempt_at = "2025-06-01T10:00:00.000Z";
      row.last_error = event.event.external_id == "S1" ? "HTTP 422: Quagliarella unknown"
                                                       : "HTTP 422: Lombardini unknown";
      row.created_at = row.updated_at = "2025-06-01T09:00:00.000Z";
      deliveries.push_back(row);
    }
    ASSERT_OK(store_->SaveRelayProgress("workflows", 0, deliveries));
  }

  SubjectQuery ByCf(const std::string& cf = "RSSMRA85T10A562S") {
    SubjectQuery query;
    query.company_id = kCompany;
    query.fiscal_code = cf;
    return query;
  }
  SubjectQuery ById(const std::string& entity, const std::string& external_id) {
    SubjectQuery query;
    query.company_id = kCompany;
    query.entity = entity;
    query.external_id = external_id;
    return query;
  }

  // The non-empty items of `text` between `separator`s.
  static std::vector<std::string> Split(const std::string& text, char separator) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find(separator, start);
      if (end == std::string::npos) end = text.size();
      if (end > start) items.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return items;
  }
  // Every "table.column" of the store's text columns, listed by the database itself.
  std::vector<std::string> TextColumns() {
    const bool sqlite = GetParam().name == "Sqlite";
    const std::string list = OK_VALUE(backend_->QueryText(
        sqlite ? "SELECT group_concat(m.name || '.' || p.name, ',') FROM sqlite_master m JOIN "
                 "pragma_table_info(m.name) p WHERE m.type = 'table' AND upper(p.type) = 'TEXT'"
               : "SELECT string_agg(table_name || '.' || column_name, ',') FROM "
                 "information_schema.columns WHERE table_schema = current_schema() AND "
                 "data_type = 'text'"));
    return Split(list, ',');
  }
  // The sequences of the outbox events whose data, decoded as the relay reads it, holds `needle`.
  std::vector<int64_t> DecodedEventsHolding(const std::string& needle) {
    std::vector<int64_t> sequences;
    for (const StoredEvent& event : Events()) {
      if (event.event.data.find(needle) != std::string::npos) sequences.push_back(event.sequence);
    }
    return sequences;
  }
  // "table.column" of every text column holding `needle`, in one statement (portable SQL: no
  // LIKE pattern to escape, no instr/strpos). The cast: SQLite keeps a compressed event's data as
  // a BLOB in its TEXT column, and a BLOB never equals the TEXT that REPLACE returns.
  std::vector<std::string> Holding(const std::string& needle) {
    std::string sql = "SELECT ''";
    for (const std::string& column : TextColumns()) {
      const size_t dot = column.find('.');
      sql += fmt::format(
          " || CASE WHEN EXISTS (SELECT 1 FROM {0} WHERE REPLACE(COALESCE(CAST({1} AS TEXT), ''), "
          "'{2}', '') <> COALESCE(CAST({1} AS TEXT), '')) THEN '{0}.{1} ' ELSE '' END",
          column.substr(0, dot), column.substr(dot + 1), needle);
    }
    return Split(OK_VALUE(backend_->QueryText(sql)), ' ');
  }
};

TEST_P(SubjectStoreTest, TheScanSeesEveryTextColumnOfTheStore) {
  const std::vector<std::string> columns = TextColumns();
  EXPECT_THAT(columns, Contains("students.first_name"));
  EXPECT_THAT(columns, Contains("integration_run_logs.message"));
  EXPECT_THAT(columns, Contains("integration_dead_letters.reason"));
  EXPECT_THAT(columns, Contains("integration_deliveries.last_error"));
  EXPECT_GT(columns.size(), 60u);
}

TEST_P(SubjectStoreTest, ExportHoldsTheRecordsEventsDeliveriesDeadLettersAndLogLines) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const SubjectExport data = OK_VALUE(store_->ExportSubject(ByCf()));
  ASSERT_TRUE(data.found());
  std::vector<std::string> records;
  for (const SubjectRecord& record : data.records) {
    records.push_back(record.entity + "/" + record.key.external_id);
    EXPECT_FALSE(record.erased);
  }
  EXPECT_THAT(records, ElementsAre("student/S1", "case/C1", "document/D1", "payment/P1"));
  EXPECT_THAT(data.records[0].record_json, HasSubstr("\"fiscalCode\":\"RSSMRA85T10A562S\""));
  EXPECT_THAT(data.records[0].record_json, HasSubstr("Via Garibaldi"));
  ASSERT_EQ(data.events.size(), 4u);  // one created event per record
  for (const StoredEvent& event : data.events) EXPECT_THAT(event.event.type, HasSubstr(".created"));
  ASSERT_EQ(data.deliveries.size(), 1u);
  EXPECT_EQ(data.deliveries[0].event_id, data.events[0].event.event_id);
  ASSERT_EQ(data.dead_letters.size(), 2u);  // its own, and the one quoting its e-mail
  EXPECT_EQ(data.dead_letters[0].external_id, "S1");
  EXPECT_EQ(data.dead_letters[1].external_id, "S9");
  ASSERT_EQ(data.run_logs.size(), 1u);
  EXPECT_THAT(data.run_logs[0].line.message, HasSubstr("Quagliarella"));
  // The same subject named by one of its records.
  EXPECT_EQ(OK_VALUE(store_->ExportSubject(ById("case", "C1"))).records.size(), 4u);
  EXPECT_EQ(OK_VALUE(store_->ExportSubject(ById("student", "S1"))).records.size(), 4u);
}

TEST_P(SubjectStoreTest, UnknownSubjectsAreNotFoundAndBadQueriesRefused) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  EXPECT_FALSE(OK_VALUE(store_->ExportSubject(ByCf("XXXXXX00X00X000X"))).found());
  EXPECT_FALSE(
      OK_VALUE(store_->EraseSubject(ByCf("XXXXXX00X00X000X"), "2025-06-02T00:00:00.000Z")).found);
  SubjectQuery none;
  none.company_id = kCompany;
  EXPECT_EQ(store_->ExportSubject(none).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ExportSubject(ById("lesson", "C1")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ExportSubject(ById("vehicle", "V1")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(SubjectStoreTest, AfterErasureNoByteOfTheSubjectRemainsInAnyTable) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  for (const std::string& needle : kSubjectA) {
    EXPECT_THAT(Holding(needle), Not(IsEmpty())) << needle << " is there before";
  }
  // Events' data is stored compressed (EncodeEventData), so no text column shows it: it is
  // checked as every reader sees it, decoded.
  EXPECT_THAT(DecodedEventsHolding(kSubjectA[0]), Not(IsEmpty()));
  const int64_t before = OK_VALUE(store_->LatestEventSequence());
  const ErasureResult erased = OK_VALUE(store_->EraseSubject(ByCf(), "2025-06-02T00:00:00.000Z"));
  EXPECT_TRUE(erased.found);
  EXPECT_FALSE(erased.already_erased);
  EXPECT_EQ(erased.students, 1);
  EXPECT_EQ(erased.records, 4);
  EXPECT_EQ(erased.events_rewritten, 3);  // the payment's event held nothing personal
  EXPECT_EQ(erased.dead_letters, 2);      // its own deleted, the quoting one scrubbed
  EXPECT_EQ(erased.run_log_lines, 1);
  for (const std::string& needle : kSubjectA) {
    EXPECT_THAT(Holding(needle), IsEmpty()) << needle << " is still stored";
    EXPECT_THAT(DecodedEventsHolding(needle), IsEmpty()) << needle << " is still in an event";
  }
  for (const std::string& needle : kSubjectB) {
    EXPECT_THAT(Holding(needle), Not(IsEmpty())) << needle << " of the other subject is gone";
  }
  EXPECT_THAT(DecodedEventsHolding(kSubjectB[0]), Not(IsEmpty()));
  // The tombstone: the row stays, without personal data, one version on.
  const std::optional<StoredRecord> tombstone = Get("student", "S1");
  ASSERT_TRUE(tombstone.has_value());
  EXPECT_EQ(tombstone->state.version, 2);
  for (const std::optional<std::string>& value : tombstone->state.values) {
    EXPECT_FALSE(value.has_value());
  }
  EXPECT_TRUE(tombstone->state.extra.empty());
  EXPECT_EQ(Get("student", "S2")->state.values[0], "Beatrice");
  // One student.erased event, after everything else, naming the records to erase downstream.
  const std::vector<StoredEvent> appended = Events(before);
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].event.type, "student.erased");
  EXPECT_EQ(appended[0].event.external_id, "S1");
  EXPECT_EQ(appended[0].event.version, 2);
  EXPECT_THAT(appended[0].event.data, HasSubstr("{\"entity\":\"document\",\"externalId\":\"D1\"}"));
  // The old events keep their shape, with the personal fields null.
  const nlohmann::json created = nlohmann::json::parse(Events()[0].event.data);
  EXPECT_TRUE(created["record"]["firstName"].is_null());
  EXPECT_EQ(created["record"].count("extra"), 0u);
  EXPECT_EQ(created["externalId"], "S1");
  EXPECT_TRUE(OK_VALUE(store_->ExportSubject(ById("student", "S1"))).records[0].erased);
}

TEST_P(SubjectStoreTest, ASecondErasureChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_TRUE(
      OK_VALUE(store_->EraseSubject(ById("student", "S1"), "2025-06-02T00:00:00.000Z")).found);
  const int64_t events = OK_VALUE(store_->CountEvents());
  const ErasureResult again =
      OK_VALUE(store_->EraseSubject(ById("student", "S1"), "2025-06-03T00:00:00.000Z"));
  EXPECT_TRUE(again.found);
  EXPECT_TRUE(again.already_erased);
  EXPECT_EQ(again.records, 0);
  EXPECT_EQ(again.events_rewritten, 0);
  EXPECT_TRUE(again.erased_events.empty());
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), events);
  EXPECT_EQ(Get("student", "S1")->state.version, 2);
  EXPECT_EQ(Get("student", "S1")->updated_at, "2025-06-02T00:00:00.000Z");
  // By codice fiscale, the erased subject is no longer found at all.
  EXPECT_FALSE(OK_VALUE(store_->EraseSubject(ByCf(), "2025-06-03T00:00:00.000Z")).found);
}

TEST_P(SubjectStoreTest, AnErasedRecordPulledAgainStaysErasedByDefault) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_TRUE(OK_VALUE(store_->EraseSubject(ByCf(), "2025-06-02T00:00:00.000Z")).found);
  const int64_t events = OK_VALUE(store_->CountEvents());
  const CheckpointResult result = Commit({StudentA("Gianfranco"), StudentB()});
  ASSERT_EQ(result.outcomes.size(), 2u);
  EXPECT_EQ(result.outcomes[0], model::Outcome::kUnchanged);  // recognised, left erased
  EXPECT_EQ(result.outcomes[1], model::Outcome::kUnchanged);
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), events);
  EXPECT_FALSE(Get("student", "S1")->state.values[0].has_value());
  EXPECT_THAT(Holding("Gianfranco"), IsEmpty());
  // A source's own rule wins over the hub's.
  ASSERT_OK(store_->PutSetting(AfterErasureSettingKey(""), std::string(kRecreateErased),
                               "2025-06-02T00:00:00.000Z"));
  ASSERT_OK(store_->PutSetting(AfterErasureSettingKey(kSource), std::string(kStayErased),
                               "2025-06-02T00:00:00.000Z"));
  EXPECT_EQ(Commit({StudentA()}).outcomes[0], model::Outcome::kUnchanged);
  EXPECT_FALSE(Get("student", "S1")->state.values[0].has_value());
}

TEST_P(SubjectStoreTest, AnErasedRecordPulledAgainIsRecreatedWhenTheSourceSaysSo) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_TRUE(OK_VALUE(store_->EraseSubject(ByCf(), "2025-06-02T00:00:00.000Z")).found);
  ASSERT_OK(store_->PutSetting(AfterErasureSettingKey(kSource), std::string(kRecreateErased),
                               "2025-06-02T00:00:00.000Z"));
  const int64_t before = OK_VALUE(store_->LatestEventSequence());
  const CheckpointResult result = Commit({StudentA()});
  EXPECT_EQ(result.outcomes[0], model::Outcome::kUpdated);
  const std::optional<StoredRecord> back = Get("student", "S1");
  EXPECT_EQ(back->state.version, 3);
  EXPECT_EQ(back->state.values[0], "Gianfranco");
  const std::vector<StoredEvent> appended = Events(before);
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].event.type, "student.updated");
  EXPECT_FALSE(OK_VALUE(store_->ExportSubject(ById("student", "S1"))).records[0].erased);
}

TEST_P(SubjectStoreTest, PersonalDataOfOneSourceExpiresByItsOwnAge) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_OK(store_->UpsertSource({"other", kCompany, "altro", "csv", "{}", true, "new"}));
  const int64_t other_run = OK_VALUE(store_->BeginRun("other", "2025-06-01T08:00:00.000Z"));
  ASSERT_OK(
      store_->AppendRunLog(other_run, {"2025-06-01T08:00:00.000Z", LogLevel::kWarn, "kept line"}));
  // The run log lines and dead letters of the source are from 2025-06-01 09:00.
  EXPECT_EQ(OK_VALUE(store_->PrunePersonalData(kSource, PersonalPrune::kRunLogs,
                                               "2025-06-01T09:00:00.000Z", 100)),
            0);
  EXPECT_EQ(OK_VALUE(store_->PrunePersonalData(kSource, PersonalPrune::kRunLogs,
                                               "2025-06-02T00:00:00.000Z", 1)),
            1);
  EXPECT_EQ(OK_VALUE(store_->PrunePersonalData(kSource, PersonalPrune::kRunLogs,
                                               "2025-06-02T00:00:00.000Z", 100)),
            1);
  EXPECT_EQ(OK_VALUE(store_->PrunePersonalData(kSource, PersonalPrune::kDeadLetters,
                                               "2025-06-02T00:00:00.000Z", 100)),
            3);
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM integration_run_logs")), 1);
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM integration_dead_letters")), 0);
}

TEST_P(SubjectStoreTest, InactiveStudentsAreFlaggedOrErasedByPolicy) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  // A's case changes later than B's records: only B is inactive at this cut.
  CheckpointBatch later = Batch(
      {Valid("case", "C1",
             {{"studentExternalId", "S1"}, {"licenseCategory", "B"}, {"status", "licensed"}})});
  later.committed_at = "2026-01-01T00:00:00.000Z";
  ASSERT_TRUE(store_->CommitCheckpoint(later).ok());
  const std::string cut = "2025-12-01T00:00:00.000Z";
  EXPECT_EQ(OK_VALUE(store_->HandleInactiveStudents(kSource, cut, InactiveAction::kFlag,
                                                    "2026-02-01T00:00:00.000Z", 100)),
            1);
  const std::vector<InactiveStudent> flagged = OK_VALUE(store_->ListInactiveStudents(10));
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].key.external_id, "S2");
  // Flagged once.
  EXPECT_EQ(OK_VALUE(store_->HandleInactiveStudents(kSource, cut, InactiveAction::kFlag,
                                                    "2026-02-02T00:00:00.000Z", 100)),
            0);
  EXPECT_EQ(OK_VALUE(store_->HandleInactiveStudents(kSource, cut, InactiveAction::kErase,
                                                    "2026-02-03T00:00:00.000Z", 100)),
            1);
  EXPECT_THAT(Holding("Lombardini"), IsEmpty());
  EXPECT_THAT(Holding("Quagliarella"), Not(IsEmpty()));
  EXPECT_TRUE(OK_VALUE(store_->ListInactiveStudents(10)).empty());
  // Erased students are not handled again.
  EXPECT_EQ(OK_VALUE(store_->HandleInactiveStudents(kSource, cut, InactiveAction::kErase,
                                                    "2026-02-04T00:00:00.000Z", 100)),
            0);
}

// SQLite keeps deleted bytes in free space unless told not to: the file itself is scanned.
TEST_P(SubjectStoreTest, AfterErasureNoByteOfTheSubjectRemainsInTheDatabaseFile) {
  const std::filesystem::path file = backend_->DatabaseFile();
  if (file.empty()) GTEST_SKIP() << "a server database: the tables are what there is to scan";
  ASSERT_NO_FATAL_FAILURE(Populate());
  // Changed once before the erasure: the old value must not linger either.
  Commit({StudentA("Gianfrancesco")});
  SubjectQuery query = ByCf();
  ASSERT_TRUE(OK_VALUE(store_->EraseSubject(query, "2025-06-02T00:00:00.000Z")).found);
  auto file_bytes = [&]() {
    std::string bytes;
    for (const std::string suffix : {"", "-wal"}) {
      std::ifstream in(file.string() + suffix, std::ios::binary);
      bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return bytes;
  };
  std::string bytes = file_bytes();
  ASSERT_THAT(bytes, HasSubstr("Lombardini"));  // the scan reads the data
  for (const std::string& needle : kSubjectA) {
    EXPECT_EQ(bytes.find(needle), std::string::npos) << needle << " is in the file";
  }
  EXPECT_EQ(bytes.find("Gianfrancesco"), std::string::npos);
  store_.reset();
  bytes = file_bytes();
  for (const std::string& needle : kSubjectA) {
    EXPECT_EQ(bytes.find(needle), std::string::npos) << needle << " is in the closed file";
  }
}

INSTANTIATE_TEST_SUITE_P(Backend, SubjectStoreTest, ::testing::Values(ThisBackend()), BackendName);

}  // namespace
}  // namespace reglo::storage::testing
