// Retention's metrics (issue #16): rows pruned per table, passes and space given back since the
// process started, and the table sizes the last pass measured.
#include <string>

#include "reglo/admin/admin.h"

namespace reglo::admin {
namespace {

using Type = MetricsWriter::Type;

class HousekeepingMetrics final : public MetricsProvider {
 public:
  explicit HousekeepingMetrics(const storage::HousekeepingTotals& totals) : totals_(totals) {}

  void WriteMetrics(MetricsWriter& out) override {
    const storage::HousekeepingTotals::Snapshot totals = totals_.Read();
    out.Family("reglo_retention_pruned_rows_total",
               "Rows deleted by retention since the hub started, by table.", Type::kCounter);
    for (size_t i = 0; i < storage::kPruneTargets.size(); ++i) {
      out.Sample({{"table", std::string(storage::PruneTargetName(storage::kPruneTargets[i]))}},
                 static_cast<double>(totals.pruned[i]));
    }
    out.Family("reglo_retention_passes_total",
               "Housekeeping passes finished since the hub started.", Type::kCounter);
    out.Sample(static_cast<double>(totals.passes));
    out.Family("reglo_retention_reclaimed_bytes_total",
               "Bytes of free pages given back to the file system (SQLite).", Type::kCounter);
    out.Sample(static_cast<double>(totals.reclaimed_bytes));
    if (!totals.stats) return;  // no pass has finished yet
    out.Family("reglo_store_table_rows", "Rows per history table at the last housekeeping pass.",
               Type::kGauge);
    for (const auto& [table, rows] : totals.stats->table_rows) {
      out.Sample({{"table", table}}, static_cast<double>(rows));
    }
    out.Family("reglo_store_size_bytes",
               "The store's size at the last housekeeping pass (SQLite: the file without its WAL; "
               "PostgreSQL: the store's tables and indexes).",
               Type::kGauge);
    out.Sample(static_cast<double>(totals.stats->size_bytes));
    out.Family("reglo_store_free_bytes",
               "Free pages inside the SQLite file at the last housekeeping pass (0: PostgreSQL).",
               Type::kGauge);
    out.Sample(static_cast<double>(totals.stats->free_bytes));
  }

 private:
  const storage::HousekeepingTotals& totals_;
};

}  // namespace

std::shared_ptr<MetricsProvider> MakeHousekeepingMetrics(
    const storage::HousekeepingTotals& totals) {
  return std::make_shared<HousekeepingMetrics>(totals);
}

}  // namespace reglo::admin
