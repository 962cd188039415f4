// PostgresStore: agent keys and ingest requests (AgentKeyStore, IngestStore).
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

namespace {

// Appends a rate limit's two parameters (NULL when absent).
Params& RateParams(Params& params, std::optional<double> rate, std::optional<int64_t> burst) {
  rate ? params.Text(fmt::format("{}", *rate)) : params.Null();
  burst ? params.Int(*burst) : params.Null();
  return params;
}

}  // namespace

Result<int64_t> PostgresStore::CreateAgentKey(const AgentKeyRow& key, int max_active) {
  REGLO_RETURN_IF_ERROR(Ready());
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin("creating an agent key"));
  // Serialises creations, so that the count and the insert see no other creation in between.
  REGLO_RETURN_IF_ERROR(conn_
                            ->Query("SELECT pg_advisory_xact_lock($1)", Params().Int(kAgentKeyLock),
                                    "waiting for the agent key lock")
                            .status());
  REGLO_ASSIGN_OR_RETURN(count, conn_->Query("SELECT COUNT(*) FROM integration_agent_keys WHERE "
                                             "company_id = $1 AND source_system = $2 AND "
                                             "status = 'active'",
                                             Params().Text(key.company_id).Text(key.source_system),
                                             "counting agent keys"));
  const int64_t active = count.size() > 0 ? count.Int(0, 0) : 0;
  REGLO_RETURN_IF_ERROR(CheckAgentKeyLimit(key, active, max_active));
  REGLO_ASSIGN_OR_RETURN(
      inserted, conn_->Query("INSERT INTO integration_agent_keys (prefix, key_hash, "
                             "secret_protected, company_id, source_system, allowed_cidrs, "
                             "last4, status, created_at, rate_per_second, rate_burst) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9::float8, "
                             "$10::int8) RETURNING id",
                             RateParams(Params()
                                            .Text(key.prefix)
                                            .Text(key.key_hash)
                                            .Text(key.secret_protected)
                                            .Text(key.company_id)
                                            .Text(key.source_system)
                                            .Text(key.allowed_cidrs)
                                            .Text(key.last4)
                                            .Text(key.created_at),
                                        key.rate_per_second, key.rate_burst),
                             "creating an agent key"));
  const int64_t id = inserted.Int(0, 0);
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::optional<AgentKeyRow>> PostgresStore::FindAgentKey(const std::string& prefix) {
  return SelectRow<AgentKeyRow>(
      fmt::format("SELECT {} FROM integration_agent_keys WHERE prefix = $1", kAgentKeyColumns),
      Params().Text(prefix), "reading an agent key");
}

Result<std::vector<AgentKeyRow>> PostgresStore::ListAgentKeys() {
  return SelectRows<AgentKeyRow>(
      fmt::format("SELECT {} FROM integration_agent_keys ORDER BY id", kAgentKeyColumns), Params(),
      "listing agent keys");
}

Result<bool> PostgresStore::RevokeAgentKey(const std::string& prefix, const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query("UPDATE integration_agent_keys SET status = 'revoked', "
                                      "revoked_at = $1 WHERE prefix = $2 AND status = 'active'",
                                      Params().Text(now).Text(prefix), "revoking an agent key"));
  return rows.Affected() == 1;
}

Status PostgresStore::TouchAgentKey(int64_t id, const std::string& now) {
  REGLO_RETURN_IF_ERROR(Ready());
  return conn_
      ->Query("UPDATE integration_agent_keys SET last_used_at = $1 WHERE id = $2",
              Params().Text(now).Int(id), "marking an agent key used")
      .status();
}

Result<bool> PostgresStore::RecordIngestRequest(const IngestRequestRow& row) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("INSERT INTO integration_ingest_requests (key_id, "
                                            "request_id, body_hash, response, created_at) "
                                            "VALUES ($1, $2, $3, $4, $5) "
                                            "ON CONFLICT (key_id, request_id) DO NOTHING",
                                            Params()
                                                .Int(row.key_id)
                                                .Text(row.request_id)
                                                .Text(row.body_hash)
                                                .Text(row.response)
                                                .Text(row.created_at),
                                            "recording an ingest request"));
  return rows.Affected() == 1;
}

Result<std::optional<IngestRequestRow>> PostgresStore::FindIngestRequest(
    int64_t key_id, const std::string& request_id) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(
      rows, conn_->Query(fmt::format("SELECT {} FROM "
                                     "integration_ingest_requests WHERE key_id = $1 AND "
                                     "request_id = $2",
                                     kIngestRequestColumns),
                         Params().Int(key_id).Text(request_id), "reading an ingest request"));
  return ReadRow<IngestRequestRow>(RowsCursor(rows), key_id, request_id);
}

Result<int64_t> PostgresStore::PurgeIngestRequests(const std::string& before) {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("DELETE FROM integration_ingest_requests WHERE "
                                            "created_at < $1",
                                            Params().Text(before), "purging ingest requests"));
  return rows.Affected();
}

// ---------------------------------------------------------------------------------------------
// Event delivery (issue #7)

Result<IngestCommit> PostgresStore::CommitIngest(
    const CheckpointBatch& batch, const IngestRequestRow& request,
    const std::function<std::string(const CheckpointResult&)>& respond) {
  IngestCommit commit;
  IngestHook hook{&request, &respond, {}};
  REGLO_ASSIGN_OR_RETURN(done, CommitWithRetries(batch, commit.result, &hook));
  if (done == Attempt::kReplayed) {
    REGLO_ASSIGN_OR_RETURN(stored, FindIngestRequest(request.key_id, request.request_id));
    if (!stored) {
      // Purged in between: rare enough to let the caller try again.
      return Status::Retryable("the ingest request id was purged while it was replayed");
    }
    commit.replayed = true;
    commit.result = CheckpointResult{};
    commit.stored = std::move(*stored);
    return commit;
  }
  commit.stored = request;
  commit.stored.response = std::move(hook.response);
  return commit;
}

Result<bool> PostgresStore::SetAgentKeyRateLimit(const std::string& prefix,
                                                 std::optional<double> rate_per_second,
                                                 std::optional<int64_t> burst) {
  REGLO_RETURN_IF_ERROR(Ready());
  Params params;
  RateParams(params, rate_per_second, burst).Text(prefix);
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query("UPDATE integration_agent_keys SET rate_per_second = "
                                            "$1::float8, rate_burst = $2::int8 WHERE prefix = $3",
                                            params, "setting an agent key's rate limit"));
  return rows.Affected() == 1;
}

}  // namespace reglo::storage::postgres
