// ForwardingStore: a SyncStore that passes every call to another SyncStore, and
// ForwardingControlStore, the same for a ControlStore (its audit calls too). Decorators (the
// engine's GuardedStore, tests' fault injectors) derive from one and override only what they
// change, so a method added to SyncStore is forwarded everywhere by adding it here once.
// Does not own `inner`; thread-safety is that of `inner` (one thread at a time).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "reglo/storage/control_store.h"

namespace reglo::storage {

// Role: SyncStore or ControlStore (what `inner` is and what the decorator is).
template <typename Role>
class ForwardingStoreOf : public Role {
 public:
  explicit ForwardingStoreOf(Role& inner) : inner_(inner) {}

  Status UpsertSource(const SourceRow& source) override { return inner_.UpsertSource(source); }
  Status UpsertSources(const std::vector<SourceRow>& sources) override {
    return inner_.UpsertSources(sources);
  }
  Result<std::vector<SourceRow>> ListSources() override { return inner_.ListSources(); }
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override {
    return inner_.SetSourceStatus(source_id, status);
  }

  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override {
    return inner_.BeginRun(source_id, started_at);
  }
  Status FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                   const std::string& error_category, const std::string& error_message) override {
    return inner_.FinishRun(run_id, status, finished_at, error_category, error_message);
  }
  Result<IdlePullResult> RecordIdlePull(const IdlePull& pull) override {
    return inner_.RecordIdlePull(pull);
  }
  Status AppendRunLog(int64_t run_id, const RunLogLine& line) override {
    return inner_.AppendRunLog(run_id, line);
  }
  Status SetRunPluginVersion(int64_t run_id, const std::string& version) override {
    return inner_.SetRunPluginVersion(run_id, version);
  }
  Result<int64_t> CloseAbandonedRuns(const std::string& source_id, const std::string& finished_at,
                                     const std::string& reason) override {
    return inner_.CloseAbandonedRuns(source_id, finished_at, reason);
  }
  Result<RunInfo> GetRun(int64_t run_id) override { return inner_.GetRun(run_id); }
  Result<std::vector<RunInfo>> ListRuns(const std::string& source_id, int limit) override {
    return inner_.ListRuns(source_id, limit);
  }
  Result<std::vector<RunLogLine>> GetRunLog(int64_t run_id) override {
    return inner_.GetRunLog(run_id);
  }

  Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                               const std::string& stream) override {
    return inner_.GetCursor(source_id, stream);
  }
  Result<std::map<std::string, std::string>> GetCursors(const std::string& source_id) override {
    return inner_.GetCursors(source_id);
  }
  Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) override {
    return inner_.CommitCheckpoint(batch);
  }
  Status ScanSourceHashes(const model::EntitySpec& entity, const std::string& company_id,
                          const std::string& source_system,
                          const SyncStore::SourceHashRow& row) override {
    return inner_.ScanSourceHashes(entity, company_id, source_system, row);
  }

  Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                               std::chrono::milliseconds ttl, const std::string& now) override {
    return inner_.TryAcquireLease(source_id, owner, ttl, now);
  }
  Status ReleaseLease(const std::string& source_id, const std::string& owner) override {
    return inner_.ReleaseLease(source_id, owner);
  }

 protected:
  Role& inner_;
};

class ForwardingStore : public ForwardingStoreOf<SyncStore> {
 public:
  using ForwardingStoreOf::ForwardingStoreOf;
};

class ForwardingControlStore : public ForwardingStoreOf<ControlStore> {
 public:
  using ForwardingStoreOf::ForwardingStoreOf;

  Status Audited(AuditRow row, const AuditedChange& change) override {
    return inner_.Audited(std::move(row), change);
  }
  Status AppendAudit(const AuditRow& row) override { return inner_.AppendAudit(row); }
  Result<std::vector<AuditRow>> ListAudit(const AuditQuery& query) override {
    return inner_.ListAudit(query);
  }
  Result<int64_t> CreateAdminToken(const AdminTokenRow& token) override {
    return inner_.CreateAdminToken(token);
  }
  Result<std::vector<AdminTokenRow>> ListAdminTokens() override { return inner_.ListAdminTokens(); }
  Result<std::optional<AdminTokenRow>> FindAdminToken(const std::string& token_sha256) override {
    return inner_.FindAdminToken(token_sha256);
  }
  Result<bool> RevokeAdminToken(const std::string& name, const std::string& now) override {
    return inner_.RevokeAdminToken(name, now);
  }
};

}  // namespace reglo::storage
