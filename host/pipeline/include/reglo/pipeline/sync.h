// The canonical pipeline for one pull: map -> validate (accept + warning) -> dedup within the batch
// -> commit per checkpoint through the Store (records, events, counters and cursor in one
// transaction). SyncRunner runs a whole source once; Preview maps and validates without committing.
// Thread-safety: a SyncRunner serves one sync at a time; the stop flag may be set from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/model/record.h"
#include "reglo/plugin_host/plugin.h"
#include "reglo/storage/sync_store.h"

namespace reglo::pipeline {

struct SyncOptions {
  // Records buffered without a checkpoint are committed (cursor unchanged) past this many, so a
  // connector that checkpoints rarely still streams in bounded memory.
  size_t max_batch_records = 5000;
  // Run log lines kept per run; further warnings are counted and summarised in one line.
  size_t max_log_lines_per_run = 1000;
  // When set, every commit is fenced by the source's lease held by this owner (see
  // CheckpointBatch::lease_owner): a pull whose lease was taken over commits nothing more.
  std::string lease_owner;
  // Source rows whose hash matches the stored record's (CanonicalRecord::source_hash) count as
  // unchanged without being mapped or validated: an unchanged row costs a hash and a lookup.
  // The stream's stored hashes are read before its pull, 16 bytes per record in memory; past
  // max_source_hashes records they are not read, and every row is mapped.
  bool skip_unchanged_source_rows = true;
  size_t max_source_hashes = 8'000'000;
};

struct SyncReport {
  int64_t run_id = 0;
  storage::RunStatus status = storage::RunStatus::kRunning;
  storage::RunCounters counters;
  int64_t events = 0;
  std::map<std::string, storage::RunCounters> by_entity;  // per canonical entity
  // Of counters.unchanged: the records found unchanged by their source row's hash alone.
  int64_t unchanged_unmapped = 0;
  Status error;  // OK unless the run failed
  // With a kRateLimited error: the delay the connector asked for before the next call (0: none).
  uint32_t retry_after_ms = 0;
  // The source status the pull stored ("ok", "warning", "failed"); "" when storing it failed.
  std::string stored_status;
};

class SyncRunner {
 public:
  SyncRunner(storage::SyncStore& store, const Clock& clock, SyncOptions options = {});

  // Pulls every stream of `connector` from its stored cursor and commits what it gets. Never
  // throws; a failed pull leaves its cursor where it was and the run marked failed. `stop` asks
  // the pull to end at its next checkpoint; `progress`, when given, is bumped at every sign of
  // progress of the connector (record, checkpoint, warning) for a watchdog. Polling should_stop
  // is not one: a pull that only waits, however politely, is stalled.
  SyncReport RunOnce(const storage::SourceRow& source, plugin_host::ConnectorInstance& connector,
                     const std::atomic<bool>* stop = nullptr,
                     std::atomic<uint64_t>* progress = nullptr);

 private:
  storage::SyncStore& store_;
  const Clock& clock_;
  SyncOptions options_;
};

struct PreviewOptions {
  int64_t limit = 20;  // canonical records to print; 0 = no limit
};

// What a preview printed.
struct PreviewCounts {
  int64_t records = 0;   // valid canonical records
  int64_t warnings = 0;  // the connector's warnings and the records' validation warnings
  int64_t rejected = 0;  // records the connector could not map or validation refused
};

// Maps and validates a source's records and writes them as JSON lines to `out`, one per canonical
// record ({"entity", "externalId", "record", "warnings"}), rejection ({"rejected": reason}) or
// connector warning ({"origin", "warning"}); `counts`, when given, gets their numbers. Reads
// the stored cursors but commits nothing.
Status Preview(const storage::SourceRow& source, plugin_host::ConnectorInstance& connector,
               storage::SyncStore* store, const PreviewOptions& options, std::ostream& out,
               PreviewCounts* counts = nullptr);

// Turns a canonical record emitted by a plugin into the model's raw form for `source`.
model::RawRecord ToRawRecord(const reglo_record& canonical, const storage::SourceRow& source);

}  // namespace reglo::pipeline
