// The Store defaults of the admin API block (stores without it, e.g. test doubles), and the SQL
// text the backends share for the entity browser.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reglo/storage/row_codec.h"
#include "reglo/storage/store.h"

namespace reglo::storage {
namespace {

Status Unsupported() {
  return Status::Internal("this store does not support the admin API");
}

}  // namespace

Result<std::optional<std::string>> Store::GetSetting(const std::string& /*key*/) {
  return Unsupported();
}
Status Store::PutSetting(const std::string& /*key*/, const std::string& /*value*/,
                         const std::string& /*now*/) {
  return Unsupported();
}
Result<std::vector<ApiSourceRow>> Store::ListApiSources() {
  return Unsupported();
}
Status Store::PutApiSource(const ApiSourceRow& /*source*/) {
  return Unsupported();
}
Result<bool> Store::DeleteApiSource(const std::string& /*id*/) {
  return Unsupported();
}
Result<bool> Store::DeleteSource(const std::string& /*id*/) {
  return Unsupported();
}
Result<std::vector<CursorRow>> Store::ListCursors(const std::string& /*source_id*/) {
  return Unsupported();
}
Result<int64_t> Store::ResetCursors(const std::string& /*source_id*/) {
  return Unsupported();
}
Result<std::vector<RunInfo>> Store::ListRunsBefore(const std::string& /*source_id*/,
                                                   int64_t /*before_id*/, int /*limit*/) {
  return Unsupported();
}
Result<std::vector<StoredEvent>> Store::ReadEventsFiltered(int64_t /*after_sequence*/,
                                                           int /*limit*/,
                                                           const EventFilter& /*filter*/) {
  return Unsupported();
}
Result<RecordPage> Store::BrowseRecords(const model::EntitySpec& /*entity*/,
                                        const RecordQuery& /*query*/) {
  return Unsupported();
}
Result<std::vector<RunTotals>> Store::ListRunTotals() {
  return Unsupported();
}
Status Store::SetRunPluginVersion(int64_t /*run_id*/, const std::string& /*version*/) {
  return Unsupported();
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

}  // namespace reglo::storage
