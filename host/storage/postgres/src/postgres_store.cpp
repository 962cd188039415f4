#include "reglo/storage/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "postgres_store_impl.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage::postgres {

Status PostgresStore::Open(MigrationObserver on_migration) {
  on_migration_ = std::move(on_migration);
  if (conn_->ServerVersion() < kMinServerVersion) {
    return Status::Incompatible(
        fmt::format("PostgreSQL ({}) is version {}; reglo-hub needs 12 or newer",
                    conn_->description(), conn_->ServerVersion() / 10000));
  }
  REGLO_RETURN_IF_ERROR(Migrate());
  return VerifyColumns();
}

Result<int> PostgresStore::SchemaVersion() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(exists, conn_->Query("SELECT to_regclass('schema_migrations') IS NOT NULL",
                                              "reading the schema version"));
  if (exists.size() != 1 || exists.Text(0, 0) != "t") return 0;
  REGLO_ASSIGN_OR_RETURN(
      version, QueryInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", Params(),
                        "reading the schema version"));
  return static_cast<int>(version);
}

Status PostgresStore::Migrate() {
  const int latest = LatestSchemaVersion();
  // Checked before taking the lock so that an up-to-date database opens without one.
  REGLO_ASSIGN_OR_RETURN(current, SchemaVersion());
  if (current > latest) return NewerSchemaError(current, latest);
  if (current == latest) return Status::Ok();

  // DDL is transactional in PostgreSQL: every pending migration commits together, or none.
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("applying migrations"));
  // Several instances may start at once: one migrates, the others wait and then find it done.
  REGLO_RETURN_IF_ERROR(conn_
                            ->Query("SELECT pg_advisory_xact_lock($1)",
                                    Params().Int(kMigrationLock), "waiting for the migration lock")
                            .status());
  // The bookkeeping table itself is not a migration: it must exist before any can be counted.
  REGLO_RETURN_IF_ERROR(
      conn_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                  "creating schema_migrations"));
  REGLO_ASSIGN_OR_RETURN(locked_current, SchemaVersion());
  if (locked_current > latest) return NewerSchemaError(locked_current, latest);
  for (const Migration& migration : postgres::Migrations()) {
    if (migration.version <= locked_current) continue;
    const std::string what =
        fmt::format("applying migration {} ({})", migration.version, migration.name);
    if (on_migration_) on_migration_({migration.version, migration.name, locked_current, latest});
    REGLO_RETURN_IF_ERROR(conn_->Exec(migration.sql, what));
    REGLO_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES ($1::int8, $2, $3)",
                    Params().Int(migration.version).Text(migration.name).Text(Now()), what)
            .status());
  }
  return tx.Commit();
}

Status PostgresStore::VerifyColumns() {
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("SELECT table_name || '.' || column_name FROM "
                                            "information_schema.columns "
                                            "WHERE table_schema = current_schema()",
                                            "reading the columns of the canonical tables"));
  REGLO_ASSIGN_OR_RETURN(names, ReadRows<std::string>(RowsCursor(rows)));
  const std::set<std::string, std::less<>> columns(names.begin(), names.end());
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    REGLO_RETURN_IF_ERROR(CheckEntityColumns(entity, [&](std::string_view column) {
      return columns.contains(fmt::format("{}.{}", entity.table, column));
    }));
  }
  return Status::Ok();
}

}  // namespace reglo::storage::postgres

namespace reglo::storage {

using postgres::Conn;
using postgres::PostgresStore;

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresUrl& url, const Clock& clock,
                                                 const MigrationObserver& on_migration) {
  REGLO_ASSIGN_OR_RETURN(conn, Conn::Connect(url));
  auto store = std::make_unique<PostgresStore>(std::move(conn), url, clock);
  REGLO_RETURN_IF_ERROR(store->Open(on_migration));
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, const Clock& clock,
                                                 const MigrationObserver& on_migration) {
  REGLO_ASSIGN_OR_RETURN(parsed, ParsePostgresUrl(url));
  return OpenPostgresStore(parsed, clock, on_migration);
}

}  // namespace reglo::storage
