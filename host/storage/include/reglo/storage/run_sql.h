// The run bookkeeping and retention both backends share (issues #16, #19), written once over
// SqlSession: recording a pull that found nothing, reading a source's cursors, a pruning batch.
// Stateless functions.
#pragma once

#include <map>
#include <string>

#include "reglo/core/status.h"
#include "reglo/storage/housekeeping_store.h"
#include "reglo/storage/rows.h"
#include "reglo/storage/sql_session.h"

namespace reglo::storage {

// SyncStore::RecordIdlePull inside the caller's transaction (the caller commits).
Result<IdlePullResult> RecordIdlePullIn(SqlSession& sql, const IdlePull& pull);

// SyncStore::GetCursors: the source's stored cursors by stream, one statement.
Result<std::map<std::string, std::string>> GetCursorsIn(SqlSession& sql,
                                                        const std::string& source_id);

// One HousekeepingStore::Prune batch inside the caller's transaction (the caller commits): the
// target's statements in order, older than `before` (a FormatUtc time; events keep theirs as
// integers, EncodeStoredTime), `limit` rows at most. Returns the rows pruned. InvalidArgument,
// before any statement, for a limit below 1 or a cutoff that is not a FormatUtc time.
Result<int64_t> PruneIn(SqlSession& sql, PruneTarget target, const std::string& before, int limit);

// The statements SyncStore::CloseAbandonedRuns ($1 = source, $2 = end, $3 = reason; its rows
// changed are the runs closed) and SyncStore::ReleaseLease ($1 = source, $2 = owner) run.
extern const std::string kCloseAbandonedRunsSql;
extern const std::string kReleaseLeaseSql;

}  // namespace reglo::storage
