// GuardedStore: the Store a supervised pull writes through. It forwards every call to the pull's
// own Store and, for the watchdog, (1) counts progress (a cursor read, a committed batch, a log
// line), (2) remembers the run id the pipeline created, and (3) fences the pull once the watchdog
// has given up on it: later commits are refused and its end-of-run writes (run end, source status)
// are dropped, so a pull that wakes up after it was declared failed can never overwrite that
// verdict or commit behind the engine's back.
// Thread-safety: like any Store, one thread at a time (the pull's thread and its commit worker
// take turns); RunControl is shared with the watchdog through atomics.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "reglo/storage/store.h"

namespace reglo::engine {

// What the engine and one running pull share.
struct RunControl {
  std::string source_id;
  std::string connector;
  std::string plugin_version;
  std::atomic<bool> stop{false};      // passed to SyncRunner::RunOnce
  std::atomic<bool> fenced{false};    // the watchdog has ended this run
  std::atomic<uint64_t> progress{0};  // bumped at every sign of life
  std::atomic<int64_t> run_id{0};     // 0 until the pipeline has begun its run
  std::atomic<bool> leased{false};    // the run holds its source's lease: the engine renews it
};

class GuardedStore final : public storage::Store {
 public:
  GuardedStore(storage::Store& inner, std::shared_ptr<RunControl> control)
      : inner_(inner), control_(std::move(control)) {}

  Status Migrate() override { return inner_.Migrate(); }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  int LatestSchemaVersion() const override { return inner_.LatestSchemaVersion(); }
  Status UpsertSource(const storage::SourceRow& source) override {
    return inner_.UpsertSource(source);
  }
  Result<std::vector<storage::SourceRow>> ListSources() override { return inner_.ListSources(); }
  Status SetSourceStatus(const std::string& source_id, const std::string& status) override {
    if (control_->fenced) return Status::Ok();  // the engine decides the status of a fenced run
    return inner_.SetSourceStatus(source_id, status);
  }
  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override {
    if (control_->fenced) return Status::Cancelled("the run was cancelled by the watchdog");
    Result<int64_t> run = inner_.BeginRun(source_id, started_at);
    if (run.ok()) control_->run_id = *run;
    Bump();
    return run;
  }
  Status FinishRun(int64_t run_id, storage::RunStatus status, const std::string& finished_at,
                   const std::string& error_category, const std::string& error_message) override {
    if (control_->fenced) return Status::Ok();  // already finished by the watchdog
    return inner_.FinishRun(run_id, status, finished_at, error_category, error_message);
  }
  Status AppendRunLog(int64_t run_id, const storage::RunLogLine& line) override {
    Bump();
    return inner_.AppendRunLog(run_id, line);
  }
  Result<storage::RunInfo> GetRun(int64_t run_id) override { return inner_.GetRun(run_id); }
  Result<std::vector<storage::RunInfo>> ListRuns(const std::string& source_id, int limit) override {
    return inner_.ListRuns(source_id, limit);
  }
  Result<std::vector<storage::RunLogLine>> GetRunLog(int64_t run_id) override {
    return inner_.GetRunLog(run_id);
  }
  Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                               const std::string& stream) override {
    Bump();
    return inner_.GetCursor(source_id, stream);
  }
  Result<storage::CheckpointResult> CommitCheckpoint(
      const storage::CheckpointBatch& batch) override {
    if (control_->fenced) return Status::Cancelled("the run was cancelled by the watchdog");
    Bump();
    Result<storage::CheckpointResult> result = inner_.CommitCheckpoint(batch);
    Bump();  // a long commit is progress too: count its end as well as its start
    return result;
  }
  Result<std::optional<storage::StoredRecord>> GetRecord(const model::EntitySpec& entity,
                                                         const model::RecordKey& key) override {
    return inner_.GetRecord(entity, key);
  }
  Result<int64_t> CountRecords(const model::EntitySpec& entity) override {
    return inner_.CountRecords(entity);
  }
  Result<std::vector<storage::StoredEvent>> ReadEvents(int64_t after_sequence, int limit) override {
    return inner_.ReadEvents(after_sequence, limit);
  }
  Result<int64_t> CountEvents() override { return inner_.CountEvents(); }
  Result<std::vector<storage::DeadLetter>> ReadDeadLetters(int64_t after_id, int limit) override {
    return inner_.ReadDeadLetters(after_id, limit);
  }
  Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                               std::chrono::milliseconds ttl, const std::string& now) override {
    return inner_.TryAcquireLease(source_id, owner, ttl, now);
  }
  Status ReleaseLease(const std::string& source_id, const std::string& owner) override {
    return inner_.ReleaseLease(source_id, owner);
  }

 private:
  void Bump() { control_->progress.fetch_add(1, std::memory_order_relaxed); }
  storage::Store& inner_;
  std::shared_ptr<RunControl> control_;
};

}  // namespace reglo::engine
