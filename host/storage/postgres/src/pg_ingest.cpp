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

constexpr std::string_view kAgentKeyColumns =
    "id, prefix, key_hash, secret_protected, company_id, source_system, allowed_cidrs, last4, "
    "status, created_at, last_used_at, revoked_at, rate_per_second, rate_burst";

AgentKeyRow ReadAgentKey(const Rows& rows, int row) {
  AgentKeyRow key;
  key.id = rows.Int(row, 0);
  key.prefix = rows.String(row, 1);
  key.key_hash = rows.String(row, 2);
  key.secret_protected = rows.String(row, 3);
  key.company_id = rows.String(row, 4);
  key.source_system = rows.String(row, 5);
  key.allowed_cidrs = rows.String(row, 6);
  key.last4 = rows.String(row, 7);
  key.status = rows.String(row, 8);
  key.created_at = rows.String(row, 9);
  key.last_used_at = rows.OptString(row, 10);
  key.revoked_at = rows.OptString(row, 11);
  if (!rows.IsNull(row, 12))
    key.rate_per_second = std::strtod(rows.String(row, 12).c_str(), nullptr);
  if (!rows.IsNull(row, 13)) key.rate_burst = rows.Int(row, 13);
  return key;
}

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
  if (active >= max_active) {
    return Status::AlreadyExists(fmt::format(
        "company '{}', source '{}' already has {} active agent keys (the most allowed); revoke "
        "one first",
        key.company_id, key.source_system, active));
  }
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
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows,
                         conn_->Query(fmt::format("SELECT {} FROM integration_agent_keys WHERE "
                                                  "prefix = $1",
                                                  kAgentKeyColumns),
                                      Params().Text(prefix), "reading an agent key"));
  if (rows.size() == 0) return std::optional<AgentKeyRow>();
  return std::optional<AgentKeyRow>(ReadAgentKey(rows, 0));
}

Result<std::vector<AgentKeyRow>> PostgresStore::ListAgentKeys() {
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_ASSIGN_OR_RETURN(rows, conn_->Query(fmt::format("SELECT {} FROM integration_agent_keys "
                                                        "ORDER BY id",
                                                        kAgentKeyColumns),
                                            Params(), "listing agent keys"));
  std::vector<AgentKeyRow> keys;
  keys.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) keys.push_back(ReadAgentKey(rows, row));
  return keys;
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
      rows, conn_->Query("SELECT body_hash, response, created_at FROM "
                         "integration_ingest_requests WHERE key_id = $1 AND "
                         "request_id = $2",
                         Params().Int(key_id).Text(request_id), "reading an ingest request"));
  if (rows.size() == 0) return std::optional<IngestRequestRow>();
  IngestRequestRow row;
  row.key_id = key_id;
  row.request_id = request_id;
  row.body_hash = rows.String(0, 0);
  row.response = rows.String(0, 1);
  row.created_at = rows.String(0, 2);
  return std::optional<IngestRequestRow>(std::move(row));
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
  REGLO_RETURN_IF_ERROR(CheckCheckpointRecords(batch));
  REGLO_RETURN_IF_ERROR(Ready());
  REGLO_RETURN_IF_ERROR(PlanBatch(batch));
  IngestCommit commit;
  IngestHook hook{&request, &respond, {}};
  for (int attempt = 1;; ++attempt) {
    commit.result = CheckpointResult{};
    Result<Attempt> done = TryCommit(batch, attempt == 1, commit.result, &hook);
    if (done.ok() && *done == Attempt::kDone) {
      commit.stored = request;
      commit.stored.response = std::move(hook.response);
      return commit;
    }
    if (done.ok() && *done == Attempt::kReplayed) {
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
    const bool conflict = done.ok() || (done.status().code() == StatusCode::kRetryable &&
                                        conn_->LastFailureIsConflict());
    if (!conflict) return done.status();
    if (attempt == kMaxCommitAttempts) {
      return Status::Retryable(fmt::format(
          "postgres: the checkpoint kept conflicting with other writers ({} attempts)", attempt));
    }
  }
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
