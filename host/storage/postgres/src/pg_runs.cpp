// PostgresStore: sources, runs and their logs, cursors and leases (SyncStore).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "pg_session.h"
#include "postgres_store_impl.h"
#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/run_sql.h"

namespace reglo::storage::postgres {

Status PostgresStore::UpsertSource(const SourceRow& source) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string now = Now();
  return conn_
      ->Query(
          "INSERT INTO integration_sources (id, company_id, source_system, connector, config, "
          "enabled, status, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6::int8, $7, $8, $8) ON CONFLICT (id) DO UPDATE SET "
          "company_id = excluded.company_id, source_system = excluded.source_system, "
          "connector = excluded.connector, config = excluded.config, "
          "enabled = excluded.enabled, status = excluded.status, "
          "updated_at = excluded.updated_at",
          Params()
              .Text(source.id)
              .Text(source.company_id)
              .Text(source.source_system)
              .Text(source.connector)
              .Text(source.config_json)
              .Int(source.enabled ? 1 : 0)
              .Text(source.status)
              .Text(now),
          "saving a source")
      .status();
}

Result<std::vector<SourceRow>> PostgresStore::ListSources() {
  return SelectRows<SourceRow>(
      fmt::format("SELECT {} FROM integration_sources ORDER BY id", kSourceColumns), Params(),
      "listing sources");
}

Status PostgresStore::UpsertSources(const std::vector<SourceRow>& sources) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving sources"));
  for (const SourceRow& source : sources) {
    REGLO_RETURN_IF_ERROR(UpsertSource(source).WithContext("source " + source.id));
  }
  return tx.Commit();
}

Status PostgresStore::SetSourceStatus(const std::string& source_id, const std::string& status) {
  REGLO_RETURN_IF_ERROR(Ready());
  {
    // Every pull sets its source's status, mostly to the one it has: a read, not a row version
    // and its WAL record, for the idle pulls of a hub of many sources.
    REGLO_ASSIGN_OR_RETURN(current,
                           conn_->Query("SELECT status FROM integration_sources "
                                        "WHERE id = $1",
                                        Params().Text(source_id), "setting a source status"));
    if (current.size() == 0) {
      return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
    }
    if (current.OptString(0, 0) == status) return Status::Ok();
  }
  REGLO_ASSIGN_OR_RETURN(
      rows,
      conn_->Query("UPDATE integration_sources SET status = $1, updated_at = $2 "
                   "WHERE id = $3",
                   Params().Text(status).Text(Now()).Text(source_id), "setting a source status"));
  if (rows.Affected() == 0) {
    return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
  }
  return Status::Ok();
}

Result<int64_t> PostgresStore::BeginRun(const std::string& source_id,
                                        const std::string& started_at) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query(
                "INSERT INTO integration_runs (source_id, started_at, status) "
                "VALUES ($1, $2, $3) RETURNING id",
                Params().Text(source_id).Text(started_at).Text(RunStatusName(RunStatus::kRunning)),
                "starting a run"));
  if (rows.size() != 1) return Status::Internal("postgres: starting a run returned no id");
  return rows.Int(0, 0);
}

Status PostgresStore::FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                                const std::string& error_category,
                                const std::string& error_message) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("finishing a run"));
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("UPDATE integration_runs SET status = $1, finished_at = $2, "
                                      "error_category = $3, error_message = $4 WHERE id = $5",
                                      Params()
                                          .Text(RunStatusName(status))
                                          .Text(finished_at)
                                          .Text(error_category)
                                          .Text(error_message)
                                          .Int(run_id),
                                      "finishing a run"));
  if (rows.Affected() == 0) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  if (status == RunStatus::kSucceeded) {
    // Runs of one source are sequential (its lease), so no other writer folds the same rows.
    const std::string_view what = "folding an idle run";
    REGLO_ASSIGN_OR_RETURN(previous, conn_->Query(kFoldableRunSql, Params().Int(run_id), what));
    if (previous.size() == 1) {
      const int64_t previous_id = previous.Int(0, 0);
      REGLO_RETURN_IF_ERROR(
          conn_->Query(kFoldRunSql, Params().Int(run_id).Int(previous_id), what).status());
      for (const std::string& sql : kDeleteFoldedRunSql) {
        REGLO_RETURN_IF_ERROR(conn_->Query(sql, Params().Int(previous_id), what).status());
      }
    }
  }
  return tx.Commit();
}

Result<IdlePullResult> PostgresStore::RecordIdlePull(const IdlePull& pull) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string_view what = "recording an idle pull";
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin(what));
  PgSession session(*conn_, what);
  REGLO_ASSIGN_OR_RETURN(result, RecordIdlePullIn(session, pull));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return result;
}

Result<int64_t> PostgresStore::CloseAbandonedRuns(const std::string& source_id,
                                                  const std::string& finished_at,
                                                  const std::string& reason) {
  REGLO_RETURN_IF_ERROR(Ready());
  return PgSession(*conn_, "closing abandoned runs")
      .Execute(kCloseAbandonedRunsSql, {source_id, finished_at, reason});
}

Status PostgresStore::AppendRunLog(int64_t run_id, const RunLogLine& line) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query(
          "INSERT INTO integration_run_logs (run_id, at, level, message) "
          "VALUES ($1, $2, $3, $4)",
          Params().Int(run_id).Text(line.at).Text(LogLevelName(line.level)).Text(line.message),
          "appending a run log line")
      .status();
}

Result<RunInfo> PostgresStore::GetRun(int64_t run_id) {
  REGLO_ASSIGN_OR_RETURN(
      run,
      SelectRow<RunInfo>(fmt::format("SELECT {} FROM integration_runs WHERE id = $1", kRunColumns),
                         Params().Int(run_id), "reading a run"));
  if (!run) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return std::move(*run);
}

Result<std::vector<RunInfo>> PostgresStore::ListRuns(const std::string& source_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  // Newest first; an empty source id lists the runs of every source.
  const bool all = source_id.empty();
  Params params;
  if (!all) params.Text(source_id);
  params.Int(limit);
  return SelectRows<RunInfo>(
      fmt::format("SELECT {} FROM integration_runs {} ORDER BY id DESC "
                  "LIMIT ${}",
                  kRunColumns, all ? "" : "WHERE source_id = $1", all ? 1 : 2),
      params, "listing runs");
}

Result<std::vector<RunLogLine>> PostgresStore::GetRunLog(int64_t run_id) {
  return SelectRows<RunLogLine>(
      fmt::format("SELECT {} FROM integration_run_logs WHERE run_id = $1 ORDER BY id",
                  kRunLogColumns),
      Params().Int(run_id), "reading a run log");
}

Result<std::optional<std::string>> PostgresStore::GetCursor(const std::string& source_id,
                                                            const std::string& stream) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("SELECT cursor FROM integration_cursors "
                                      "WHERE source_id = $1 AND stream = $2",
                                      Params().Text(source_id).Text(stream), "reading a cursor"));
  if (rows.size() == 0) return std::optional<std::string>();
  return rows.OptString(0, 0);
}

Result<std::map<std::string, std::string>> PostgresStore::GetCursors(const std::string& source_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  PgSession session(*conn_, "reading the cursors");
  return GetCursorsIn(session, source_id);
}

// ---------------------------------------------------------------------------------------------
// Leases

Result<bool> PostgresStore::TryAcquireLease(const std::string& source_id, const std::string& owner,
                                            std::chrono::milliseconds ttl, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(expires_at, LeaseExpiry(now, ttl));
  REGLO_RETURN_IF_ERROR(Ready());
  // One statement, so atomic: inserted when free, updated when expired or held by `owner`, left
  // alone while someone else holds it. Of two instances racing for a free lease, the second waits
  // for the first's row and then finds it held.
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query("INSERT INTO integration_leases AS l (source_id, owner, expires_at) "
                         "VALUES ($1, $2, $3) ON CONFLICT (source_id) DO UPDATE SET "
                         "owner = excluded.owner, expires_at = excluded.expires_at "
                         "WHERE l.owner = excluded.owner OR l.expires_at <= $4",
                         Params().Text(source_id).Text(owner).Text(expires_at).Text(now),
                         "taking a lease"));
  return rows.Affected() == 1;
}

Status PostgresStore::ReleaseLease(const std::string& source_id, const std::string& owner) {
  REGLO_RETURN_IF_ERROR(Ready());
  return PgSession(*conn_, "releasing a lease")
      .Execute(kReleaseLeaseSql, {source_id, owner})
      .status();
}

// ---------------------------------------------------------------------------------------------
// Agent keys and ingest requests

Status PostgresStore::SetRunPluginVersion(int64_t run_id, const std::string& version) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query("UPDATE integration_runs SET plugin_version = $1 WHERE id = $2",
              Params().Text(version).Int(run_id), "recording a run's plugin version")
      .status();
}

// ---------------------------------------------------------------------------------------------
// Ingestion API (issue #6)

}  // namespace reglo::storage::postgres
