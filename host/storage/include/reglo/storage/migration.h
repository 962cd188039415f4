// What the backends share around their schema: one versioned migration step (each backend keeps
// its own list, in its own DDL) and the checks made when a store opens. Plain values and pure
// functions; thread-safe.
#pragma once

#include <functional>
#include <string_view>

#include "reglo/core/status.h"
#include "reglo/model/schema.h"

namespace reglo::storage {

// Migration N creates the same tables in every backend, each in its dialect.
struct Migration {
  int version;  // 1, 2, 3, ... without gaps
  std::string_view name;
  std::string_view sql;
};

// kIncompatible: the database was migrated by a newer build than this one (`latest`).
Status NewerSchemaError(int current, int latest);

// kInternal naming the first field of `entity` whose column `has_column` says the table lacks:
// a field added to schema.cpp without its migration, said at open rather than as a failed
// statement in the middle of a sync.
Status CheckEntityColumns(const model::EntitySpec& entity,
                          const std::function<bool(std::string_view column)>& has_column);

}  // namespace reglo::storage
