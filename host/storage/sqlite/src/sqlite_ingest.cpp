// SqliteStore: agent keys and ingest requests (AgentKeyStore, IngestStore).
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

Result<int64_t> SqliteStore::CreateAgentKey(const AgentKeyRow& key, int max_active) {
  // BEGIN IMMEDIATE takes the write lock first: the count and the insert see no other writer.
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("creating an agent key"));
  REGLO_ASSIGN_OR_RETURN(count,
                         Prepare("SELECT COUNT(*) FROM integration_agent_keys WHERE "
                                 "company_id = ? AND source_system = ? AND status = 'active'",
                                 "counting agent keys"));
  int64_t active = 0;
  {
    Stmt query(*db_, count, "counting agent keys");
    query.Bind(1, key.company_id).Bind(2, key.source_system);
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (row) active = query.Int(0);
  }
  REGLO_RETURN_IF_ERROR(CheckAgentKeyLimit(key, active, max_active));
  REGLO_ASSIGN_OR_RETURN(
      insert, Prepare("INSERT INTO integration_agent_keys (prefix, key_hash, secret_protected, "
                      "company_id, source_system, allowed_cidrs, last4, status, created_at, "
                      "rate_per_second, rate_burst) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                      "creating an agent key"));
  {
    Stmt stmt(*db_, insert, "creating an agent key");
    stmt.BindAll(key.prefix, key.key_hash, key.secret_protected, key.company_id, key.source_system,
                 key.allowed_cidrs, key.last4, key.created_at);
    key.rate_per_second ? stmt.BindDouble(9, *key.rate_per_second) : stmt.BindNull(9);
    key.rate_burst ? stmt.Bind(10, *key.rate_burst) : stmt.BindNull(10);
    REGLO_RETURN_IF_ERROR(stmt.Run());
  }
  const int64_t id = db_->LastInsertRowId();
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::optional<AgentKeyRow>> SqliteStore::FindAgentKey(const std::string& prefix) {
  return SelectRow<AgentKeyRow>(
      fmt::format("SELECT {} FROM integration_agent_keys WHERE prefix = ?", kAgentKeyColumns),
      "reading an agent key", prefix);
}

Result<std::vector<AgentKeyRow>> SqliteStore::ListAgentKeys() {
  return SelectRows<AgentKeyRow>(
      fmt::format("SELECT {} FROM integration_agent_keys ORDER BY id", kAgentKeyColumns),
      "listing agent keys");
}

Result<bool> SqliteStore::RevokeAgentKey(const std::string& prefix, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_agent_keys SET status = 'revoked', "
                                       "revoked_at = ? WHERE prefix = ? AND status = 'active'",
                                       "revoking an agent key"));
  REGLO_RETURN_IF_ERROR(
      Stmt(*db_, stmt, "revoking an agent key").Bind(1, now).Bind(2, prefix).Run());
  return db_->Changes() == 1;
}

Status SqliteStore::TouchAgentKey(int64_t id, const std::string& now) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_agent_keys SET last_used_at = ? "
                                       "WHERE id = ?",
                                       "marking an agent key used"));
  return Stmt(*db_, stmt, "marking an agent key used").Bind(1, now).Bind(2, id).Run();
}

Result<bool> SqliteStore::RecordIngestRequest(const IngestRequestRow& row) {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("INSERT INTO integration_ingest_requests (key_id, request_id, "
                                 "body_hash, response, created_at) VALUES (?, ?, ?, ?, ?) "
                                 "ON CONFLICT (key_id, request_id) DO NOTHING",
                                 "recording an ingest request"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "recording an ingest request")
                            .Bind(1, row.key_id)
                            .Bind(2, row.request_id)
                            .Bind(3, row.body_hash)
                            .Bind(4, row.response)
                            .Bind(5, row.created_at)
                            .Run());
  return db_->Changes() == 1;
}

Result<std::optional<IngestRequestRow>> SqliteStore::FindIngestRequest(
    int64_t key_id, const std::string& request_id) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare(fmt::format("SELECT {} FROM integration_ingest_requests "
                                                   "WHERE key_id = ? AND request_id = ?",
                                                   kIngestRequestColumns),
                                       "reading an ingest request"));
  Stmt query(*db_, stmt, "reading an ingest request");
  query.Bind(1, key_id).Bind(2, request_id);
  return ReadRow<IngestRequestRow>(query, key_id, request_id);
}

Result<int64_t> SqliteStore::PurgeIngestRequests(const std::string& before) {
  REGLO_ASSIGN_OR_RETURN(stmt,
                         Prepare("DELETE FROM integration_ingest_requests WHERE created_at < ?",
                                 "purging ingest requests"));
  REGLO_RETURN_IF_ERROR(Stmt(*db_, stmt, "purging ingest requests").Bind(1, before).Run());
  return db_->Changes();
}

// ---------------------------------------------------------------------------------------------
// Event delivery (issue #7)

Result<IngestCommit> SqliteStore::CommitIngest(
    const CheckpointBatch& batch, const IngestRequestRow& request,
    const std::function<std::string(const CheckpointResult&)>& respond) {
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(PrepareEventKinds(batch));
  IngestCommit commit;
  // BEGIN IMMEDIATE: the lookup, the checkpoint and the request row see no other writer, so two
  // requests racing with one id commit once.
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin("committing an ingest request"));
  REGLO_ASSIGN_OR_RETURN(existing, FindIngestRequest(request.key_id, request.request_id));
  if (existing) {
    commit.replayed = true;
    commit.stored = std::move(*existing);
    return commit;  // rolls back: nothing was written
  }
  std::vector<size_t> skipped;  // erased records the source's rule keeps out (issue #18)
  REGLO_ASSIGN_OR_RETURN(filtered, ErasureRule(batch, skipped));
  REGLO_RETURN_IF_ERROR(ApplyCheckpoint(filtered ? *filtered : batch, commit.result));
  RestoreSkipped(commit.result, skipped);
  commit.stored = request;
  commit.stored.response = respond(commit.result);
  REGLO_ASSIGN_OR_RETURN(recorded, RecordIngestRequest(commit.stored));
  if (!recorded) return Status::Internal("ingest request recorded twice in one transaction");
  REGLO_RETURN_IF_ERROR(tx.Commit());
  NoteCommitted();
  return commit;
}

Result<bool> SqliteStore::SetAgentKeyRateLimit(const std::string& prefix,
                                               std::optional<double> rate_per_second,
                                               std::optional<int64_t> burst) {
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("UPDATE integration_agent_keys SET rate_per_second = ?, "
                                       "rate_burst = ? WHERE prefix = ?",
                                       "setting an agent key's rate limit"));
  Stmt update(*db_, stmt, "setting an agent key's rate limit");
  rate_per_second ? update.BindDouble(1, *rate_per_second) : update.BindNull(1);
  burst ? update.Bind(2, *burst) : update.BindNull(2);
  update.Bind(3, prefix);
  REGLO_RETURN_IF_ERROR(update.Run());
  return db_->Changes() == 1;
}

}  // namespace reglo::storage::sqlite
