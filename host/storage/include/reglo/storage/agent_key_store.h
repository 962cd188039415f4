// AgentKeyStore and IngestStore: the storage roles of the ingestion API (DESIGN §8, issue #6):
// agent API keys (host/ingest AgentKeys, the CLI's keys commands) and the idempotent commit of a
// pushed batch (IngestService, CommitPush). The store keeps what it is given: host/ingest derives
// the hash and seals the secret. Implemented by every backend; callers hold a reference to a store
// they or a factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

class AgentKeyStore {
 public:
  virtual ~AgentKeyStore() = default;

  // Inserts `key` as active and returns its id, unless its (company, source) scope already has
  // `max_active` active keys: then kAlreadyExists naming the scope, and nothing is
  // written. Atomic: two racing creations cannot both pass the limit. A prefix already in use is
  // an error (prefixes are random: host/ingest draws them).
  virtual Result<int64_t> CreateAgentKey(const AgentKeyRow& key, int max_active) = 0;
  // The key with `prefix`, whatever its status; nullopt when there is none.
  virtual Result<std::optional<AgentKeyRow>> FindAgentKey(const std::string& prefix) = 0;
  // Every key, oldest first.
  virtual Result<std::vector<AgentKeyRow>> ListAgentKeys() = 0;
  // Revokes the active key with `prefix` at `now`; false when there is no such active key.
  virtual Result<bool> RevokeAgentKey(const std::string& prefix, const std::string& now) = 0;
  // Sets last_used_at of key `id` to `now`.
  virtual Status TouchAgentKey(int64_t id, const std::string& now) = 0;
  // Sets (or with nullopt clears) the per-key rate limit of the key with `prefix`; false when
  // there is no such key.
  virtual Result<bool> SetAgentKeyRateLimit(const std::string& prefix,
                                            std::optional<double> rate_per_second,
                                            std::optional<int64_t> burst) = 0;
};

class IngestStore {
 public:
  virtual ~IngestStore() = default;

  // Ingest idempotency: stores `row` and returns true, or returns false and changes nothing when
  // (key_id, request_id) is already stored.
  virtual Result<bool> RecordIngestRequest(const IngestRequestRow& row) = 0;
  virtual Result<std::optional<IngestRequestRow>> FindIngestRequest(
      int64_t key_id, const std::string& request_id) = 0;
  // Deletes requests created before `before` (a FormatUtc timestamp); returns how many.
  virtual Result<int64_t> PurgeIngestRequests(const std::string& before) = 0;
  // Commits an agent's pushed batch and its idempotency row in ONE transaction: when
  // (request.key_id, request.request_id) is already stored, returns it as replayed and writes
  // nothing; otherwise commits `batch` exactly like CommitCheckpoint, then stores `request` with
  // the response `respond` makes from the checkpoint's result. Two racing requests with the same
  // id yield one commit and one replay.
  virtual Result<IngestCommit> CommitIngest(
      const CheckpointBatch& batch, const IngestRequestRow& request,
      const std::function<std::string(const CheckpointResult&)>& respond) = 0;
};

}  // namespace reglo::storage
