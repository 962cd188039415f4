#include "reglo/storage/row_codec.h"

#include <nlohmann/json.hpp>

#include "reglo/core/json_writer.h"

namespace reglo::storage {

void WarningsToJson(const std::vector<std::string>& warnings, std::string& out) {
  out.clear();
  if (warnings.empty()) return;
  out += '[';
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, warnings[i]);
  }
  out += ']';
}

std::vector<std::string> WarningsFromJson(std::string_view json) {
  std::vector<std::string> warnings;
  if (json.empty()) return warnings;
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return warnings;
  for (const nlohmann::json& item : parsed) {
    warnings.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  }
  return warnings;
}

RunStatus ParseRunStatus(std::string_view name) {
  for (RunStatus status : {RunStatus::kRunning, RunStatus::kSucceeded,
                           RunStatus::kSucceededWithWarnings, RunStatus::kFailed}) {
    if (RunStatusName(status) == name) return status;
  }
  return RunStatus::kFailed;
}

LogLevel ParseLogLevel(std::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (LogLevelName(level) == name) return level;
  }
  return LogLevel::kInfo;
}

}  // namespace reglo::storage
