// The retention SQL both backends share (row_codec.h): folding idle runs and pruning batches;
// and recording an idle pull (run_sql.h).
#include <fmt/format.h>

#include "reglo/core/clock.h"
#include "reglo/storage/housekeeping_store.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/run_sql.h"

namespace reglo::storage {
namespace {

// Whether the run row aliased `r` is idle (see kFoldableRunSql).
std::string IdleRun(std::string_view r) {
  return fmt::format(
      "{0}.status = '{1}' AND COALESCE({0}.error_category, '') = '' AND {0}.created = 0 AND "
      "{0}.updated = 0 AND {0}.stale = 0 AND {0}.warnings = 0 AND {0}.rejected = 0 AND "
      "{0}.events = 0 AND NOT EXISTS (SELECT 1 FROM integration_run_logs l WHERE l.run_id = "
      "{0}.id AND l.level IN ('{2}', '{3}'))",
      r, RunStatusName(RunStatus::kSucceeded), LogLevelName(LogLevel::kWarn),
      LogLevelName(LogLevel::kError));
}

std::string PreviousRunColumn(std::string_view column) {
  return fmt::format("(SELECT {} FROM integration_runs WHERE id = $2)", column);
}

// An idle pull: the source's latest run when the pull folds into it (idle, nothing seen, the
// same plugin version: $1 = source, $2 = version or ''), no row otherwise.
const std::string kIdlePullRunSql = fmt::format(
    "SELECT r.id FROM integration_runs r WHERE r.id = (SELECT MAX(id) FROM integration_runs "
    "WHERE source_id = $1) AND {} AND r.seen = 0 AND COALESCE(r.plugin_version, '') = $2",
    IdleRun("r"));

const std::string kInsertIdlePullSql = fmt::format(
    "INSERT INTO integration_runs (source_id, started_at, finished_at, status, plugin_version) "
    "VALUES ($1, $2, $3, '{}', NULLIF($4, '')) RETURNING id",
    RunStatusName(RunStatus::kSucceeded));

// The statements of one pruning batch ($1 = before, $2 = limit), run in order in one
// transaction; the last one's affected rows are what was pruned.
const std::vector<std::string>& PruneSql(PruneTarget target) {
  // Oldest first, by an order the tables' keys or indexes follow, so a batch reads little more
  // than the rows it deletes.
  static const std::string old_runs = fmt::format(
      "SELECT id FROM integration_runs WHERE status <> '{}' AND finished_at < $1 "
      "ORDER BY finished_at LIMIT $2",
      RunStatusName(RunStatus::kRunning));
  static const std::vector<std::string> runs = {
      fmt::format("DELETE FROM integration_run_logs WHERE run_id IN ({})", old_runs),
      fmt::format("DELETE FROM integration_runs WHERE id IN ({})", old_runs),
  };
  static const std::vector<std::string> run_logs = {
      "DELETE FROM integration_run_logs WHERE id IN (SELECT id FROM integration_run_logs "
      "WHERE at < $1 ORDER BY id LIMIT $2)"};
  // The lowest position of the enabled subscriptions (one without a position yet: 0); with no
  // enabled subscription, nothing holds events back but their age.
  static const std::vector<std::string> events = {
      "DELETE FROM integration_events WHERE sequence IN (SELECT e.sequence FROM "
      "integration_events e WHERE e.sequence <= (SELECT COALESCE(MIN(COALESCE(r.position, 0)), "
      "9223372036854775807) FROM integration_subscriptions s LEFT JOIN integration_relay_positions "
      "r ON r.subscription_id = s.id WHERE s.enabled = 1) AND e.time < $1 AND NOT EXISTS "
      "(SELECT 1 FROM integration_deliveries d WHERE d.sequence = e.sequence AND "
      "d.status <> 'delivered') ORDER BY e.sequence LIMIT $2)"};
  static const std::vector<std::string> deliveries = {
      "DELETE FROM integration_deliveries WHERE (subscription_id, sequence) IN (SELECT "
      "subscription_id, sequence FROM integration_deliveries WHERE status IN ('delivered', "
      "'dead') AND updated_at < $1 ORDER BY updated_at LIMIT $2)"};
  static const std::vector<std::string> dead_letters = {
      "DELETE FROM integration_dead_letters WHERE id IN (SELECT id FROM integration_dead_letters "
      "WHERE created_at < $1 ORDER BY id LIMIT $2)"};
  static const std::vector<std::string> audit = {
      "DELETE FROM integration_audit WHERE id IN (SELECT id FROM integration_audit "
      "WHERE at < $1 ORDER BY id LIMIT $2)"};
  switch (target) {
    case PruneTarget::kRuns: return runs;
    case PruneTarget::kRunLogs: return run_logs;
    case PruneTarget::kEvents: return events;
    case PruneTarget::kDeliveries: return deliveries;
    case PruneTarget::kDeadLetters: return dead_letters;
    case PruneTarget::kAudit: return audit;
  }
  return runs;
}

}  // namespace

std::string_view PruneTargetName(PruneTarget target) {
  switch (target) {
    case PruneTarget::kRuns: return "runs";
    case PruneTarget::kRunLogs: return "run_logs";
    case PruneTarget::kEvents: return "events";
    case PruneTarget::kDeliveries: return "deliveries";
    case PruneTarget::kDeadLetters: return "dead_letters";
    case PruneTarget::kAudit: return "audit";
  }
  return "unknown";
}

int64_t StoreStats::RowsOf(PruneTarget target) const {
  for (const auto& [name, rows] : table_rows) {
    if (name == PruneTargetName(target)) return rows;
  }
  return -1;
}

// p is the source's run just before c (ids grow with time in both backends).
const std::string kFoldableRunSql = fmt::format(
    "SELECT p.id FROM integration_runs c JOIN integration_runs p ON p.source_id = c.source_id "
    "AND p.id = (SELECT MAX(id) FROM integration_runs WHERE source_id = c.source_id AND id < c.id) "
    "WHERE c.id = $1 AND {} AND {} AND p.seen = p.run_count * c.seen AND "
    "COALESCE(p.plugin_version, '') = COALESCE(c.plugin_version, '')",
    IdleRun("c"), IdleRun("p"));

const std::string kFoldRunSql = fmt::format(
    "UPDATE integration_runs SET run_count = run_count + {}, started_at = {}, seen = seen + {}, "
    "unchanged = unchanged + {} WHERE id = $1",
    PreviousRunColumn("run_count"), PreviousRunColumn("started_at"), PreviousRunColumn("seen"),
    PreviousRunColumn("unchanged"));

const std::vector<std::string> kDeleteFoldedRunSql = {
    "DELETE FROM integration_run_logs WHERE run_id = $1",
    "DELETE FROM integration_runs WHERE id = $1",
};

const std::string kCloseAbandonedRunsSql = fmt::format(
    "UPDATE integration_runs SET status = '{}', finished_at = $2, error_category = '{}', "
    "error_message = $3 WHERE source_id = $1 AND status = '{}'",
    RunStatusName(RunStatus::kFailed), StatusCodeName(StatusCode::kCancelled),
    RunStatusName(RunStatus::kRunning));

const std::string kReleaseLeaseSql =
    "DELETE FROM integration_leases WHERE source_id = $1 AND owner = $2";

Result<std::map<std::string, std::string>> GetCursorsIn(SqlSession& sql,
                                                        const std::string& source_id) {
  std::map<std::string, std::string> cursors;
  REGLO_RETURN_IF_ERROR(sql.Query(
      "SELECT stream, cursor FROM integration_cursors WHERE source_id = $1 AND cursor IS NOT NULL",
      {source_id}, [&cursors](RowCursor& rows) -> Status {
        for (;;) {
          REGLO_ASSIGN_OR_RETURN(row, rows.Step());
          if (!row) return Status::Ok();
          cursors.emplace(rows.String(0), rows.String(1));
        }
      }));
  return cursors;
}

Result<IdlePullResult> RecordIdlePullIn(SqlSession& sql, const IdlePull& pull) {
  IdlePullResult result;
  if (!pull.close_abandoned_as.empty()) {
    REGLO_ASSIGN_OR_RETURN(
        closed, sql.Execute(kCloseAbandonedRunsSql,
                            {pull.source_id, pull.finished_at, pull.close_abandoned_as}));
    result.abandoned_closed = closed;
  }
  // Runs of one source are sequential (its lease), so no other writer folds into the same row.
  auto read_id = [&result](RowCursor& rows) -> Status {
    REGLO_ASSIGN_OR_RETURN(id, ReadInt(rows));
    result.run_id = id;
    return Status::Ok();
  };
  REGLO_RETURN_IF_ERROR(sql.Query(kIdlePullRunSql, {pull.source_id, pull.plugin_version}, read_id));
  if (result.run_id != 0) {
    REGLO_RETURN_IF_ERROR(sql.Execute("UPDATE integration_runs SET run_count = run_count + 1, "
                                      "finished_at = $2 WHERE id = $1",
                                      {result.run_id, pull.finished_at})
                              .status());
  } else {
    REGLO_RETURN_IF_ERROR(sql.Query(
        kInsertIdlePullSql,
        {pull.source_id, pull.started_at, pull.finished_at, pull.plugin_version}, read_id));
    if (result.run_id == 0) return Status::Internal("recording an idle pull returned no run id");
  }
  if (!pull.source_status.empty()) {
    REGLO_RETURN_IF_ERROR(sql.Execute("UPDATE integration_sources SET status = $2, updated_at = $3 "
                                      "WHERE id = $1 AND status <> $2",
                                      {pull.source_id, pull.source_status, pull.finished_at})
                              .status());
  }
  if (!pull.release_lease_of.empty()) {
    REGLO_RETURN_IF_ERROR(
        sql.Execute(kReleaseLeaseSql, {pull.source_id, pull.release_lease_of}).status());
  }
  return result;
}

Result<int64_t> PruneIn(SqlSession& sql, PruneTarget target, const std::string& before, int limit) {
  if (limit <= 0) return Status::InvalidArgument("prune batch size must be positive");
  int64_t before_millis = 0;
  if (!ParseUtcMillis(before, before_millis)) {
    return Status::InvalidArgument(
        "the prune cutoff is not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.mmmZ)");
  }
  // Events keep their time as an integer (EncodeStoredTime); the other tables as FormatUtc text.
  const SqlSession::Param cutoff =
      target == PruneTarget::kEvents ? SqlSession::Param(before_millis) : SqlSession::Param(before);
  int64_t pruned = 0;
  for (const std::string& statement : PruneSql(target)) {
    REGLO_ASSIGN_OR_RETURN(rows, sql.Execute(statement, {cutoff, int64_t{limit}}));
    pruned = rows;
  }
  return pruned;
}

std::string SqliteParameters(std::string_view sql) {
  std::string out(sql);
  for (char& c : out) {
    if (c == '$') c = '?';
  }
  return out;
}

}  // namespace reglo::storage
