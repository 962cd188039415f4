// How every Store backend writes Store values as text columns and reads them back (run status,
// log level, a record's warnings), so all backends agree. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reglo/storage/store.h"

namespace reglo::storage {

// A JSON array of strings, or "" for none (stored as NULL).
void WarningsToJson(const std::vector<std::string>& warnings, std::string& out);
std::vector<std::string> WarningsFromJson(std::string_view json);

// The inverse of RunStatusName; an unknown name reads as kFailed (it is not a success).
RunStatus ParseRunStatus(std::string_view name);
// The inverse of LogLevelName; an unknown name reads as kInfo.
LogLevel ParseLogLevel(std::string_view name);

}  // namespace reglo::storage
