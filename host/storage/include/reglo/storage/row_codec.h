// How every Store backend writes Store values as text columns and reads them back (run status,
// log level, a record's warnings), so all backends agree, and the SQL text and checks they share.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reglo/storage/rows.h"

namespace reglo::storage {

// A JSON array of strings, or "" for none (stored as NULL).
void WarningsToJson(const std::vector<std::string>& warnings, std::string& out);
std::vector<std::string> WarningsFromJson(std::string_view json);

// The inverse of RunStatusName; an unknown name reads as kFailed (it is not a success).
RunStatus ParseRunStatus(std::string_view name);
// The inverse of LogLevelName; an unknown name reads as kInfo.
LogLevel ParseLogLevel(std::string_view name);

// The entity browser's SQL (admin API), the same text for every backend but for placeholders:
// `placeholder(n)` spells the n-th parameter (1-based: "?" or "$n"). Parameters, in order: the
// company (when query.company_id is set), the LIKE pattern once per searched column (when
// query.search is set), then for `select` only the limit and the offset. Columns of `select`:
// company_id, source_system, external_id, version, updated_at, then one per field.
struct BrowseSql {
  std::string select;
  std::string count;
  int search_columns = 0;  // how many times the pattern is bound
};
BrowseSql MakeBrowseSql(const model::EntitySpec& entity, const RecordQuery& query,
                        std::string (*placeholder)(int));
// "%mario%" from "Mario": lower case (ASCII), with \, % and _ escaped for LIKE ... ESCAPE '\'.
std::string ContainsPattern(std::string_view search);

// For backends, before a checkpoint's transaction (CommitCheckpoint, CommitIngest):
// InvalidArgument when a record of `batch` is not a validated canonical record.
Status CheckCheckpointRecords(const CheckpointBatch& batch);

}  // namespace reglo::storage
