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
  return SelectRow<std::string>("SELECT value FROM integration_settings WHERE key = $1",
                                Params().Text(key), "reading a setting");
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
  return SelectRows<ApiSourceRow>(
      fmt::format("SELECT {} FROM integration_api_sources ORDER BY id", kApiSourceColumns),
      Params(), "listing API-created sources");
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
  return SelectRows<CursorRow>(
      fmt::format("SELECT {} FROM integration_cursors WHERE source_id = $1 ORDER BY stream",
                  kCursorColumns),
      Params().Text(source_id), "listing cursors");
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
  return SelectRows<RunInfo>(
      fmt::format("SELECT {} FROM integration_runs WHERE source_id = $1 "
                  "AND id < $2 ORDER BY id DESC LIMIT $3",
                  kRunColumns),
      Params()
          .Text(source_id)
          .Int(before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
          .Int(limit),
      "listing runs");
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
  REGLO_ASSIGN_OR_RETURN(total, QueryInt(sql.count, filters, "counting records"));
  page.total = total;
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(sql.select, select_params, "browsing records"));
  REGLO_ASSIGN_OR_RETURN(items, ReadRows<BrowsedRecord>(RowsCursor(rows), entity));
  page.items = std::move(items);
  return page;
}

Result<std::vector<RunTotals>> PostgresStore::ListRunTotals() {
  return SelectRows<RunTotals>(
      fmt::format("SELECT {} FROM integration_runs GROUP BY source_id, status "
                  "ORDER BY source_id, status",
                  kRunTotalsColumns),
      Params(), "summing runs");
}

}  // namespace reglo::storage::postgres
