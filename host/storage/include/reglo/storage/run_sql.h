// The run bookkeeping both backends share (issue #19 §1), written once over SqlSession: recording
// a pull that found nothing, reading a source's cursors. Stateless functions.
#pragma once

#include <map>
#include <string>

#include "reglo/core/status.h"
#include "reglo/storage/rows.h"
#include "reglo/storage/sql_session.h"

namespace reglo::storage {

// SyncStore::RecordIdlePull inside the caller's transaction (the caller commits).
Result<IdlePullResult> RecordIdlePullIn(SqlSession& sql, const IdlePull& pull);

// SyncStore::GetCursors: the source's stored cursors by stream, one statement.
Result<std::map<std::string, std::string>> GetCursorsIn(SqlSession& sql,
                                                        const std::string& source_id);

// The statements SyncStore::CloseAbandonedRuns ($1 = source, $2 = end, $3 = reason; its rows
// changed are the runs closed) and SyncStore::ReleaseLease ($1 = source, $2 = owner) run.
extern const std::string kCloseAbandonedRunsSql;
extern const std::string kReleaseLeaseSql;

}  // namespace reglo::storage
