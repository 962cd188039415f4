// SqliteStore: retention (HousekeepingStore): pruning batches, store size, giving space back.
#include <fmt/format.h>

#include "reglo/storage/row_codec.h"
#include "reglo/storage/run_sql.h"
#include "sqlite_session.h"
#include "sqlite_store_impl.h"

namespace reglo::storage::sqlite {
namespace {

// SQLite's auto_vacuum setting that lets PRAGMA incremental_vacuum free pages.
constexpr int64_t kIncrementalAutoVacuum = 2;

}  // namespace

Result<int64_t> SqliteStore::Prune(PruneTarget target, const std::string& before, int limit) {
  const std::string what = fmt::format("pruning {}", PruneTargetName(target));
  // One short write transaction per batch, so syncs wait for the write lock a few milliseconds
  // at most.
  Transaction tx(*db_);
  REGLO_RETURN_IF_ERROR(tx.Begin(what));
  SqliteSession session(*db_, what);
  REGLO_ASSIGN_OR_RETURN(pruned, PruneIn(session, target, before, limit));
  REGLO_RETURN_IF_ERROR(tx.Commit());
  return pruned;
}

Result<StoreStats> SqliteStore::ReadStoreStats() {
  StoreStats stats;
  for (PruneTarget target : kPruneTargets) {
    REGLO_ASSIGN_OR_RETURN(
        rows, QueryInt(fmt::format("SELECT COUNT(*) FROM integration_{}", PruneTargetName(target)),
                       "counting rows"));
    stats.table_rows.emplace_back(PruneTargetName(target), rows);
  }
  REGLO_ASSIGN_OR_RETURN(page_size, QueryInt("PRAGMA page_size", "reading the page size"));
  REGLO_ASSIGN_OR_RETURN(pages, QueryInt("PRAGMA page_count", "reading the page count"));
  REGLO_ASSIGN_OR_RETURN(free_pages, QueryInt("PRAGMA freelist_count", "reading the free pages"));
  stats.size_bytes = pages * page_size;
  stats.free_bytes = free_pages * page_size;
  return stats;
}

Result<int64_t> SqliteStore::ReclaimSpace(int64_t max_pages, bool full) {
  REGLO_ASSIGN_OR_RETURN(page_size, QueryInt("PRAGMA page_size", "reading the page size"));
  REGLO_ASSIGN_OR_RETURN(before, QueryInt("PRAGMA page_count", "reading the page count"));
  if (full) {
    // The mode change takes effect with the VACUUM that follows it (a store created before
    // migration 7 has auto_vacuum NONE).
    REGLO_RETURN_IF_ERROR(
        db_->Exec("PRAGMA auto_vacuum=INCREMENTAL; VACUUM", "vacuuming the store"));
  } else {
    REGLO_ASSIGN_OR_RETURN(mode, QueryInt("PRAGMA auto_vacuum", "reading the auto-vacuum mode"));
    if (mode != kIncrementalAutoVacuum || max_pages <= 0) return int64_t{0};
    REGLO_RETURN_IF_ERROR(db_->Exec(fmt::format("PRAGMA incremental_vacuum({})", max_pages),
                                    "giving free pages back"));
  }
  REGLO_ASSIGN_OR_RETURN(after, QueryInt("PRAGMA page_count", "reading the page count"));
  return std::max<int64_t>(0, before - after) * page_size;
}

}  // namespace reglo::storage::sqlite
