// The Store contract (DESIGN §5, §6), run against every backend through StoreTest.
#include "store_test.h"

#include <fmt/format.h>
#include <gmock/gmock.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "reglo/model/events.h"
#include "reglo/model/schema.h"
#include "reglo/model/validation.h"

namespace reglo::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr std::string_view kCompany = "autoscuola-roma";
constexpr std::string_view kSourceSystem = "gestionale";
constexpr std::string_view kSourceId = "roma-gestionale";
constexpr std::string_view kStream = "students";

using Fields = std::vector<std::pair<std::string, std::optional<std::string>>>;

model::RawRecord Raw(std::string_view entity, std::string_view external_id,
                     std::optional<std::string> updated_at, Fields fields) {
  model::RawRecord raw =
      reglo::testing::Raw(std::string(entity), std::string(kCompany), std::string(kSourceSystem),
                          std::string(external_id), std::move(updated_at), std::move(fields));
  raw.origin = fmt::format("{}.csv:{}", entity, external_id);
  return raw;
}

model::CanonicalRecord Valid(const model::RawRecord& raw) {
  auto validated = model::Validate(raw);
  if (!std::holds_alternative<model::CanonicalRecord>(validated)) {
    ADD_FAILURE() << "rejected: " << std::get<model::Rejection>(validated).reason;
    return {};
  }
  return std::get<model::CanonicalRecord>(std::move(validated));
}

Fields StudentFields(std::string first_name = "Mario", std::string email = "mario@example.com") {
  return {{"firstName", first_name},   {"lastName", "Rossi"}, {"fiscalCode", "RSSMRA85T10A562S"},
          {"birthDate", "1985-12-10"}, {"email", email},      {"phone", "+39 333 1234567"}};
}

model::CanonicalRecord Student(std::string_view external_id, std::string updated_at,
                               Fields fields = StudentFields()) {
  return Valid(Raw("student", external_id, std::move(updated_at), std::move(fields)));
}

model::CanonicalRecord Case(std::string_view external_id, std::string updated_at,
                            std::string status) {
  return Valid(Raw("case", external_id, std::move(updated_at),
                   {{"studentExternalId", "S1"},
                    {"licenseCategory", "B"},
                    {"status", std::move(status)},
                    {"openedAt", "2024-01-10"}}));
}

model::RecordKey Key(std::string_view external_id) {
  return {std::string(kCompany), std::string(kSourceSystem), std::string(external_id)};
}

const model::EntitySpec& Entity(std::string_view name) {
  return *model::FindEntity(name);
}

// A valid value for every field type, so a record can fill each column without warnings.
std::string SampleValue(const model::FieldSpec& field) {
  switch (field.type) {
    case model::FieldType::kText: return fmt::format("text of {}", field.name);
    case model::FieldType::kDate: return "2024-03-01";
    case model::FieldType::kDateTime: return "2024-03-01T09:30:00Z";
    case model::FieldType::kInteger: return "1250";
    case model::FieldType::kBoolean: return "true";
    case model::FieldType::kEnum: return std::string(field.allowed.back());
    case model::FieldType::kFiscalCode: return "RSSMRA85T10A562S";
    case model::FieldType::kEmail: return "someone@example.com";
    case model::FieldType::kPhone: return "+393331234567";
    case model::FieldType::kCategoryList: return "A,B";
    case model::FieldType::kCurrency: return "EUR";
  }
  return "x";
}

nlohmann::json Envelope(const model::EventRecord& event) {
  return nlohmann::json::parse(model::CloudEventJson(event));
}

}  // namespace

void StoreTest::SetUp() {
  StartFresh();
}

void StoreTest::TearDown() {
  store_.reset();
  backend_.reset();
}

void StoreTest::StartFresh() {
  OpenFreshDatabase();
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_OK(store_->UpsertSource({std::string(kSourceId), std::string(kCompany),
                                  std::string(kSourceSystem), "csv", "{}", true, "new"}));
  run_id_ = OK_VALUE(store_->BeginRun(std::string(kSourceId), "2025-06-01T08:00:00.000Z"));
}

CheckpointBatch StoreTest::Batch(std::vector<model::CanonicalRecord> records) {
  CheckpointBatch batch;
  batch.run_id = run_id_;
  batch.source_id = std::string(kSourceId);
  batch.stream = std::string(kStream);
  batch.seen = static_cast<int64_t>(records.size());
  batch.records = std::move(records);
  // Distinct, increasing commit times in the hub's format.
  batch.committed_at =
      fmt::format("2025-06-01T{:02}:{:02}:00.000Z", 9 + commits_ / 60, commits_ % 60);
  ++commits_;
  return batch;
}

CheckpointResult StoreTest::Commit(std::vector<model::CanonicalRecord> records) {
  return OK_VALUE(store_->CommitCheckpoint(Batch(std::move(records))));
}

std::optional<StoredRecord> StoreTest::Get(std::string_view entity, std::string_view external_id) {
  return OK_VALUE(store_->GetRecord(Entity(entity), Key(external_id)));
}

std::vector<StoredEvent> StoreTest::Events(int64_t after_sequence) {
  return OK_VALUE(store_->ReadEvents(after_sequence, 10000));
}

namespace {

// ---------------------------------------------------------------------------------------------
// Migrations

TEST_P(StoreTest, AppliedOnceAndIdempotentAtReopen) {
  const int latest = store_->LatestSchemaVersion();
  ASSERT_GE(latest, 1);
  EXPECT_EQ(OK_VALUE(store_->SchemaVersion()), latest);
  // Migration numbers are handed out per feature, so the list may have a gap while a branch
  // waits for another's number: one row per migration, none applied twice.
  const int64_t applied = OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM schema_migrations"));
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(DISTINCT version) FROM schema_migrations")),
            applied);
  EXPECT_GE(applied, 1);
  EXPECT_LE(applied, latest);
  Commit({Student("S1", "2024-01-01T10:00:00Z")});

  ASSERT_OK(store_->Migrate());
  Reopen();
  Reopen();
  EXPECT_EQ(OK_VALUE(store_->SchemaVersion()), latest);
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM schema_migrations")), applied);
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT MAX(version) FROM schema_migrations")), latest);
  // Nothing was recreated: the data written before the reopen is still there.
  EXPECT_TRUE(Get("student", "S1").has_value());
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 1);
}

TEST_P(StoreTest, NewerSchemaIsRefusedNamingBothVersions) {
  const int latest = store_->LatestSchemaVersion();
  store_.reset();
  ASSERT_OK(backend_->ExecuteSql(
      fmt::format("INSERT INTO schema_migrations (version, name, applied_at) "
                  "VALUES ({}, 'from a newer build', '2099-01-01T00:00:00.000Z')",
                  latest + 1)));
  Result<std::unique_ptr<Store>> reopened = backend_->Open();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kIncompatible);
  EXPECT_THAT(reopened.status().message(), HasSubstr(std::to_string(latest + 1)));
  EXPECT_THAT(reopened.status().message(), HasSubstr(std::to_string(latest)));
}

TEST_P(StoreTest, EveryCanonicalFieldHasAColumn) {
  // One record per entity with every field set; reading it back proves each FieldSpec::column
  // exists and keeps its value.
  std::vector<model::CanonicalRecord> records;
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    Fields fields;
    for (const model::FieldSpec& field : entity.fields) {
      fields.emplace_back(std::string(field.name), SampleValue(field));
    }
    records.push_back(Valid(Raw(entity.name, "X1", "2024-01-01T00:00:00Z", fields)));
    EXPECT_THAT(records.back().warnings, IsEmpty()) << entity.name;
  }
  const CheckpointResult result = Commit(records);
  EXPECT_EQ(result.counters.created, static_cast<int64_t>(records.size()));
  for (const model::CanonicalRecord& record : records) {
    const std::optional<StoredRecord> stored = Get(record.entity->name, "X1");
    ASSERT_TRUE(stored.has_value()) << record.entity->name;
    EXPECT_EQ(stored->state.values, record.values) << record.entity->name;
    EXPECT_EQ(stored->state.content_hash, record.content_hash);
    EXPECT_EQ(OK_VALUE(store_->CountRecords(*record.entity)), 1) << record.entity->name;
  }
}

// ---------------------------------------------------------------------------------------------
// Change decisions and events

TEST_P(StoreTest, CreatedUnchangedUpdatedStale) {
  // created
  const model::CanonicalRecord v1 = Student("S1", "2024-01-01T10:00:00Z");
  CheckpointBatch first = Batch({v1});
  const CheckpointResult created = OK_VALUE(store_->CommitCheckpoint(first));
  EXPECT_THAT(created.outcomes, ElementsAre(model::Outcome::kCreated));
  EXPECT_EQ(created.counters.created, 1);
  EXPECT_EQ(created.events, 1);
  std::optional<StoredRecord> stored = Get("student", "S1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state.version, 1);
  EXPECT_EQ(stored->state.values, v1.values);
  EXPECT_EQ(stored->state.content_hash, v1.content_hash);
  EXPECT_EQ(stored->state.source_updated_at, v1.source_updated_at);
  EXPECT_EQ(stored->created_at, first.committed_at);
  EXPECT_EQ(stored->updated_at, first.committed_at);
  std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.type, "student.created");
  EXPECT_EQ(events[0].event.version, 1);
  EXPECT_EQ(events[0].event.entity, "student");
  EXPECT_EQ(events[0].event.external_id, "S1");
  EXPECT_EQ(events[0].event.time, first.committed_at);

  // unchanged: same content, even with a newer sourceUpdatedAt
  const CheckpointResult unchanged = Commit({Student("S1", "2024-01-01T11:00:00Z")});
  EXPECT_THAT(unchanged.outcomes, ElementsAre(model::Outcome::kUnchanged));
  EXPECT_EQ(unchanged.counters.unchanged, 1);
  EXPECT_EQ(unchanged.events, 0);
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 1);
  stored = Get("student", "S1");
  EXPECT_EQ(stored->state.version, 1);
  EXPECT_EQ(stored->updated_at, first.committed_at);

  // updated: version 2, the exact changed fields, in schema order
  const model::CanonicalRecord v2 =
      Student("S1", "2024-01-02T10:00:00Z", StudentFields("Maria", "maria@example.com"));
  CheckpointBatch second = Batch({v2});
  const CheckpointResult updated = OK_VALUE(store_->CommitCheckpoint(second));
  EXPECT_THAT(updated.outcomes, ElementsAre(model::Outcome::kUpdated));
  EXPECT_EQ(updated.counters.updated, 1);
  EXPECT_EQ(updated.events, 1);
  stored = Get("student", "S1");
  EXPECT_EQ(stored->state.version, 2);
  EXPECT_EQ(stored->state.values, v2.values);
  EXPECT_EQ(stored->created_at, first.committed_at);
  EXPECT_EQ(stored->updated_at, second.committed_at);
  events = Events(events.back().sequence);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.type, "student.updated");
  EXPECT_EQ(events[0].event.version, 2);
  const nlohmann::json data = Envelope(events[0].event)["data"];
  EXPECT_EQ(data["version"], 2);
  EXPECT_EQ(data["changedFields"], nlohmann::json::array({"firstName", "email"}));

  // stale: an older sourceUpdatedAt is ignored, whatever it carries
  const CheckpointResult stale =
      Commit({Student("S1", "2023-12-31T10:00:00Z", StudentFields("Old", "old@example.com"))});
  EXPECT_THAT(stale.outcomes, ElementsAre(model::Outcome::kStale));
  EXPECT_EQ(stale.counters.stale, 1);
  EXPECT_EQ(stale.events, 0);
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 2);
  stored = Get("student", "S1");
  EXPECT_EQ(stored->state.version, 2);
  EXPECT_EQ(stored->state.values, v2.values);

  const RunInfo run = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(run.counters.seen, 4);
  EXPECT_EQ(run.counters.created, 1);
  EXPECT_EQ(run.counters.unchanged, 1);
  EXPECT_EQ(run.counters.updated, 1);
  EXPECT_EQ(run.counters.stale, 1);
}

TEST_P(StoreTest, CaseStatusChangeCarriesFromAndTo) {
  Commit({Case("C1", "2024-01-01T10:00:00Z", "open")});
  const int64_t before = Events().back().sequence;

  const CheckpointResult result = Commit({Case("C1", "2024-01-02T10:00:00Z", "theory_booked")});
  EXPECT_EQ(result.events, 2);
  const std::vector<StoredEvent> events = Events(before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.type, "case.updated");
  EXPECT_EQ(events[1].event.type, "case.status_changed");
  EXPECT_EQ(events[1].event.version, 2);
  const nlohmann::json data = Envelope(events[1].event)["data"];
  EXPECT_EQ(data["statusChange"]["from"], "open");
  EXPECT_EQ(data["statusChange"]["to"], "theory_booked");
  EXPECT_NE(events[0].event.event_id, events[1].event.event_id);
}

TEST_P(StoreTest, EventIdsAreDeterministicAndReplaysInsertNothing) {
  const std::vector<model::CanonicalRecord> records = {Student("S1", "2024-01-01T10:00:00Z"),
                                                       Student("S2", "2024-01-01T10:00:00Z")};
  CheckpointBatch batch = Batch(records);
  EXPECT_EQ(OK_VALUE(store_->CommitCheckpoint(batch)).events, 2);
  const std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.event_id, model::EventId(Key("S1"), "student", 1, "student.created"));
  EXPECT_EQ(events[1].event.event_id, model::EventId(Key("S2"), "student", 1, "student.created"));

  // The same change on another database gets the same ids.
  std::unique_ptr<StoreBackend> other_backend = GetParam().make();
  std::unique_ptr<Store> other = OK_VALUE(other_backend->Open());
  ASSERT_NE(other, nullptr);
  ASSERT_OK(other->UpsertSource({std::string(kSourceId), std::string(kCompany),
                                 std::string(kSourceSystem), "csv", "{}", true, "new"}));
  batch.run_id = OK_VALUE(other->BeginRun(std::string(kSourceId), "2025-06-01T08:00:00.000Z"));
  ASSERT_TRUE(other->CommitCheckpoint(batch).ok());
  const std::vector<StoredEvent> other_events = OK_VALUE(other->ReadEvents(0, 10));
  ASSERT_EQ(other_events.size(), 2u);
  EXPECT_EQ(other_events[0].event.event_id, events[0].event.event_id);
  EXPECT_EQ(other_events[1].event.event_id, events[1].event.event_id);
  other.reset();

  // Replaying the batch (a resumed pull) changes nothing.
  batch.run_id = run_id_;
  const CheckpointResult replay = OK_VALUE(store_->CommitCheckpoint(batch));
  EXPECT_THAT(replay.outcomes, ElementsAre(model::Outcome::kUnchanged, model::Outcome::kUnchanged));
  EXPECT_EQ(replay.events, 0);
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 2);
}

TEST_P(StoreTest, DuplicatesInOneBatchCollapse) {
  // Both orders, on an empty table (the bulk-insert path) and on a populated one.
  const model::CanonicalRecord older = Student("D1", "2024-01-01T10:00:00Z");
  const model::CanonicalRecord newer =
      Student("D1", "2024-01-02T10:00:00Z", StudentFields("Maria"));
  CheckpointResult result = Commit({older, newer});
  EXPECT_THAT(result.outcomes, ElementsAre(model::Outcome::kCreated, model::Outcome::kUpdated));
  EXPECT_EQ(result.events, 2);
  EXPECT_EQ(Get("student", "D1")->state.version, 2);

  const model::CanonicalRecord d2_newer =
      Student("D2", "2024-01-02T10:00:00Z", StudentFields("Maria"));
  const model::CanonicalRecord d2_older = Student("D2", "2024-01-01T10:00:00Z");
  result = Commit({d2_newer, d2_older});
  EXPECT_THAT(result.outcomes, ElementsAre(model::Outcome::kCreated, model::Outcome::kStale));
  EXPECT_EQ(result.events, 1);
  EXPECT_EQ(Get("student", "D2")->state.values, d2_newer.values);
  EXPECT_EQ(OK_VALUE(store_->CountRecords(Entity("student"))), 2);
}

TEST_P(StoreTest, MixedBatchesFindWhatIsStored) {
  // New ids around and between stored ones, several entities and sources in one batch: each
  // record is still matched with exactly its own stored row.
  Commit({Student("S2", "2024-01-01T10:00:00Z"), Case("C1", "2024-01-01T10:00:00Z", "open")});
  model::RawRecord other_source = Raw("student", "S2", "2024-01-01T10:00:00Z", StudentFields());
  other_source.source_system = "other-system";
  const CheckpointResult result = Commit(
      {Student("S1", "2024-01-01T10:00:00Z"), Student("S2", "2024-01-01T10:00:00Z"),
       Student("S3", "2024-01-01T10:00:00Z"), Case("C1", "2024-01-02T10:00:00Z", "theory_booked"),
       Case("C0", "2024-01-01T10:00:00Z", "open"), Valid(other_source)});
  EXPECT_THAT(result.outcomes, ElementsAre(model::Outcome::kCreated, model::Outcome::kUnchanged,
                                           model::Outcome::kCreated, model::Outcome::kUpdated,
                                           model::Outcome::kCreated, model::Outcome::kCreated));
  EXPECT_EQ(result.events, 6);  // 4 created + case.updated + case.status_changed
  EXPECT_EQ(OK_VALUE(store_->CountRecords(Entity("student"))), 4);
  EXPECT_EQ(OK_VALUE(store_->CountRecords(Entity("case"))), 2);
  EXPECT_EQ(Get("student", "S4"), std::nullopt);
}

TEST_P(StoreTest, ExtraFieldsAndWarningsRoundTrip) {
  Fields fields = StudentFields("Mario", "not-an-email");
  fields.emplace_back("shoeSize", "42");
  fields.emplace_back("nickname", "Super Mario");
  const model::CanonicalRecord v1 = Student("E1", "2024-01-01T10:00:00Z", fields);
  ASSERT_FALSE(v1.warnings.empty());
  Commit({v1, Student("E2", "2024-01-01T10:00:00Z")});

  std::optional<StoredRecord> stored = Get("student", "E1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_THAT(stored->state.extra,
              ElementsAre(Pair("nickname", "Super Mario"), Pair("shoeSize", "42")));
  EXPECT_EQ(stored->warnings, v1.warnings);
  const std::optional<StoredRecord> plain = Get("student", "E2");
  ASSERT_TRUE(plain.has_value());
  EXPECT_THAT(plain->state.extra, IsEmpty());
  EXPECT_THAT(plain->warnings, IsEmpty());

  // A change in an extra field alone is a real change.
  fields.back().second = "Mariolino";
  const int64_t before = Events().back().sequence;
  const CheckpointResult result = Commit({Student("E1", "2024-01-02T10:00:00Z", fields)});
  EXPECT_THAT(result.outcomes, ElementsAre(model::Outcome::kUpdated));
  const std::vector<StoredEvent> events = Events(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Envelope(events[0].event)["data"]["changedFields"],
            nlohmann::json::array({"extra.nickname"}));
  stored = Get("student", "E1");
  EXPECT_THAT(stored->state.extra,
              ElementsAre(Pair("nickname", "Mariolino"), Pair("shoeSize", "42")));
}

// Text of any shape survives every way a backend moves rows (the first batch looks its records
// up; a batch after an all-new one is inserted first, in bulk), byte for byte, in the stored row
// and in its event.
TEST_P(StoreTest, AwkwardTextSurvivesEveryBulkPath) {
  const std::vector<std::string> texts = {"O'Brien \"Bob\"",
                                          "back\\slash\ttab, comma; semi",
                                          "line\nbreak\r\n",
                                          "\xc3\xa0\xc3\xa8 \xe2\x82\xac \xf0\x9f\x9a\x97",
                                          "NULL",
                                          "\\N",
                                          ""};
  std::vector<model::CanonicalRecord> written;
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<model::CanonicalRecord> records;
    for (size_t i = 0; i < texts.size(); ++i) {
      Fields fields = StudentFields(texts[i]);
      fields.emplace_back("note", texts[i]);  // an extra field
      records.push_back(
          Student(fmt::format("A{}-{}", batch, i), "2024-01-01T10:00:00Z", std::move(fields)));
    }
    const CheckpointResult result = Commit(records);
    EXPECT_EQ(result.counters.created, static_cast<int64_t>(texts.size())) << "batch " << batch;
    written.insert(written.end(), records.begin(), records.end());
  }
  const std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), written.size());
  const int first_name = Entity("student").FieldIndex("firstName");
  for (size_t i = 0; i < written.size(); ++i) {
    const model::CanonicalRecord& record = written[i];
    const std::optional<StoredRecord> stored = Get("student", record.key.external_id);
    ASSERT_TRUE(stored.has_value()) << record.key.external_id;
    EXPECT_EQ(stored->state.values, record.values) << record.key.external_id;
    EXPECT_EQ(stored->state.extra, record.extra) << record.key.external_id;
    EXPECT_EQ(stored->state.content_hash, record.content_hash) << record.key.external_id;
    const nlohmann::json data = Envelope(events[i].event)["data"];
    EXPECT_EQ(data["externalId"], record.key.external_id);
    const std::optional<std::string>& name = record.values[static_cast<size_t>(first_name)];
    EXPECT_EQ(data["record"]["firstName"], name ? nlohmann::json(*name) : nlohmann::json())
        << record.key.external_id;
  }
}

TEST_P(StoreTest, EventDataIsStoredCompressedAndReadBackAsBuilt) {
  // Issue #19 §3: every reader gets the `data` the checkpoint built, byte for byte, from a
  // stored form far smaller than its JSON.
  const model::CanonicalRecord student = Student("Z1", "2024-01-01T10:00:00Z");
  const model::CanonicalRecord opened = Case("Z2", "2024-01-01T10:00:00Z", "open");
  const model::CanonicalRecord licensed = Case("Z2", "2024-01-02T10:00:00Z", "licensed");
  Commit({student, opened});
  Commit({licensed});
  std::vector<std::string> built;
  const model::StoredState opened_state{1, opened.content_hash, opened.source_updated_at,
                                        opened.values, opened.extra};
  using Change = std::pair<const model::CanonicalRecord*, const model::StoredState*>;
  for (const Change& change :
       {Change{&student, nullptr}, Change{&opened, nullptr}, Change{&licensed, &opened_state}}) {
    for (const model::EventRecord& event :
         model::BuildEvents(*change.first, model::Reconcile(*change.first, change.second), "t")) {
      built.push_back(event.data);
    }
  }
  const std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), 4u);  // created, created, updated, status_changed
  ASSERT_EQ(built.size(), 4u);
  int64_t json_bytes = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].event.data, built[i]);
    json_bytes += static_cast<int64_t>(built[i].size());
  }
  const int64_t stored_bytes =
      OK_VALUE(backend_->QueryInt("SELECT SUM(length(data)) FROM integration_events"));
  EXPECT_GT(stored_bytes, 0);
  EXPECT_LT(stored_bytes, json_bytes / 2);
  // The admin API's readers decode the same way.
  const EventFilter all;
  EXPECT_EQ(OK_VALUE(store_->ReadEventsFiltered(0, 10, all)).at(2).event.data, built[2]);
  EXPECT_EQ(OK_VALUE(store_->ReadEventsBefore(0, 10, all)).at(0).event.data, built[3]);
}

TEST_P(StoreTest, EventDataWrittenAsJsonTextBeforeMigration8IsReadAsItIs) {
  Commit({Student("L1", "2024-01-01T10:00:00Z")});
  const std::string json = Events().at(0).event.data;
  ASSERT_EQ(json.find_first_of("\\'"), std::string::npos);  // a plain SQL literal
  // The row as a store written before issue #19 holds it (after migration 8 on PostgreSQL:
  // the text's bytes).
  ASSERT_OK(backend_->ExecuteSql(fmt::format("UPDATE integration_events SET data = '{}'", json)));
  ASSERT_EQ(OK_VALUE(backend_->QueryInt("SELECT SUM(length(data)) FROM integration_events")),
            static_cast<int64_t>(json.size()));
  Commit({Student("L2", "2024-01-01T10:00:00Z")});  // and a new one, encoded, next to it
  const std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.data, json);
  EXPECT_THAT(events[1].event.data, HasSubstr(R"("externalId":"L2")"));
  EXPECT_TRUE(nlohmann::json::accept(events[1].event.data));
}

TEST_P(StoreTest, EventSequencesStrictlyIncrease) {
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<model::CanonicalRecord> records;
    for (int i = 0; i < 5; ++i) {
      records.push_back(Student(fmt::format("Q{}-{}", batch, i), "2024-01-01T10:00:00Z"));
    }
    records.push_back(Case(fmt::format("C{}", batch), "2024-01-01T10:00:00Z", "open"));
    Commit(records);
  }
  Commit({Case("C0", "2024-01-02T10:00:00Z", "licensed")});  // updated + status_changed

  const std::vector<StoredEvent> events = Events();
  ASSERT_EQ(events.size(), 20u);
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 20);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].sequence, events[i].sequence);
  }
  // Paging resumes right after the last sequence read.
  const std::vector<StoredEvent> page = OK_VALUE(store_->ReadEvents(events[4].sequence, 3));
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].sequence, events[5].sequence);
  EXPECT_EQ(page[2].sequence, events[7].sequence);
  EXPECT_EQ(page[0].event.event_id, events[5].event.event_id);
  EXPECT_TRUE(OK_VALUE(store_->ReadEvents(events.back().sequence, 10)).empty());
  EXPECT_EQ(store_->ReadEvents(0, 0).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Atomicity

TEST_P(StoreTest, CursorAndCountersCommitWithRecords) {
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))),
            std::nullopt);
  CheckpointBatch batch = Batch({Student("S1", "2024-01-01T10:00:00Z")});
  batch.cursor = "page-2";
  batch.seen = 3;  // two duplicates collapsed upstream
  batch.warnings = 2;
  batch.log_lines = {{batch.committed_at, LogLevel::kWarn, "student.email: missing"}};
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))), "page-2");
  RunInfo run = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(run.counters.seen, 3);
  EXPECT_EQ(run.counters.created, 1);
  EXPECT_EQ(run.counters.warnings, 2);
  const std::vector<RunLogLine> log = OK_VALUE(store_->GetRunLog(run_id_));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].level, LogLevel::kWarn);
  EXPECT_EQ(log[0].message, "student.email: missing");

  // No cursor in the batch: the stored one stays; another stream has its own.
  batch = Batch({Student("S2", "2024-01-01T10:00:00Z")});
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))), "page-2");
  batch = Batch({});
  batch.stream = "cases";
  batch.cursor = "c-9";
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), "cases")), "c-9");
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))), "page-2");
  // All of the source's in one read, as a pull reads them; none of another source's.
  const std::map<std::string, std::string> expected = {{"cases", "c-9"},
                                                       {std::string(kStream), "page-2"}};
  EXPECT_EQ(OK_VALUE(store_->GetCursors(std::string(kSourceId))), expected);
  EXPECT_TRUE(OK_VALUE(store_->GetCursors("another-source")).empty());
  run = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(run.counters.seen, 4);
  EXPECT_EQ(run.counters.created, 2);
}

// What one test can observe of everything a checkpoint writes.
struct Snapshot {
  std::optional<StoredRecord> s1;
  int64_t students = 0;
  int64_t events = 0;
  int64_t dead_letters = 0;
  size_t log_lines = 0;
  RunCounters counters;
  std::optional<std::string> cursor;
};

Snapshot Take(Store& store, int64_t run_id) {
  Snapshot snapshot;
  snapshot.s1 = OK_VALUE(store.GetRecord(Entity("student"), Key("S1")));
  snapshot.students = OK_VALUE(store.CountRecords(Entity("student")));
  snapshot.events = OK_VALUE(store.CountEvents());
  snapshot.dead_letters = static_cast<int64_t>(OK_VALUE(store.ReadDeadLetters(0, 1000)).size());
  snapshot.log_lines = OK_VALUE(store.GetRunLog(run_id)).size();
  snapshot.counters = OK_VALUE(store.GetRun(run_id)).counters;
  snapshot.cursor = OK_VALUE(store.GetCursor(std::string(kSourceId), std::string(kStream)));
  return snapshot;
}

void ExpectSame(const Snapshot& before, const Snapshot& after) {
  ASSERT_EQ(before.s1.has_value(), after.s1.has_value());
  if (before.s1) {
    EXPECT_EQ(after.s1->state.version, before.s1->state.version);
    EXPECT_EQ(after.s1->state.values, before.s1->state.values);
    EXPECT_EQ(after.s1->updated_at, before.s1->updated_at);
  }
  EXPECT_EQ(after.students, before.students);
  EXPECT_EQ(after.events, before.events);
  EXPECT_EQ(after.dead_letters, before.dead_letters);
  EXPECT_EQ(after.log_lines, before.log_lines);
  EXPECT_EQ(after.counters.seen, before.counters.seen);
  EXPECT_EQ(after.counters.created, before.counters.created);
  EXPECT_EQ(after.counters.updated, before.counters.updated);
  EXPECT_EQ(after.counters.rejected, before.counters.rejected);
  EXPECT_EQ(after.cursor, before.cursor);
}

TEST_P(StoreTest, DatabaseFailureAtAnyStageRollsBackTheWholeCheckpoint) {
  // A real database error at each stage of the transaction, on a fresh database each time.
  for (const std::string table : {"students", "integration_events", "integration_dead_letters",
                                  "integration_run_logs", "integration_cursors"}) {
    SCOPED_TRACE(table);
    StartFresh();
    if (HasFatalFailure()) return;
    CheckpointBatch good = Batch({Student("S1", "2024-01-01T10:00:00Z")});
    good.cursor = "page-1";
    ASSERT_TRUE(store_->CommitCheckpoint(good).ok());
    const Snapshot before = Take(*store_, run_id_);

    ASSERT_OK(backend_->BreakInsertsInto(table));
    CheckpointBatch bad = Batch({Student("S1", "2024-01-02T10:00:00Z", StudentFields("Maria")),
                                 Student("S2", "2024-01-01T10:00:00Z")});
    bad.cursor = "page-2";
    bad.rejections = {{"student", Key(""), "students.csv:9", "student: missing identity field"}};
    bad.log_lines = {{bad.committed_at, LogLevel::kWarn, "student.phone: missing"}};
    const Result<CheckpointResult> failed = store_->CommitCheckpoint(bad);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
    ExpectSame(before, Take(*store_, run_id_));
  }
}

TEST_P(StoreTest, UnknownRunRollsBackRecordsAlreadyWritten) {
  CheckpointBatch batch = Batch({Student("S1", "2024-01-01T10:00:00Z")});
  batch.cursor = "page-1";
  batch.run_id = run_id_ + 1000;
  const Snapshot before = Take(*store_, run_id_);
  const Result<CheckpointResult> failed = store_->CommitCheckpoint(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kNotFound);
  ExpectSame(before, Take(*store_, run_id_));

  // The store is usable afterwards.
  batch.run_id = run_id_;
  EXPECT_TRUE(store_->CommitCheckpoint(batch).ok());
  EXPECT_EQ(OK_VALUE(store_->CountRecords(Entity("student"))), 1);
}

TEST_P(StoreTest, RecordWithoutEntityIsRefusedAndNothingIsWritten) {
  model::CanonicalRecord broken = Student("S2", "2024-01-01T10:00:00Z");
  broken.entity = nullptr;
  CheckpointBatch batch = Batch({Student("S1", "2024-01-01T10:00:00Z"), broken});
  batch.cursor = "page-1";
  const Snapshot before = Take(*store_, run_id_);
  const Result<CheckpointResult> failed = store_->CommitCheckpoint(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kInvalidArgument);
  ExpectSame(before, Take(*store_, run_id_));
}

// A record's sourceUpdatedAt is stored as an integer (migration 16), so it must be the FormatUtc
// text validation makes of it; any other text is refused before anything is written, not lost.
TEST_P(StoreTest, SourceUpdatedAtThatIsNotNormalisedIsRefusedAndNothingIsWritten) {
  model::CanonicalRecord odd = Student("S2", "2024-01-01T10:00:00Z");
  ASSERT_EQ(odd.source_updated_at, "2024-01-01T10:00:00.000Z");
  odd.source_updated_at = "2024-01-01T10:00:00Z";
  CheckpointBatch batch = Batch({Student("S1", "2024-01-01T10:00:00Z"), odd});
  batch.cursor = "page-1";
  const Snapshot before = Take(*store_, run_id_);
  const Result<CheckpointResult> failed = store_->CommitCheckpoint(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(failed.status().message(), HasSubstr("sourceUpdatedAt is not a normalised UTC time"));
  ExpectSame(before, Take(*store_, run_id_));

  // The normalised text of the years 0000-9999 round-trips, and none stays none.
  model::CanonicalRecord earliest = Student("S3", "0001-01-01T00:00:00Z");
  ASSERT_EQ(earliest.source_updated_at, "0001-01-01T00:00:00.000Z");
  model::CanonicalRecord latest = Student("S4", "9999-12-31T23:59:59.999Z");
  model::CanonicalRecord none = Student("S5", "2024-01-01T10:00:00Z");
  none.source_updated_at.reset();
  ASSERT_OK(store_->CommitCheckpoint(Batch({earliest, latest, none})).status());
  EXPECT_EQ(Get("student", "S3")->state.source_updated_at, "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(Get("student", "S4")->state.source_updated_at, "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(Get("student", "S5")->state.source_updated_at, std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Dead letters, sources, runs

TEST_P(StoreTest, DeadLettersAreStored) {
  auto rejected = model::Validate(Raw("student", "", "2024-01-01T10:00:00Z", StudentFields()));
  ASSERT_TRUE(std::holds_alternative<model::Rejection>(rejected));
  auto unknown = model::Validate(Raw("spaceship", "X", "2024-01-01T10:00:00Z", {}));
  ASSERT_TRUE(std::holds_alternative<model::Rejection>(unknown));

  CheckpointBatch batch = Batch({Student("S1", "2024-01-01T10:00:00Z")});
  batch.rejections = {std::get<model::Rejection>(rejected), std::get<model::Rejection>(unknown)};
  batch.seen = 3;
  ASSERT_TRUE(store_->CommitCheckpoint(batch).ok());

  const std::vector<DeadLetter> letters = OK_VALUE(store_->ReadDeadLetters(0, 10));
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_LT(letters[0].id, letters[1].id);
  EXPECT_EQ(letters[0].run_id, run_id_);
  EXPECT_EQ(letters[0].source_id, kSourceId);
  EXPECT_EQ(letters[0].stage, "validate");
  EXPECT_EQ(letters[0].entity, "student");
  EXPECT_EQ(letters[0].origin, "student.csv:");
  EXPECT_EQ(letters[0].reason, std::get<model::Rejection>(rejected).reason);
  EXPECT_EQ(letters[0].created_at, batch.committed_at);
  EXPECT_EQ(letters[1].entity, "spaceship");
  EXPECT_EQ(letters[1].external_id, "X");
  EXPECT_EQ(OK_VALUE(store_->GetRun(run_id_)).counters.rejected, 2);

  const std::vector<DeadLetter> rest = OK_VALUE(store_->ReadDeadLetters(letters[0].id, 10));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, letters[1].id);
}

TEST_P(StoreTest, SourcesAreUpsertedListedAndUpdated) {
  ASSERT_OK(store_->UpsertSource(
      {"a-source", "acme", "sida", "sida_stub", R"({"token":"secret"})", false, "new"}));
  ASSERT_OK(store_->UpsertSource({std::string(kSourceId), std::string(kCompany),
                                  std::string(kSourceSystem), "csv", R"({"path":"x.csv"})", true,
                                  "new"}));
  std::vector<SourceRow> sources = OK_VALUE(store_->ListSources());
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0].id, "a-source");
  EXPECT_EQ(sources[0].connector, "sida_stub");
  EXPECT_EQ(sources[0].config_json, R"({"token":"secret"})");
  EXPECT_FALSE(sources[0].enabled);
  EXPECT_EQ(sources[1].id, kSourceId);
  EXPECT_EQ(sources[1].config_json, R"({"path":"x.csv"})");
  EXPECT_TRUE(sources[1].enabled);

  ASSERT_OK(store_->SetSourceStatus("a-source", "failed"));
  sources = OK_VALUE(store_->ListSources());
  EXPECT_EQ(sources[0].status, "failed");
  const Status missing = store_->SetSourceStatus("nope", "ok");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
}

// A hub's configured sources are saved together at start (one commit for 100,000 of them).
TEST_P(StoreTest, ManySourcesAreUpsertedTogether) {
  std::vector<SourceRow> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back({fmt::format("many-{:03d}", i), "acme", "sida", "sida_stub", "{}", true, "new"});
  }
  rows[7].enabled = false;
  ASSERT_OK(store_->UpsertSources(rows));
  rows[7].connector = "csv";  // again: updated in place
  ASSERT_OK(store_->UpsertSources(rows));
  const std::vector<SourceRow> listed = OK_VALUE(store_->ListSources());
  const auto many = std::count_if(listed.begin(), listed.end(), [](const SourceRow& row) {
    return row.id.rfind("many-", 0) == 0;
  });
  EXPECT_EQ(many, 300);
  auto seventh = std::find_if(listed.begin(), listed.end(),
                              [](const SourceRow& row) { return row.id == "many-007"; });
  ASSERT_NE(seventh, listed.end());
  EXPECT_EQ(seventh->connector, "csv");
  EXPECT_FALSE(seventh->enabled);
}

// An idle pull sets the status its source already has: nothing is written (the row keeps its
// updated_at), while a change is.
TEST_P(StoreTest, SettingTheStatusASourceHasWritesNothing) {
  ASSERT_OK(store_->SetSourceStatus(std::string(kSourceId), "ok"));
  const std::string count = fmt::format(
      "SELECT COUNT(*) FROM integration_sources WHERE id = '{}' AND updated_at = "
      "'2000-01-01T00:00:00.000Z'",
      kSourceId);
  ASSERT_OK(backend_->ExecuteSql(fmt::format(
      "UPDATE integration_sources SET updated_at = '2000-01-01T00:00:00.000Z' WHERE id = '{}'",
      kSourceId)));
  ASSERT_OK(store_->SetSourceStatus(std::string(kSourceId), "ok"));
  EXPECT_EQ(OK_VALUE(backend_->QueryInt(count)), 1);
  ASSERT_OK(store_->SetSourceStatus(std::string(kSourceId), "warning"));
  EXPECT_EQ(OK_VALUE(backend_->QueryInt(count)), 0);
  EXPECT_EQ(store_->SetSourceStatus("nope", "ok").code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, RunsAreStartedFinishedAndListed) {
  ASSERT_OK(store_->AppendRunLog(run_id_, {"2025-06-01T08:00:01.000Z", LogLevel::kInfo, "start"}));
  ASSERT_OK(store_->AppendRunLog(run_id_, {"2025-06-01T08:00:02.000Z", LogLevel::kError, "boom"}));
  RunInfo run = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(run.status, RunStatus::kRunning);
  EXPECT_EQ(run.source_id, kSourceId);
  EXPECT_EQ(run.started_at, "2025-06-01T08:00:00.000Z");
  EXPECT_EQ(run.finished_at, std::nullopt);

  ASSERT_OK(store_->FinishRun(run_id_, RunStatus::kFailed, "2025-06-01T08:00:03.000Z", "auth error",
                              "credentials refused"));
  run = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(run.status, RunStatus::kFailed);
  EXPECT_EQ(run.finished_at, "2025-06-01T08:00:03.000Z");
  EXPECT_EQ(run.error_category, "auth error");
  EXPECT_EQ(run.error_message, "credentials refused");

  const int64_t second =
      OK_VALUE(store_->BeginRun(std::string(kSourceId), "2025-06-02T08:00:00.000Z"));
  const int64_t other = OK_VALUE(store_->BeginRun("other-source", "2025-06-02T09:00:00.000Z"));
  EXPECT_GT(second, run_id_);
  ASSERT_OK(store_->FinishRun(second, RunStatus::kSucceededWithWarnings, "2025-06-02T08:00:05.000Z",
                              "", ""));
  std::vector<RunInfo> runs = OK_VALUE(store_->ListRuns(std::string(kSourceId), 10));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, second);  // newest first
  EXPECT_EQ(runs[0].status, RunStatus::kSucceededWithWarnings);
  EXPECT_EQ(runs[1].id, run_id_);
  EXPECT_EQ(OK_VALUE(store_->ListRuns(std::string(kSourceId), 1)).size(), 1u);
  runs = OK_VALUE(store_->ListRuns("", 10));
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, other);

  const std::vector<RunLogLine> log = OK_VALUE(store_->GetRunLog(run_id_));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].message, "start");
  EXPECT_EQ(log[1].level, LogLevel::kError);
  EXPECT_EQ(store_->GetRun(99999).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FinishRun(99999, RunStatus::kSucceeded, "x", "", "").code(),
            StatusCode::kNotFound);
}

TEST_P(StoreTest, RunsLeftOpenByAStoppedProcessAreClosedAsFailed) {
  // run_id_ was begun in SetUp and never finished, as after a kill -9.
  const int64_t finished =
      OK_VALUE(store_->BeginRun(std::string(kSourceId), "2025-06-01T09:00:00.000Z"));
  ASSERT_OK(store_->FinishRun(finished, RunStatus::kSucceeded, "2025-06-01T09:00:01.000Z", "", ""));
  const int64_t elsewhere = OK_VALUE(store_->BeginRun("other-source", "2025-06-01T09:00:00.000Z"));

  EXPECT_EQ(OK_VALUE(store_->CloseAbandonedRuns(std::string(kSourceId), "2025-06-01T10:00:00.000Z",
                                                "abandoned")),
            1);
  const RunInfo closed = OK_VALUE(store_->GetRun(run_id_));
  EXPECT_EQ(closed.status, RunStatus::kFailed);
  EXPECT_EQ(closed.finished_at, "2025-06-01T10:00:00.000Z");
  EXPECT_EQ(closed.error_category, "cancelled");
  EXPECT_EQ(closed.error_message, "abandoned");
  EXPECT_EQ(OK_VALUE(store_->GetRun(finished)).status, RunStatus::kSucceeded);
  EXPECT_EQ(OK_VALUE(store_->GetRun(elsewhere)).status, RunStatus::kRunning);  // another source
  EXPECT_EQ(OK_VALUE(store_->CloseAbandonedRuns(std::string(kSourceId), "2025-06-01T11:00:00.000Z",
                                                "abandoned")),
            0);
}

// ---------------------------------------------------------------------------------------------
// Leases (several instances sharing one database; DESIGN §6)

TEST_P(StoreTest, LeaseIsHeldUntilExpiryRenewedByItsOwnerAndTakenOverAfter) {
  using std::chrono::seconds;
  struct Attempt {
    const char* source;
    const char* owner;
    const char* at;
    bool taken;
  };
  const Attempt attempts[] = {
      {"src-a", "hub-1", "2025-06-01T10:00:00.000Z", true},  // free: taken
      // Held by another until it expires (10:00:30.000), whoever asks.
      {"src-a", "hub-2", "2025-06-01T10:00:29.999Z", false},
      {"src-b", "hub-2", "2025-06-01T10:00:01.000Z", true},  // leases are per source
      // The owner renews before expiry: held until 10:00:50.000 now.
      {"src-a", "hub-1", "2025-06-01T10:00:20.000Z", true},
      {"src-a", "hub-2", "2025-06-01T10:00:40.000Z", false},
      // Expired (from the instant of expiry on): another instance takes it over, and the old
      // owner can no longer renew it.
      {"src-a", "hub-2", "2025-06-01T10:00:50.000Z", true},
      {"src-a", "hub-1", "2025-06-01T10:00:51.000Z", false}};
  for (const Attempt& attempt : attempts) {
    EXPECT_EQ(
        OK_VALUE(store_->TryAcquireLease(attempt.source, attempt.owner, seconds(30), attempt.at)),
        attempt.taken)
        << attempt.owner << " asks for " << attempt.source << " at " << attempt.at;
  }
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM integration_leases WHERE "
                                        "source_id = 'src-a' AND owner = 'hub-2' AND "
                                        "expires_at = '2025-06-01T10:01:20.000Z'")),
            1);

  // Only the holder releases; a released lease is free at once.
  ASSERT_OK(store_->ReleaseLease("src-a", "hub-1"));  // not the holder: nothing happens
  EXPECT_FALSE(
      OK_VALUE(store_->TryAcquireLease("src-a", "hub-1", seconds(30), "2025-06-01T10:00:52.000Z")));
  ASSERT_OK(store_->ReleaseLease("src-a", "hub-2"));
  EXPECT_TRUE(
      OK_VALUE(store_->TryAcquireLease("src-a", "hub-1", seconds(30), "2025-06-01T10:00:53.000Z")));
  ASSERT_OK(store_->ReleaseLease("never-taken", "hub-1"));
}

TEST_P(StoreTest, LeasesAreSharedByEveryStoreOnTheDatabase) {
  using std::chrono::milliseconds;
  std::unique_ptr<Store> other = OK_VALUE(backend_->Open());
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(OK_VALUE(
      store_->TryAcquireLease("src", "hub-1", milliseconds(1500), "2025-12-31T23:59:59.000Z")));
  EXPECT_FALSE(OK_VALUE(
      other->TryAcquireLease("src", "hub-2", milliseconds(1500), "2026-01-01T00:00:00.499Z")));
  // The expiry crosses midnight and the year: 2026-01-01T00:00:00.500Z.
  EXPECT_TRUE(OK_VALUE(
      other->TryAcquireLease("src", "hub-2", milliseconds(1500), "2026-01-01T00:00:00.500Z")));
  Reopen();
  EXPECT_FALSE(OK_VALUE(
      store_->TryAcquireLease("src", "hub-1", milliseconds(1500), "2026-01-01T00:00:01.000Z")));
}

// Fencing (issue #15): a checkpoint carrying its lease owner commits only while that owner holds
// the source's lease; otherwise nothing of it is written, the cursor included.
TEST_P(StoreTest, ACheckpointFencedByALeaseCommitsOnlyWhileItsOwnerHoldsIt) {
  using std::chrono::seconds;
  const std::string source(kSourceId);
  std::unique_ptr<Store> other = OK_VALUE(backend_->Open());
  ASSERT_NE(other, nullptr);

  // No lease row at all: refused.
  CheckpointBatch unleased = Batch({Student("S1", "2024-01-01T10:00:00Z")});
  unleased.lease_owner = "hub-1";
  unleased.cursor = "page-1";
  Result<CheckpointResult> refused = store_->CommitCheckpoint(unleased);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kRetryable);
  EXPECT_THAT(refused.status().message(), HasSubstr("no longer held by this hub instance"));

  // Held by its owner: committed.
  ASSERT_TRUE(
      OK_VALUE(store_->TryAcquireLease(source, "hub-1", seconds(30), "2025-06-01T10:00:00.000Z")));
  CheckpointBatch held = Batch({Student("S1", "2024-01-01T10:00:00Z")});
  held.lease_owner = "hub-1";
  held.cursor = "page-1";
  EXPECT_EQ(OK_VALUE(store_->CommitCheckpoint(held)).counters.created, 1);

  // Expired and taken over by another instance: the first owner's next page is refused whole.
  ASSERT_TRUE(
      OK_VALUE(other->TryAcquireLease(source, "hub-2", seconds(30), "2025-06-01T10:00:31.000Z")));
  CheckpointBatch stolen = Batch({Student("S2", "2024-01-01T10:00:00Z")});
  stolen.lease_owner = "hub-1";
  stolen.cursor = "page-2";
  refused = store_->CommitCheckpoint(stolen);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kRetryable);
  EXPECT_THAT(refused.status().message(), HasSubstr("held by another hub instance"));
  EXPECT_FALSE(Get("student", "S2").has_value());
  EXPECT_EQ(OK_VALUE(store_->GetCursor(source, std::string(kStream))), "page-1");

  // The new holder commits; a batch without an owner is not checked (one process, no leases).
  CheckpointBatch taken_over = Batch({Student("S2", "2024-01-01T10:00:00Z")});
  taken_over.lease_owner = "hub-2";
  taken_over.cursor = "page-2";
  EXPECT_EQ(OK_VALUE(other->CommitCheckpoint(taken_over)).counters.created, 1);
  EXPECT_EQ(OK_VALUE(store_->CommitCheckpoint(Batch({Student("S3", "2024-01-01T10:00:00Z")})))
                .counters.created,
            1);
}

TEST_P(StoreTest, LeaseRequestsAreChecked) {
  EXPECT_EQ(store_
                ->TryAcquireLease("src", "hub-1", std::chrono::milliseconds(0),
                                  "2025-06-01T10:00:00.000Z")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  for (const char* now : {"2025-06-01T10:00:00Z", "2025-06-01 10:00:00.000Z", "yesterday",
                          "2025-02-30T10:00:00.000Z", ""}) {
    SCOPED_TRACE(now);
    EXPECT_EQ(
        store_->TryAcquireLease("src", "hub-1", std::chrono::seconds(30), now).status().code(),
        StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM integration_leases")), 0);
}

// ---------------------------------------------------------------------------------------------
// Agent keys and ingest requests (DESIGN §8)

AgentKeyRow AgentKey(std::string prefix, std::string company = "acme",
                     std::string source = "sida") {
  AgentKeyRow key;
  key.prefix = std::move(prefix);
  key.key_hash = std::string(64, 'a');
  key.secret_protected = "v1.sealed-" + key.prefix;
  key.company_id = std::move(company);
  key.source_system = std::move(source);
  key.allowed_cidrs = R"(["10.0.0.0/8"])";
  key.last4 = "wxyz";
  key.created_at = "2025-06-01T10:00:00.000Z";
  return key;
}

TEST_P(StoreTest, AgentKeysAreCreatedFoundListedAndRevoked) {
  const int64_t first = OK_VALUE(store_->CreateAgentKey(AgentKey("k1"), 2));
  const int64_t second = OK_VALUE(store_->CreateAgentKey(AgentKey("k2", "acme", "csv"), 2));
  EXPECT_GT(first, 0);
  EXPECT_NE(first, second);

  const std::optional<AgentKeyRow> found = OK_VALUE(store_->FindAgentKey("k1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, first);
  EXPECT_EQ(found->key_hash, std::string(64, 'a'));
  EXPECT_EQ(found->secret_protected, "v1.sealed-k1");
  EXPECT_EQ(found->company_id, "acme");
  EXPECT_EQ(found->source_system, "sida");
  EXPECT_EQ(found->allowed_cidrs, R"(["10.0.0.0/8"])");
  EXPECT_EQ(found->last4, "wxyz");
  EXPECT_EQ(found->status, "active");
  EXPECT_EQ(found->created_at, "2025-06-01T10:00:00.000Z");
  EXPECT_FALSE(found->last_used_at.has_value());
  EXPECT_FALSE(found->revoked_at.has_value());
  EXPECT_FALSE(OK_VALUE(store_->FindAgentKey("nope")).has_value());

  ASSERT_OK(store_->TouchAgentKey(first, "2025-06-01T11:00:00.000Z"));
  EXPECT_TRUE(OK_VALUE(store_->RevokeAgentKey("k2", "2025-06-01T12:00:00.000Z")));
  EXPECT_FALSE(OK_VALUE(store_->RevokeAgentKey("k2", "2025-06-01T12:30:00.000Z")));  // already
  EXPECT_FALSE(OK_VALUE(store_->RevokeAgentKey("nope", "2025-06-01T12:30:00.000Z")));

  Reopen();
  const std::vector<AgentKeyRow> keys = OK_VALUE(store_->ListAgentKeys());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].prefix, "k1");
  EXPECT_EQ(keys[0].last_used_at, std::optional<std::string>("2025-06-01T11:00:00.000Z"));
  EXPECT_EQ(keys[1].prefix, "k2");
  EXPECT_EQ(keys[1].status, "revoked");
  EXPECT_EQ(keys[1].revoked_at, std::optional<std::string>("2025-06-01T12:00:00.000Z"));
}

TEST_P(StoreTest, AScopeHoldsAtMostTheAllowedActiveKeys) {
  ASSERT_OK(store_->CreateAgentKey(AgentKey("k1"), 2).status());
  ASSERT_OK(store_->CreateAgentKey(AgentKey("k2"), 2).status());
  const Status third = store_->CreateAgentKey(AgentKey("k3"), 2).status();
  EXPECT_EQ(third.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(third.message().find("2 active agent keys"), std::string::npos) << third.message();
  EXPECT_FALSE(OK_VALUE(store_->FindAgentKey("k3")).has_value());
  // Other scopes are not affected; a revoked key frees its place (rotation).
  ASSERT_OK(store_->CreateAgentKey(AgentKey("k4", "other"), 2).status());
  EXPECT_TRUE(OK_VALUE(store_->RevokeAgentKey("k1", "2025-06-01T12:00:00.000Z")));
  ASSERT_OK(store_->CreateAgentKey(AgentKey("k3"), 2).status());
  EXPECT_EQ(OK_VALUE(backend_->QueryInt("SELECT COUNT(*) FROM integration_agent_keys")), 4);
  // A prefix is unique.
  EXPECT_FALSE(store_->CreateAgentKey(AgentKey("k4", "third"), 2).ok());
}

TEST_P(StoreTest, IngestRequestsAreRecordedOncePerKeyAndPurgedByAge) {
  IngestRequestRow row{7, "msg_1", "hash-1", R"({"ok":true})", "2025-06-01T10:00:00.000Z"};
  EXPECT_TRUE(OK_VALUE(store_->RecordIngestRequest(row)));
  IngestRequestRow repeat = row;
  repeat.body_hash = "hash-2";
  repeat.response = "other";
  EXPECT_FALSE(OK_VALUE(store_->RecordIngestRequest(repeat)));  // the first one stays
  repeat.key_id = 8;                                            // another key: its own id space
  repeat.created_at = "2025-06-02T10:00:00.000Z";
  EXPECT_TRUE(OK_VALUE(store_->RecordIngestRequest(repeat)));

  const std::optional<IngestRequestRow> found = OK_VALUE(store_->FindIngestRequest(7, "msg_1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->body_hash, "hash-1");
  EXPECT_EQ(found->response, R"({"ok":true})");
  EXPECT_EQ(found->created_at, "2025-06-01T10:00:00.000Z");
  EXPECT_FALSE(OK_VALUE(store_->FindIngestRequest(7, "msg_2")).has_value());

  EXPECT_EQ(OK_VALUE(store_->PurgeIngestRequests("2025-06-02T00:00:00.000Z")), 1);
  EXPECT_FALSE(OK_VALUE(store_->FindIngestRequest(7, "msg_1")).has_value());
  EXPECT_TRUE(OK_VALUE(store_->FindIngestRequest(8, "msg_1")).has_value());
}

// ---- Ingestion API (issue #6)

TEST_P(StoreTest, IngestCommitWritesTheBatchAndItsRequestIdInOneTransaction) {
  CheckpointBatch batch = Batch({Student("S1", "2025-06-01T08:00:00Z")});
  batch.cursor = "agent-cursor-1";
  IngestRequestRow request{7, "msg_1", "hash-1", "", "2025-06-01T10:00:00.000Z"};
  int responses = 0;
  const auto respond = [&responses](const CheckpointResult& result) {
    ++responses;
    return fmt::format(R"({{"created":{}}})", result.counters.created);
  };
  const IngestCommit first = OK_VALUE(store_->CommitIngest(batch, request, respond));
  EXPECT_FALSE(first.replayed);
  EXPECT_EQ(first.result.counters.created, 1);
  EXPECT_EQ(first.stored.response, R"({"created":1})");
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))),
            std::optional<std::string>("agent-cursor-1"));
  const std::optional<IngestRequestRow> stored = OK_VALUE(store_->FindIngestRequest(7, "msg_1"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->response, R"({"created":1})");
  EXPECT_EQ(stored->body_hash, "hash-1");

  // The same id again, even with another batch: the first row comes back, nothing is written.
  CheckpointBatch other = Batch({Student("S2", "2025-06-01T08:00:00Z")});
  other.cursor = "agent-cursor-2";
  IngestRequestRow again = request;
  again.body_hash = "hash-2";
  const IngestCommit replay = OK_VALUE(store_->CommitIngest(other, again, respond));
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.stored.body_hash, "hash-1");
  EXPECT_EQ(replay.stored.response, R"({"created":1})");
  EXPECT_EQ(responses, 1);
  EXPECT_FALSE(Get("student", "S2").has_value());
  EXPECT_EQ(OK_VALUE(store_->GetCursor(std::string(kSourceId), std::string(kStream))),
            std::optional<std::string>("agent-cursor-1"));
  EXPECT_EQ(OK_VALUE(store_->CountEvents()), 1);
}

TEST_P(StoreTest, FailedIngestCommitStoresNeitherRecordsNorRequestId) {
  ASSERT_OK(backend_->BreakInsertsInto("integration_events"));
  CheckpointBatch batch = Batch({Student("S1", "2025-06-01T08:00:00Z")});
  IngestRequestRow request{7, "msg_1", "hash-1", "", "2025-06-01T10:00:00.000Z"};
  EXPECT_FALSE(
      store_->CommitIngest(batch, request, [](const CheckpointResult&) { return "{}"; }).ok());
  EXPECT_FALSE(OK_VALUE(store_->FindIngestRequest(7, "msg_1")).has_value());
  EXPECT_FALSE(Get("student", "S1").has_value());
}

TEST_P(StoreTest, AgentKeyRateLimitsAreStoredPerKey) {
  AgentKeyRow key = AgentKey("k1");
  key.rate_per_second = 2.5;
  key.rate_burst = 10;
  ASSERT_OK(store_->CreateAgentKey(key, 2).status());
  ASSERT_OK(store_->CreateAgentKey(AgentKey("k2"), 2).status());
  std::optional<AgentKeyRow> found = OK_VALUE(store_->FindAgentKey("k1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->rate_per_second, std::optional<double>(2.5));
  EXPECT_EQ(found->rate_burst, std::optional<int64_t>(10));
  found = OK_VALUE(store_->FindAgentKey("k2"));
  EXPECT_FALSE(found->rate_per_second.has_value());
  EXPECT_FALSE(found->rate_burst.has_value());

  EXPECT_TRUE(OK_VALUE(store_->SetAgentKeyRateLimit("k2", 0.5, 3)));
  EXPECT_TRUE(OK_VALUE(store_->SetAgentKeyRateLimit("k1", std::nullopt, std::nullopt)));
  EXPECT_FALSE(OK_VALUE(store_->SetAgentKeyRateLimit("nope", 1.0, 1)));
  Reopen();
  EXPECT_EQ(OK_VALUE(store_->FindAgentKey("k2"))->rate_per_second, std::optional<double>(0.5));
  EXPECT_EQ(OK_VALUE(store_->FindAgentKey("k2"))->rate_burst, std::optional<int64_t>(3));
  EXPECT_FALSE(OK_VALUE(store_->FindAgentKey("k1"))->rate_per_second.has_value());
}

}  // namespace
}  // namespace reglo::storage::testing
