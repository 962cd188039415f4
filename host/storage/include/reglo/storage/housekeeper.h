// Retention (issue #16): how long each kind of history is kept (RetentionPolicy), one
// housekeeping pass over a store (Housekeep: `reglo-hub housekeep`, and `serve` in the
// background), and the running totals /metrics shows (HousekeepingTotals). Housekeep uses the
// store it is given from one thread; HousekeepingTotals is thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "reglo/core/status.h"
#include "reglo/core/synchronized.h"
#include "reglo/storage/housekeeping_store.h"

namespace reglo::storage {

// Ages are how long rows are kept after their time (a run's end, a log line's, an event's
// commit, a delivery's last update, a dead letter's, an audit row's); zero keeps them forever.
struct RetentionPolicy {
  using Age = std::chrono::milliseconds;
  static constexpr Age kDay = std::chrono::hours(24);
  Age runs = 30 * kDay;
  Age run_logs = 14 * kDay;
  // Events also stay until every enabled subscription has passed them (HousekeepingStore).
  Age events = 7 * kDay;
  Age deliveries = 30 * kDay;
  Age dead_letters = 90 * kDay;
  // Audit rows (issue #18): a year, so a controller can answer for the support team's actions.
  Age audit = 365 * kDay;
  int batch_rows = 500;  // rows per transaction: the write lock is held a few milliseconds
  // SQLite pages given back per pass (4 KiB each: 16 MiB), so a pass after a big prune does
  // not hold the write lock for long; the rest goes on the next pass.
  int64_t reclaim_pages = 4096;
};

struct HousekeepingReport {
  std::array<int64_t, kPruneTargets.size()> pruned{};  // in kPruneTargets order
  int64_t reclaimed_bytes = 0;
  StoreStats stats;      // after the pass
  bool stopped = false;  // should_stop ended the pass early
};

// Prunes every target older than its age at `now`, a batch at a time until a batch comes back
// short, gives free space back (at most policy.reclaim_pages; `full`: the one-time VACUUM of
// HousekeepingStore::ReclaimSpace) and reads the store's stats. `should_stop` is asked between
// batches. Stops at the first store error.
Result<HousekeepingReport> Housekeep(HousekeepingStore& store, const RetentionPolicy& policy,
                                     std::chrono::system_clock::time_point now, bool full = false,
                                     const std::function<bool()>& should_stop = {});

// What every pass of one process has pruned, and the latest stats: /metrics.
class HousekeepingTotals {
 public:
  struct Snapshot {
    std::array<int64_t, kPruneTargets.size()> pruned{};
    int64_t reclaimed_bytes = 0;
    int64_t passes = 0;
    std::optional<StoreStats> stats;  // none before the first pass
  };
  void Add(const HousekeepingReport& report);
  Snapshot Read() const;

 private:
  Synchronized<Snapshot> totals_;
};

}  // namespace reglo::storage
