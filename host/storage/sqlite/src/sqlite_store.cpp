#include "reglo/storage/sqlite_store.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Status SqliteStore::Open(MigrationObserver on_migration) {
  on_migration_ = std::move(on_migration);
  REGLO_RETURN_IF_ERROR(Migrate());
  REGLO_RETURN_IF_ERROR(VerifyColumns());
  return PrepareCheckpointStatements();
}

Result<int> SqliteStore::SchemaVersion() {
  REGLO_ASSIGN_OR_RETURN(version,
                         QueryInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                                  "reading the schema version"));
  return static_cast<int>(version);
}

Status SqliteStore::Migrate() {
  // The bookkeeping table itself is not a migration: it must exist before any can be counted.
  REGLO_RETURN_IF_ERROR(
      db_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                "creating schema_migrations"));
  const int latest = LatestSchemaVersion();
  // Checked before taking the write lock so that an up-to-date database opens without one.
  REGLO_ASSIGN_OR_RETURN(current, SchemaVersion());
  if (current > latest) return NewerSchemaError(current, latest);
  if (current == latest) return Status::Ok();
  // A migration that rebuilds a table (13, 14) keeps a statement journal of it in temp storage:
  // in a temp file while migrating, not in the connection's in-memory temp store (Db::Open's
  // temp_store=MEMORY), which held 400 MB for a store of 1M records.
  REGLO_RETURN_IF_ERROR(db_->Exec("PRAGMA temp_store=FILE", "preparing to migrate"));
  const Status migrated = ApplyMigrations(current, latest);
  REGLO_RETURN_IF_ERROR(db_->Exec("PRAGMA temp_store=MEMORY", "finishing the migrations"));
  return migrated;
}

Status SqliteStore::ApplyMigrations(int current, int latest) {
  for (const Migration& migration : sqlite::Migrations()) {
    if (migration.version <= current) continue;
    const std::string what =
        fmt::format("applying migration {} ({})", migration.version, migration.name);
    Transaction tx(*db_);
    REGLO_RETURN_IF_ERROR(tx.Begin("applying a migration"));
    // Read again under the write lock: another process may have migrated while this one waited.
    REGLO_ASSIGN_OR_RETURN(locked_current, SchemaVersion());
    if (locked_current > latest) return NewerSchemaError(locked_current, latest);
    if (migration.version <= locked_current) continue;
    if (on_migration_) on_migration_({migration.version, migration.name, current, latest});
    REGLO_RETURN_IF_ERROR(db_->Exec(migration.sql, what));
    REGLO_ASSIGN_OR_RETURN(record,
                           Prepare("INSERT INTO schema_migrations (version, name, applied_at) "
                                   "VALUES (?, ?, ?)",
                                   what));
    const std::string applied_at = Now();
    REGLO_RETURN_IF_ERROR(Stmt(*db_, record, what)
                              .Bind(1, int64_t{migration.version})
                              .Bind(2, migration.name)
                              .Bind(3, applied_at)
                              .Run());
    REGLO_RETURN_IF_ERROR(tx.Commit());
  }
  return Status::Ok();
}

Status SqliteStore::VerifyColumns() {
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT name FROM pragma_table_info(?)",
                                         "reading the columns of a canonical table"));
    Stmt query(*db_, stmt, "reading the columns of a canonical table");
    query.Bind(1, entity.table);
    REGLO_ASSIGN_OR_RETURN(names, ReadRows<std::string>(query));
    const std::unordered_set<std::string> columns(names.begin(), names.end());
    REGLO_RETURN_IF_ERROR(CheckEntityColumns(
        entity, [&](std::string_view column) { return columns.contains(std::string(column)); }));
  }
  return Status::Ok();
}

}  // namespace reglo::storage::sqlite

namespace reglo::storage {

using sqlite::Db;
using sqlite::SqliteStore;

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const Clock& clock,
                                               const MigrationObserver& on_migration) {
  Result<std::unique_ptr<Db>> db = Db::Open(path);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteStore>(std::move(*db), clock);
  REGLO_RETURN_IF_ERROR(store->Open(on_migration));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace reglo::storage
