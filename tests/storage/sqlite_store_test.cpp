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

#include "reglo/model/validation.h"
#include "store_test.h"

namespace reglo::storage::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A directory of its own under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device random;
    path_ = fs::temp_directory_path() /
            fmt::format("reglo-storage-test-{}-{}-{:08x}", ::getpid(), counter++, random());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs SQL on its own connection, next to whatever store has the file open.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) == SQLITE_OK) sqlite3_busy_timeout(db_, 5000);
  }
  ~RawConnection() { sqlite3_close(db_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  Status Execute(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) {
      return Status::Ok();
    }
    Status status = Status::IoError(message ? message : sqlite3_errmsg(db_));
    sqlite3_free(message);
    return status;
  }

  Result<int64_t> QueryInt(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return Status::IoError(sqlite3_errmsg(db_));
    }
    Result<int64_t> result = Status::IoError("no row");
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      result = sqlite3_column_int64(stmt, 0);
    } else if (rc != SQLITE_DONE) {
      result = Status::IoError(sqlite3_errmsg(db_));
    }
    sqlite3_finalize(stmt);
    return result;
  }

  Result<std::string> QueryText(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return Status::IoError(sqlite3_errmsg(db_));
    }
    Result<std::string> result = Status::IoError("no row");
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      result = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    sqlite3_finalize(stmt);
    return result;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override { return OpenSqliteStore(path()); }
  Status ExecuteSql(const std::string& sql) override { return RawConnection(path()).Execute(sql); }
  Result<int64_t> QueryInt(const std::string& sql) override {
    return RawConnection(path()).QueryInt(sql);
  }
  Status BreakInsertsInto(const std::string& table) override {
    return RawConnection(path()).Execute(
        fmt::format("CREATE TRIGGER reglo_test_break_{0} BEFORE INSERT ON {0} "
                    "BEGIN SELECT RAISE(ABORT, 'injected test failure'); END",
                    table));
  }

  std::string path() const { return (dir_.path() / "hub.db").string(); }

 private:
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest,
                         ::testing::Values(BackendParam{
                             "Sqlite", [] { return std::make_unique<SqliteBackend>(); }}),
                         BackendName);

model::CanonicalRecord AStudent(const std::string& external_id) {
  model::RawRecord raw;
  raw.entity = "student";
  raw.company_id = "acme";
  raw.source_system = "gestionale";
  raw.external_id = external_id;
  raw.source_updated_at = "2024-01-01T10:00:00Z";
  raw.fields = {{"firstName", "Mario"}, {"lastName", "Rossi"}};
  return std::get<model::CanonicalRecord>(model::Validate(raw));
}

CheckpointBatch BatchFor(Store& store, std::vector<model::CanonicalRecord> records) {
  CheckpointBatch batch;
  Result<int64_t> run = store.BeginRun("src", "2025-06-01T08:00:00.000Z");
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  batch.run_id = run.ok() ? *run : 0;
  batch.source_id = "src";
  batch.stream = "students";
  batch.records = std::move(records);
  batch.seen = static_cast<int64_t>(batch.records.size());
  batch.committed_at = "2025-06-01T08:00:01.000Z";
  return batch;
}

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

TEST(SqliteStoreTest, FileDatabaseUsesWal) {
  TempDir dir;
  const std::string path = (dir.path() / "hub.db").string();
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(RawConnection(path).QueryText("PRAGMA journal_mode").value(), "wal");
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
