// PostgresStore: retention (HousekeepingStore): pruning batches and store size.
#include <fmt/format.h>

#include "pg_session.h"
#include "postgres_store_impl.h"
#include "reglo/storage/row_codec.h"
#include "reglo/storage/run_sql.h"

namespace reglo::storage::postgres {

Result<int64_t> PostgresStore::Prune(PruneTarget target, const std::string& before, int limit) {
  REGLO_RETURN_IF_ERROR(Ready());
  const std::string what = fmt::format("pruning {}", PruneTargetName(target));
  Transaction tx(*conn_);
  REGLO_RETURN_IF_ERROR(tx.Begin(what));
  PgSession session(*conn_, what);
  REGLO_ASSIGN_OR_RETURN(pruned, PruneIn(session, target, before, limit));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return pruned;
}

Result<StoreStats> PostgresStore::ReadStoreStats() {
  StoreStats stats;
  for (PruneTarget target : kPruneTargets) {
    const std::string table = fmt::format("integration_{}", PruneTargetName(target));
    REGLO_ASSIGN_OR_RETURN(
        rows, QueryInt(fmt::format("SELECT COUNT(*) FROM {}", table), Params(), "counting rows"));
    stats.table_rows.emplace_back(PruneTargetName(target), rows);
  }
  // The store's own schema only: several stores (tests, tenants) may share one database.
  REGLO_ASSIGN_OR_RETURN(
      size, QueryInt("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                     Params(), "measuring the store"));
  stats.size_bytes = size;
  return stats;
}

Result<int64_t> PostgresStore::ReclaimSpace(int64_t /*max_pages*/, bool /*full*/) {
  // Autovacuum makes deleted rows' space reusable; giving it back to the file system would take
  // VACUUM FULL, an exclusive lock no background task should take.
  return int64_t{0};
}

}  // namespace reglo::storage::postgres
