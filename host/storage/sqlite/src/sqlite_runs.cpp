// SqliteStore: sources, runs and their logs, cursors and leases (SyncStore).
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
#include "reglo/storage/run_sql.h"
#include "sqlite_session.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {

Status SqliteStore::UpsertSource(const SourceRow& source) {
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare("INSERT INTO integration_sources (id, company_id, source_system, "
                    "connector, config, enabled, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "company_id = excluded.company_id, "
                    "source_system = excluded.source_system, "
                    "connector = excluded.connector, config = excluded.config, "
                    "enabled = excluded.enabled, status = excluded.status, "
                    "updated_at = excluded.updated_at",
                    "saving a source"));
  const std::string now = Now();
  return Stmt(*db_, stmt, "saving a source")
      .BindAll(source.id, source.company_id, source.source_system, source.connector,
               source.config_json, int64_t{source.enabled ? 1 : 0}, source.status, now, now)
      .Run();
}

Status SqliteStore::UpsertSources(const std::vector<SourceRow>& sources) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("saving sources"));
  for (const SourceRow& source : sources) {
    REGLO_RETURN_IF_ERROR(UpsertSource(source).WithContext("source " + source.id));
  }
  REGLO_RETURN_IF_ERROR(tx.Commit());
  // A start saves every configured source, 10,000 at a time, on the connection the engine then
  // keeps for its status writes, which rarely read: without this it would hold the pages it
  // wrote for as long as the hub runs (19 MB at 100,000 sources). They are in the file and WAL.
  sqlite3_db_release_memory(db_->handle());
  return Status::Ok();
}

Result<std::vector<SourceRow>> SqliteStore::ListSources() {
  return SelectRows<SourceRow>(
      fmt::format("SELECT {} FROM integration_sources ORDER BY id", kSourceColumns),
      "listing sources");
}

Status SqliteStore::SetSourceStatus(const std::string& source_id, const std::string& status) {
  {
    // Every pull sets its source's status, mostly to the one it has: a read, not a write
    // transaction (a WAL frame and its sync) for the idle pulls of a hub of many sources.
    REGLO_ASSIGN_OR_RETURN(read, Prepare("SELECT status FROM integration_sources WHERE id = ?",
                                         "setting a source status"));
    Stmt query(*db_, read, "setting a source status");
    query.Bind(1, source_id);
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
    if (query.OptString(0) == status) return Status::Ok();
  }
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_sources SET status = ?, updated_at = ? "
                                       "WHERE id = ?",
                                       "setting a source status"));
  const std::string now = Now();
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "setting a source status")
                            .Bind(1, status)
                            .Bind(2, now)
                            .Bind(3, source_id)
                            .Run());
  if (db_->Changes() == 0) {
    return Status::NotFound(fmt::format("source '{}' does not exist", source_id));
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::BeginRun(const std::string& source_id, const std::string& started_at) {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("INSERT INTO integration_runs (source_id, started_at, status) "
                                 "VALUES (?, ?, ?)",
                                 "starting a run"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "starting a run")
                            .Bind(1, source_id)
                            .Bind(2, started_at)
                            .Bind(3, RunStatusName(RunStatus::kRunning))
                            .Run());
  return db_->LastInsertRowId();
}

Status SqliteStore::FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                              const std::string& error_category, const std::string& error_message) {
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("finishing a run"));
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_runs SET status = ?, finished_at = ?, "
                                       "error_category = ?, error_message = ? WHERE id = ?",
                                       "finishing a run"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "finishing a run")
                            .Bind(1, RunStatusName(status))
                            .Bind(2, finished_at)
                            .Bind(3, error_category)
                            .Bind(4, error_message)
                            .Bind(5, run_id)
                            .Run());
  if (db_->Changes() == 0) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  if (status == RunStatus::kSucceeded) REGLO_RETURN_IF_ERROR(FoldIdleRun(run_id));
  return tx.Commit();
}

Status SqliteStore::FoldIdleRun(int64_t run_id) {
  const std::string_view what = "folding an idle run";
  REGLO_ASSIGN_OR_RETURN(previous, QueryInt(SqliteParameters(kFoldableRunSql), what, run_id));
  if (previous == 0) return Status::Ok();
  REGLO_ASSIGN_OR_RETURN(fold, Prepare(SqliteParameters(kFoldRunSql), what));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, fold, what).BindAll(run_id, previous).Run());
  for (const std::string& sql : kDeleteFoldedRunSql) {
    REGLO_ASSIGN_OR_RETURN(remove, Prepare(SqliteParameters(sql), what));
    REGLO_RETURN_IF_ERROR(Stmt(*db_, remove, what).BindAll(previous).Run());
  }
  return Status::Ok();
}

Result<IdlePullResult> SqliteStore::RecordIdlePull(const IdlePull& pull) {
  const std::string_view what = "recording an idle pull";
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin(what));
  SqliteSession session(*db_, what);
  REGLO_ASSIGN_OR_RETURN(result, RecordIdlePullIn(session, pull));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return result;
}

Result<int64_t> SqliteStore::CloseAbandonedRuns(const std::string& source_id,
                                                const std::string& finished_at,
                                                const std::string& reason) {
  // Almost always none: a read first, so a caller outside a transaction takes no write lock.
  REGLO_ASSIGN_OR_RETURN(
      open, QueryInt("SELECT EXISTS (SELECT 1 FROM integration_runs WHERE "
                     "source_id = ? AND status = ?)",
                     "closing abandoned runs", source_id, RunStatusName(RunStatus::kRunning)));
  if (open == 0) return int64_t{0};
  return SqliteSession(*db_, "closing abandoned runs")
      .Execute(kCloseAbandonedRunsSql, {source_id, finished_at, reason});
}

Status SqliteStore::AppendRunLog(int64_t run_id, const RunLogLine& line) {
  Stmt insert(*db_, checkpoint_.insert_log, "appending a run log line");
  return insert.Bind(1, run_id)
      .Bind(2, line.at)
      .Bind(3, LogLevelName(line.level))
      .Bind(4, line.message)
      .Run();
}

Result<RunInfo> SqliteStore::GetRun(int64_t run_id) {
  REGLO_ASSIGN_OR_RETURN(
      run,
      SelectRow<RunInfo>(fmt::format("SELECT {} FROM integration_runs WHERE id = ?", kRunColumns),
                         "reading a run", run_id));
  if (!run) return Status::NotFound(fmt::format("run {} does not exist", run_id));
  return std::move(*run);
}

Result<std::vector<RunInfo>> SqliteStore::ListRuns(const std::string& source_id, int limit) {
  if (limit <= 0) return Status::InvalidArgument("run list limit must be positive");
  // Newest first; an empty source id lists the runs of every source.
  const bool all = source_id.empty();
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_runs {} ORDER BY id DESC LIMIT ?",
                                kRunColumns, all ? "" : "WHERE source_id = ?"),
                    "listing runs"));
  Stmt query(*db_, stmt, "listing runs");
  int p = 1;
  if (!all) query.Bind(p++, source_id);
  query.Bind(p, int64_t{limit});
  return ReadRows<RunInfo>(query);
}

Result<std::vector<RunLogLine>> SqliteStore::GetRunLog(int64_t run_id) {
  return SelectRows<RunLogLine>(
      fmt::format("SELECT {} FROM integration_run_logs WHERE run_id = ? ORDER BY id",
                  kRunLogColumns),
      "reading a run log", run_id);
}

Result<std::optional<std::string>> SqliteStore::GetCursor(const std::string& source_id,
                                                          const std::string& stream) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT cursor FROM integration_cursors "
                                       "WHERE source_id = ? AND stream = ?",
                                       "reading a cursor"));
  Stmt query(*db_, stmt, "reading a cursor");
  query.Bind(1, source_id).Bind(2, stream);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  if (!row) return std::optional<std::string>();
  return query.OptString(0);
}

Result<std::map<std::string, std::string>> SqliteStore::GetCursors(const std::string& source_id) {
  SqliteSession session(*db_, "reading the cursors");
  return GetCursorsIn(session, source_id);
}

// ---------------------------------------------------------------------------------------------
// Leases

Result<bool> SqliteStore::TryAcquireLease(const std::string& source_id, const std::string& owner,
                                          std::chrono::milliseconds ttl, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(expires_at, LeaseExpiry(now, ttl));
  // One statement, so atomic: inserted when free, updated when expired or held by `owner`, left
  // alone (no change) while someone else holds it.
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("INSERT INTO integration_leases (source_id, owner, expires_at) "
                                 "VALUES (?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET "
                                 "owner = excluded.owner, expires_at = excluded.expires_at "
                                 "WHERE integration_leases.owner = excluded.owner "
                                 "OR integration_leases.expires_at <= ?",
                                 "taking a lease"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "taking a lease")
                            .Bind(1, source_id)
                            .Bind(2, owner)
                            .Bind(3, expires_at)
                            .Bind(4, now)
                            .Run());
  return db_->Changes() == 1;
}

Status SqliteStore::CheckLeaseHeld(const CheckpointBatch& batch) {
  if (batch.lease_owner.empty()) return Status::Ok();
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT owner FROM integration_leases WHERE source_id = ?",
                                       "checking a lease"));
  Stmt query(*db_, stmt, "checking a lease");
  query.Bind(1, batch.source_id);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  return CheckLeaseHolder(batch, row ? std::optional<std::string>(query.String(0)) : std::nullopt);
}

Status SqliteStore::ReleaseLease(const std::string& source_id, const std::string& owner) {
  return SqliteSession(*db_, "releasing a lease")
      .Execute(kReleaseLeaseSql, {source_id, owner})
      .status();
}

// ---------------------------------------------------------------------------------------------
// Agent keys and ingest requests

Status SqliteStore::SetRunPluginVersion(int64_t run_id, const std::string& version) {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("UPDATE integration_runs SET plugin_version = ? WHERE id = ?",
                                 "recording a run's plugin version"));
  return Stmt(*db_, stmt, "recording a run's plugin version")
      .Bind(1, version)
      .Bind(2, run_id)
      .Run();
}

// ---------------------------------------------------------------------------------------------
// Ingestion API (issue #6)

}  // namespace reglo::storage::sqlite
