// HousekeepingStore: the storage role of retention (issue #16): deletes old history in small
// batches, reports how big the store is, and gives freed space back to the file system.
// Implemented by every backend; the Housekeeper (housekeeper.h) drives it. Thread-safety: one
// thread at a time per store object, like every role.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/core/status.h"

namespace reglo::storage {

// What retention prunes, each by its own age.
enum class PruneTarget {
  kRuns,         // finished runs (with their log lines) by finished_at
  kRunLogs,      // run log lines by their time
  kEvents,       // outbox events: by time, and only once no enabled subscription still needs them
  kDeliveries,   // delivered or dead deliveries by their last update
  kDeadLetters,  // records that could not be stored, by created_at
  kAudit,        // audit rows (issue #18), by their time
};
inline constexpr std::array<PruneTarget, 6> kPruneTargets = {
    PruneTarget::kRuns,       PruneTarget::kRunLogs,     PruneTarget::kEvents,
    PruneTarget::kDeliveries, PruneTarget::kDeadLetters, PruneTarget::kAudit};
// "runs", "run_logs", "events", "deliveries", "dead_letters", "audit": metric labels and CLI
// output.
std::string_view PruneTargetName(PruneTarget target);

struct StoreStats {
  // Rows per PruneTargetName, in kPruneTargets order.
  std::vector<std::pair<std::string, int64_t>> table_rows;
  // The store's size: SQLite, its file's pages (the WAL aside); PostgreSQL, its tables and
  // indexes in the store's schema.
  int64_t size_bytes = 0;
  int64_t free_bytes = 0;  // SQLite: free pages inside the file; PostgreSQL: 0 (not measured)

  // The rows of `target` (-1 when table_rows has no entry for it).
  int64_t RowsOf(PruneTarget target) const;
};

class HousekeepingStore {
 public:
  virtual ~HousekeepingStore() = default;

  // Deletes at most `limit` rows of `target` older than `before` (a FormatUtc timestamp), oldest
  // first, in one short transaction, and returns how many. Events are deleted only when every
  // enabled subscription's relay position has passed them (a subscription without a position
  // keeps them all) and no delivery of theirs is pending or dead (dead ones can be redelivered);
  // runs still running are never deleted. Pruned runs take their log lines along (not counted).
  virtual Result<int64_t> Prune(PruneTarget target, const std::string& before, int limit) = 0;
  virtual Result<StoreStats> ReadStoreStats() = 0;
  // Gives free space back to the file system and returns how many bytes. SQLite: frees at most
  // `max_pages` pages of a store with incremental auto-vacuum (every store created since
  // migration 7); `full` instead runs a one-time VACUUM that also turns incremental auto-vacuum
  // on for an older store (it rewrites the file and holds the write lock while it runs).
  // PostgreSQL: autovacuum reuses freed space; nothing to do, returns 0.
  virtual Result<int64_t> ReclaimSpace(int64_t max_pages, bool full) = 0;
};

}  // namespace reglo::storage
