#include "reglo/storage/housekeeper.h"

#include "reglo/core/clock.h"

namespace reglo::storage {
namespace {

RetentionPolicy::Age AgeOf(const RetentionPolicy& policy, PruneTarget target) {
  switch (target) {
    case PruneTarget::kRuns: return policy.runs;
    case PruneTarget::kRunLogs: return policy.run_logs;
    case PruneTarget::kEvents: return policy.events;
    case PruneTarget::kDeliveries: return policy.deliveries;
    case PruneTarget::kDeadLetters: return policy.dead_letters;
    case PruneTarget::kAudit: return policy.audit;
  }
  return RetentionPolicy::Age::zero();
}

}  // namespace

Result<HousekeepingReport> Housekeep(HousekeepingStore& store, const RetentionPolicy& policy,
                                     std::chrono::system_clock::time_point now, bool full,
                                     const std::function<bool()>& should_stop) {
  if (policy.batch_rows <= 0) return Status::InvalidArgument("retention batch_rows must be > 0");
  HousekeepingReport report;
  auto stop = [&] { return should_stop && should_stop(); };
  for (size_t i = 0; i < kPruneTargets.size() && !report.stopped; ++i) {
    const RetentionPolicy::Age age = AgeOf(policy, kPruneTargets[i]);
    if (age <= RetentionPolicy::Age::zero()) continue;
    const std::string before = FormatUtc(now - age);
    while (true) {
      if (stop()) {
        report.stopped = true;
        break;
      }
      REGLO_ASSIGN_OR_RETURN(pruned, store.Prune(kPruneTargets[i], before, policy.batch_rows));
      report.pruned[i] += pruned;
      if (pruned < policy.batch_rows) break;
    }
  }
  if (!report.stopped) {
    REGLO_ASSIGN_OR_RETURN(reclaimed, store.ReclaimSpace(policy.reclaim_pages, full));
    report.reclaimed_bytes = reclaimed;
  }
  REGLO_ASSIGN_OR_RETURN(stats, store.ReadStoreStats());
  report.stats = std::move(stats);
  return report;
}

void HousekeepingTotals::Add(const HousekeepingReport& report) {
  auto totals = totals_.Lock();
  for (size_t i = 0; i < report.pruned.size(); ++i) totals->pruned[i] += report.pruned[i];
  totals->reclaimed_bytes += report.reclaimed_bytes;
  ++totals->passes;
  totals->stats = report.stats;
}

HousekeepingTotals::Snapshot HousekeepingTotals::Read() const {
  return *totals_.Lock();
}

}  // namespace reglo::storage
