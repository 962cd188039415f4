// SyncStore: the storage role a pull and a push write through (the pipeline's SyncRunner, its
// CommitWorker, CommitPush) and the engine schedules with: sources, runs and their logs, cursors,
// the checkpoint commit, leases. Implemented by every backend; decorators (the engine's
// GuardedStore) wrap it through ForwardingStore. Callers hold a reference to a store they or a
// factory own. Thread-safety: one thread at a time per store object.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/storage/rows.h"

namespace reglo::storage {

class SyncStore {
 public:
  virtual ~SyncStore() = default;

  virtual Status UpsertSource(const SourceRow& source) = 0;
  // Saves many sources (a hub's configured ones, at start) all or none: one transaction where the
  // backend has them, so 100,000 sources are one commit rather than 100,000.
  virtual Status UpsertSources(const std::vector<SourceRow>& sources) {
    for (const SourceRow& source : sources) {
      REGLO_RETURN_IF_ERROR(UpsertSource(source).WithContext("source " + source.id));
    }
    return Status::Ok();
  }
  virtual Result<std::vector<SourceRow>> ListSources() = 0;
  virtual Status SetSourceStatus(const std::string& source_id, const std::string& status) = 0;

  virtual Result<int64_t> BeginRun(const std::string& source_id, const std::string& started_at) = 0;
  // Closes a run: status, end time and error; the counters were added by the checkpoints.
  // An idle run folds into the row of the source's previous run when that one is idle too and
  // alike (IsIdleRun in row_codec.h: succeeded, nothing created, updated, stale, rejected or
  // warned, no event, no warn/error log line; the same plugin version and records seen per run):
  // the row of `run_id` then stands for both (RunInfo::runs, first start, summed counters, its
  // own log lines) and the previous row and its log lines are deleted, so a source that keeps
  // finding nothing new costs no new rows. Done in the same transaction as the close.
  virtual Status FinishRun(int64_t run_id, RunStatus status, const std::string& finished_at,
                           const std::string& error_category, const std::string& error_message) = 0;
  // Records a pull that found nothing at all (no record, warning, rejection, warn/error log line
  // or new cursor) without a run of its own: it folds into the source's latest run when that one
  // is an idle run with nothing seen and the same plugin version (one more run, a later end),
  // else it is a new succeeded run; with IdlePull::release_lease_of, the lease goes too. One
  // short transaction and no log line, where BeginRun + FinishRun + ReleaseLease are an insert, a
  // fold, a delete and three commits: what the idle pulls of many sources cost. With
  // IdlePull::close_abandoned_as and source_status, CloseAbandonedRuns and SetSourceStatus are
  // part of it too.
  virtual Result<IdlePullResult> RecordIdlePull(const IdlePull& pull) = 0;
  virtual Status AppendRunLog(int64_t run_id, const RunLogLine& line) = 0;
  // Records which plugin version run `run_id` uses (RunInfo::plugin_version).
  virtual Status SetRunPluginVersion(int64_t run_id, const std::string& version) = 0;
  // Marks every run of `source_id` still "running" as failed (category "cancelled", `reason`):
  // runs a crashed or killed process left open. Call it only while holding the source's lease
  // (or being the only instance), when no run of the source can really be in progress. Returns
  // how many runs were closed.
  virtual Result<int64_t> CloseAbandonedRuns(const std::string& source_id,
                                             const std::string& finished_at,
                                             const std::string& reason) = 0;
  virtual Result<RunInfo> GetRun(int64_t run_id) = 0;
  virtual Result<std::vector<RunInfo>> ListRuns(const std::string& source_id, int limit) = 0;
  virtual Result<std::vector<RunLogLine>> GetRunLog(int64_t run_id) = 0;

  virtual Result<std::optional<std::string>> GetCursor(const std::string& source_id,
                                                       const std::string& stream) = 0;
  // Every stream's cursor of the source, by stream, in one read: a pull reads them once, not a
  // read transaction per stream.
  virtual Result<std::map<std::string, std::string>> GetCursors(const std::string& source_id) = 0;
  // Decides created / updated / unchanged / stale for every record against what is stored, writes
  // the records, their events, dead letters, log lines, run counters and the cursor, atomically.
  virtual Result<CheckpointResult> CommitCheckpoint(const CheckpointBatch& batch) = 0;
  // Hands `row` the external id and source hash (CanonicalRecord::source_hash) of every record
  // of `entity`, company and source system stored with one, in no particular order; rows stored
  // without one are left out. Read before a pull, so it can skip mapping unchanged source rows.
  using SourceHashRow = std::function<void(std::string_view external_id, int64_t source_hash)>;
  virtual Status ScanSourceHashes(const model::EntitySpec& entity, const std::string& company_id,
                                  const std::string& source_system, const SourceHashRow& row) = 0;

  // Leases (DESIGN §6): which one of several hub instances sharing a database syncs a source.
  // `now` is a FormatUtc timestamp of the caller's clock; a lease held until `expires_at` is free
  // from the instant now >= expires_at (text comparison: the format is fixed-width UTC).
  //
  // Takes the lease on `source_id` for `owner` until `now` + `ttl` and returns true when it is
  // free, expired, or already held by `owner` (a renewal); returns false and changes nothing while
  // another owner holds it. One atomic statement: of several instances racing for a free lease,
  // exactly one gets it. InvalidArgument when `now` is not a FormatUtc timestamp or ttl <= 0.
  // Every backend has leases; an error here means the lease state is unknown, and whoever asked
  // must act as if another instance held it (fail closed).
  virtual Result<bool> TryAcquireLease(const std::string& source_id, const std::string& owner,
                                       std::chrono::milliseconds ttl, const std::string& now) = 0;
  // Gives the lease up when `owner` holds it, so another instance may take it at once; does
  // nothing when `owner` does not hold it (expired and taken over, or never taken).
  virtual Status ReleaseLease(const std::string& source_id, const std::string& owner) = 0;
};

}  // namespace reglo::storage
