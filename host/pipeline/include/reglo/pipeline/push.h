// Pushed batches: canonical records an agent pulled and mapped on its side and pushed to the
// ingestion API (DESIGN §8). They go through exactly the pipeline of a local pull — validation
// (accept + warning), dedup within the batch, created / updated / unchanged / stale decisions,
// events — and commit in ONE transaction with the agent's cursor and the request's idempotency
// row (Store::CommitIngest). Each push is a run of the agent's source.
// Plain functions and values; PreparePush is pure (thread-safe), CommitPush uses the given Store
// (one thread at a time, like the Store).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/clock.h"
#include "reglo/core/status.h"
#include "reglo/model/record.h"
#include "reglo/storage/agent_key_store.h"
#include "reglo/storage/sync_store.h"

namespace reglo::pipeline {

// What became of one pushed record, in the order they were pushed.
struct PushedRecordResult {
  std::string entity;
  std::string external_id;
  // created / updated / unchanged / stale; "duplicate" when a record of the same identity later
  // in the batch (or with a later sourceUpdatedAt) was kept instead; "rejected" (dead letter).
  std::string_view outcome;
  std::vector<std::string> warnings;  // never personal values
  std::string reason;                 // rejected: why (masked)
};

struct PushResult {
  bool replayed = false;             // the request id was committed before: nothing written
  storage::IngestRequestRow stored;  // the idempotency row (replayed: the first request's)
  int64_t run_id = 0;
  storage::RunCounters counters;  // seen / created / ... / warnings / rejected
  int64_t duplicates = 0;
  int64_t events = 0;
  std::vector<PushedRecordResult> records;
};

// A validated, deduplicated batch ready to commit. Built without the store, so the costly part
// of a push runs outside any store lock.
class PreparedPush {
 public:
  const storage::SourceRow& source() const { return source_; }
  size_t size() const { return slots_.size(); }

 private:
  friend PreparedPush PreparePush(const storage::SourceRow&, std::string,
                                  std::optional<std::string>, const std::vector<model::RawRecord>&);
  friend Result<PushResult> CommitPush(storage::SyncStore&, storage::IngestStore&, const Clock&,
                                       PreparedPush&, const storage::IngestRequestRow&,
                                       const std::function<std::string(const PushResult&)>&);
  struct Slot {
    int kind = 0;  // BatchBuilder::Placement::Kind
    size_t index = 0;
    std::vector<std::string> warnings;
  };
  storage::SourceRow source_;
  storage::CheckpointBatch batch_;
  std::vector<Slot> slots_;            // one per pushed record
  std::vector<size_t> winner_;         // per batch record: the pushed record it holds
  std::vector<std::string> entities_;  // per pushed record, as pushed
  std::vector<std::string> external_ids_;
};

// Validates and deduplicates `records` for `source` (its company and source system are stamped
// on every record), to commit on `stream` with `cursor` (nullopt: the cursor stays).
PreparedPush PreparePush(const storage::SourceRow& source, std::string stream,
                         std::optional<std::string> cursor,
                         const std::vector<model::RawRecord>& records);

// Begins a run of the push's source (`runs`, the sync role), commits the batch with `request`
// through `ingest`'s CommitIngest (`respond` makes the response stored with the request id, inside
// the transaction), finishes the run and sets the source's status. A replayed request id writes no
// records (its empty run is closed as succeeded with a note).
// `runs` and `ingest` are usually two roles of the same store.
Result<PushResult> CommitPush(storage::SyncStore& runs, storage::IngestStore& ingest,
                              const Clock& clock, PreparedPush& push,
                              const storage::IngestRequestRow& request,
                              const std::function<std::string(const PushResult&)>& respond);

}  // namespace reglo::pipeline
