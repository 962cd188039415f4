// The PostgreSQL backend: runs the shared Store suite on a fresh database per backend instance,
// plus what is specific to PostgreSQL: store URLs, connection errors, reconnection, and writers
// racing on the same records through separate connections.
#include "reglo/storage/postgres_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "migrations.h"
#include "poll.h"
#include "ports.h"
#include "postgres_test_support.h"
#include "reglo/model/validation.h"
#include "reglo/storage/row_codec.h"
#include "store_test.h"

namespace reglo::storage::testing {

BackendParam ThisBackend() {
  return {"Postgres", [] { return std::make_unique<PostgresBackend>(); }};
}

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(ThisBackend()), BackendName);

std::vector<model::CanonicalRecord> Students(const std::string& prefix, int count) {
  std::vector<model::CanonicalRecord> records;
  for (int i = 0; i < count; ++i) records.push_back(AStudent(fmt::format("{}{:05}", prefix, i)));
  return records;
}

std::unique_ptr<Store> MustOpen(StoreBackend& backend) {
  Result<std::unique_ptr<Store>> store = backend.Open();
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

// Two stores (two connections) on `backend`'s database, the source registered: writers that race.
void OpenTwoWriters(PostgresBackend& backend, std::unique_ptr<Store>* a,
                    std::unique_ptr<Store>* b) {
  *a = MustOpen(backend);
  *b = MustOpen(backend);
  ASSERT_NE(*a, nullptr);
  ASSERT_NE(*b, nullptr);
  ASSERT_OK(RegisterBackendSource(**a));
}

// Makes every transaction that writes the cursor `cursor` sleep `seconds` before it does, while
// it holds the rows it wrote: a deterministic window for another writer to race into.
Status SlowDownCursor(PostgresBackend& backend, const std::string& cursor, double seconds) {
  return backend.ExecuteSql(fmt::format(
      "CREATE OR REPLACE FUNCTION reglo_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
      "$$BEGIN IF NEW.cursor = '{0}' THEN PERFORM pg_sleep({1}); END IF; RETURN NEW; END$$; "
      "CREATE TRIGGER reglo_test_slow BEFORE INSERT OR UPDATE ON integration_cursors "
      "FOR EACH ROW EXECUTE FUNCTION reglo_test_slow()",
      cursor, seconds));
}

// Waits until a session of the backend's database sleeps in pg_sleep (up to 10 s).
bool WaitForSleeper(PostgresBackend& backend) {
  return reglo::testing::WaitUntil(
      [&] {
        Result<int64_t> sleeping = backend.QueryInt(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event = 'PgSleep'");
        return sleeping.ok() && *sleeping > 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
}

// A commits `batch_a` (whose cursor SlowDownCursor made sleep) on a thread; once it sleeps inside
// its transaction, B commits `batch_b` and so runs into A's locks. Both must succeed: their
// results.
void Race(PostgresBackend& backend, Store& a, const CheckpointBatch& batch_a, Store& b,
          const CheckpointBatch& batch_b, CheckpointResult* result_a, CheckpointResult* result_b) {
  Result<CheckpointResult> first = Status::Internal("not run");
  std::thread writer([&] { first = a.CommitCheckpoint(batch_a); });
  const bool a_sleeps = WaitForSleeper(backend);
  Result<CheckpointResult> second = b.CommitCheckpoint(batch_b);
  writer.join();

  ASSERT_TRUE(a_sleeps);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  *result_a = *first;
  *result_b = *second;
}

// ---------------------------------------------------------------------------------------------
// URLs and connections

TEST(PostgresUrlTest, ParsesEveryPart) {
  Result<PostgresUrl> url = ParsePostgresUrl(
      "postgres://hub%40acme:p%40ss:w@db.example.com:6543/reglo%2Dhub"
      "?sslmode=require&application_name=my%20hub");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->user, "hub@acme");
  EXPECT_EQ(url->password, "p@ss:w");
  EXPECT_EQ(url->host, "db.example.com");
  EXPECT_EQ(url->port, 6543);
  EXPECT_EQ(url->database, "reglo-hub");
  EXPECT_THAT(url->params, ::testing::ElementsAre(::testing::Pair("sslmode", "require"),
                                                  ::testing::Pair("application_name", "my hub")));
  EXPECT_THAT(url->Redacted(), Not(HasSubstr("p%40ss")));
  EXPECT_THAT(url->Redacted(), Not(HasSubstr("p@ss")));
  EXPECT_THAT(url->Redacted(), HasSubstr(":***@db.example.com:6543/reglo-hub"));
  EXPECT_THAT(url->Describe(), Not(HasSubstr("p@ss")));
  EXPECT_THAT(url->Describe(), HasSubstr("host db.example.com port 6543 database reglo-hub"));

  // The hub's own parameter is not passed to libpq.
  url = ParsePostgresUrl("postgres://hub@db/reglo?synchronous_commit=remote_apply&sslmode=disable");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->synchronous_commit, "remote_apply");
  EXPECT_THAT(url->params, ::testing::ElementsAre(::testing::Pair("sslmode", "disable")));
  EXPECT_EQ(url->Redacted(),
            "postgres://hub@db:5432/reglo?sslmode=disable&synchronous_commit=remote_apply");
  EXPECT_EQ(ParsePostgresUrl("postgres://hub@db/reglo")->synchronous_commit, "off");

  url = ParsePostgresUrl("postgresql://[::1]/hub");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 5432);
  EXPECT_EQ(url->user, "");
  EXPECT_EQ(url->password, "");
  EXPECT_EQ(url->Redacted(), "postgres://[::1]:5432/hub");
}

TEST(PostgresUrlTest, RefusesMalformedUrlsWithoutEchoingThePassword) {
  for (const char* bad :
       {"postgres://user:sekret@host", "postgres://user:sekret@host:99999/db",
        "postgres://user:sekret@:5432/db", "postgres://user:sekret@host:x/db",
        "postgres://user:sekret@host/db?password=x", "postgres://user:sek%zzret@host/db",
        "mysql://user:sekret@host/db", "postgres://user:sekret@[::1/db",
        "postgres://user:sekret@host/db?synchronous_commit=sometimes"}) {
    SCOPED_TRACE(bad);
    Result<PostgresUrl> url = ParsePostgresUrl(bad);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.status().code(), StatusCode::kConfigError);
    EXPECT_THAT(url.status().message(), Not(HasSubstr("sekret")));
    EXPECT_THAT(url.status().message(), Not(HasSubstr("sek%zzret")));
  }
}

TEST(PostgresStoreTest, RefusedConnectionIsAnIoErrorNamingHostPortAndDatabase) {
  // Free a moment ago: nothing listens on it.
  const int port = reglo::testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const auto started = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(
      fmt::format("postgres://hub:topsecret-pw@127.0.0.1:{}/reglo_nowhere", port));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(store.status().message(), HasSubstr(fmt::format("port {}", port)));
  EXPECT_THAT(store.status().message(), HasSubstr("reglo_nowhere"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("topsecret-pw")));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(PostgresStoreTest, UnreachableHostGivesUpAfterTheConnectTimeout) {
  // 192.0.2.0/24 is TEST-NET-1: never routed. Either the network says so at once, or the connect
  // timeout (1 s here, 5 s by default) ends the wait: never a hang.
  const auto started = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Store>> store =
      OpenPostgresStore("postgres://hub@192.0.2.1:5432/reglo?connect_timeout=1");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("host 192.0.2.1 port 5432 database reglo"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(8));
}

TEST(PostgresStoreTest, WrongDatabaseIsAnIoErrorNamingIt) {
  Result<PostgresUrl> server = TestServerUrl();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  PostgresUrl url = *server;
  url.database = "reglo_no_such_database";
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(url);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("reglo_no_such_database"));
  EXPECT_THAT(store.status().message(), HasSubstr(fmt::format("port {}", url.port)));
}

// The opener is told of each migration before it runs, from 0 for a new schema; none once it is
// up to date.
TEST(PostgresStoreTest, EachMigrationIsToldToTheOpenerBeforeItRuns) {
  PostgresBackend backend;
  std::vector<int> versions;
  const MigrationObserver record = [&](const MigrationStep& step) {
    EXPECT_EQ(step.from, 0);
    EXPECT_EQ(step.latest, static_cast<int>(postgres::Migrations().back().version));
    versions.push_back(step.version);
  };
  ASSERT_TRUE(OpenPostgresStore(backend.url(), SystemClock::Instance(), record).ok());
  std::vector<int> expected;
  for (const Migration& migration : postgres::Migrations()) expected.push_back(migration.version);
  EXPECT_EQ(versions, expected);
  versions.clear();
  ASSERT_TRUE(OpenPostgresStore(backend.url(), SystemClock::Instance(), record).ok());
  EXPECT_TRUE(versions.empty());
}

// Makes `backend`'s database a store exactly as migrations 1 to `last` left it, from the
// migration list itself, so that opening it runs the later ones as they would run in the field.
void MigrateUpTo(PostgresBackend& backend, int last) {
  ASSERT_OK(backend.ExecuteSql(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_at TEXT NOT NULL)"));
  for (const Migration& migration : postgres::Migrations()) {
    if (migration.version > last) break;
    ASSERT_OK(backend.ExecuteSql(std::string(migration.sql)));
    ASSERT_OK(backend.ExecuteSql(fmt::format(
        "INSERT INTO schema_migrations VALUES ({}, 'an older hub', '2026-01-01T00:00:00Z')",
        migration.version)));
  }
}

TEST(PostgresStoreTest, Migration8KeepsTheEventsOfAnOlderStoreReadable) {
  // The JSON text an older hub stored for a student's created event, taken from a current store.
  std::string json;
  model::EventRecord columns;
  {
    PostgresBackend current;
    Result<std::unique_ptr<Store>> store = current.Open();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_OK(RegisterBackendSource(**store));
    ASSERT_TRUE((*store)->CommitCheckpoint(BatchFor(**store, {AStudent("M1")})).ok());
    columns = (*store)->ReadEvents(0, 10).value().at(0).event;
    json = columns.data;
  }
  // A store exactly as migrations 1-7 left it (`data` a text column), holding that event.
  PostgresBackend backend;
  ASSERT_NO_FATAL_FAILURE(MigrateUpTo(backend, 7));
  // Behind it, two events pruned since: the identity (3) is past the last row (1).
  for (const char* external_id : {columns.external_id.c_str(), "gone-2", "gone-3"}) {
    ASSERT_OK(backend.ExecuteSql(fmt::format(
        "INSERT INTO integration_events (event_id, type, company_id, source_system, entity, "
        "external_id, version, time, data) VALUES ('{}', '{}', '{}', '{}', '{}', '{}', {}, '{}', "
        "'{}')",  // no quote in any of them
        columns.event_id, columns.type, columns.company_id, columns.source_system, columns.entity,
        external_id, columns.version, columns.time, json)));
  }
  ASSERT_OK(backend.ExecuteSql("DELETE FROM integration_events WHERE sequence > 1"));

  // Opening it runs migration 8 (and every later one, 13's narrower rows too); the old event
  // reads as it was, a new one is encoded and takes the next sequence never given.
  Result<std::unique_ptr<Store>> store = backend.Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_OK(RegisterBackendSource(**store));
  ASSERT_TRUE((*store)->CommitCheckpoint(BatchFor(**store, {AStudent("M2")})).ok());
  const std::vector<StoredEvent> events = (*store)->ReadEvents(0, 10).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[0].event.data, json);
  EXPECT_EQ(events[0].event.event_id, columns.event_id);  // recomputed, the same
  EXPECT_EQ(events[0].event.time, columns.time);
  EXPECT_EQ(events[0].event.type, columns.type);
  EXPECT_EQ(events[0].event.company_id, columns.company_id);
  EXPECT_EQ(events[1].sequence, 4);
  EXPECT_THAT(events[1].event.data, HasSubstr(R"("externalId":"M2")"));
  EXPECT_EQ(backend
                .QueryInt("SELECT length(data) FROM integration_events ORDER BY sequence "
                          "LIMIT 1")
                .value(),
            static_cast<int64_t>(json.size()));
}

// Migrations 15 and 16 (issue #19 §3): a record's created_at, updated_at (15) and
// source_updated_at (16) become integers (milliseconds since the epoch) and its content hash its
// 16 bytes. A store as migration 13 left it reads every record as it did, and a record pulled
// again unchanged is found unchanged.
TEST(PostgresStoreTest, Migrations15And16KeepEveryRecordsTimesAndContentHash) {
  // A record as a current store holds it.
  std::optional<StoredRecord> record;
  {
    PostgresBackend current;
    std::unique_ptr<Store> store = MustOpen(current);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(RegisterBackendSource(*store));
    ASSERT_TRUE(store->CommitCheckpoint(BatchFor(*store, {AStudent("M1")})).ok());
    record =
        store
            ->GetRecord(*model::FindEntity("student"), model::RecordKey{"acme", "gestionale", "M1"})
            .value();
  }
  ASSERT_TRUE(record);
  ASSERT_TRUE(record->state.source_updated_at);
  // The same record in a store as migrations 1-13 left it, written as an older hub wrote it:
  // times as FormatUtc text, the content hash as its hex digits. A second record holds a hash
  // that is not hex digits and times that are not FormatUtc text (no hub wrote them, but the
  // columns allowed them): the hash is kept as its text, the times become NULL.
  PostgresBackend backend;
  ASSERT_NO_FATAL_FAILURE(MigrateUpTo(backend, 13));
  const auto literal = [](const std::optional<std::string>& value) {
    return value ? fmt::format("'{}'", *value) : std::string("NULL");  // no quote in any of them
  };
  std::string values;
  for (const std::optional<std::string>& value : record->state.values) {
    values += literal(value) + ", ";
  }
  for (const auto& [external_id, hash, created_at, source_updated_at] :
       {std::tuple<std::string, std::string, std::string, std::string>{
            "M1", record->state.content_hash, record->created_at, *record->state.source_updated_at},
        // A year 0000 is FormatUtc text PostgreSQL cannot cast: NULL, not a failed upgrade.
        {"M9", "not-a-hash", "not a time", "0000-01-01T00:00:00.000Z"}}) {
    ASSERT_OK(backend.ExecuteSql(fmt::format(
        "INSERT INTO students (company_id, source_system, external_id, first_name, last_name, "
        "fiscal_code, birth_date, email, phone, version, content_hash, source_updated_at, "
        "created_at, updated_at) VALUES ('acme', 'gestionale', '{}', {}{}, '{}', '{}', '{}', "
        "'2026-02-03T04:05:06.789Z')",
        external_id, values, record->state.version, hash, source_updated_at, created_at)));
  }

  std::unique_ptr<Store> store = MustOpen(backend);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(backend
                .QueryText("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY "
                           "column_name) FROM information_schema.columns WHERE table_name = "
                           "'students' AND column_name IN ('content_hash', 'created_at', "
                           "'source_updated_at', 'updated_at')")
                .value(),
            "content_hash bytea, created_at bigint, source_updated_at bigint, updated_at bigint");
  EXPECT_EQ(backend.QueryInt("SELECT length(content_hash) FROM students WHERE external_id = 'M1'")
                .value(),
            16);
  const model::EntitySpec& student = *model::FindEntity("student");
  const std::optional<StoredRecord> migrated =
      store->GetRecord(student, model::RecordKey{"acme", "gestionale", "M1"}).value();
  ASSERT_TRUE(migrated);
  EXPECT_EQ(migrated->state.content_hash, record->state.content_hash);
  EXPECT_EQ(migrated->state.values, record->state.values);
  EXPECT_EQ(migrated->created_at, record->created_at);
  EXPECT_EQ(migrated->updated_at, "2026-02-03T04:05:06.789Z");
  EXPECT_EQ(migrated->state.source_updated_at, record->state.source_updated_at);
  EXPECT_EQ(backend.QueryInt("SELECT updated_at FROM students WHERE external_id = 'M1'").value(),
            EncodeStoredTime("2026-02-03T04:05:06.789Z").value());
  EXPECT_EQ(
      backend.QueryInt("SELECT source_updated_at FROM students WHERE external_id = 'M1'").value(),
      EncodeStoredTime(*record->state.source_updated_at).value());
  const std::optional<StoredRecord> odd =
      store->GetRecord(student, model::RecordKey{"acme", "gestionale", "M9"}).value();
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->state.content_hash, "not-a-hash");
  EXPECT_EQ(odd->created_at, "");
  EXPECT_EQ(odd->updated_at, "2026-02-03T04:05:06.789Z");
  EXPECT_EQ(odd->state.source_updated_at, std::nullopt);

  // Pulled again as it was: unchanged, nothing written (its stored hash compares in the server).
  ASSERT_OK(RegisterBackendSource(*store));
  const Result<CheckpointResult> again =
      store->CommitCheckpoint(BatchFor(*store, {AStudent("M1")}));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->counters.unchanged, 1);
  EXPECT_EQ(again->events, 0);
  EXPECT_EQ(
      store->GetRecord(student, model::RecordKey{"acme", "gestionale", "M1"}).value()->updated_at,
      "2026-02-03T04:05:06.789Z");
}

TEST(PostgresStoreTest, CheckpointsCanWaitForDurability) {
  PostgresBackend backend;
  PostgresUrl url = backend.url();
  url.synchronous_commit = "on";
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(url);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_OK(RegisterBackendSource(**store));
  Result<CheckpointResult> committed =
      (*store)->CommitCheckpoint(BatchFor(**store, Students("D", 10)));
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(committed->counters.created, 10);
}

// The times the store stamps itself (source rows, applied migrations) come from the Clock it was
// opened with, not the system's: a ManualClock decides them.
TEST(PostgresStoreTest, WhatTheStoreDatesItselfComesFromItsClock) {
  PostgresBackend backend;
  ManualClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000'000)));
  Result<std::unique_ptr<Store>> store = OpenPostgresStore(backend.url(), clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto stamped = [&](const std::string& table, const std::string& column) {
    return backend
        .QueryInt(fmt::format("SELECT COUNT(*) FROM {} WHERE {} = '{}'", table, column,
                              FormatUtc(clock.Now())))
        .value();
  };
  EXPECT_GT(stamped("schema_migrations", "applied_at"), 0);
  clock.Advance(std::chrono::minutes(5));
  ASSERT_TRUE(RegisterBackendSource(**store).ok());
  EXPECT_EQ(stamped("integration_sources", "updated_at"), 1);
  clock.Advance(std::chrono::hours(2));
  ASSERT_TRUE((*store)->SetSourceStatus(kBackendSourceId, "ok").ok());
  EXPECT_EQ(stamped("integration_sources", "updated_at"), 1);
}

TEST(PostgresStoreTest, ReconnectsAtTheNextCallAfterTheConnectionWasKilled) {
  PostgresBackend backend;
  std::unique_ptr<Store> store = MustOpen(backend);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(RegisterBackendSource(*store));
  ASSERT_TRUE(store->CommitCheckpoint(BatchFor(*store, Students("A", 10))).ok());

  // Killed while idle: noticed before the next call uses the connection, which just works.
  ASSERT_TRUE(backend
                  .ExecuteSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Result<CheckpointResult> after = store->CommitCheckpoint(BatchFor(*store, Students("B", 10)));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->counters.created, 10);
  EXPECT_EQ(store->CountRecords(*model::FindEntity("student")).value(), 20);
  EXPECT_EQ(store->CountEvents().value(), 20);
}

TEST(PostgresStoreTest, KilledInTheMiddleOfACommitFailsRetryablyAndWritesNothing) {
  PostgresBackend backend;
  std::unique_ptr<Store> store = MustOpen(backend);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(RegisterBackendSource(*store));
  ASSERT_TRUE(SlowDownCursor(backend, "slow", 5).ok());
  CheckpointBatch batch = BatchFor(*store, Students("K", 50));
  batch.cursor = "slow";

  Result<CheckpointResult> killed = Status::Internal("not run");
  std::thread writer([&] { killed = store->CommitCheckpoint(batch); });
  const bool sleeping = WaitForSleeper(backend);
  ASSERT_TRUE(backend
                  .ExecuteSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  writer.join();
  ASSERT_TRUE(sleeping);
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.status().code(), StatusCode::kRetryable) << killed.status().ToString();
  EXPECT_THAT(killed.status().message(), HasSubstr(backend.url().database));
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students").value(), 0);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), 0);
  EXPECT_EQ(backend.QueryInt("SELECT created FROM integration_runs").value(), 0);

  // The same store reconnects and commits everything exactly once.
  batch.cursor = "page-1";
  Result<CheckpointResult> retried = store->CommitCheckpoint(batch);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(retried->counters.created, 50);
  EXPECT_EQ(retried->events, 50);
  EXPECT_EQ(store->GetCursor(kBackendSourceId, "students").value(), "page-1");
}

// ---------------------------------------------------------------------------------------------
// Racing writers

// A and B commit the same new records; A holds them uncommitted (sleeping in a trigger) while B
// commits, so B waits for A's rows, finds them taken, and decides again: deterministic. `warm`:
// both stores first commit an all-new batch of their own, so the race runs on the cold-load path
// (records inserted before any lookup) instead of the lookup path.
void RaceForNewRecords(bool warm) {
  PostgresBackend backend;
  std::unique_ptr<Store> a;
  std::unique_ptr<Store> b;
  ASSERT_NO_FATAL_FAILURE(OpenTwoWriters(backend, &a, &b));
  int64_t before = 0;
  if (warm) {
    ASSERT_TRUE(a->CommitCheckpoint(BatchFor(*a, Students("WA", 100))).ok());
    ASSERT_TRUE(b->CommitCheckpoint(BatchFor(*b, Students("WB", 100))).ok());
    before = 200;
  }
  ASSERT_TRUE(SlowDownCursor(backend, "slow", 1).ok());
  const std::vector<model::CanonicalRecord> records = Students("R", 200);
  CheckpointBatch batch_a = BatchFor(*a, records);
  batch_a.cursor = "slow";
  std::vector<model::CanonicalRecord> reversed(records.rbegin(), records.rend());
  CheckpointBatch batch_b = BatchFor(*b, reversed);

  CheckpointResult result_a;
  CheckpointResult result_b;
  ASSERT_NO_FATAL_FAILURE(Race(backend, *a, batch_a, *b, batch_b, &result_a, &result_b));
  EXPECT_EQ(result_a.counters.created, 200);
  EXPECT_EQ(result_a.events, 200);
  EXPECT_EQ(result_b.counters.unchanged, 200);
  EXPECT_EQ(result_b.counters.created, 0);
  EXPECT_EQ(result_b.events, 0);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students").value(), before + 200);
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), before + 200);
  EXPECT_EQ(backend
                .QueryInt("SELECT COUNT(DISTINCT external_id) FROM integration_events "
                          "WHERE external_id LIKE 'R%'")
                .value(),
            200);
  const std::vector<RunInfo> runs = b->ListRuns(kBackendSourceId, 10).value();
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.front().counters.unchanged, 200);  // B's run counted its decisions once
}

TEST(PostgresStoreTest, AWriterThatLosesTheRaceForNewRecordsFindsThemUnchanged) {
  RaceForNewRecords(/*warm=*/false);
}

TEST(PostgresStoreTest, AWriterThatLosesTheRaceOnTheColdLoadPathFindsThemUnchanged) {
  RaceForNewRecords(/*warm=*/true);
}

TEST(PostgresStoreTest, AWriterThatLosesTheRaceForAnUpdateAppliesItsChangeOnTheWinners) {
  PostgresBackend backend;
  std::unique_ptr<Store> a;
  std::unique_ptr<Store> b;
  ASSERT_NO_FATAL_FAILURE(OpenTwoWriters(backend, &a, &b));
  ASSERT_TRUE(a->CommitCheckpoint(BatchFor(*a, {AStudent("U1")})).ok());
  ASSERT_TRUE(SlowDownCursor(backend, "slow", 1).ok());
  CheckpointBatch batch_a = BatchFor(*a, {AStudent("U1", "Anna", "2024-02-01T10:00:00Z")});
  batch_a.cursor = "slow";
  CheckpointBatch batch_b = BatchFor(*b, {AStudent("U1", "Bice", "2024-02-01T10:00:00Z")});

  CheckpointResult result_a;
  CheckpointResult result_b;
  ASSERT_NO_FATAL_FAILURE(Race(backend, *a, batch_a, *b, batch_b, &result_a, &result_b));
  EXPECT_EQ(result_a.counters.updated, 1);
  EXPECT_EQ(result_b.counters.updated, 1);
  // B decided on A's version 2, not on the version 1 it could have read before A committed.
  std::optional<StoredRecord> stored =
      b->GetRecord(*model::FindEntity("student"), AStudent("U1").key).value();
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state.version, 3);
  EXPECT_EQ(stored->state.values[0], "Bice");
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), 3);
  EXPECT_EQ(backend.QueryInt("SELECT MAX(version) FROM integration_events").value(), 3);
}

TEST(PostgresStoreTest, ManyWritersRacingOnTheSameRecordsYieldOneRowAndOneCreatedEventEach) {
  // Free-running: four connections commit overlapping batches of the same new records, in
  // different orders, released together; several rounds.
  PostgresBackend backend;
  constexpr int kWriters = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int w = 0; w < kWriters; ++w) {
    stores.push_back(MustOpen(backend));
    ASSERT_NE(stores.back(), nullptr);
  }
  ASSERT_OK(RegisterBackendSource(*stores[0]));
  int64_t total = 0;
  for (int round = 0; round < 5; ++round) {
    const std::vector<model::CanonicalRecord> records = Students(fmt::format("W{}-", round), 300);
    total += 300;
    std::vector<CheckpointBatch> batches;
    for (int w = 0; w < kWriters; ++w) {
      std::vector<model::CanonicalRecord> mine(records.begin() + w * 20, records.end());
      if (w % 2 == 1) std::reverse(mine.begin(), mine.end());
      batches.push_back(BatchFor(*stores[static_cast<size_t>(w)], std::move(mine)));
    }
    std::vector<Result<CheckpointResult>> results(kWriters, Status::Internal("not run"));
    std::barrier start(kWriters);
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        start.arrive_and_wait();
        results[static_cast<size_t>(w)] =
            stores[static_cast<size_t>(w)]->CommitCheckpoint(batches[static_cast<size_t>(w)]);
      });
    }
    for (std::thread& thread : threads) thread.join();
    int64_t created = 0;
    int64_t events = 0;
    for (const Result<CheckpointResult>& result : results) {
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      created += result->counters.created;
      events += result->events;
      EXPECT_EQ(result->counters.updated, 0);
    }
    EXPECT_EQ(created, 300) << "round " << round;
    EXPECT_EQ(events, 300) << "round " << round;
    EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students").value(), total);
    EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM integration_events").value(), total);
  }
  // Every record is at version 1 with exactly one created event.
  EXPECT_EQ(backend.QueryInt("SELECT COUNT(*) FROM students WHERE version <> 1").value(), 0);
  EXPECT_EQ(backend
                .QueryInt("SELECT COUNT(DISTINCT external_id) FROM integration_events e JOIN "
                          "integration_event_kinds k ON k.id = e.kind "
                          "WHERE k.type = 'student.created'")
                .value(),
            total);
}

}  // namespace
}  // namespace reglo::storage::testing
