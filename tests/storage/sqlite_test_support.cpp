#include "sqlite_test_support.h"

#include <fmt/format.h>

#include "reglo/storage/sqlite_store.h"

namespace reglo::storage::testing {

SqliteRawConnection::SqliteRawConnection(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) == SQLITE_OK) sqlite3_busy_timeout(db_, 5000);
}

SqliteRawConnection::~SqliteRawConnection() {
  sqlite3_close(db_);
}

Status SqliteRawConnection::Execute(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) {
    return Status::Ok();
  }
  Status status = Status::IoError(message ? message : sqlite3_errmsg(db_));
  sqlite3_free(message);
  return status;
}

Result<int64_t> SqliteRawConnection::QueryInt(const std::string& sql) {
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

Result<std::string> SqliteRawConnection::QueryText(const std::string& sql) {
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

Result<std::unique_ptr<Store>> SqliteBackend::Open() {
  return OpenSqliteStore(path());
}

Status SqliteBackend::ExecuteSql(const std::string& sql) {
  return SqliteRawConnection(path()).Execute(sql);
}

Result<int64_t> SqliteBackend::QueryInt(const std::string& sql) {
  return SqliteRawConnection(path()).QueryInt(sql);
}

Result<std::string> SqliteBackend::QueryText(const std::string& sql) {
  return SqliteRawConnection(path()).QueryText(sql);
}

Status SqliteBackend::BreakInsertsInto(const std::string& table) {
  return SqliteRawConnection(path()).Execute(
      fmt::format("CREATE TRIGGER reglo_test_break_{0} BEFORE INSERT ON {0} "
                  "BEGIN SELECT RAISE(ABORT, 'injected test failure'); END",
                  table));
}

}  // namespace reglo::storage::testing
