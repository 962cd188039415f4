// PostgresStore: settings, API-managed sources, cursors, run history, browsing, totals
// (AdminStore).
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

Result<std::optional<std::string>> PostgresStore::GetSetting(const std::string& key) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("SELECT value FROM integration_settings WHERE key = $1",
                                            Params().Text(key), "reading a setting"));
  if (rows.size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(rows.String(0, 0));
}

Status PostgresStore::PutSetting(const std::string& key, const std::string& value,
                                 const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_settings (key, value, updated_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
          "updated_at = excluded.updated_at",
          Params().Text(key).Text(value).Text(now), "saving a setting")
      .status();
}

Result<std::vector<ApiSourceRow>> PostgresStore::ListApiSources() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT id, company_id, source_system, connector, config, "
                                      "enabled, interval_ms, created_at, updated_at "
                                      "FROM integration_api_sources ORDER BY id",
                                      "listing API-created sources"));
  std::vector<ApiSourceRow> sources;
  for (int r = 0; r < rows.size(); ++r) {
    ApiSourceRow& source = sources.emplace_back();
    source.source.id = rows.String(r, 0);
    source.source.company_id = rows.String(r, 1);
    source.source.source_system = rows.String(r, 2);
    source.source.connector = rows.String(r, 3);
    source.source.config_json = rows.String(r, 4);
    source.source.enabled = rows.Int(r, 5) != 0;
    source.interval_ms = rows.Int(r, 6);
    source.created_at = rows.String(r, 7);
    source.updated_at = rows.String(r, 8);
  }
  return sources;
}

Status PostgresStore::PutApiSource(const ApiSourceRow& source) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_api_sources (id, company_id, source_system, connector, "
          "config, enabled, interval_ms, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6::int8, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET "
          "company_id = excluded.company_id, source_system = excluded.source_system, "
          "connector = excluded.connector, config = excluded.config, "
          "enabled = excluded.enabled, interval_ms = excluded.interval_ms, "
          "updated_at = excluded.updated_at",
          Params()
              .Text(source.source.id)
              .Text(source.source.company_id)
              .Text(source.source.source_system)
              .Text(source.source.connector)
              .Text(source.source.config_json)
              .Int(source.source.enabled ? 1 : 0)
              .Int(source.interval_ms)
              .Text(source.created_at)
              .Text(source.updated_at),
          "saving an API-created source")
      .status();
}

Result<bool> PostgresStore::DeleteApiSource(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("DELETE FROM integration_api_sources WHERE id = $1",
                                            Params().Text(id), "deleting an API-created source"));
  return rows.Affected() > 0;
}

Result<bool> PostgresStore::DeleteSource(const std::string& id) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("deleting a source"));
  bool existed = false;
  for (const char* sql : {"DELETE FROM integration_cursors WHERE source_id = $1",
                          "DELETE FROM integration_leases WHERE source_id = $1",
                          "DELETE FROM integration_sources WHERE id = $1"}) {
    REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(sql, Params().Text(id), "deleting a source"));
    existed = rows.Affected() > 0;  // the last statement's: the source row
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return existed;
}

Result<std::vector<CursorRow>> PostgresStore::ListCursors(const std::string& source_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT stream, cursor, updated_at FROM integration_cursors "
                                      "WHERE source_id = $1 ORDER BY stream",
                                      Params().Text(source_id), "listing cursors"));
  std::vector<CursorRow> cursors;
  for (int r = 0; r < rows.size(); ++r) {
    CursorRow& cursor = cursors.emplace_back();
    cursor.stream = rows.String(r, 0);
    cursor.cursor = rows.OptString(r, 1);
    cursor.updated_at = rows.String(r, 2);
  }
  return cursors;
}

Result<int64_t> PostgresStore::ResetCursors(const std::string& source_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("DELETE FROM integration_cursors WHERE source_id = $1",
                                            Params().Text(source_id), "resetting cursors"));
  return rows.Affected();
}

Result<std::vector<RunInfo>> PostgresStore::ListRunsBefore(const std::string& source_id,
                                                           int64_t before_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query(fmt::format("SELECT {} FROM integration_runs WHERE source_id = $1 "
                                     "AND id < $2 ORDER BY id DESC LIMIT $3",
                                     kRunColumns),
                         Params()
                             .Text(source_id)
                             .Int(before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
                             .Int(limit),
                         "listing runs"));
  return ReadRuns(rows);
}

Result<RecordPage> PostgresStore::BrowseRecords(const model::EntitySpec& entity,
                                                const RecordQuery& query) {
  if (query.limit <= 0 || query.offset < 0) {
    return Status::InvalidArgument("record page limit must be positive and offset not negative");
  }
  REGLO_RETURN_IF_ERROR(Ready());
  const BrowseSql sql = MakeBrowseSql(entity, query, [](int n) { return fmt::format("${}", n); });
  const std::string pattern = ContainsPattern(query.search);
  Params filters;
  Params select_params;
  for (Params* params : {&filters, &select_params}) {
    if (!query.company_id.empty()) params->Text(query.company_id);
    if (!query.search.empty()) {
      for (int i = 0; i < sql.search_columns; ++i) params->Text(pattern);
    }
  }
  select_params.Int(query.limit).Int(query.offset);
  RecordPage page;
  REGLO_ASSIGN_OR_RETURN(count, conn_->Query(sql.count, filters, "counting records"));
  page.total = count.size() == 1 ? count.Int(0, 0) : 0;
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(sql.select, select_params, "browsing records"));
  for (int r = 0; r < rows.size(); ++r) {
    BrowsedRecord& record = page.items.emplace_back();
    record.key.company_id = rows.String(r, 0);
    record.key.source_system = rows.String(r, 1);
    record.key.external_id = rows.String(r, 2);
    record.version = rows.Int(r, 3);
    record.updated_at = rows.String(r, 4);
    for (size_t i = 0; i < entity.fields.size(); ++i) {
      record.values.push_back(rows.OptString(r, 5 + static_cast<int>(i)));
    }
  }
  return page;
}

Result<std::vector<RunTotals>> PostgresStore::ListRunTotals() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT source_id, status, COUNT(*), SUM(seen), "
                                      "SUM(created), SUM(updated), SUM(unchanged), SUM(stale), "
                                      "SUM(warnings), SUM(rejected), MAX(finished_at) "
                                      "FROM integration_runs GROUP BY source_id, status "
                                      "ORDER BY source_id, status",
                                      "summing runs"));
  std::vector<RunTotals> totals;
  for (int r = 0; r < rows.size(); ++r) {
    RunTotals& total = totals.emplace_back();
    total.source_id = rows.String(r, 0);
    total.status = ParseRunStatus(rows.Text(r, 1));
    total.runs = rows.Int(r, 2);
    total.counters.seen = rows.Int(r, 3);
    total.counters.created = rows.Int(r, 4);
    total.counters.updated = rows.Int(r, 5);
    total.counters.unchanged = rows.Int(r, 6);
    total.counters.stale = rows.Int(r, 7);
    total.counters.warnings = rows.Int(r, 8);
    total.counters.rejected = rows.Int(r, 9);
    total.last_finished_at = rows.OptString(r, 10);
  }
  return totals;
}

}  // namespace reglo::storage::postgres
