// GuardedStore: the SyncStore a supervised pull writes through. It forwards every call to the
// pull's own store (a ForwardingStore) and, for the watchdog, (1) counts progress (a cursor read, a
// committed batch, a log line), (2) remembers the run id the pipeline created, and (3) fences the
// pull once the watchdog has given up on it: later commits are refused and its end-of-run writes
// (run end, source status) are dropped, so a pull that wakes up after it was declared failed can
// never overwrite that verdict or commit behind the engine's back. (4) It stamps an idle pull
// with the plugin version and releases its lease with it; (5) it leaves the source's status to
// the engine but for an idle pull's "ok"; (6) while the lease is held, it closes the runs a crashed
// process left open, in the transaction of an idle pull or before a run begins. Thread-safety: like
// any store, one thread at a time (the pull's thread and its commit worker take turns); RunControl
// is shared with the watchdog through atomics.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "reglo/isolation/process_connector.h"
#include "reglo/storage/forwarding_store.h"

namespace reglo::engine {

// What the engine and one running pull share.
struct RunControl {
  std::string source_id;
  std::string connector;
  std::string plugin_version;
  std::atomic<bool> stop{false};    // passed to SyncRunner::RunOnce
  std::atomic<bool> fenced{false};  // the watchdog has ended this run
  // Bumped at every sign of progress: records, checkpoints, warnings, and the run's begin,
  // cursor reads, log lines and commits (GuardedStore); never by should_stop polls.
  std::atomic<uint64_t> progress{0};
  std::atomic<int64_t> run_id{0};   // 0 until the pipeline has begun its run
  std::atomic<bool> leased{false};  // the run holds its source's lease: the engine renews it
  // The source was removed while this pull ran: its end is not scheduled or counted.
  std::atomic<bool> source_removed{false};
  // Held while the lease is renewed or released, so a renewal never takes it again after the
  // pull released it at its end.
  std::mutex lease_mutex;
  bool isolated = false;  // the plugin runs in a runner child (isolation "process")

  // Isolated runs: the runner to end when the pull ignores its cancellation (under the mutex).
  void SetProcess(isolation::ProcessConnector* runner) {
    std::lock_guard<std::mutex> lock(process_mutex);
    process = runner;
    if (process != nullptr && !kill_reason.empty()) process->Kill(kill_reason);
  }
  void KillProcess(const std::string& reason) {
    std::lock_guard<std::mutex> lock(process_mutex);
    if (!kill_reason.empty()) return;
    kill_reason = reason;
    if (process != nullptr) process->Kill(reason);
  }

 private:
  std::mutex process_mutex;
  isolation::ProcessConnector* process = nullptr;
  std::string kill_reason;  // set once: the runner is killed as soon as there is one
};

class GuardedStore final : public storage::ForwardingStore {
 public:
  // `lease_owner`: the engine's instance id, under which the pull holds its source's lease.
  GuardedStore(storage::SyncStore& inner, std::shared_ptr<RunControl> control,
               std::string lease_owner)
      : ForwardingStore(inner),
        control_(std::move(control)),
        lease_owner_(std::move(lease_owner)) {}

  // Not written: the engine stores its own verdict on every pull it ends (retrying is a warning,
  // a paused source stays paused), so the pipeline's would be one more read or write per pull.
  // (An idle pull's "ok" goes with its RecordIdlePull, and the engine writes only another.)
  Status SetSourceStatus(const std::string&, const std::string&) override {
    return Status::Cancelled("the engine stores the source's status");
  }
  Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) override {
    if (control_->fenced) return Status::Cancelled("the run was cancelled by the watchdog");
    if (control_->leased) {
      // With the lease held no other run of this source can be in progress: a run still marked
      // running was left by a process that crashed or was killed.
      Result<int64_t> closed =
          ForwardingStore::CloseAbandonedRuns(source_id, started_at, kAbandonedRunReason);
      LogAbandoned(closed.ok() ? *closed : 0);
    }
    Result<int64_t> run = ForwardingStore::BeginRun(source_id, started_at);
    if (run.ok()) {
      control_->run_id = *run;
      // Shown with the run (admin API); a failure here must not fail the pull.
      (void)ForwardingStore::SetRunPluginVersion(*run, control_->plugin_version);
    }
    Bump();
    return run;
  }
  Result<storage::IdlePullResult> RecordIdlePull(const storage::IdlePull& pull) override {
    // Fenced: the watchdog has recorded the pull as failed.
    if (control_->fenced) return Status::Cancelled("the run was cancelled by the watchdog");
    storage::IdlePull stamped = pull;
    stamped.plugin_version = control_->plugin_version;
    // The lease goes in the same transaction; under lease_mutex, as the engine's own release,
    // so no renewal takes it again afterwards.
    std::lock_guard<std::mutex> lease_lock(control_->lease_mutex);
    if (control_->leased) {
      stamped.release_lease_of = lease_owner_;
      stamped.close_abandoned_as = kAbandonedRunReason;  // as BeginRun does
    }
    Result<storage::IdlePullResult> recorded = ForwardingStore::RecordIdlePull(stamped);
    if (recorded.ok()) {
      control_->run_id = recorded->run_id;
      if (!stamped.release_lease_of.empty()) control_->leased = false;
      LogAbandoned(recorded->abandoned_closed);
    }
    Bump();
    return recorded;
  }
  Status FinishRun(int64_t run_id, storage::RunStatus status, const std::string& finished_at,
                   const std::string& error_category, const std::string& error_message) override {
    if (control_->fenced) return Status::Ok();  // already finished by the watchdog
    return ForwardingStore::FinishRun(run_id, status, finished_at, error_category, error_message);
  }
  Status AppendRunLog(int64_t run_id, const storage::RunLogLine& line) override {
    Bump();
    return ForwardingStore::AppendRunLog(run_id, line);
  }
  Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                               const std::string& stream) override {
    Bump();
    return ForwardingStore::GetCursor(source_id, stream);
  }
  Result<std::map<std::string, std::string>> GetCursors(const std::string& source_id) override {
    Bump();
    return ForwardingStore::GetCursors(source_id);
  }
  Result<storage::CheckpointResult> CommitCheckpoint(
      const storage::CheckpointBatch& batch) override {
    if (control_->fenced) return Status::Cancelled("the run was cancelled by the watchdog");
    Bump();
    Result<storage::CheckpointResult> result = ForwardingStore::CommitCheckpoint(batch);
    Bump();  // a long commit is progress too: count its end as well as its start
    return result;
  }

 private:
  static constexpr const char* kAbandonedRunReason =
      "abandoned: the hub process running it stopped before it finished";
  void Bump() { control_->progress.fetch_add(1, std::memory_order_relaxed); }
  void LogAbandoned(int64_t closed) {
    if (closed > 0) {
      spdlog::warn("source {}: closed {} run(s) left open by a stopped hub process",
                   control_->source_id, closed);
    }
  }
  std::shared_ptr<RunControl> control_;
  std::string lease_owner_;
};

}  // namespace reglo::engine
