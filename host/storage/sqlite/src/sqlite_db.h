// A thin RAII layer over one SQLite connection (private to the SQLite backend): a cache of prepared
// statements, scoped statement use, transactions, and SQLite errors turned into Status values.
// A Db owns its connection and statements; it is used by one thread at a time, like the store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "reglo/core/status.h"
#include "reglo/storage/row_codec.h"
#include "wal_checkpointer.h"

namespace reglo::storage::sqlite {

class Db {
 public:
  // Opens (creating if needed) the database at `path` and applies the connection settings.
  static Result<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs SQL text without parameters (may hold several statements); `what` names the operation.
  Status Exec(std::string_view sql, std::string_view what);
  // The cached prepared statement for `sql`, preparing it on first use. The Db keeps ownership.
  Result<sqlite3_stmt*> Prepare(const std::string& sql, std::string_view what);
  // An IoError carrying SQLite's message for `rc` and what was being done. SQLite messages name
  // tables and columns, never bound values, so they are safe to show and log.
  Status Error(int rc, std::string_view what) const;

  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* handle() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Shared with the file's other connections; released after db_ is closed.
  std::shared_ptr<WalCheckpointer> checkpointer_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// One use of a cached statement: bind, step, read columns. Resets the statement and clears its
// bindings when it goes out of scope, so no read snapshot is left open between calls and no bound
// pointer outlives the scope. Text is bound without copying: bound values must outlive the Stmt.
// Final, so calls on a Stmt (the checkpoint's hot path) are direct, not through RowCursor.
class Stmt final : public RowCursor {
 public:
  Stmt(const Db& db, sqlite3_stmt* stmt, std::string_view what)
      : db_(db), stmt_(stmt), what_(what) {}
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  Stmt& Bind(int index, std::string_view value) {
    Check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                            SQLITE_STATIC));
    return *this;
  }
  Stmt& Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Stmt& BindBlob(int index, std::string_view value) {
    Check(sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()),
                            SQLITE_STATIC));
    return *this;
  }
  // NULL when absent.
  Stmt& BindOpt(int index, const std::optional<std::string>& value) {
    return value ? Bind(index, std::string_view(*value)) : BindNull(index);
  }
  // NULL for an empty string (JSON columns that hold nothing).
  Stmt& BindTextOrNull(int index, std::string_view value) {
    return value.empty() ? BindNull(index) : Bind(index, value);
  }
  Stmt& Bind(int index, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Stmt& BindDouble(int index, double value) {
    Check(sqlite3_bind_double(stmt_, index, value));
    return *this;
  }
  Stmt& BindNull(int index) {
    Check(sqlite3_bind_null(stmt_, index));
    return *this;
  }
  // Binds `values` to parameters 1, 2, ... in order.
  template <typename... Value>
  Stmt& BindAll(const Value&... values) {
    [[maybe_unused]] int index = 1;
    (Bind(index++, values), ...);
    return *this;
  }

  // True when a row is available, false when the statement is done.
  Result<bool> Step() override;
  // Steps a statement that returns no rows (INSERT / UPDATE / DELETE).
  Status Run();

  // Columns are numbered from 0, as in SQLite.
  bool IsNull(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }
  int64_t Int(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const override { return sqlite3_column_double(stmt_, column); }
  std::string_view Text(int column) const override {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return data ? std::string_view(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string_view();
  }
  std::string Bytes(int column) const override {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return data ? std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string();
  }
  // Assigns into an existing optional, reusing its buffer on hot paths.
  void ReadInto(int column, std::optional<std::string>& out) const {
    if (IsNull(column)) {
      out.reset();
    } else if (out) {
      out->assign(Text(column));
    } else {
      out.emplace(Text(column));
    }
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  const Db& db_;
  sqlite3_stmt* stmt_;
  std::string_view what_;
  int bind_rc_ = SQLITE_OK;
};

// BEGIN IMMEDIATE on construction (via Begin), ROLLBACK on destruction unless committed. Taking
// the write lock up front means a writer never fails half-way with SQLITE_BUSY on lock upgrade.
// Begun while the connection is already in a transaction (AuditStore::Audited runs store methods
// inside its own), it joins that one: Begin and Commit do nothing, and the outer transaction
// commits or rolls back the whole.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin(std::string_view what);
  Status Commit();

 private:
  Db& db_;
  std::string_view what_;
  bool active_ = false;
};

}  // namespace reglo::storage::sqlite
