// How the backends write Store values as text columns and read them back, each row type's
// decoding from a RowCursor, and the entity browser's SQL text they share.
#include "reglo/storage/row_codec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "reglo/core/clock.h"
#include "reglo/core/crypto.h"
#include "reglo/core/json_writer.h"
#include "reglo/storage/event_data.h"

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

namespace {

// One column into a member of its type.
void ReadColumn(const RowCursor& row, int column, std::string& out) {
  out = row.String(column);
}
void ReadColumn(const RowCursor& row, int column, std::optional<std::string>& out) {
  out = row.OptString(column);
}
void ReadColumn(const RowCursor& row, int column, int64_t& out) {
  out = row.Int(column);
}
void ReadColumn(const RowCursor& row, int column, int& out) {
  out = static_cast<int>(row.Int(column));
}
void ReadColumn(const RowCursor& row, int column, bool& out) {
  out = row.Int(column) != 0;
}
void ReadColumn(const RowCursor& row, int column, RunStatus& out) {
  out = ParseRunStatus(row.Text(column));
}
void ReadColumn(const RowCursor& row, int column, LogLevel& out) {
  out = ParseLogLevel(row.Text(column));
}
void ReadColumn(const RowCursor& row, int column, std::optional<double>& out) {
  out = row.IsNull(column) ? std::nullopt : std::optional<double>(row.Double(column));
}
void ReadColumn(const RowCursor& row, int column, std::optional<int64_t>& out) {
  out = row.IsNull(column) ? std::nullopt : std::optional<int64_t>(row.Int(column));
}

// Columns first, first + 1, ... into `members` of `out`, in order: a row type's mapping is the
// list of its members in the order of its columns.
template <typename Struct, typename... Member>
void ReadColumns(const RowCursor& row, int first, Struct& out, Member Struct::*... members) {
  int column = first;
  (ReadColumn(row, column++, out.*members), ...);
}

// Seven columns from `first` on, in RunCounters' order.
void ReadCounters(const RowCursor& row, int first, RunCounters& counters) {
  ReadColumns(row, first, counters, &RunCounters::seen, &RunCounters::created,
              &RunCounters::updated, &RunCounters::unchanged, &RunCounters::stale,
              &RunCounters::warnings, &RunCounters::rejected);
}

// One column per field of `entity` from `first` on.
std::vector<std::optional<std::string>> ReadValues(const RowCursor& row,
                                                   const model::EntitySpec& entity, int first) {
  std::vector<std::optional<std::string>> values;
  values.reserve(entity.fields.size());
  for (size_t i = 0; i < entity.fields.size(); ++i) {
    values.push_back(row.OptString(first + static_cast<int>(i)));
  }
  return values;
}

}  // namespace

void DecodeRow(const RowCursor& row, SourceRow& source) {
  ReadColumns(row, 0, source, &SourceRow::id, &SourceRow::company_id, &SourceRow::source_system,
              &SourceRow::connector, &SourceRow::config_json, &SourceRow::enabled,
              &SourceRow::status);
}

void DecodeRow(const RowCursor& row, RunInfo& run) {
  ReadColumns(row, 0, run, &RunInfo::id, &RunInfo::source_id, &RunInfo::started_at,
              &RunInfo::finished_at, &RunInfo::status);
  ReadCounters(row, 5, run.counters);
  ReadColumns(row, 12, run, &RunInfo::error_category, &RunInfo::error_message,
              &RunInfo::plugin_version, &RunInfo::events, &RunInfo::runs);
}

void DecodeRow(const RowCursor& row, RunLogLine& line) {
  ReadColumns(row, 0, line, &RunLogLine::at, &RunLogLine::level, &RunLogLine::message);
}

Status DecodeRow(const RowCursor& row, StoredEvent& stored) {
  using model::EventRecord;
  ReadColumns(row, 0, stored, &StoredEvent::sequence);
  EventRecord& event = stored.event;
  ReadColumns(row, 1, event, &EventRecord::type, &EventRecord::company_id,
              &EventRecord::source_system, &EventRecord::entity, &EventRecord::external_id,
              &EventRecord::version);
  event.time = DecodeStoredTime(row.Int(7));
  event.event_id = model::EventIdOf(event);
  REGLO_ASSIGN_OR_RETURN(data, DecodeEventData(event, row.Bytes(8)));
  event.data = std::move(data);
  return Status::Ok();
}

void DecodeRow(const RowCursor& row, DeadLetter& letter) {
  ReadColumns(row, 0, letter, &DeadLetter::id, &DeadLetter::run_id, &DeadLetter::source_id,
              &DeadLetter::stage, &DeadLetter::entity, &DeadLetter::external_id,
              &DeadLetter::origin, &DeadLetter::reason, &DeadLetter::created_at);
}

void DecodeRow(const RowCursor& row, AgentKeyRow& key) {
  ReadColumns(row, 0, key, &AgentKeyRow::id, &AgentKeyRow::prefix, &AgentKeyRow::key_hash,
              &AgentKeyRow::secret_protected, &AgentKeyRow::company_id, &AgentKeyRow::source_system,
              &AgentKeyRow::allowed_cidrs, &AgentKeyRow::last4, &AgentKeyRow::status,
              &AgentKeyRow::created_at, &AgentKeyRow::last_used_at, &AgentKeyRow::revoked_at,
              &AgentKeyRow::rate_per_second, &AgentKeyRow::rate_burst);
}

void DecodeRow(const RowCursor& row, IngestRequestRow& request, int64_t key_id,
               const std::string& request_id) {
  request.key_id = key_id;
  request.request_id = request_id;
  ReadColumns(row, 0, request, &IngestRequestRow::body_hash, &IngestRequestRow::response,
              &IngestRequestRow::created_at);
}

void DecodeRow(const RowCursor& row, SubscriptionRow& subscription) {
  ReadColumns(row, 0, subscription, &SubscriptionRow::id, &SubscriptionRow::kind,
              &SubscriptionRow::url, &SubscriptionRow::event_types, &SubscriptionRow::company_ids,
              &SubscriptionRow::secret_protected, &SubscriptionRow::enabled,
              &SubscriptionRow::disabled_reason, &SubscriptionRow::origin,
              &SubscriptionRow::created_at, &SubscriptionRow::updated_at);
}

void DecodeRow(const RowCursor& row, DeliveryRow& delivery) {
  ReadColumns(row, 0, delivery, &DeliveryRow::subscription_id, &DeliveryRow::sequence,
              &DeliveryRow::event_id, &DeliveryRow::event_type, &DeliveryRow::entity_key,
              &DeliveryRow::status, &DeliveryRow::attempts, &DeliveryRow::next_attempt_at,
              &DeliveryRow::last_error, &DeliveryRow::last_status_code, &DeliveryRow::created_at,
              &DeliveryRow::updated_at);
}

void DecodeRow(const RowCursor& row, ApiSourceRow& source) {
  ReadColumns(row, 0, source.source, &SourceRow::id, &SourceRow::company_id,
              &SourceRow::source_system, &SourceRow::connector, &SourceRow::config_json,
              &SourceRow::enabled);
  ReadColumns(row, 6, source, &ApiSourceRow::interval_ms, &ApiSourceRow::created_at,
              &ApiSourceRow::updated_at);
}

void DecodeRow(const RowCursor& row, CursorRow& cursor) {
  ReadColumns(row, 0, cursor, &CursorRow::stream, &CursorRow::cursor, &CursorRow::updated_at);
}

void DecodeRow(const RowCursor& row, RunTotals& totals) {
  ReadColumns(row, 0, totals, &RunTotals::source_id, &RunTotals::status, &RunTotals::runs);
  ReadCounters(row, 3, totals.counters);
  ReadColumns(row, 10, totals, &RunTotals::last_finished_at);
}

void DecodeRow(const RowCursor& row, std::string& value) {
  ReadColumn(row, 0, value);
}

std::string ReadStoredTime(const RowCursor& row, int column) {
  return ReadOptionalStoredTime(row, column).value_or(std::string());
}

std::optional<std::string> ReadOptionalStoredTime(const RowCursor& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return DecodeStoredTime(row.Int(column));
}

void DecodeRow(const RowCursor& row, StoredRecord& record, const model::EntitySpec& entity) {
  ReadColumns(row, kColVersion, record.state, &model::StoredState::version);
  ContentHashFromStored(row.Bytes(kColContentHash), record.state.content_hash);
  record.state.source_updated_at = ReadOptionalStoredTime(row, kColSourceUpdatedAt);
  record.state.extra = model::ExtraFromJson(row.String(kColExtra));
  record.warnings = WarningsFromJson(row.Text(kColWarnings));
  record.created_at = ReadStoredTime(row, kColCreatedAt);
  record.updated_at = ReadStoredTime(row, kColUpdatedAt);
  record.state.values = ReadValues(row, entity, kColFirstField);
}

void DecodeRow(const RowCursor& row, BrowsedRecord& record, const model::EntitySpec& entity) {
  using model::RecordKey;
  ReadColumns(row, 0, record.key, &RecordKey::company_id, &RecordKey::source_system,
              &RecordKey::external_id);
  ReadColumns(row, 3, record, &BrowsedRecord::version);
  record.updated_at = ReadStoredTime(row, 4);
  record.values = ReadValues(row, entity, 5);
}

namespace {
constexpr size_t kContentHashBytes = 16;

// The value of each lowercase hex digit, -1 for any other byte. A table, not comparisons: a
// hash's digits are random, so the comparisons' branches were mispredicted half the time (this
// decode was 3.5 % of a cold load's committing thread under perf).
constexpr std::array<int8_t, 256> kHexDigits = [] {
  std::array<int8_t, 256> digits{};
  for (int8_t& digit : digits) digit = -1;
  for (int i = 0; i < 10; ++i) digits['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) digits['a' + i] = static_cast<int8_t>(10 + i);
  return digits;
}();

int HexDigit(char c) {
  return kHexDigits[static_cast<unsigned char>(c)];
}
}  // namespace

void ContentHashToBytes(std::string_view hex, std::string& out) {
  if (hex.size() != 2 * kContentHashBytes) {
    out.assign(hex);
    return;
  }
  out.resize(kContentHashBytes);
  int invalid = 0;  // negative once any character is not a lowercase hex digit
  for (size_t i = 0; i < kContentHashBytes; ++i) {
    const int high = HexDigit(hex[2 * i]);
    const int low = HexDigit(hex[2 * i + 1]);
    invalid |= high | low;
    out[i] = static_cast<char>(high << 4 | low);
  }
  if (invalid < 0) out.assign(hex);
}

void ContentHashFromStored(std::string_view stored, std::string& out) {
  if (stored.size() != kContentHashBytes) {
    out.assign(stored);
    return;
  }
  HexEncodeInto(reinterpret_cast<const uint8_t*>(stored.data()), stored.size(), out);
}

Result<int64_t> EncodeStoredTime(std::string_view time) {
  int64_t millis = 0;
  if (!ParseUtcMillis(time, millis)) {
    return Status::InvalidArgument(
        "a stored time is not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.mmmZ)");
  }
  return millis;
}

std::string DecodeStoredTime(int64_t stored) {
  return FormatUtcMillis(stored).value_or(std::to_string(stored));
}

std::optional<int64_t> EncodeSourceUpdatedAt(const std::optional<std::string>& time) {
  int64_t millis = 0;
  if (!time || !ParseUtcMillis(*time, millis)) return std::nullopt;
  return millis;
}

std::string KindFilter(std::string_view type, std::string_view company) {
  return fmt::format(
      "(({0} = '' AND {1} = '') OR e.kind IN (SELECT id FROM integration_event_kinds WHERE "
      "({0} = '' OR type = {0}) AND ({1} = '' OR company_id = {1})))",
      type, company);
}

Result<int64_t> ReadInt(RowCursor& cursor) {
  REGLO_ASSIGN_OR_RETURN(found, cursor.Step());
  return found ? cursor.Int(0) : int64_t{0};
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

void DecodeRow(const RowCursor& row, AdminTokenRow& token) {
  ReadColumns(row, 0, token, &AdminTokenRow::id, &AdminTokenRow::name, &AdminTokenRow::role,
              &AdminTokenRow::token_sha256, &AdminTokenRow::created_at, &AdminTokenRow::revoked_at);
}

void DecodeRow(const RowCursor& row, AuditRow& audit) {
  ReadColumns(row, 0, audit, &AuditRow::id, &AuditRow::at, &AuditRow::actor, &AuditRow::role,
              &AuditRow::action, &AuditRow::target, &AuditRow::outcome, &AuditRow::before,
              &AuditRow::after, &AuditRow::detail);
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

Status CheckAgentKeyLimit(const AgentKeyRow& key, int64_t active, int max_active) {
  if (active < max_active) return Status::Ok();
  return Status::AlreadyExists(
      fmt::format("company '{}', source '{}' already has {} active agent keys (the most allowed); "
                  "revoke one first",
                  key.company_id, key.source_system, active));
}

Status CheckCheckpointRecords(const CheckpointBatch& batch) {
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    if (record.entity == nullptr || record.values.size() != record.entity->fields.size()) {
      return Status::InvalidArgument(fmt::format(
          "checkpoint record {} ({}) is not a validated canonical record", i, record.origin));
    }
    // Stored as an integer (EncodeSourceUpdatedAt): a time in any other shape could not be kept.
    int64_t millis = 0;
    if (record.source_updated_at && !ParseUtcMillis(*record.source_updated_at, millis)) {
      return Status::InvalidArgument(
          fmt::format("checkpoint record {} ({}): its sourceUpdatedAt is not a normalised UTC "
                      "time (YYYY-MM-DDTHH:MM:SS.mmmZ)",
                      i, record.origin));
    }
  }
  return Status::Ok();
}

}  // namespace reglo::storage
