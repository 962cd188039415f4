// The SQLite backend: runs the shared Store suite on a temp-file database, plus what is specific
// to SQLite (in-memory databases, WAL mode, several connections on one file, open errors).
#include "reglo/storage/sqlite_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <variant>

#include "migrations.h"
#include "reglo/model/events.h"
#include "reglo/model/schema.h"
#include "reglo/model/validation.h"
#include "reglo/storage/row_codec.h"
#include "sqlite_test_support.h"
#include "store_test.h"

namespace reglo::storage::testing {

BackendParam ThisBackend() {
  return {"Sqlite", [] { return std::make_unique<SqliteBackend>(); }};
}

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// The raw connection of the SQLite test support (sqlite_test_support.h).
using RawConnection = SqliteRawConnection;

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(ThisBackend()), BackendName);

TEST(SqliteStoreTest, InMemoryDatabaseWorks) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(":memory:");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion().value(), (*store)->LatestSchemaVersion());
  Result<CheckpointResult> result =
      (*store)->CommitCheckpoint(BatchFor(**store, {AStudent("S1"), AStudent("S2")}));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->counters.created, 2);
  EXPECT_EQ((*store)->CountRecords(*model::FindEntity("student")).value(), 2);
  EXPECT_EQ((*store)->CountEvents().value(), 2);
}

// A new file gets every setting Db::Open asks for. The page size is 4 KiB (sqlite_db.cpp says
// why): asking for 16 KiB after auto_vacuum, as Db::Open once did, silently left it at 4 KiB.
TEST(SqliteStoreTest, NewFileStoreUsesWalFourKiBPagesAndIncrementalVacuum) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RawConnection raw(path);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode").value(), "wal");
  EXPECT_EQ(raw.QueryInt("PRAGMA page_size").value(), 4096);
  EXPECT_EQ(raw.QueryInt("PRAGMA auto_vacuum").value(), 2);  // incremental
}

// Saving sources (a start saves every configured one) leaves their pages out of the connection's
// cache: the engine keeps that connection for status writes, which rarely read, and 100,000
// sources' pages would otherwise stay cached for as long as the hub runs.
TEST(SqliteStoreTest, SavingSourcesLeavesTheirPagesOutOfTheCache) {
  TempDir dir;
  Result<std::unique_ptr<Store>> store = OpenSqliteStore((dir.path() / "hub.db").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<SourceRow> rows(20'000);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].id = fmt::format("source-{:05}", i);
    rows[i].company_id = fmt::format("company-{:05}", i);
    rows[i].source_system = "sida";
    rows[i].connector = "sida_stub";
    rows[i].config_json = R"({"base_dir": "/srv/reglo", "changes": 0})";
  }
  ASSERT_TRUE((*store)->UpsertSources({rows[0]}).ok());  // its statement prepared
  const int64_t before = sqlite3_memory_used();
  ASSERT_TRUE((*store)->UpsertSources(rows).ok());
  // The rows take some 3 MB of pages; a few hundred KiB is the WAL checkpoint's and other noise.
  EXPECT_LT(sqlite3_memory_used() - before, 512 * 1024);
}

// The times the store stamps itself (source rows, applied migrations) come from the Clock it was
// opened with, not the system's: a ManualClock decides them.
TEST(SqliteStoreTest, WhatTheStoreDatesItselfComesFromItsClock) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  ManualClock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000'000)));
  const std::string opened_at = FormatUtc(clock.Now());
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path, clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RawConnection raw(path);
  EXPECT_EQ(raw.QueryText("SELECT MAX(applied_at) FROM schema_migrations").value(), opened_at);
  clock.Advance(std::chrono::minutes(5));
  ASSERT_TRUE(RegisterBackendSource(**store).ok());
  EXPECT_EQ(raw.QueryText("SELECT updated_at FROM integration_sources").value(),
            FormatUtc(clock.Now()));
  clock.Advance(std::chrono::hours(2));
  ASSERT_TRUE((*store)->SetSourceStatus(kBackendSourceId, "ok").ok());
  EXPECT_EQ(raw.QueryText("SELECT updated_at FROM integration_sources").value(),
            FormatUtc(clock.Now()));
}

TEST(SqliteStoreTest, NewStoresGiveFreedPagesBackAndOldOnesAfterOneVacuum) {
  TempDir dir;
  const std::string path = (dir.path() / "old.db").string();
  {
    // A store from before incremental auto-vacuum: its first table predates the setting.
    RawConnection raw(path);
    ASSERT_TRUE(raw.Execute("CREATE TABLE older (x INTEGER)").ok());
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RawConnection raw(path);
  EXPECT_EQ(raw.QueryInt("PRAGMA auto_vacuum").value(), 0);
  ASSERT_TRUE(RegisterBackendSource(**store).ok());
  std::vector<model::CanonicalRecord> records;
  for (int i = 0; i < 2000; ++i) records.push_back(AStudent(fmt::format("S{:05}", i)));
  ASSERT_TRUE((*store)->CommitCheckpoint(BatchFor(**store, std::move(records))).ok());
  EXPECT_EQ((*store)->Prune(PruneTarget::kEvents, "9999-01-01T00:00:00.000Z", 5000).value(), 2000);
  EXPECT_EQ((*store)->ReclaimSpace(1000, false).value(), 0);  // nothing to give back with
  EXPECT_GT((*store)->ReadStoreStats()->free_bytes, 0);
  const int64_t vacuumed = (*store)->ReclaimSpace(0, /*full=*/true).value();
  EXPECT_GT(vacuumed, 0);
  // Incremental from now on (read on a new connection: an open one keeps the header it read).
  EXPECT_EQ(RawConnection(path).QueryInt("PRAGMA auto_vacuum").value(), 2);
  EXPECT_EQ((*store)->ReadStoreStats()->free_bytes, 0);

  // A new store: incremental from the start, so a pass gives pages back without a VACUUM.
  const std::string fresh = (dir.path() / "new.db").string();
  Result<std::unique_ptr<Store>> created = OpenSqliteStore(fresh);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(RawConnection(fresh).QueryInt("PRAGMA auto_vacuum").value(), 2);
  ASSERT_TRUE(RegisterBackendSource(**created).ok());
  records.clear();
  for (int i = 0; i < 2000; ++i) records.push_back(AStudent(fmt::format("S{:05}", i)));
  ASSERT_TRUE((*created)->CommitCheckpoint(BatchFor(**created, std::move(records))).ok());
  ASSERT_EQ((*created)->Prune(PruneTarget::kEvents, "9999-01-01T00:00:00.000Z", 5000).value(),
            2000);
  EXPECT_GT((*created)->ReclaimSpace(100'000, false).value(), 0);
  EXPECT_EQ((*created)->ReadStoreStats()->free_bytes, 0);
}

TEST(SqliteStoreTest, TwoStoresShareOneFile) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  Result<std::unique_ptr<Store>> writer = OpenSqliteStore(path);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  Result<std::unique_ptr<Store>> reader = OpenSqliteStore(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE((*writer)->CommitCheckpoint(BatchFor(**writer, {AStudent("S1")})).ok());
  EXPECT_EQ((*reader)->CountRecords(*model::FindEntity("student")).value(), 1);
  EXPECT_EQ((*reader)->ReadEvents(0, 10).value().size(), 1u);
  // A reader holds no snapshot between calls, so the next write is visible too.
  ASSERT_TRUE((*writer)->CommitCheckpoint(BatchFor(**writer, {AStudent("S2")})).ok());
  EXPECT_EQ((*reader)->CountRecords(*model::FindEntity("student")).value(), 2);
}

// Makes `raw`'s empty file a store exactly as migrations 1 to `last` left it (what an older hub
// wrote): from the migration list itself, so the later ones run on it as they would in the field.
void MigrateUpTo(RawConnection& raw, int last) {
  ASSERT_TRUE(raw.Execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                          "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                  .ok());
  for (const Migration& migration : sqlite::Migrations()) {
    if (migration.version > last) break;
    ASSERT_TRUE(raw.Execute(std::string(migration.sql)).ok()) << migration.version;
    ASSERT_TRUE(raw.Execute(fmt::format("INSERT INTO schema_migrations VALUES ({}, 'older', "
                                        "'2026-01-01T00:00:00.000Z')",
                                        migration.version))
                    .ok());
  }
}

// The opener is told of each migration before it runs (a rebuild takes seconds per million
// records): every one of a new store's, from 0; an older store's missing ones, from its version;
// none for a store already up to date.
TEST(SqliteStoreTest, EachMigrationIsToldToTheOpenerBeforeItRuns) {
  TempDir dir;
  std::vector<MigrationStep> steps;
  std::vector<std::string> names;
  const MigrationObserver record = [&](const MigrationStep& step) {
    steps.push_back(step);
    names.emplace_back(step.name);
  };
  const int latest = static_cast<int>(sqlite::Migrations().size());

  const std::string fresh = (dir.path() / "fresh.db").string();
  ASSERT_TRUE(OpenSqliteStore(fresh, SystemClock::Instance(), record).ok());
  ASSERT_EQ(steps.size(), static_cast<size_t>(latest));
  for (int i = 0; i < latest; ++i) {
    EXPECT_EQ(steps[i].version, i + 1);
    EXPECT_EQ(names[i], sqlite::Migrations()[i].name);
    EXPECT_EQ(steps[i].from, 0);
    EXPECT_EQ(steps[i].latest, latest);
  }
  steps.clear();
  ASSERT_TRUE(OpenSqliteStore(fresh, SystemClock::Instance(), record).ok());
  EXPECT_TRUE(steps.empty());

  const std::string older = (dir.path() / "older.db").string();
  {
    RawConnection raw(older);
    MigrateUpTo(raw, 12);
  }
  ASSERT_TRUE(OpenSqliteStore(older, SystemClock::Instance(), record).ok());
  ASSERT_EQ(steps.size(), static_cast<size_t>(latest - 12));
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].version, static_cast<int>(13 + i));
    EXPECT_EQ(steps[i].from, 12);
  }
}

// Migration 12: a store from before it gets its leases table rebuilt without a rowid (an idle
// pull's lease take and release then write one page each, not two), with the leases it held.
TEST(SqliteStoreTest, LeasesMoveToATableWithoutRowidKeepingTheLeasesHeld) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  RawConnection raw(path);
  // The store as migration 11 left it: the rowid table, holding a live lease of instance "a".
  MigrateUpTo(raw, 11);
  ASSERT_TRUE(raw.Execute("INSERT INTO integration_leases VALUES "
                          "('school-1', 'a', '2999-01-01T00:00:00.000Z')")
                  .ok());
  auto without_rowid = [&] {
    return raw
        .QueryInt(
            "SELECT count(*) FROM sqlite_master WHERE name = 'integration_leases' AND "
            "sql LIKE '%WITHOUT ROWID%'")
        .value();
  };
  ASSERT_EQ(without_rowid(), 0);

  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(without_rowid(), 1);
  EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                         "tbl_name = 'integration_leases'")
                .value(),
            0);
  const std::string now = "2026-12-05T00:00:00.000Z";
  EXPECT_FALSE((*store)->TryAcquireLease("school-1", "b", std::chrono::seconds(60), now).value());
  EXPECT_TRUE((*store)->TryAcquireLease("school-1", "a", std::chrono::seconds(60), now).value());
  EXPECT_TRUE((*store)->TryAcquireLease("school-2", "b", std::chrono::seconds(60), now).value());
  EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM integration_leases").value(), 2);
}

// Migrations 13 to 16 (issue #19 §3): a store from before them gets narrower event rows, records
// without a rowid and with integer times, and reads every event and record as it did.
TEST(SqliteStoreTest, NarrowRowsKeepEveryEventsSequenceIdTimeAndDataAndEveryRecord) {
  // What an older hub wrote, in a current store: a student and its created event.
  TempDir dir;
  const model::RecordKey kM1{"acme", "gestionale", "M1"};
  std::optional<StoredRecord> record;
  model::EventRecord old_event;
  {
    Result<std::unique_ptr<Store>> current = OpenSqliteStore((dir.path() / "now.db").string());
    ASSERT_TRUE(current.ok()) << current.status().ToString();
    ASSERT_TRUE(RegisterBackendSource(**current).ok());
    ASSERT_TRUE((*current)->CommitCheckpoint(BatchFor(**current, {AStudent("M1")})).ok());
    record = (*current)->GetRecord(*model::FindEntity("student"), kM1).value();
    old_event = (*current)->ReadEvents(0, 1).value().at(0).event;
  }
  ASSERT_TRUE(record);
  ASSERT_TRUE(record->state.source_updated_at);

  // The same rows in a store as migration 12 left it (rowid tables, the event's nine columns),
  // behind two events pruned since: its sqlite_sequence (3) is past its last row (1).
  const std::string path = (dir.path() / "hub.db").string();
  RawConnection raw(path);
  MigrateUpTo(raw, 12);
  // The record is copied as it is, but for its content hash, which an older hub wrote as hex
  // text, and its times, FormatUtc text before migrations 15 and 16.
  const std::string columns =
      "company_id, source_system, external_id, first_name, last_name, fiscal_code, birth_date, "
      "email, phone, version, content_hash, source_updated_at, extra, warnings, source_hash";
  ASSERT_TRUE(
      raw.Execute(fmt::format("ATTACH '{0}' AS now; INSERT INTO students ({1}) SELECT {1} "
                              "FROM now.students; DETACH now; UPDATE students SET "
                              "content_hash = lower(hex(content_hash)), created_at = '{2}', "
                              "updated_at = '{3}', source_updated_at = '{4}'",
                              (dir.path() / "now.db").string(), columns, record->created_at,
                              record->updated_at, *record->state.source_updated_at))
          .ok());
  ASSERT_EQ(raw.QueryText("SELECT typeof(content_hash) FROM students").value(), "text");
  ASSERT_EQ(raw.QueryText("SELECT typeof(updated_at) FROM students").value(), "text");
  ASSERT_EQ(raw.QueryText("SELECT typeof(source_updated_at) FROM students").value(), "text");
  // A record whose times are not FormatUtc text (no hub wrote one, but the columns allowed it).
  ASSERT_TRUE(raw.Execute("INSERT INTO students (company_id, source_system, external_id, version, "
                          "content_hash, source_updated_at, created_at, updated_at) VALUES "
                          "('acme', 'gestionale', 'M8', 1, 'x', '2024-01-01', 'not a time', NULL)")
                  .ok());
  for (const char* external_id : {"M1", "gone-2", "gone-3"}) {
    ASSERT_TRUE(
        raw
            .Execute(fmt::format(
                "INSERT INTO integration_events (event_id, type, company_id, "
                "source_system, entity, external_id, version, time, data) VALUES ('{}', "
                "'{}', '{}', '{}', '{}', '{}', {}, '{}', '{}')",
                old_event.event_id, old_event.type, old_event.company_id, old_event.source_system,
                old_event.entity, external_id, old_event.version, old_event.time, old_event.data))
            .ok());
  }
  ASSERT_TRUE(raw.Execute("DELETE FROM integration_events WHERE sequence > 1").ok());

  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::vector<StoredEvent> events = (*store)->ReadEvents(0, 10).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[0].event.event_id, old_event.event_id);  // recomputed, the same
  EXPECT_EQ(events[0].event.type, old_event.type);
  EXPECT_EQ(events[0].event.company_id, old_event.company_id);
  EXPECT_EQ(events[0].event.source_system, old_event.source_system);
  EXPECT_EQ(events[0].event.external_id, "M1");
  EXPECT_EQ(events[0].event.time, old_event.time);
  EXPECT_EQ(events[0].event.data, old_event.data);
  EXPECT_EQ(raw.QueryText("SELECT typeof(time) FROM integration_events").value(), "integer");
  const std::optional<StoredRecord> migrated =
      (*store)->GetRecord(*model::FindEntity("student"), kM1).value();
  ASSERT_TRUE(migrated);
  EXPECT_EQ(migrated->state.version, record->state.version);
  EXPECT_EQ(migrated->state.content_hash, record->state.content_hash);
  EXPECT_EQ(migrated->state.values, record->state.values);
  EXPECT_EQ(migrated->created_at, record->created_at);
  EXPECT_EQ(migrated->updated_at, record->updated_at);
  EXPECT_EQ(migrated->state.source_updated_at, record->state.source_updated_at);
  // Migrations 15 and 16: the three times are integers now, milliseconds since the epoch.
  EXPECT_EQ(raw.QueryText("SELECT typeof(created_at) || ' ' || typeof(updated_at) || ' ' || "
                          "typeof(source_updated_at) FROM students WHERE external_id = 'M1'")
                .value(),
            "integer integer integer");
  EXPECT_EQ(raw.QueryInt("SELECT updated_at FROM students WHERE external_id = 'M1'").value(),
            EncodeStoredTime(record->updated_at).value());
  EXPECT_EQ(raw.QueryInt("SELECT source_updated_at FROM students WHERE external_id = 'M1'").value(),
            EncodeStoredTime(*record->state.source_updated_at).value());
  // What is not a FormatUtc time becomes NULL, and reads as no time.
  const std::optional<StoredRecord> odd =
      (*store)->GetRecord(*model::FindEntity("student"), {"acme", "gestionale", "M8"}).value();
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->created_at, "");
  EXPECT_EQ(odd->updated_at, "");
  EXPECT_EQ(odd->state.source_updated_at, std::nullopt);  // a date alone is not FormatUtc text

  // Every canonical table is stored in its primary key's B-tree, with no second index.
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    EXPECT_EQ(raw.QueryInt(fmt::format("SELECT count(*) FROM sqlite_master WHERE name = '{}' "
                                       "AND sql LIKE '%WITHOUT ROWID%'",
                                       entity.table))
                  .value(),
              1)
        << entity.table;
    EXPECT_EQ(raw.QueryInt(fmt::format("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                       "AND tbl_name = '{}'",
                                       entity.table))
                  .value(),
              0)
        << entity.table;
  }
  // The next event is sequence 4: none a subscriber may have seen is given again.
  ASSERT_TRUE(RegisterBackendSource(**store).ok());
  ASSERT_TRUE((*store)->CommitCheckpoint(BatchFor(**store, {AStudent("M2")})).ok());
  const std::vector<StoredEvent> after = (*store)->ReadEvents(1, 10).value();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].sequence, 4);
  EXPECT_EQ(after[0].event.event_id,
            model::EventId({"acme", "gestionale", "M2"}, "student", 1, "student.created"));
  EXPECT_EQ(OK_VALUE((*store)->CountRecords(*model::FindEntity("student"))), 3);  // M1, M8, M2

  // A record's content hash is stored as its 16 bytes and read back as its hex digits; the one
  // an older hub wrote as text still matches its unchanged record.
  EXPECT_EQ(raw.QueryText("SELECT typeof(content_hash) || length(content_hash) FROM students "
                          "WHERE external_id = 'M2'")
                .value(),
            "blob16");
  EXPECT_EQ((*store)
                ->GetRecord(*model::FindEntity("student"), {"acme", "gestionale", "M2"})
                .value()
                ->state.content_hash,
            AStudent("M2").content_hash);
  Result<CheckpointResult> again =
      (*store)->CommitCheckpoint(BatchFor(**store, {AStudent("M1"), AStudent("M2")}));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->counters.unchanged, 2);
  EXPECT_EQ(again->events, 0);
}

TEST(SqliteStoreTest, UnopenablePathIsAnIoErrorNamingThePath) {
  TempDir dir;
  const std::string path = (dir.path() / "missing-dir" / "hub.db").string();
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(SqliteStoreTest, DatabaseErrorsSayWhatWasBeingDone) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(RawConnection(path)
                  .Execute("CREATE TRIGGER no_events BEFORE INSERT ON integration_events "
                           "BEGIN SELECT RAISE(ABORT, 'outbox closed'); END")
                  .ok());
  Result<CheckpointResult> result =
      (*store)->CommitCheckpoint(BatchFor(**store, {AStudent("RSSMRA85T10A562S")}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kIoError);
  EXPECT_THAT(result.status().message(), HasSubstr("outbox closed"));
  EXPECT_THAT(result.status().message(), HasSubstr("appending an event"));
  // Record values (here an external id shaped like a codice fiscale) never appear in errors.
  EXPECT_THAT(result.status().message(), ::testing::Not(HasSubstr("RSSMRA85T10A562S")));
}

}  // namespace
}  // namespace reglo::storage::testing
