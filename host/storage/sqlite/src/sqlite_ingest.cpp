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

namespace {

constexpr std::string_view kAgentKeyColumns =
    "id, prefix, key_hash, secret_protected, company_id, source_system, allowed_cidrs, last4, "
    "status, created_at, last_used_at, revoked_at, rate_per_second, rate_burst";

AgentKeyRow ReadAgentKey(const Stmt& query) {
  AgentKeyRow key;
  key.id = query.Int(0);
  key.prefix = query.String(1);
  key.key_hash = query.String(2);
  key.secret_protected = query.String(3);
  key.company_id = query.String(4);
  key.source_system = query.String(5);
  key.allowed_cidrs = query.String(6);
  key.last4 = query.String(7);
  key.status = query.String(8);
  key.created_at = query.String(9);
  key.last_used_at = query.OptString(10);
  key.revoked_at = query.OptString(11);
  if (!query.IsNull(12)) key.rate_per_second = query.Double(12);
  if (!query.IsNull(13)) key.rate_burst = query.Int(13);
  return key;
}

}  // namespace

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
  if (active >= max_active) {
    return Status::AlreadyExists(fmt::format(
        "company '{}', source '{}' already has {} active agent keys (the most allowed); revoke "
        "one first",
        key.company_id, key.source_system, active));
  }
  REGLO_ASSIGN_OR_RETURN(
      insert, Prepare("INSERT INTO integration_agent_keys (prefix, key_hash, secret_protected, "
                      "company_id, source_system, allowed_cidrs, last4, status, created_at, "
                      "rate_per_second, rate_burst) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                      "creating an agent key"));
  {
    Stmt stmt(*db_, insert, "creating an agent key");
    stmt.Bind(1, key.prefix)
        .Bind(2, key.key_hash)
        .Bind(3, key.secret_protected)
        .Bind(4, key.company_id)
        .Bind(5, key.source_system)
        .Bind(6, key.allowed_cidrs)
        .Bind(7, key.last4)
        .Bind(8, key.created_at);
    key.rate_per_second ? stmt.BindDouble(9, *key.rate_per_second) : stmt.BindNull(9);
    key.rate_burst ? stmt.Bind(10, *key.rate_burst) : stmt.BindNull(10);
    REGLO_RETURN_IF_ERROR(stmt.Run());
  }
  const int64_t id = db_->LastInsertRowId();
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::optional<AgentKeyRow>> SqliteStore::FindAgentKey(const std::string& prefix) {
  REGLO_ASSIGN_OR_RETURN(
      stmt, Prepare(fmt::format("SELECT {} FROM integration_agent_keys WHERE prefix = ?",
                                kAgentKeyColumns),
                    "reading an agent key"));
  Stmt query(*db_, stmt, "reading an agent key");
  query.Bind(1, prefix);
  REGLO_ASSIGN_OR_RETURN(row, query.Step());
  if (!row) return std::optional<AgentKeyRow>();
  return std::optional<AgentKeyRow>(ReadAgentKey(query));
}

Result<std::vector<AgentKeyRow>> SqliteStore::ListAgentKeys() {
  REGLO_ASSIGN_OR_RETURN(
      stmt,
      Prepare(fmt::format("SELECT {} FROM integration_agent_keys ORDER BY id", kAgentKeyColumns),
              "listing agent keys"));
  Stmt query(*db_, stmt, "listing agent keys");
  std::vector<AgentKeyRow> keys;
  for (;;) {
    REGLO_ASSIGN_OR_RETURN(row, query.Step());
    if (!row) break;
    keys.push_back(ReadAgentKey(query));
  }
  return keys;
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
  REGLO_ASSIGN_OR_RETURN(stmt, Prepare("SELECT body_hash, response, created_at FROM "
                                       "integration_ingest_requests WHERE key_id = ? AND "
                                       "request_id = ?",
                                       "reading an ingest request"));
  Stmt query(*db_, stmt, "reading an ingest request");
  query.Bind(1, key_id).Bind(2, request_id);
  REGLO_ASSIGN_OR_RETURN(found, query.Step());
  if (!found) return std::optional<IngestRequestRow>();
  IngestRequestRow row;
  row.key_id = key_id;
  row.request_id = request_id;
  row.body_hash = query.String(0);
  row.response = query.String(1);
  row.created_at = query.String(2);
  return std::optional<IngestRequestRow>(std::move(row));
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
  REGLO_RETURN_IF_ERROR(ApplyCheckpoint(batch, commit.result));
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
