// SqliteStore: settings, API-managed sources, cursors, run history, browsing, totals
// (AdminStore).
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

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& key) {
  return SelectRow<std::string>("SELECT value FROM integration_settings WHERE key = ?",
                                "reading a setting", key);
}

Status SqliteStore::PutSetting(const std::string& key, const std::string& value,
                               const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("INSERT INTO integration_settings (key, value, updated_at) "
                                       "VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                                       "value = excluded.value, updated_at = excluded.updated_at",
                                       "saving a setting"));
  return Stmt(*db_, stmt, "saving a setting").Bind(1, key).Bind(2, value).Bind(3, now).Run();
}

Result<std::vector<ApiSourceRow>> SqliteStore::ListApiSources() {
  return SelectRows<ApiSourceRow>(
      fmt::format("SELECT {} FROM integration_api_sources ORDER BY id", kApiSourceColumns),
      "listing API-created sources");
}

Status SqliteStore::PutApiSource(const ApiSourceRow& source) {
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare("INSERT INTO integration_api_sources (id, company_id, source_system, "
                    "connector, config, enabled, interval_ms, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "company_id = excluded.company_id, source_system = excluded.source_system, "
                    "connector = excluded.connector, config = excluded.config, "
                    "enabled = excluded.enabled, interval_ms = excluded.interval_ms, "
                    "updated_at = excluded.updated_at",
                    "saving an API-created source"));
  return Stmt(*db_, stmt, "saving an API-created source")
      .Bind(1, source.source.id)
      .Bind(2, source.source.company_id)
      .Bind(3, source.source.source_system)
      .Bind(4, source.source.connector)
      .Bind(5, source.source.config_json)
      .Bind(6, int64_t{source.source.enabled ? 1 : 0})
      .Bind(7, source.interval_ms)
      .Bind(8, source.created_at)
      .Bind(9, source.updated_at)
      .Run();
}

Result<bool> SqliteStore::DeleteApiSource(const std::string& id) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("DELETE FROM integration_api_sources WHERE id = ?",
                                       "deleting an API-created source"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting an API-created source").Bind(1, id).Run());
  return db_->Changes() > 0;
}

Result<bool> SqliteStore::DeleteSource(const std::string& id) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a source"));
  bool existed = false;
  for (const char* sql : {"DELETE FROM integration_cursors WHERE source_id = ?",
                          "DELETE FROM integration_leases WHERE source_id = ?",
                          "DELETE FROM integration_sources WHERE id = ?"}) {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql, "deleting a source"));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "deleting a source").Bind(1, id).Run());
    existed = db_->Changes() > 0;  // the last statement's: the source row
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return existed;
}

Result<std::vector<CursorRow>> SqliteStore::ListCursors(const std::string& source_id) {
  return SelectRows<CursorRow>(
      fmt::format("SELECT {} FROM integration_cursors WHERE source_id = ? ORDER BY stream",
                  kCursorColumns),
      "listing cursors", source_id);
}

Result<int64_t> SqliteStore::ResetCursors(const std::string& source_id) {
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare("DELETE FROM integration_cursors WHERE source_id = ?", "resetting cursors"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "resetting cursors").Bind(1, source_id).Run());
  return db_->Changes();
}

Result<std::vector<RunInfo>> SqliteStore::ListRunsBefore(const std::string& source_id,
                                                         int64_t before_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  return SelectRows<RunInfo>(
      fmt::format("SELECT {} FROM integration_runs WHERE source_id = ? AND id < ? "
                  "ORDER BY id DESC LIMIT ?",
                  kRunColumns),
      "listing runs", source_id, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max(),
      int64_t{limit});
}

Result<RecordPage> SqliteStore::BrowseRecords(const model::EntitySpec& entity,
                                              const RecordQuery& query) {
  if (query.limit <= 0 || query.offset < 0) {
    return Status::InvalidArgument("record page limit must be positive and offset not negative");
  }
  const BrowseSql sql = MakeBrowseSql(entity, query, [](int) { return std::string("?"); });
  const std::string pattern = ContainsPattern(query.search);
  // Binds the filter parameters shared by both statements; returns the next index.
  const auto bind_filters = [&](Stmt& stmt) {
    int p = 1;
    if (!query.company_id.empty()) stmt.Bind(p++, query.company_id);
    if (!query.search.empty()) {
      for (int i = 0; i < sql.search_columns; ++i) stmt.Bind(p++, pattern);
    }
    return p;
  };
  RecordPage page;
  {
    REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql.count, "counting records"));
    Stmt count(*db_, stmt, "counting records");
    bind_filters(count);
    REGLO_ASSIGN_OR_RETURN(total, ReadInt(count));
    page.total = total;
  }
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql.select, "browsing records"));
  Stmt select(*db_, stmt, "browsing records");
  const int p = bind_filters(select);
  select.Bind(p, int64_t{query.limit}).Bind(p + 1, query.offset);
  REGLO_ASSIGN_OR_RETURN(items, ReadRows<BrowsedRecord>(select, entity));
  page.items = std::move(items);
  return page;
}

Result<std::vector<RunTotals>> SqliteStore::ListRunTotals() {
  return SelectRows<RunTotals>(
      fmt::format("SELECT {} FROM integration_runs GROUP BY source_id, status "
                  "ORDER BY source_id, status",
                  kRunTotalsColumns),
      "summing runs");
}

}  // namespace reglo::storage::sqlite
