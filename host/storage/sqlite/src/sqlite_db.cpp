#include "sqlite_db.h"

#include <fmt/format.h>

namespace reglo::storage::sqlite {

namespace {

// Bounded wait when another connection holds the write lock (several stores may share a file).
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

Result<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* handle = nullptr;
  // NOMUTEX: a connection is used by one thread at a time (store.h), so SQLite's own
  // per-connection mutex would only cost time on the hot path.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status =
        Status::IoError(fmt::format("sqlite: {} while opening database '{}'",
                                    handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc), path));
    sqlite3_close_v2(handle);
    return status;
  }
  std::unique_ptr<Db> db(new Db(handle));
  sqlite3_busy_timeout(handle, kBusyTimeoutMs);
  // WAL: readers never block the writer and a commit is one append. synchronous=NORMAL: a commit
  // may be lost on power failure but the database is never corrupted (fsync at checkpoints only).
  // The larger page cache keeps the identity index of a bulk load in memory.
  // In-memory databases answer "memory" to the WAL request, which is fine.
  // 4 KiB pages, SQLite's default, stated so that it stays a decision (set before the first
  // table exists, ignored afterwards; and before auto_vacuum, which fixes a new file's page size
  // at whatever it is then). Measured with 16 KiB pages: the cold load's floor was 1.3x faster
  // but the hub's cold load was not, and 100,000 idle sources cost 59-74 % of a core and peaked
  // at 311-320 MB, against 39-43 % and 196-210 MB: an idle pull's small commits and reads move
  // whole pages (README, "Page size").
  // Incremental auto-vacuum (likewise only before the first table): pages freed by retention can
  // be given back to the file system a few at a time (HousekeepingStore::ReclaimSpace) instead
  // of by a VACUUM that rewrites the whole file under the write lock.
  // secure_delete (issue #18): deleted and overwritten content is zeroed, in its page and on
  // free pages, so an erased subject's bytes do not survive in the file; a value changed by a
  // sync leaves no old copy either. Inserts (a cold load) do not pay for it; see the README.
  REGLO_RETURN_IF_ERROR(
      db->Exec("PRAGMA page_size=4096;"
               "PRAGMA auto_vacuum=INCREMENTAL;"
               "PRAGMA journal_mode=WAL;"
               "PRAGMA synchronous=NORMAL;"
               "PRAGMA cache_size=-65536;"
               "PRAGMA temp_store=MEMORY;"
               "PRAGMA secure_delete=ON;",
               fmt::format("configuring database '{}'", path)));
  if (path != ":memory:" && !path.empty()) {
    db->checkpointer_ = WalCheckpointer::ForFile(path);
    db->checkpointer_->Attach(handle);
  }
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::Exec(std::string_view sql, std::string_view what) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::Ok();
  Status status = Status::IoError(
      fmt::format("sqlite: {} while {}", message ? message : sqlite3_errstr(rc), what));
  sqlite3_free(message);
  return status;
}

Result<sqlite3_stmt*> Db::Prepare(const std::string& sql, std::string_view what) {
  if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, fmt::format("preparing a statement for {}", what));
  }
  cache_.emplace(sql, stmt);
  return stmt;
}

Status Db::Error(int rc, std::string_view what) const {
  // errmsg describes the most recent failure on this connection; errstr is the generic fallback
  // when the code did not come from the last call.
  const char* message = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Status::IoError(fmt::format("sqlite: {} while {}", message, what));
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) return db_.Error(bind_rc_, what_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_.Error(rc, what_);
}

Status Stmt::Run() {
  Result<bool> row = Step();
  if (!row.ok()) return row.status();
  return Status::Ok();
}

Transaction::~Transaction() {
  // SQLite rolls back by itself after some errors (disk full, I/O); only roll back what is open.
  if (active_ && db_.InTransaction()) {
    if (Result<sqlite3_stmt*> stmt = db_.Prepare("ROLLBACK", "rolling back"); stmt.ok()) {
      (void)Stmt(db_, *stmt, "rolling back").Run();  // nothing more to do if even this fails
    }
  }
}

Status Transaction::Begin(std::string_view what) {
  what_ = what;
  if (db_.InTransaction()) return Status::Ok();  // joins the outer transaction
  Result<sqlite3_stmt*> stmt = db_.Prepare("BEGIN IMMEDIATE", what);
  if (!stmt.ok()) return stmt.status();
  REGLO_RETURN_IF_ERROR(Stmt(db_, *stmt, what).Run());
  active_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  if (!active_) return Status::Ok();  // joined: the outer transaction commits
  Result<sqlite3_stmt*> stmt = db_.Prepare("COMMIT", what_);
  if (!stmt.ok()) return stmt.status();
  REGLO_RETURN_IF_ERROR(Stmt(db_, *stmt, what_).Run());
  active_ = false;
  return Status::Ok();
}

}  // namespace reglo::storage::sqlite
