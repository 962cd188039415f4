// The data-subject operations both backends share (subject_sql.h): find, export, erase, the
// re-pull rule of erased records, and the personal-data retention queries.
#include "reglo/storage/subject_sql.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "reglo/core/clock.h"
#include "reglo/core/json_writer.h"
#include "reglo/core/masking.h"
#include "reglo/model/events.h"
#include "reglo/model/record.h"
#include "reglo/storage/event_data.h"
#include "reglo/storage/event_kinds.h"
#include "reglo/storage/row_codec.h"

namespace reglo::storage {
namespace {

using Params = std::vector<SqlSession::Param>;
using json = nlohmann::json;

constexpr std::string_view kErasedText = "[erased]";
// Shorter values are not scrubbed out of logs: they would match unrelated text everywhere.
constexpr size_t kMinNeedle = 4;
constexpr std::string_view kRecordColumns =
    "version, content_hash, source_updated_at, extra, warnings, created_at, updated_at";
constexpr std::string_view kCompanySources =
    "(SELECT id FROM integration_sources WHERE company_id = $1)";

// ", first_name, last_name, ...": the entity's field columns in schema order.
std::string FieldColumns(const model::EntitySpec& entity) {
  std::string out;
  for (const model::FieldSpec& field : entity.fields) {
    out += ", ";
    out += field.column;
  }
  return out;
}

const model::EntitySpec& StudentEntity() {
  return *model::FindEntity("student");
}

// How a canonical entity points at a student: the column holding the student's externalId and,
// for an entity that may belong to several kinds of owner (documents), the column naming the
// owner's entity. Empty column: the entity does not reference students.
struct StudentLink {
  std::string column;
  std::string owner_entity_column;
};

StudentLink LinkOf(const model::EntitySpec& entity) {
  for (const model::FieldSpec& field : entity.fields) {
    if (field.references == "student") return {std::string(field.column), ""};
  }
  const int owner = entity.FieldIndex("ownerEntity");
  const int owner_id = entity.FieldIndex("ownerExternalId");
  if (owner >= 0 && owner_id >= 0) {
    return {std::string(entity.fields[owner_id].column), std::string(entity.fields[owner].column)};
  }
  return {};
}

std::string LinkCondition(const StudentLink& link, int parameter) {
  std::string condition = fmt::format("{} = ${}", link.column, parameter);
  if (!link.owner_entity_column.empty()) {
    condition += fmt::format(" AND {} = 'student'", link.owner_entity_column);
  }
  return condition;
}

bool IsPersonal(const model::FieldSpec& field) {
  return field.personal != model::PersonalData::kNone;
}

// A stored record with what erasing it needs.
struct Found {
  const model::EntitySpec* entity = nullptr;
  model::RecordKey key;
  StoredRecord stored;
  bool erased = false;
};

Status ReadRecords(SqlSession& sql, const model::EntitySpec& entity, const std::string& where,
                   const Params& params, const std::string& company_id,
                   const std::string& source_system, std::vector<Found>& out) {
  const std::string query = fmt::format(
      "SELECT {}{}, external_id, (SELECT COUNT(*) FROM integration_erasures e WHERE "
      "e.company_id = t.company_id AND e.source_system = t.source_system AND "
      "e.entity = '{}' AND e.external_id = t.external_id) FROM {} t WHERE {} "
      "ORDER BY external_id",
      kRecordColumns, FieldColumns(entity), entity.name, entity.table, where);
  return sql.Query(query, params, [&](RowCursor& rows) -> Status {
    const int id_column = kColFirstField + static_cast<int>(entity.fields.size());
    while (true) {
      REGLO_ASSIGN_OR_RETURN(more, rows.Step());
      if (!more) return Status::Ok();
      Found& found = out.emplace_back();
      found.entity = &entity;
      DecodeRow(rows, found.stored, entity);
      found.key = {company_id, source_system, rows.String(id_column)};
      found.erased = rows.Int(id_column + 1) > 0;
    }
  });
}

// The student keys the query names.
Result<std::vector<model::RecordKey>> FindStudents(SqlSession& sql, const SubjectQuery& query) {
  if (query.company_id.empty()) return Status::InvalidArgument("a company id is required");
  std::vector<model::RecordKey> keys;
  auto collect = [&](RowCursor& rows) -> Status {
    while (true) {
      REGLO_ASSIGN_OR_RETURN(more, rows.Step());
      if (!more) return Status::Ok();
      if (rows.IsNull(1)) continue;
      model::RecordKey key{query.company_id, rows.String(0), rows.String(1)};
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
    }
  };
  if (query.ByFiscalCode()) {
    REGLO_RETURN_IF_ERROR(
        sql.Query("SELECT source_system, external_id FROM students WHERE "
                  "company_id = $1 AND fiscal_code = $2 ORDER BY 1, 2",
                  {query.company_id, query.fiscal_code}, collect));
    return keys;
  }
  if (query.entity.empty() || query.external_id.empty()) {
    return Status::InvalidArgument(
        "name the subject by codice fiscale, or by entity and externalId");
  }
  const model::EntitySpec* entity = model::FindEntity(query.entity);
  if (entity == nullptr) {
    return Status::InvalidArgument(fmt::format("unknown entity '{}'", query.entity));
  }
  std::string select;
  if (entity->name == "student") {
    select =
        "SELECT source_system, external_id FROM students WHERE company_id = $1 AND "
        "external_id = $2 AND ($3 = '' OR source_system = $3) ORDER BY 1, 2";
  } else {
    const StudentLink link = LinkOf(*entity);
    if (link.column.empty()) {
      return Status::InvalidArgument(
          fmt::format("a {} does not belong to a student: name a student, case, appointment, "
                      "document or payment",
                      entity->name));
    }
    select = fmt::format(
        "SELECT source_system, {} FROM {} WHERE company_id = $1 AND external_id = $2 AND "
        "($3 = '' OR source_system = $3){} ORDER BY 1, 2",
        link.column, entity->table,
        link.owner_entity_column.empty()
            ? std::string()
            : fmt::format(" AND {} = 'student'", link.owner_entity_column));
  }
  REGLO_RETURN_IF_ERROR(
      sql.Query(select, {query.company_id, query.external_id, query.source_system}, collect));
  return keys;
}

// The student `key` and every record referencing it, the student first.
Status CollectRecords(SqlSession& sql, const model::RecordKey& key, std::vector<Found>& out) {
  const Params params = {key.company_id, key.source_system, key.external_id};
  REGLO_RETURN_IF_ERROR(ReadRecords(sql, StudentEntity(),
                                    "company_id = $1 AND source_system = $2 AND external_id = $3",
                                    params, key.company_id, key.source_system, out));
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    const StudentLink link = LinkOf(entity);
    if (entity.name == "student" || link.column.empty()) continue;
    REGLO_RETURN_IF_ERROR(ReadRecords(
        sql, entity,
        fmt::format("company_id = $1 AND source_system = $2 AND {}", LinkCondition(link, 3)),
        params, key.company_id, key.source_system, out));
  }
  return Status::Ok();
}

Result<std::vector<Found>> CollectSubject(SqlSession& sql, const SubjectQuery& query) {
  REGLO_ASSIGN_OR_RETURN(students, FindStudents(sql, query));
  std::vector<Found> records;
  for (const model::RecordKey& key : students) {
    REGLO_RETURN_IF_ERROR(CollectRecords(sql, key, records));
  }
  // Students first (the export's order), each record once.
  std::stable_partition(records.begin(), records.end(),
                        [](const Found& f) { return f.entity->name == "student"; });
  return records;
}

// The values the subject's data may be quoted by in logs and dead letters.
std::vector<std::string> Needles(const SubjectQuery& query, const std::vector<Found>& records) {
  std::set<std::string> needles;
  for (const Found& found : records) {
    for (size_t i = 0; i < found.entity->fields.size(); ++i) {
      const std::optional<std::string>& value = found.stored.state.values[i];
      if (IsPersonal(found.entity->fields[i]) && value && value->size() >= kMinNeedle) {
        needles.insert(*value);
        // Logs show a codice fiscale as its keyed hash: that names the subject too.
        if (found.entity->fields[i].personal == model::PersonalData::kFiscalCode) {
          needles.insert(HashFiscalCode(*value));
        }
      }
    }
  }
  if (query.ByFiscalCode() && query.fiscal_code.size() >= kMinNeedle) {
    needles.insert(query.fiscal_code);
    needles.insert(HashFiscalCode(query.fiscal_code));
  }
  for (const std::string& extra : query.extra_needles) {
    if (extra.size() >= kMinNeedle) needles.insert(extra);
  }
  return {needles.begin(), needles.end()};
}

template <typename Row>
Status ReadInto(SqlSession& sql, const std::string& query, const Params& params,
                std::vector<Row>& out) {
  return sql.Query(query, params, [&](RowCursor& rows) -> Status {
    REGLO_ASSIGN_OR_RETURN(read, ReadRows<Row>(rows));
    for (Row& row : read) out.push_back(std::move(row));
    return Status::Ok();
  });
}

Status ReadEventsOf(SqlSession& sql, const Found& found, std::vector<StoredEvent>& out) {
  return ReadInto(sql,
                  fmt::format("SELECT {} FROM {} WHERE e.kind IN (SELECT id FROM "
                              "integration_event_kinds WHERE company_id = $1 AND source_system = "
                              "$2 AND entity = $3) AND e.external_id = $4 ORDER BY e.sequence",
                              kEventColumns, kEventTables),
                  {found.key.company_id, found.key.source_system, std::string(found.entity->name),
                   found.key.external_id},
                  out);
}

const std::string& DeadLettersOfRecordSql() {
  static const std::string sql = fmt::format(
      "SELECT {} FROM integration_dead_letters WHERE source_id IN (SELECT id FROM "
      "integration_sources WHERE company_id = $1 AND source_system = $2) AND entity = $3 AND "
      "external_id = $4 ORDER BY id",
      kDeadLetterColumns);
  return sql;
}

// `column` holds `$2` (portable: no LIKE patterns to escape, no instr/strpos).
std::string Holds(std::string_view column) {
  return fmt::format("REPLACE(COALESCE({0}, ''), $2, '') <> COALESCE({0}, '')", column);
}

SubjectRecord ToSubjectRecord(const Found& found) {
  SubjectRecord record;
  record.entity = std::string(found.entity->name);
  record.key = found.key;
  record.version = found.stored.state.version;
  record.created_at = found.stored.created_at;
  record.updated_at = found.stored.updated_at;
  record.record_json =
      model::RecordJson(*found.entity, found.stored.state.values, found.stored.state.extra);
  record.erased = found.erased;
  return record;
}

// The event's data with the record's personal fields and extra fields blanked; unchanged text
// when there is nothing to blank (or the data is not the object events carry).
std::string ErasedData(const model::EntitySpec& entity, const std::string& data, bool& changed) {
  changed = false;
  json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return data;
  auto record = parsed.find("record");
  if (record == parsed.end() || !record->is_object()) return data;
  for (const model::FieldSpec& field : entity.fields) {
    auto value = record->find(std::string(field.name));
    if (IsPersonal(field) && value != record->end() && !value->is_null()) {
      *value = nullptr;
      changed = true;
    }
  }
  if (record->erase("extra") > 0) changed = true;
  return changed ? parsed.dump() : data;
}

// Blanks one record: personal fields, extra and warnings. The student also gets a new version
// (its student.erased event's). Its source hash is cleared: the stored record no longer is what
// its source row maps to, so the next pull must map that row (even unchanged) and bring it to the
// checkpoint, where the after-erasure rule keeps it erased or re-creates it.
Status BlankRecord(SqlSession& sql, const Found& found, int64_t version, const std::string& now) {
  const model::EntitySpec& entity = *found.entity;
  std::vector<std::optional<std::string>> values = found.stored.state.values;
  std::string assignments;
  for (size_t i = 0; i < entity.fields.size(); ++i) {
    if (!IsPersonal(entity.fields[i])) continue;
    values[i].reset();
    assignments += fmt::format("{} = NULL, ", entity.fields[i].column);
  }
  std::string hash;
  ContentHashToBytes(model::ContentHash(entity, values, {}), hash);
  REGLO_ASSIGN_OR_RETURN(updated_at, EncodeStoredTime(now));
  REGLO_RETURN_IF_ERROR(
      sql.Execute(fmt::format("UPDATE {} SET {}extra = NULL, warnings = NULL, source_hash = NULL, "
                              "content_hash = $4, version = $5, updated_at = $6 WHERE "
                              "company_id = $1 AND source_system = $2 AND external_id = $3",
                              entity.table, assignments),
                  {found.key.company_id, found.key.source_system, found.key.external_id,
                   SqlSession::Bytes{std::move(hash)}, version, updated_at})
          .status());
  return sql
      .Execute(
          "INSERT INTO integration_erasures (company_id, source_system, entity, external_id, "
          "erased_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
          {found.key.company_id, found.key.source_system, std::string(entity.name),
           found.key.external_id, now})
      .status();
}

// The data of a student.erased event: which records downstream workflows must erase.
std::string ErasedEventData(const Found& student, int64_t version, const std::string& now,
                            const std::vector<Found>& records) {
  JsonWriter writer;
  writer.BeginObject();
  writer.Key("entity").String("student");
  writer.Key("companyId").String(student.key.company_id);
  writer.Key("sourceSystem").String(student.key.source_system);
  writer.Key("externalId").String(student.key.external_id);
  writer.Key("version").Int(version);
  writer.Key("erasedAt").String(now);
  writer.Key("records").BeginArray();
  for (const Found& found : records) {
    if (found.key.source_system != student.key.source_system) continue;
    writer.BeginObject();
    writer.Key("entity").String(found.entity->name);
    writer.Key("externalId").String(found.key.external_id);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return writer.Take();
}

Result<StoredEvent> AppendErasedEvent(SqlSession& sql, const Found& student, int64_t version,
                                      const std::string& now, const std::vector<Found>& records) {
  StoredEvent stored;
  model::EventRecord& event = stored.event;
  event.type = "student.erased";
  event.company_id = student.key.company_id;
  event.source_system = student.key.source_system;
  event.entity = "student";
  event.external_id = student.key.external_id;
  event.version = version;
  event.time = now;
  event.event_id = model::EventIdOf(event);
  event.data = ErasedEventData(student, version, now, records);
  REGLO_ASSIGN_OR_RETURN(
      kind, EventKindIn(sql, event.type, event.company_id, event.source_system, event.entity));
  REGLO_ASSIGN_OR_RETURN(time, EncodeStoredTime(event.time));
  REGLO_RETURN_IF_ERROR(sql.Query(
      "INSERT INTO integration_events (kind, external_id, version, time, data) "
      "VALUES ($1, $2, $3, $4, $5) RETURNING sequence",
      {kind, event.external_id, event.version, time, SqlSession::Bytes{EncodeEventData(event)}},
      [&](RowCursor& rows) -> Status {
        REGLO_ASSIGN_OR_RETURN(sequence, ReadInt(rows));
        stored.sequence = sequence;
        return Status::Ok();
      }));
  return stored;
}

// Replaces every needle in the text columns of the company's history.
Result<std::pair<int64_t, int64_t>> ScrubNeedles(SqlSession& sql, const std::string& company_id,
                                                 const std::vector<std::string>& needles) {
  const std::string run_logs = fmt::format(
      "UPDATE integration_run_logs SET message = REPLACE(message, $2, '{0}') WHERE run_id IN "
      "(SELECT id FROM integration_runs WHERE source_id IN {1}) AND {2}",
      kErasedText, kCompanySources, Holds("message"));
  const std::string runs = fmt::format(
      "UPDATE integration_runs SET error_message = REPLACE(error_message, $2, '{}') WHERE "
      "source_id IN {} AND {}",
      kErasedText, kCompanySources, Holds("error_message"));
  const std::string dead_letters = fmt::format(
      "UPDATE integration_dead_letters SET reason = REPLACE(reason, $2, '{0}'), origin = "
      "REPLACE(origin, $2, '{0}') WHERE source_id IN {1} AND ({2} OR {3})",
      kErasedText, kCompanySources, Holds("reason"), Holds("origin"));
  const std::string deliveries = fmt::format(
      "UPDATE integration_deliveries SET last_error = REPLACE(last_error, $2, '{}') WHERE "
      "sequence IN (SELECT sequence FROM integration_events WHERE kind IN (SELECT id FROM "
      "integration_event_kinds WHERE company_id = $1)) AND {}",
      kErasedText, Holds("last_error"));
  int64_t log_lines = 0;
  int64_t letters = 0;
  for (const std::string& needle : needles) {
    const Params params = {company_id, needle};
    REGLO_ASSIGN_OR_RETURN(lines, sql.Execute(run_logs, params));
    log_lines += lines;
    REGLO_RETURN_IF_ERROR(sql.Execute(runs, params).status());
    REGLO_ASSIGN_OR_RETURN(scrubbed, sql.Execute(dead_letters, params));
    letters += scrubbed;
    REGLO_RETURN_IF_ERROR(sql.Execute(deliveries, params).status());
  }
  return std::make_pair(log_lines, letters);
}

Status CheckQuery(const SubjectQuery& query) {
  if (query.company_id.empty()) return Status::InvalidArgument("a company id is required");
  if (!query.ByFiscalCode() && (query.entity.empty() || query.external_id.empty())) {
    return Status::InvalidArgument(
        "name the subject by codice fiscale, or by entity and externalId");
  }
  return Status::Ok();
}

}  // namespace

Result<SubjectExport> ExportSubjectIn(SqlSession& sql, const SubjectQuery& query) {
  REGLO_RETURN_IF_ERROR(CheckQuery(query));
  REGLO_ASSIGN_OR_RETURN(records, CollectSubject(sql, query));
  SubjectExport out;
  if (records.empty()) return out;
  for (const Found& found : records) {
    out.records.push_back(ToSubjectRecord(found));
    REGLO_RETURN_IF_ERROR(ReadEventsOf(sql, found, out.events));
    REGLO_RETURN_IF_ERROR(ReadInto(sql, DeadLettersOfRecordSql(),
                                   {found.key.company_id, found.key.source_system,
                                    std::string(found.entity->name), found.key.external_id},
                                   out.dead_letters));
  }
  std::sort(out.events.begin(), out.events.end(),
            [](const StoredEvent& a, const StoredEvent& b) { return a.sequence < b.sequence; });
  for (const StoredEvent& event : out.events) {
    REGLO_RETURN_IF_ERROR(
        ReadInto(sql,
                 fmt::format("SELECT {} FROM integration_deliveries WHERE sequence = $1 ORDER BY "
                             "subscription_id",
                             kDeliveryColumns),
                 {event.sequence}, out.deliveries));
  }
  std::set<int64_t> letter_ids;
  for (const DeadLetter& letter : out.dead_letters) letter_ids.insert(letter.id);
  for (const std::string& needle : Needles(query, records)) {
    std::vector<DeadLetter> quoting;
    REGLO_RETURN_IF_ERROR(ReadInto(
        sql,
        fmt::format("SELECT {} FROM integration_dead_letters WHERE source_id IN {} AND ({} OR {}) "
                    "ORDER BY id",
                    kDeadLetterColumns, kCompanySources, Holds("reason"), Holds("origin")),
        {query.company_id, needle}, quoting));
    for (DeadLetter& letter : quoting) {
      if (letter_ids.insert(letter.id).second) out.dead_letters.push_back(std::move(letter));
    }
    REGLO_RETURN_IF_ERROR(sql.Query(
        fmt::format("SELECT l.run_id, r.source_id, l.at, l.level, l.message FROM "
                    "integration_run_logs l JOIN integration_runs r ON r.id = l.run_id WHERE "
                    "r.source_id IN {} AND {} ORDER BY l.id",
                    kCompanySources, Holds("l.message")),
        {query.company_id, needle}, [&](RowCursor& rows) -> Status {
          while (true) {
            REGLO_ASSIGN_OR_RETURN(more, rows.Step());
            if (!more) return Status::Ok();
            SubjectRunLogLine line;
            line.run_id = rows.Int(0);
            line.source_id = rows.String(1);
            line.line.at = rows.String(2);
            line.line.level = ParseLogLevel(rows.Text(3));
            line.line.message = rows.String(4);
            out.run_logs.push_back(std::move(line));
          }
        }));
  }
  return out;
}

Result<ErasureResult> EraseSubjectIn(SqlSession& sql, const SubjectQuery& query,
                                     const std::string& now) {
  REGLO_RETURN_IF_ERROR(CheckQuery(query));
  REGLO_ASSIGN_OR_RETURN(records, CollectSubject(sql, query));
  ErasureResult result;
  if (records.empty()) return result;
  result.found = true;
  result.already_erased =
      std::all_of(records.begin(), records.end(), [](const Found& found) { return found.erased; });
  const std::vector<std::string> needles = Needles(query, records);
  for (const Found& found : records) {
    const bool student = found.entity->name == "student";
    if (student) ++result.students;
    if (found.erased) continue;
    const int64_t version = found.stored.state.version + (student ? 1 : 0);
    REGLO_RETURN_IF_ERROR(BlankRecord(sql, found, version, now));
    ++result.records;
    if (student) {
      REGLO_ASSIGN_OR_RETURN(event, AppendErasedEvent(sql, found, version, now, records));
      result.erased_events.push_back(std::move(event));
    }
  }
  for (const Found& found : records) {
    std::vector<StoredEvent> events;
    REGLO_RETURN_IF_ERROR(ReadEventsOf(sql, found, events));
    for (const StoredEvent& event : events) {
      bool changed = false;
      model::EventRecord erased = event.event;
      erased.data = ErasedData(*found.entity, event.event.data, changed);
      if (!changed) continue;
      REGLO_RETURN_IF_ERROR(
          sql.Execute("UPDATE integration_events SET data = $1 WHERE sequence = $2",
                      {SqlSession::Bytes{EncodeEventData(erased)}, event.sequence})
              .status());
      ++result.events_rewritten;
    }
    REGLO_ASSIGN_OR_RETURN(
        deleted, sql.Execute("DELETE FROM integration_dead_letters WHERE source_id IN (SELECT id "
                             "FROM integration_sources WHERE company_id = $1 AND source_system = "
                             "$2) AND entity = $3 AND external_id = $4",
                             {found.key.company_id, found.key.source_system,
                              std::string(found.entity->name), found.key.external_id}));
    result.dead_letters += deleted;
  }
  REGLO_ASSIGN_OR_RETURN(scrubbed, ScrubNeedles(sql, query.company_id, needles));
  result.run_log_lines += scrubbed.first;
  result.dead_letters += scrubbed.second;
  for (const Found& found : records) {
    if (found.entity->name != "student") continue;
    REGLO_RETURN_IF_ERROR(
        sql.Execute("DELETE FROM integration_inactive_students WHERE "
                    "company_id = $1 AND source_system = $2 AND external_id = $3",
                    {found.key.company_id, found.key.source_system, found.key.external_id})
            .status());
  }
  return result;
}

Result<int64_t> PrunePersonalDataIn(SqlSession& sql, const std::string& source_id,
                                    PersonalPrune target, const std::string& before, int limit) {
  if (limit <= 0) return Status::InvalidArgument("prune batch size must be positive");
  switch (target) {
    case PersonalPrune::kDeadLetters:
      return sql.Execute(
          "DELETE FROM integration_dead_letters WHERE id IN (SELECT id FROM "
          "integration_dead_letters WHERE source_id = $1 AND created_at < $2 ORDER BY id LIMIT $3)",
          {source_id, before, int64_t{limit}});
    case PersonalPrune::kRunLogs:
      return sql.Execute(
          "DELETE FROM integration_run_logs WHERE id IN (SELECT l.id FROM integration_run_logs l "
          "JOIN integration_runs r ON r.id = l.run_id WHERE r.source_id = $1 AND l.at < $2 "
          "ORDER BY l.id LIMIT $3)",
          {source_id, before, int64_t{limit}});
  }
  return int64_t{0};
}

Result<int64_t> HandleInactiveStudentsIn(SqlSession& sql, const std::string& source_id,
                                         const std::string& before, InactiveAction action,
                                         const std::string& now, int limit) {
  std::optional<std::pair<std::string, std::string>> scope;
  REGLO_RETURN_IF_ERROR(
      sql.Query("SELECT company_id, source_system FROM integration_sources WHERE id = $1",
                {source_id}, [&](RowCursor& rows) -> Status {
                  REGLO_ASSIGN_OR_RETURN(found, rows.Step());
                  if (found) scope.emplace(rows.String(0), rows.String(1));
                  return Status::Ok();
                }));
  if (!scope) return int64_t{0};
  // A student is active while it or a record referencing it changed since `before`.
  std::string recent;
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    const StudentLink link = LinkOf(entity);
    if (entity.name == "student" || link.column.empty()) continue;
    recent += fmt::format(
        " AND NOT EXISTS (SELECT 1 FROM {0} x WHERE x.company_id = s.company_id AND "
        "x.source_system = s.source_system AND x.{1} = s.external_id{2} AND x.updated_at >= $3)",
        entity.table, link.column,
        link.owner_entity_column.empty()
            ? std::string()
            : fmt::format(" AND x.{} = 'student'", link.owner_entity_column));
  }
  const std::string select = fmt::format(
      "SELECT s.external_id, s.updated_at FROM students s WHERE s.company_id = $1 AND "
      "s.source_system = $2 AND s.updated_at < $3 AND NOT EXISTS (SELECT 1 FROM "
      "integration_erasures e WHERE e.company_id = s.company_id AND e.source_system = "
      "s.source_system AND e.entity = 'student' AND e.external_id = s.external_id){}{} "
      "ORDER BY s.updated_at LIMIT $4",
      action == InactiveAction::kFlag
          ? " AND NOT EXISTS (SELECT 1 FROM integration_inactive_students f WHERE f.company_id = "
            "s.company_id AND f.source_system = s.source_system AND f.external_id = "
            "s.external_id)"
          : "",
      recent);
  REGLO_ASSIGN_OR_RETURN(stored_before, EncodeStoredTime(before));
  std::vector<std::pair<std::string, std::string>> students;
  REGLO_RETURN_IF_ERROR(
      sql.Query(select, {scope->first, scope->second, stored_before, int64_t{limit}},
                [&](RowCursor& rows) -> Status {
                  while (true) {
                    REGLO_ASSIGN_OR_RETURN(more, rows.Step());
                    if (!more) return Status::Ok();
                    students.emplace_back(rows.String(0), ReadStoredTime(rows, 1));
                  }
                }));
  for (const auto& [external_id, last_activity] : students) {
    if (action == InactiveAction::kFlag) {
      REGLO_RETURN_IF_ERROR(
          sql.Execute("INSERT INTO integration_inactive_students (company_id, source_system, "
                      "external_id, last_activity_at, flagged_at) VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT DO NOTHING",
                      {scope->first, scope->second, external_id, last_activity, now})
              .status());
    } else {
      SubjectQuery query;
      query.company_id = scope->first;
      query.source_system = scope->second;
      query.entity = "student";
      query.external_id = external_id;
      REGLO_RETURN_IF_ERROR(EraseSubjectIn(sql, query, now).status());
    }
  }
  return static_cast<int64_t>(students.size());
}

Result<std::vector<InactiveStudent>> ListInactiveStudentsIn(SqlSession& sql, int limit) {
  std::vector<InactiveStudent> out;
  REGLO_RETURN_IF_ERROR(sql.Query(
      "SELECT company_id, source_system, external_id, last_activity_at, flagged_at FROM "
      "integration_inactive_students ORDER BY last_activity_at, company_id, source_system, "
      "external_id LIMIT $1",
      {int64_t{limit}}, [&](RowCursor& rows) -> Status {
        while (true) {
          REGLO_ASSIGN_OR_RETURN(more, rows.Step());
          if (!more) return Status::Ok();
          InactiveStudent& student = out.emplace_back();
          student.key = {rows.String(0), rows.String(1), rows.String(2)};
          student.last_activity_at = rows.String(3);
          student.flagged_at = rows.String(4);
        }
      }));
  return out;
}

std::string AfterErasureSettingKey(std::string_view source_id) {
  return source_id.empty() ? std::string("personal_data.after_erasure")
                           : fmt::format("personal_data.after_erasure.source.{}", source_id);
}

Result<std::optional<CheckpointBatch>> ApplyErasureRule(SqlSession& sql,
                                                        const CheckpointBatch& batch,
                                                        std::vector<size_t>& skipped) {
  skipped.clear();
  // (entity, external id) erased, per company and source system of the batch.
  std::map<std::pair<std::string, std::string>, std::set<std::pair<std::string, std::string>>>
      erased;
  for (const model::CanonicalRecord& record : batch.records) {
    auto scope = std::make_pair(record.key.company_id, record.key.source_system);
    if (erased.contains(scope)) continue;
    auto& set = erased[scope];
    REGLO_RETURN_IF_ERROR(
        sql.Query("SELECT entity, external_id FROM integration_erasures WHERE company_id = $1 AND "
                  "source_system = $2",
                  {scope.first, scope.second}, [&](RowCursor& rows) -> Status {
                    while (true) {
                      REGLO_ASSIGN_OR_RETURN(more, rows.Step());
                      if (!more) return Status::Ok();
                      set.emplace(rows.String(0), rows.String(1));
                    }
                  }));
  }
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const model::CanonicalRecord& record = batch.records[i];
    const auto& set = erased[{record.key.company_id, record.key.source_system}];
    if (set.contains({std::string(record.entity->name), record.key.external_id})) {
      skipped.push_back(i);
    }
  }
  if (skipped.empty()) return std::optional<CheckpointBatch>();
  std::string rule(kStayErased);
  for (const std::string& key :
       {AfterErasureSettingKey(""), AfterErasureSettingKey(batch.source_id)}) {
    REGLO_RETURN_IF_ERROR(sql.Query("SELECT value FROM integration_settings WHERE key = $1", {key},
                                    [&](RowCursor& rows) -> Status {
                                      REGLO_ASSIGN_OR_RETURN(found, rows.Step());
                                      if (found) rule = rows.String(0);
                                      return Status::Ok();
                                    }));
  }
  if (rule == kRecreateErased) {
    for (size_t i : skipped) {
      const model::CanonicalRecord& record = batch.records[i];
      REGLO_RETURN_IF_ERROR(
          sql.Execute("DELETE FROM integration_erasures WHERE company_id = $1 AND source_system "
                      "= $2 AND entity = $3 AND external_id = $4",
                      {record.key.company_id, record.key.source_system,
                       std::string(record.entity->name), record.key.external_id})
              .status());
    }
    skipped.clear();
    return std::optional<CheckpointBatch>();
  }
  CheckpointBatch filtered;
  filtered.run_id = batch.run_id;
  filtered.source_id = batch.source_id;
  filtered.stream = batch.stream;
  filtered.cursor = batch.cursor;
  filtered.rejections = batch.rejections;
  filtered.log_lines = batch.log_lines;
  filtered.seen = batch.seen;
  filtered.warnings = batch.warnings;
  // Kept erased, they count as unchanged like the rows the pipeline skipped: so in the run's
  // stored counters too, which the commit writes before RestoreSkipped.
  filtered.unchanged = batch.unchanged + static_cast<int64_t>(skipped.size());
  filtered.by_entity = batch.by_entity;
  filtered.committed_at = batch.committed_at;
  filtered.lease_owner = batch.lease_owner;
  size_t next = 0;
  for (size_t i = 0; i < batch.records.size(); ++i) {
    if (next < skipped.size() && skipped[next] == i) {
      ++next;
      continue;
    }
    filtered.records.push_back(batch.records[i]);
  }
  return std::optional<CheckpointBatch>(std::move(filtered));
}

void RestoreSkipped(CheckpointResult& result, const std::vector<size_t>& skipped) {
  if (skipped.empty()) return;
  std::vector<model::Outcome> outcomes;
  outcomes.reserve(result.outcomes.size() + skipped.size());
  size_t next = 0;
  size_t applied = 0;
  while (applied < result.outcomes.size() || next < skipped.size()) {
    if (next < skipped.size() && skipped[next] == outcomes.size()) {
      outcomes.push_back(model::Outcome::kUnchanged);
      ++next;
    } else {
      outcomes.push_back(result.outcomes[applied++]);
    }
  }
  result.outcomes = std::move(outcomes);
}

Result<PersonalDataReport> HousekeepPersonalData(
    SubjectStore& store, const std::vector<std::pair<std::string, PersonalDataPolicy>>& policies,
    std::chrono::system_clock::time_point now, int batch_rows) {
  PersonalDataReport report;
  const std::string at = FormatUtc(now);
  for (const auto& [source_id, policy] : policies) {
    for (const auto& [age, target, total] :
         {std::tuple{policy.dead_letters, PersonalPrune::kDeadLetters, &report.dead_letters},
          std::tuple{policy.run_logs, PersonalPrune::kRunLogs, &report.run_log_lines}}) {
      if (age.count() <= 0) continue;
      const std::string before = FormatUtc(now - age);
      while (true) {
        REGLO_ASSIGN_OR_RETURN(pruned,
                               store.PrunePersonalData(source_id, target, before, batch_rows));
        *total += pruned;
        if (pruned < batch_rows) break;
      }
    }
    if (policy.inactive_after.count() <= 0) continue;
    const std::string before = FormatUtc(now - policy.inactive_after);
    // Erasing is heavier than flagging: a few students per transaction.
    const int limit = policy.inactive_action == InactiveAction::kErase ? 20 : batch_rows;
    while (true) {
      REGLO_ASSIGN_OR_RETURN(handled, store.HandleInactiveStudents(
                                          source_id, before, policy.inactive_action, at, limit));
      (policy.inactive_action == InactiveAction::kErase ? report.inactive_erased
                                                        : report.inactive_flagged) += handled;
      if (handled < limit) break;
    }
  }
  return report;
}

}  // namespace reglo::storage
