// How the backends write Store values as text columns and read them back, and the entity
// browser's SQL text they share.
#include "reglo/storage/row_codec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

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

std::string ContainsPattern(std::string_view search) {
  std::string pattern = "%";
  for (char c : search) {
    if (c == '\\' || c == '%' || c == '_') pattern += '\\';
    pattern += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  pattern += '%';
  return pattern;
}

BrowseSql MakeBrowseSql(const model::EntitySpec& entity, const RecordQuery& query,
                        std::string (*placeholder)(int)) {
  BrowseSql sql;
  int next = 1;
  std::vector<std::string> conditions;
  if (!query.company_id.empty()) {
    conditions.push_back(fmt::format("company_id = {}", placeholder(next++)));
  }
  if (!query.search.empty()) {
    // externalId, and the fields holding names (first and last name) alone and together.
    std::vector<std::string> columns = {"external_id"};
    std::vector<std::string> names;
    for (const model::FieldSpec& field : entity.fields) {
      if (field.personal == model::PersonalData::kName) names.emplace_back(field.column);
    }
    columns.insert(columns.end(), names.begin(), names.end());
    if (names.size() == 2) {
      columns.push_back(
          fmt::format("COALESCE({}, '') || ' ' || COALESCE({}, '')", names[0], names[1]));
    }
    std::vector<std::string> alternatives;
    for (const std::string& column : columns) {
      alternatives.push_back(
          fmt::format("LOWER({}) LIKE {} ESCAPE '\\'", column, placeholder(next++)));
    }
    sql.search_columns = static_cast<int>(columns.size());
    conditions.push_back("(" + fmt::format("{}", fmt::join(alternatives, " OR ")) + ")");
  }
  const std::string where =
      conditions.empty() ? "" : " WHERE " + fmt::format("{}", fmt::join(conditions, " AND "));
  std::string fields;
  for (const model::FieldSpec& field : entity.fields) fields += fmt::format(", {}", field.column);
  sql.select = fmt::format(
      "SELECT company_id, source_system, external_id, version, updated_at{} FROM {}{} "
      "ORDER BY company_id, source_system, external_id LIMIT {} OFFSET {}",
      fields, entity.table, where, placeholder(next), placeholder(next + 1));
  sql.count = fmt::format("SELECT COUNT(*) FROM {}{}", entity.table, where);
  return sql;
}

Status CheckCheckpointRecords(const CheckpointBatch& batch) {
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    if (record.entity == nullptr || record.values.size() != record.entity->fields.size()) {
      return Status::InvalidArgument(fmt::format(
          "checkpoint record {} ({}) is not a validated canonical record", i, record.origin));
    }
  }
  return Status::Ok();
}

}  // namespace reglo::storage
