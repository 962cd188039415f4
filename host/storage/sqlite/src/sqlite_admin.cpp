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
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare("SELECT value FROM integration_settings WHERE key = ?", "reading a setting"));
  Stmt query(*db_, stmt, "reading a setting");
  query.Bind(1, key);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(query.String(0));
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
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT id, company_id, source_system, connector, config, "
                                       "enabled, interval_ms, created_at, updated_at "
                                       "FROM integration_api_sources ORDER BY id",
                                       "listing API-created sources"));
  Stmt query(*db_, stmt, "listing API-created sources");
  std::vector<ApiSourceRow> sources;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    ApiSourceRow& source = sources.emplace_back();
    source.source.id = query.String(0);
    source.source.company_id = query.String(1);
    source.source.source_system = query.String(2);
    source.source.connector = query.String(3);
    source.source.config_json = query.String(4);
    source.source.enabled = query.Int(5) != 0;
    source.interval_ms = query.Int(6);
    source.created_at = query.String(7);
    source.updated_at = query.String(8);
  }
  return sources;
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
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT stream, cursor, updated_at FROM integration_cursors "
                                       "WHERE source_id = ? ORDER BY stream",
                                       "listing cursors"));
  Stmt query(*db_, stmt, "listing cursors");
  query.Bind(1, source_id);
  std::vector<CursorRow> cursors;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    CursorRow& cursor = cursors.emplace_back();
    cursor.stream = query.String(0);
    cursor.cursor = query.OptString(1);
    cursor.updated_at = query.String(2);
  }
  return cursors;
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
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_runs WHERE source_id = ? AND id < ? "
                                "ORDER BY id DESC LIMIT ?",
                                kRunColumns),
                    "listing runs"));
  Stmt query(*db_, stmt, "listing runs");
  query.Bind(1, source_id)
      .Bind(2, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
      .Bind(3, int64_t{limit});
  return ReadRuns(query);
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
    REGLO_ASSIGN_OR_RETURN(row, count.Step());
    page.total = row ? count.Int(0) : 0;
  }
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(sql.select, "browsing records"));
  Stmt select(*db_, stmt, "browsing records");
  const int p = bind_filters(select);
  select.Bind(p, int64_t{query.limit}).Bind(p + 1, query.offset);
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, select.Step());
    if (!row) break;
    BrowsedRecord& record = page.items.emplace_back();
    record.key.company_id = select.String(0);
    record.key.source_system = select.String(1);
    record.key.external_id = select.String(2);
    record.version = select.Int(3);
    record.updated_at = select.String(4);
    for (size_t i = 0; i < entity.fields.size(); ++i) {
      record.values.push_back(select.OptString(5 + static_cast<int>(i)));
    }
  }
  return page;
}

Result<std::vector<RunTotals>> SqliteStore::ListRunTotals() {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("SELECT source_id, status, COUNT(*), SUM(seen), SUM(created), "
                                 "SUM(updated), SUM(unchanged), SUM(stale), SUM(warnings), "
                                 "SUM(rejected), MAX(finished_at) FROM integration_runs "
                                 "GROUP BY source_id, status ORDER BY source_id, status",
                                 "summing runs"));
  Stmt query(*db_, stmt, "summing runs");
  std::vector<RunTotals> totals;
  while (true) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    RunTotals& total = totals.emplace_back();
    total.source_id = query.String(0);
    total.status = ParseRunStatus(query.Text(1));
    total.runs = query.Int(2);
    total.counters.seen = query.Int(3);
    total.counters.created = query.Int(4);
    total.counters.updated = query.Int(5);
    total.counters.unchanged = query.Int(6);
    total.counters.stale = query.Int(7);
    total.counters.warnings = query.Int(8);
    total.counters.rejected = query.Int(9);
    total.last_finished_at = query.OptString(10);
  }
  return totals;
}

}  // namespace reglo::storage::sqlite
