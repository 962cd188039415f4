// ForwardingStore: a Store that passes every call to another Store. Decorators (the engine's
// GuardedStore, tests' fault injectors) derive from it and override only what they change, so a
// method added to Store is forwarded everywhere by adding it here once.
// Does not own `inner`; thread-safety is that of `inner` (one thread at a time).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "reglo/storage/store.h"

namespace reglo::storage {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  Status Migrate() override { return inner_.Migrate(); }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  int LatestSchemaVersion() const override { return inner_.LatestSchemaVersion(); }

  Status UpsertSource(const SourceRow& source) override { return inner_.UpsertSource(source); }
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
  Status AppendRunLog(int64_t run_id, const RunLogLine& line) override {
    return inner_.AppendRunLog(run_id, line);
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
  Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) override {
    return inner_.CommitCheckpoint(batch);
  }

  Result<std::optional<StoredRecord>> GetRecord(const model::EntitySpec& entity,
                                                const model::RecordKey& key) override {
    return inner_.GetRecord(entity, key);
  }
  Result<int64_t> CountRecords(const model::EntitySpec& entity) override {
    return inner_.CountRecords(entity);
  }
  Result<std::vector<StoredEvent>> ReadEvents(int64_t after_sequence, int limit) override {
    return inner_.ReadEvents(after_sequence, limit);
  }
  Result<int64_t> CountEvents() override { return inner_.CountEvents(); }
  Result<std::vector<DeadLetter>> ReadDeadLetters(int64_t after_id, int limit) override {
    return inner_.ReadDeadLetters(after_id, limit);
  }

  Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                               std::chrono::milliseconds ttl, const std::string& now) override {
    return inner_.TryAcquireLease(source_id, owner, ttl, now);
  }
  Status ReleaseLease(const std::string& source_id, const std::string& owner) override {
    return inner_.ReleaseLease(source_id, owner);
  }

  Result<int64_t> CreateAgentKey(const AgentKeyRow& key, int max_active) override {
    return inner_.CreateAgentKey(key, max_active);
  }
  Result<std::optional<AgentKeyRow>> FindAgentKey(const std::string& prefix) override {
    return inner_.FindAgentKey(prefix);
  }
  Result<std::vector<AgentKeyRow>> ListAgentKeys() override { return inner_.ListAgentKeys(); }
  Result<bool> RevokeAgentKey(const std::string& prefix, const std::string& now) override {
    return inner_.RevokeAgentKey(prefix, now);
  }
  Status TouchAgentKey(int64_t id, const std::string& now) override {
    return inner_.TouchAgentKey(id, now);
  }
  Result<bool> RecordIngestRequest(const IngestRequestRow& row) override {
    return inner_.RecordIngestRequest(row);
  }
  Result<std::optional<IngestRequestRow>> FindIngestRequest(
      int64_t key_id, const std::string& request_id) override {
    return inner_.FindIngestRequest(key_id, request_id);
  }
  Result<int64_t> PurgeIngestRequests(const std::string& before) override {
    return inner_.PurgeIngestRequests(before);
  }

  // Event delivery (issue #7)
  Status UpsertSubscription(const SubscriptionRow& row, bool set_enabled) override {
    return inner_.UpsertSubscription(row, set_enabled);
  }
  Result<std::vector<SubscriptionRow>> ListSubscriptions() override {
    return inner_.ListSubscriptions();
  }
  Result<std::optional<SubscriptionRow>> FindSubscription(const std::string& id) override {
    return inner_.FindSubscription(id);
  }
  Result<bool> SetSubscriptionEnabled(const std::string& id, bool enabled,
                                      const std::string& reason, const std::string& now) override {
    return inner_.SetSubscriptionEnabled(id, enabled, reason, now);
  }
  Result<bool> DeleteSubscription(const std::string& id) override {
    return inner_.DeleteSubscription(id);
  }
  Result<int64_t> GetRelayPosition(const std::string& subscription_id) override {
    return inner_.GetRelayPosition(subscription_id);
  }
  Status SaveRelayProgress(const std::string& subscription_id, std::optional<int64_t> position,
                           const std::vector<DeliveryRow>& deliveries) override {
    return inner_.SaveRelayProgress(subscription_id, position, deliveries);
  }
  Result<std::vector<DeliveryRow>> ListDeliveries(const DeliveryQuery& query) override {
    return inner_.ListDeliveries(query);
  }
  Result<std::vector<std::string>> PendingDeliveryKeys(
      const std::string& subscription_id) override {
    return inner_.PendingDeliveryKeys(subscription_id);
  }
  Result<int64_t> LatestEventSequence() override { return inner_.LatestEventSequence(); }
  // ---- Ingestion API (issue #6)
  Result<IngestCommit> CommitIngest(
      const CheckpointBatch& batch, const IngestRequestRow& request,
      const std::function<std::string(const CheckpointResult&)>& respond) override {
    return inner_.CommitIngest(batch, request, respond);
  }
  Result<bool> SetAgentKeyRateLimit(const std::string& prefix,
                                    std::optional<double> rate_per_second,
                                    std::optional<int64_t> burst) override {
    return inner_.SetAgentKeyRateLimit(prefix, rate_per_second, burst);
  }

 protected:
  Store& inner() { return inner_; }

  // ---- Admin API (issue #5) ----
  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    return inner_.GetSetting(key);
  }
  Status PutSetting(const std::string& key, const std::string& value,
                    const std::string& now) override {
    return inner_.PutSetting(key, value, now);
  }
  Result<std::vector<ApiSourceRow>> ListApiSources() override { return inner_.ListApiSources(); }
  Status PutApiSource(const ApiSourceRow& source) override { return inner_.PutApiSource(source); }
  Result<bool> DeleteApiSource(const std::string& id) override {
    return inner_.DeleteApiSource(id);
  }
  Result<bool> DeleteSource(const std::string& id) override { return inner_.DeleteSource(id); }
  Result<std::vector<CursorRow>> ListCursors(const std::string& source_id) override {
    return inner_.ListCursors(source_id);
  }
  Result<int64_t> ResetCursors(const std::string& source_id) override {
    return inner_.ResetCursors(source_id);
  }
  Result<std::vector<RunInfo>> ListRunsBefore(const std::string& source_id, int64_t before_id,
                                              int limit) override {
    return inner_.ListRunsBefore(source_id, before_id, limit);
  }
  Result<std::vector<StoredEvent>> ReadEventsFiltered(int64_t after_sequence, int limit,
                                                      const EventFilter& filter) override {
    return inner_.ReadEventsFiltered(after_sequence, limit, filter);
  }
  Result<RecordPage> BrowseRecords(const model::EntitySpec& entity,
                                   const RecordQuery& query) override {
    return inner_.BrowseRecords(entity, query);
  }
  Result<std::vector<RunTotals>> ListRunTotals() override { return inner_.ListRunTotals(); }
  Status SetRunPluginVersion(int64_t run_id, const std::string& version) override {
    return inner_.SetRunPluginVersion(run_id, version);
  }

 private:
  Store& inner_;
};

}  // namespace reglo::storage
